"""The comparison statistics and verdicts: properties, a coverage simulation, and whole runs."""

from __future__ import annotations

import dataclasses
import math
import random
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsuite.compare import GatePolicy, compare_runs, judge, ratio_of_samples
from perfsuite.compare.verdict import suite_confidence
from perfsuite.compare.stats import exact_ratio, moses_indices, ratio_of_medians, ratio_of_minimums, samples_to_decide
from perfsuite.measure import summarize
from perfsuite.results import CaseInfo, CaseResult, RunResult
from perfsuite.results.case import MemoryResult, StaticSummary

tight = st.lists(st.floats(min_value=1.0e-3, max_value=1.2e-3), min_size=10, max_size=120)
wide = st.lists(st.floats(min_value=1e-4, max_value=1.0), min_size=3, max_size=80)


@settings(max_examples=200, deadline=None)
@given(wide)
def test_identical_sample_sets_never_regress(samples):
    est = ratio_of_samples(samples, samples, confidence=0.99)
    assert est.ratio == pytest.approx(1.0) and est.low <= 1.0 <= est.high
    assert judge(est, 0.05, lower_is_better=True)[0] != "regressed"
    assert judge(est, 0.05, lower_is_better=False)[0] != "regressed"


@settings(max_examples=200, deadline=None)
@given(tight)
def test_samples_scaled_by_1_5_always_regress_at_5_percent(samples):
    est = ratio_of_samples(samples, [1.5 * x for x in samples], confidence=0.999)
    assert est.ratio == pytest.approx(1.5)
    assert judge(est, 0.05, lower_is_better=True) == ("regressed", False)
    # as a rate (higher is better), 1.5x the time is a throughput regression too
    rates = ratio_of_samples([1 / x for x in samples], [1 / (1.5 * x) for x in samples], confidence=0.999)
    assert judge(rates, 0.05, lower_is_better=False) == ("regressed", False)


@settings(max_examples=100, deadline=None)
@given(wide, wide, st.randoms(use_true_random=False))
def test_verdicts_are_invariant_to_sample_order(base, head, rnd):
    a, b = list(base), list(head)
    rnd.shuffle(a)
    rnd.shuffle(b)
    assert ratio_of_samples(base, head) == ratio_of_samples(a, b)


@settings(max_examples=100, deadline=None)
@given(wide, wide, st.floats(min_value=0.01, max_value=100))
def test_a_common_scale_changes_nothing(base, head, scale):
    one = ratio_of_samples(base, head)
    two = ratio_of_samples([x * scale for x in base], [x * scale for x in head])
    assert two.ratio == pytest.approx(one.ratio, rel=1e-9) and two.low == pytest.approx(one.low, rel=1e-9)


def test_moses_interval_covers_no_change_at_its_confidence():
    # Same lognormal distribution on both sides: the 95% interval must contain 1 in >= 93% of
    # 2000 trials (binomial sd of the rate at 95% is 0.5%, so 93% is ~4 sd below; seeds 7-9
    # measured 92.8-95.4% over 1000 trials each with the normal approximation at n = 30/40).
    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(2000):
        a = rng.lognormal(mean=-5, sigma=0.2, size=40)
        b = rng.lognormal(mean=-5, sigma=0.2, size=30)
        est = ratio_of_samples(a, b, confidence=0.95)
        covered += est.low <= 1.0 <= est.high
    assert covered >= 1860


def test_moses_indices_agree_with_scipy_mann_whitney_critical_value():
    from scipy import stats

    for n1, n2 in [(10, 10), (20, 35), (100, 80)]:
        lo, hi = moses_indices(n1, n2, 0.95)
        assert lo + hi == n1 * n2 - 1
        # Under H0 the count of positive pairwise differences is U; P(U <= lo) ~ 2.5%.
        sd = math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
        assert stats.norm.cdf((lo + 0.5 - n1 * n2 / 2) / sd) == pytest.approx(0.025, abs=0.01)


