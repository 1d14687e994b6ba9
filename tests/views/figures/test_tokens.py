"""Token figures: token × token attention, token axes, the Text view, span structure."""



import numpy as np
import pytest

from interp.core.errors import InterpError
from interp.views.figures import (
    MAX_ANNOTATIONS,
    span_structure_figure,
    token_attention_figure,
    token_text_figure,
)
from tests.views.figures.helpers import (
    CONCEPT,
    TOKENS,
    assert_common_style,
    lower_triangular,
    position_of,
)


def test_token_text_colours_what_each_token_receives():
    values = np.array([0.5, 0.1, 0.3, 0.05, 0.2, 0.4])
    excluded = np.array([True, False, False, False, False, True])
    fig = token_text_figure(["<s>", "␣The", "␣tenant", "␣shall", "␣pay", "."], values, CONCEPT, excluded, "Text",
                            first_position=10)
    notes = fig.layout.annotations
    assert [n.bgcolor for n in notes if n.font.color == "#9e9e9e"] == ["#eeeeee", "#eeeeee"], "excluded: grey"
    assert notes[2].text == "<b><u>&nbsp;tenant</u></b>" and "(concept)" in notes[2].hovertext
    assert notes[1].hovertext.startswith("token 11: ␣The")
    assert fig.data[0].marker.cmin == 0.0 and fig.data[0].marker.cmax == 0.3, "from 0 up to the largest counted token"
    assert fig.layout.width > 700 and notes[1].x > notes[0].x


def test_token_attention_blanks_upper_triangle_and_marks_concepts():
    pattern = lower_triangular(6)
    pattern[0, 5] = 0.7  # a non-causal value must not show
    fig = token_attention_figure(pattern, TOKENS, CONCEPT, title="role-1, base, L3H1")
    assert_common_style(fig)
    heatmap = fig.data[0]
    z = np.array(heatmap.z, dtype=float)
    expected = pattern.copy()
    expected[np.triu_indices(6, k=1)] = np.nan
    np.testing.assert_allclose(z, expected, rtol=1e-6)
    assert heatmap.zmin == 0
    assert list(heatmap.x) == ["0: &lt;s&gt;", "1: ␣The", "2: ␣tenant (concept)", "3: ␣shall", "4: ␣pay (concept)", "5: ↵"]
    assert "%{x}" in heatmap.hovertemplate and "%{y}" in heatmap.hovertemplate
    ticks = list(fig.layout.xaxis.ticktext)
    assert ticks == list(fig.layout.yaxis.ticktext)
    assert ["«" in t for t in ticks] == CONCEPT.tolist()
    assert "«␣tenant»" in ticks[2] and "<b>" in ticks[2]
    assert ticks[0] == "&lt;s&gt;" and ticks[5] == "↵"
    assert fig.layout.yaxis.autorange == "reversed"
    assert fig.layout.annotations == ()


def test_token_axes_read_byte_level_tokens_as_text():
    """GPT-2-style tokens of ` “§ 契”`: the space as ␣, a character split over tokens in each piece."""
    tokens = ["The", "ĠâĢ", "ľ", "Â§", "Ġå¥", "ĳ", "âĢĿ"]
    fig = token_attention_figure(lower_triangular(7), tokens, np.zeros(7, dtype=bool), window=(2, 7))
    assert list(fig.data[0].x) == ["2: “(2/2)", "3: §", "4: ␣契(1/2)", "5: 契(2/2)", "6: ”"]
    assert list(fig.layout.xaxis.ticktext) == ["“(2/2)", "§", "␣契(1/2)", "契(2/2)", "”"]


def test_token_attention_crops_to_window_with_absolute_positions():
    pattern = lower_triangular(6, seed=2)
    fig = token_attention_figure(pattern, TOKENS, CONCEPT, window=(2, 5))
    heatmap = fig.data[0]
    assert [position_of(label) for label in heatmap.x] == [2, 3, 4] == [position_of(label) for label in heatmap.y]
    expected = pattern[2:5, 2:5].copy()
    expected[np.triu_indices(3, k=1)] = np.nan
    np.testing.assert_allclose(np.array(heatmap.z, dtype=float), expected, rtol=1e-6)
    assert len(fig.layout.xaxis.ticktext) == 3 and "«" in fig.layout.xaxis.ticktext[0]
    with pytest.raises(InterpError, match="window"):
        token_attention_figure(pattern, TOKENS, CONCEPT, window=(4, 9))


