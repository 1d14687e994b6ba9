"""Options several commands share (the analysis selection, exclusions, partial runs) and the results folder they open."""

from __future__ import annotations

import argparse
import sys

from interp.analysis.exclusions import FIRST_POSITION_RULES
from interp.analysis.measures import MEASURES
from interp.export.styles import STYLES

# The choices of the options below come from the registries that define them (light modules:
# building the parser costs about a tenth of a second).
PAPER_WIDTHS = STYLES["paper"].widths


def add_exclusions(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exclude", default="paper", metavar="PRESET",
                        help="excluded key tokens: paper (default; the reference study's SentencePiece list), "
                             "punctuation (any tokenizer), none, or a comma-separated token list (one preset alone, "
                             "never a preset's name in a list)")
    parser.add_argument("--first-position", default="bos", choices=list(FIRST_POSITION_RULES),
                        help="exclude the first token where it is a BOS (bos, default), always (first: the "
                             "attention sink of models without BOS), or never (none)")
    parser.add_argument("--measure", choices=list(MEASURES), default="attention",
                        help="raw attention (default, the reference study's) or attention weighted by the norm of "
                             "the transformed value (Kobayashi et al. 2020)")


def add_analysis(parser: argparse.ArgumentParser) -> None:
    """The options every table of a run is computed under (`interp.analysis.results.Selection`)."""
    parser.add_argument("--reference", default=None, metavar="STAGE", help="reference stage (default: the lineage's)")
    add_exclusions(parser)
    parser.add_argument("--controls", type=int, default=200, metavar="N",
                        help="control spans per sequence (default 200; 0: none; at most 10,000)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the control spans and the bootstrap (default 0; 0 to 2**32 - 1)")
    add_partial(parser)


def add_partial(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--partial", action="store_true",
                        help="read a run that stopped early as far as it got (a warning says what is missing)")


def open_results(args: argparse.Namespace):
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
