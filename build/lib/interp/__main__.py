"""`python -m interp ...`: the command line (see interp/cli.py)."""

import sys

from interp.cli.main import main

sys.exit(main())
