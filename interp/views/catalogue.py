"""The catalogue of views over attention shares and shifts: Overview, Layer profile, Heads, Tokens,
Distribution, Structure, Concept types, Head consistency, Trajectory, Stages × layers, First
token, Text and Head grid, registered in the order the app shows them (`interp.views.framework`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from interp.analysis import concept_types, tables, trajectory
from interp.analysis.across_sequences import layer_band
from interp.analysis.exclusions import FIRST_POSITION_RULES
from interp.analysis.results import Results
from interp.concepts.alignment import MAX_STRUCTURE_SPANS, concept_window
from interp.concepts.token_text import readable_tokens
from interp.core.errors import InterpError
from interp.views import figures
from interp.views.choices import (
    AGAINST,
    ANY_STAGE,
    COMPARED_STAGE,
    SEQUENCE,
    describe_sequence,
)
from interp.views.framework import Choice, Headline, View, ViewOutput, measure_label, register

# A head that puts more than this share of its attention on the first token is counted as a sink head.
SINK_SHARE = 0.5


def _measure(results: Results) -> str:
    """The selection's measure as titles name it ("attention", "norm-weighted")."""
    return measure_label(results.selection.measure)


# ---------------------------------------------------------------- the views

def _overview(results: Results) -> ViewOutput:
    shifts = tables.overview_table(results)
    notes = ()
    if shifts["low"].isna().all() and len(shifts):
        notes = (f"{len(shifts)} sequence × stage rows: intervals are left out here (one bootstrap per row); "
                 "the Concept types view gives intervals across sequences.",)
    figure = figures.shift_overview_figure(shifts, results.reference, results.stages, measure=_measure(results))
    return ViewOutput(
        figures={"shifts": figure},
        tables={"statistics": tables.report_table(results), "mean-share": tables.mean_share_table(results),
                "provenance": tables.provenance_table(results)},
        downloads={"shares": tables.shares_table(results)}, notes=notes,
    )


register(View(
    "overview", "Overview",
    "Shift Δ = share(stage) − share(reference) per head, averaged over heads, with a 95% bootstrap interval over "
    "heads; above zero, training moved attention to the concept. Skewness and kurtosis are population moments "
    "(kurtosis not excess); entropy in nats over 11 bins; control percentile: where the concept's mean shift falls "
    "among random spans of the same lengths.",
    _overview,
))


# Up to this many sequences the layer profile has a panel each; past it, a panel per concept type.
MAX_SEQUENCE_PANELS = 12


def _layers(results: Results) -> ViewOutput:
    table = tables.layer_profile_table(results)
    if len(results.sequences) > MAX_SEQUENCE_PANELS:
        return _layers_by_type(results, table)
    profiles = {
        sequence_id: {stage: group["mean_shift"].to_numpy() for stage, group in rows.groupby("stage", sort=False)}
        for sequence_id, rows in table.groupby("sequence_id", sort=False)
    }
    concepts = {sequence.id: sequence.concept for sequence in results.sequences}
    figure = figures.layer_profile_figure(profiles, results.reference, concepts, results.stages,
                                          measure=_measure(results))
    return ViewOutput(figures={"profiles": figure}, tables={"profiles": table})


def _layers_by_type(results: Results, table: pd.DataFrame) -> ViewOutput:
    """Many sequences: one panel per concept type, the mean over its sequences with a band."""
    profiles, bands, counts = {}, {}, {}
    for concept in concept_types.concept_types(results):
        counts[concept] = sum(1 for sequence in results.sequences if sequence.concept == concept)
        profiles[concept], bands[concept] = {}, {}
        for stage in results.compared_stages:
            band = layer_band(concept_types.concept_shifts(results, concept, stage), seed=results.selection.seed)
            profiles[concept][stage], bands[concept][stage] = band.mean, (band.low, band.high)
    labels = {concept: f"{count} sequences" for concept, count in counts.items()}
    figure = figures.layer_profile_figure(profiles, results.reference, labels, results.stages, bands=bands,
                                          measure=_measure(results))
    return ViewOutput(figures={"profiles": figure}, downloads={"profiles": table},
                      notes=(f"{len(results.sequences)} sequences: one panel per concept type, the mean over its "
                             "sequences with a 95% bootstrap band (resampling sequences).",))