def test_noise_floor_widens_the_interval_and_keeps_the_estimate():
    rng = random.Random(1)
    base = [0.010 * (1 + rng.uniform(-0.01, 0.01)) for _ in range(200)]
    head = [x * 1.04 for x in base]
    plain = ratio_of_samples(base, head)
    floored = ratio_of_samples(base, head, noise_floor=0.03)
    assert floored.ratio == plain.ratio and floored.low < plain.low and floored.high > plain.high
    assert judge(plain, 0.03, lower_is_better=True)[0] == "regressed"
    assert judge(floored, 0.03, lower_is_better=True)[0] == "inconclusive"
    assert samples_to_decide(floored, 0.03) is None  # the floor alone is wider than the change


def test_inconclusive_says_how_many_samples_would_decide():
    rng = np.random.default_rng(0)
    base = rng.lognormal(-5, 0.15, 15)
    head = rng.lognormal(-5, 0.15, 15) * 1.08
    est = ratio_of_samples(base, head, confidence=0.99)
    assert judge(est, 0.05, lower_is_better=True)[0] == "inconclusive"
    needed = samples_to_decide(est, 0.05)
    assert needed is not None and needed > 15
    more = ratio_of_samples(rng.lognormal(-5, 0.15, needed * 2), rng.lognormal(-5, 0.15, needed * 2) * 1.08, confidence=0.99)
    assert judge(more, 0.05, lower_is_better=True)[0] != "inconclusive"


@pytest.mark.parametrize(
    "base, head, bad",
    [([1.0, 2.0], [1.0, 2.0, 3.0], "at least 3"), ([1.0, 2.0, -1.0], [1.0, 2.0, 3.0], "finite and > 0"), ([1.0, 2.0, math.nan], [1.0] * 3, "finite")],
)
def test_bad_samples_are_refused(base, head, bad):
    with pytest.raises(ValueError, match=bad):
        ratio_of_samples(base, head)


def test_exact_and_summary_ratios():
    assert judge(exact_ratio(100, 101), 0.0, lower_is_better=True)[0] == "regressed"
    assert judge(exact_ratio(100, 100), 0.0, lower_is_better=True)[0] == "ok"
    assert judge(exact_ratio(100, 99), 0.0, lower_is_better=True) == ("ok", True)
    assert judge(ratio_of_medians(1.0, 1.04, n_base=5, n_head=5, confidence=0.99), 0.05, lower_is_better=True)[0] == "ok"
    assert judge(ratio_of_medians(1.0, 1.10, n_base=5, n_head=5, confidence=0.99), 0.05, lower_is_better=True)[0] == "regressed"


# -- whole runs -------------------------------------------------------------------------------------

def _case(case_id: str) -> CaseInfo:
    return CaseInfo(case_id, "m", "f", "text", "d", "eager", 1, "cpu", "fp32", 0)


def _latency(case_id: str, samples, **parts) -> CaseResult:
    return CaseResult("test_latency", "latency", _case(case_id), "passed", "t", summary=summarize(samples),
                      imported_samples_s=tuple(samples), **parts)


def _run(*cases: CaseResult) -> RunResult:
    return RunResult(run_dir=None, status="finished", suite="s", device="cpu", started=None, cases=cases)  # type: ignore[arg-type]


def _samples(seed: int, scale: float = 1.0, n: int = 300):
    rng = np.random.default_rng(seed)
    return tuple(float(x) * scale for x in rng.lognormal(-5, 0.03, n))


def test_an_unchanged_rerun_has_no_regression_and_a_slowed_case_is_the_only_one():
    ids = [f"case{i}" for i in range(20)]
    base = _run(*(_latency(i, _samples(k)) for k, i in enumerate(ids)))
    same = _run(*(_latency(i, _samples(100 + k)) for k, i in enumerate(ids)))
    cmp = compare_runs(base, same, GatePolicy())
    assert not cmp.regressed and cmp.tests == 20
    assert {v.verdict for v in cmp.verdicts} <= {"ok", "inconclusive"}
    slowed = _run(*(_latency(i, _samples(100 + k, 1.2 if i == "case7" else 1.0)) for k, i in enumerate(ids)))
    cmp = compare_runs(base, slowed, GatePolicy())
    assert {(v.case, v.metric) for v in cmp.of("regressed")} == {("case7", "latency"), ("case7", "throughput")}
    (lat,) = [v for v in cmp.of("regressed") if v.metric == "latency"]
    # the default statistic compares fastest samples: the minimum of 300 lognormal draws moves ~1% per run
    assert lat.estimate.ratio == pytest.approx(1.2, rel=0.03) and lat.estimate.confidence == pytest.approx(1 - 2 * 0.01 / 20)  # each one-sided tail: alpha / 20
    assert lat.estimate.method == "minimum"
    median = compare_runs(base, slowed, GatePolicy(statistic="median", noise_floor=0.05))
    (lat,) = [v for v in median.of("regressed") if v.metric == "latency"]
    assert lat.estimate.method == "hodges-lehmann" and lat.estimate.ratio == pytest.approx(1.2, rel=0.02)


