"""`report`, `shares`, `stats`, `export`: a results folder as tables and as the export bundle."""

from __future__ import annotations

import argparse
import json
import sys

from interp.cli.options import add_analysis, add_exclusions, add_partial, open_results
from interp.core.errors import InterpError


def add_settings_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-settings", action="store_true",
                        help="leave out the settings and provenance: JSON as the bare rows (the form older versions "
                             "wrote), CSV without its block of '# key: value' lines")


def add_stats(commands) -> None:
    stats = commands.add_parser("stats", help="statistics of the shift between two share matrices")
    stats.add_argument("--reference", required=True, metavar="A.npy", help="per-head shares of the reference stage")
    stats.add_argument("--other", required=True, metavar="B.npy", help="per-head shares of the other stage")
    stats.add_argument("--format", choices=("json", "table"), default="table")
    add_settings_flag(stats)
    stats.set_defaults(command=run_stats)


def run_stats(args: argparse.Namespace) -> int:
    from interp.analysis.shift_statistics import (
        compute_shift,
        compute_shift_statistics,
        load_share_matrix,
    )

    reference = load_share_matrix(args.reference)
    other = load_share_matrix(args.other)
    if reference.shape != other.shape:
        raise InterpError(f"{args.other}: shape {other.shape} differs from {args.reference} {reference.shape}")
    statistics = compute_shift_statistics(compute_shift(other, reference)).as_dict()
    if args.format == "json" and args.no_settings:
        print(json.dumps(statistics))
    elif args.format == "json":
        import pandas as pd

        from interp.analysis.envelope import table_json

        header = _stats_header(args.reference, args.other, reference.shape)
        print(table_json(pd.DataFrame([statistics]), header), end="")
    else:
        width = max(map(len, statistics))
        for name, value in statistics.items():
            print(f"{name:<{width}}  {value: .6g}")
    return 0


def _stats_header(reference: str, other: str, shape: tuple[int, int]):
    """What `stats` was given: the two files, by name and by digest, and the package versions."""
    from pathlib import Path

    from interp.analysis.envelope import TableHeader, analysis_packages
    from interp.core.digests import file_digest

    return TableHeader(
        {"table": "stats", "shift": "other − reference", "reference_file": Path(reference).name,
         "other_file": Path(other).name, "layers": shape[0], "heads": shape[1]},
        {"reference_file_digest": file_digest(Path(reference)), "other_file_digest": file_digest(Path(other)),
         "analysis_packages": analysis_packages()},
    )


def add_report(commands) -> None:
    report = commands.add_parser("report", help="statistics per sequence × stage against the reference")
    report.add_argument("folder", metavar="DIR", help="a results folder made by extract")
    report.add_argument("--format", choices=("table", "csv", "json"), default="table")
    report.add_argument("--by", choices=("sequence", "concept"), default="sequence",
                        help="one row per sequence × stage (default), or per concept type × stage across its sequences")
    report.add_argument("--plan", action="store_true",
                        help="instead: with this run as a pilot, how many sequences per concept type a study needs for "
                             "the concept − control contrast's interval to exclude zero with 80%% probability, at the "
                             "observed effect and at half of it (resampling the run's sequences: a planning aid under "
                             "the pilot's distribution, not a guarantee; a few seconds per type and stage)")
    add_analysis(report)
    add_settings_flag(report)
    report.set_defaults(command=run_report)
    shares = commands.add_parser("shares", help="the per-head share table")
    shares.add_argument("folder", metavar="DIR")
    shares.add_argument("--format", choices=("csv", "json"), default="csv")
    add_exclusions(shares)
    add_partial(shares)
    add_settings_flag(shares)
    shares.set_defaults(command=run_shares)


