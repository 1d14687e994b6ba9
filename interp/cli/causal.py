"""`causal DIR --source S --target T`: the causal check over a results folder (docs/design.md §10).

Runs what is missing (AtP over every head, then exact patching of the heads it ranks, the heads
whose attention moved most and random head sets), writes it into the results folder, and prints
one of its tables. Every check that needs no model comes first, so bad input costs nothing.
"""

from __future__ import annotations

import argparse
import json
import sys

from interp.causal.interventions import INTERVENTIONS
from interp.causal.metrics import DEFAULT_AFTER, METRICS
from interp.causal.settings import (
    DEFAULT_BATCH,
    DEFAULT_RANDOM_SETS,
    DEFAULT_TOP,
    MAX_BATCH,
    MAX_RANDOM_SETS,
    MAX_TOP,
    METHODS,
)
from interp.cli.options import add_exclusions
from interp.core.errors import InterpError

TABLES = ("sequence", "head", "set", "correlation", "agreement")


def add_causal(commands) -> None:
    causal = commands.add_parser("causal", help="do the heads whose attention moved matter? patching between stages, "
                                                "ablation, attribution screening, with random head sets")
    causal.add_argument("folder", metavar="DIR", help="a results folder made by extract (its sequences and tokens)")
    causal.add_argument("--source", required=True, metavar="STAGE", help="the stage patched from (e.g. base)")
    causal.add_argument("--target", required=True, metavar="STAGE", help="the stage patched into (e.g. cpt)")
    causal.add_argument("--heads", default=None, metavar="L.H,...",
                        help="verify these query heads (each alone, and together) instead of the screened ones")
    causal.add_argument("--top", type=int, default=DEFAULT_TOP, metavar="K",
                        help=f"heads verified from the screen: the top K by |AtP| and by |attention shift| "
                             f"(default {DEFAULT_TOP}; 1 to {MAX_TOP})")
    causal.add_argument("--interventions", default=",".join(INTERVENTIONS), metavar="LIST",
                        help="; ".join(f"{i.name}: {i.description}" for i in INTERVENTIONS.values()))
    causal.add_argument("--metric", default="span", metavar="LIST",
                        help="; ".join(f"{m.name}: {m.description}" for m in METRICS.values()) + " (comma-separated)")
    causal.add_argument("--after", type=int, default=DEFAULT_AFTER, metavar="N",
                        help=f"tokens after each span that the 'after' metric reads (default {DEFAULT_AFTER})")
    causal.add_argument("--method", choices=METHODS, default="both",
                        help="atp: screen every head; exact: one forward pass per intervention; both (default): "
                             "screen, then verify")
    causal.add_argument("--random", type=int, default=DEFAULT_RANDOM_SETS, metavar="R",
                        help=f"random head sets matched by layer, the baseline of a set's effect (default "
                             f"{DEFAULT_RANDOM_SETS}; 0 to {MAX_RANDOM_SETS})")
    causal.add_argument("--seed", type=int, default=0, help="seed of the random sets and the bootstrap (default 0)")
    causal.add_argument("--format", choices=("table", "csv", "json"), default="table")
    causal.add_argument("--by", choices=TABLES, default=None,
                        help="rows per sequence × intervention × head or set × metric (default with --heads), per "
                             "head (default otherwise), per head set, the rank correlation of shift and effect, or "
                             "AtP's agreement with exact patching")
    causal.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default auto)")
    causal.add_argument("--dtype", default="auto", help="auto (bfloat16 on CUDA, float32 on CPU), float32, bfloat16")
    causal.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, metavar="N",
                        help=f"interventions per forward pass of exact patching (default {DEFAULT_BATCH}; at most "
                             f"{MAX_BATCH})")
    causal.add_argument("--shard", default=None, metavar="I/N",
                        help="compute only the I-th of N parts of the sequences (every shard writes into DIR; the "
                             "exact phase needs every shard's AtP first)")
    causal.add_argument("--trust-remote-code", action="store_true", help="allow a hub model's own code (off by default)")
    from interp.extraction import ray_executor  # noqa: F401  registers the Ray executor
    from interp.extraction.executors import EXECUTORS

    causal.add_argument("--executor", choices=list(EXECUTORS), default="local",
                        help="local (default): in this process; ray: blocks of sequences as Ray tasks, each loading both "
                             "stages, writing into DIR on a filesystem the workers share")
    causal.add_argument("--address", default=None, metavar="ADDR", help="with --executor ray: the cluster's head")
    causal.add_argument("--gpus-per-task", type=float, default=1.0, metavar="N",
                        help="with --executor ray on CUDA: GPUs per task (both stages load on them; default 1)")
    causal.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch threads per Ray task (default: the CPUs this process may use)")
    causal.add_argument("--block-size", type=int, default=None, metavar="N",
                        help="with --executor ray: sequences per task (default: all, one task per phase)")
    add_exclusions(causal)
    causal.set_defaults(command=run_causal)


