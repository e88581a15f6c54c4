"""Metrics of a load run: latency split, rates, SLO attainment and goodput, batches, over-saturation."""

from __future__ import annotations

import json
import math

import pytest

from perfsuite.errors import PerfConfigError, PerfUsageError
from perfsuite.measure.fakes import FakeTimer
from perfsuite.scenarios import (
    ArrivalSpec,
    Batch,
    LoadResult,
    LoadSettings,
    RequestRecord,
    Slo,
    detect_oversaturation,
    load_metrics,
    run_load,
)
from perfsuite.scenarios.saturation import mann_kendall_z


def simulate(rate_per_s, service_s=0.010, n=1000, seed=1, max_batch=1, max_wait_s=0.0, max_drain_s=10.0):
    t = FakeTimer()

    def serve(batch: Batch) -> None:
        t.advance(service_s)

    arrivals = ArrivalSpec("poisson", rate_per_s, seed=seed).times(n=n)
    return run_load(serve, [0], arrivals, max_batch=max_batch, max_wait_s=max_wait_s, max_drain_s=max_drain_s,
                    sender="inline", clock=t, sleep=t.advance)


def test_half_load_is_stable_and_120_percent_is_flagged_over_saturated():
    """The acceptance pair on a deterministic clock: 100/s capacity, offered 50/s and 120/s."""
    low = load_metrics(simulate(50.0))
    high = load_metrics(simulate(120.0))
    assert low.oversaturation.flag is False
    assert high.oversaturation.flag is True
    assert "exceeds capacity" in high.oversaturation.reason
    # bounded vs growing queueing delay
    assert low.queueing["p99"].value_s < 0.1
    assert high.oversaturation.block_backlog[-1] > 5 * high.oversaturation.block_backlog[1]
    high_result = simulate(120.0)

    def mean_queueing(reqs):
        return sum(r.queueing_s for r in reqs) / len(reqs)

    assert mean_queueing(high_result.requests[-100:]) > 10 * mean_queueing(high_result.requests[:100])
    # offered vs achieved
    assert low.achieved_rate_per_s == pytest.approx(low.offered_rate_per_s, rel=0.05)
    assert high.offered_rate_per_s == pytest.approx(120.0, rel=0.1)
    assert high.achieved_rate_per_s == pytest.approx(100.0, rel=0.02)


@pytest.mark.parametrize("rate", [30.0, 60.0, 80.0])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stable_loads_are_not_flagged(rate, seed):
    assert detect_oversaturation(simulate(rate, seed=seed)).flag is False


@pytest.mark.parametrize("rate", [115.0, 150.0, 300.0])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_overloads_are_flagged(rate, seed):
    assert detect_oversaturation(simulate(rate, seed=seed)).flag is True


def test_too_few_requests_get_no_oversaturation_verdict():
    o = detect_oversaturation(simulate(50.0, n=49))
    assert o.flag is None and "needs >= 50 requests" in o.reason


def test_mann_kendall_sign():
    assert mann_kendall_z(list(range(10))) > 2.9
    assert mann_kendall_z(list(range(10, 0, -1))) < -2.9
    assert mann_kendall_z([1.0] * 10) == 0.0
    with pytest.raises(ValueError, match="at least 3"):
        mann_kendall_z([1.0, 2.0])


def test_latency_split_into_queueing_and_service():
    m = load_metrics(simulate(120.0))
    for name in ("p50", "p90", "p99"):
        assert m.service[name].value_s == pytest.approx(0.010)
        assert m.latency[name].value_s >= m.queueing[name].value_s
    assert m.latency.mean_s == pytest.approx(m.queueing.mean_s + m.service.mean_s)
    assert m.send_error is None  # inline sender: nothing measured, nothing claimed


def test_percentiles_follow_the_establish_rule():
    m = load_metrics(simulate(20.0, n=100))
    assert m.latency["p90"].established and m.latency["p90"].bound_s >= m.latency["p90"].value_s
    assert not m.latency["p99"].established
    assert m.latency["p99"].not_established == "needs >= 662 requests at 99% confidence, have 100"


