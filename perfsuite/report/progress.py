"""Live progress of a benchmark run: the current case's phase and the time left, on the terminal.

`perfsuite.runner.measure_latency` hands `Progress` events (``perfsuite.measure.engine``) to the
callback in `current_progress`; the pytest plugin registers a `ProgressReporter`, which sets
that callback around each test call and renders what it hears:

- on a tty, one status appended to pytest's current line and rewritten in place, e.g.
  ``[3/12] sampling 7/~11 · case ~4 s · suite ~1 min 20 s left``; it is erased before pytest
  writes anything, so pytest's own output (dots, ``-v`` lines, percentages) is unchanged;
- not on a tty (CI logs), one line per case once it is done;
- with ``-q`` (verbosity < 0), nothing.

The suite's time left is the current case's time left plus the cases still to run times the
mean time of the cases done so far (unknown until one is done).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, Protocol

import pytest

# engine's Progress is imported for types only: this module loads with the plugin and stays cheap
ProgressFn = Callable[[Any], None]

#: The callback `measure_latency` passes to `measure` when its caller gives none (set by the plugin).
current_progress: ContextVar[ProgressFn | None] = ContextVar("perfsuite_progress", default=None)

#: Columns kept free at the end of the line for pytest's own " [ 40%]" / "PASSED".
RESERVED_COLUMNS = 16
#: Shortest status worth showing; with less room the status is left out.
MIN_STATUS_COLUMNS = 12
_PHASE_NAMES = {"warmup": "warm-up", "sampling": "sampling", "memory": "memory", "load": "load"}


class Writer(Protocol):
    """The part of pytest's TerminalWriter the status line uses."""

    @property
    def fullwidth(self) -> int: ...

    @property
    def width_of_current_line(self) -> int: ...

    def write_raw(self, msg: str, *, flush: bool = False) -> None: ...