def run_report(args: argparse.Namespace) -> int:
    from interp.analysis.tables import report_table
    from interp.core.safe_output import table_text

    results = open_results(args)
    if args.plan:
        frame = _plan_table(results)
    elif args.by == "concept":
        from interp.analysis.concept_types import concept_type_table

        frame = concept_type_table(results)
    else:
        frame = report_table(results)
    if args.format == "table":
        print(table_text(frame))
    elif args.plan:
        from interp.analysis.planning import STUDIES, TARGET_POWER

        _print_table(frame, results, args, table="plan", target_power=TARGET_POWER, pseudo_studies=STUDIES)
    else:
        _print_table(frame, results, args, table="report", by=args.by)
    return 0


def _plan_table(results):
    """`report --plan`'s table, a row per concept type × compared stage, with a progress bar."""
    from tqdm import tqdm

    from interp.analysis.concept_types import concept_types
    from interp.analysis.planning import plan_frame, plan_rows

    rows = len(concept_types(results)) * len(results.compared_stages)
    with tqdm(plan_rows(results), desc="planning", unit="type × stage", total=rows, file=sys.stderr,
              leave=False) as planned:
        return plan_frame(list(planned))


def run_shares(args: argparse.Namespace) -> int:
    from interp.analysis.tables import shares_table

    results = open_results(args)
    _print_table(shares_table(results), results, args, table="shares")
    return 0


def _print_table(frame, results, args: argparse.Namespace, **settings) -> None:
    """`frame` as `--format` csv or json, with its settings and provenance unless `--no-settings`."""
    from interp.analysis.envelope import results_header, table_csv, table_json

    header = None if args.no_settings else results_header(results, **settings)
    print((table_json if args.format == "json" else table_csv)(frame, header), end="")


def run_export(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from interp.core.atomic import check_output_file
    from interp.export.bundle import (
        check_export_options,
        choose_sequences,
        close_shared_exporter,
        export_run,
    )

    if not args.out.endswith(".zip"):
        raise InterpError(f"--out {args.out}: the bundle is a zip file; name it *.zip")
    check_output_file(args.out)
    formats = () if args.images.strip().lower() == "none" else tuple(f.strip().lower() for f in args.images.split(","))
    if not all(formats):
        raise InterpError(f"--images {args.images!r:.80}: list png, svg, pdf separated by commas, with none empty, "
                          "or give none")
    check_export_options(formats, args.style, args.width)
    results = open_results(args)
    subset = choose_sequences(results, _sequence_list(args.sequences), args.all_sequences, args.examples)
    bars: dict[str, tqdm] = {}  # made at the first report, so that a refused option prints one line

    def on_progress(progress) -> None:
        if not bars:
            bars["views"] = tqdm(desc="views", unit="view", total=progress.steps, file=sys.stderr, position=0)
        bars["views"].update(progress.steps_done - bars["views"].n)
        if progress.images and "images" not in bars:  # the total is known before the first image
            bars["images"] = tqdm(desc="images", unit="image", total=progress.images, file=sys.stderr, position=1)
        if "images" in bars:
            bars["images"].update(progress.images_done - bars["images"].n)

    finished = False
    try:
        path, n_figures, n_tables = export_run(results, args.out, formats, style=args.style, width=args.width,
                                               progress=on_progress, sequences=subset)
        finished = True
    finally:
        close_shared_exporter()  # the browser and its renders stop before the command's last line
        for bar in reversed(bars.values()):
            bar.leave = finished  # after a failure, the one-line error alone stays
            bar.close()
    print(f"{path}: {n_figures} figures, {n_tables} tables")
    left_out = len(results.sequences) - len(subset.ids)
    if left_out:
        print(f"per-sequence figures for {len(subset.ids):,} of {len(results.sequences):,} sequences ({subset.describe()}); "
              f"--all-sequences or --sequences ID,… for others (manifest.json lists them)")
    return 0


def _sequence_list(text: str | None) -> list[str] | None:
    """`--sequences a,b` as ids (None when not given); empty items are refused."""
    if text is None:
        return None
    ids = [item.strip() for item in text.split(",")]
    if not all(ids):
        raise InterpError(f"--sequences {text!r:.80}: sequence ids separated by commas, with none empty")
    return ids
