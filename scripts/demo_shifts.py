"""Headline shifts of a run, one line per compared stage: the numbers in the README's demo tables.

Usage: python scripts/demo_shifts.py RESULTS_DIR [--exclude PRESET] [--first-position RULE]

Per stage against the reference, over the run's concept sequences: the mean of the per-sequence
mean shift (and its range), how many sequences moved towards the concept, and the largest
single-head change |Δ| (its range over sequences).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from interp.analysis.exclusions import parse_exclusions  # noqa: E402
from interp.analysis.results import Results, Selection  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--exclude", default="paper")
    parser.add_argument("--first-position", default="bos")
    args = parser.parse_args()
    results = Results(args.folder, Selection(exclusions=parse_exclusions(args.exclude), n_controls=0,
                                             first_position=args.first_position))
    print("| stage | mean shift (range over sequences) | sequences with mean shift > 0 | largest single-head |Δ| |")
    print("|---|---|---|---|")
    for stage in results.compared_stages:
        means = np.array([results.shift(sequence=s.id, stage=stage).mean() for s in results.sequences])
        largest = np.array([np.abs(results.shift(sequence=s.id, stage=stage)).max() for s in results.sequences])
        print(f"| {stage} − {results.reference} | {means.mean():+.4f} ({means.min():+.4f} to {means.max():+.4f}) "
              f"| {(means > 0).sum()} of {means.size} | {largest.min():.3f}–{largest.max():.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
