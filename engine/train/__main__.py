"""`python -m engine.train ...`: the same as `glasslm train ...`."""
import sys

from .cli import main

sys.exit(main())
