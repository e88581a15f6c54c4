"""The max-rate sweep on fake probes: expand, bisect, re-measure the inconclusive, and the knee."""

from __future__ import annotations

import json
import math

import pytest

from perfsuite.errors import PerfConfigError, PerfUsageError
from perfsuite.measure.fakes import FakeTimer
from perfsuite.scenarios import (
    ArrivalSpec,
    Batch,
    ProbeResult,
    Slo,
    SweepPoint,
    find_knee,
    find_max_rate,
    judge_attainment,
    load_metrics,
    run_load,
)


class CapacityProbe:
    """Rates up to ``capacity`` meet the SLO for all ``n`` requests, above it half of them; logs every call."""

    def __init__(self, capacity: float, n: int = 2000, oversaturated_above: float = math.inf) -> None:
        self.capacity, self.n, self.oversaturated_above = capacity, n, oversaturated_above
        self.calls: list[tuple[float, int]] = []

    def __call__(self, rate: float, attempt: int) -> ProbeResult:
        self.calls.append((rate, attempt))
        met = self.n if rate <= self.capacity else self.n // 2
        p99 = 0.010 if rate < 0.6 * self.capacity else 0.010 * (1 + 20 * (rate / self.capacity - 0.6))
        return ProbeResult(rate, met, self.n, oversaturated=rate > self.oversaturated_above, latency_p99_s=p99,
                           latency_p50_s=p99 / 2)


def test_expands_then_bisects_to_a_bracket_holding_the_capacity():
    probe = CapacityProbe(137.0)
    s = find_max_rate(probe, start_rate_per_s=10.0, rel_tol=0.05)
    assert s.status == "converged"
    lo, hi = s.interval
    assert lo <= 137.0 < hi and hi / lo - 1 <= 0.05
    assert s.max_rate_per_s == lo
    expand = [p.rate_per_s for p in s.points if p.phase == "expand"]
    assert expand == [10.0, 20.0, 40.0, 80.0, 160.0]
    assert all(p.verdict == ("pass" if p.rate_per_s <= 137 else "fail") for p in s.points)
    assert all(attempt == 0 for _, attempt in probe.calls)  # every verdict was conclusive at once


def test_starting_above_capacity_searches_downwards():
    s = find_max_rate(CapacityProbe(137.0), start_rate_per_s=1000.0)
    assert [p.rate_per_s for p in s.points if p.phase == "expand"] == [1000.0, 500.0, 250.0, 125.0]
    assert s.status == "converged" and s.interval[0] <= 137.0 < s.interval[1]


def test_inconclusive_probes_are_re_measured_and_pooled():
    # 100 of 100 met: the Wilson lower bound (0.963) cannot show 0.99; 400 pooled can (0.9905)
    probe = CapacityProbe(137.0, n=100)
    s = find_max_rate(probe, start_rate_per_s=100.0, max_attempts=4, rel_tol=0.5)
    first = s.points[0]
    assert first.rate_per_s == 100.0 and len(first.attempts) == 4 and first.verdict == "pass"
    assert first.attainment.total == 400
    assert [a for r, a in probe.calls if r == 100.0] == [0, 1, 2, 3]
    assert s.points[1].rate_per_s == 200.0 and len(s.points[1].attempts) == 1  # 50%: a clear fail


def test_a_rate_that_stays_inconclusive_is_reported_not_guessed():
    s = find_max_rate(CapacityProbe(137.0, n=100), start_rate_per_s=100.0, max_attempts=3)
    assert s.status == "inconclusive"
    assert s.max_rate_per_s is None and s.interval == (None, None)
    assert len(s.points) == 1 and s.points[0].verdict == "inconclusive" and len(s.points[0].attempts) == 3
    assert "inconclusive after 3 attempt(s)" in s.reason


def test_over_saturation_fails_a_probe_whatever_its_attainment():
    probe = CapacityProbe(137.0, n=100, oversaturated_above=90.0)
    s = find_max_rate(probe, start_rate_per_s=100.0, max_attempts=4, rel_tol=0.5)
    assert s.points[0].verdict == "fail" and len(s.points[0].attempts) == 1
    assert s.interval[1] == 100.0


def test_no_failing_rate_no_passing_rate_and_budget():
    s = find_max_rate(CapacityProbe(math.inf), start_rate_per_s=10.0, max_rate_per_s=100.0)
    assert s.status == "no_failing_rate" and s.max_rate_per_s == 100.0 and s.interval == (100.0, None)
    s = find_max_rate(CapacityProbe(0.5), start_rate_per_s=10.0, min_rate_per_s=1.0)
    assert s.status == "no_passing_rate" and s.max_rate_per_s is None
    assert s.points[-1].rate_per_s == 1.0
    s = find_max_rate(CapacityProbe(137.0), start_rate_per_s=10.0, max_probes=3)
    assert s.status == "budget" and len(s.points) == 3 and s.max_rate_per_s == 40.0


