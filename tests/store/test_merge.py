"""Shards merged into one results folder: the plain run's report and bits, one manifest recording
every shard, and one-line refusals for anything that is not the N shards of one run."""

import json
import shutil

import pandas as pd
import pytest

from interp.analysis.results import Results, Selection
from interp.analysis.tables import report_table, shares_table
from interp.core.errors import InterpError
from interp.extraction.pipeline import extract_lineage
from interp.extraction.settings import ExtractionSettings
from interp.store.folder import SUFFIXES, ResultsStore
from interp.store.merge import merge_shards
from interp.store.shards import Shard
from tests.conftest import TINY_SEQUENCES, concept

pytestmark = pytest.mark.slow
SETTINGS = ExtractionSettings(device="cpu", threads=1)
FIVE = [*TINY_SEQUENCES,
        concept("buyer-1", "The buyer shall pay the rent if the notice is served.", "if the notice is served"),
        concept("tenant-1", "A tenant may appeal the decision within thirty days.", "within thirty days",
                concept_type="Role"),
        concept("seller-2", "The seller must not sign the contract before the hearing.", "before the hearing")]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_lineage):
    """A plain run of five sequences and the same command as three shards (2, 2 and 1 sequences,
    dealt round-robin), each extracted on its own (reusing nothing from the plain run beside it)."""
    root = tmp_path_factory.mktemp("shards")
    extract_lineage(tiny_lineage, FIVE, root / "plain", SETTINGS)
    shards = [root / f"shard-{i}" for i in (1, 2, 3)]
    for index, folder in enumerate(shards, start=1):
        extract_lineage(tiny_lineage, FIVE, folder, SETTINGS, shard=Shard(index, 3), reuse_from=[])
    return root / "plain", shards


def copies(shards, tmp_path):
    """Copies of the shard folders that a test may change."""
    return [shutil.copytree(folder, tmp_path / folder.name) for folder in shards]


def edit_manifest(folder, change):
    path = folder / "manifest.json"
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def test_a_shard_holds_its_part_and_says_so(runs):
    _, shards = runs
    manifests = [ResultsStore(folder).open() for folder in shards]
    assert [m.sequence_ids for m in manifests] == [["lessee-1", "tenant-1"], ["seller-1", "seller-2"], ["buyer-1"]]
    assert [(m.shard.index, m.shard.count, m.shard.sequences_in_all) for m in manifests] == [(1, 3, 5), (2, 3, 5),
                                                                                               (3, 3, 5)]
    assert Results(shards[1], Selection(n_controls=5)).stages == ["base", "cpt", "ift"]


def test_merged_shards_give_the_plain_run(runs, tmp_path):
    plain, shards = runs
    outcome = merge_shards(list(reversed(shards)), tmp_path / "merged")
    merged = outcome.manifest
    assert merged.complete and merged.shard is None and merged.sequence_ids == ResultsStore(plain).open().sequence_ids
    assert merged.concept_set_hash == ResultsStore(plain).open().concept_set_hash
    assert [(s.index, s.count, s.sequences) for s in merged.shards] == [
        (1, 3, ["lessee-1", "tenant-1"]), (2, 3, ["seller-1", "seller-2"]), (3, 3, ["buyer-1"])]
    assert all(s.folder == str(folder.resolve()) for s, folder in zip(merged.shards, shards))
    assert outcome.copied == 0 and (tmp_path / "merged" / "entries" / "cpt" / "seller-2.colsums.npy").stat().st_nlink == 2
    assert outcome.linked == sum(
        len(ResultsStore(plain).read_record(stage, s.id).digests) + 1 for stage in ("base", "cpt", "ift") for s in FIVE)
    selection = Selection(n_controls=30)
    pd.testing.assert_frame_equal(report_table(Results(tmp_path / "merged", selection)),
                                  report_table(Results(plain, selection)))
    pd.testing.assert_frame_equal(shares_table(Results(tmp_path / "merged")), shares_table(Results(plain)))
    mine, theirs = ResultsStore(tmp_path / "merged"), ResultsStore(plain)
    for stage in ("base", "cpt", "ift"):
        for sequence in FIVE:
            assert mine.read_record(stage, sequence.id).digests == theirs.read_record(stage, sequence.id).digests
    again = merge_shards(shards, tmp_path / "merged")
    assert (again.linked, again.copied, again.present) == (0, 0, 15)