register(View("layers", "Layer profile", "Mean shift of the concept share over the heads of each layer.", _layers))


def _heads(results: Results, sequence: str, stage: str, against: str) -> ViewOutput:
    measure = _measure(results)
    share = figures.head_heatmap_figure(results.share(stage=stage, sequence=sequence),
                                        f"{figures.measured('Share', measure)} on the concept, {sequence}, "
                                        f"stage {stage}",
                                        kind="share", measure=measure)
    if stage == against:
        return ViewOutput(figures={"share": share}, notes=("Choose another stage under 'Shift against' to see a shift.",))
    shift = figures.head_heatmap_figure(results.shift(sequence=sequence, stage=stage, against=against),
                                        f"{figures.measured('Shift', measure)} {stage} − {against}, {sequence}",
                                        kind="shift", measure=measure)
    return ViewOutput(figures={"share": share, "shift": shift})


register(View(
    "heads", "Heads", "Layer × head share of a stage, and its shift against another stage; click a cell to select that head.",
    _heads, choices=(SEQUENCE, ANY_STAGE, AGAINST), columns=2, head_maps=True,
    named_by=(("share", ("sequence", "stage")),),
))


def _layer_options(results: Results, chosen: Mapping[str, Any]) -> range:
    return range(results.shape[0])


def _head_options(results: Results, chosen: Mapping[str, Any]) -> range:
    return range(results.shape[1])


def _most_shifted(index: int) -> Callable[[Results, Mapping[str, Any]], int]:
    return lambda results, chosen: results.most_shifted_head(sequence=chosen["sequence"], stage=chosen["stage"])[index]


LAYER = Choice("layer", "Layer", _layer_options, default=_most_shifted(0), bundle=lambda r, c: [_most_shifted(0)(r, c)],
               slug=lambda value: f"L{value}", follows=("sequence", "stage"))
HEAD = Choice("head", "Head", _head_options, default=_most_shifted(1), bundle=lambda r, c: [_most_shifted(1)(r, c)],
              slug=lambda value: f"H{value}", follows=("sequence", "stage"))
DIFFERENCE = Choice(
    "difference", "Difference against", lambda r, c: [None, *[s for s in r.stages if s != c["stage"]]],
    bundle=lambda r, c: [None], describe=lambda r, value: "(none)" if value is None else value,
    slug=lambda value: "" if value is None else f"minus-{value}",
)
THRESHOLD = Choice(
    "threshold", "Annotate values above", lambda r, c: [None, 0.05, 0.1, 0.2, 0.3, 0.5], default=lambda r, c: 0.1,
    bundle=lambda r, c: [0.1], describe=lambda r, value: "no values" if value is None else f"{value:g}",
    slug=lambda value: "",
)


# Token maps and text show at most this many tokens, so the browser never draws an n × n map of a long document.
MAX_SHOWN_TOKENS = 400


def _extent_options(results: Results, chosen: Mapping[str, Any]) -> list[str]:
    """Around the concept always; the whole sequence where it is stored and short enough to draw."""
    aligned = results.aligned(stage=chosen["stage"], sequence=chosen["sequence"])
    stored = results.has_patterns(sequence=chosen["sequence"], stages=(chosen["stage"],)) and \
        results.pattern_extent(stage=chosen["stage"], sequence=chosen["sequence"]) == (0, aligned.n_tokens)
    whole = stored and aligned.n_tokens <= MAX_SHOWN_TOKENS and \
        concept_window(aligned.concept_mask, aligned.n_tokens) != (0, aligned.n_tokens)
    return ["concept", "whole"] if whole else ["concept"]


EXTENT = Choice("extent", "Tokens shown", _extent_options, bundle=lambda r, c: ["concept"],
                describe=lambda r, value: "around the concept" if value == "concept" else "the whole sequence",
                slug=lambda value: "" if value == "concept" else "whole", follows=("sequence", "stage"))


