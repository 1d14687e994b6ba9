"""The view registry: every view computes from a results folder, the bundle iterates the registry."""

from pathlib import Path

import numpy as np
import pytest

from interp import views
from interp.analysis.results import Results, Selection
from interp.core.errors import InterpError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(tiny_run):
    return Results(tiny_run[0], Selection(n_controls=30))


def z_of(figure, trace=0):
    return np.array(figure.data[trace].z, dtype=float)


def showing(view, request, selection: Selection) -> Results:
    """The first test run that can show `view`: the tiny run; else the pilot run (two sequences are
    no pilot for the Study size view; twelve are); else the tiny run with a causal run (the causal
    check's views)."""
    for fixture in ("tiny_run", "pilot_run", "tiny_causal_run"):
        value = request.getfixturevalue(fixture)
        results = Results(value if isinstance(value, Path) else value[0], selection)  # pilot_run is a folder
        if view.unavailable(results) is None:
            return results
    raise AssertionError(f"no test run can show the view {view.name!r}")


@pytest.mark.parametrize("name", list(views.VIEWS))
def test_every_view_computes_for_its_default_choices(request, name):
    view = views.get_view(name)
    results = showing(view, request, Selection(n_controls=30))
    chosen = views.resolve_choices(view, results)
    assert [choice.name for choice in view.choices] == list(chosen)
    output = view.compute(results, **chosen)
    assert output.figures, name
    for figure in output.figures.values():
        assert figure.layout.title.text


def test_heads_show_share_and_shift(results):
    output = views.get_view("heads").compute(results, sequence="seller-1", stage="cpt", against="base")
    np.testing.assert_allclose(z_of(output.figures["share"]), results.share(stage="cpt", sequence="seller-1"))
    np.testing.assert_allclose(z_of(output.figures["shift"]), results.shift(sequence="seller-1", stage="cpt"))
    same = views.get_view("heads").compute(results, sequence="seller-1", stage="cpt", against="cpt")
    assert list(same.figures) == ["share"] and same.notes


def test_token_difference_is_the_difference_of_stored_patterns(results):
    store = results.store
    cpt = store.read_patterns("cpt", "seller-1").head(1, 2)
    base = store.read_patterns("base", "seller-1").head(1, 2)
    output = views.get_view("tokens").compute(results, sequence="seller-1", stage="cpt", layer=1, head=2,
                                              difference="base", threshold=0.05)
    figure = output.figures["map"]
    start = int(figure.data[0].x[0].split(":")[0])
    shown = z_of(figure)
    expected = (cpt - base)[start:start + shown.shape[0], start:start + shown.shape[1]]
    lower = np.tril(np.ones_like(expected, dtype=bool))
    np.testing.assert_allclose(shown[lower], expected[lower], atol=2e-3)
    assert np.isnan(shown[~lower]).all()


def test_distribution_headlines_and_controls(results):
    output = views.get_view("distribution").compute(results, sequence="lessee-1", stage="cpt")
    assert set(output.figures) == {"histogram", "qq", "controls"}
    low, high = results.interval(sequence="lessee-1", stage="cpt")
    assert output.headlines[1].value == f"[{low:+.4f}, {high:+.4f}]"


def test_structure_needs_several_spans(results):
    view = views.get_view("structure")
    assert view.choices[0].options(results, {}) == ["seller-1"]
    output = view.compute(results, sequence="seller-1")
    assert set(output.figures) == {"base", "cpt", "ift", "cpt-minus-base", "ift-minus-base"}


