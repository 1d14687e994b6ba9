"""Load one stage of a lineage through TransformerLens's `TransformerBridge`, one at a time.

The bridge wraps the Hugging Face model in place (its parameters are the HF parameters, no
copy) and re-implements attention so that `blocks.{l}.attn.hook_pattern` fires with the
post-softmax pattern `[batch, heads, queries, keys]`. No weight processing or compatibility
mode is enabled: that would fold weights in float32 and cost several times the model's memory.
"""

from __future__ import annotations

import gc
import re
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from transformers import PreTrainedTokenizerBase

from interp.core.boundary import first_line
from interp.core.errors import InterpError
from interp.models.checkpoints import checked_stage_model
from interp.models.hub import hub_access
from interp.models.lineage import Stage, is_local_model

if TYPE_CHECKING:
    from transformer_lens.model_bridge import TransformerBridge

DTYPES = {
    "float32": torch.float32, "fp32": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16,
}


@dataclass
class LoadedStage:
    """A stage's model in memory, with what a results manifest records about it.

    `checkpoint` is the hub id or the folder's absolute path. `bridge` is None once
    `free_stage` has run.
    """

    stage: Stage
    bridge: TransformerBridge | None
    tokenizer: PreTrainedTokenizerBase
    n_layers: int
    n_heads: int
    context_length: int
    checkpoint: str
    dtype: str
    device: str

def resolve_device(device: str) -> str:
    """'auto' is CUDA when available, else the CPU; a CUDA device without CUDA is an error."""
    device = device.strip().lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if re.fullmatch(r"cuda(:\d+)?", device):
        if not torch.cuda.is_available():
            raise InterpError(f"device {device!r}: CUDA is not available on this machine (use 'cpu' or 'auto')")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise InterpError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) visible")
        return device
    if device == "mps":
        if not torch.backends.mps.is_available():
            raise InterpError("device 'mps': Apple MPS is not available on this machine (use 'cpu' or 'auto')")
        return device
    raise InterpError(f"device {device!r}: unknown; use auto, cpu, cuda, cuda:N or mps")


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    """'auto' is bfloat16 on CUDA (the 7B models' training dtype) and float32 elsewhere."""
    name = dtype.strip().lower().removeprefix("torch.")
    if name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if name not in DTYPES:
        raise InterpError(f"dtype {dtype!r}: unknown; use auto, float32, bfloat16 or float16")
    return DTYPES[name]


def load_stage(
    stage: Stage,
    device: str = "auto",
    dtype: str = "auto",
    device_map: str | dict | None = None,
    n_devices: int | None = None,
    trust_remote_code: bool = False,
) -> LoadedStage:
    """Load a stage's checkpoint through `TransformerBridge.boot_transformers`.

    `device_map`/`n_devices` go to accelerate (through the bridge) for models larger than one
    GPU; `device` is then ignored. Local folders load without any network access, hub models
    from the local cache alone where the hub cannot be reached.
    """
    checkpoint = checked_stage_model(stage)
    local = is_local_model(checkpoint)
    where = f"stage {stage.label!r} ({stage.model})"
    multi_device = device_map is not None or n_devices is not None
    target = None if multi_device else resolve_device(device)
    torch_dtype = resolve_dtype(dtype, target or ("cuda" if torch.cuda.is_available() else "cpu"))
    # Imported here: transformer_lens takes seconds to import, and checks need none of it.
    from transformer_lens.model_bridge import TransformerBridge

    try:
        # The bridge loads with attn_implementation="eager": HF then builds the explicit 4D
        # causal (and sliding-window) mask that the bridge's attention adds to its scores.
        # Under sdpa HF may pass no mask at all and the sliding window would be lost.
        with hub_access() if not local else nullcontext():
            bridge = TransformerBridge.boot_transformers(
                checkpoint,
                device=target,
                dtype=torch_dtype,
                revision=None if local else stage.revision,
                trust_remote_code=trust_remote_code,
                device_map=device_map,
                n_devices=n_devices,
            )
    except (OSError, ValueError, SafetensorError) as error:
        raise InterpError(f"{where}: cannot be loaded ({first_line(error)})") from None
    except torch.OutOfMemoryError:
        raise InterpError(f"{where}: out of memory while loading; try --dtype bfloat16 or --device-map auto") from None
    bridge.eval()
    _check_bridge(bridge, where)
    return LoadedStage(
        stage=stage,
        bridge=bridge,
        tokenizer=bridge.tokenizer,
        n_layers=int(bridge.cfg.n_layers),
        n_heads=int(bridge.cfg.n_heads),
        context_length=int(bridge.cfg.n_ctx),
        checkpoint=checkpoint,
        dtype=str(torch_dtype).removeprefix("torch."),
        device=str(bridge.cfg.device),
    )


def free_stage(loaded: LoadedStage) -> None:
    """Drop the stage's model so that the next one can load; memory returns once no other
    reference to `loaded.bridge` remains."""
    bridge, loaded.bridge = loaded.bridge, None
    if bridge is not None:
        bridge.reset_hooks(including_permanent=True)
        del bridge
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _check_bridge(bridge: Any, where: str) -> None:
    implementation = getattr(bridge.original_model.config, "_attn_implementation", None)
    if implementation != "eager":
        raise InterpError(
            f"{where}: attention implementation is {implementation!r}, not 'eager'; the sliding-window "
            "mask and the patterns would be unreliable"
        )
    hook_dict = bridge.hook_dict
    names = (f"blocks.{layer}.attn.hook_pattern" for layer in range(bridge.cfg.n_layers))
    missing = [name for name in names if name not in hook_dict]
    if missing:
        raise InterpError(f"{where}: the bridge has no {missing[0]} (architecture not supported for extraction)")
