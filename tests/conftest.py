"""Session-wide fixtures: a trained tokenizer and tiny Mistral checkpoints, built once."""

from __future__ import annotations

import itertools
import socket

import pytest

from interp.models.tiny import build_tiny_mistral, train_tokenizer

pytest_plugins = ["tests.demo_fixtures", "tests.packaged_fixtures"]

SUBJECTS = ["The lessee", "The lessor", "A tenant", "The magistrate", "Any person", "The buyer", "The seller"]
MODALS = ["shall", "may", "must not", "shall not", "may not"]
ACTIONS = [
    "pay the rent", "enter the premises", "sell the goods", "register the deed",
    "give notice in writing", "appeal the decision", "sign the contract",
]
CONDITIONS = [
    "unless the court orders otherwise", "if the notice is served", "within thirty days",
    "after the term expires", "where the owner consents", "before the hearing",
]
# Sequences of the tiny checkpoints: the sliding window (8) is shorter than every test sequence.
SLIDING_WINDOW = 8


def legal_sentences() -> list[str]:
    """A few hundred short statute-like sentences, always the same ones in the same order."""
    combos = itertools.product(SUBJECTS, MODALS, ACTIONS, CONDITIONS)
    return [f"{s} {m} {a} {c}." for s, m, a, c in itertools.islice(combos, 0, None, 5)]


@pytest.fixture()
def offline(monkeypatch):
    """No hub access: offline mode on, and any socket connection fails loudly."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(scope="session")
def legal_tokenizer():
    """A `▁`-metaspace BPE tokenizer with BOS, trained on `legal_sentences()` (vocab ~400)."""
    return train_tokenizer(legal_sentences(), vocab_size=400)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, legal_tokenizer):
    """A 2-layer Mistral with grouped-query attention (4 heads, 2 KV heads) and a sliding window.

    `initializer_range=0.2` makes the attention patterns far from uniform, so comparisons of
    patterns have something to compare.
    """
    return build_tiny_mistral(
        tmp_path_factory.mktemp("tiny-mistral"), legal_tokenizer, seed=0,
        sliding_window=SLIDING_WINDOW, initializer_range=0.2,
    )


@pytest.fixture(scope="session")
def tiny_checkpoint_other(tmp_path_factory, legal_tokenizer):
    """The same architecture as `tiny_checkpoint` with other weights (seed 1): a second stage."""
    return build_tiny_mistral(
        tmp_path_factory.mktemp("tiny-mistral-other"), legal_tokenizer, seed=1,
        sliding_window=SLIDING_WINDOW, initializer_range=0.2,
    )


@pytest.fixture(scope="session")
def tiny_loaded(tiny_checkpoint):
    """`tiny_checkpoint` loaded on the CPU in float32 through the project's loader."""
    from interp.models.lineage import Stage
    from interp.models.loader import free_stage, load_stage

    loaded = load_stage(Stage(label="base", model=str(tiny_checkpoint)), device="cpu", dtype="float32")
    yield loaded
    free_stage(loaded)


def concept(sequence_id: str, text: str, *needles: str, concept_type: str = "Condition"):
    """A concept sequence whose spans are the first occurrences of `needles` in `text`."""
    from interp.concepts.files import ConceptSequence, Span

    spans = tuple(Span(text.index(n), text.index(n) + len(n), n) for n in needles)
    return ConceptSequence(sequence_id, concept_type, text, spans, "tests")


TINY_SEQUENCES = [
    concept("lessee-1", "The lessee shall pay the rent within thirty days, unless the court orders otherwise.",
            "within thirty days"),
    concept("seller-1", "The seller may not sell the goods before the hearing; the buyer must not enter the premises. "
            "A tenant shall give notice in writing after the term expires, and the lessor may register the deed.",
            "may not sell the goods", "must not enter"),
]


@pytest.fixture(scope="session")
def third_checkpoint(tmp_path_factory, legal_tokenizer):
    """A third stage of the tiny architecture (seed 2)."""
    return build_tiny_mistral(tmp_path_factory.mktemp("third"), legal_tokenizer, seed=2,
                              sliding_window=SLIDING_WINDOW, initializer_range=0.2)


@pytest.fixture(scope="session")
def tiny_lineage(tiny_checkpoint, tiny_checkpoint_other, third_checkpoint):
    """base → cpt → ift, three tiny local checkpoints of one architecture."""
    from interp.models.lineage import Lineage, Stage

    return Lineage("tiny", (
        Stage("base", str(tiny_checkpoint)), Stage("cpt", str(tiny_checkpoint_other)), Stage("ift", str(third_checkpoint)),
    ), reference="base")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_lineage):
    """`tiny_lineage` over `TINY_SEQUENCES` into a results folder: (folder, manifest, progress messages).

    Read-only for the tests that use it; a test that changes a results folder copies it first.
    """
    from interp.extraction.pipeline import extract_lineage
    from interp.extraction.settings import ExtractionSettings

    out = tmp_path_factory.mktemp("results") / "run"
    messages = []
    manifest = extract_lineage(tiny_lineage, TINY_SEQUENCES, out, ExtractionSettings(device="cpu"),
                               on_progress=lambda p: messages.append((p.done, p.total, p.message)))
    return out, manifest, messages


@pytest.fixture(scope="session")
def tiny_causal_run(tmp_path_factory, tiny_run):
    """A copy of `tiny_run` with a causal run base → cpt (AtP on every head, exact on the top 2
    heads by |AtP| and by |shift|, 5 random sets): (folder, job). Read-only for its users."""
    import shutil

    from interp.causal.store import CausalSettings
    from interp.causal.study import RunOptions, prepare_causal, run_causal

    folder = tmp_path_factory.mktemp("causal") / "run"
    shutil.copytree(tiny_run[0], folder)
    job = prepare_causal(folder, CausalSettings(source="base", target="cpt", top=2, random_sets=5))
    run_causal(job, RunOptions(device="cpu"))
    return folder, job


def pilot_sequences() -> list:
    """Twelve sequences, six Role (the subject) and six Condition (the condition), from `legal_sentences`."""
    sentences = [(s, m, a, c) for s, m, a, c in itertools.islice(itertools.product(SUBJECTS, MODALS, ACTIONS, CONDITIONS),
                                                                  0, None, 37)][:12]
    return [concept(f"{'role' if i % 2 == 0 else 'condition'}-{i // 2 + 1}", f"{s} {m} {a} {c}.",
                    s if i % 2 == 0 else c, concept_type="Role" if i % 2 == 0 else "Condition")
            for i, (s, m, a, c) in enumerate(sentences)]


@pytest.fixture(scope="session")
def pilot_run(tmp_path_factory, tiny_lineage):
    """`tiny_lineage` over `pilot_sequences()`: a pilot the sample-size planner can resample, and a
    study whose default bundle leaves sequences out."""
    from interp.extraction.pipeline import extract_lineage
    from interp.extraction.settings import ExtractionSettings

    out = tmp_path_factory.mktemp("pilot") / "run"
    extract_lineage(tiny_lineage, pilot_sequences(), out, ExtractionSettings(device="cpu"))
    return out
