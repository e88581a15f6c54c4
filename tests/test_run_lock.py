"""RunLock: an exclusive flock on out/runs/.lock that says who holds it; the kernel frees it when its holder dies."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from perfsuite.errors import PerfError
from perfsuite.results.layout import OutLayout
from perfsuite.results.lock import LockInfo, RunLock, RunLockHeld, check_unlocked, read_lock


@pytest.fixture
def layout(tmp_path: Path) -> OutLayout:
    return OutLayout(tmp_path / "out")


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_lock(layout: OutLayout, **fields: object) -> None:
    info = LockInfo(pid=os.getpid(), host=socket.gethostname(), started="2026-11-01T12:00:00",
                    purpose="perfsuite session", argv="pytest benches", token="other")
    layout.lock_file.parent.mkdir(parents=True, exist_ok=True)
    layout.lock_file.write_text(json.dumps(asdict(replace(info, **fields))))  # type: ignore[arg-type]


def test_lock_file_holds_pid_and_start_time_and_is_removed_on_exit(layout: OutLayout) -> None:
    with RunLock(layout) as lock:
        info = read_lock(layout.lock_file)
        assert info is not None and info.pid == os.getpid() and info.started
        assert info == lock.info
    assert not layout.lock_file.exists()


def test_lock_is_removed_when_the_block_raises(layout: OutLayout) -> None:
    with pytest.raises(ZeroDivisionError):
        with RunLock(layout):
            1 / 0
    assert not layout.lock_file.exists()


def test_second_holder_is_refused_with_the_pid(layout: OutLayout) -> None:
    with RunLock(layout):
        with pytest.raises(RunLockHeld) as info:
            RunLock(layout, purpose="perfsuite migrate-out").acquire()
        assert f"pid {os.getpid()}" in str(info.value)
        assert isinstance(info.value, PerfError)
        with pytest.raises(RunLockHeld):
            check_unlocked(layout)
    check_unlocked(layout)


def _holder(layout: OutLayout) -> subprocess.Popen:
    """Another process that holds the lock until its stdin closes."""
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys; from pathlib import Path\n"
            "from perfsuite.results.layout import OutLayout\n"
            "from perfsuite.results.lock import RunLock\n"
            f"with RunLock(OutLayout(Path({str(layout.root)!r}))):\n"
            "    print('locked', flush=True); sys.stdin.read()\n"
        )],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1],
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_lock_held_by_another_live_process(layout: OutLayout) -> None:
    holder = _holder(layout)
    try:
        with pytest.raises(RunLockHeld, match=f"pid {holder.pid}"):
            RunLock(layout).acquire()
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert not layout.lock_file.exists()
    with RunLock(layout):
        pass


def test_a_file_left_by_a_dead_process_does_not_block(layout: OutLayout) -> None:
    write_lock(layout, pid=dead_pid())  # its holder is gone: the kernel released the lock with it
    check_unlocked(layout)
    with RunLock(layout) as lock:
        assert read_lock(layout.lock_file) == lock.info
    assert not layout.lock_file.exists()


def test_a_holder_killed_with_sigkill_leaves_the_lock_free(layout: OutLayout) -> None:
    holder = _holder(layout)
    try:
        with pytest.raises(RunLockHeld, match=f"pid {holder.pid}"):
            check_unlocked(layout)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert layout.lock_file.exists()  # no chance to clean up
    check_unlocked(layout)
    with RunLock(layout):
        pass


def test_a_lock_held_before_its_holder_wrote_who_it_is(layout: OutLayout) -> None:
    layout.lock_file.parent.mkdir(parents=True)
    fd = os.open(layout.lock_file, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(RunLockHeld, match="writing the lock file"):
            RunLock(layout).acquire()
    finally:
        os.close(fd)
    with RunLock(layout):
        pass


def test_release_never_removes_a_file_it_does_not_hold(layout: OutLayout) -> None:
    lock = RunLock(layout)
    lock.acquire()
    layout.lock_file.unlink()
    write_lock(layout, token="someone-else")  # another file at the path now
    lock.release()
    assert read_lock(layout.lock_file).token == "someone-else"  # type: ignore[union-attr]


def test_a_lock_on_a_file_its_holder_removed_is_retried_on_the_new_file(layout: OutLayout, monkeypatch) -> None:
    import perfsuite.results.lock as lock_module

    calls = []
    real = lock_module._same_file

    def first_one_was_removed(fd: int, path: Path) -> bool:
        calls.append(fd)
        return len(calls) > 1 and real(fd, path)

    monkeypatch.setattr(lock_module, "_same_file", first_one_was_removed)
    with RunLock(layout) as lock:
        assert len(calls) == 2 and read_lock(layout.lock_file) == lock.info


def test_not_reentrant(layout: OutLayout) -> None:
    with RunLock(layout) as lock:
        with pytest.raises(RuntimeError, match="re-entrant"):
            lock.acquire()
