"""The shared colours: Okabe–Ito for stages in its documented order, a concept colour apart from them."""

from interp.core.palette import CONCEPT_COLOUR, STAGE_PALETTE
from interp.export.styles import OKABE_ITO
from interp.views.figures.common import stage_colours


def test_stages_take_okabe_ito_in_order_and_the_concept_colour_is_none_of_them():
    assert STAGE_PALETTE[:3] == ("#0072B2", "#E69F00", "#009E73")  # blue, orange, bluish green
    assert len(set(STAGE_PALETTE)) == 8 and CONCEPT_COLOUR not in STAGE_PALETTE
    assert OKABE_ITO == STAGE_PALETTE
    assert list(stage_colours(["base", "cpt", "ift"]).values()) == list(STAGE_PALETTE[:3])
