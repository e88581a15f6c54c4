"""report.html at the end of every benchmark session, and a copy at `--perf-html PATH`.

Registered by perfsuite.plugin for every active session. The report is written after every other
session-end step (results.json's final status, the batch sweeps, the gate's verdicts), from the
results held in memory, and before pytest prints its summary, which then names the file. Its own
failures never change pytest's outcome or exit code: a bug is one line in the session's
`problems` (with the traceback in perfsuite-error.log), a file that cannot be written is a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HTML_PLUGIN = "perfsuite-html"


def add_options(group: Any) -> None:
    group.addoption("--perf-html", default=None, metavar="PATH",
                    help="also write the HTML report to PATH (a file, or a folder to put report.html in); "
                         "the run folder always gets its report.html. Default: the run folder only.")


@dataclass
class HtmlReportPlugin:
    session: Any  # perfsuite.session.PerfSession
    extra: Path | None = None  # --perf-html PATH, relative to where pytest was started
    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> Any:
        # The innermost wrapper: its second half runs once every plain sessionfinish hook (results.json,
        # the gate's comparison) is done, and before the terminal reporter prints the summary.
        try:
            return (yield)
        finally:
            if not session.config.option.collectonly:  # --collect-only keeps no run folder
                self.write(session.config)

    def write(self, config: pytest.Config) -> None:
        from perfsuite.report.html import write_report
        from perfsuite.report.shown import ComparisonView

        perf = self.session
        with perf.guard("writing report.html"):
            comparison = baseline = diffs = None
            gate = config.pluginmanager.get_plugin("perfsuite-gate")
            if gate is not None and getattr(gate, "comparison", None) is not None:
                diffs = gate.diffs
                decision = gate.decision.message if gate.decision is not None else ""
                comparison = ComparisonView.of(gate.comparison, gate.label, "the gate of this session", decision)
                baseline = gate.baseline.run
            run = perf.results.snapshot()
            trends: list[Any] = []
            history = config.pluginmanager.get_plugin("perfsuite-history")
            if history is not None:
                from perfsuite.results.history import HistoryError

                try:
                    trends = history.trends(run)
                except HistoryError as exc:
                    self.notes.append(f"the report has no trend section: {exc}")
            for target in (None, self.extra) if self.extra is not None else (None,):
                try:
                    path, _ = write_report(perf.run_dir, target, run=run, comparison=comparison, baseline=baseline, trends=trends, diffs=diffs)
                except OSError as exc:
                    self.notes.append(f"could not write the HTML report to {target or perf.run_dir}: {exc.strerror or exc}")
                else:
                    self.written.append(path)

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for note in self.notes:
            terminalreporter.write_line(f"perfsuite: {note}", yellow=True)
        for path in self.written:
            terminalreporter.write_line(f"html report: {path}")


def register(config: pytest.Config, session: Any) -> HtmlReportPlugin:
    chosen = config.option.perf_html
    plugin = HtmlReportPlugin(session, config.invocation_params.dir / chosen if chosen else None)
    config.pluginmanager.register(plugin, HTML_PLUGIN)
    return plugin