def _tokens(results: Results, sequence: str, stage: str, layer: int, head: int, difference: str | None,
            threshold: float | None, extent: str = "concept") -> ViewOutput:
    stages = (stage,) if difference is None else (stage, difference)
    if not results.has_patterns(sequence=sequence, stages=tuple(stages)):
        return ViewOutput(notes=("This run kept no token-by-token patterns (`--patterns none`): shares, shifts and "
                                 "span structure work; token maps need `--patterns window` or `full`.",))
    aligned = results.aligned(stage=stage, sequence=sequence)
    start, end = results.pattern_extent(stage=stage, sequence=sequence)
    shown = (0, aligned.n_tokens) if extent == "whole" else concept_window(aligned.concept_mask, aligned.n_tokens)
    shown = (max(shown[0], start), min(shown[1], end)) if shown[0] < end and shown[1] > start else (start, end)
    pattern = results.head_pattern(stage=stage, sequence=sequence, layer=layer, head=head, window=shown)
    kind, title = "attention", f"Attention of layer {layer}, head {head}, stage {stage}, {sequence}"
    if difference is not None:
        if not results.tokens_match(sequence=sequence, stage=stage, other=difference):
            raise InterpError(
                f"sequence '{sequence}': stages '{stage}' and '{difference}' tokenize the text differently, "
                "so a token-by-token difference is not defined (shares and shifts still are)"
            )
        pattern = pattern - results.head_pattern(stage=difference, sequence=sequence, layer=layer, head=head, window=shown)
        kind, title = "difference", f"Attention {stage} − {difference}, layer {layer}, head {head}, {sequence}"
    window_tokens = aligned.tokens[shown[0]:shown[1]]
    figure = figures.token_attention_figure(pattern, window_tokens, aligned.concept_mask[shown[0]:shown[1]],
                                            threshold=threshold, title=title, kind=kind, first_position=shown[0])
    notes = ()
    if shown != (0, aligned.n_tokens):
        stored = "" if (start, end) == (0, aligned.n_tokens) else \
            f" ({end - start} tokens stored; extract with `--patterns full` to keep every token)"
        notes = (f"Tokens {shown[0]}–{shown[1] - 1} of {aligned.n_tokens}: the window around the concept{stored}.",)
    return ViewOutput(figures={"map": figure}, notes=notes)


register(View(
    "tokens", "Tokens",
    "Token × token attention of one head around the concept (concept tokens «marked»), or its difference between "
    "two stages. First shown: the head whose share moved most against the reference.",
    _tokens, choices=(SEQUENCE, ANY_STAGE, LAYER, HEAD, DIFFERENCE, THRESHOLD, EXTENT),
    unavailable=lambda results: None if results.compared_stages else "the run has one stage",
))


def _distribution(results: Results, sequence: str, stage: str) -> ViewOutput:
    shift = results.shift(sequence=sequence, stage=stage)
    label = f"{stage} − {results.reference}, {sequence} ({_measure(results)})"
    low, high = results.interval(sequence=sequence, stage=stage)
    headlines = (
        Headline(f"Mean shift {stage} − {results.reference}", f"{float(shift.mean()):+.4f}",
                 "Mean over all heads of share(stage) − share(reference)."),
        Headline("95% bootstrap interval", f"[{low:+.4f}, {high:+.4f}]", "BCa bootstrap over heads (scipy.stats.bootstrap)."),
    )
    output = {
        "histogram": figures.shift_histogram_figure(shift, f"Head shifts {label}"),
        "qq": figures.shift_qq_figure(shift, f"Normal QQ plot of head shifts {label}"),
    }
    placement = results.control_placement(sequence=sequence, stage=stage)
    if placement.reason:
        return ViewOutput(figures=output, headlines=headlines, notes=(f"No control spans: {placement.reason}.",))
    comparison = results.controls(sequence=sequence, stage=stage)
    output["controls"] = figures.control_null_figure(
        comparison.controls, comparison.observed, "mean", comparison.percentile, comparison.p_value,
        f"Concept among {comparison.controls.size} control spans, {label}",
    )
    return ViewOutput(figures=output, headlines=headlines)


register(View(
    "distribution", "Distribution",
    "Histogram and normal QQ plot of the head shifts, the bootstrap interval of their mean, and the concept's "
    "mean shift among control spans of the same lengths.",
    _distribution, choices=(SEQUENCE, COMPARED_STAGE), columns=2,
))


