"""Metrics: which positions each reads, with which weights, and why a sequence can have none."""

import numpy as np
import pytest

from interp.causal.metrics import METRICS, MetricOptions, after_positions, get_metric, parse_metrics, span_positions
from interp.concepts.alignment import AlignedSequence
from interp.core.errors import InterpError


def aligned(n: int, spans: tuple[tuple[int, ...], ...]) -> AlignedSequence:
    mask = np.zeros(n, dtype=bool)
    for span in spans:
        mask[list(span)] = True
    return AlignedSequence("s", tuple(f"t{i}" for i in range(n)), tuple(range(10, 10 + n)),
                           tuple((i, i + 1) for i in range(n)), mask, spans, (), True)


def test_span_reads_every_concept_token_from_position_one():
    sequence = aligned(12, ((0, 1, 2), (7, 8)))
    assert span_positions(sequence).tolist() == [1, 2, 7, 8]
    metric = get_metric("span").build(sequence, MetricOptions())
    (readout,) = metric.readouts
    assert readout.positions == (1, 2, 7, 8) and readout.weight == pytest.approx(0.25)
    assert readout.token_ids == sequence.token_ids and metric.sequence_tokens == 12


def test_after_reads_the_tokens_after_each_span_but_no_span_token():
    sequence = aligned(12, ((2, 3), (6,)))
    assert after_positions(sequence, 3).tolist() == [4, 5, 7, 8, 9]  # 6 is a span token
    assert get_metric("after").build(sequence, MetricOptions(after=2)).readouts[0].positions == (4, 5, 7, 8)
    with pytest.raises(InterpError, match="--after 0"):
        get_metric("after").build(sequence, MetricOptions(after=0))
    with pytest.raises(InterpError, match="sequence 's': metric 'after' reads no token"):
        get_metric("after").build(aligned(4, ((2, 3),)), MetricOptions())


def test_answer_and_contrast_are_two_rows_of_opposite_sign():
    sequence = aligned(5, ((1,),))
    metric = get_metric("answer").build(sequence, MetricOptions(answer=(7, 8), contrast=(9,)))
    answer, contrast = metric.readouts
    assert answer.token_ids == (10, 11, 12, 13, 14, 7, 8) and answer.positions == (5, 6) and answer.weight == 1.0
    assert contrast.token_ids == (10, 11, 12, 13, 14, 9) and contrast.positions == (5,) and contrast.weight == -1.0
    with pytest.raises(InterpError, match="needs an 'answer' in the concept file"):
        get_metric("answer").build(sequence, MetricOptions())


def test_metric_names_are_checked():
    assert list(METRICS) == ["span", "after", "answer"]
    assert parse_metrics("after,span") == ("span", "after")
    with pytest.raises(InterpError, match="metric 'loss' is unknown; metrics: span, after, answer"):
        parse_metrics("loss")
