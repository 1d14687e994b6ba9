"""Load one stage of a lineage through TransformerLens's `TransformerBridge`, one at a time.

The bridge wraps the Hugging Face model in place (its parameters are the HF parameters, no
copy) and re-implements attention so that `blocks.{l}.attn.hook_pattern` fires with the
post-softmax pattern `[batch, heads, queries, keys]`. No weight processing or compatibility
mode is enabled: that would fold weights in float32 and cost several times the model's memory.
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from huggingface_hub import try_to_load_from_cache
from safetensors import SafetensorError
from transformers import AutoConfig, PreTrainedTokenizerBase

from interp.errors import InterpError
from interp.lineage import Lineage, Stage

if TYPE_CHECKING:
    from transformer_lens.model_bridge import TransformerBridge

CONFIG_FILE = "config.json"
# Safetensors only: PyTorch's .bin checkpoints are pickles, and pickle runs code on load.
WEIGHT_PATTERNS = ("*.safetensors",)
PICKLED_WEIGHTS = "pytorch_model*.bin"
# What must agree between stages for a head-by-head comparison to mean anything.
ARCHITECTURE_FIELDS = ("model_type", "num_hidden_layers", "num_attention_heads", "hidden_size")
HUB_ID = re.compile(r"[\w.-]+(/[\w.-]+)?")
DTYPES = {
    "float32": torch.float32, "fp32": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16,
}
HASH_CHUNK = 16 * 1024 * 1024


@dataclass
class LoadedStage:
    """A stage's model in memory, with what a results manifest records about it.

    `checkpoint` is the hub id or the folder's absolute path; `revision_or_hash` is the
    requested revision or the cached commit for a hub id, and `sha256:<hex>` of the weight
    files for a local folder. `bridge` is None once `free_stage` has run.
    """

    stage: Stage
    bridge: TransformerBridge | None
    tokenizer: PreTrainedTokenizerBase
    n_layers: int
    n_heads: int
    context_length: int
    checkpoint: str
    revision_or_hash: str | None
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


def is_local_model(model: str) -> bool:
    """A model string names a local folder if it exists or starts like a path (/, ., ~)."""
    return model.startswith(("/", ".", "~")) or Path(model).expanduser().exists()


def check_checkpoint(model: str, revision: str | None = None) -> str:
    """Check a local folder before loading; returns its absolute path, or the hub id unchanged.

    A local folder must hold `config.json` naming a causal-LM architecture and `*.safetensors`
    weights; pickled `pytorch_model*.bin` weights are refused. Hub ids are only checked for their
    form; the loader reports what the hub says.
    """
    if not is_local_model(model):
        if not HUB_ID.fullmatch(model):
            raise InterpError(f"{model!r}: neither a local folder nor a hub id like 'owner/name'")
        return model
    folder = Path(model).expanduser().resolve()
    if revision is not None:
        raise InterpError(f"{folder}: field 'revision' applies to hub ids, not to local folders")
    if not folder.is_dir():
        raise InterpError(f"{folder}: no such model folder")
    config = _read_local_config(folder)
    if not weight_files(folder):
        if any(folder.glob(PICKLED_WEIGHTS)):
            raise InterpError(
                f"{folder}: only pickled pytorch_model*.bin weights, which are refused; save the model "
                "again with save_pretrained(..., safe_serialization=True) to get *.safetensors"
            )
        raise InterpError(f"{folder}: no weights (expected *.safetensors)")
    architectures = config.get("architectures") or []
    if not any(isinstance(a, str) and a.endswith("ForCausalLM") for a in architectures):
        found = ", ".join(map(str, architectures)) or "none listed"
        raise InterpError(
            f"{folder / CONFIG_FILE}: field 'architectures': not a causal language model ({found}); "
            "expected e.g. MistralForCausalLM"
        )
    return str(folder)


def weight_files(folder: Path) -> list[Path]:
    """The folder's safetensors weight files, in name order."""
    for pattern in WEIGHT_PATTERNS:
        found = sorted(path for path in folder.glob(pattern) if path.is_file())
        if found:
            return found
    return []


def hash_weights(folder: Path) -> str:
    """`sha256:<hex>` over the weight files' bytes in name order, read in chunks."""
    digest = hashlib.sha256()
    for path in weight_files(folder):
        with path.open("rb") as handle:
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def hub_revision(model: str, revision: str | None = None) -> str | None:
    """The commit of the hub cache's snapshot of `model` at `revision`, else `revision` itself.

    Reads the local cache only, so it works offline and never downloads anything.
    """
    cached = try_to_load_from_cache(model, CONFIG_FILE, revision=revision)
    if isinstance(cached, str):
        parts = Path(cached).parts
        if "snapshots" in parts and parts.index("snapshots") + 1 < len(parts):
            return parts[parts.index("snapshots") + 1]
    return revision


def load_config(stage: Stage, trust_remote_code: bool = False) -> dict[str, Any]:
    """A stage's model config as a dict, without loading weights."""
    checkpoint = _checked(stage)
    if is_local_model(checkpoint):
        return _read_local_config(Path(checkpoint))
    try:
        config = AutoConfig.from_pretrained(checkpoint, revision=stage.revision, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as error:
        where = f"stage {stage.label!r} ({stage.model})"
        raise InterpError(f"{where}: config cannot be loaded ({_first_line(error)})") from None
    return config.to_dict()


def check_same_architecture(configs: Mapping[str, Mapping[str, Any] | Any]) -> None:
    """Stages (label → config dict or config object) must share type, depth, heads and width."""
    items = list(configs.items())
    if not items:
        return
    first_label, first = items[0]
    for label, config in items[1:]:
        for field in ARCHITECTURE_FIELDS:
            mine, theirs = _field(first, field), _field(config, field)
            if mine != theirs:
                raise InterpError(
                    f"stages {first_label!r} and {label!r}: different architectures "
                    f"({field} {mine!r} vs {theirs!r}); a lineage compares one architecture"
                )


def check_lineage(lineage: Lineage, trust_remote_code: bool = False) -> dict[str, dict[str, Any]]:
    """Check every stage's checkpoint and that all share one architecture, before any loading."""
    configs = {stage.label: load_config(stage, trust_remote_code) for stage in lineage.stages}
    check_same_architecture(configs)
    return configs


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
    GPU; `device` is then ignored. Local folders load without any network access.
    """
    checkpoint = _checked(stage)
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
        raise InterpError(f"{where}: cannot be loaded ({_first_line(error)})") from None
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
        revision_or_hash=hash_weights(Path(checkpoint)) if local else hub_revision(checkpoint, stage.revision),
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


def _checked(stage: Stage) -> str:
    try:
        return check_checkpoint(stage.model, stage.revision)
    except InterpError as error:
        raise InterpError(f"stage {stage.label!r}: {error}") from None


def _read_local_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise InterpError(f"{folder}: no {CONFIG_FILE} (not a Hugging Face model folder)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InterpError(f"{path}: not valid JSON ({_first_line(error)})") from None
    if not isinstance(config, dict):
        raise InterpError(f"{path}: expected a JSON object")
    return config


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


def _field(config: Any, field: str) -> Any:
    if isinstance(config, Mapping):
        return config.get(field)
    return getattr(config, field, None)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
