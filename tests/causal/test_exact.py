"""Exact patching against an independent computation with plain Hugging Face modules.

The reference runs transformers' own eager attention and intervenes with PyTorch hooks on
`o_proj` (its input is z, `[1, n, heads · d]`) and `v_proj`: no TransformerLens, no blockwise
attention, no hook of the project's. Float32 throughout; effects agree within 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM

from interp.causal.exact import exact_effects
from interp.causal.forward import metric_batch, record_source
from interp.causal.heads import Head, HeadSet, single
from interp.causal.interventions import Trial
from interp.causal.metrics import MetricOptions, get_metric
from interp.concepts.alignment import align_sequence
from tests.conftest import TINY_SEQUENCES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hf_models(folders):
    def load(folder):
        return AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32).eval()

    return load(folders[0]), load(folders[1])


class Reference:
    """Patching with HF modules: `o_proj` pre-hooks replace z, forward hooks add writes."""

    def __init__(self, source, target, token_ids, positions):
        self.source, self.target = source, target
        self.ids = torch.tensor([token_ids])
        self.positions = torch.tensor(positions)
        config = target.config
        self.heads, self.d = config.num_attention_heads, config.hidden_size // config.num_attention_heads
        self.group = self.heads // config.num_key_value_heads
        self.z_source, self.attention_source = self._record(source)

    def _layers(self, model):
        return model.model.layers

    def _record(self, model):
        z = {}
        handles = [layer.self_attn.o_proj.register_forward_pre_hook(
            lambda module, args, i=i: z.__setitem__(i, args[0][0].detach().clone()))
            for i, layer in enumerate(self._layers(model))]
        with torch.no_grad():
            output = model(self.ids, output_attentions=True, use_cache=False)
        for handle in handles:
            handle.remove()
        return z, [a[0] for a in output.attentions]

    def metric(self, hooks=()):
        handles = [register(self._layers(self.target)[layer]) for layer, register in hooks]
        with torch.no_grad():
            logits = self.target(self.ids, use_cache=False).logits[0]
        for handle in handles:
            handle.remove()
        log_probs = torch.log_softmax(logits.double(), dim=-1)
        return float(log_probs[self.positions - 1, self.ids[0, self.positions]].mean())

    def block(self, head):
        return slice(head * self.d, (head + 1) * self.d)

    def effect(self, kind, heads, mean_z=None):
        by_layer = {}
        for head in heads:
            by_layer.setdefault(head.layer, []).append(head.head)
        hooks = []
        for layer, layer_heads in by_layer.items():
            hooks.extend(self._hooks(kind, layer, layer_heads, mean_z))
        return self.metric(hooks) - self.metric()

    def _hooks(self, kind, layer, heads, mean_z):
        values = {}

        def replace_z(module, args):
            z = args[0].clone()
            for head in heads:
                if kind == "mean":
                    z[0, :, self.block(head)] = torch.as_tensor(mean_z[layer, head], dtype=z.dtype)
                elif kind == "pattern":
                    v = values["v"].view(z.shape[1], -1, self.d)[:, head // self.group]
                    z[0, :, self.block(head)] = self.attention_source[layer][head] @ v
                else:
                    z[0, :, self.block(head)] = 0
            return (z,)

        def add_write(module, args, output):
            weight = self.source.model.layers[layer].self_attn.o_proj.weight
            return output + sum(self.z_source[layer][:, self.block(h)] @ weight[:, self.block(h)].T for h in heads)

        hooks = [(layer, lambda block: block.self_attn.o_proj.register_forward_pre_hook(replace_z))]
        if kind == "pattern":
            hooks.append((layer, lambda block: block.self_attn.v_proj.register_forward_hook(
                lambda module, args, output: values.__setitem__("v", output[0]))))
        if kind == "patch":
            hooks.append((layer, lambda block: block.self_attn.o_proj.register_forward_hook(add_write)))
        return hooks


@pytest.fixture(scope="module")
def case(stages, hf_models):
    source, target = stages
    aligned = align_sequence(TINY_SEQUENCES[1], target.tokenizer)
    metric_input = get_metric("span").build(aligned, MetricOptions())
    batch = metric_batch(metric_input, "cpu")
    reference = Reference(*hf_models, aligned.token_ids, metric_input.readouts[0].positions)
    return source, target, batch, reference


def all_trials(kinds, shape=(2, 4)):
    heads = [single(Head(layer, head)) for layer in range(shape[0]) for head in range(shape[1])]
    joint = HeadSet("joint", (Head(0, 1), Head(0, 2), Head(1, 3)), "set")
    return [Trial(kind, heads_set) for kind in kinds for heads_set in [*heads, joint]]


def test_patch_pattern_and_mean_match_hugging_face(case):
    source, target, batch, reference = case
    record = record_source(source, batch, patterns=True)
    rng = np.random.default_rng(0)
    mean_z = rng.normal(size=(2, 4, reference.d)) * 0.3
    trials = all_trials(("patch", "pattern", "mean"))
    clean, effects = exact_effects(target, record, batch, trials, mean_z, batch_size=4)
    assert clean == pytest.approx(reference.metric(), rel=1e-5)
    expected = [reference.effect(t.intervention, t.heads.heads, mean_z) for t in trials]
    np.testing.assert_allclose(effects, expected, rtol=1e-4, atol=1e-4)
    assert np.abs(expected).max() > 0.05  # the interventions change something to compare


def test_batch_size_does_not_change_effects(case):
    source, target, batch, _ = case
    record = record_source(source, batch, patterns=True)
    trials = all_trials(("patch", "pattern"))
    _, one = exact_effects(target, record, batch, trials, batch_size=1)
    _, many = exact_effects(target, record, batch, trials, batch_size=len(trials))
    np.testing.assert_allclose(one, many, rtol=1e-5, atol=1e-6)


def test_patching_a_stage_into_itself_changes_nothing(case):
    _, target, batch, _ = case
    record = record_source(target, batch, patterns=True)
    trials = all_trials(("patch", "pattern"))
    clean, effects = exact_effects(target, record, batch, trials, batch_size=3)
    np.testing.assert_allclose(effects, 0.0, atol=1e-5 * abs(clean))


def test_interventions_without_what_they_need_are_refused(case):
    _, target, batch, _ = case
    with pytest.raises(Exception, match="needs the source"):
        exact_effects(target, None, batch, [Trial("patch", single(Head(0, 0)))])
    with pytest.raises(Exception, match="needs the target stage's mean"):
        exact_effects(target, None, batch, [Trial("mean", single(Head(0, 0)))])