def _several_spans(results: Results) -> list[str]:
    """The sequences the Structure view draws: two spans or more, at most `MAX_STRUCTURE_SPANS`."""
    return [sequence.id for sequence in results.sequences if 1 < len(sequence.spans) <= MAX_STRUCTURE_SPANS]


def _too_many_spans(results: Results) -> list[str]:
    return [sequence.id for sequence in results.sequences if len(sequence.spans) > MAX_STRUCTURE_SPANS]


def _too_many_note(results: Results) -> tuple[str, ...]:
    crowded = _too_many_spans(results)
    if not crowded:
        return ()
    shown = ", ".join(crowded[:3]) + (f" and {len(crowded) - 3} more" if len(crowded) > 3 else "")
    return (f"{len(crowded)} sequence(s) have more than {MAX_STRUCTURE_SPANS} spans ({shown}): span × span "
            f"attention is kept and drawn for at most {MAX_STRUCTURE_SPANS} spans, since it grows with the square of "
            "their number and a map of more is unreadable. Their shares use every span; to see the flow, split the "
            "sequence or keep fewer spans.",)


STRUCTURE_STAGES = 6


def _structure(results: Results, sequence: str) -> ViewOutput:
    spans = results.sequence(sequence).spans
    if len(spans) > MAX_STRUCTURE_SPANS:
        raise InterpError(f"sequence '{sequence}': {len(spans)} spans; the Structure view draws at most "
                          f"{MAX_STRUCTURE_SPANS}")
    labels = [span.role or span.text for span in spans]
    picked = trajectory.representative_stages(results.compared_stages, STRUCTURE_STAGES - 1)
    shown = [stage for stage in results.stages if stage == results.reference or stage in picked]
    matrices = {stage: results.span_attention(stage=stage, sequence=sequence) for stage in shown}
    top = float(np.nanmax([np.nanmax(matrix) for matrix in matrices.values()]))
    output = {
        stage: figures.span_structure_figure(matrix, labels, f"Span → span attention, stage {stage}, {sequence}",
                                             limit=top)
        for stage, matrix in matrices.items()
    }
    notes = () if len(shown) == len(results.stages) else (
        f"{len(results.stages)} stages: shown are the reference and {len(picked)} stages spread over the lineage "
        f"({', '.join(picked)}).",)
    differences = {stage: matrices[stage] - matrices[results.reference] for stage in picked
                   if results.tokens_match(sequence=sequence, stage=stage, other=results.reference)}
    if differences:
        spread = float(np.nanmax([np.nanmax(np.abs(d)) for d in differences.values()])) or None
        for stage, difference in differences.items():
            output[f"{stage}-minus-{results.reference}"] = figures.span_structure_figure(
                difference, labels, f"Change in span → span attention, {stage} − {results.reference}, {sequence}",
                kind="difference", limit=spread,
            )
    single = sum(len(item.spans) == 1 for item in results.sequences)
    if single:
        notes += (f"{single} sequence(s) of this run have one span and are not listed here.",)
    return ViewOutput(figures=output, notes=notes + _too_many_note(results))


register(View(
    "structure", "Structure",
    "How attention flows between the labelled spans of a sequence (e.g. duty → breach): for query span i and key "
    "span j, the attention each token of i pays to all tokens of j together, averaged over the tokens of i, then "
    "over every head of every layer. Stages share one colour scale, and so do the changes.",
    _structure, choices=(Choice("sequence", "Sequence", lambda r, c: _several_spans(r), describe=describe_sequence),),
    columns=2,
    unavailable=lambda results: None if _several_spans(results) else
    "no sequence of this run has several spans" if not _too_many_spans(results) else
    f"no sequence of this run has between 2 and {MAX_STRUCTURE_SPANS} spans; " + _too_many_note(results)[0],
))


FOREST_STAGES = 6


