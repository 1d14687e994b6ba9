"""What the causal check keeps in a results folder, beside the attention statistics.

    causal/<source>/<target>/manifest.json            settings, both stages' checkpoints, versions
    causal/<source>/<target>/atp/<metric>/<seq>.json   an AtP entry: clean metric, digests, key
        <seq>.scores.npy         float32 [interventions, layers, heads]  (patch, pattern)
        <seq>.gradient_sum.npy   float32 [layers, heads, d]   Σ ∂M/∂z_h (the mean's AtP, m·G − B)
        <seq>.baseline.npy       float32 [layers, heads]      Σ z_h · ∂M/∂z_h
        <seq>.z_sum.npy          float32 [layers, heads, d]   Σ over positions of z_h (the run's mean)
    causal/<source>/<target>/plans/<metric>.json      the heads and sets exact patching verifies
    causal/<source>/<target>/mean_z.npy               the target's mean of z (the mean ablation)
    causal/<source>/<target>/exact/<metric>/<seq>.json an exact entry: one effect per trial

Each entry carries a key of what it was computed from (checkpoints, tokens, metric, settings):
an entry with the same key is never computed again, so a stopped run resumes and shards of one
run write into one folder, each sequence's files whole (atomic writes). Arrays are checked
against their digests when read. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from interp.causal.settings import DEFAULT_RANDOM_SETS, DEFAULT_TOP
from interp.core.atomic import write_bytes_atomic, write_json_atomic
from interp.core.boundary import is_store_name
from interp.core.errors import InterpError

CAUSAL_FOLDER = "causal"
FORMAT_VERSION = 1
ATP_ARRAYS = ("scores", "gradient_sum", "baseline", "z_sum")


class CausalSettings(BaseModel):
    """What a causal run computes: the stage pair, interventions, metrics, how heads are chosen
    for exact verification, and the selection the attention shift is read under."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str
    target: str
    interventions: tuple[str, ...] = ("patch", "pattern", "mean")
    metrics: tuple[str, ...] = ("span",)
    after: int = 8
    top: int = DEFAULT_TOP
    random_sets: int = DEFAULT_RANDOM_SETS
    seed: int = 0
    heads: tuple[str, ...] | None = None
    exclusions: str | tuple[str, ...] = "paper"
    first_position: str = "bos"
    measure: str = "attention"

    def atp_fingerprint(self) -> str:
        """What an AtP entry depends on besides its sequence: the interventions and the `after` window."""
        return digest_of({"interventions": list(self.interventions), "after": self.after})

    def plan_fingerprint(self) -> str:
        """What the choice of verified heads depends on."""
        return digest_of(self.model_dump(mode="json", exclude={"metrics"}))


class StageIdentity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str
    checkpoint: str
    fingerprint: str


class CausalManifest(BaseModel):
    """A causal run's provenance; `sequences` lists the ids it covers (the results folder's)."""

    model_config = ConfigDict(extra="forbid")
    format_version: int = FORMAT_VERSION
    source: StageIdentity
    target: StageIdentity
    settings: CausalSettings
    concept_set_hash: str
    sequences: list[str]
    packages: dict[str, str]
    created: str


class AtpRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sequence_id: str
    metric: str
    key: str
    interventions: tuple[str, ...]
    clean: float
    positions: int
    digests: dict[str, str]


class TrialResult(BaseModel):
    """One exact trial's effect: `set` names the heads (`L.H` for one), `kind` says why they
    were chosen (single, concept-heads, atp-top, random, given)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    intervention: str
    set: str
    kind: str
    heads: tuple[str, ...]
    effect: float


class ExactRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sequence_id: str
    metric: str
    key: str
    clean: float
    trials: tuple[TrialResult, ...]


class HeadSetRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    kind: str
    heads: tuple[str, ...]


class VerificationPlan(BaseModel):
    """What exact patching verifies, per intervention: the head sets (singles included)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str
    sets: dict[str, tuple[HeadSetRecord, ...]]
    mean_digest: str | None = None


def digest_of(value: Any) -> str:
    """`sha256:<hex>` of a JSON-able value (sorted keys): the one digest of records and keys."""
    return "sha256:" + hashlib.sha256(json.dumps(value, sort_keys=True).encode("utf-8")).hexdigest()


