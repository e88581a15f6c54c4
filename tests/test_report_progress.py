"""The progress renderer against a fake terminal: tty status line, one line per case off a tty, -q silence."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import pytest

from perfsuite.measure.engine import Progress
from perfsuite.report.progress import ProgressReporter, StatusLine, current_progress, format_duration


class FakeWriter:
    """A terminal: applies backspaces to one line, like a real one does."""

    def __init__(self, width: int = 100, prefix: str = "benches/test_latency.py ..") -> None:
        self.fullwidth = width
        self.line = prefix  # what pytest wrote (it tracks this width itself)
        self.width_of_current_line = len(prefix)
        self.cursor = len(prefix)
        self.raw: list[str] = []

    def write_raw(self, msg: str, *, flush: bool = False) -> None:
        self.raw.append(msg)
        for ch in msg:
            if ch == "\b":
                self.cursor -= 1
            else:
                self.line = self.line[: self.cursor] + ch + self.line[self.cursor + 1 :]
                self.cursor += 1

    @property
    def screen(self) -> str:
        return self.line.rstrip()


class FakeReporter:
    def __init__(self, *, tty: bool, verbosity: int = 0) -> None:
        self.verbosity = verbosity
        self._tty = tty
        self.lines: list[str] = []

    def isatty(self) -> bool:
        return self._tty

    def write_line(self, line: str) -> None:
        self.lines.append(line)


class FakeCapman:
    def __init__(self) -> None:
        self.suspended = 0

    @contextlib.contextmanager
    def global_and_fixture_disabled(self):
        self.suspended += 1
        yield


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def make(tty: bool = True, verbosity: int = 0):
    writer, reporter, capman, clock = FakeWriter(), FakeReporter(tty=tty, verbosity=verbosity), FakeCapman(), Clock()
    plugins = {"terminalreporter": reporter, "capturemanager": capman}
    config = SimpleNamespace(
        pluginmanager=SimpleNamespace(get_plugin=plugins.get),
        get_terminal_writer=lambda: writer,
    )
    progress = ProgressReporter(config, now=clock, min_interval_s=0.25)  # type: ignore[arg-type]
    progress.pytest_collection_finish(SimpleNamespace(items=[1, 2, 3, 4]))  # type: ignore[arg-type]
    return progress, writer, reporter, capman, clock


def item(*markers: tuple[str, tuple]):
    named = {name: SimpleNamespace(args=args) for name, args in markers}
    return SimpleNamespace(get_closest_marker=named.get)


def run_case(progress, clock, seconds: float, events=()) -> None:
    progress.pytest_runtest_logstart("benches/test_latency.py::test_latency[gpt2.full-pydoc-bs1-cpu]", ("", 0, ""))
    progress.pytest_runtest_logreport(SimpleNamespace(when="setup"))
    gen = progress.pytest_runtest_call(item())
    next(gen)
    for event in events:
        clock.t += 0.5
        current_progress.get()(event)
    with contextlib.suppress(StopIteration):
        gen.send(None)
    clock.t += seconds
    progress.pytest_runtest_logreport(SimpleNamespace(when="call"))
    progress.pytest_runtest_logreport(SimpleNamespace(when="teardown"))


def test_format_duration():
    assert format_duration(4.4) == "4 s"
    assert format_duration(80) == "1 min 20 s"
    assert format_duration(3725) == "1 h 02 min"


def test_status_line_is_written_after_pytests_text_and_erased_without_a_trace():
    writer = FakeWriter()
    status = StatusLine(writer)
    status.show("sampling 3/~11")
    assert writer.screen == "benches/test_latency.py .. sampling 3/~11"
    status.show("sampling 7/~11")
    assert writer.screen == "benches/test_latency.py .. sampling 7/~11"
    status.clear()
    assert writer.screen == "benches/test_latency.py .."
    assert writer.cursor == writer.width_of_current_line  # pytest goes on where it left off


def test_status_line_fits_the_room_left_or_stays_out():
    writer = FakeWriter(width=60)
    status = StatusLine(writer)
    status.show("x" * 100)
    assert len(writer.screen) <= 60 - 16 and writer.screen.endswith("…")
    narrow = FakeWriter(width=40)
    StatusLine(narrow).show("sampling 3/~11")
    assert narrow.raw == [] and narrow.screen == "benches/test_latency.py .."


def test_tty_shows_phases_and_time_left_then_clears_before_pytest_writes():
    progress, writer, reporter, capman, clock = make(tty=True)
    shown = []
    progress.pytest_runtest_logstart("t[a]", ("", 0, ""))
    shown.append(writer.screen)
    progress.pytest_runtest_logreport(SimpleNamespace(when="setup"))
    gen = progress.pytest_runtest_call(item())
    next(gen)
    callback = current_progress.get()
    assert callback is not None
    callback(Progress("warmup", 3, 5, 1.0, 2.5))
    shown.append(writer.screen)
    clock.t += 1
    callback(Progress("sampling", 7, 11, 2.0, 3.5))
    shown.append(writer.screen)
    clock.t += 0.1
    callback(Progress("sampling", 8, 11, 2.3, 3.5))  # within min_interval_s: not redrawn
    assert writer.screen == shown[-1]
    with contextlib.suppress(StopIteration):
        gen.send(None)
    assert current_progress.get() is None
    assert shown[0].endswith("[1/4] load")
    assert shown[1].endswith("[1/4] warm-up 3/~5 · case ~2 s left")
    assert shown[2].endswith("[1/4] sampling 7/~11 · case ~2 s left")
    progress.pytest_runtest_logreport(SimpleNamespace(when="call"))
    assert writer.screen == "benches/test_latency.py .."  # erased before pytest writes the outcome
    progress.pytest_runtest_logreport(SimpleNamespace(when="teardown"))
    assert reporter.lines == [] and capman.suspended > 0  # tty: no per-case lines; writes bypass capture


def test_suite_time_left_uses_the_mean_case_time_so_far():
    progress, writer, reporter, capman, clock = make(tty=True)
    run_case(progress, clock, 10.0)
    run_case(progress, clock, 20.0)
    # two cases of 10 s and 20 s done, one running with 4 s left, one after it at the mean
    assert progress.suite_left_s(4.0) == pytest.approx(4.0 + 1 * 15.0)
    assert progress.suite_left_s(None) == pytest.approx(2 * 15.0)  # between cases
    progress.pytest_runtest_logstart("t[c]", ("", 0, ""))
    assert "[3/4] load" in writer.screen
    gen = progress.pytest_runtest_call(item())
    next(gen)
    current_progress.get()(Progress("sampling", 5, 11, 1.0, 5.0))
    assert writer.screen.endswith("sampling 5/~11 · case ~4 s · suite ~19 s left")


def test_not_a_tty_writes_one_line_per_case():
    progress, writer, reporter, capman, clock = make(tty=False)
    run_case(progress, clock, 12.0, [Progress("warmup", 3, 3, 1.0, 1.0), Progress("sampling", 11, 11, 3.4, 3.4),
                                     Progress("memory", 3, 3, 0.3, 0.5)])
    run_case(progress, clock, 3.0)
    assert writer.raw == []  # no status line off a tty
    assert reporter.lines[0] == "perfsuite [1/4] gpt2.full-pydoc-bs1-cpu: done in 14 s, 11 samples in 3 s; suite ~40 s left"  # 3 x 13.5 s
    assert reporter.lines[1].startswith("perfsuite [2/4] gpt2.full-pydoc-bs1-cpu: done in 3 s; suite ~")
    assert len(reporter.lines) == 2


def test_quiet_writes_nothing():
    for tty in (True, False):
        progress, writer, reporter, capman, clock = make(tty=tty, verbosity=-1)
        run_case(progress, clock, 5.0, [Progress("sampling", 11, 11, 3.4, 3.4)])
        assert writer.raw == [] and reporter.lines == []


def test_profile_and_generation_tests_show_their_phase():
    progress, writer, reporter, capman, clock = make(tty=True)
    progress.pytest_runtest_logstart("t[p]", ("", 0, ""))
    gen = progress.pytest_runtest_call(item(("perf_stage", ("torch_profiler",))))
    next(gen)
    assert writer.screen.endswith("[1/4] profile")
    with contextlib.suppress(StopIteration):
        gen.send(None)
    progress.pytest_runtest_logreport(SimpleNamespace(when="call"))
    gen = progress.pytest_runtest_call(item(("perf_generation", ())))
    next(gen)
    assert writer.screen.endswith("[1/4] generation")
