"""Checkpoints before any loading: folder checks, configs, fingerprints, one architecture per lineage.

Nothing here imports torch: a lineage is checked, and every entry's cache key computed, before
a model is loaded, so a bad folder or a rerun with nothing to do costs no model load.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from interp.core.boundary import first_line
from interp.core.digests import files_digest
from interp.core.errors import InterpError
from interp.models.hub import UNREACHABLE, hub_access
from interp.models.lineage import Lineage, Stage, is_local_model

CONFIG_FILE = "config.json"
# Safetensors only: PyTorch's .bin checkpoints are pickles, and pickle runs code on load.
WEIGHT_PATTERNS = ("*.safetensors",)
PICKLED_WEIGHTS = "pytorch_model*.bin"
# What must agree between stages for a head-by-head comparison to mean anything.
ARCHITECTURE_FIELDS = ("model_type", "num_hidden_layers", "num_attention_heads", "hidden_size")
HUB_ID = re.compile(r"[\w.-]+(/[\w.-]+)?")


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


def checked_stage_model(stage: Stage) -> str:
    """`check_checkpoint` for a stage, with the stage named in any error."""
    try:
        return check_checkpoint(stage.model, stage.revision)
    except InterpError as error:
        raise InterpError(f"stage {stage.label!r}: {error}") from None


def weight_files(folder: Path) -> list[Path]:
    """The folder's safetensors weight files, in name order."""
    for pattern in WEIGHT_PATTERNS:
        found = sorted(path for path in folder.glob(pattern) if path.is_file())
        if found:
            return found
    return []


def hash_weights(folder: Path) -> str:
    """`sha256:<hex>` over the weight files' bytes in name order, read in chunks."""
    return files_digest(weight_files(folder))


def hub_revision(model: str, revision: str | None = None) -> str | None:
    """The commit of the hub cache's snapshot of `model` at `revision`, else `revision` itself.

    Reads the local cache only, so it works offline and never downloads anything.
    """
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(model, CONFIG_FILE, revision=revision)
    if isinstance(cached, str):
        parts = Path(cached).parts
        if "snapshots" in parts and parts.index("snapshots") + 1 < len(parts):
            return parts[parts.index("snapshots") + 1]
    return revision


def hub_model_cached(model: str, revision: str | None = None) -> bool:
    """Whether a hub model's config is in the local Hugging Face cache (no network is used)."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(model, CONFIG_FILE, revision=revision), str)


def checkpoint_fingerprint(stage: Stage) -> str:
    """What identifies a stage's weights, in one format: `sha256:<hex>` of a folder's weight
    files, or `<hub id>@<commit or revision>` for a hub model."""
    checkpoint = checked_stage_model(stage)
    if is_local_model(checkpoint):
        return hash_weights(Path(checkpoint))
    return f"{checkpoint}@{hub_revision(checkpoint, stage.revision) or 'main'}"


def load_config(stage: Stage, trust_remote_code: bool = False) -> dict[str, Any]:
    """A stage's model config as a dict, without loading weights; a hub model's from the local
    cache alone where the hub cannot be reached (`interp.models.hub`)."""
    checkpoint = checked_stage_model(stage)
    if is_local_model(checkpoint):
        return _read_local_config(Path(checkpoint))
    from transformers import AutoConfig

    with hub_access() as online:
        try:
            config = AutoConfig.from_pretrained(checkpoint, revision=stage.revision, trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as error:
            where = f"stage {stage.label!r} ({stage.model})"
            hint = "" if online else f"; it is not in the local Hugging Face cache and {UNREACHABLE}"
            raise InterpError(f"{where}: config cannot be loaded ({first_line(error)}){hint}") from None
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


def _read_local_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise InterpError(f"{folder}: no {CONFIG_FILE} (not a Hugging Face model folder)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InterpError(f"{path}: not valid JSON ({first_line(error)})") from None
    if not isinstance(config, dict):
        raise InterpError(f"{path}: expected a JSON object")
    return config


def _field(config: Any, field: str) -> Any:
    if isinstance(config, Mapping):
        return config.get(field)
    return getattr(config, field, None)