def test_shards_of_one_run_are_needed_whole(runs, tmp_path):
    plain, shards = runs
    with pytest.raises(InterpError, match=r"^merge: shard\(s\) 3 of 3 missing; give all 3 shard folders"):
        merge_shards(shards[:2], tmp_path / "m")
    with pytest.raises(InterpError, match=r"shard-1: shard 1/3 is also .*shard-1; give each shard once"):
        merge_shards([shards[0], *shards], tmp_path / "m")
    with pytest.raises(InterpError, match=r"plain: not a shard \(extracted without --shard I/N\)"):
        merge_shards([plain, *shards], tmp_path / "m")
    with pytest.raises(InterpError, match=r"^--out .*shard-2: is one of the shards"):
        merge_shards(shards, shards[1])
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["settings"].update(patterns="none"),
     r"setting 'patterns' is 'none', but .*shard-1 has 'window': not shards of one run"),
    (lambda d: d.update(lineage="other"), r"field 'lineage' is 'other', but .* has 'tiny'"),
    (lambda d: d["stages"][1].update(fingerprint="sha256:0"), r"stage 'cpt', field 'fingerprint' is 'sha256:0'"),
    (lambda d: d["shard"].update(concept_set_hash_in_all="0" * 64), r"the concept set's 'concept_set_hash_in_all'"),
    (lambda d: d["shard"].update(count=4), r"shard 2/4, but .*shard-1 is shard 1/3; the shards of one run share N"),
])
def test_shards_of_different_runs_are_refused(runs, tmp_path, change, message):
    shards = copies(runs[1], tmp_path)
    edit_manifest(shards[1], change)
    with pytest.raises(InterpError, match=message):
        merge_shards(shards, tmp_path / "m")


def test_sequences_that_do_not_add_up_are_refused(runs, tmp_path):
    shards = copies(runs[1], tmp_path)
    edit_manifest(shards[2], lambda d: d["sequences"][0].update(concept="Role"))
    with pytest.raises(InterpError, match="^merge: the shards' sequences do not add up to the concept set"):
        merge_shards(shards, tmp_path / "m")


def test_a_damaged_or_unfinished_shard_is_refused(runs, tmp_path):
    shards = copies(runs[1], tmp_path)
    colsums = shards[0] / "entries" / "cpt" / f"lessee-1{SUFFIXES['colsums']}"
    data = bytearray(colsums.read_bytes())
    data[-1] ^= 0xFF
    colsums.write_bytes(bytes(data))
    with pytest.raises(InterpError, match=r"lessee-1.colsums.npy: missing, changed or damaged since it was written "
                                          r"\(stage 'cpt', sequence 'lessee-1'\); run that shard's extract again"):
        merge_shards(shards, tmp_path / "m")
    (shards[2] / "entries" / "ift" / "buyer-1.json").unlink()
    with pytest.raises(InterpError, match=r"shard-3: incomplete results: stage 'ift' lacks 1 sequence"):
        merge_shards(shards, tmp_path / "m2")


def test_a_folder_of_another_run_or_other_contents_is_not_overwritten(runs, tmp_path, tiny_run):
    plain, shards = runs
    target = tmp_path / "target"
    merge_shards(shards, target)
    other = shutil.copytree(target, tmp_path / "other")
    edit_manifest(other, lambda d: d.update(lineage="another"))
    with pytest.raises(InterpError, match=r"^--out .*other: holds another run \(lineage 'another', 5 sequences\)"):
        merge_shards(shards, other)
    record = target / "entries" / "ift" / "buyer-1.json"
    document = json.loads(record.read_text())
    document["key"] = "0" * 64
    record.unlink()  # a hard link to the shard's record: replaced, not written through
    record.write_text(json.dumps(document))
    with pytest.raises(InterpError, match=r"stage 'ift', sequence 'buyer-1' is already there with other contents; "
                                          r"merge into a new folder"):
        merge_shards(shards, target)