def _concept_types_view(results: Results) -> ViewOutput:
    table = concept_types.concept_type_table(results)
    measure = measure_label(results.selection.measure)
    notes = ()
    if (table["sequences"] < 2).any():
        notes = ("Types with one sequence: their interval resamples heads only and says nothing about other "
                 "texts of the type; `python -m interp concepts generate` makes a dataset with many.",)
    drawn = trajectory.representative_stages(results.compared_stages, FOREST_STAGES)
    if len(drawn) < len(results.compared_stages):
        notes += (f"The figure draws {len(drawn)} of {len(results.compared_stages)} stages, spread over the lineage; "
                  "the table holds them all, and the Trajectory view follows every stage.",)
    forest = figures.concept_type_figure(table[table["stage"].isin(drawn)], results.reference, measure, results.stages)
    missing = figures.control_notes(table)
    if missing:
        notes += (figures.missing_controls_caption(missing),)
    return ViewOutput(figures={"forest": forest}, tables={"types": table}, notes=notes)


register(View(
    "types", "Concept types",
    "Mean shift per concept type across all its sequences, with a hierarchical bootstrap interval (sequences, then "
    "heads), beside the same for the sequences' control spans. An interval that crosses zero means the data do "
    "not tell the direction; one inside the controls' band means the concept moved like the rest of its text.",
    _concept_types_view,
))


