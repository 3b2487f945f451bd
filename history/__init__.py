"""The glasslm history database: the only code in glasslm that runs SQL.

    from history import History, HistoryError, default_db_path
    h = History.open(path=None)      # None -> $GLASSLM_DB or the user data folder

Models and settings rows are in `models.py`, conversations and messages (with full-text search)
in `chats.py`, eval runs and results in `runs.py`, opening/validation/migration and the
per-thread connections in `store.py`, the schema itself in `migrations.py`, errors in
`errors.py`; `history/HISTORY.md` documents it for people querying with sqlite3/Datasette.
It imports nothing else from glasslm: evals and desktop sit above it, beside the engine.
"""

from .errors import HistoryDamagedError, HistoryError, HistoryLockedError, HistoryReadOnlyError
from .store import History, db_path, default_db_path, user_data_dir

__all__ = ["History", "HistoryError", "HistoryLockedError", "HistoryDamagedError", "HistoryReadOnlyError",
           "db_path", "default_db_path", "user_data_dir"]
