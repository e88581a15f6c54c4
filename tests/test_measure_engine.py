"""measure() / warm_up() with a fake clock: warm-up settling, adaptive stopping, noise flags, the record."""

from __future__ import annotations

import json
import random

import pytest

from perfsuite.measure import CpuClock, Measurement, StopPolicy, WarmupPolicy, measure, warm_up
from perfsuite.measure.fakes import FakeTimer, ScriptedWork
from perfsuite.measure.policy import WarmupPlan
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


def test_median_floor_wins_over_the_soft_cap():
    # 1 s per call, max_time_s=4: the soft cap alone would stop at 4 samples, too few for p50 (11)
    clock, work = fake([1.0])
    m = measure(work, clock=clock, warmup=FAST_WARMUP, stop=StopPolicy(min_time_s=1, min_rounds=100, max_time_s=4))
    assert m.stop_reason == "max_time"
    assert m.rounds == 11 == StopPolicy().min_samples
    assert m.median_s == pytest.approx(1.0)
    assert [f.code for f in m.noise] == ["max_time"]
    assert "max_time_s=4" in m.noise[0].reason and "of min_rounds=100" in m.noise[0].reason


def test_soft_cap_stops_a_case_whose_median_is_established():
    clock, work = fake([0.25])  # 16 samples fit in 4 s: more than the 11 p50 needs
    m = measure(work, clock=clock, warmup=FAST_WARMUP, stop=StopPolicy(min_time_s=1, min_rounds=100, max_time_s=4))
    assert m.stop_reason == "max_time" and m.rounds == 16


def test_establish_list_also_wins_over_the_soft_cap():
    clock, work = fake([0.1, 0.2])  # the median CI never reaches 1%: only a cap stops it
    stop = StopPolicy(min_time_s=0.1, min_rounds=10, max_time_s=1, establish=("p90",))
    m = measure(work, clock=clock, warmup=FAST_WARMUP, stop=stop)
    assert stop.min_samples == 64 and m.rounds == 64 and m.stats.p90_s == pytest.approx(0.2)
    assert m.stop_reason == "max_time"


def test_hard_budget_stops_an_unestablished_case_and_flags_it():
    clock, work = fake([1.0])
    stop = StopPolicy(min_time_s=1, min_rounds=20, max_time_s=4, hard_max_time_s=7)
    m = measure(work, clock=clock, warmup=FAST_WARMUP, stop=stop)
    assert m.stop_reason == "hard_budget" and m.rounds == 7
    assert m.median_s is None and "p50" in m.stats.not_established
    flag = m.noise[0]
    assert flag.code == "hard_budget"
    assert "hard_max_time_s=7" in flag.reason and "establish p50 (needs 11, have 7)" in flag.reason
    assert m.to_extra_info()["stop"]["reason"] == "hard_budget"


def test_expensive_calls_get_a_short_scaled_warmup():
    # cold call 3 s, then 1 s per call; the default policy wants >= 10 warm samples (2 windows of 5)
    clock, work = fake([3.0, 1.0], cycle=False)
    m = measure(work, clock=clock, warmup=WarmupPolicy(), stop=StopPolicy(min_time_s=1, max_time_s=4))
    plan = m.warmup_plan
    assert plan.scaled and plan.window == 1 and plan.time_cap_s == pytest.approx(1.0)  # 25% of max_time_s
    assert m.warmup_calls == 3  # the cold call plus the 2 every warm-up makes
    assert m.warmup_time_s == pytest.approx(5.0)
    assert m.warmup_settled  # two equal 1 s samples: settled with the scaled window of 1
    assert "min_calls 5 -> 3" in plan.reason and "window 5 -> 1" in plan.reason
    info = m.to_extra_info()["warmup"]
    assert info["plan"]["scaled"] is True and info["calls"] == 3


def test_scaled_warmup_that_does_not_settle_says_why():
    durations = [3.0] + [1.0, 1.5] * 50
    clock, work = fake(durations, cycle=False)
    m = measure(work, clock=clock, warmup=WarmupPolicy(rel_tol=0.05), stop=StopPolicy(min_time_s=1, max_time_s=4))
    assert not m.warmup_settled and m.warmup_calls == 3
    reason = next(f.reason for f in m.noise if f.code == "warmup_not_settled")
    assert "window 5 -> 1" in reason and "1 s" in reason


def test_cheap_calls_keep_the_warmup_policy():
    clock, work = fake([0.001])
    m = measure(work, clock=clock, warmup=WarmupPolicy(min_calls=7, window=3), stop=StopPolicy(min_time_s=0.1, max_time_s=4))
    assert not m.warmup_plan.scaled and m.warmup_plan.window == 3 and m.warmup_plan.min_calls == 7
    assert m.warmup_calls == 7 and m.warmup_settled


