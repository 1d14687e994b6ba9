"""Conventions every figure shares: stage colours, numbers, the template."""




from interp.views.figures import (
    STAGE_PALETTE,
    short_number,
    stage_colours,
)


def test_stage_colours_are_colour_blind_safe_and_stable():
    assert stage_colours(["a", "b"])["b"] == stage_colours(["a", "b", "c"])["b"] == STAGE_PALETTE[1]
    assert len(set(stage_colours([str(i) for i in range(8)]).values())) == 8


def test_short_numbers_never_print_minus_zero():
    assert [short_number(v) for v in (0.1234, -0.0042, 3.2e-05, -3.2e-05, 0.0)] == ["0.123", "-0.004", "3.2e-05",
                                                                                   "-3.2e-05", "0"]


def test_stages_have_distinct_colours_however_many():
    few = stage_colours(["cpt", "ift"])
    assert list(few.values()) == list(STAGE_PALETTE[:2])  # Okabe–Ito, as on every view and export
    many = stage_colours([f"step{n}" for n in range(40)])
    assert len(set(many.values())) == 40
