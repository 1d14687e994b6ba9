"""The command line: `python -m interp COMMAND ...` (docs/design.md §2.9).

Each command is a small function taking the parsed arguments and returning an exit code. Bad
input arrives as `InterpError` and leaves as one line per problem on stderr with exit code 2.
Text from files (names, ids, tokens) reaches the terminal without control characters, and CSV
without cells a spreadsheet would run (`interp.core.safe_output`).
Commands import what they need when they run, so `--help` and the commands that need no model
start without numpy's heavier neighbours, and none imports torch until a model is loaded.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from interp.cli import causal, concepts, methods, runs, tables
from interp.cli.options import PAPER_WIDTHS, add_analysis
from interp.core.errors import InterpError
from interp.export.contents import EXAMPLES_PER_TYPE
from interp.export.styles import STYLES


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
    # `interp` after `pip install .`, `python -m interp` from a checkout.
    prog = "interp" if os.path.basename(sys.argv[0]) == "interp" else "python -m interp"
    parser = argparse.ArgumentParser(prog=prog, description="Attention to legal concepts across a training lineage.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    concepts.add_commands(commands)
    tables.add_stats(commands)
    runs.add_extract(commands)
    tables.add_report(commands)
    methods.add_methods(commands)
    causal.add_causal(commands)
    export = commands.add_parser("export", help="every figure (PNG, SVG, PDF, HTML) and table (CSV, JSON) as one zip")
    export.add_argument("folder", metavar="DIR", help="a results folder made by extract")
    export.add_argument("--out", required=True, metavar="FILE.zip")
    export.add_argument("--images", default="png,svg,pdf", metavar="LIST",
                        help="image formats beside each figure's HTML page: a comma-separated list of png, svg, pdf "
                             "(default all three), or none")
    export.add_argument("--style", choices=list(STYLES), default="screen",
                        help="screen (default): the app's figures; paper: no titles (captions in NAME.txt), a "
                             "column or page width, 300 dpi PNG, a TrueType font, Okabe-Ito colours")
    export.add_argument("--width", choices=PAPER_WIDTHS, default=None,
                        help="paper figures 3.5 in wide (column, the default) or 7 in (page)")
    export.add_argument("--sequences", default=None, metavar="ID,…",
                        help="draw the per-sequence views (Heads, Tokens, Text, …) for these sequences only")
    export.add_argument("--all-sequences", action="store_true",
                        help="draw the per-sequence views for every sequence (a study of 1,000: tens of thousands "
                             "of figures)")
    export.add_argument("--examples", type=int, default=EXAMPLES_PER_TYPE, metavar="N",
                        help="without --sequences or --all-sequences: the per-sequence views of the first N sequences "
                             f"of each concept type (default {EXAMPLES_PER_TYPE}); the study-level views and tables "
                             "always cover every sequence")
    add_analysis(export)
    export.set_defaults(command=tables.run_export)
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
    build.set_defaults(command=runs.run_demo_build)
    demo_run = demo_actions.add_parser("run", help="the demo lineage over the built-in concept sets into the app's runs "
                                                   "folder: what the app opens on a fresh start (`make run` makes it)")
    demo_run.set_defaults(command=runs.run_demo_run)
    commands.add_parser("bench", help="extraction against a plain forward pass and the reference method (bench --help)")
    runs.add_fetch(commands)
    return parser
