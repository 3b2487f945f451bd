"""Named exceptions for the evaluation engine.

Every error a user can cause (a bad suite file, an unknown run, a locked database) is an
`EvalError` subclass whose message is one sentence that says what went wrong and what to do.
The command line prints that sentence and exits with status 2; the desktop shows it in a
dialog. Internal invariants use `assert`, not these classes.
"""


class EvalError(Exception):
    """Base class of every evaluation error a user can cause."""


class HistoryError(EvalError):
    """The history database cannot be opened, read or written."""


class SuiteError(EvalError):
    """A suite file is missing, malformed, or names something that does not exist."""


class RunError(EvalError):
    """A run cannot be started or resumed (model fails to load, suite changed, ...)."""


class DatasetImportError(EvalError):
    """A dataset file given to `glasslm eval import` is not in the expected format."""


class HistoryLockedError(HistoryError):
    """Another program held the database's write lock for longer than glasslm waits."""


class HistoryDamagedError(HistoryError):
    """SQLite reports the database file as corrupt."""


class HistoryReadOnlyError(HistoryError):
    """The database (or its folder) cannot be written; it can still be read."""
