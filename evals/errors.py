"""Named exceptions for the evaluation engine.

Every error a user can cause (a bad suite file, an unknown run, a locked database) is an
`EvalError` subclass whose message is one sentence that says what went wrong and what to do.
The command line prints that sentence and exits with status 2; the desktop shows it in a
dialog. Internal invariants use `assert`, not these classes.
The history database's errors live with it (`history.errors`) and are re-exported here;
catch `USER_ERRORS` to catch both kinds.
"""

from history.errors import HistoryDamagedError, HistoryError, HistoryLockedError, HistoryReadOnlyError


class EvalError(Exception):
    """Base class of every evaluation error a user can cause."""


class SuiteError(EvalError):
    """A suite file is missing, malformed, or names something that does not exist."""


class RunError(EvalError):
    """A run cannot be started or resumed (model fails to load, suite changed, ...)."""


class DatasetImportError(EvalError):
    """A dataset file given to `glasslm eval import` is not in the expected format."""


USER_ERRORS = (EvalError, HistoryError)  # every error a user can cause in an eval or the history

__all__ = ["EvalError", "SuiteError", "RunError", "DatasetImportError", "HistoryError", "HistoryLockedError",
           "HistoryDamagedError", "HistoryReadOnlyError", "USER_ERRORS"]
