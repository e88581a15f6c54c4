"""Busy processes beside a trial: the load of a shared CI runner, ended by their own ids whatever happens."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

#: One busy process: a Python loop that takes a whole CPU (what ../shared/tools/loaded starts).
BUSY_COMMAND: tuple[str, ...] = (sys.executable, "-c", "while True: pass")
MAX_BUSY = 64

Spawn = Callable[[Sequence[str]], Any]  # returns a Popen-like object (pid, terminate, kill, wait)


def _spawn(cmd: Sequence[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextmanager
def busy_processes(n: int, *, spawn: Spawn = _spawn) -> Iterator[list[int]]:
    """``n`` busy processes for the duration of the block; yields their pids.

    Every process started is ended on the way out (terminate, then kill if it lingers), also when
    the block raises or a later process fails to start: a leaked spinner would slow every trial
    after it and the user's machine.
    """
    if not 0 <= n <= MAX_BUSY:
        raise ValueError(f"busy processes must be 0 to {MAX_BUSY}, got {n}")
    started: list[Any] = []
    try:
        for _ in range(n):
            started.append(spawn(BUSY_COMMAND))
        yield [p.pid for p in started]
    finally:
        for p in started:
            _end(p)


def _end(p: Any) -> None:
    p.terminate()
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
