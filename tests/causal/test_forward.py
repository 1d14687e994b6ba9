"""The causal forward pass: metrics from padded batches of rows, against Hugging Face directly."""

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM

from interp.causal.forward import metric_batch, metric_values, record_source, run_logits
from interp.causal.metrics import MetricInput, Readout

pytestmark = pytest.mark.slow


def hf_log_probability(folder, token_ids, positions) -> float:
    model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(torch.tensor([token_ids]), use_cache=False).logits[0]
    log_probs = torch.log_softmax(logits.double(), dim=-1)
    return float(sum(log_probs[p - 1, token_ids[p]] for p in positions))


def test_rows_of_different_lengths_give_each_row_its_own_metric(stages, folders):
    _, target = stages
    ids = target.tokenizer("The lessee shall pay the rent within thirty days unless the court orders otherwise.")["input_ids"]
    answer, contrast = ids[3:6], ids[8:9]
    metric = MetricInput("answer", "s", (
        Readout(tuple(ids) + tuple(answer), tuple(range(len(ids), len(ids) + 3)), 1.0),
        Readout(tuple(ids) + tuple(contrast), (len(ids),), -1.0),
    ))
    batch = metric_batch(metric, "cpu")
    assert batch.tokens.shape == (2, len(ids) + 3) and batch.keep.tolist() == [len(ids) - 1, len(ids), len(ids) + 1]
    with torch.inference_mode():
        value = float(metric_values(run_logits(target, batch), batch, rows_per_value=2)[0])
    expected = hf_log_probability(folders[1], ids + answer, range(len(ids), len(ids) + 3)) - \
        hf_log_probability(folders[1], ids + contrast, [len(ids)])
    assert value == pytest.approx(expected, rel=1e-5, abs=1e-5)


def test_a_repeated_batch_gives_the_same_value_per_copy(stages):
    _, target = stages
    ids = tuple(target.tokenizer("The seller may not sell the goods before the hearing.")["input_ids"])
    batch = metric_batch(MetricInput("span", "s", (Readout(ids, (3, 4, 5), 1 / 3),)), "cpu")
    with torch.inference_mode():
        values = metric_values(run_logits(target, batch.repeated(3)), batch.repeated(3), rows_per_value=1).numpy()
    np.testing.assert_allclose(values, values[0], rtol=1e-6, atol=1e-7)


def test_the_source_record_holds_every_layer_in_transformer_lens_layout(stages):
    source, _ = stages
    ids = tuple(source.tokenizer("The buyer shall sign the contract.")["input_ids"])
    record = record_source(source, metric_batch(MetricInput("span", "s", (Readout(ids, (2,), 1.0),)), "cpu"), True)
    n = len(ids)
    assert len(record.z) == source.n_layers and record.z[0].shape == (1, n, 4, 16)
    assert record.q[1].shape == (1, n, 4, 16) and record.k[1].shape == (1, n, 2, 16)
    assert record.write(0, [1, 2]).shape == (1, n, 64)
