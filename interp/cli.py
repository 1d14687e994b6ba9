"""The command line: `python -m interp COMMAND ...` (DESIGN.md §5).

Each command is a small function taking the parsed arguments and returning an exit code. Bad
input arrives as `InterpError` and leaves as one line per problem on stderr with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

from interp.alignment import align_sequence
from interp.errors import InterpError
from interp.registry import all_sequences, load_concepts
from interp.statistics import compute_shift, compute_shift_statistics, load_share_matrix
from interp.tokenizer import load_tokenizer

Command = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, run the command, turn bad input into one line per problem and exit code 2."""
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
    return parser


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


def _add_stats(commands) -> None:
    stats = commands.add_parser("stats", help="statistics of the shift between two share matrices")
    stats.add_argument("--reference", required=True, metavar="A.npy", help="per-head shares of the reference stage")
    stats.add_argument("--other", required=True, metavar="B.npy", help="per-head shares of the other stage")
    stats.add_argument("--format", choices=("json", "table"), default="table")
    stats.set_defaults(command=run_stats)


def run_concepts_validate(args: argparse.Namespace) -> int:
    sets = load_concepts(args.paths)
    for concept_set in sets:
        print(f"{concept_set.origin}: ok, set '{concept_set.name}', {len(concept_set.sequences)} sequence(s)")
    return 0


def run_concepts_show(args: argparse.Namespace) -> int:
    sequences = all_sequences(load_concepts(args.paths))
    tokenizer = load_tokenizer(args.tokenizer)
    for sequence in sequences:
        aligned = align_sequence(sequence, tokenizer)
        print(f"{sequence.id} ({sequence.concept}): {aligned.n_tokens} tokens, "
              f"{int(aligned.concept_mask.sum())} concept tokens")
        print("  " + format_marked_tokens(aligned.tokens, aligned.concept_mask))
        for number, (span, indices) in enumerate(zip(sequence.spans, aligned.span_tokens), start=1):
            role = f" [{span.role}]" if span.role else ""
            print(f"  span {number}{role} {span.text!r}: tokens {', '.join(map(str, indices))}")
        for index in aligned.straddling:
            print(f"  note: token {index} {aligned.tokens[index]!r} reaches outside its span")
    return 0


def format_marked_tokens(tokens: Sequence[str], concept_mask) -> str:
    """Tokens separated by spaces, each run of concept tokens wrapped in brackets."""
    pieces = []
    for index, token in enumerate(tokens):
        inside = bool(concept_mask[index])
        opens = inside and (index == 0 or not concept_mask[index - 1])
        closes = inside and (index == len(tokens) - 1 or not concept_mask[index + 1])
        pieces.append(("[" if opens else "") + token + ("]" if closes else ""))
    return " ".join(pieces)


def run_stats(args: argparse.Namespace) -> int:
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