def test_token_attention_annotates_exactly_the_cells_above_threshold():
    pattern = lower_triangular(6, seed=3)
    fig = token_attention_figure(pattern, TOKENS, CONCEPT, threshold=0.3)
    rows, cols = np.nonzero(np.tril(pattern) > 0.3)
    expected = {(int(c), int(r), f"{pattern[r, c]:.2f}") for r, c in zip(rows, cols)}
    shown = {(position_of(a.x), position_of(a.y), a.text) for a in fig.layout.annotations}
    assert shown == expected and len(fig.layout.annotations) == len(expected) > 0


def test_long_token_axes_label_every_kth_token():
    n = 150
    fig = token_attention_figure(lower_triangular(n), [f"t{i}" for i in range(n)], np.zeros(n, dtype=bool))
    assert len(fig.layout.xaxis.tickvals) <= 60 and fig.layout.xaxis.tickvals[1] == "3: t3"
    assert len(fig.data[0].x) == n


def test_token_attention_caps_annotations():
    n = 40
    fig = token_attention_figure(lower_triangular(n), [f"t{i}" for i in range(n)],
                                 np.zeros(n, dtype=bool), threshold=0.0)
    assert len(fig.layout.annotations) == MAX_ANNOTATIONS
    assert str(MAX_ANNOTATIONS) in fig.layout.title.text


def test_span_structure_figure_annotates_finite_cells():
    matrix = np.array([[0.5, np.nan, np.nan], [0.2, 0.3, np.nan], [0.1, 0.25, 0.6]])
    fig = span_structure_figure(matrix, ["duty", "breach", "remedy"], "spans", "attention")
    assert_common_style(fig)
    np.testing.assert_array_equal(np.array(fig.data[0].z, dtype=float), matrix)
    assert list(fig.layout.xaxis.ticktext) == ["duty", "breach", "remedy"]
    assert {(a.x, a.y, a.text) for a in fig.layout.annotations} == {
        (0, 0, "0.500"), (0, 1, "0.200"), (1, 1, "0.300"), (0, 2, "0.100"), (1, 2, "0.250"),
        (2, 2, "0.600")}
    difference = span_structure_figure(matrix - 0.3, ["a", "b", "c"], "d", "difference").data[0]
    assert difference.zmid == 0 and difference.zmax == -difference.zmin == pytest.approx(0.3)
    with pytest.raises(InterpError, match="labels"):
        span_structure_figure(matrix, ["a", "b"], "x")


