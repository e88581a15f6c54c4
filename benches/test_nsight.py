"""Nsight Systems / Nsight Compute (nsight stage): each tool over the case's timed test, in a child run.

For each enabled preset (profiling.nsys, profiling.ncu; ncu on CUDA cases only) the exact command
is recorded in the case's result; it runs when the tool is on PATH (report and log under the run's
nsight/ folder). When no tool can run, the test is skipped with the reason naming the tool and
the command to run by hand (`perfsuite nsys-cmd CASE` prints it too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from perfsuite.config.schema import Case
from perfsuite.profile.nsight import TOOLS, NsightRun, child_for, not_applicable, nsight_command, run_nsight
from perfsuite.results.case import CaseDraft
from perfsuite.results.deep import NsightSummary
from perfsuite.results.layout import path_inside

pytestmark = pytest.mark.perf_stage("nsight")


def test_nsight(request: pytest.FixtureRequest, perf_case: Case, perf_session_state: Any, perf_record: CaseDraft) -> None:
    perf_record.kind = "profile"
    plan = perf_session_state.plan
    folder = perf_session_state.run_dir / "nsight"
    timed = Path(request.path).parent / "test_latency.py"
    node = f"{timed}::test_latency[{perf_case.id}]"
    child = child_for(perf_case, node, suite=plan.suite.name, overrides=plan.overrides, conf_dirs=plan.conf_dirs[:-1], out_dir=folder / "out")
    runs = []
    for tool in TOOLS:
        cmd = nsight_command(tool, perf_case, child, folder)
        why_not = not_applicable(tool, perf_case, getattr(perf_case.config.profiling, tool).enabled)
        if why_not is not None:
            runs.append(NsightRun(tool, cmd.shell(), "skipped", why_not))
            continue
        runs.append(run_nsight(cmd, log_path=path_inside(folder, perf_case.id, f".{tool}.log")))
    perf_record.nsight = NsightSummary(tuple(r.to_dict() for r in runs))
    failed = [r for r in runs if r.status == "failed"]
    if failed:
        pytest.fail("; ".join(f"{r.tool}: {r.reason}" for r in failed), pytrace=False)
    if not any(r.status == "ran" for r in runs):
        pytest.skip("; ".join(f"{r.tool}: {r.reason}" for r in runs) + f". Command: {runs[0].command}")
