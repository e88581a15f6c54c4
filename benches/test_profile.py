"""The profiled pass (torch_profiler stage): torch.profiler around a few calls of each case.

A separate test from the timed ones, so the profiler never runs inside timed rounds. Select it
with `--perf-override pipeline=full` (or a pipeline listing torch_profiler). Writes
traces/<case>.json.gz (chrome://tracing, Perfetto) and tables/<case>.ops.csv in the run folder.
A profiler that fails on a case (or a trace the disk has no room for) fails this test only, with
the reason; the case's timed results stand. The result carries the headline op (profiler step
wrappers excluded) and the profiler's overhead (profiled vs unprofiled median per call).
"""

from __future__ import annotations

from typing import Any

import pytest

from perfsuite import Perf

pytestmark = pytest.mark.perf_stage("torch_profiler")


def test_profile(perf: Perf, runtime: Any, batch: Any) -> None:
    perf.profile(runtime, batch)
