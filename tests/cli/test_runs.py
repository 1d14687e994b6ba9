"""`extract`, `merge`, `demo build`, `fetch` from the command line: runs offline, shards, bad options in one line."""

import json
import shutil

import pytest

from interp.cli.main import main
from tests.cli.helpers import run, write_inputs


def test_fetch_prints_the_converted_folder(capsys, real_tokenizer_folders, offline):
    folder = real_tokenizer_folders["smollm2-tokenizer"]
    code, out, _ = run(capsys, "fetch", "smollm2-tokenizer", "--out", str(folder.parent))
    assert code == 0 and out.strip() == str(folder)
    with pytest.raises(SystemExit):
        main(["fetch", "smollm2-tokenizer", "gpt-5"])
    assert "invalid choice: 'gpt-5'" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_build_reports_losses_and_the_notice(capsys, micro_demo, monkeypatch):
    monkeypatch.setenv("INTERP_DEMO_DIR", str(micro_demo))
    assert main(["demo", "build"]) == 0
    out, err = capsys.readouterr()
    assert "not evidence about real legal models" in err
    manifest = json.loads((micro_demo / "demo.json").read_text())
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[3:]}
    assert set(rows) == {"base", "cpt", "ift"}
    assert float(rows["cpt"][1]) == pytest.approx(manifest["losses"]["cpt"]["legal"], abs=1e-3)


@pytest.mark.slow
def test_cli_extract_runs_offline_with_progress(tmp_path, tiny_lineage, capsys, monkeypatch):
    from tests.conftest import TINY_SEQUENCES

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    lineage_file = tmp_path / "lineage.yaml"
    lineage_file.write_text("name: tiny\nstages:\n" + "".join(
        f"  - {{label: {s.label}, model: '{s.model}'}}\n" for s in tiny_lineage.stages))
    concepts = tmp_path / "c.json"
    concepts.write_text(json.dumps({"set": "t", "sequences": [
        {"id": s.id, "concept": s.concept, "text": s.text, "spans": [{"text": sp.text} for sp in s.spans]}
        for s in TINY_SEQUENCES]}))
    out = tmp_path / "x"
    argv = ["extract", "--lineage", str(lineage_file), "--concepts", str(concepts), "--out", str(out), "--device", "cpu"]
    assert main(argv) == 0
    first = capsys.readouterr()
    assert "stage 'ift': 0 cached, 2 to run" in first.err and "0 stage(s) entirely from cache" in first.out
    assert main(argv) == 0
    assert "3 stage(s) entirely from cache" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_extract_reuses_what_runs_beside_it_hold_and_says_so(tiny_run, tiny_lineage, tmp_path, capsys,
                                                                 monkeypatch):
    from tests.conftest import TINY_SEQUENCES, concept

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    shutil.copytree(tiny_run[0], tmp_path / "runs" / "earlier")
    more = [*TINY_SEQUENCES, concept("buyer-1", "The buyer shall sign the contract before the hearing.",
                                     "before the hearing")]
    lineage, concepts = write_inputs(tmp_path, tiny_lineage, more)
    base = ["extract", "--lineage", lineage, "--concepts", concepts, "--device", "cpu"]
    assert main([*base, "--out", str(tmp_path / "runs" / "more")]) == 0
    err = capsys.readouterr().err
    assert all(f"stage '{label}': 2 reused, 1 to run" in err for label in ("base", "cpt", "ift")), err
    assert main([*base, "--out", str(tmp_path / "alone" / "run"), "--no-reuse"]) == 0
    assert "stage 'base': 0 cached, 3 to run" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "named"), "--reuse", str(tmp_path / "alone")]) == 0
    assert "stage 'ift': 3 reused, 0 to run (no forward pass)" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "x"), "--reuse", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err == (f"error: --reuse {tmp_path / 'nowhere'}: no such folder (give results folders, "
                                       "or folders that hold them)\n")


