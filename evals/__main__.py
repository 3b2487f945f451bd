"""`python -m evals VERB ...` runs the `glasslm eval` verbs (see cli.py)."""

import sys

from .cli import main

sys.exit(main())
