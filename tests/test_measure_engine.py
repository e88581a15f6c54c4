"""measure() / warm_up() with a fake clock: warm-up settling, adaptive stopping, noise flags, the record."""

from __future__ import annotations

import json
import random

import pytest

from perfsuite.measure import CpuClock, Measurement, StopPolicy, WarmupPolicy, measure, warm_up
from perfsuite.measure.fakes import FakeTimer, ScriptedWork
from perfsuite.measure.record import SCHEMA_VERSION

FAST_WARMUP = WarmupPolicy(min_calls=1, window=1, rel_tol=0.5, max_calls=10)


def fake(durations, *, cycle=True):
    timer = FakeTimer()
    return CpuClock(timer=timer), ScriptedWork(timer.advance, durations, cycle=cycle)


def test_cpu_clock_times_each_call_from_the_injected_timer():
    clock, work = fake([0.001, 0.002, 0.003])
    reading = clock.collect(work, 3)
    assert reading.samples_s == pytest.approx([0.001, 0.002, 0.003])
    assert reading.host_s is None
    assert clock.now_s() == pytest.approx(0.006)


def test_warmup_runs_until_rolling_median_settles_and_records_cold_call():
    clock, work = fake([1.0, 0.5, 0.3, 0.2, 0.12, 0.1], cycle=False)
    wu = warm_up(work, clock, WarmupPolicy(min_calls=3, window=3, rel_tol=0.05, max_calls=100))
    # medians of windows of 3: (.2,.12,.1)=.12 vs (.1,.1,.1) would still differ by 17%; (.12,.1,.1)=.1 vs .1 settles
    assert wu.settled
    assert wu.first_call_s == pytest.approx(1.0)
    assert wu.calls == 10 == work.calls
    assert wu.samples_s[:3] == pytest.approx((0.5, 0.3, 0.2))


def test_warmup_respects_min_calls_even_when_stable_early():
    clock, work = fake([0.01])
    wu = warm_up(work, clock, WarmupPolicy(min_calls=25, window=2, rel_tol=0.05, max_calls=100))
    assert wu.settled and wu.calls == 25


def test_warmup_stops_at_max_calls_without_settling():
    clock, work = fake([0.01, 0.05])  # each sample differs from the previous one by 5x
    wu = warm_up(work, clock, WarmupPolicy(min_calls=2, window=1, rel_tol=0.01, max_calls=9))
    assert not wu.settled and wu.calls == 9


def test_warmup_stops_at_max_time_without_settling():
    clock, work = fake([0.1, 0.5])
    wu = warm_up(work, clock, WarmupPolicy(min_calls=2, window=1, rel_tol=0.01, max_calls=10_000, max_time_s=2.0))
    assert not wu.settled
    assert 2.0 <= wu.time_s < 2.6


def test_measure_converges_once_min_time_and_min_rounds_are_met():
    clock, work = fake([0.01])
    m = measure(work, clock=clock, warmup=FAST_WARMUP, stop=StopPolicy(min_time_s=0.5, min_rounds=20, max_time_s=5))
    assert m.stop_reason == "converged" and not m.noisy
    assert 50 <= m.rounds <= 51  # 0.5 s of 10 ms calls
    assert m.total_time_s >= 0.5
    assert m.median_s == pytest.approx(0.01)
    assert m.samples_s == pytest.approx((0.01,) * m.rounds)


def test_measure_waits_for_min_rounds_when_min_time_is_short():
    clock, work = fake([0.5])
    m = measure(work, clock=clock, warmup=FAST_WARMUP, stop=StopPolicy(min_time_s=0.01, min_rounds=30, max_time_s=100))
    assert m.stop_reason == "converged" and m.rounds == 30


def test_measure_keeps_sampling_until_ci_target_is_met():
    rng = random.Random(7)
    durations = [0.01 * (1 + rng.gauss(0, 0.05)) for _ in range(5000)]
    clock, work = fake(durations)
    stop = StopPolicy(min_time_s=0.05, min_rounds=10, target_rel_ci=0.005, max_time_s=100)
    m = measure(work, clock=clock, warmup=FAST_WARMUP, stop=stop)
    assert m.stop_reason == "converged"
    assert m.stats.rel_ci_half_width <= 0.005
    loose = measure(ScriptedWork(clock._timer.advance, durations), clock=clock, warmup=FAST_WARMUP,
                    stop=StopPolicy(min_time_s=0.05, min_rounds=10, target_rel_ci=0.05, max_time_s=100))
    assert loose.rounds < m.rounds  # a tighter target needs more samples


def test_measure_hits_max_time_and_flags_noise_with_reason():
    clock, work = fake([0.01, 0.02])  # median CI spans both values: half-width ~33% forever
    stop = StopPolicy(min_time_s=0.1, min_rounds=10, target_rel_ci=0.01, max_time_s=2.0)
    m = measure(work, clock=clock, warmup=FAST_WARMUP, stop=stop)
    assert m.stop_reason == "max_time" and m.noisy
    flag = next(f for f in m.noise if f.code == "max_time")
    assert "max_time_s=2.0" in flag.reason and "median CI half-width" in flag.reason
    assert 2.0 <= m.total_time_s <= 2.05
    assert {f.code for f in m.noise} >= {"max_time", "high_iqr"}


