"""Nsight Systems / Nsight Compute (nsight stage): each tool over the case's timed test, in a child run.

For each enabled preset (profiling.nsys, profiling.ncu; ncu on CUDA cases only) the exact command
is recorded in the case's result; it runs when the tool is on PATH (report and log under the run's
nsight/ folder). When no tool can run, the test is skipped with the reason naming the tool and
the command to run by hand (`perfsuite nsys-cmd CASE` prints it too).
"""

from __future__ import annotations

from typing import Any

import pytest

from perfsuite import Perf

pytestmark = pytest.mark.perf_stage("nsight")


def test_nsight(perf: Perf, perf_case: Any) -> None:
    perf.nsight()
