"""A results folder as a researcher reads it: every quantity derived from the store, defined once.

A stage's share, a shift against the reference, the control placement, the bootstrap interval,
the head that moved most: the report, the views, the export and the app all ask a `Results`
for them, so each has one definition. Everything is computed from stored column sums and
patterns; nothing here loads a model or imports torch.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from interp.analysis.exclusions import (
    EXCLUSION_PRESETS,
    check_first_position,
    compute_excluded_mask,
    concept_runs,
)
from interp.analysis.measures import get_measure
from interp.analysis.shift_statistics import (
    ControlComparison,
    ShiftStatistics,
    compare_with_controls,
    compute_bootstrap_ci,
    compute_first_token_share,
    compute_share,
    compute_shift,
    compute_shift_statistics,
    draw_control_spans,
)
from interp.concepts.alignment import AlignedSequence, unreachable_span_pairs
from interp.concepts.files import ConceptSequence
from interp.core.errors import InterpError, SequenceError
from interp.store.folder import ResultsStore, RunManifest, describe_missing

T = TypeVar("T")
# Entries whose columns a `Results` keeps at once (an entry of a 7B model at 2,048 tokens: 8 MiB).
RECENT_COLUMNS = 8
# Control spans per sequence: p-values to 1/10,001, about 1 ms per control, sequence and stage
# (14 s for the demo run's 7 sequences); 10^9 would ask for 30 GiB.
MAX_CONTROLS = 10_000
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class Selection:
    """What every table and figure of a run is computed for, besides the stored arrays.

    `first_position` is the first-position rule of `interp.analysis.exclusions.FIRST_POSITION_RULES`:
    exclude the first token where it is a BOS (`bos`), always (`first`), or never (`none`).
    """

    exclusions: str | tuple[str, ...] = "paper"
    reference: str | None = None
    n_controls: int = 200
    seed: int = 0
    measure: str = "attention"
    first_position: str = "bos"


def check_selection(selection: Selection) -> Selection:
    """`selection` if every choice in it is valid, else an `InterpError` naming the option.

    A list of tokens that holds a preset's name (`paper,punctuation`, or `Punctuation` in other
    letter case) is refused: read as tokens it would exclude nothing, silently.
    """
    check_first_position(selection.first_position)
    if not 0 <= selection.n_controls <= MAX_CONTROLS:
        raise InterpError(f"--controls {selection.n_controls}: control spans per sequence lie between 0 (none) and "
                          f"{MAX_CONTROLS:,}")
    if not 0 <= selection.seed <= MAX_SEED:
        raise InterpError(f"--seed {selection.seed}: a seed lies between 0 and {MAX_SEED:,} (2**32 - 1)")
    if not isinstance(selection.exclusions, str):
        presets = {name.casefold(): name for name in EXCLUSION_PRESETS}
        for token in selection.exclusions:
            name = presets.get(token.strip().casefold())
            if name is not None:
                shown = ",".join(selection.exclusions)
                shown = shown if len(shown) <= 80 else shown[:80] + "…"
                raise InterpError(f"--exclude {shown!r}: {token!r} is the name of the preset '{name}', which is given "
                                  f"alone (--exclude {name}); as a token in a list it would exclude nothing")
    return selection


@dataclass(frozen=True)
class ControlPlacement:
    """Where the concept's mean shift falls among control spans, or why it could not be placed.

    `percentile` and `p_value` are NaN exactly when `reason` says why (no controls asked, the
    stages tokenize differently, no room outside the concept).
    """

    percentile: float
    p_value: float
    reason: str = ""


def _memo(method: Callable[..., T]) -> Callable[..., T]:
    """Remember a method's value, or its refusal (`InterpError`), per arguments on its instance: a
    `Results` is read-only, so each share or comparison is computed once however many tables and
    figures ask for it."""

    @functools.wraps(method)
    def remembered(self, *args, **kwargs):
        key = (method.__name__, *args, *sorted(kwargs.items()))
        if key not in self._memo:
            try:
                self._memo[key] = method(self, *args, **kwargs)
            except InterpError as error:  # a refusal is an answer too (no room for controls, ...)
                self._memo[key] = error
        value = self._memo[key]
        if isinstance(value, InterpError):
            raise value.with_traceback(None)
        return value

    return remembered


class Results:
    """One results folder under one `Selection`.

    A run that stopped early is refused unless `partial`: then it is read as far as it got
    (the finished stages, the sequences they all hold) and `missing` lists the rest.
    """

    def __init__(self, store: ResultsStore | str | Path, selection: Selection = Selection(), partial: bool = False):
        self.store = store if isinstance(store, ResultsStore) else ResultsStore(store)
        self.selection = check_selection(selection)
        self._measure = get_measure(selection.measure)
        self.manifest: RunManifest = self.store.open(partial=partial)
        self.missing: list[tuple[str, str]] = self.store.missing(self.manifest) if partial else []
        gaps = {sequence for stage, sequence in self.missing if stage in self.manifest.stage_labels}
        if not self.manifest.stages:
            raise InterpError(f"{self.store.folder}: no stage of this run has finished yet")
        self.reference = self._resolve_reference(selection.reference)
        self.sequences: tuple[ConceptSequence, ...] = tuple(
            sequence for sequence in self.manifest.concept_sequences() if sequence.id not in gaps)
        self._by_id = {sequence.id: sequence for sequence in self.sequences}
        self._memo: dict[tuple, Any] = {}
        # The last few entries' columns: a share, its controls and the other stage of a shift ask
        # for the same arrays in turn, but all of a large run's would not fit in memory.
        self._recent_columns = functools.lru_cache(maxsize=RECENT_COLUMNS)(self._read_columns)

    @property
    def partial(self) -> bool:
        """Whether this is a run that stopped early, read as far as it got."""
        return bool(self.missing)

    def describe_missing(self) -> str:
        return describe_missing(self.missing)

    @property
    def stages(self) -> list[str]:
        return self.manifest.stage_labels

    @property
    def compared_stages(self) -> list[str]:
        """Every stage but the reference, in lineage order: the stages that have a shift."""
        return [stage for stage in self.stages if stage != self.reference]

    @property
    def shape(self) -> tuple[int, int]:
        """(layers, heads) of the lineage's architecture."""
        first = self.manifest.stages[0]
        return first.n_layers, first.n_heads

    def sequence(self, sequence_id: str) -> ConceptSequence:
        if sequence_id not in self._by_id:
            raise InterpError(f"sequence {sequence_id!r} is not in this run; sequences: {', '.join(self._by_id)}")
        return self._by_id[sequence_id]

    def _resolve_reference(self, reference: str | None) -> str:
        reference = reference or self.manifest.reference
        if reference not in self.manifest.stage_labels:
            stages = ", ".join(self.manifest.stage_labels)
            raise InterpError(f"reference stage {reference!r} is not in this run; stages: {stages}")
        return reference

    # ------------------------------------------------------------ tokens

    @_memo
    def aligned(self, *, sequence: str, stage: str) -> AlignedSequence:
        return self.store.read_aligned(stage, sequence)

    @_memo
    def excluded(self, *, sequence: str, stage: str) -> np.ndarray:
        """Excluded keys E `[keys]` under the selection's exclusion list and first-position rule."""
        return compute_excluded_mask(self.aligned(stage=stage, sequence=sequence), self.selection.exclusions,
                                     self.selection.first_position)

    def tokens_match(self, *, sequence: str, stage: str, other: str) -> bool:
        """Token-by-token views and controls need the same tokenization in both stages."""
        return self.aligned(stage=stage, sequence=sequence).token_ids == self.aligned(stage=other, sequence=sequence).token_ids

    @_memo
    def differently_tokenized(self) -> list[str]:
        """Ids of sequences whose tokens differ between stages: shares compare, token maps do not."""
        return [
            sequence.id for sequence in self.sequences
            if any(not self.tokens_match(sequence=sequence.id, stage=stage, other=self.stages[0]) for stage in self.stages[1:])
        ]

    # ------------------------------------------------------------ shares and shifts

    def columns(self, *, sequence: str, stage: str) -> np.ndarray:
        """Per-key totals `[layers, heads, keys]` in the selection's measure: the column sums, or
        the column sums weighted by value norms (`interp.analysis.measures`). Read-only."""
        return self._recent_columns(sequence, stage)

    def _read_columns(self, sequence: str, stage: str) -> np.ndarray:
        values = self._measure.columns(self.store, stage, sequence)
        values.flags.writeable = False
        return values

    @_memo
    def share(self, *, sequence: str, stage: str) -> np.ndarray:
        """Per-head share `[layers, heads]` of one stage on one sequence (docs/design.md §5.1)."""
        aligned = self.aligned(sequence=sequence, stage=stage)
        columns, excluded = self.columns(sequence=sequence, stage=stage), self.excluded(sequence=sequence, stage=stage)
        try:
            return compute_share(columns, aligned.concept_mask, excluded)
        except InterpError as error:
            exclusions = self.selection.exclusions
            rules = (f"exclusions '{exclusions if isinstance(exclusions, str) else 'custom'}', "
                     f"first position '{self.selection.first_position}'")
            raise SequenceError(f"{error} ({rules})", sequence=sequence, stage=stage) from None

    @_memo
    def first_token_share(self, *, sequence: str, stage: str) -> np.ndarray:
        """Per-head share `[layers, heads]` of all attention on the first token, nothing excluded:
        the attention sink that the first-position rule decides about."""
        return compute_first_token_share(self.store.read_colsums(stage, sequence))

    def shift(self, *, sequence: str, stage: str, against: str | None = None) -> np.ndarray:
        """`Δ = share(stage) − share(against)` per head; `against` defaults to the reference."""
        return compute_shift(self.share(sequence=sequence, stage=stage),
                             self.share(sequence=sequence, stage=against or self.reference))

    @_memo
    def statistics(self, *, sequence: str, stage: str) -> ShiftStatistics:
        """Mean, median, skewness, ... of the shift against the reference over all heads."""
        return compute_shift_statistics(self.shift(sequence=sequence, stage=stage))

    @_memo
    def interval(self, *, sequence: str, stage: str, confidence: float = 0.95) -> tuple[float, float]:
        """BCa bootstrap interval of the mean shift over heads, seeded by the selection."""
        return compute_bootstrap_ci(self.shift(sequence=sequence, stage=stage), confidence=confidence, seed=self.selection.seed)

    @_memo
    def most_shifted_head(self, *, sequence: str, stage: str) -> tuple[int, int]:
        """The (layer, head) whose share moved most: against the reference, or for the reference
        itself, in the last stage. A sensible first head to show."""
        compared = stage if stage != self.reference else self.compared_stages[-1]
        shift = self.shift(sequence=sequence, stage=compared)
        layer, head = np.unravel_index(int(np.nanargmax(np.abs(shift))), shift.shape)
        return int(layer), int(head)

    # ------------------------------------------------------------ control spans

    @_memo
    def controls(self, *, sequence: str, stage: str) -> ControlComparison:
        """The concept's mean shift among `selection.n_controls` control spans (at least one).

        Raises `SequenceError` saying why when there are none: the stages tokenize the sequence
        differently (controls need the same keys in both) or it has no room outside the concept.
        """
        if not self.tokens_match(sequence=sequence, stage=stage, other=self.reference):
            raise SequenceError(f"stages '{stage}' and '{self.reference}' tokenize differently; control spans need "
                                "the same tokens", sequence=sequence)
        aligned = self.aligned(stage=self.reference, sequence=sequence)
        excluded = self.excluded(stage=self.reference, sequence=sequence)
        return compare_with_controls(
            self.columns(stage=self.reference, sequence=sequence), self.columns(stage=stage, sequence=sequence),
            aligned.concept_mask, excluded, concept_runs(aligned, excluded), spans=self.control_spans(sequence=sequence),
        )

    @_memo
    def control_spans(self, *, sequence: str) -> tuple[np.ndarray, ...]:
        """The sequence's control spans under the reference's tokens, one draw for every stage."""
        aligned = self.aligned(stage=self.reference, sequence=sequence)
        excluded = self.excluded(stage=self.reference, sequence=sequence)
        try:
            return draw_control_spans(aligned.concept_mask, excluded, concept_runs(aligned, excluded),
                                      max(self.selection.n_controls, 1), self.selection.seed)
        except InterpError as error:  # the drawing's refusal is its reason ("no room for a control span of …")
            raise SequenceError(str(error), sequence=sequence) from None

    @_memo
    def control_placement(self, *, sequence: str, stage: str) -> ControlPlacement:
        """Percentile and two-sided p of the concept among its controls, or NaN with the reason
        (remembered too, since finding that a sequence has no room for controls takes a while)."""
        if self.selection.n_controls <= 0:
            return ControlPlacement(math.nan, math.nan, "no control spans asked for")
        try:
            comparison = self.controls(sequence=sequence, stage=stage)
        except SequenceError as error:
            return ControlPlacement(math.nan, math.nan, error.reason)
        return ControlPlacement(comparison.percentile, comparison.p_value)

    def received(self, *, sequence: str, stage: str, layer: int | None = None, head: int | None = None) -> np.ndarray:
        """Attention each token receives `[keys]`, in the selection's measure: its column total
        over the queries that can see it, `columns[l, h, k] / (n − k)`, for one head or averaged
        over heads (`head=None`) and layers (`layer=None`). Sliding windows are not subtracted."""
        columns = self.columns(stage=stage, sequence=sequence)
        columns = columns if layer is None else columns[layer:layer + 1]
        columns = columns if head is None else columns[:, head:head + 1]
        n = columns.shape[-1]
        return columns.mean(axis=(0, 1), dtype=np.float64) / (n - np.arange(n))

    # ------------------------------------------------------------ patterns

    def has_patterns(self, *, sequence: str, stages: Sequence[str] = ()) -> bool:
        return all(self.store.has_patterns(stage, sequence) for stage in stages or self.stages)

    def pattern_extent(self, *, sequence: str, stage: str) -> tuple[int, int]:
        """Token positions `[start, end)` whose attention is stored: the window around the
        concept (`--patterns window`) or the whole sequence (`full`)."""
        return self.store.read_patterns(stage, sequence).extent

    def head_pattern(self, *, sequence: str, stage: str, layer: int, head: int,
                     window: tuple[int, int] | None = None) -> np.ndarray:
        """One head's token × token attention over `window` (default: all that is stored)."""
        return self.store.read_patterns(stage, sequence).head(layer, head, window)

    @_memo
    def span_attention(self, *, sequence: str, stage: str) -> np.ndarray:
        """Span × span attention `[spans, spans]` averaged over layers and heads (stored at
        extraction); NaN where causal attention cannot reach (every query before every key)."""
        matrix = self.store.read_span_attention(stage, sequence).mean(axis=(0, 1), dtype=np.float64)
        matrix[unreachable_span_pairs(self.aligned(stage=stage, sequence=sequence).span_tokens)] = np.nan
        return matrix