def test_slo_attainment_goodput_and_unserved_requests_as_misses():
    result = simulate(200.0, n=800, max_drain_s=0.2)  # 2x overload, drain cut
    m = load_metrics(result, slo=Slo(latency_ms=50))
    assert m.unserved > 8 and m.sent == m.completed + m.unserved == 800
    met = sum(1 for r in result.requests if r.latency_s is not None and r.latency_s <= 0.050)
    assert m.attainment.met == met and m.attainment.total == 800
    assert m.attainment.verdict == "fail"
    assert m.goodput_per_s == pytest.approx(met / m.window_s)
    assert m.latency.unbounded == m.unserved
    assert m.latency["p99"].bound_s == math.inf

    ok = load_metrics(simulate(20.0, n=1000), slo=Slo.percentile(0.99, latency_ms=50))
    assert ok.attainment.verdict == "pass" and ok.goodput_per_s == pytest.approx(ok.achieved_rate_per_s)


def test_batch_size_histogram():
    m = load_metrics(simulate(300.0, n=300, max_batch=4, max_wait_s=0.002))
    sizes = dict(m.batch_sizes)
    assert set(sizes) <= {1, 2, 3, 4} and sizes[4] > 0
    assert sum(s * c for s, c in m.batch_sizes) == 300
    assert m.mean_batch_size == pytest.approx(300 / sum(c for _, c in m.batch_sizes))  # requests over batches formed


def _decoder_result(ttft_s, tpot_s, tokens=5, n=100):
    t = FakeTimer()

    def decode(batch: Batch) -> None:
        t.advance(ttft_s)
        batch.token()
        for _ in range(tokens - 1):
            t.advance(tpot_s)
            batch.token()

    return run_load(decode, [0], tuple(i * 0.1 for i in range(n)), sender="inline", clock=t, sleep=t.advance)


def test_ttft_and_tpot_slos_for_decoders():
    result = _decoder_result(0.030, 0.010)
    m = load_metrics(result, slo=Slo(ttft_ms=40, tpot_ms=15))
    assert m.ttft["p50"].value_s == pytest.approx(0.030)
    assert m.tpot["p50"].value_s == pytest.approx(0.010)
    assert m.attainment.met == 100
    assert load_metrics(result, slo=Slo(ttft_ms=20)).attainment.met == 0
    assert load_metrics(result, slo=Slo(tpot_ms=5)).attainment.met == 0
    assert load_metrics(result, slo=Slo(latency_ms=80, ttft_ms=40)).attainment.met == 100  # 30 + 4 x 10 ms


def test_token_slo_without_token_stamps_is_a_usage_error():
    with pytest.raises(PerfUsageError, match=r"batch\.token"):
        load_metrics(simulate(10.0, n=20), slo=Slo(ttft_ms=10))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, r"at least one threshold.*Hint: e\.g\. Slo\(latency_ms=50\)"),
        ({"latency_ms": 0}, r"slo\.latency_ms"),
        ({"tpot_ms": -1}, r"slo\.tpot_ms"),
        ({"latency_ms": 5, "attainment": 1.0}, r"slo\.attainment.*Hint: 0\.99 for a p99"),
    ],
)
def test_bad_slos_say_what_to_fix(kwargs, match):
    with pytest.raises(PerfConfigError, match=match):
        Slo(**kwargs)


def _record(i, sent, ready, start, end):
    return RequestRecord(i, ready, ready, sent, "completed", batch_id=i, batched_s=start, start_s=start, end_s=end)


def test_send_error_summarizes_actual_minus_requested_send_times():
    settings = LoadSettings(1, 0.0, None, 1.0, None, None, "thread", 2e-4, "fake")
    reqs = tuple(_record(i, i + 1e-5 * (i % 7), float(i), i + 0.1, i + 0.2) for i in range(100))
    m = load_metrics(LoadResult(reqs, (), settings, 99.0, 99.2, False))
    assert m.send_error["p50"].value_s == pytest.approx(3e-5)
    assert m.send_error.max_s == pytest.approx(6e-5)
    assert m.offered_rate_per_s == pytest.approx(100 / 99)


def test_metrics_are_json_serializable():
    doc = json.loads(json.dumps(load_metrics(simulate(200.0, n=300, max_drain_s=0.1), slo=Slo(latency_ms=20)).to_dict()))
    assert doc["attainment"]["verdict"] == "fail"
    assert doc["latency"]["p99"]["not_established"].startswith("needs >= 662")
    assert doc["oversaturation"]["flag"] is True
    assert set(doc) >= {"offered_rate_per_s", "achieved_rate_per_s", "goodput_per_s", "batch_sizes", "send_error"}
