"""The run lock: one perfsuite process at a time writes into an `out/` folder.

A benchmark session holds it for its whole duration (the pytest plugin takes it), and
`perfsuite migrate-out` takes it before it moves anything, so a migration never reshuffles the
folder a running session is writing into.

The lock is an exclusive ``flock`` on ``runs/.lock``, taken without waiting. The kernel releases it
when its holder's process ends however it ends (a crash, SIGKILL, a reboot), so a lock is never
stale: a file left behind by a dead process is simply locked again by the next one. While held, the
file says who holds it (pid, host, purpose, command line, start time) for the error message of a
process that finds it taken. Release removes the file while still holding the lock; a process that
locked a file just removed by its holder sees that its path now names another file and tries again.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import socket
import sys
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

from perfsuite.errors import PerfError
from perfsuite.results.layout import OutLayout

_ATTEMPTS = 5  # tries against a holder that releases (and removes the file) between our open and our lock


@dataclass(frozen=True)
class LockInfo:
    pid: int
    host: str
    started: str  # ISO time the lock was taken
    purpose: str
    argv: str
    token: str  # identifies this holder

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, {self.purpose}, since {self.started} (`{self.argv}`)"


class RunLockHeld(PerfError):
    """Another perfsuite process holds the run lock."""

    def __init__(self, path: Path, info: LockInfo | None) -> None:
        self.path = path
        self.info = info
        holder = "a process that is writing the lock file right now" if info is None else info.describe()
        super().__init__(f"{path.parent.parent} is in use by {holder}. Wait for it to finish and try again.")


def read_lock(path: Path) -> LockInfo | None:
    """Who the lock file says holds it; None when it is missing, empty or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LockInfo(**data)
    except (OSError, ValueError, TypeError):
        return None


def _try_lock(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (a releasing holder removes it)."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def check_unlocked(layout: OutLayout) -> None:
    """Raise RunLockHeld when a process holds the lock of `layout`; takes nothing (for dry runs)."""
    path = layout.lock_file
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        if not _try_lock(fd, fcntl.LOCK_SH):
            raise RunLockHeld(path, read_lock(path))
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class RunLock:
    """`with RunLock(layout): ...` holds `layout.lock_file` for the block; RunLockHeld if another process has it."""

    def __init__(self, layout: OutLayout, *, purpose: str = "perfsuite session") -> None:
        self.layout = layout
        self.purpose = purpose
        self.info: LockInfo | None = None
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        return self.layout.lock_file

    def _new_info(self) -> LockInfo:
        return LockInfo(
            pid=os.getpid(),
            host=socket.gethostname(),
            started=_dt.datetime.now().isoformat(timespec="seconds"),
            purpose=self.purpose,
            argv=" ".join(sys.argv)[:500],
            token=uuid.uuid4().hex,
        )

    def acquire(self) -> LockInfo:
        if self._fd is not None:
            raise RuntimeError("RunLock is not re-entrant")
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        for _attempt in range(_ATTEMPTS):
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _try_lock(fd, fcntl.LOCK_EX):
                os.close(fd)
                raise RunLockHeld(path, read_lock(path))
            if not _same_file(fd, path):  # locked a file its holder removed on release: take the new one
                os.close(fd)
                continue
            info = self._new_info()
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(asdict(info), indent=2) + "\n").encode(), 0)
            self._fd, self.info = fd, info
            return info
        raise RunLockHeld(path, read_lock(path))

    def release(self) -> None:
        fd, self._fd, self.info = self._fd, None, None
        if fd is None:
            return
        try:
            if _same_file(fd, self.path):
                self.path.unlink(missing_ok=True)  # still holding it: no one can take this file meanwhile
        finally:
            os.close(fd)  # closing the last descriptor releases the lock

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
