"""The history database's errors: each message is one sentence that says what went wrong and what to do.

`evals.errors` re-exports them (an eval run's command line and the app catch them together with
`EvalError` through `evals.errors.USER_ERRORS`). Nothing here touches a database.
"""


class HistoryError(Exception):
    """The history database cannot be opened, read or written."""


class HistoryLockedError(HistoryError):
    """Another program held the database's write lock for longer than glasslm waits."""


class HistoryDamagedError(HistoryError):
    """SQLite reports the database file as corrupt."""


class HistoryReadOnlyError(HistoryError):
    """The database (or its folder) cannot be written; it can still be read."""
