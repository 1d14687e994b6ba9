"""`report`, `shares`, `stats`, `export` from the command line: outputs, inert text, and one line for bad input."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy
from scipy import stats

from interp.cli.main import main
from interp.views import VIEWS
from tests.cli.helpers import HYPERLINK, PAPER, csv_rows, run


def test_stats_json_prints_the_six_statistics(capsys, share_files):
    from interp.core.digests import file_digest

    a, b, shift = share_files
    code, out, _ = run(capsys, "stats", "--reference", str(a), "--other", str(b), "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["settings"] == {"table": "stats", "shift": "other − reference", "reference_file": "a.npy",
                                    "other_file": "b.npy", "layers": 4, "heads": 8}
    assert document["provenance"]["other_file_digest"] == file_digest(b)
    assert document["provenance"]["analysis_packages"]["scipy"] == scipy.__version__
    [result] = document["rows"]
    assert list(result) == ["mean", "median", "frac_positive", "skewness", "kurtosis", "entropy"]
    assert all(isinstance(value, float) for value in result.values())
    assert result["mean"] == pytest.approx(shift.mean())
    assert result["skewness"] == pytest.approx(stats.skew(shift.ravel()))
    assert result["kurtosis"] == pytest.approx(stats.kurtosis(shift.ravel(), fisher=False))
    code, bare, _ = run(capsys, "stats", "--reference", str(a), "--other", str(b), "--format", "json", "--no-settings")
    assert code == 0 and json.loads(bare) == result, "--no-settings: the statistics alone, as before"


def test_stats_table_lists_each_statistic(capsys, share_files):
    a, b, shift = share_files
    code, out, _ = run(capsys, "stats", "--reference", str(a), "--other", str(b), "--format", "table")
    assert code == 0
    table = dict(line.split() for line in out.strip().splitlines())
    assert float(table["median"]) == pytest.approx(np.median(shift), rel=1e-5)


@pytest.mark.skipif(not PAPER.is_dir(), reason="the shared reference data is not beside this checkout")
def test_stats_on_published_shares(capsys):
    base = PAPER / "facet-1_mistralaiMistral-7B-v0.1_proportions.npy"
    cpt = PAPER / "facet-1_EquallSaul-7B-Base_proportions.npy"
    code, out, _ = run(capsys, "stats", "--reference", str(base), "--other", str(cpt), "--format", "json")
    shift = np.load(cpt) - np.load(base)
    assert code == 0 and json.loads(out)["rows"][0]["mean"] == pytest.approx(shift.mean())


def test_stats_bad_input_is_one_line_exit_2(capsys, share_files, tmp_path):
    a, _, _ = share_files
    np.save(tmp_path / "wide.npy", np.zeros((4, 9)))
    (tmp_path / "text.npy").write_text("not an array")
    for other, fragment in [
        (tmp_path / "absent.npy", "absent.npy"),
        (tmp_path / "text.npy", "text.npy"),
        (tmp_path / "wide.npy", "wide.npy: shape (4, 9) differs"),
    ]:
        code, out, err = run(capsys, "stats", "--reference", str(a), "--other", str(other))
        assert code == 2 and out == ""
        assert len(err.strip().splitlines()) == 1 and fragment in err and err.startswith("error: ")


@pytest.mark.slow
def test_cli_report_and_shares(tiny_run, capsys):
    from interp.analysis.results import Results, Selection
    from interp.analysis.tables import REPORT_COLUMNS, shares_table

    out = str(tiny_run[0])
    assert main(["report", out, "--format", "json", "--controls", "20", "--seed", "4"]) == 0
    document = json.loads(capsys.readouterr().out)
    rows = document["rows"]
    assert len(rows) == 4 and all(list(row) == list(REPORT_COLUMNS) for row in rows)
    assert {key: document["settings"][key] for key in ("table", "by", "reference", "controls", "seed")} == {
        "table": "report", "by": "sequence", "reference": "base", "controls": 20, "seed": 4}
    assert document["provenance"]["lineage"] == "tiny" and len(document["provenance"]["stages"]) == 3
    assert main(["report", out, "--format", "json", "--controls", "20", "--seed", "4", "--no-settings"]) == 0
    assert json.loads(capsys.readouterr().out) == rows, "--no-settings: the bare rows"
    assert main(["shares", out, "--format", "csv"]) == 0
    shares_csv = capsys.readouterr().out
    assert shares_csv.startswith('# settings.table: "shares"\n')
    table = csv_rows(shares_csv)
    assert list(table[0]) == ["sequence_id", "concept", "stage", "measure", "layer", "head", "share",
                              "first_token_share"]
    assert {row["measure"] for row in table} == {"attention"}
    assert len(table) == 2 * 3 * 2 * 4
    assert float(table[5]["share"]) == pytest.approx(shares_table(Results(out))["share"][5])
    assert main(["shares", out, "--first-position", "none", "--exclude", "none"]) == 0
    unfiltered = csv_rows(capsys.readouterr().out)
    expected = shares_table(Results(out, Selection(exclusions="none", first_position="none")))["share"][5]
    assert float(unfiltered[5]["share"]) == pytest.approx(expected) and expected != pytest.approx(float(table[5]["share"]))
    assert [row["first_token_share"] for row in unfiltered] == [row["first_token_share"] for row in table]
    assert main(["shares", out, "--format", "json"]) == 0
    shares_json = json.loads(capsys.readouterr().out)
    assert shares_json["settings"]["exclusions"] == "paper" and len(shares_json["rows"]) == len(table)
    assert shares_json["rows"][5]["share"] == pytest.approx(float(table[5]["share"]), rel=1e-12)
    assert main(["shares", out, "--no-settings"]) == 0
    assert list(csv.DictReader(io.StringIO(capsys.readouterr().out))) == table
    assert main(["shares", out, "--measure", "weighted"]) == 0
    weighted = csv_rows(capsys.readouterr().out)
    assert {row["measure"] for row in weighted} == {"weighted"}, "a weighted share says so in its row"
    assert float(weighted[5]["share"]) != pytest.approx(float(table[5]["share"]))
    with pytest.raises(SystemExit):
        main(["report", out, "--first-position", "sink"])
    assert "invalid choice: 'sink'" in capsys.readouterr().err
    assert main(["report", out, "--format", "table", "--controls", "0"]) == 0
    assert "lessee-1" in capsys.readouterr().out
    assert main(["report", out, "--exclude", " , "]) == 2
    assert "custom exclusions: list at least one token" in capsys.readouterr().err


@pytest.mark.slow
def test_damaged_store_is_one_line(tiny_run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_run[0], copy)
    (copy / "entries" / "ift" / "seller-1.colsums.npy").unlink()
    assert main(["report", str(copy)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stage 'ift' lacks 1 sequence(s) (first: 'seller-1')" in err
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "no such results folder" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_export_bundle_holds_manifest_figures_and_tables(tiny_run, tmp_path, capsys):
    import zipfile

    out = tmp_path / "bundle.zip"
    assert main(["export", str(tiny_run[0]), "--out", str(out), "--controls", "20"]) == 0
    printed, progress = capsys.readouterr()
    with zipfile.ZipFile(out) as bundle:
        names = set(bundle.namelist())
        manifest = json.loads(bundle.read("manifest.json"))
    html = sorted(name for name in names if name.startswith("figures/") and name.endswith(".html"))
    csvs = sorted(name for name in names if name.startswith("tables/") and name.endswith(".csv"))
    assert printed.strip().endswith(f"{len(html)} figures, {len(csvs)} tables")
    assert {"index.html", "index.csv"} <= names
    assert manifest["lineage"] == "tiny" and {key: manifest["analysis"][key] for key in (
        "exclusions", "reference", "controls", "seed", "first_position", "measure", "bootstrap_resamples", "confidence",
    )} == {"exclusions": "paper", "reference": "base", "controls": 20, "seed": 0, "first_position": "bos",
           "measure": "attention", "bootstrap_resamples": 2000, "confidence": 0.95}
    assert manifest["analysis"]["excluded_tokens"][:3] == ["'", "(", ")"]
    assert manifest["figures"] == {"style": {"name": "screen", "png_scale": 2}, "image_formats": ["png", "svg", "pdf"]}
    for page in html:  # every figure in every format, PDF included
        assert {page.replace(".html", f".{fmt}") for fmt in ("png", "svg", "pdf")} <= names
    # Progress on stderr, per view and per figure and format, ending complete.
    from interp.analysis.results import Results, Selection
    from interp.views import count_bundle_steps

    steps = count_bundle_steps(Results(tiny_run[0], Selection(n_controls=20)))
    assert "views: 100%" in progress and f"{steps}/{steps}" in progress
    images = [line for line in progress.replace("\r", "\n").splitlines() if line.startswith("images:")]
    assert images and all(f"/{3 * len(html)} " in line for line in images), "the total known at the first image"
    assert "images: 100%" in progress and f"{3 * len(html)}/{3 * len(html)}" in progress
    for table in ("overview/statistics", "overview/mean-share", "layers/profiles", "overview/shares"):
        assert {f"tables/{table}.csv", f"tables/{table}.json"} <= names
    with zipfile.ZipFile(out) as bundle:
        statistics = json.loads(bundle.read("tables/overview/statistics.json"))
        statistics_csv = bundle.read("tables/overview/statistics.csv").decode()
    assert statistics["settings"]["table"] == "overview/statistics" and statistics["settings"]["controls"] == 20
    assert statistics["provenance"]["run_id"].startswith("sha256:") and len(statistics["rows"]) == 4
    assert statistics_csv.startswith('# settings.table: "overview/statistics"\n')
    assert {"METHODS.md", "references.bib"} <= names
    with zipfile.ZipFile(out) as bundle:
        methods_text, references = bundle.read("METHODS.md").decode(), bundle.read("references.bib").decode()
    assert "20 control spans per sequence (seed 0)" in methods_text and "@article{phipson2010permutation," in references
    assert [row["sequence_id"] for row in csv_rows(statistics_csv)] == [row["sequence_id"] for row in statistics["rows"]]
    assert "figures/overview/shifts.html" in names and "figures/heads/shift-seller-1-ift-vs-base.html" in names
    assert "figures/heads/share-seller-1-ift.html" in names and "figures/text/seller-1-ift.html" in names
    assert any(name.startswith("figures/structure/") and name.endswith("-seller-1.html") for name in names)
    assert any(name.startswith("figures/tokens/map-lessee-1-cpt-L") for name in names)
    folders = {name.split("/")[1] for name in names if name.startswith("figures/") and name.count("/") == 2}
    assert folders == {name for name, view in VIEWS.items() if not view.unavailable(Results(tiny_run[0]))}
    index = list(csv.DictReader(io.StringIO(zipfile.ZipFile(out).read("index.csv").decode())))
    assert sorted(row["path"] + ".html" for row in index if row["kind"] == "figure") == html
    rows = {row["path"]: row for row in index}
    share, shift = rows["figures/heads/share-seller-1-ift"], rows["figures/heads/shift-seller-1-ift-vs-base"]
    assert (share["sequence"], share["stage"], share["against"]) == ("seller-1", "ift", "")
    assert share["settings"] == "Sequence: seller-1 (Condition); Stage: ift" and share["files"] == "html png svg pdf"
    assert shift["settings"] == "Sequence: seller-1 (Condition); Stage: ift; Shift against: base"
    assert share["title"] and share["caption"] == VIEWS["heads"].caption
    assert manifest["contents"]["left_out"] is None and manifest["contents"]["sequences_drawn"] == ["lessee-1",
                                                                                                      "seller-1"]
    assert main(["export", str(tiny_run[0]), "--out", str(tmp_path / "bundle.tar")]) == 2


# ---------------------------------------------------------------- hostile input and inert output


@pytest.mark.slow
def test_report_and_shares_csv_neutralise_formula_concepts(hostile_run, capsys):
    assert main(["report", str(hostile_run), "--format", "csv", "--controls", "0"]) == 0
    rows = csv_rows(capsys.readouterr().out)
    assert [row["concept"] for row in rows] == ["'" + HYPERLINK, "'@SUM(1+1)*cmd|' /C calc'!A0"]
    assert float(rows[0]["mean_share"]) > 0
    assert main(["shares", str(hostile_run)]) == 0
    shares = csv_rows(capsys.readouterr().out)
    assert {row["concept"][0] for row in shares} == {"'"}
    assert main(["report", str(hostile_run), "--format", "json", "--controls", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"][0]["concept"] == HYPERLINK, "JSON keeps the text as it is"


@pytest.mark.slow
def test_report_table_prints_no_control_or_bidi_characters(tiny_run, capsys, monkeypatch):
    import pandas as pd

    from interp.core.safe_output import CONTROL_CHARACTERS

    hostile = pd.DataFrame({"sequence_id": ["a"], "concept": ["\x1b[2J\x1b[31mRole\u202eevil"], "mean": [0.5]})
    monkeypatch.setattr("interp.analysis.tables.report_table", lambda results: hostile)
    assert main(["report", str(tiny_run[0]), "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert "[2J[31mRoleevil" in out
    assert not any(CONTROL_CHARACTERS.search(line) for line in out.splitlines())


@pytest.mark.slow
def test_export_keeps_every_figure_when_names_collide_and_prints_what_it_wrote(hostile_run, tmp_path, capsys,
                                                                               no_chromium_here):
    import zipfile

    from interp.analysis.results import Results, Selection
    from interp.views import bundle_contents

    out = tmp_path / "bundle.zip"
    assert main(["export", str(hostile_run), "--out", str(out), "--controls", "10"]) == 0
    printed = capsys.readouterr().out.strip()
    with zipfile.ZipFile(out) as bundle:
        names = bundle.namelist()
        stats = bundle.read("tables/overview/statistics.csv").decode()
    figures = [n for n in names if n.startswith("figures/") and n.endswith(".html")]
    tables = [n for n in names if n.startswith("tables/") and n.endswith(".csv")]
    expected_figures, expected_tables = bundle_contents(Results(hostile_run, Selection(n_controls=10)))
    assert printed == f"{out}: {len(figures)} figures, {len(tables)} tables"
    assert (len(figures), len(tables)) == (len(expected_figures), len(expected_tables))
    assert len({n.lower() for n in names}) == len(names)
    # (s, y-x) and (s-y, x) both name "heads/share-s-y-x": the second is kept beside the first.
    assert {"figures/heads/share-s-y-x.html", "figures/heads/share-s-y-x-2.html"} <= set(names)
    assert "'=HYPERLINK" in stats and "\n=HYPERLINK" not in stats and ",=HYPERLINK" not in stats


@pytest.mark.slow
def test_export_paper_pdfs_only(tiny_run, tmp_path, capsys):
    import zipfile

    out = tmp_path / "paper.zip"
    assert main(["export", str(tiny_run[0]), "--out", str(out), "--controls", "0", "--style", "paper",
                 "--width", "page", "--images", "pdf"]) == 0
    with zipfile.ZipFile(out) as bundle:
        names = set(bundle.namelist())
        manifest = json.loads(bundle.read("manifest.json"))
        pdf = bundle.read("figures/overview/shifts.pdf")
        caption = bundle.read("figures/overview/shifts.txt").decode()
    assert manifest["figures"]["style"]["name"] == "paper" and manifest["figures"]["style"]["width"] == "page"
    assert manifest["figures"]["image_formats"] == ["pdf"]
    assert not any(name.endswith((".png", ".svg")) for name in names)
    assert b"/MediaBox [0 0 504 " in pdf and b"/FontFile2" in pdf
    assert caption == ("Mean shift of the concept share (attention) against base, per sequence with its 95% bootstrap "
                       "interval over heads\n")
    assert "images: 100%" in capsys.readouterr().err


def test_export_options_are_checked_in_one_line(tiny_run, tmp_path, capsys):
    for options, message in ((["--width", "page"], "style 'screen' keeps each figure's own width"),
                             (["--images", "png,gif"], "image formats must be among png, svg, pdf, got ['gif']")):
        assert main(["export", str(tiny_run[0]), "--out", str(tmp_path / "b.zip"), "--controls", "0", *options]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert list(tmp_path.iterdir()) == []


def test_export_checks_its_output_before_any_work(tiny_run, tmp_path, capsys, monkeypatch):
    import interp.analysis.results

    def never(*args, **kwargs):
        raise AssertionError("the results were opened before the output path was checked")

    monkeypatch.setattr(interp.analysis.results, "Results", never)
    (tmp_path / "folder.zip").mkdir()
    cases = [
        (["--out", str(tmp_path / "folder.zip")], f"error: --out {tmp_path / 'folder.zip'}: is a folder; name a file"),
        (["--out", str(tmp_path / ("a" * 246 + ".zip"))], "the name is 250 bytes long; at most 241 here (its temporary "
                                                         "name needs 14 more)"),
        (["--out", str(tmp_path / ("b" * 296 + ".zip"))], "the name is 300 bytes long; at most 241 here"),
        (["--out", str(tmp_path / "missing" / "deeper" / "x.zip"), "--images", ",,,"],
         "error: --images ',,,': list png, svg, pdf separated by commas, with none empty, or give none"),
        (["--out", str(tmp_path / "x.zip"), "--images", ""], "error: --images '': list png, svg, pdf"),
        (["--out", str(tmp_path / "x.zip"), "--images", "png,,svg"], "error: --images 'png,,svg': list png, svg, pdf"),
    ]
    for options, message in cases:
        assert main(["export", str(tiny_run[0]), *options]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert [p.name for p in tmp_path.iterdir()] == ["folder.zip"]


def test_a_concept_left_without_tokens_is_named_by_its_sequence(tiny_run, tmp_path, capsys):
    import shutil

    copy = shutil.copytree(tiny_run[0], tmp_path / "copy")
    for record in copy.glob("entries/*/seller-1.json"):
        document = json.loads(record.read_text())
        document.update(has_bos=False, span_tokens=[[0]])  # as on a model without BOS, a span of token 0 alone
        record.write_text(json.dumps(document))
    assert main(["report", str(copy), "--first-position", "first", "--controls", "0"]) == 2
    assert capsys.readouterr().err == ("error: sequence 'seller-1', stage 'cpt': the concept has no tokens left once "
                                       "the excluded tokens are removed (exclusions 'paper', first position 'first')\n")
    assert main(["report", str(copy), "--first-position", "none", "--exclude", "none", "--controls", "0"]) == 0


@pytest.mark.slow
def test_report_by_concept_type(tiny_run, capsys):
    from interp.analysis.concept_types import CONCEPT_TYPE_COLUMNS

    assert main(["report", str(tiny_run[0]), "--by", "concept", "--format", "json", "--controls", "10"]) == 0
    document = json.loads(capsys.readouterr().out)
    rows = document["rows"]
    assert [(row["concept"], row["stage"]) for row in rows] == [("Condition", "cpt"), ("Condition", "ift")]
    assert list(rows[0]) == list(CONCEPT_TYPE_COLUMNS) and rows[0]["sequences"] == 2
    assert document["settings"]["by"] == "concept" and document["settings"]["bootstrap_resamples"] == 2000
    assert main(["report", str(tiny_run[0]), "--by", "concept", "--measure", "weighted", "--controls", "0"]) == 0
    assert "weighted" in capsys.readouterr().out


@pytest.mark.slow
def test_an_export_that_fails_while_figures_render_prints_one_line(tiny_run, tmp_path):
    """Every render still in flight is cancelled and awaited, and the browser closed, before the
    error line: no "Task exception was never retrieved" or traceback after it. Each render's
    command is slowed down in the browser's pipe, so that renders are in flight when the export
    meets the damaged array (with Chromium; without it there are no renders to stop)."""
    import os
    import shutil

    copy = shutil.copytree(tiny_run[0], tmp_path / "copy")
    damaged = copy / "entries" / "ift" / "seller-1.patterns.npy"
    data = bytearray(damaged.read_bytes())
    data[-1] ^= 0xFF
    damaged.write_bytes(bytes(data))
    script = (
        "import sys, time\n"
        "from choreographer.channels import pipe\n"
        "write = pipe.Pipe.write_json\n"
        "def slow(self, obj):\n"
        "    if 'interpRender' in str(obj.get('params', {}).get('expression', '')):\n"
        "        time.sleep(0.5)\n"
        "    return write(self, obj)\n"
        "pipe.Pipe.write_json = slow\n"
        "from interp.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", script, "export", str(copy), "--out", str(tmp_path / "b.zip"),
                           "--controls", "0"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (f"error: {damaged}: changed or damaged since it was written (stage 'ift', sequence "
                           "'seller-1'); run `extract` again\n")
    assert not (tmp_path / "b.zip").exists()


# ---------------------------------------------------------------- a study's bundle, the planner

@pytest.mark.slow
def test_export_of_a_study_draws_per_sequence_figures_for_a_few_and_says_what_it_left_out(pilot_run, tmp_path, capsys,
                                                                                          no_chromium_here):
    import zipfile

    out = tmp_path / "study.zip"
    assert main(["export", str(pilot_run), "--out", str(out), "--controls", "10", "--images", "none"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1] == ("per-sequence figures for 4 of 12 sequences (the first 2 sequence(s) of each concept type, "
                          "in the run's order); --all-sequences or --sequences ID,… for others (manifest.json lists them)")
    with zipfile.ZipFile(out) as bundle:
        names = set(bundle.namelist())
        contents = json.loads(bundle.read("manifest.json"))["contents"]
        page = bundle.read("index.html").decode()
    assert contents["sequences_drawn"] == ["role-1", "condition-1", "role-2", "condition-2"]
    assert contents["left_out"]["count"] == 8 and "role-6" in contents["left_out"]["sequences"]
    assert contents["left_out"]["to_include_all"] == (f"python -m interp export {pilot_run} --out FILE.zip "
                                                      "--all-sequences --controls 10 --images none")
    drawn = {name.split("/")[2].split(".")[0] for name in names if name.startswith("figures/text/")}
    assert drawn == {f"{sequence}-{stage}" for sequence in contents["sequences_drawn"] for stage in ("base", "cpt", "ift")}
    assert not any("role-3" in name or "condition-6" in name for name in names)
    for study_level in ("figures/overview/shifts.html", "figures/types/forest.html", "tables/overview/shares.csv",
                        "figures/plan/power-role-ift.html", "tables/plan/needed-role-ift.csv"):
        assert study_level in names
    assert "are left out" in page and "--all-sequences" in page
    statistics = zipfile.ZipFile(out).read("tables/overview/statistics.csv").decode()
    assert len(csv_rows(statistics)) == 12 * 2  # every sequence × compared stage

    assert main(["export", str(pilot_run), "--out", str(tmp_path / "some.zip"), "--controls", "10", "--images", "none",
                 "--sequences", "role-5,condition-6"]) == 0
    with zipfile.ZipFile(tmp_path / "some.zip") as bundle:
        contents = json.loads(bundle.read("manifest.json"))["contents"]
        assert {name for name in bundle.namelist() if name.startswith("figures/first-token/")} == {
            f"figures/first-token/{key}-{sequence}.html" for key in ("share", "change")
            for sequence in ("role-5", "condition-6")}
    assert contents["sequences_drawn"] == ["role-5", "condition-6"]
    assert contents["chosen_by"] == "the sequences chosen (--sequences)"
    capsys.readouterr()
    assert main(["export", str(pilot_run), "--out", str(tmp_path / "all.zip"), "--controls", "0", "--images", "none",
                 "--all-sequences"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1  # nothing left out, nothing to say about it


def test_export_refuses_unknown_sequences_in_one_line(tiny_run, tmp_path, capsys):
    for options, message in (
        (["--sequences", "lessee-1,nope"], "error: --sequences: 'nope' is not in the run"),
        (["--sequences", "lessee-1,,seller-1"], "error: --sequences 'lessee-1,,seller-1': sequence ids separated by "
                                                "commas, with none empty"),
        (["--sequences", "lessee-1", "--all-sequences"], "give one of them, not both"),
        (["--examples", "0"], "--examples 0: sequences per concept type must be 1 or more"),
    ):
        assert main(["export", str(tiny_run[0]), "--out", str(tmp_path / "b.zip"), "--controls", "0", *options]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_report_plan_gives_a_row_per_type_and_stage(pilot_run, capsys):
    from interp.analysis.planning import PLAN_COLUMNS

    assert main(["report", str(pilot_run), "--plan", "--format", "csv", "--controls", "10"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith('# settings.table: "plan"\n# settings.target_power: 0.8\n# settings.pseudo_studies: 500\n')
    rows = csv_rows(printed)
    assert [(row["concept"], row["stage"]) for row in rows] == [("Role", "cpt"), ("Role", "ift"), ("Condition", "cpt"),
                                                                ("Condition", "ift")]
    assert list(rows[0]) == list(PLAN_COLUMNS) and {row["pilot_sequences"] for row in rows} == {"6"}
    for row in rows:
        assert row["note"] or 5 <= float(row["sequences_needed"]) <= float(row["sequences_needed_half_effect"])
    assert main(["report", str(pilot_run), "--plan", "--controls", "0", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["settings"]["table"] == "plan" and document["settings"]["controls"] == 0
    rows = document["rows"]
    assert {row["note"] for row in rows} == {"no control spans (--controls 0): the contrast needs them"}
    assert {row["sequences_needed"] for row in rows} == {None} and rows[0]["pilot_sequences"] == 0