def test_cases_on_one_side_are_listed_not_errors():
    cmp = compare_runs(_run(_latency("a", _samples(1)), _latency("gone", _samples(2))), _run(_latency("a", _samples(3)), _latency("new", _samples(4))))
    assert cmp.new == ("test_latency::new",) and cmp.removed == ("test_latency::gone",)
    assert {v.case for v in cmp.verdicts} == {"a"}


def test_a_side_without_raw_samples_gets_a_weaker_verdict_that_says_so():
    base = _latency("a", _samples(1))
    summary_only = dataclasses.replace(_latency("a", _samples(2, 1.3)), imported_samples_s=None)
    (lat, _) = [v for v in compare_runs(_run(base), _run(summary_only)).verdicts if v.metric in ("latency", "throughput")]
    assert lat.verdict == "regressed" and lat.estimate.method == "summary" and "weaker verdict: head has no raw samples" in lat.note


def test_deterministic_figures_are_compared_exactly():
    def static(params):
        return CaseResult("test_static", "static", _case("a"), "passed", "t", static=StaticSummary(params=params, weights_bytes=4 * params, flops_per_call=1000))

    cmp = compare_runs(_run(static(100)), _run(static(101)))
    assert {v.metric: v.verdict for v in cmp.verdicts} == {"params": "regressed", "flops_per_call": "ok"}
    mem = GatePolicy(thresholds={"latency": 0.05, "throughput": 0.05, "memory": 0.10, "exact": 0.0})
    a = _latency("a", _samples(1), memory=MemoryResult(weights_bytes=100))
    b = _latency("a", _samples(2), memory=MemoryResult(weights_bytes=100))
    assert {v.metric: v.verdict for v in compare_runs(_run(a), _run(b), mem).verdicts}["weights_bytes"] == "ok"


def test_per_case_thresholds_the_last_matching_rule_wins():
    policy = GatePolicy(case_thresholds=(("bert*", "latency", 0.5), ("bert.tiny*", "latency", 0.2)))
    assert policy.threshold("bert.tiny-x", "latency") == 0.2
    assert policy.threshold("bert.full-x", "latency") == 0.5
    assert policy.threshold("gpt2-x", "latency") == 0.03
    with pytest.raises(ValueError, match="unknown metric group"):
        GatePolicy(thresholds={"speed": 0.1})


# -- the minimum (the default statistic for timings) -------------------------------------------

@settings(max_examples=200, deadline=None)
@given(wide)
def test_minimum_identical_sample_sets_never_regress(samples):
    est = ratio_of_minimums(samples, samples, confidence=0.9995, noise_floor=0.01)
    assert est.ratio == 1.0 and est.low < 1.0 < est.high
    assert judge(est, 0.03, lower_is_better=True)[0] != "regressed"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=1.0e-3, max_value=1.02e-3), min_size=10, max_size=120))
def test_minimum_samples_scaled_by_1_5_always_regress_at_5_percent(samples):
    # every block's fastest sample within 2% of the others: a quiet machine
    est = ratio_of_minimums(samples, [1.5 * x for x in samples], confidence=0.9995, noise_floor=0.01)
    assert est.ratio == pytest.approx(1.5) and judge(est, 0.05, lower_is_better=True) == ("regressed", False)


