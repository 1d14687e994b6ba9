"""`python -m interp ...`: the command line (see interp/cli.py)."""

import sys

from interp.cli import main

sys.exit(main())