def bytes_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def npy_bytes(array: np.ndarray) -> bytes:
    """A float32 array as `.npy` bytes (written and digested from the same bytes)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


class CausalStore:
    """The causal folder of one stage pair inside a results folder."""

    def __init__(self, results_folder: str | Path, source: str, target: str):
        for label in (source, target):
            if not is_store_name(label):
                raise InterpError(f"stage {label!r} cannot name a stored causal run")
        self.results_folder = Path(results_folder)
        self.source, self.target = source, target
        self.folder = self.results_folder / CAUSAL_FOLDER / source / target

    # ------------------------------------------------------------ manifest and plan

    @property
    def manifest_path(self) -> Path:
        return self.folder / "manifest.json"

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def write_manifest(self, manifest: CausalManifest) -> None:
        write_json_atomic(self.manifest_path, manifest.model_dump(mode="json"))

    def read_manifest(self) -> CausalManifest:
        if not self.exists():
            raise InterpError(f"{self.results_folder}: no causal run from '{self.source}' to '{self.target}'; "
                              f"run `python -m interp causal {self.results_folder} --source {self.source} "
                              f"--target {self.target}`")
        document = self._read_json(self.manifest_path, "causal manifest")
        if isinstance(document, dict) and document.get("format_version") != FORMAT_VERSION:
            raise InterpError(f"{self.manifest_path}: format {document.get('format_version')!r}, this version reads "
                              f"{FORMAT_VERSION}; run the causal command again")
        return self._validate(CausalManifest, document, self.manifest_path)

    def write_plan(self, metric: str, plan: VerificationPlan, mean_z: np.ndarray | None) -> None:
        if mean_z is not None:
            write_bytes_atomic(self.folder / "mean_z.npy", npy_bytes(mean_z))
        write_json_atomic(self._plan_path(metric), plan.model_dump(mode="json"))

    def _plan_path(self, metric: str) -> Path:
        if not is_store_name(metric):
            raise InterpError(f"{self.folder}: {metric!r} cannot name a stored plan")
        return self.folder / "plans" / f"{metric}.json"

    def read_plan(self, metric: str) -> VerificationPlan | None:
        path = self._plan_path(metric)
        if not path.is_file():
            return None
        return self._validate(VerificationPlan, self._read_json(path, "verification plan"), path)

    def read_mean_z(self, plan: VerificationPlan) -> np.ndarray | None:
        if plan.mean_digest is None:
            return None
        return self._read_array(self.folder / "mean_z.npy", plan.mean_digest, "the target's mean of z")

    # ------------------------------------------------------------ entries

    def _entry(self, method: str, metric: str, sequence_id: str, suffix: str) -> Path:
        if not is_store_name(sequence_id) or not is_store_name(metric):
            raise InterpError(f"{self.folder}: {sequence_id!r} cannot name a stored causal entry")
        return self.folder / method / metric / f"{sequence_id}{suffix}"

    def write_atp(self, record: AtpRecord, arrays: dict[str, np.ndarray]) -> None:
        digests = {}
        for name in ATP_ARRAYS:
            data = npy_bytes(arrays[name])
            write_bytes_atomic(self._entry("atp", record.metric, record.sequence_id, f".{name}.npy"), data)
            digests[name] = bytes_digest(data)
        final = record.model_copy(update={"digests": digests})
        write_json_atomic(self._entry("atp", record.metric, record.sequence_id, ".json"), final.model_dump(mode="json"))

    def read_atp_record(self, metric: str, sequence_id: str) -> AtpRecord | None:
        path = self._entry("atp", metric, sequence_id, ".json")
        if not path.is_file():
            return None
        return self._validate(AtpRecord, self._read_json(path, "AtP entry"), path)

    def read_atp_array(self, record: AtpRecord, name: str) -> np.ndarray:
        path = self._entry("atp", record.metric, record.sequence_id, f".{name}.npy")
        return self._read_array(path, record.digests.get(name, ""), f"AtP {name} of '{record.sequence_id}'")

    def write_exact(self, record: ExactRecord) -> None:
        write_json_atomic(self._entry("exact", record.metric, record.sequence_id, ".json"), record.model_dump(mode="json"))

    def read_exact(self, metric: str, sequence_id: str) -> ExactRecord | None:
        path = self._entry("exact", metric, sequence_id, ".json")
        if not path.is_file():
            return None
        return self._validate(ExactRecord, self._read_json(path, "exact entry"), path)

    # ------------------------------------------------------------ reading

    def _read_json(self, path: Path, what: str) -> Any:
        try:
            return json.loads(path.read_text("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
            raise InterpError(f"{path}: damaged {what} ({type(error).__name__})") from None
        except OSError as error:
            raise InterpError(f"{path}: cannot be read: {error.strerror}") from None

    @staticmethod
    def _validate(model: type[BaseModel], document: Any, path: Path):
        try:
            return model.model_validate(document)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "record"
            raise InterpError(f"{path}: field '{where}': {first['msg'].lower()}") from None

    @staticmethod
    def _read_array(path: Path, digest: str, what: str) -> np.ndarray:
        try:
            data = path.read_bytes()
        except OSError:
            raise InterpError(f"{path}: missing ({what}); run the causal command again") from None
        if bytes_digest(data) != digest:
            raise InterpError(f"{path}: changed or damaged since it was written ({what}); run the causal command again")
        values = np.load(io.BytesIO(data), allow_pickle=False)
        if not np.isfinite(values).all():
            raise InterpError(f"{path}: holds non-finite values ({what})")
        return values


def stored_pairs(results_folder: str | Path) -> list[tuple[str, str]]:
    """Every (source, target) with a causal run in the results folder, in name order."""
    root = Path(results_folder) / CAUSAL_FOLDER
    if not root.is_dir():
        return []
    return sorted((path.parent.parent.name, path.parent.name) for path in root.glob("*/*/manifest.json")
                  if is_store_name(path.parent.parent.name) and is_store_name(path.parent.name))
