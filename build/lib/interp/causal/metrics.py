"""What the causal check measures of the target's predictions: a registry of metrics.

Each metric is continuous and linear in log-probabilities (teacher forcing): the rows a forward
pass needs (token ids) and, per row, the positions whose log-probability `log p(x_i | x_<i)`
it reads with a weight. An intervention's effect is the metric with the intervention minus
without (docs/design.md §10.3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from interp.core.errors import InterpError
from interp.core.registry import Registry

if TYPE_CHECKING:
    from interp.concepts.alignment import AlignedSequence

DEFAULT_AFTER = 8
MAX_AFTER = 512


@dataclass(frozen=True)
class Readout:
    """One row of a metric: `token_ids`, the `positions` (each ≥ 1) whose log-probabilities it
    reads, and the `weight` each of them carries in the metric."""

    token_ids: tuple[int, ...]
    positions: tuple[int, ...]
    weight: float


@dataclass(frozen=True)
class MetricInput:
    """A metric on one sequence: its value is `Σ_rows weight · Σ_{i ∈ positions} log p(x_i | x_<i)`."""

    metric: str
    sequence_id: str
    readouts: tuple[Readout, ...]

    @property
    def sequence_tokens(self) -> int:
        """Tokens of the sequence itself (the first row starts with them)."""
        return self._sequence_tokens

    def __post_init__(self) -> None:
        object.__setattr__(self, "_sequence_tokens", len(self.readouts[0].token_ids))


@dataclass(frozen=True)
class MetricOptions:
    """`after`: how many tokens after each span the `after` metric reads; `answer`, `contrast`:
    a sequence's answer and contrast answer as token ids (empty: none)."""

    after: int = DEFAULT_AFTER
    answer: tuple[int, ...] = ()
    contrast: tuple[int, ...] = ()


@dataclass(frozen=True)
class Metric:
    """A metric: `build(aligned, options)` gives its `MetricInput` for one sequence, or raises
    `InterpError` saying why the sequence has none (no span after position 0, no answer)."""

    name: str
    label: str
    description: str
    build: Callable[[AlignedSequence, MetricOptions], MetricInput]
    needs_answer: bool = False


METRICS: Registry[Metric] = Registry("metric")


def get_metric(name: str) -> Metric:
    """The metric called `name`, or an `InterpError` listing the valid names."""
    return METRICS.named(name)


def _mean_over(aligned: AlignedSequence, metric: str, positions: Sequence[int]) -> MetricInput:
    positions = tuple(int(p) for p in positions if p >= 1)
    if not positions:
        raise InterpError(f"sequence '{aligned.sequence_id}': metric '{metric}' reads no token at position 1 or later")
    readout = Readout(tuple(aligned.token_ids), positions, 1.0 / len(positions))
    return MetricInput(metric, aligned.sequence_id, (readout,))


def span_positions(aligned: AlignedSequence) -> np.ndarray:
    """Every token a concept span covers (no exclusions), positions ≥ 1."""
    positions = np.flatnonzero(aligned.concept_mask)
    return positions[positions >= 1]


def after_positions(aligned: AlignedSequence, count: int) -> np.ndarray:
    """The `count` tokens after each span (those inside a span left out), positions ≥ 1."""
    n = aligned.n_tokens
    chosen = np.zeros(n, dtype=bool)
    for span in aligned.span_tokens:
        last = max(span)
        chosen[last + 1:min(n, last + 1 + count)] = True
    chosen &= ~np.asarray(aligned.concept_mask, dtype=bool)
    positions = np.flatnonzero(chosen)
    return positions[positions >= 1]


def _span(aligned: AlignedSequence, options: MetricOptions) -> MetricInput:
    return _mean_over(aligned, "span", span_positions(aligned))


def _after(aligned: AlignedSequence, options: MetricOptions) -> MetricInput:
    if not 1 <= options.after <= MAX_AFTER:
        raise InterpError(f"--after {options.after}: give a number of tokens from 1 to {MAX_AFTER}")
    return _mean_over(aligned, "after", after_positions(aligned, options.after))


def _answer(aligned: AlignedSequence, options: MetricOptions) -> MetricInput:
    if not options.answer:
        raise InterpError(f"sequence '{aligned.sequence_id}': metric 'answer' needs an 'answer' in the concept file")
    tokens = tuple(aligned.token_ids)

    def row(answer: tuple[int, ...], weight: float) -> Readout:
        return Readout(tokens + answer, tuple(range(len(tokens), len(tokens) + len(answer))), weight)

    readouts = (row(options.answer, 1.0),) + ((row(options.contrast, -1.0),) if options.contrast else ())
    return MetricInput("answer", aligned.sequence_id, readouts)


METRICS.add(Metric("span", "Concept tokens",
                   "mean log-probability of the tokens the concept spans cover (positions ≥ 1, no exclusions)", _span))
METRICS.add(Metric("after", "Tokens after the concept",
                   "mean log-probability of the N tokens after each span (default 8; span tokens left out)", _after))
METRICS.add(Metric("answer", "Answer",
                   "log-probability of the sequence's answer after its text; with a contrast answer, "
                   "log p(answer) − log p(contrast)", _answer, needs_answer=True))


def parse_metrics(text: str) -> tuple[str, ...]:
    """`"span,after"` → the named metrics in registry order, each checked."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if not names:
        raise InterpError(f"--metric {text!r}: name at least one of {', '.join(METRICS)}")
    for name in names:
        METRICS.named(name)
    return tuple(name for name in METRICS if name in names)
