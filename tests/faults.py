"""Real faults for tests: a file-size limit that makes the OS refuse writes (as a full disk does).

`file_size_limit(n)` sets RLIMIT_FSIZE for this process, so any write past byte n fails with
EFBIG from the kernel (SIGXFSZ is ignored while it lasts); it is restored on exit. Open
databases before entering it: SQLite's own files are limited too.
"""
from __future__ import annotations

import contextlib
import resource
import signal


@contextlib.contextmanager
def file_size_limit(n_bytes: int):
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    old = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (n_bytes, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old)
        signal.signal(signal.SIGXFSZ, old_handler)