def run_causal(args: argparse.Namespace) -> int:
    from interp.analysis.exclusions import parse_exclusions
    from interp.causal.interventions import parse_interventions
    from interp.causal.metrics import parse_metrics
    from interp.causal.store import CausalSettings
    from interp.causal.study import RunOptions, prepare_causal
    from interp.store.shards import parse_shard

    settings = CausalSettings(
        source=args.source, target=args.target, interventions=parse_interventions(args.interventions),
        metrics=parse_metrics(args.metric), after=args.after, top=args.top, random_sets=args.random, seed=args.seed,
        exclusions=parse_exclusions(args.exclude), first_position=args.first_position, measure=args.measure,
    )
    job = prepare_causal(args.folder, settings, heads_text=args.heads)
    if args.block_size is not None and args.block_size < 1:
        raise InterpError(f"--block-size {args.block_size}: give a number of sequences of at least 1")
    options = RunOptions(method=args.method, device=args.device, dtype=args.dtype, batch_size=args.batch_size,
                         shard=parse_shard(args.shard) if args.shard else None,
                         trust_remote_code=args.trust_remote_code, executor=args.executor, address=args.address,
                         gpus_per_task=args.gpus_per_task, threads=args.threads, block_size=args.block_size)
    _run_with_progress(job, options)
    _print(args, job)
    return 0


def _run_with_progress(job, options) -> None:
    from tqdm import tqdm

    from interp.causal.study import run_causal

    bars: list = []

    def on_progress(progress) -> None:
        if not bars or progress.done <= bars[-1].n:  # a new phase (AtP, then exact) starts a new bar
            if bars:
                bars[-1].close()
            bars.append(tqdm(total=progress.total, unit="seq", desc=progress.stage, file=sys.stderr))
        bars[-1].set_postfix_str(progress.message[:60])
        bars[-1].update(progress.done - bars[-1].n)

    try:
        run_causal(job, options, on_progress)
    finally:
        for bar in bars:
            bar.close()


def _print(args: argparse.Namespace, job) -> None:
    from interp.causal.results import CausalResults
    from interp.core.safe_output import csv_text, table_text

    reader = CausalResults(args.folder, job.settings.source, job.settings.target)
    by = args.by or ("sequence" if args.heads else "head")
    frames = []
    for metric in job.settings.metrics:
        if by == "sequence":
            frame = reader.sequences_table(metric)
        elif by == "head":
            frame = reader.heads_table(metric)
            if args.format == "table":  # a terminal shows the verified heads, csv/json every head
                frame = frame[frame["verified"]] if frame["verified"].any() else frame.nlargest(20, "atp", keep="all")
        elif by == "set":
            frame = reader.sets_table(metric)
        elif by == "correlation":
            frame = reader.correlation_table(metric)
        else:
            frame = reader.agreement_table(metric)
        frames.append(frame)
    import pandas as pd

    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if args.format == "json":
        print(json.dumps(frame.astype(object).where(frame.notna(), None).to_dict(orient="records"), indent=2))
    elif args.format == "csv":
        print(csv_text(frame), end="")
    else:
        print(table_text(frame))
