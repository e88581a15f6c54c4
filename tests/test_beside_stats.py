"""Paired-t intervals and verdicts re-judged from rounds beside the baseline's commit (perfsuite.compare.paired, .beside)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsuite.compare import GatePolicy, compare_runs
from perfsuite.compare.beside import all_decided, beside_confidence, beside_estimates, rejudge, round_values, undecided
from perfsuite.compare.paired import PAIRED_T, paired_ratio, paired_t_ratio
from perfsuite.compare.verdict import judge
from perfsuite.results import load_run
from test_gate_replicates import write_run

values = st.lists(st.floats(min_value=1e-4, max_value=10.0, allow_nan=False), min_size=3, max_size=12)


def test_paired_t_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    base = [0.0101, 0.0104, 0.0099, 0.0102, 0.0110]
    head = [0.0201, 0.0215, 0.0197, 0.0203, 0.0232]
    for confidence in (0.9, 0.98, 0.998, 0.9999):
        est = paired_t_ratio(base, head, confidence=confidence)
        logs = ([math.log(x) for x in head], [math.log(x) for x in base])
        ci = stats.ttest_rel(*logs).confidence_interval(confidence)
        assert math.log(est.low) == pytest.approx(ci.low, rel=5e-3) and math.log(est.high) == pytest.approx(ci.high, rel=5e-3)
        d = [h - b for h, b in zip(*logs)]
        assert math.log(est.ratio) == pytest.approx(sum(d) / len(d))
        half = stats.t.ppf(1 - (1 - confidence) / 2, len(d) - 1) * stats.tstd(d) / math.sqrt(len(d))
        assert math.log(est.high) - math.log(est.ratio) == pytest.approx(half, rel=5e-3)
    assert est.method == PAIRED_T and est.n_base == est.n_head == 5


def test_paired_t_decides_from_three_pairs_where_wilcoxon_cannot():
    base, head = [0.010, 0.0102, 0.0101], [0.020, 0.0203, 0.0205]
    t = paired_t_ratio(base, head, confidence=0.998)
    assert judge(t, 0.03, lower_is_better=True) == ("regressed", False)
    w = paired_ratio(base, head, confidence=0.998)
    assert judge(w, 0.03, lower_is_better=True)[0] == "inconclusive"  # the exact interval needs >= 10 pairs at 0.998


@pytest.mark.parametrize("base, head, message", [
    ([1.0, 1.0], [1.0, 1.0], "at least 3 pairs"),
    ([1.0, 1.0, 1.0], [1.0, 1.0], "must match"),
    ([1.0, 0.0, 1.0], [1.0, 1.0, 1.0], "finite and > 0"),
    ([1.0, math.inf, 1.0], [1.0, 1.0, 1.0], "finite and > 0"),
])
def test_paired_t_refuses_bad_rounds(base, head, message):
    with pytest.raises(ValueError, match=message):
        paired_t_ratio(base, head, confidence=0.99)


def test_paired_t_refuses_a_confidence_outside_0_1():
    with pytest.raises(ValueError, match="confidence must be in"):
        paired_t_ratio([1.0] * 3, [1.0] * 3, confidence=1.0)


@settings(max_examples=60, deadline=None)
@given(values)
def test_identical_pairs_never_regress(base):
    est = paired_t_ratio(base, list(base), confidence=0.998)
    assert est.ratio == pytest.approx(1.0) and judge(est, 0.0, lower_is_better=True)[0] != "regressed"


@settings(max_examples=60, deadline=None)
@given(values, st.randoms(use_true_random=False), st.floats(min_value=0.2, max_value=5.0))
def test_the_order_of_rounds_does_not_matter_and_scaling_b_moves_the_estimate(base, rnd, r):
    head = [x * (1.0 + 0.01 * i) for i, x in enumerate(base)]
    est = paired_t_ratio(base, head, confidence=0.99)
    order = list(range(len(base)))
    rnd.shuffle(order)
    shuffled = paired_t_ratio([base[i] for i in order], [head[i] for i in order], confidence=0.99)
    assert shuffled.ratio == pytest.approx(est.ratio) and shuffled.low == pytest.approx(est.low) and shuffled.high == pytest.approx(est.high)
    scaled = paired_t_ratio(base, [x * r for x in head], confidence=0.99)
    assert scaled.ratio == pytest.approx(est.ratio * r) and scaled.low == pytest.approx(est.low * r) and scaled.high == pytest.approx(est.high * r)


# -- re-judging the gate's comparison -------------------------------------------------------------

KEY = "test_latency::a"


def _first(tmp_path):
    """A comparison whose timings are undecided: a 2x slowdown under a noise floor too wide to prove it."""
    base = load_run(write_run(tmp_path / "base", {"a": 0.010, "b": 0.020}, seed=1))
    head = load_run(write_run(tmp_path / "head", {"a": 0.020, "b": 0.020}, seed=2))
    return compare_runs(base, head, GatePolicy(noise_floor=0.9))


def _rounds(tmp_path, ratio, n, *, case="a"):
    out = []
    for i in range(n):
        wobble = 1.0 + 0.01 * (i % 3)
        a = load_run(write_run(tmp_path / f"a{i}", {case: 0.010 * wobble}, seed=10 + i))
        b = load_run(write_run(tmp_path / f"b{i}", {case: 0.010 * wobble * ratio * (1 + 0.004 * (i % 2))}, seed=30 + i))
        out.append((round_values(a, {KEY}), round_values(b, {KEY})))
    return out


def test_undecided_lists_the_inconclusive_sample_verdicts_only(tmp_path):
    first = _first(tmp_path)
    assert {(v.case, v.metric, v.verdict) for v in first.verdicts if v.metric in ("latency", "throughput")} >= {
        ("a", "latency", "inconclusive"), ("a", "throughput", "inconclusive")}
    assert undecided(first) == tuple(k for k in ("test_latency::a", "test_latency::b")
                                     if any(f"{v.test}::{v.case}" == k and v.verdict == "inconclusive" for v in first.verdicts))
    assert KEY in undecided(first) and not all_decided(first, [KEY])
    assert all_decided(first, ["test_latency::nothing"])


def test_round_values_are_the_fastest_sample_per_metric_turned_lower_is_better(tmp_path):
    run = load_run(write_run(tmp_path / "r", {"a": 0.010, "b": 0.030}))
    got = round_values(run, {KEY})
    assert got == {(KEY, "latency"): pytest.approx(0.010), (KEY, "throughput"): pytest.approx(0.010)}
    median = round_values(run, {KEY}, "median")
    assert median[(KEY, "latency")] > 0.010
    with pytest.raises(ValueError, match="statistic must be"):
        round_values(run, {KEY}, "mean")


def test_a_slowdown_measured_beside_is_regressed_with_its_note_and_mirror(tmp_path):
    first = _first(tmp_path)
    est = beside_estimates(_rounds(tmp_path, 2.0, 5), confidence=beside_confidence(first, 3))
    assert set(est) == {(KEY, "latency"), (KEY, "throughput")}
    assert est[(KEY, "latency")].ratio == pytest.approx(2.0, rel=0.01)
    assert est[(KEY, "throughput")].ratio == pytest.approx(0.5, rel=0.01)  # a rate's ratio, as measured
    final = rejudge(first, est, keys=[KEY], commit="abc1234def")
    mine = {v.metric: v for v in final.verdicts if v.case == "a"}
    assert mine["latency"].verdict == mine["throughput"].verdict == "regressed"
    note = mine["latency"].note
    assert note.startswith("re-measured beside the baseline's commit abc1234 (its own config): 5 paired rounds: +100.")
    assert "before: inconclusive" in note and mine["latency"].first is not None and mine["latency"].estimate.method == "paired-t"
    assert all_decided(final, [KEY])
    untouched = [v for v in final.verdicts if v.case != "a" or v.metric not in ("latency", "throughput")]
    assert untouched == [v for v in first.verdicts if v.case != "a" or v.metric not in ("latency", "throughput")]


def test_an_unchanged_case_measured_beside_is_ok(tmp_path):
    first = _first(tmp_path)
    est = beside_estimates(_rounds(tmp_path, 1.0, 4), confidence=beside_confidence(first, 2))
    final = rejudge(first, est, keys=[KEY], commit="abc1234")
    assert {v.verdict for v in final.verdicts if v.case == "a" and v.metric in ("latency", "throughput")} == {"ok"}


def test_fewer_than_three_rounds_give_no_estimate_and_the_verdict_says_why(tmp_path):
    first = _first(tmp_path)
    assert beside_estimates(_rounds(tmp_path, 2.0, 2), confidence=0.99) == {}
    final = rejudge(first, {}, keys=[KEY], commit=None, why_not="the baseline records no git commit")
    v = next(v for v in final.verdicts if v.case == "a" and v.metric == "latency")
    assert v.verdict == "inconclusive" and v.note.endswith("not re-measured beside the baseline's commit: the baseline records no git commit")
    exact = [v for v in final.verdicts if v.estimate.method == "exact"]
    assert all("beside" not in v.note for v in exact)


def test_beside_confidence_splits_alpha_over_the_looks(tmp_path):
    first = _first(tmp_path)
    assert beside_confidence(first, 4) == pytest.approx(1 - 2 * first.alpha / 4 / first.tests)
    with pytest.raises(ValueError, match="looks must be >= 1"):
        beside_confidence(first, 0)
