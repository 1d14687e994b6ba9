"""Attribution patching against the derivative it estimates, taken by Hugging Face autograd.

AtP's score of a head is `dM/dα` at α = 0 when the head's activation moves to `a_T + α(a' − a_T)`.
The reference interpolates every head of every layer at once with its own α (a `[layers, heads]`
leaf) through plain HF modules (eager attention, hooks on `o_proj` and `v_proj`) and takes one
gradient; the project's scores come from the bridge, blockwise attention and its own backward.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM

from interp.causal.attribution import attribute, mean_scores
from interp.causal.exact import exact_effects
from interp.causal.forward import metric_batch, record_source
from interp.causal.heads import Head, single
from interp.causal.interventions import Trial
from interp.causal.metrics import MetricOptions, get_metric
from interp.concepts.alignment import align_sequence
from tests.conftest import TINY_SEQUENCES

pytestmark = pytest.mark.slow


def hf_derivatives(source_folder, target_folder, token_ids, positions, kind, mean_z=None) -> np.ndarray:
    """`dM/dα [layers, heads]` at α = 0 with plain HF modules."""
    def load(folder):
        model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32).eval()
        return model.requires_grad_(False)

    source, target = load(source_folder), load(target_folder)
    config = target.config
    heads, d = config.num_attention_heads, config.hidden_size // config.num_attention_heads
    group = heads // config.num_key_value_heads
    ids = torch.tensor([token_ids])
    z_source = {}
    hooks = [layer.self_attn.o_proj.register_forward_pre_hook(
        lambda m, args, i=i: z_source.__setitem__(i, args[0][0].clone())) for i, layer in enumerate(source.model.layers)]
    with torch.no_grad():
        attention_source = [a[0] for a in source(ids, output_attentions=True, use_cache=False).attentions]
    for hook in hooks:
        hook.remove()
    alpha = torch.zeros(config.num_hidden_layers, heads, requires_grad=True)
    values, handles = {}, []
    for layer, block in enumerate(target.model.layers):
        weight_t, weight_s = block.self_attn.o_proj.weight, source.model.layers[layer].self_attn.o_proj.weight
        z_now = {}

        def on_z(module, args, layer=layer, z_now=z_now):
            z = args[0][0]
            z_now["z"] = z
            if kind == "patch":
                return None
            parts = []
            for head in range(heads):
                part = z[:, head * d:(head + 1) * d]
                if kind == "mean":
                    goal = torch.as_tensor(mean_z[layer, head], dtype=z.dtype)
                else:
                    goal = attention_source[layer][head] @ values[layer].view(len(token_ids), -1, d)[:, head // group]
                parts.append(part + alpha[layer, head] * (goal - part))
            return (torch.cat(parts, dim=-1)[None],)

        def on_out(module, args, output, layer=layer, z_now=z_now, weight_t=weight_t, weight_s=weight_s):
            z = z_now["z"]
            moved = sum(alpha[layer, h] * (z_source[layer][:, h * d:(h + 1) * d] @ weight_s[:, h * d:(h + 1) * d].T
                                           - z[:, h * d:(h + 1) * d] @ weight_t[:, h * d:(h + 1) * d].T)
                        for h in range(heads))
            return output + moved[None]

        handles.append(block.self_attn.o_proj.register_forward_pre_hook(on_z))
        handles.append(block.self_attn.v_proj.register_forward_hook(
            lambda m, args, output, layer=layer: values.__setitem__(layer, output[0])))
        if kind == "patch":
            handles.append(block.self_attn.o_proj.register_forward_hook(on_out))
    logits = target(ids, use_cache=False).logits[0]
    log_probs = torch.log_softmax(logits.double(), dim=-1)
    metric = log_probs[torch.tensor(positions) - 1, ids[0, torch.tensor(positions)]].mean()
    (gradient,) = torch.autograd.grad(metric, alpha)
    for handle in handles:
        handle.remove()
    return gradient.numpy()


@pytest.fixture(scope="module")
def case(stages):
    source, target = stages
    aligned = align_sequence(TINY_SEQUENCES[1], target.tokenizer)
    metric_input = get_metric("span").build(aligned, MetricOptions())
    batch = metric_batch(metric_input, "cpu")
    record = record_source(source, batch, patterns=True)
    attribution = attribute(target, record, batch, ("patch", "pattern", "mean"), aligned.n_tokens)
    return source, target, aligned, metric_input, batch, record, attribution


@pytest.mark.parametrize("kind", ["patch", "pattern", "mean"])
def test_scores_are_the_derivative_hugging_face_autograd_gives(case, folders, kind):
    _, _, aligned, metric_input, _, _, attribution = case
    mean_z = attribution.z_sum / attribution.positions
    scores = mean_scores(attribution, mean_z) if kind == "mean" else attribution.scores[kind]
    expected = hf_derivatives(*folders, aligned.token_ids,
                              metric_input.readouts[0].positions, kind, mean_z)
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5)
    assert np.abs(expected).max() > 0.01


def test_the_target_mean_and_the_clean_metric(case):
    source, target, aligned, _, batch, record, attribution = case
    z = record_source(target, batch, patterns=False).z
    expected = np.stack([layer[0].double().sum(dim=0).numpy() for layer in z])
    np.testing.assert_allclose(attribution.z_sum, expected, rtol=1e-5, atol=1e-6)
    assert attribution.positions == aligned.n_tokens
    clean, _ = exact_effects(target, record, batch, [Trial("patch", single(Head(0, 0)))])
    assert attribution.clean == pytest.approx(clean, rel=1e-6)


def test_no_parameter_gradients_are_kept(case):
    target = case[1]
    assert all(parameter.grad is None and not parameter.requires_grad for parameter in target.bridge.parameters())