def test_span_structure_figure_writes_values_in_cells_only_while_they_fit():
    """Up to `MAX_ANNOTATED_SPANS` spans every finite cell carries its value; beyond, the hover
    alone does (the cells are too small for numbers, and laying out hundreds took seconds)."""
    from interp.views.figures import MAX_ANNOTATED_SPANS

    for size, annotated in ((MAX_ANNOTATED_SPANS, True), (MAX_ANNOTATED_SPANS + 1, False)):
        matrix = np.tril(np.full((size, size), 0.25))
        matrix[np.triu_indices(size, 1)] = np.nan
        fig = span_structure_figure(matrix, [f"s{i}" for i in range(size)], "spans")
        assert len(fig.layout.annotations) == (size * (size + 1) // 2 if annotated else 0)
        assert "%{z:.4f}" in fig.data[0].hovertemplate and len(fig.layout.xaxis.ticktext) == size


def window_of(n: int, concept_every: int = 9) -> tuple[np.ndarray, list[str], np.ndarray]:
    tokens = [f"▁word{i}" for i in range(n)]
    return lower_triangular(n), tokens, np.arange(n) % concept_every == 0


def test_a_token_map_labels_every_token_where_the_labels_fit():
    pattern, tokens, concept = window_of(30)
    fig = token_attention_figure(pattern, tokens, concept)
    assert len(fig.layout.xaxis.tickvals) == len(fig.layout.yaxis.tickvals) == 30
    assert fig.layout.xaxis.title.text == "key token" and fig.layout.yaxis.title.text == "query token"


def test_values_are_written_only_in_cells_that_hold_them():
    pattern, tokens, concept = window_of(100)
    fig = token_attention_figure(pattern, tokens, concept, threshold=0.0)
    assert not fig.layout.annotations and "cells too small to write values in" in fig.layout.title.text


def test_a_wide_window_says_which_tokens_it_labels_and_hovers_every_one():
    """A 112-token window (the demo's negligence) labelled every second token without saying so."""
    pattern, tokens, concept = window_of(112)
    fig = token_attention_figure(pattern, tokens, concept)
    labelled = list(fig.layout.xaxis.tickvals)
    step = position_of(labelled[1]) - position_of(labelled[0])
    assert step > 1 and labelled == list(fig.data[0].x[::step])
    assert f"every {'2nd' if step == 2 else f'{step}th'} labelled; the hover names each" in fig.layout.xaxis.title.text
    assert "labelled" in fig.layout.yaxis.title.text
    assert len(fig.data[0].x) == len(fig.data[0].y) == 112, "every token keeps its category, so its hover"
    side = fig.layout.height - 260
    assert side / 112 * step >= 1.3 * fig.layout.xaxis.tickfont.size, "the labels shown do not overlap"


def test_a_paper_token_map_thins_its_labels_and_drops_values_its_cells_cannot_hold():
    from interp.export.styles import figure_caption, paper_figure

    pattern, tokens, concept = window_of(40)
    fig = token_attention_figure(pattern, tokens, concept, threshold=0.05)
    assert fig.layout.annotations, "values written on screen"
    paper = paper_figure(fig, "column")
    labelled = list(paper.layout.xaxis.tickvals)
    assert len(labelled) < 40 and "labelled)" in paper.layout.xaxis.title.text
    assert "hover" not in paper.layout.xaxis.title.text, "paper has no hover"
    assert not paper.layout.annotations
    caption = figure_caption(fig.to_dict(), paper.to_dict())
    assert caption.startswith("Token attention") and "token labelled" in caption and "Cell values left out" in caption


def text_boxes(fig) -> list[tuple[float, float, int]]:
    """(first column, last column + 1, line) of each token's text, in characters."""
    from interp.views.figures.fitting import plain_text

    return [(note.x, note.x + len(plain_text(note.text)), note.y) for note in fig.layout.annotations]


def test_text_backgrounds_leave_the_last_letter_of_each_token_visible():
    """Backgrounds reached 2 px past their text with tokens 0.15 characters apart: the next token's
    background covered the last letter ("defendani")."""
    from interp.views.figures import TEXT_CHARACTER_PX
    from interp.views.figures.tokens import TOKEN_GAP

    words = "Article 5 of the Civil Wrongs Code makes a defendant answerable in negligence".split()
    tokens = [f"␣{word}" for word in words] * 6
    n = len(tokens)
    fig = token_text_figure(tokens, np.linspace(0, 1, n), np.zeros(n, bool), np.zeros(n, bool), "Text")
    boxes = text_boxes(fig)
    # How far a background reaches past its text: padding plus border (plotly's default border: 1 px).
    (reach,) = {note.borderpad + (1 if note.borderwidth is None else note.borderwidth) for note in fig.layout.annotations}
    for (_, end, line), (start, _, next_line) in zip(boxes, boxes[1:]):
        if line == next_line:
            assert (start - end) * TEXT_CHARACTER_PX >= 2 * reach + 1
            assert start - end == pytest.approx(TOKEN_GAP)
    assert len({line for _, _, line in boxes}) > 1
    assert max(end for _, end, _ in boxes) <= fig.layout.xaxis.range[1], "no line runs past the figure"


def test_paper_text_flows_into_lines_that_fit_the_column():
    from interp.export.styles import figure_caption, paper_figure
    from interp.views.figures.tokens import MONO_EM

    tokens = [f"␣token{i % 7}" for i in range(300)]
    n = len(tokens)
    fig = token_text_figure(tokens, np.linspace(0, 1, n), np.zeros(n, bool), np.zeros(n, bool), "Text")
    paper = paper_figure(fig, "column")
    boxes = text_boxes(paper)
    size = paper.layout.annotations[0].font.size
    assert paper.layout.annotations[0].font.family.startswith("DejaVu Sans Mono"), "monospace keeps the columns"
    widest = max(end for _, end, _ in boxes) * MONO_EM * size
    assert widest <= paper.layout.width - paper.layout.margin.l - paper.layout.margin.r
    assert max(line for _, _, line in boxes) > max(line for _, _, line in text_boxes(fig)), "more, shorter lines"
    assert paper.layout.height > fig.layout.height * paper.layout.width / fig.layout.width
    assert "characters at this width" in figure_caption(fig.to_dict(), paper.to_dict())
