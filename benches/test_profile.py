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

from perfsuite.config.schema import Case
from perfsuite.errors import PerfProfileError
from perfsuite.profile import ProfilerSettings, profile_case
from perfsuite.profile.nvtx import phase_ranges
from perfsuite.results.case import CaseDraft, ProfileSummary
from perfsuite.runtimes.parity import require_parity

pytestmark = pytest.mark.perf_stage("torch_profiler")


def test_profile(
    perf_case: Case, perf_session_state: Any, runtime: Any, parity: Any, batch: Any, device_sync: Any, perf_record: CaseDraft
) -> None:
    perf_record.kind = "profile"
    require_parity(parity, perf_case.id)
    settings = ProfilerSettings.from_config(perf_case.config)
    if not settings.profiling.enabled:
        pytest.skip("profiling.torch.enabled is false")
    inputs = batch.inputs[0]
    try:
        with phase_ranges(perf_case.device)("profiled"):  # an NVTX range on CUDA, for Nsight's timeline
            result = profile_case(
                lambda: runtime(inputs),
                settings,
                device=perf_case.device,
                out_dir=perf_session_state.run_dir,
                name=f"{perf_case.id}",
                sync=device_sync,
            )
    except PerfProfileError as exc:
        pytest.fail(f"{perf_case.id}: profile failed: {exc}", pytrace=False)
    perf_record.profile = ProfileSummary.of(result)
    assert result.table_path.is_file() and result.top_ops
    assert result.trace_path is None or result.trace_path.stat().st_size > 0