def test_a_plain_run_a_shard_or_a_folder_of_other_files_is_never_made_a_merge(runs, tmp_path):
    plain, shards = runs
    kept = shutil.copytree(plain, tmp_path / "plain")
    before = {path: path.read_bytes() for path in kept.rglob("*") if path.is_file()}
    with pytest.raises(InterpError, match=r"^--out .*plain: holds a plain run made by extract \(lineage 'tiny', "
                                          r"5 sequences\), not a merge; merge into a new folder$"):
        merge_shards(shards, kept)
    assert {path: path.read_bytes() for path in kept.rglob("*") if path.is_file()} == before
    shard = shutil.copytree(shards[0], tmp_path / "shard")
    with pytest.raises(InterpError, match=r"holds shard 1/3 of a run \(lineage 'tiny', 2 sequences\), not a merge"):
        merge_shards(shards, shard)
    papers = tmp_path / "papers"
    papers.mkdir()
    (papers / "draft.tex").write_text("precious")
    with pytest.raises(InterpError, match=r"papers: holds other files \('draft.tex'\) and no results"):
        merge_shards(shards, papers)
    assert sorted(p.name for p in papers.iterdir()) == ["draft.tex"]


def test_the_lock_of_the_merged_folder_never_follows_a_symbolic_link(runs, tmp_path):
    _, shards = runs
    precious = tmp_path / "precious.txt"
    precious.write_text("precious\n")
    out = tmp_path / "merged"
    out.mkdir()
    (out / ".lock").symlink_to(precious)
    with pytest.raises(InterpError, match=r"merged/\.lock: a symbolic link, not a lock file of this tool"):
        merge_shards(shards, out)
    assert precious.read_text() == "precious\n" and sorted(p.name for p in out.iterdir()) == [".lock"]


@pytest.mark.parametrize(("out", "message"), [
    ("file", r"^--out .*file: is a file, not a folder"),
    ("/dev/full", r"^--out /dev/full: is a file, not a folder"),
    ("/proc/x", r"^--out /proc/x: cannot make files in /proc"),
])
def test_the_merged_folder_is_checked_before_the_shards_are_read(tmp_path, out, message):
    (tmp_path / "file").write_text("precious")
    out = tmp_path / out if out == "file" else out
    with pytest.raises(InterpError, match=message):
        merge_shards([tmp_path / "no-such-shard"], out)
    assert (tmp_path / "file").read_text() == "precious"


def test_many_missing_shards_are_named_in_a_short_line(runs, tmp_path):
    shards = copies(runs[1], tmp_path)
    for folder in shards:
        edit_manifest(folder, lambda d: d["shard"].update(count=10_000))
    with pytest.raises(InterpError) as raised:
        merge_shards(shards, tmp_path / "m")
    assert str(raised.value) == ("merge: shard(s) 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 and 9,987 more of 10,000 missing; "
                                 "give all 10,000 shard folders")
    edit_manifest(shards[0], lambda d: d["shard"].update(count=10**30))
    with pytest.raises(InterpError, match=r"shard-1/manifest.json: field 'shard.count': input should be less than or "
                                          r"equal to 10000$"):
        merge_shards(shards, tmp_path / "m")


def test_a_merge_killed_midway_is_named_and_finished_by_the_next(runs, tmp_path):
    import subprocess
    import sys

    _, shards = runs
    out = tmp_path / "merged"
    # The merge kills itself (SIGKILL: no cleanup runs) as it is about to rename its seventh file into place
    # (the first entry, five files, is whole).
    script = (
        "import os, signal, sys\n"
        "from interp.store import merge\n"
        "calls = []\n"
        "def replace(source, target, _replace=os.replace):\n"
        "    calls.append(source)\n"
        "    if len(calls) == 7:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    _replace(source, target)\n"
        "merge.os.replace = replace\n"
        "merge.merge_shards(sys.argv[2:], sys.argv[1])\n"
    )
    killed = subprocess.run([sys.executable, "-c", script, str(out), *map(str, shards)], capture_output=True)
    assert killed.returncode == -9
    assert [p.name for p in out.rglob("*.tmp")] and not (out / "manifest.json").exists()
    with pytest.raises(InterpError, match=r"^.*merged: an interrupted merge \(entries but no manifest.json\): run the "
                                          r"same `python -m interp merge` command again$"):
        Results(out)
    outcome = merge_shards(shards, out)
    assert outcome.present == 1 and not list(out.rglob("*.tmp")) and outcome.manifest.complete
    assert len(Results(out).sequences) == 5


def test_a_tampered_manifest_is_named_by_its_folder(runs, tmp_path):
    shards = copies(runs[1], tmp_path)
    edit_manifest(shards[1], lambda d: d["sequences"][0].update(id="Not An Id"))
    with pytest.raises(InterpError, match=r"^.*shard-2/manifest.json: sequence 1, field 'id'"):
        merge_shards(shards, tmp_path / "m")
