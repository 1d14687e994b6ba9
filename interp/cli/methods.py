"""`methods`: the methods section of a run under the analysis options, and the BibTeX of what it cites."""

from __future__ import annotations

import argparse

from interp.cli.options import add_analysis, open_results


def add_methods(commands) -> None:
    methods = commands.add_parser(
        "methods", help="a methods section (Markdown) for a run under the analysis options, to paste and edit")
    methods.add_argument("folder", metavar="DIR", help="a results folder made by extract")
    methods.add_argument("--bib", default=None, metavar="FILE.bib",
                         help="also write the BibTeX entries of the works the text cites to this file")
    add_analysis(methods)
    methods.set_defaults(command=run_methods)


def run_methods(args: argparse.Namespace) -> int:
    from interp.analysis.methods import methods_bibtex, methods_markdown
    from interp.causal import methods as _causal  # noqa: F401  the causal check's paragraph, where one was run
    from interp.core.atomic import check_output_file, write_text_atomic

    if args.bib is not None:
        check_output_file(args.bib, "--bib")
    results = open_results(args)
    text = methods_markdown(results)
    if args.bib is not None:
        write_text_atomic(args.bib, methods_bibtex(results))
    print(text, end="")
    return 0