@pytest.mark.slow
def test_cli_shards_and_merge_report_like_the_plain_run(tiny_run, tiny_lineage, tmp_path, capsys, monkeypatch):
    from tests.conftest import TINY_SEQUENCES

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    lineage, concepts = write_inputs(tmp_path, tiny_lineage, TINY_SEQUENCES)
    for index in (1, 2):
        argv = ["extract", "--lineage", lineage, "--concepts", concepts, "--out", str(tmp_path / f"s{index}"),
                "--device", "cpu", "--shard", f"{index}/2"]
        assert main(argv) == 0
        assert f"3 stages × 1 sequences (shard {index}/2 of 2 sequences" in capsys.readouterr().out
    assert main(["merge", str(tmp_path / "s2"), str(tmp_path / "s1"), "--out", str(tmp_path / "merged")]) == 0
    assert "2 shards merged, 3 stages × 2 sequences (30 files linked, 0 copied, 0 already there)" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "merged"), "--format", "csv", "--no-settings"]) == 0
    merged = capsys.readouterr().out
    assert main(["report", str(tiny_run[0]), "--format", "csv", "--no-settings"]) == 0
    assert merged == capsys.readouterr().out
    assert main(["merge", str(tmp_path / "s1"), "--out", str(tmp_path / "m2")]) == 2
    assert capsys.readouterr().err == "error: merge: shard(s) 2 of 2 missing; give all 2 shard folders\n"


def test_cli_scaling_options_refuse_bad_input_in_one_line(tmp_path, tiny_lineage, capsys):
    import socket

    from interp.extraction.executors import available_cpus
    from tests.conftest import TINY_SEQUENCES

    lineage, concepts = write_inputs(tmp_path, tiny_lineage, TINY_SEQUENCES)
    base = ["extract", "--lineage", lineage, "--concepts", concepts, "--out", str(tmp_path / "r"), "--device", "cpu"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cases = [
        (["--shard", "3/2"], "error: --shard 3/2: I must lie between 1 and N (1/2 … 2/2)\n"),
        (["--shard", "half"], "error: --shard 'half': expected I/N, two whole numbers with 1 ≤ I ≤ N (e.g. 3/8)\n"),
        (["--shard", "3/3"], "error: --shard 3/3: 2 sequence(s) make at most 2 shards, each with one sequence or more\n"),
        (["--shard", "1/1000000000000000000000000000000"],
         "error: --shard '1/1000000000000000000000000000000': N is at most 10,000 shards\n"),
        (["--shard", "1/" + "7" * 5000], "error: --shard '1/777777777777777777'… (5,002 characters): N is at most "
                                         "10,000 shards\n"),
        (["--threads", "10000"], f"error: --threads 10000: this process may use {available_cpus()} CPU(s) here; give at "
                                 f"most {available_cpus()}\n"),
        (["--address", "10.0.0.5:6379"], "error: --address 10.0.0.5:6379: applies to --executor ray, not local\n"),
        (["--executor", "ray", "--address", f"127.0.0.1:{port}"],
         f"error: --address 127.0.0.1:{port}: no Ray cluster answers there (Connection refused)\n"),
        (["--threads", "0"], "error: --threads 0: give at least one thread\n"),
    ]
    for extra, expected in cases:
        assert main([*base, *extra]) == 2, extra
        assert capsys.readouterr().err == expected
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").rglob("*.json"))
    (tmp_path / "file").write_text("precious")
    assert main([*base[:-4], "--out", str(tmp_path / "file"), "--device", "cpu"]) == 2
    assert capsys.readouterr().err == f"error: --out {tmp_path / 'file'}: is a file, not a folder; name a new or existing folder\n"
    (tmp_path / "precious").write_text("precious\n")
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / ".lock").symlink_to(tmp_path / "precious")
    assert main([*base[:-4], "--out", str(tmp_path / "linked"), "--device", "cpu"]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'linked' / '.lock'}: a symbolic link, not a lock file")
    assert (tmp_path / "precious").read_text() == "precious\n" and (tmp_path / "file").read_text() == "precious"
    with pytest.raises(SystemExit):
        main([*base, "--executor", "slurm"])
    assert "invalid choice: 'slurm' (choose from 'local', 'ray')" in capsys.readouterr().err
