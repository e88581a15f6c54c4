"""Static analysis stage: parameters, weight bytes, FLOPs and bytes moved per call of each case, and
the device's roofs (datasheet peaks on a known GPU, measured ones on the CPU); nothing timed."""

from __future__ import annotations

from typing import Any

import pytest

from perfsuite import Perf

pytestmark = pytest.mark.perf_stage("static_analysis")


def test_static(perf: Perf, model: Any, batch: Any) -> None:
    perf.static(model, batch)
