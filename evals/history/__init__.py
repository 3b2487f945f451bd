"""The glasslm history database: the only code in glasslm that runs SQL.

    from evals.history import History, HistoryError, default_db_path
    h = History.open(path=None)      # None -> $GLASSLM_DB or the user data folder

Conversations and messages (with full-text search) are in `chats.py`, eval runs and
results in `runs.py`, opening/validation/migration in `store.py`, the schema itself in
`migrations.py`; `evals/HISTORY.md` documents it for people querying with sqlite3/Datasette.
"""

from ..errors import HistoryError
from .store import History, db_path, default_db_path, user_data_dir

__all__ = ["History", "HistoryError", "db_path", "default_db_path", "user_data_dir"]
