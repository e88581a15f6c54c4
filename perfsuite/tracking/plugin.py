"""The session's export to experiment trackers, after report.html, when `output.tracking` names any.

Registered by perfsuite.plugin before the HTML report's plugin: both wrap pytest_sessionfinish
with trylast, and of two such wrappers the earlier-registered one is the outer, so this one runs
once results.json, the gate's verdicts.json and report.html are all written, and exports them.
A tracker that fails is one yellow line in the summary (and its entry in tracking.json); the
run's outcome and exit code never change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

TRACKING_PLUGIN = "perfsuite-tracking"


@dataclass
class TrackingPlugin:
    session: Any  # perfsuite.session.PerfSession
    store: Path  # <out>/tracking
    base: Path  # where pytest was started: relative tracker paths start here
    outcomes: list[Any] = field(default_factory=list)  # TrackerOutcome

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> Any:
        try:
            return (yield)
        finally:
            if not session.config.option.collectonly:
                self.export(session.config)

    def export(self, config: pytest.Config) -> None:
        from perfsuite.report.shown import ComparisonView
        from perfsuite.tracking.export import export_all
        from perfsuite.tracking.tracked import build

        perf = self.session
        with perf.guard("exporting the run to experiment trackers"):
            import json

            verdicts = None
            gate = config.pluginmanager.get_plugin("perfsuite-gate")
            if gate is not None and getattr(gate, "comparison", None) is not None:
                verdicts = ComparisonView.of(gate.comparison, gate.label, "the gate of this session")
            try:
                env = json.loads((perf.run_dir / "env.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                env = {}
            plan = perf.plan
            header = {"suite": plan.suite.name, "device": plan.device, "overrides": list(plan.overrides)}
            tracked = build(perf.results.snapshot(), composed=plan.raw_configs, header=header, env=env if isinstance(env, dict) else {},
                            verdicts=verdicts)
            spec = plan.run.tracking
            self.outcomes = export_all(tracked, spec, spec.trackers, store=self.store, base=self.base)

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for outcome in self.outcomes:
            if outcome.ok:
                terminalreporter.write_line(outcome.line())
            else:
                terminalreporter.write_line(
                    f"perfsuite: {outcome.line()}. Push it later with `perfsuite track {self.session.run_dir} --to {outcome.tracker}`.",
                    yellow=True,
                )


def register(config: pytest.Config, session: Any, out_dir: Path) -> TrackingPlugin | None:
    if not session.plan.run.tracking.trackers:
        return None
    from perfsuite.results.layout import OutLayout

    plugin = TrackingPlugin(session, OutLayout(out_dir).tracking, config.invocation_params.dir)
    config.pluginmanager.register(plugin, TRACKING_PLUGIN)
    return plugin
