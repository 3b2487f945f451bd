"""`python -m server [--model PATH] [--port N] ...`: the same as `glasslm serve`."""
import sys

from .cli import main

sys.exit(main())
