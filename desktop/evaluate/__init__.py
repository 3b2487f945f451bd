"""The Evaluate and History pages: run suites over a settings matrix, read the results back
from the history database, chart them, drill into items, compare runs and export them.

Runs go through `evals.runner.Runner` on a worker thread (`run_host.py`); everything shown
is read back from `history` and summarized with `evals.report`, so the window and
`glasslm eval show/compare/export` always agree. `queries.py` holds the Qt-free glue.
"""