def _file_slug(text: str) -> str:
    """A concept type as part of a file name: lower case, runs of other characters as '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "concept"


def _concept_options(results: Results, chosen: Mapping[str, Any]) -> list[str]:
    return concept_types.concept_types(results)


def _consistency_view(results: Results, concept: str, stage: str) -> ViewOutput:
    consistency = concept_types.head_consistency(results, concept, stage)
    layers, heads = consistency.fraction_up.shape
    table = pd.DataFrame({
        "measure": results.selection.measure, "layer": np.repeat(np.arange(layers), heads),
        "head": np.tile(np.arange(heads), layers),
        "fraction_up": consistency.fraction_up.ravel(), "fraction_down": consistency.fraction_down.ravel(),
        "sign_test_p": consistency.p_value.ravel(), "sign_test_q": consistency.q_value.ravel(),
        "significant": consistency.significant.ravel(),
    })
    measure = _measure(results)
    count = consistency.n_sequences
    title = (f"Fraction of the {count} {concept} sequence{'s' if count != 1 else ''} in which each head's "
             f"{figures.measured('share', measure)} rose, {stage} − {results.reference} "
             f"(✕: FDR q < {consistency.alpha})")
    notes = ()
    if count < MIN_SIGN_TEST_SEQUENCES:
        values = ", ".join(f"{k}/{count}" if 0 < k < count else str(k // count) for k in range(count + 1))
        notes = (f"{count} {concept} sequence{'s' if count != 1 else ''}: each head's fraction is one of {values}, so "
                 f"the colours are {'saturated' if count == 1 else 'coarse'}; a sign test over fewer than "
                 f"{MIN_SIGN_TEST_SEQUENCES} sequences cannot reach p < 0.05, so no head can be marked. "
                 "`python -m interp concepts generate` makes a dataset with many.",)
        title += f"; only {count} sequence{'s' if count != 1 else ''}: fractions are {values}"
    return ViewOutput(
        figures={"heads": figures.head_consistency_figure(consistency.fraction_up, consistency.significant, title,
                                                          measure=measure)},
        notes=notes,
        headlines=(Headline("Heads significant after FDR control", f"{int(consistency.significant.sum())}",
                            "Two-sided sign test per head, Benjamini–Hochberg over all heads."),),
        downloads={"heads": table},
    )


# A two-sided sign test needs this many sequences before any head can reach p < 0.05 (2 · ½⁶ = 0.031).
MIN_SIGN_TEST_SEQUENCES = 6


register(View(
    "consistency", "Head consistency",
    "For each head, the fraction of a concept type's sequences in which its share rose; heads whose direction is "
    "consistent beyond chance (sign test, Benjamini–Hochberg) are marked. Click a cell to select that head.",
    _consistency_view,
    choices=(Choice("concept", "Concept type", _concept_options, slug=_file_slug), COMPARED_STAGE), head_maps=True,
))


def _trajectory_view(results: Results, concept: str) -> ViewOutput:
    table = trajectory.trajectory_table(results, concept)
    axis = trajectory.stage_axis(results.stages)
    measure = measure_label(results.selection.measure)
    title = f"{concept} along the lineage ({measure}; {int(table['sequences'].iloc[0])} sequences)"
    return ViewOutput(
        figures={"trajectory": figures.trajectory_figure(table, results.reference, axis.title, axis.by_step, title)},
        tables={"trajectory": table},
    )


register(View(
    "trajectory", "Trajectory",
    "A concept type's mean share and mean shift against the reference at every stage, against the training step "
    "where the stage labels name one (step1000, checkpoint-2000), else in lineage order; the band holds the middle "
    "80% of the type's sequences.",
    _trajectory_view, choices=(Choice("concept", "Concept type", _concept_options, slug=_file_slug),),
))


def _stage_layers_view(results: Results, concept: str) -> ViewOutput:
    shifts = trajectory.stage_layer_shifts(results, concept)
    title = (f"Mean shift of the {figures.measured('share', _measure(results))} per layer of {concept} against "
             f"{results.reference}, stage by stage")
    table = pd.DataFrame({
        "stage": np.repeat(results.stages, shifts.shape[1]), "measure": results.selection.measure,
        "layer": np.tile(np.arange(shifts.shape[1]), shifts.shape[0]), "mean_shift": shifts.ravel(),
    })
    return ViewOutput(figures={"map": figures.stage_layer_figure(shifts, results.stages, results.reference, title,
                                                                 measure=_measure(results))},
                      tables={"shifts": table})


register(View(
    "stage-layers", "Stages × layers",
    "Where in the network and when in training attention to a concept type moved: its mean shift against the "
    "reference per stage (columns) and layer (rows), averaged over heads and over the type's sequences.",
    _stage_layers_view, choices=(Choice("concept", "Concept type", _concept_options, slug=_file_slug),),
))


def _first_token(results: Results, sequence: str) -> ViewOutput:
    shares = {stage: results.first_token_share(stage=stage, sequence=sequence) for stage in results.stages}
    output = {"share": figures.first_token_figure(shares, f"Share of attention on the first token, {sequence}")}
    if results.compared_stages:
        changes = {f"{stage} − {results.reference}": shares[stage] - shares[results.reference]
                   for stage in results.compared_stages}
        output["change"] = figures.first_token_figure(
            changes, f"Change in first-token share against {results.reference}, {sequence}", kind="change")
    rule = results.selection.first_position
    table = pd.DataFrame([
        {"stage": stage, "mean_first_token_share": float(np.nanmean(share)), "sink_heads": int((share > SINK_SHARE).sum()),
         "heads": int(share.size), "first_token": readable_tokens(results.aligned(stage=stage, sequence=sequence).tokens)[0],
         "first_token_is_bos": results.aligned(stage=stage, sequence=sequence).has_bos,
         "first_token_excluded": bool(results.excluded(stage=stage, sequence=sequence)[0])}
        for stage, share in shares.items()
    ])
    headlines = tuple(
        Headline(f"Sink heads, {row.stage}", f"{row.sink_heads} of {row.heads}",
                 f"Heads with more than {SINK_SHARE:g} of their attention on the first token; mean over heads "
                 f"{row.mean_first_token_share:.3f}.")
        for row in table.itertuples()
    ) + (Headline("First position", rule, "; ".join(f"{name}: {text}" for name, text in FIRST_POSITION_RULES.items())),)
    counted = table[~table["first_token_excluded"] & ~table["first_token_is_bos"]]
    notes = ()
    if len(counted):
        firsts = ", ".join(f"{row.stage} '{row.first_token}'" for row in counted.itertuples())
        notes = (f"The first token is no BOS ({firsts}), so under the '{rule}' rule it is a key of the concept share; "
                 "where sink heads park attention there, the 'first' rule leaves it out.",)
    return ViewOutput(figures=output, tables={"summary": table}, headlines=headlines, notes=notes)


register(View(
    "first-token", "First token",
    "Share of each head's attention on the first token, nothing excluded: the attention sink, which dominates raw "
    "attention. The first-position rule in the sidebar decides whether that token is a key of the concept share.",
    _first_token, choices=(SEQUENCE,), columns=1, head_maps=True,
))


def _layer_or_all(results: Results, chosen: Mapping[str, Any]) -> list[int | None]:
    return [None, *range(results.shape[0])]


def _head_or_all(results: Results, chosen: Mapping[str, Any]) -> list[int | None]:
    return [None, *range(results.shape[1])]


def _text(results: Results, sequence: str, stage: str, layer: int | None, head: int | None,
          difference: str | None) -> ViewOutput:
    aligned = results.aligned(stage=stage, sequence=sequence)
    values = results.received(stage=stage, sequence=sequence, layer=layer, head=head)
    kind = "attention"
    if difference is not None:
        if not results.tokens_match(sequence=sequence, stage=stage, other=difference):
            raise InterpError(f"sequence '{sequence}': stages '{stage}' and '{difference}' tokenize the text "
                              "differently, so a token-by-token difference is not defined")
        values, kind = values - results.received(stage=difference, sequence=sequence, layer=layer, head=head), "difference"
    start, end = concept_window(aligned.concept_mask, aligned.n_tokens, margin=60, limit=MAX_SHOWN_TOKENS)
    where = ("all layers" if layer is None else f"layer {layer}") + (", all heads" if head is None else f", head {head}")
    stages = stage if difference is None else f"{stage} − {difference}"
    measure = _measure(results)
    title = f"{figures.measured('Attention each token receives', measure)}, {where}, stage {stages}, {sequence}"
    figure = figures.token_text_figure(
        readable_tokens(aligned.tokens)[start:end], values[start:end], aligned.concept_mask[start:end],
        results.excluded(stage=stage, sequence=sequence)[start:end], title, kind=kind, first_position=start,
        measure=measure)
    notes = ()
    if (start, end) != (0, aligned.n_tokens):
        notes = (f"Tokens {start}–{end - 1} of {aligned.n_tokens}, around the concept.",)
    return ViewOutput(figures={"text": figure}, notes=notes)


register(View(
    "text", "Text",
    "The text as a reader sees it, each token coloured by the attention it receives: its column total over the "
    "queries after it, for one head or averaged over heads and layers (grey: tokens excluded from every share; "
    "bold and underlined: the concept).",
    _text, choices=(
        SEQUENCE, ANY_STAGE,
        Choice("layer", "Layer", _layer_or_all, default=lambda r, c: None, bundle=lambda r, c: [None],
               describe=lambda r, value: "all layers" if value is None else str(value),
               slug=lambda value: "" if value is None else f"L{value}"),
        Choice("head", "Head", _head_or_all, default=lambda r, c: None, bundle=lambda r, c: [None],
               describe=lambda r, value: "all heads" if value is None else str(value),
               slug=lambda value: "" if value is None else f"H{value}"),
        DIFFERENCE,
    ),
))


# The head grid shows each head's pattern over this many tokens around the concept at most.
GRID_TOKENS = 48


def _grid(results: Results, sequence: str, stage: str, layer: int) -> ViewOutput:
    if not results.has_patterns(sequence=sequence, stages=(stage,)):
        return ViewOutput(notes=("This run kept no token-by-token patterns (`--patterns none`).",))
    aligned = results.aligned(stage=stage, sequence=sequence)
    start, end = results.pattern_extent(stage=stage, sequence=sequence)
    shown = concept_window(aligned.concept_mask, aligned.n_tokens, margin=6, limit=GRID_TOKENS)
    shown = (max(shown[0], start), min(shown[1], end))
    patterns = np.stack([results.head_pattern(sequence=sequence, stage=stage, layer=layer, head=head, window=shown)
                         for head in range(results.shape[1])])
    tokens = readable_tokens(aligned.tokens)[shown[0]:shown[1]]
    title = f"Every head of layer {layer}, stage {stage}, {sequence} (tokens {shown[0]}–{shown[1] - 1})"
    return ViewOutput(figures={"heads": figures.head_grid_figure(patterns, tokens, title, first_position=shown[0])})


register(View(
    "grid", "Head grid",
    "Every head of one layer at a glance, each a small token × token map around the concept on one colour scale "
    "(as BertViz's overview); the Tokens view shows one head in detail.",
    _grid, choices=(SEQUENCE, ANY_STAGE, Choice("layer", "Layer", _layer_options, default=_most_shifted(0),
                                                bundle=lambda r, c: [_most_shifted(0)(r, c)],
                                                slug=lambda value: f"L{value}", follows=("sequence", "stage"))),
    unavailable=lambda results: None if results.compared_stages else "the run has one stage",
))
