"""Memory timeline (memory_timeline stage): the peak of each phase, and how memory moved in it.

Replays the warm-up, timed and profiled phases after the timed test (the timed rounds never run
beside a tracker); the load phase is the session's own, tracked when it built the model. CUDA:
traces/<case>.memory.pickle (torch.cuda.memory._record_memory_history; pytorch.org/memory_viz);
CPU: tables/<case>.rss.csv (host RSS over the phases). Both: tables/<case>.memory.csv.
"""

from __future__ import annotations

from typing import Any

import pytest

from perfsuite.config.schema import Case
from perfsuite.errors import PerfProfileError
from perfsuite.profile.memory_timeline import PhaseRun, record_timeline
from perfsuite.profile.nvtx import phase_ranges
from perfsuite.profile.torch_profiler import ProfilerSettings, profiler_session
from perfsuite.results.case import CaseDraft
from perfsuite.results.deep import MemoryTimelineSummary
from perfsuite.runtimes.parity import require_parity

pytestmark = pytest.mark.perf_stage("memory_timeline")


def test_memory_timeline(
    perf_case: Case, perf_session_state: Any, built_model: Any, runtime: Any, parity: Any, batch: Any, device_sync: Any, perf_record: CaseDraft
) -> None:
    perf_record.kind = "profile"
    require_parity(parity, perf_case.id)
    spec = perf_case.config.profiling.memory
    if not spec.enabled:
        pytest.skip("profiling.memory.enabled is false")
    inputs = batch.inputs[0]
    settings = ProfilerSettings.from_config(perf_case.config)
    phases = [
        PhaseRun("warm-up", spec.warmup_calls),
        PhaseRun("timed", spec.timed_calls),
        PhaseRun("profiled", settings.steps, lambda: profiler_session(settings, perf_case.device)),
    ]
    try:
        with phase_ranges(perf_case.device)("memory"):
            timeline = record_timeline(
                lambda: runtime(inputs), phases, device=perf_case.device, out_dir=perf_session_state.run_dir, name=perf_case.id,
                max_entries=spec.max_entries, period_s=spec.period_s, sync=device_sync, load=built_model.load_memory,
            )
    except PerfProfileError as exc:
        pytest.fail(f"{perf_case.id}: memory timeline failed: {exc}", pytrace=False)
    perf_record.memory_timeline = MemoryTimelineSummary.of(timeline)
    assert timeline.table_path.is_file() and {p.phase for p in timeline.phases} >= {"warm-up", "timed", "profiled"}