def test_warmup_is_capped_at_its_share_of_the_case_budget():
    clock, work = fake([0.01, 0.05])  # never settles at rel_tol 1%
    wu = warm_up(work, clock, WarmupPolicy(min_calls=2, window=1, rel_tol=0.01, max_calls=10_000, max_time_s=30), budget_s=8.0)
    assert not wu.settled and wu.plan.time_cap_s == pytest.approx(2.0)
    assert 2.0 <= wu.time_s < 2.1


def test_warmup_without_budget_applies_the_policy_unchanged():
    clock, work = fake([5.0])
    wu = warm_up(work, clock, WarmupPolicy(min_calls=4, window=2, rel_tol=0.05, max_calls=100, max_time_s=100))
    assert wu.plan == WarmupPlan(4, 2, 100.0) and wu.calls == 5  # 2 windows of 2 after the cold call


def test_gc_is_off_during_timed_rounds_only_and_restored():
    import gc

    clock, work = fake([0.01])
    seen = []

    def call():
        seen.append(gc.isenabled())
        work()

    assert gc.isenabled()
    m = measure(call, clock=clock, warmup=FAST_WARMUP, stop=StopPolicy(min_time_s=0.1, min_rounds=10, max_time_s=1))
    assert gc.isenabled() and m.gc_disabled and m.to_extra_info()["gc_disabled"] is True
    warm = m.warmup_calls
    assert all(seen[:warm]) and not any(seen[warm:])  # warm-up with gc, timed rounds without
    seen.clear()
    m = measure(call, clock=clock, warmup=FAST_WARMUP, stop=StopPolicy(min_time_s=0.1, min_rounds=10, max_time_s=1), disable_gc=False)
    assert all(seen) and not m.gc_disabled


def test_gc_collects_before_timing(monkeypatch):
    import gc

    from perfsuite.measure import engine

    collects = []
    monkeypatch.setattr(engine.gc, "collect", lambda *a: collects.append(gc.isenabled()) or 0)
    clock, work = fake([0.01])
    measure(work, clock=clock, warmup=FAST_WARMUP, stop=StopPolicy(min_time_s=0.1, min_rounds=10, max_time_s=1))
    assert collects == [True]  # once, before the collector is switched off


def test_gc_is_restored_when_the_call_raises():
    import gc

    clock, work = fake([0.01])
    calls = []

    def call():
        calls.append(1)
        if len(calls) > 5:
            raise ValueError("boom in the timed rounds")
        work()

    with pytest.raises(ValueError, match="boom"):
        measure(call, clock=clock, warmup=FAST_WARMUP, stop=StopPolicy(min_time_s=0.1, min_rounds=10, max_time_s=1))
    assert gc.isenabled()


def test_gc_left_off_when_the_caller_had_it_off():
    import gc

    clock, work = fake([0.01])
    gc.disable()
    try:
        measure(work, clock=clock, warmup=FAST_WARMUP, stop=StopPolicy(min_time_s=0.1, min_rounds=10, max_time_s=1))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_progress_reports_warmup_then_sampling_between_chunks():
    clock, work = fake([0.3])
    events = []
    m = measure(work, clock=clock, warmup=WarmupPolicy(min_calls=3, window=1, rel_tol=0.5),
                stop=StopPolicy(min_time_s=1, min_rounds=20, max_time_s=3), progress=events.append)
    phases = [e.phase for e in events]
    assert phases[0] == "warmup" and phases[-1] == "sampling"
    assert phases == sorted(phases, key=["warmup", "sampling"].index)  # warm-up first, then sampling
    warm = [e for e in events if e.phase == "warmup"]
    # warm-up's time left includes the sampling ahead: 11 samples of 0.3 s (the p50 floor) > 3 s
    assert all(e.after_s == pytest.approx(11 * 0.3) for e in warm)
    assert warm[-1].left_s == pytest.approx(max(0.0, warm[-1].budget_s - warm[-1].elapsed_s) + 3.3)
    sampling = [e for e in events if e.phase == "sampling"]
    assert all(e.after_s == 0 for e in sampling)
    assert [e.n for e in sampling] == sorted(e.n for e in sampling)
    assert sampling[-1].n == sampling[-1].target_n == m.rounds
    assert all(e.target_n >= 11 and e.budget_s > 0 for e in sampling)
    # with a callback, a chunk spans at most ~PROGRESS_PERIOD_S of calls: 0.3 s calls -> <= 3 per chunk
    steps = [b.n - a.n for a, b in zip(sampling, sampling[1:])]
    assert max(steps) <= 3 and len(sampling) >= m.rounds // 3


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