def format_duration(seconds: float) -> str:
    """``"4 s"``, ``"1 min 20 s"``, ``"1 h 02 min"``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class StatusLine:
    """A status written after the cursor with `write_raw` and erased with backspaces.

    `write_raw` leaves the writer's idea of the current line alone, so after `clear()` the
    terminal is exactly as pytest left it.
    """

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._shown = 0

    def show(self, text: str) -> None:
        room = self._writer.fullwidth - self._writer.width_of_current_line - RESERVED_COLUMNS - 1  # 1: the space
        text = text if len(text) <= room else text[: max(0, room - 1)] + "…"
        if room < MIN_STATUS_COLUMNS:
            text = ""
        out = self._erase_text()
        if text:
            out += " " + text
        self._shown = len(text) + 1 if text else 0
        if out:
            self._writer.write_raw(out, flush=True)

    def clear(self) -> None:
        if self._shown:
            self._writer.write_raw(self._erase_text(), flush=True)
            self._shown = 0

    def _erase_text(self) -> str:
        k = self._shown
        return "\b" * k + " " * k + "\b" * k if k else ""


class ProgressReporter:
    """pytest plugin object: shows each case's phase and the time left (see the module docstring)."""

    def __init__(
        self,
        config: pytest.Config,
        *,
        now: Callable[[], float] = time.monotonic,
        min_interval_s: float = 0.25,
    ) -> None:
        self._config = config
        self._now = now
        self._min_interval = min_interval_s
        self._total = 0
        self._done = 0
        self._done_s = 0.0
        self._case_start: float | None = None
        self._case_name = ""
        self._phase = ""
        self._case_left_s: float | None = None
        self._last_render = float("-inf")
        self._last: Any = None  # last Progress event of the current case
        self._sampled: Any = None  # its last "sampling" event
        self._status: StatusLine | None = None

    # -- where to write ------------------------------------------------------------------------
    def _reporter(self) -> Any:
        return self._config.pluginmanager.get_plugin("terminalreporter")

    def _enabled(self) -> bool:
        reporter = self._reporter()
        return reporter is not None and reporter.verbosity >= 0

    def _live(self) -> bool:
        reporter = self._reporter()
        return self._enabled() and bool(reporter.isatty())

    @contextlib.contextmanager
    def _uncaptured(self) -> Iterator[None]:
        capman = self._config.pluginmanager.get_plugin("capturemanager")
        with capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext():
            yield

    # -- estimates -----------------------------------------------------------------------------
    def suite_left_s(self, case_left_s: float | None) -> float | None:
        """Time left in the suite: the running case's rest (``None``: between cases) plus the
        cases after it at the mean case time so far; ``None`` until a case is done."""
        if not self._done:
            return None
        after = max(0, self._total - self._done - (0 if case_left_s is None else 1))
        return (case_left_s or 0.0) + after * (self._done_s / self._done)

    def status_text(self) -> str:
        phase = _PHASE_NAMES.get(self._phase, self._phase)
        event = self._last
        if event is not None and self._phase in ("warmup", "sampling"):
            phase = f"{phase} {event.n}/~{event.target_n}"
        parts = [f"[{self._done + 1}/{self._total}] {phase}" if self._total else phase]
        case_left = self._case_left_s
        if case_left is not None:
            parts.append(f"case ~{format_duration(case_left)}")
        suite_left = self.suite_left_s(case_left or 0.0)
        if suite_left is not None:
            parts.append(f"suite ~{format_duration(suite_left)} left")
        elif case_left is not None:
            parts[-1] += " left"
        return " · ".join(parts)

    # -- the callback measure() hears ----------------------------------------------------------
    def on_progress(self, event: Any) -> None:
        """`Progress` from the engine or the runner; renders at most every ``min_interval_s``."""
        changed = event.phase != self._phase
        self._phase, self._last = event.phase, event
        if event.phase == "sampling":
            self._sampled = event
        self._case_left_s = event.left_s
        now = self._now()
        if changed or now - self._last_render >= self._min_interval:
            self._last_render = now
            self._render()

    def _render(self) -> None:
        if self._status is None or not self._live():
            return
        with self._uncaptured():
            self._status.show(self.status_text())

    def _clear(self) -> None:
        if self._status is not None:
            with self._uncaptured():
                self._status.clear()

    # -- pytest hooks --------------------------------------------------------------------------
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._total = len(session.items)

    @pytest.hookimpl(trylast=True)  # after the terminal reporter wrote the test's path / name
    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self._case_start = self._now()
        self._case_name = nodeid.rsplit("[", 1)[-1].rstrip("]") if "[" in nodeid else nodeid.rsplit("::", 1)[-1]
        self._phase, self._last, self._sampled, self._case_left_s = "load", None, None, None
        if self._live():
            self._status = StatusLine(self._config.get_terminal_writer())
            self._render()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        stage = item.get_closest_marker("perf_stage")
        if stage is not None and stage.args and stage.args[0] == "torch_profiler":
            self._phase = "profile"
        elif item.get_closest_marker("perf_generation") is not None:
            self._phase = "generation"
        else:
            self._phase = "run"
        self._last, self._case_left_s = None, None
        self._render()
        token = current_progress.set(self.on_progress)
        try:
            return (yield)
        finally:
            current_progress.reset(token)

    @pytest.hookimpl(tryfirst=True)  # erase the status before the terminal reporter writes
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._clear()
        if report.when != "teardown" or self._case_start is None:
            return
        took = self._now() - self._case_start
        self._done += 1
        self._done_s += took
        self._case_start, self._status = None, None
        if self._enabled() and not self._live():
            self._reporter().write_line(self.case_line(took))

    def case_line(self, took_s: float) -> str:
        """The one line per case of a non-tty run."""
        event = self._sampled
        what = f", {event.n} samples in {format_duration(event.elapsed_s)}" if event is not None else ""
        left = self.suite_left_s(None)
        tail = f"; suite ~{format_duration(left)} left" if left is not None and self._done < self._total else ""
        return f"perfsuite [{self._done}/{self._total}] {self._case_name}: done in {format_duration(took_s)}{what}{tail}"
