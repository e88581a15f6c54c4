"""The run lock: one perfsuite process at a time writes into an `out/` folder.

A benchmark session holds it for its whole duration (the pytest plugin takes it), and
`perfsuite migrate-out` takes it before it moves anything, so a migration never reshuffles the
folder a running session is writing into. The lock is a small JSON file created with
O_CREAT|O_EXCL (atomic on local filesystems); a lock left behind by a process that is gone is
stale and replaced, with a warning.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
import sys
import time
import uuid
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

from perfsuite.errors import PerfError
from perfsuite.results.layout import OutLayout

# A lock file younger than this that cannot be parsed is being written right now, not stale.
_WRITE_GRACE_S = 10.0


class StaleLockWarning(UserWarning):
    """A lock left by a process that no longer runs was replaced."""


@dataclass(frozen=True)
class LockInfo:
    pid: int
    host: str
    started: str  # ISO time the lock was taken
    process_started: float | None  # the holder's process creation time (epoch s): detects pid reuse
    purpose: str
    argv: str
    token: str  # identifies this holder, so that release never removes someone else's lock

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, {self.purpose}, since {self.started} (`{self.argv}`)"


class RunLockHeld(PerfError):
    """Another live perfsuite process holds the run lock."""

    def __init__(self, path: Path, info: LockInfo | None) -> None:
        self.path = path
        self.info = info
        if info is None:
            holder = "a process that is writing the lock file right now"
        else:
            holder = info.describe()
        super().__init__(
            f"{path.parent.parent} is in use by {holder}. Wait for it to finish and try again. "
            f"If that process is really gone (e.g. its machine was rebooted), delete {path} and retry."
        )


def _process_started(pid: int) -> float | None:
    try:
        import psutil
    except ImportError:  # psutil is a dependency, but the lock must not need it
        return None
    try:
        return float(psutil.Process(pid).create_time())
    except Exception:
        return None


def holder_alive(info: LockInfo) -> bool:
    """Whether the holder still runs. A lock from another host cannot be checked: it counts as alive."""
    if info.host != socket.gethostname():
        return True
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    try:
        import psutil

        if psutil.Process(info.pid).status() == psutil.STATUS_ZOMBIE:
            return False
    except ImportError:
        pass
    except Exception:
        return False
    started = _process_started(info.pid)
    if started is not None and info.process_started is not None and abs(started - info.process_started) > 1.0:
        return False  # the pid was reused by an unrelated process
    return True


def read_lock(path: Path) -> LockInfo | None:
    """The lock's content, or None when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LockInfo(**data)
    except (OSError, ValueError, TypeError):
        return None


def _young(path: Path) -> bool:
    try:
        return time.time() - path.stat().st_mtime < _WRITE_GRACE_S
    except OSError:
        return False


def check_unlocked(layout: OutLayout) -> None:
    """Raise RunLockHeld when a live process holds the lock of `layout`; read-only (for dry runs)."""
    path = layout.lock_file
    if not path.exists():
        return
    info = read_lock(path)
    if info is None:
        if _young(path):
            raise RunLockHeld(path, None)
        return
    if holder_alive(info):
        raise RunLockHeld(path, info)


class RunLock:
    """`with RunLock(layout): ...` holds `layout.lock_file` for the block; RunLockHeld if a live process has it."""

    def __init__(self, layout: OutLayout, *, purpose: str = "perfsuite session") -> None:
        self.layout = layout
        self.purpose = purpose
        self.info: LockInfo | None = None

    @property
    def path(self) -> Path:
        return self.layout.lock_file

    def _new_info(self) -> LockInfo:
        pid = os.getpid()
        return LockInfo(
            pid=pid,
            host=socket.gethostname(),
            started=_dt.datetime.now().isoformat(timespec="seconds"),
            process_started=_process_started(pid),
            purpose=self.purpose,
            argv=" ".join(sys.argv)[:500],
            token=uuid.uuid4().hex,
        )

    def acquire(self) -> LockInfo:
        if self.info is not None:
            raise RuntimeError("RunLock is not re-entrant")
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        for _attempt in range(5):
            info = self._new_info()
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._clear_if_stale()
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(asdict(info), indent=2) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            self.info = info
            return info
        raise RunLockHeld(path, read_lock(path))

    def _clear_if_stale(self) -> None:
        path = self.path
        old = read_lock(path)
        if old is None:
            if not path.exists():
                return  # released meanwhile: try again
            if _young(path):
                raise RunLockHeld(path, None)
        elif holder_alive(old):
            raise RunLockHeld(path, old)
        # Move the stale lock aside under a unique name rather than unlinking it: if another
        # process replaced it meanwhile, what we moved is its fresh lock, and we put it back.
        aside = path.with_name(f"{path.name}.stale-{uuid.uuid4().hex}")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return
        moved = read_lock(aside)
        if old is not None and moved is not None and moved.token != old.token:
            try:
                os.link(aside, path)
            except FileExistsError:
                pass
            aside.unlink(missing_ok=True)
            raise RunLockHeld(path, moved)
        aside.unlink(missing_ok=True)
        what = old.describe() if old else "an unreadable lock file"
        warnings.warn(f"replaced a stale run lock {path} left by {what}: that process no longer runs", StaleLockWarning, stacklevel=3)

    def release(self) -> None:
        info, self.info = self.info, None
        if info is None:
            return
        current = read_lock(self.path)
        if current is not None and current.token == info.token:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
