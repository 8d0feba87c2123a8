"""Exclusive locks between fer-edge processes: one writer of a file, one stage working on a run folder.

An advisory ``flock`` on the file or folder itself: nothing is created beside it, and the kernel releases the lock
when the process ends however it ends (a crash, SIGKILL), so there is never a stale lock to clean up.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator

from edge.core.errors import UserError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the checks before the work still apply
    fcntl = None


def try_lock(fd: int, unsupported: bool = True) -> bool:
    """Take an exclusive lock on the open ``fd`` without waiting; False if another process holds one, and
    ``unsupported`` where there are no locks (Windows, a file system without them)."""
    if fcntl is None:
        return unsupported
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            return unsupported
        raise
    return True


@contextlib.contextmanager
def folder_locked(folder: str | os.PathLike, busy: str) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` for the block; ``busy`` is the one-line error when another process
    holds it."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        if not try_lock(fd):
            raise UserError(busy)
        yield
    finally:
        os.close(fd)  # releases the lock
