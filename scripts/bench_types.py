"""A concept-type study at scale, timed as a user runs it: the numbers in the README.

Usage: python scripts/bench_types.py [--per-type N] [--dir DIR] [--repeat N]

Generates `7 × N` labelled sequences (`concepts generate`, default N = 143: 1,001 sequences),
extracts them over the demo lineage's three stages (`extract --lineage demo`, skipped when DIR
already holds that run), then times, each as a fresh `python -m interp` process (median of
`--repeat`): `report` and `report --by concept`, for both measures. Then, in this process as the
app computes them, every registered view: its first computation on a freshly opened results
folder, and the same view for another sequence or stage once the folder's aggregates are
cached (what a user waits for on each later click; the app also caches every output it drew).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_export import REPO, interp, timed

DEFAULT_DIR = Path.home() / ".cache" / "interp" / "bench-types"
sys.path.insert(0, str(REPO))  # the views are timed in this process


def ensure_run(folder: Path, per_type: int) -> Path:
    """The generated dataset extracted over the demo lineage into `folder/run`; prints the time."""
    concepts, run = folder / f"concepts-{per_type}.jsonl", folder / f"run-{per_type}"
    folder.mkdir(parents=True, exist_ok=True)
    if not (run / "manifest.json").is_file():
        subprocess.run(interp("demo", "build"), cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        wall, cpu, printed = timed(interp("concepts", "generate", "--per-type", str(per_type), "--seed", "0",
                                          "--out", str(concepts)))
        print(f"concepts generate: {printed.strip()} ({wall:.1f} s)")
        wall, cpu, _ = timed(interp("extract", "--lineage", "demo", "--concepts", str(concepts), "--out", str(run),
                                    "--no-reuse"))
        print(f"extract --lineage demo (3 stages): {wall:.0f} s wall, {cpu:.0f} s CPU")
    return run


def time_commands(run: Path, repeat: int) -> None:
    print(f"\n{'command, median of ' + str(repeat):<46} {'wall':>7} {'CPU':>7}")
    for measure in ("attention", "weighted"):
        for label, extra in (("report", []), ("report --by concept", ["--by", "concept"])):
            runs = [timed(interp("report", str(run), "--format", "csv", "--measure", measure, *extra))[:2]
                    for _ in range(repeat)]
            print(f"{label + ' --measure ' + measure:<46} {statistics.median(w for w, _ in runs):6.2f}s "
                  f"{statistics.median(c for _, c in runs):6.2f}s")


def other_choices(view, results, first: dict) -> dict:
    """The view's choices with its first choice moved to another option (a new sequence, stage
    or concept type), the rest back to their defaults: a user's next click."""
    from interp import views

    if not view.choices:
        return first
    choice = view.choices[0]
    options = [option for option in choice.options(results, {}) if option != first[choice.name]]
    if not options:
        return first
    return views.resolve_choices(view, results, {choice.name: views.choice_text(options[len(options) // 2])},
                                 as_text=True)


def time_views(run: Path) -> None:
    from interp import views
    from interp.analysis.results import Results, Selection

    print(f"\n{'view':<18} {'first s':>8} {'next s':>8}  (next: another {'sequence, stage or type'})")
    worst = 0.0
    for measure in ("attention", "weighted"):
        results = Results(run, Selection(measure=measure))
        for name, view in views.VIEWS.items():
            if view.unavailable(results):
                continue
            first = views.resolve_choices(view, results)
            began = time.perf_counter()
            view.compute(results, **first)
            cold = time.perf_counter() - began
            nxt = other_choices(view, results, first)
            began = time.perf_counter()
            view.compute(results, **nxt)
            warm = time.perf_counter() - began
            worst = max(worst, warm)
            print(f"{name + (' (w)' if measure == 'weighted' else ''):<18} {cold:8.2f} {warm:8.2f}")
    print(f"slowest view after its first computation: {worst:.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-type", type=int, default=143, help="sequences per concept type (default 143: 1,001)")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"working folder (default {DEFAULT_DIR})")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command (default 3)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at the start")
    run = ensure_run(args.dir, args.per_type)
    time_commands(run, args.repeat)
    time_views(run)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
