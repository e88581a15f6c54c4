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
        assert set(d.kinds) <= {"latency", "generation", "profile", "static", "scenario"}, d.name
        if d.gate is not None:
            assert d.better is not None and set(d.gate.kinds) <= set(d.kinds), d.name
        assert d.column is None or d.fmt in ("duration", "size", "si"), d.name


def test_the_gate_reads_its_metrics_groups_and_default_thresholds_from_the_registry() -> None:
    gated = {kind: [m.name for m in ms] for kind, ms in METRICS.items()}
    builtin = ["latency", "throughput", "host_rss_own", "cuda_max_allocated", "weights_bytes"]
    assert gated["latency"][:2] == builtin[:2] and [n for n in gated["latency"] if n in builtin] == builtin  # timings first
    assert gated["generation"] == ["ttft", "e2e", "kv_cache_bytes"] and gated["static"] == ["params", "flops_per_call"]
    assert METRIC_GROUPS == tuple(metrics.GROUP_THRESHOLDS) and {"latency", "throughput", "memory", "exact", "own"} <= set(METRIC_GROUPS)
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


def _timed(setup_s: float | None = None, own: int | None = None, batch: int = 1):
    from perfsuite.measure.memory import HostMemory
    from perfsuite.results.case import CaseInfo, CaseResult, MemoryResult
    from perfsuite.results.runtime_setup import RuntimeSetup

    info = CaseInfo(id=f"m-bs{batch}-cpu", model="m", model_family="m", modality="text", dataset="d", runtime="compile",
                    batch_size=batch, device="cpu", precision="fp32", seed=0)
    host = None if own is None else HostMemory(rss_start_bytes=0, rss_peak_bytes=own, rss_end_bytes=0, samples=5,
                                                private_peak_bytes=own, private_before_model_bytes=0, mapped_weights_bytes=0, own_method="x")
    return CaseResult(test="test_latency", kind="latency", case=info, outcome="passed", finished="2026-12-04T00:00:00",
                      runtime_setup=None if setup_s is None else RuntimeSetup(backend="compile", cache="cold", cold_s=setup_s),
                      memory=MemoryResult(host=host))


def _verdict(base, head, metric: str, policy=None):
    from perfsuite.compare.verdict import compare_runs
    from perfsuite.results.run import RunResult

    def run(r):
        return RunResult(run_dir=__import__("pathlib").Path("r"), status="finished", suite=None, device="cpu", started=None, cases=(r,))

    return next(v for v in compare_runs(run(base), run(head), policy or GatePolicy()).verdicts if v.metric == metric)


def test_runtime_setup_time_is_a_gated_metric_with_its_own_threshold() -> None:
    assert metrics.value_of("runtime_setup_s", _timed(12.5)) == 12.5
    assert "runtime_setup_s" in [s.name for s in tables.SPECS] and "runtime_setup_s" in history.METRICS
    assert _verdict(_timed(10.0), _timed(16.0), "runtime_setup").verdict == "regressed"  # +60% > 50%
    assert _verdict(_timed(10.0), _timed(13.0), "runtime_setup").verdict == "ok"  # compile-time noise passes
    strict = GatePolicy(thresholds={**GatePolicy().thresholds, "setup": 0.2})
    assert _verdict(_timed(10.0), _timed(13.0), "runtime_setup", strict).verdict == "regressed"


def test_peak_memory_per_sample_is_a_gated_metric_with_its_own_threshold_and_floor() -> None:
    mib = 2**20
    assert metrics.value_of("host_rss_own_per_sample_bytes", _timed(own=400 * mib, batch=4)) == 100 * mib
    assert "host_rss_own_per_sample_bytes" in history.METRICS and metrics.tracking_group("host_rss_own_per_sample_bytes") == "memory"
    grew = _verdict(_timed(own=400 * mib, batch=4), _timed(own=480 * mib, batch=4), "memory_per_sample")
    assert grew.verdict == "regressed" and grew.threshold == 0.10  # +20 MiB per sample: over 10% and over 16 MiB / 4
    small = _verdict(_timed(own=40 * mib, batch=8), _timed(own=47 * mib, batch=8), "memory_per_sample")
    assert small.verdict == "ok" and "memory floor" in small.note  # +17.5%, but 0.9 MiB per sample < 16 MiB / 8
    loose = GatePolicy(thresholds={**GatePolicy().thresholds, "memory_per_sample": 0.5})
    assert _verdict(_timed(own=400 * mib, batch=4), _timed(own=480 * mib, batch=4), "memory_per_sample", loose).verdict == "ok"