def test_the_same_probe_gives_the_same_sweep():
    a = find_max_rate(CapacityProbe(137.0), start_rate_per_s=10.0)
    b = find_max_rate(CapacityProbe(137.0), start_rate_per_s=10.0)
    assert a == b


def _noisy_probe(seed: int, n: int = 3000):
    """Attainment 1.0 up to 95 req/s, falling linearly to 0.9 at 105: the SLO boundary (0.99) is at 96."""
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(seed)

    def probe(rate: float, attempt: int) -> ProbeResult:
        p = min(1.0, max(0.9, 1.0 - 0.01 * (rate - 95.0)))
        return ProbeResult(rate, int(rng.binomial(n, p)), n)

    return probe


def test_two_noisy_sweeps_agree_within_their_intervals():
    results = [find_max_rate(_noisy_probe(seed), start_rate_per_s=10.0, rel_tol=0.02) for seed in (1, 2)]
    for s in results:
        assert s.status in ("converged", "inconclusive"), s.reason
        assert s.max_rate_per_s is not None
    (lo1, hi1), (lo2, hi2) = (s.interval for s in results)
    assert lo1 <= hi2 and lo2 <= hi1  # the brackets overlap
    assert all(85 <= s.max_rate_per_s <= 97 for s in results)


def _point(rate: float, p99: float | None) -> SweepPoint:
    probe = ProbeResult(rate, 10, 10, latency_p99_s=p99, latency_p50_s=p99)
    return SweepPoint(rate, "expand", (probe,), judge_attainment(10, 10, 0.99), "inconclusive")


def test_knee_is_the_first_rate_at_twice_the_low_load_latency():
    points = [_point(10, 0.010), _point(20, 0.011), _point(40, 0.015), _point(80, 0.025), _point(60, None)]
    knee = find_knee(points)
    assert knee.rate_per_s == 80 and knee.baseline_latency_s == 0.010 and knee.latency_s == 0.025
    assert find_knee(points, factor=1.4).rate_per_s == 40
    assert find_knee(points, baseline_s=0.007).rate_per_s == 40
    flat = find_knee([_point(10, 0.01), _point(20, 0.012)])
    assert flat.rate_per_s is None and "stayed below" in flat.reason
    assert "no probe established" in find_knee([_point(10, None)]).reason
    s = find_max_rate(CapacityProbe(137.0), start_rate_per_s=10.0)
    assert s.knee.rate_per_s is not None and 60 <= s.knee.rate_per_s <= 137


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start_rate_per_s": 0.0}, r"sweep\.start_rate_per_s"),
        ({"start_rate_per_s": 1.0, "growth": 1.0}, r"sweep\.growth"),
        ({"start_rate_per_s": 1.0, "target": 1.0}, r"sweep\.target.*Hint: the share"),
        ({"start_rate_per_s": 1.0, "rel_tol": 0.0}, r"sweep\.rel_tol"),
        ({"start_rate_per_s": 1.0, "max_attempts": 0}, r"sweep\.max_attempts"),
    ],
)
def test_bad_sweep_settings_say_what_to_fix(kwargs, match):
    with pytest.raises(PerfConfigError, match=match):
        find_max_rate(CapacityProbe(1.0), **kwargs)


def test_a_real_load_run_as_the_probe_on_a_fake_clock():
    """End to end on the inline sender: 10 ms per request, SLO p99 <= 50 ms; capacity is 100/s."""
    slo = Slo.percentile(0.99, latency_ms=50)

    def probe(rate: float, attempt: int) -> ProbeResult:
        t = FakeTimer()

        def serve(batch: Batch) -> None:
            t.advance(0.010)

        arrivals = ArrivalSpec("poisson", rate, seed=attempt).times(n=800)
        result = run_load(serve, [0], arrivals, sender="inline", clock=t, sleep=t.advance, max_drain_s=1.0)
        return ProbeResult.from_metrics(rate, load_metrics(result, slo=slo))

    s = find_max_rate(probe, start_rate_per_s=10.0, rel_tol=0.1)
    assert s.max_rate_per_s is not None and 20 <= s.max_rate_per_s < 100
    assert 0.010 <= s.points[0].attempts[0].latency_p99_s < 0.050
    doc = json.loads(json.dumps(s.to_dict()))
    assert doc["status"] == s.status and doc["points"][0]["attempts"][0]["rate_per_s"] == 10.0


def test_probe_from_metrics_needs_an_slo():
    t = FakeTimer()
    result = run_load(lambda b: t.advance(0.001), [0], (0.0,), sender="inline", clock=t, sleep=t.advance)
    with pytest.raises(PerfUsageError, match=r"load_metrics\(result, slo=\.\.\.\)"):
        ProbeResult.from_metrics(1.0, load_metrics(result))