def test_measure_max_time_before_min_rounds_says_so():
    clock, work = fake([1.0])
    m = measure(work, clock=clock, warmup=FAST_WARMUP, stop=StopPolicy(min_time_s=1, min_rounds=100, max_time_s=5))
    assert m.stop_reason == "max_time"
    assert m.rounds == 5
    assert "of min_rounds=100" in m.noise[0].reason


def test_measure_stops_at_max_rounds():
    clock, work = fake([0.01, 0.03])
    m = measure(work, clock=clock, warmup=FAST_WARMUP,
                stop=StopPolicy(min_time_s=0.01, min_rounds=10, max_rounds=40, max_time_s=100))
    assert m.stop_reason == "max_rounds" and m.rounds == 40
    assert m.noise[0].code == "max_rounds"


def test_establish_p99_runs_until_662_samples():
    clock, work = fake([0.001])
    m = measure(work, clock=clock, warmup=FAST_WARMUP,
                stop=StopPolicy(min_time_s=0.01, min_rounds=10, max_time_s=100, establish=("p99",)))
    assert m.stop_reason == "converged"
    assert m.rounds >= 662 and m.stats.p99_s == pytest.approx(0.001)
    plain = measure(work, clock=clock, warmup=FAST_WARMUP, stop=StopPolicy(min_time_s=0.01, min_rounds=10))
    assert plain.stats.p99_s is None and "662" in plain.stats.not_established["p99"]


def test_high_iqr_is_flagged_even_when_converged():
    # 25% of calls twice as slow: the median is pinned, the IQR/median is not small
    durations = [0.01, 0.01, 0.01, 0.02] * 50
    clock, work = fake(durations)
    m = measure(work, clock=clock, warmup=FAST_WARMUP, stop=StopPolicy(min_time_s=0.5, min_rounds=20, max_time_s=50))
    assert m.stop_reason == "converged"
    assert [f.code for f in m.noise] == ["high_iqr"]
    assert m.stats.iqr_ratio > 0.10


def test_unsettled_warmup_is_a_noise_flag():
    clock, work = fake([0.01, 0.05])
    m = measure(work, clock=clock, warmup=WarmupPolicy(min_calls=2, window=1, rel_tol=0.01, max_calls=6),
                stop=StopPolicy(min_time_s=0.01, min_rounds=10, max_time_s=1))
    assert not m.warmup_settled and m.warmup_calls == 6
    assert "warmup_not_settled" in {f.code for f in m.noise}


def test_measurement_records_how_it_was_made():
    clock, work = fake([0.2, 0.01], cycle=False)
    warm = WarmupPolicy(min_calls=3, window=2, rel_tol=0.05, max_calls=50)
    m = measure(work, clock=clock, warmup=warm, stop=StopPolicy(min_time_s=0.1, min_rounds=10), threads=3)
    assert m.first_call_s == pytest.approx(0.2)
    assert m.clock == "perf_counter_ns" and m.sync_mode == "none" and m.device == "cpu"
    assert m.threads == 3 and m.calls_per_sample == 1 and m.calls == m.rounds
    assert m.warmup_calls == 5 and m.warmup_policy is warm
    assert work.calls == m.warmup_calls + m.rounds


def test_to_extra_info_is_json_safe_and_versioned():
    clock, work = fake([0.01, 0.011, 0.012])
    m = measure(work, clock=clock, warmup=FAST_WARMUP, stop=StopPolicy(min_time_s=0.2, min_rounds=10))
    info = m.to_extra_info()
    assert json.loads(json.dumps(info, allow_nan=False)) == info
    assert info["schema_version"] == SCHEMA_VERSION == 1
    assert info["rounds"] == len(info["samples_s"]) == m.rounds
    assert info["stats"]["p99_s"] is None and "p99" in info["stats"]["not_established"]
    assert {"clock", "sync_mode", "device", "threads", "warmup", "first_call_s", "stop", "noise"} <= set(info)
    assert "samples_s" not in m.to_extra_info(include_samples=False)


def test_extra_info_round_trips_to_an_equal_measurement():
    clock, work = fake([0.01, 0.02])
    m = measure(work, clock=clock, warmup=FAST_WARMUP, stop=StopPolicy(min_time_s=0.2, min_rounds=10, max_time_s=0.5))
    m = m.with_noise("throttled", "test").with_extra(batch_size=4)
    back = Measurement.from_extra_info(json.loads(json.dumps(m.to_extra_info())))
    assert back == m


def test_from_extra_info_rejects_unknown_schema_version():
    clock, work = fake([0.01])
    info = measure(work, clock=clock, warmup=FAST_WARMUP, stop=StopPolicy(min_time_s=0.1)).to_extra_info()
    info["schema_version"] = 99
    with pytest.raises(ValueError, match="schema_version 99"):
        Measurement.from_extra_info(info)


def test_real_cpu_clock_measures_a_real_call():
    m = measure(lambda: sum(range(200)), warmup=FAST_WARMUP, stop=StopPolicy(min_time_s=0.01, min_rounds=20, max_time_s=2))
    assert m.rounds >= 20 and m.stats.min_s > 0 and m.first_call_s > 0
