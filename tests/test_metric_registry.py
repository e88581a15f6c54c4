"""The one metric registry (perfsuite.results.metrics): every consumer reads its declarations."""

from __future__ import annotations

import pytest

from perfsuite.compare.verdict import METRIC_GROUPS, METRICS, GatePolicy
from perfsuite.report import tables, trend
from perfsuite.results import history, metrics
from perfsuite.tracking.tracked import metric_group


def test_each_metric_is_declared_once_with_a_known_direction_and_tracking_group() -> None:
    names = [d.name for d in metrics.DEFS]
    assert len(names) == len(set(names))
    for d in metrics.DEFS:
        assert d.better in (None, "lower", "higher"), d.name
        assert d.tracking in metrics.TRACKING_GROUPS, d.name
        assert set(d.kinds) <= {"latency", "generation", "profile", "static"}, d.name
        if d.gate is not None:
            assert d.better is not None and set(d.gate.kinds) <= set(d.kinds), d.name
        assert d.column is None or d.fmt in ("duration", "size", "si"), d.name


def test_the_gate_reads_its_metrics_groups_and_default_thresholds_from_the_registry() -> None:
    gated = {kind: [m.name for m in ms] for kind, ms in METRICS.items()}
    assert gated["latency"][:5] == ["latency", "throughput", "host_rss_own", "cuda_max_allocated", "weights_bytes"]
    assert gated["generation"] == ["ttft", "e2e"] and gated["static"] == ["params", "flops_per_call"]
    assert set(METRIC_GROUPS) == set(metrics.GROUP_THRESHOLDS) and METRIC_GROUPS[:4] == ("latency", "throughput", "memory", "exact")
    assert dict(GatePolicy().thresholds) == dict(metrics.GROUP_THRESHOLDS)
    for kind, ms in METRICS.items():
        for m in ms:
            d = next(d for d in metrics.GATED if d.gate is not None and d.gate.name == m.name)
            assert m.lower_is_better == (d.better == "lower") and m.group == d.gate.group and kind in d.gate.kinds


def test_tables_history_trends_and_trackers_read_the_registry() -> None:
    assert [s.name for s in tables.SPECS] == [d.name for d in metrics.DEFS]
    assert set(history.METRICS) == {d.name for d in metrics.DEFS if d.history}
    assert set(trend.TREND_METRICS) == {d.name for d in metrics.DEFS if d.trend} >= {"latency_p50_s", "samples_per_s", "ttft_p50_s", "tpot_p50_s"}
    for d in metrics.DEFS:
        assert metric_group(d.name) == d.tracking
    assert metric_group("own.accuracy") == "compute"


@pytest.mark.parametrize(("name", "group"), [("samples_per_s", "throughput"), ("ttft_p90_s", "generation"), ("latency_cv", "latency"),
                                             ("host_rss_peak_bytes", "memory"), ("params", "compute"), ("load_s", "compute")])
def test_tracking_groups_stay_what_trackers_had(name: str, group: str) -> None:
    assert metrics.tracking_group(name) == group