def test_span_attention_is_kept_and_drawn_up_to_a_bound_of_spans(tiny_lineage, tmp_path):
    """A sequence with more spans than `MAX_STRUCTURE_SPANS` keeps its shares but no span × span
    attention (it grows with the square of the spans), and the Structure view says why it is absent."""
    from interp.concepts.alignment import MAX_STRUCTURE_SPANS
    from interp.concepts.files import ConceptSequence, Span
    from interp.extraction.pipeline import extract_lineage
    from interp.extraction.settings import ExtractionSettings
    from interp.store.folder import ResultsStore
    from tests.conftest import TINY_SEQUENCES

    text = "The tenant shall pay the rent. " * (MAX_STRUCTURE_SPANS + 1)
    starts = [i for i in range(len(text)) if text.startswith("rent", i)]
    crowded = ConceptSequence("crowded", "Condition", text, tuple(Span(i, i + 4, "rent") for i in starts))
    assert len(crowded.spans) == MAX_STRUCTURE_SPANS + 1
    bounded = ConceptSequence("bounded", "Condition", text, crowded.spans[:MAX_STRUCTURE_SPANS])
    out = tmp_path / "run"
    extract_lineage(tiny_lineage, [crowded, bounded, TINY_SEQUENCES[1]], out,
                    ExtractionSettings(device="cpu", patterns="none"))
    store = ResultsStore(out)
    assert "spans" not in store.read_record("base", "crowded").digests
    assert store.read_span_attention("base", "bounded").shape == (2, 4, MAX_STRUCTURE_SPANS, MAX_STRUCTURE_SPANS)
    results = Results(out)
    assert np.isfinite(results.statistics(sequence="crowded", stage="cpt").mean)
    view = views.get_view("structure")
    assert view.choices[0].options(results, {}) == ["bounded", "seller-1"]
    output = view.compute(results, sequence="seller-1")
    assert any(note.startswith(f"1 sequence(s) have more than {MAX_STRUCTURE_SPANS} spans (crowded): span × span "
                               "attention is kept and drawn") for note in output.notes)
    with pytest.raises(InterpError, match=f"sequence 'crowded': {MAX_STRUCTURE_SPANS + 1} spans; the Structure view"):
        view.compute(results, sequence="crowded")
    alone = tmp_path / "alone"
    extract_lineage(tiny_lineage, [crowded], alone, ExtractionSettings(device="cpu", patterns="none"))
    reason = view.unavailable(Results(alone))
    assert reason.startswith(f"no sequence of this run has between 2 and {MAX_STRUCTURE_SPANS} spans; 1 sequence(s)")


def test_trajectory_views_follow_a_short_lineage_in_stage_order(results):
    assert {"trajectory", "stage-layers"} <= set(views.VIEWS)
    output = views.get_view("trajectory").compute(results, concept="Condition")
    figure, table = output.figures["trajectory"], output.tables["trajectory"]
    assert list(table["stage"]) == ["base", "cpt", "ift"] and list(table["position"]) == [0, 1, 2]
    assert list(figure.data[1].x) == ["base", "cpt", "ift"]
    assert figure.layout.xaxis2.title.text == "stage (lineage order)"
    expected = np.mean([results.shift(sequence=s, stage="ift").mean() for s in ("lessee-1", "seller-1")])
    assert table["mean_shift"].iloc[2] == pytest.approx(expected)
    layers = views.get_view("stage-layers").compute(results, concept="Condition")
    np.testing.assert_allclose(z_of(layers.figures["map"])[:, 1],
                               np.mean([results.shift(sequence=s, stage="cpt").mean(axis=1) for s in ("lessee-1", "seller-1")], axis=0))
    assert list(layers.tables["shifts"].columns) == ["stage", "measure", "layer", "mean_shift"]
    assert len(layers.tables["shifts"]) == 6


def test_first_token_view_shows_each_stage_and_its_change(results):
    output = views.get_view("first-token").compute(results, sequence="seller-1")
    assert list(output.figures) == ["share", "change"]
    share, change = output.figures["share"], output.figures["change"]
    assert [trace.name for trace in share.data if trace.type == "heatmap"] == ["base", "cpt", "ift"]
    np.testing.assert_allclose(z_of(share, 1), results.first_token_share(stage="cpt", sequence="seller-1"))
    assert [trace.name for trace in change.data if trace.type == "heatmap"] == ["cpt − base", "ift − base"]
    np.testing.assert_allclose(z_of(change, 1),
                               results.first_token_share(stage="ift", sequence="seller-1") - results.first_token_share(stage="base", sequence="seller-1"))
    summary = output.tables["summary"]
    assert summary["first_token"].tolist() == ["<s>"] * 3 and summary["first_token_excluded"].all()
    assert output.headlines[-1].value == "bos" and not output.notes


