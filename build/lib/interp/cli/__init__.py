"""`python -m interp` (and the `interp` console script): the parser and one module per group of
commands. The parser imports no heavy module, so `--help` answers at once; each command imports
what it needs when it runs.

May import: any `interp` subpackage. Never `ui/` or Streamlit.
"""
