"""Per-layer time (layer_timing stage): forward hooks on every module, in forwards of its own.

A separate test from the timed ones: the hooks never run inside timed rounds. Select it with
`--perf-override pipeline=deep_profile` (or a pipeline listing layer_timing). Writes
tables/<case>.layers.csv (module, type, depth, calls, time_s, share, params, flops); the top
`profiling.layers.top_n` modules and the hooks' overhead go into the case's result.
"""

from __future__ import annotations

from typing import Any

import pytest

from perfsuite import Perf

pytestmark = pytest.mark.perf_stage("layer_timing")


def test_layers(perf: Perf, model: Any, runtime: Any, batch: Any) -> None:
    perf.layers(model, runtime, batch)