def test_views_of_a_byte_level_model_without_bos(smollm2_run):
    """SmolLM2 (GPT-2-style tokens, no BOS): token axes read as text, and the First token view
    says that its first token counts as a key under the 'bos' rule."""
    results = Results(smollm2_run[0], Selection(n_controls=0))
    tokens = views.get_view("tokens")
    chosen = views.resolve_choices(tokens, results, {"sequence": "permit-2"})
    labels = list(tokens.compute(results, **chosen).figures["map"].data[0].x)
    assert {"1: ␣§", "9: ␣“", "12: ␣authority (concept)", "13: ”", "22: 's"} <= set(labels)
    assert not any(marker in label for label in labels for marker in ("Ġ", "â", "Â"))
    first = views.get_view("first-token").compute(results, sequence="permit-2")
    assert first.notes == ("The first token is no BOS (base 'Under', again 'Under'), so under the 'bos' rule it is a "
                           "key of the concept share; where sink heads park attention there, the 'first' rule leaves "
                           "it out.",)
    left_out = views.get_view("first-token").compute(Results(smollm2_run[0], Selection(first_position="first")),
                                                    sequence="permit-2")
    assert not left_out.notes and left_out.tables["summary"]["first_token_excluded"].all()




# Views of raw attention whatever the measure (§5.2): token patterns, span × span, the first token.
# Views of raw attention, and the causal effect map (an effect on log-probabilities, whatever the measure).
RAW_ATTENTION_VIEWS = ("tokens", "structure", "first-token", "grid", "causal")
# Views of the shifts a causal run stored, under the measure it was run with (the test's: attention).
CAUSAL_SHIFT_VIEWS = ("shift-effect", "head-sets")


def shown_texts(figure) -> str:
    """A figure's title and colour-bar titles as one plain text."""
    from interp.views.figures.fitting import plain_text

    texts = [figure.layout.title.text or ""]
    texts += [trace.colorbar.title.text or "" for trace in figure.data if getattr(trace, "colorbar", None)]
    texts += [trace.marker.colorbar.title.text or "" for trace in figure.data
              if getattr(trace, "marker", None) is not None and getattr(trace.marker, "colorbar", None)]
    return " ".join(plain_text(text).replace("\n", " ") for text in texts)


@pytest.mark.parametrize("name", [name for name in views.VIEWS if name not in RAW_ATTENTION_VIEWS])
def test_every_figure_and_table_names_its_measure(request, name):
    """Under the norm-weighted measure, Heads was titled "Share on the concept" with a colour bar
    "share", and Overview, Layer profile and the bundle's captions named no measure."""
    view = views.get_view(name)
    weighted = showing(view, request, Selection(n_controls=10, measure="weighted"))
    output = view.compute(weighted, **views.resolve_choices(view, weighted))
    measure, label = "weighted", "norm-weighted"
    if name in CAUSAL_SHIFT_VIEWS:  # the causal run's shifts, under its measure, and a note saying so
        measure, label = "attention", "(attention)"
        assert any("the measure selected (norm-weighted) does not apply" in note for note in output.notes)
    for key, figure in output.figures.items():
        assert label in shown_texts(figure), (name, key)
    for key, table in {**output.tables, **output.downloads}.items():
        if key != "provenance":
            assert set(table["measure"]) == {measure}, (name, key)
    if name == "heads":
        assert output.figures["share"].data[0].colorbar.title.text.replace("<br>", " ") == "share (norm-weighted)"


def test_head_consistency_says_when_too_few_sequences_make_it_coarse(results):
    """With few sequences a type's fractions are saturated (0 or 1) and no head can be significant:
    the view said nothing, and its title counted "how many of 1 sequences" above a fraction."""
    output = views.get_view("consistency").compute(results, concept="Condition", stage="ift")
    title = output.figures["heads"].layout.title.text.replace("<br>", " ")
    assert title.startswith("Fraction of the 2 Condition sequences in which each head's share (attention) rose")
    assert "fractions are 0, 1/2, 1" in title
    (note,) = output.notes
    assert "one of 0, 1/2, 1" in note and "fewer than 6 sequences cannot reach p < 0.05" in note
