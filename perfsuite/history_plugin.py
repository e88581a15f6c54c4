"""Append every benchmark session to the history store (perfsuite.results.history) at its end.

Registered by perfsuite.plugin in the process that owns the run folder (never on an xdist
worker). The append runs after results.json has its final status and before the HTML report,
so the report's trend section includes this run. A history database that cannot be written
(locked too long, corrupt, another schema) never changes pytest's outcome and never costs a
result: the run folder is complete already, and the summary says how to repair the database and
add the run afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HISTORY_PLUGIN = "perfsuite-history"
OFF = ("off", "none", "no")


def add_options(group: Any) -> None:
    group.addoption(
        "--perf-history", default=None, metavar="URL",
        help="the history store every run is appended to: an SQLite file path, a SQLAlchemy URL for a shared "
             "database (pip install 'perfsuite[history-server]'), or 'off'. Default: <out dir>/history/history.sqlite.",
    )


def history_target(config: pytest.Config, out_dir: Path) -> str | None:
    """Where this session's history goes; None when the user turned it off."""
    from perfsuite.results.history import default_location

    given = config.getoption("perf_history", None)
    if given is None:
        return str(default_location(out_dir))
    if given.strip().lower() in OFF:
        return None
    return given if "://" in given else str(config.invocation_params.dir / given)


@dataclass
class HistoryPlugin:
    session: Any  # perfsuite.session.PerfSession
    target: str
    wall_s: dict[tuple[str, str], float] = field(default_factory=dict)  # (test, case id) -> setup + call + teardown
    store: Any = None  # perfsuite.results.history.HistoryStore, once opened
    error: str | None = None
    appended: bool = False

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from perfsuite.xdist_plugin import case_of_nodeid, test_name_of

        case = case_of_nodeid(report.nodeid, self.session.plan.cases)
        if case is not None:
            key = (test_name_of(report.nodeid), case.id)
            self.wall_s[key] = self.wall_s.get(key, 0.0) + float(getattr(report, "duration", 0.0) or 0.0)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if session.config.option.collectonly:
            return
        from perfsuite.results.history import HistoryError, HistoryStore, read_env

        perf = self.session
        try:
            self.store = HistoryStore(self.target)
            self.appended = self.store.append(perf.results.snapshot(), read_env(perf.run_dir), wall_s=self.wall_s)
        except HistoryError as exc:
            from perfsuite.config.redact import redact_urls

            self.error = redact_urls(str(exc))

    def trends(self, run: Any) -> list[Any]:
        """This run's cases over the stored history of this machine, for the HTML report."""
        if self.store is None or self.error is not None:
            return []
        from perfsuite.report.trend import TREND_METRICS, trends
        from perfsuite.results.history import read_env

        machine = read_env(self.session.run_dir).get("machine_id")
        keys = {(c.test, c.case.id) for c in run.cases}
        points = [p for metric in TREND_METRICS for p in self.store.points(metric=metric, machine_id=machine) if (p.test, p.case_id) in keys]
        return [t for t in trends(points) if len(t.points) >= 2]

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.error is not None:
            terminalreporter.write_line(f"perfsuite history error: {self.error}", red=True, bold=True)
        elif self.appended:
            from perfsuite.config.redact import redact_urls

            terminalreporter.write_line(f"history: {redact_urls(self.target)}")


def register(config: pytest.Config, session: Any, out_dir: Path) -> HistoryPlugin | None:
    target = history_target(config, out_dir)
    if target is None:
        return None
    plugin = HistoryPlugin(session, target)
    config.pluginmanager.register(plugin, HISTORY_PLUGIN)
    return plugin
