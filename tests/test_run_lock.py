"""RunLock: exclusive out/ lock with pid and start time; stale locks (dead pid) are replaced with a warning."""

from __future__ import annotations

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
from perfsuite.results.lock import LockInfo, RunLock, RunLockHeld, StaleLockWarning, check_unlocked, read_lock


@pytest.fixture
def layout(tmp_path: Path) -> OutLayout:
    return OutLayout(tmp_path / "out")


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_lock(layout: OutLayout, **fields: object) -> None:
    info = LockInfo(pid=os.getpid(), host=socket.gethostname(), started="2026-11-01T12:00:00",
                    process_started=None, purpose="perfsuite session", argv="pytest benches", token="other")
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


def test_lock_held_by_another_live_process(layout: OutLayout) -> None:
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
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockHeld, match=f"pid {holder.pid}"):
            RunLock(layout).acquire()
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert not layout.lock_file.exists()
    with RunLock(layout):
        pass


def test_stale_lock_of_a_dead_pid_is_replaced_with_a_warning(layout: OutLayout) -> None:
    pid = dead_pid()
    write_lock(layout, pid=pid)
    check_unlocked(layout)  # a dead holder does not block
    with pytest.warns(StaleLockWarning, match=f"pid {pid}"):
        with RunLock(layout) as lock:
            assert read_lock(layout.lock_file) == lock.info
    assert not layout.lock_file.exists()


def test_reused_pid_is_detected_by_its_start_time(layout: OutLayout) -> None:
    pytest.importorskip("psutil")
    write_lock(layout, pid=os.getpid(), process_started=1.0)  # this pid, but a process started in 1970
    with pytest.warns(StaleLockWarning):
        with RunLock(layout):
            pass


def test_lock_from_another_host_is_respected(layout: OutLayout) -> None:
    write_lock(layout, pid=dead_pid(), host="some-other-host")
    with pytest.raises(RunLockHeld, match="some-other-host"):
        RunLock(layout).acquire()
    assert layout.lock_file.exists()


def test_unreadable_lock_being_written_counts_as_held_then_as_stale(layout: OutLayout) -> None:
    layout.lock_file.parent.mkdir(parents=True)
    layout.lock_file.write_text("")
    with pytest.raises(RunLockHeld, match="writing the lock file"):
        RunLock(layout).acquire()
    old = layout.lock_file.stat().st_mtime - 60
    os.utime(layout.lock_file, (old, old))
    with pytest.warns(StaleLockWarning, match="unreadable"):
        with RunLock(layout):
            pass


def test_release_never_removes_someone_elses_lock(layout: OutLayout) -> None:
    lock = RunLock(layout)
    lock.acquire()
    write_lock(layout, token="someone-else")
    lock.release()
    assert layout.lock_file.exists()


def test_not_reentrant(layout: OutLayout) -> None:
    with RunLock(layout) as lock:
        with pytest.raises(RuntimeError, match="re-entrant"):
            lock.acquire()
