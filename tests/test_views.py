"""The views compute from the store what the figures show: checked against direct computation."""

import numpy as np
import pytest

from interp.errors import InterpError
from interp.extract import unpack_lower_triangle
from interp.lineage import Lineage, Stage
from interp.pipeline import ExtractionSettings, extract_lineage
from interp.registry import ConceptSequence, Span
from interp.report import Selection, compute_stage_share
from interp.store import ResultsStore
from interp.structure import compute_span_attention
from interp import views

pytestmark = pytest.mark.slow

TEXT = ("The lessee shall pay the rent within thirty days, unless the court orders otherwise. "
        "The seller may not sell the goods before the hearing, and the buyer must not enter the premises.")


def spans(*needles):
    return tuple(Span(TEXT.index(n), TEXT.index(n) + len(n), n, role) for n, role in needles)


SEQUENCES = [
    ConceptSequence("duties", "Duty", TEXT, spans(("shall pay the rent", "duty"), ("may not sell the goods", "prohibition"),
                                                    ("must not enter", "prohibition-2"))),
    ConceptSequence("single", "Condition", TEXT, spans(("unless the court orders otherwise", None))),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory, tiny_checkpoint, tiny_checkpoint_other):
    lineage = Lineage("pair", (Stage("base", str(tiny_checkpoint)), Stage("cpt", str(tiny_checkpoint_other))), "base")
    out = tmp_path_factory.mktemp("views") / "run"
    extract_lineage(lineage, SEQUENCES, out, ExtractionSettings(device="cpu"))
    return ResultsStore(out)


SELECTION = Selection(n_controls=30)


def z_of(figure, trace=0):
    return np.array(figure.data[trace].z, dtype=float)


def test_head_figures_show_shares_and_shifts(store):
    share = compute_stage_share(store, "cpt", "duties")
    np.testing.assert_allclose(z_of(views.head_share_figure(store, SELECTION, "duties", "cpt")), share)
    shift = share - compute_stage_share(store, "base", "duties")
    figure = views.head_shift_figure(store, SELECTION, "duties", "cpt", "base")
    np.testing.assert_allclose(z_of(figure), shift)
    assert figure.data[0].zmid == 0 or figure.data[0].zmin == -figure.data[0].zmax


def test_token_difference_is_the_difference_of_stored_patterns(store):
    aligned = store.read_aligned("cpt", "duties")
    n = aligned.n_tokens
    cpt = unpack_lower_triangle(store.read_patterns("cpt", "duties"), n)[1, 2]
    base = unpack_lower_triangle(store.read_patterns("base", "duties"), n)[1, 2]
    figure = views.token_figure(store, "duties", "cpt", 1, 2, against="base", threshold=0.05)
    start = int(figure.data[0].x[0])
    shown = z_of(figure)
    expected = (cpt - base)[start:start + shown.shape[0], start:start + shown.shape[1]]
    lower = np.tril(np.ones_like(expected, dtype=bool))
    np.testing.assert_allclose(shown[lower], expected[lower], atol=2e-3)
    assert np.isnan(shown[~lower]).all()
    with pytest.raises(InterpError, match="outside this model"):
        views.token_figure(store, "duties", "cpt", 9, 0)


def test_span_attention_matches_the_full_average(store):
    aligned = store.read_aligned("base", "duties")
    full = unpack_lower_triangle(store.read_patterns("base", "duties"), aligned.n_tokens)
    expected = compute_span_attention(full, aligned.span_tokens)
    np.testing.assert_allclose(views.span_attention(store, "base", "duties"), expected, atol=1e-6, equal_nan=True)
    figures = views.structure_figures(store, SELECTION, "duties")
    assert set(figures) == {"base", "cpt", "cpt-minus-base"}
    assert list(figures["base"].data[0].x) == [0, 1, 2]
    with pytest.raises(InterpError, match="has one span"):
        views.structure_figures(store, SELECTION, "single")


def test_tables_and_profiles(store):
    table = views.statistics_table(store, SELECTION)
    assert list(table["sequence_id"]) == ["duties", "single"] and set(table["stage"]) == {"cpt"}
    profile = views.layer_profile_table(store, SELECTION)
    shift = compute_stage_share(store, "cpt", "single") - compute_stage_share(store, "base", "single")
    rows = profile[profile["sequence_id"] == "single"]
    np.testing.assert_allclose(rows["mean_shift"], shift.mean(axis=1))
    means = views.mean_share_table(store, Selection(exclusions="none"))
    assert means.loc[means["stage"] == "base", "mean_share"].iloc[0] == pytest.approx(
        compute_stage_share(store, "base", "duties", "none").mean())


def test_distribution_places_the_concept_among_controls(store):
    figures = views.distribution_figures(store, SELECTION, "single", "cpt")
    assert set(figures) == {"histogram", "qq", "controls"}
    comparison = views.control_comparison(store, SELECTION, "single", "cpt")
    shift = compute_stage_share(store, "cpt", "single") - compute_stage_share(store, "base", "single")
    assert comparison.observed == pytest.approx(shift.mean()) and comparison.controls.size == 30
    layer, head = views.most_shifted_head(store, SELECTION, "single", "cpt")
    assert abs(shift[layer, head]) == pytest.approx(np.abs(shift).max())


def test_bundle_names_every_view(store):
    figures, tables = views.bundle_contents(store, SELECTION)
    assert set(tables) == {"statistics", "mean-share", "layer-profiles", "shares"}
    for prefix in ("overview", "layer-profiles", "heads-share-duties-base", "heads-shift-duties-cpt",
                   "distribution-histogram-single-cpt", "distribution-controls-single-cpt", "tokens-duties-cpt-L",
                   "structure-duties-cpt-minus-base"):
        assert any(name.startswith(prefix) for name in figures), prefix