@settings(max_examples=100, deadline=None)
@given(wide, wide, st.randoms(use_true_random=False))
def test_minimum_is_invariant_to_order_within_each_block(base, head, rnd):
    """Blocks are stretches of time: reordering inside each block (not across) changes nothing."""

    def shuffled_within_blocks(values):
        k = max(2, min(10, len(values) // 3))
        out = []
        for chunk in np.array_split(np.asarray(values), k):
            part = list(chunk)
            rnd.shuffle(part)
            out.extend(part)
        return out

    one = ratio_of_minimums(base, head, noise_floor=0.01)
    two = ratio_of_minimums(shuffled_within_blocks(base), shuffled_within_blocks(head), noise_floor=0.01)
    assert (two.ratio, two.low, two.high) == pytest.approx((one.ratio, one.low, one.high), rel=1e-12)


def test_minimum_interval_widens_when_interference_lifts_whole_stretches_of_a_run():
    rng = np.random.default_rng(3)
    quiet = list(1e-3 * (1 + rng.exponential(0.01, 400)))
    few, most = list(quiet), list(quiet)
    for start in (40, 200, 320):  # three episodes of a busy neighbour, +30% for 40 samples each: 3 of 10 blocks
        few[start:start + 40] = [x * 1.3 for x in few[start:start + 40]]
    for start in range(0, 400, 80):  # lifted stretches covering half of the 10 blocks whole, by 10-40%
        most[start:start + 50] = [x * (1.1 + start / 1000) for x in most[start:start + 50]]
    calm = ratio_of_minimums(quiet, quiet, confidence=0.9995, noise_floor=0.01)
    # a minority of disturbed blocks leaves the fastest time (and the interval) as it was ...
    assert ratio_of_minimums(quiet, few, confidence=0.9995, noise_floor=0.01) == calm
    # ... a run disturbed in most of its blocks gets a wider interval
    busy = ratio_of_minimums(quiet, most, confidence=0.9995, noise_floor=0.01)
    assert busy.ratio == pytest.approx(1.0) and busy.high / busy.low > 1.5 * (calm.high / calm.low)
    assert calm.high == pytest.approx(math.exp(NormalDist().inv_cdf(0.5 + 0.9995 / 2) * math.log1p(0.01)))  # the floor alone


def test_minimum_sees_a_rate_s_best_as_its_maximum():
    base = _latency("a", _samples(1))
    slower = _latency("a", _samples(1, 1.25))
    verdicts = {v.metric: v for v in compare_runs(_run(base), _run(slower)).verdicts}
    assert verdicts["latency"].estimate.ratio == pytest.approx(1.25)
    assert verdicts["throughput"].estimate.ratio == pytest.approx(1 / 1.25) and verdicts["throughput"].verdict == "regressed"


def test_minimum_inconclusive_note_points_at_the_machine_not_at_more_samples():
    rng = np.random.default_rng(5)
    base = [1e-3 * (1 + x) for x in rng.exponential(0.01, 300)]
    head = [x * 1.04 for x in base]
    for start in range(0, 300, 60):  # every other stretch lifted by 20%: a run the machine disturbed throughout
        head[start:start + 30] = [x * 1.2 for x in head[start:start + 30]]
    (lat, _) = [v for v in compare_runs(_run(_latency("a", base)), _run(_latency("a", head))).verdicts if v.metric in ("latency", "throughput")]
    assert lat.verdict == "inconclusive" and lat.samples_needed is None and "quieter machine" in lat.note


def test_gate_statistic_must_be_known():
    with pytest.raises(ValueError, match="statistic must be one of min, median"):
        GatePolicy(statistic="mean")


def test_suite_confidence_spends_alpha_on_the_one_tail_that_can_fail():
    """A false `regressed` needs the lower bound above 1: each tail of the interval holds alpha / m."""
    assert suite_confidence(0.01, 20) == pytest.approx(0.999)
    assert suite_confidence(0.01, 1) == pytest.approx(0.98)
    assert suite_confidence(0.01, 0) == pytest.approx(0.98)  # no tests yet: judged as one
    lower_tail = (1 - suite_confidence(0.05, 10)) / 2
    assert lower_tail == pytest.approx(0.05 / 10)
    for bad in (0, 0.5, 1.2, -0.1):
        with pytest.raises(ValueError, match="alpha"):
            suite_confidence(bad, 20)
    with pytest.raises(ValueError, match="alpha must be in"):
        GatePolicy(alpha=0.6)
