"""Memory timeline (memory_timeline stage): the peak of each phase, and how memory moved in it.

Replays the warm-up, timed and profiled phases after the timed test (the timed rounds never run
beside a tracker); the load phase is the session's own, tracked when it built the model. CUDA:
traces/<case>.memory.pickle (torch.cuda.memory._record_memory_history; pytorch.org/memory_viz);
CPU: tables/<case>.rss.csv (host RSS over the phases). Both: tables/<case>.memory.csv.
"""

from __future__ import annotations

from typing import Any

import pytest

from perfsuite import Perf

pytestmark = pytest.mark.perf_stage("memory_timeline")


def test_memory_timeline(perf: Perf, runtime: Any, batch: Any) -> None:
    perf.memory_timeline(runtime, batch)
