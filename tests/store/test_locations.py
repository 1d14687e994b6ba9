"""Where the tool keeps what a user makes."""

import json
import os
from pathlib import Path

import pytest

from interp.core.errors import InterpError
from interp.models.lineage import Lineage, Stage, load_lineage
from interp.store.locations import (
    app_run_folder,
    data_home,
    demo_run,
    demo_run_folder,
    latest_run,
    resolve_results_folder,
    results_roots,
    runs_dir,
    shown_results_folder,
    user_concepts_dir,
)
from tests.conftest import TINY_SEQUENCES


def test_interp_home_overrides_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("INTERP_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_home() == tmp_path / "xdg" / "interp"
    monkeypatch.setenv("INTERP_HOME", str(tmp_path / "home"))
    assert (user_concepts_dir(), runs_dir()) == (tmp_path / "home" / "concepts", tmp_path / "home" / "runs")


def test_app_run_folder_follows_lineage_concepts_and_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERP_HOME", str(tmp_path))
    demo = load_lineage("demo")
    first = app_run_folder(demo, TINY_SEQUENCES, dtype="auto", input_format="raw")
    assert first == app_run_folder(demo, list(TINY_SEQUENCES), dtype="auto", input_format="raw")
    assert first.parent == tmp_path / "runs" and first.name.startswith("demo-")
    assert app_run_folder(demo, TINY_SEQUENCES[:1], dtype="auto", input_format="raw") != first
    assert app_run_folder(demo, TINY_SEQUENCES, dtype="bfloat16", input_format="raw") != first
    assert app_run_folder(demo, TINY_SEQUENCES, dtype="auto", input_format="chat") != first
    assert isinstance(first, Path)


def test_signed_in_users_have_a_folder_each(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERP_HOME", str(tmp_path))
    assert user_concepts_dir("0123abcd0123abcd") == tmp_path / "concepts" / "users" / "0123abcd0123abcd"
    assert user_concepts_dir(None) == tmp_path / "concepts"


def test_a_lineage_name_never_leaves_the_runs_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERP_HOME", str(tmp_path))
    lineage = Lineage("../../etc/x y", (Stage("a", "m/a"), Stage("b", "m/b")))
    folder = app_run_folder(lineage, TINY_SEQUENCES, dtype="auto", input_format="raw")
    assert folder.parent == tmp_path / "runs" and folder.name.startswith("etc-x-y-")


# ---------------------------------------------------------------- results roots

@pytest.fixture()
def roots(monkeypatch, tmp_path):
    """A home whose runs folder holds one run, and a second root named in the environment."""
    home, extra = tmp_path / "home", tmp_path / "gpu-results"
    (home / "runs" / "demo-1").mkdir(parents=True)
    (extra / "saul").mkdir(parents=True)
    monkeypatch.setenv("INTERP_HOME", str(home))
    monkeypatch.setenv("INTERP_RESULTS_ROOTS", f"{extra}{os.pathsep}{os.pathsep}{extra}")
    return home / "runs", extra


def test_roots_are_the_runs_folder_and_the_environment(roots):
    runs, extra = roots
    assert results_roots() == [runs.resolve(), extra.resolve()]


def test_folders_below_a_root_resolve(roots):
    runs, extra = roots
    assert resolve_results_folder(str(runs / "demo-1")) == (runs / "demo-1").resolve()
    assert resolve_results_folder(f"  {extra / 'saul'}  ") == (extra / "saul").resolve()
    assert resolve_results_folder("demo-1") == (runs / "demo-1").resolve(), "relative to the runs folder"
    assert resolve_results_folder(str(runs / "not-made-yet")) == (runs / "not-made-yet").resolve()


@pytest.mark.parametrize("typed", ["/etc", "/nonexistent", "/etc/passwd", "~", "..", "../../..", "/", "",
                                   "demo-1/../../..", "a\x00b"])
def test_anything_outside_the_roots_gets_one_message_whatever_is_there(roots, typed):
    runs, extra = roots
    with pytest.raises(InterpError) as caught:
        resolve_results_folder(typed)
    assert str(caught.value) == (
        f"{typed.strip()}: not a results folder this app may open; it opens folders under "
        f"{runs.resolve()}, {extra.resolve()} (the server's INTERP_RESULTS_ROOTS adds more)"
    ).replace("\x00", "\\x00")


def test_etc_and_a_missing_path_are_answered_alike(roots):
    answers = []
    for typed in ("/etc", "/nonexistent"):
        with pytest.raises(InterpError) as caught:
            resolve_results_folder(typed)
        answers.append(str(caught.value).removeprefix(typed))
    assert answers[0] == answers[1]


def test_a_link_inside_a_root_that_points_outside_is_outside(roots, tmp_path):
    runs, _ = roots
    (runs / "escape").symlink_to("/etc")
    (runs / "inside").symlink_to(runs / "demo-1")
    with pytest.raises(InterpError, match="not a results folder this app may open"):
        resolve_results_folder(str(runs / "escape"))
    assert resolve_results_folder(str(runs / "inside")) == (runs / "demo-1").resolve()


def test_a_results_folder_is_shown_relative_to_its_root(roots):
    runs, extra = roots
    assert shown_results_folder(runs / "demo-1") == "runs/demo-1"
    assert shown_results_folder(extra / "saul") == "gpu-results/saul"
    assert shown_results_folder(runs / "inside" / ".." / "demo-1") == "runs/demo-1"
    assert shown_results_folder(extra) == "gpu-results"
    for folder in (runs / "demo-1", extra / "saul"):
        assert str(runs.parent.parent) not in shown_results_folder(folder)


def test_a_folder_as_the_page_names_it_opens_again(roots):
    """The app's address holds `runs/demo-1` and `gpu-results/saul`: each resolves to its folder."""
    runs, extra = roots
    for folder in (runs / "demo-1", extra / "saul", extra):
        assert resolve_results_folder(shown_results_folder(folder)) == folder.resolve()
    (runs / "gpu-results" / "saul").mkdir(parents=True)
    assert resolve_results_folder("gpu-results/saul") == (runs / "gpu-results" / "saul").resolve(), \
        "a folder of that path below the runs folder comes first"
    with pytest.raises(InterpError, match="not a results folder this app may open"):
        resolve_results_folder("gpu-results/../../..")


def test_roots_of_one_name_each_find_their_own_folders(monkeypatch, tmp_path):
    home, other = tmp_path / "home", tmp_path / "elsewhere" / "runs"
    (home / "runs" / "mine").mkdir(parents=True)
    (other / "theirs").mkdir(parents=True)
    monkeypatch.setenv("INTERP_HOME", str(home))
    monkeypatch.setenv("INTERP_RESULTS_ROOTS", str(other))
    for folder in (home / "runs" / "mine", other / "theirs"):
        assert shown_results_folder(folder) == f"runs/{folder.name}"
        assert resolve_results_folder(shown_results_folder(folder)) == folder.resolve()


def fake_run(folder: Path, complete: bool, when: int) -> Path:
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"complete": complete}))
    os.utime(folder / "manifest.json", (when, when))
    return folder


def test_the_demo_run_and_the_latest_run_are_found_or_said_how_to_make(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERP_HOME", str(tmp_path / "home"))
    assert demo_run_folder().parent == runs_dir() and demo_run_folder().name.startswith("demo-")
    with pytest.raises(InterpError, match=r"^.*/runs/demo-[0-9a-f]{12}: the demo run is not made yet; `make run` \(or "
                                          r"`python -m interp demo run`\) makes it$"):
        demo_run()
    with pytest.raises(InterpError, match=r"runs: no finished run yet; start one in the app"):
        latest_run()
    fake_run(demo_run_folder(), complete=False, when=3_000)
    with pytest.raises(InterpError, match="the demo run is not made yet"):
        demo_run()
    older = fake_run(runs_dir() / "older", complete=True, when=1_000)
    assert latest_run() == older, "an unfinished run is never the latest"
    (demo_run_folder() / "manifest.json").write_text(json.dumps({"complete": True}))
    assert demo_run() == latest_run() == demo_run_folder()
