"""The export bundle and the CLI's start, timed as a user runs them: the numbers in the README.

Usage: python scripts/bench_export.py [--run DIR] [--repeat N] [--skip-paper] [--study DIR | --study-per-type N]

Builds the demo lineage and extracts the built-in concept sets into DIR when DIR holds no run
(default ~/.cache/interp/bench-export-run), then times, each as a fresh `python -m interp`
process: `export` with HTML figures only, with PNG, SVG and PDF (screen style) and with all
three in the paper style; the default bundle of a concept-type study (`--study DIR`, a results
folder, or one generated and extracted as `scripts/bench_types.py` does with `--study-per-type N`,
default 143 per type: 1,001 sequences), HTML only and with PNG, SVG and PDF, checking that the
demo's bundle left no sequence out; and the start of `--help`, `concepts validate concepts/` and
`report DIR` (median of N runs). Beside each wall time: the CPU seconds of the process and
everything it started (Chromium included, sampled with psutil), which on a shared machine says
more than the wall time; the load average is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RUN = Path.home() / ".cache" / "interp" / "bench-export-run"


def interp(*args: str) -> list[str]:
    return [sys.executable, "-m", "interp", *args]


def timed(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds and stdout of `command`. The CPU seconds are those of every
    process of its tree, sampled every 0.1 s (Chromium's renderers are no children it waits
    for), or its own rusage where that is more (a command that ends before the first sample)."""
    cpu: dict[int, float] = {}
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.DEVNULL)
        root = psutil.Process(process.pid)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            try:
                members = [root, *root.children(recursive=True)]
            except psutil.Error:
                members = []
            for member in members:
                try:
                    times = member.cpu_times()
                    cpu[member.pid] = times.user + times.system
                except psutil.Error:
                    pass
            time.sleep(0.1)
        wall = time.perf_counter() - start
        out.seek(0)
        printed = out.read().decode()
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(command)} exited with {os.waitstatus_to_exitcode(status)}")
    return wall, max(sum(cpu.values()), usage.ru_utime + usage.ru_stime), printed


def ensure_run(folder: Path) -> None:
    """The demo lineage extracted over the built-in concept sets into `folder`, unless it is there."""
    if (folder / "manifest.json").is_file():
        return
    print(f"building the demo run in {folder} (a few minutes the first time) …", file=sys.stderr)
    subprocess.run(interp("demo", "build"), cwd=REPO, check=True)
    subprocess.run(interp("extract", "--lineage", "demo", "--concepts", "concepts/", "--out", str(folder)),
                   cwd=REPO, check=True)


def time_bundles(run: Path, bundles: list[tuple[str, list[str]]], scratch: str) -> list[dict]:
    """Each bundle of `run` exported once as a fresh process: a line per bundle, and its manifest's
    `contents` (which sequences got per-sequence figures)."""
    print(f"\n{'bundle of ' + run.name:<34} {'wall':>8} {'CPU':>8}  contents")
    contents = []
    for label, options in bundles:
        out = Path(scratch) / "bundle.zip"
        wall, cpu, printed = timed(interp("export", str(run), "--out", str(out), *options))
        counts = re.search(r"(\d+) figures, (\d+) tables", printed)
        with zipfile.ZipFile(out) as bundle:
            contents.append(json.loads(bundle.read("manifest.json"))["contents"])
        drawn = f"per-sequence figures for {len(contents[-1]['sequences_drawn'])} sequences"
        print(f"{label:<34} {wall:7.1f}s {cpu:7.1f}s  {counts.group(1)} figures, {counts.group(2)} tables, "
              f"{out.stat().st_size / 1e6:.1f} MB; {drawn}")
    return contents


def study_run(args: argparse.Namespace) -> Path | None:
    """The study to export: `--study DIR`, else one generated and extracted by bench_types (None
    with `--study-per-type 0`)."""
    if args.study is not None:
        return args.study
    if args.study_per_type <= 0:
        return None
    from bench_types import DEFAULT_DIR, ensure_run

    return ensure_run(DEFAULT_DIR, args.study_per_type)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=DEFAULT_RUN, help=f"results folder (default {DEFAULT_RUN})")
    parser.add_argument("--repeat", type=int, default=5, help="runs per start-up command (default 5)")
    parser.add_argument("--skip-paper", action="store_true", help="leave out the paper-style bundle")
    parser.add_argument("--study", type=Path, default=None, help="a results folder of a concept-type study to export")
    parser.add_argument("--study-per-type", type=int, default=143,
                        help="without --study: generate and extract a study of N sequences per type (default 143; "
                             "0: no study)")
    args = parser.parse_args()
    ensure_run(args.run)
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at the start")

    bundles = [("HTML only", ["--images", "none"]), ("PNG + SVG + PDF, screen", ["--images", "png,svg,pdf"])]
    if not args.skip_paper:
        bundles.append(("PNG + SVG + PDF, paper column", ["--images", "png,svg,pdf", "--style", "paper"]))
    study = study_run(args)
    with tempfile.TemporaryDirectory() as scratch:
        demo_contents = time_bundles(args.run, bundles, scratch)
        if any(contents["left_out"] for contents in demo_contents):
            raise SystemExit(f"the default bundle of {args.run} left sequences out; it should keep every figure")
        if study is not None:
            time_bundles(study, [("default, HTML only", ["--images", "none"]),
                                 ("default, PNG + SVG + PDF, screen", ["--images", "png,svg,pdf"])], scratch)

    print(f"\n{'start-up, median of ' + str(args.repeat):<34} {'wall':>8} {'CPU':>8}")
    for label, command in (("--help", ["--help"]), ("concepts validate concepts/", ["concepts", "validate", "concepts/"]),
                           ("report DIR", ["report", str(args.run)])):
        runs = [timed(interp(*command))[:2] for _ in range(args.repeat)]
        print(f"{label:<34} {statistics.median(w for w, _ in runs):7.2f}s {statistics.median(c for _, c in runs):7.2f}s")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
