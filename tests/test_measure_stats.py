"""Statistics: percentiles, the percentile-minimum rule, the median CI, summarize()."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsuite.measure.stats import (
    _binom_cdf,
    median_ci,
    median_ci_indices,
    min_samples_for_percentile,
    percentile,
    summarize,
)

scipy_stats = pytest.importorskip("scipy.stats")

samples_st = st.lists(
    st.floats(min_value=1e-7, max_value=10.0, allow_nan=False, allow_infinity=False), min_size=1, max_size=800
)


def test_percentile_interpolates_like_numpy_linear():
    np = pytest.importorskip("numpy")
    rng = random.Random(3)
    xs = sorted(rng.expovariate(100.0) for _ in range(37))
    for q in (0.0, 0.1, 0.25, 0.5, 0.9, 0.99, 1.0):
        assert percentile(xs, q) == pytest.approx(float(np.percentile(xs, q * 100)), rel=1e-12)


def test_percentile_rejects_empty_and_out_of_range():
    with pytest.raises(ValueError, match="empty"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        percentile([1.0], 1.5)


@pytest.mark.parametrize(("q", "expected"), [(0.99, 662), (0.95, 130), (0.90, 64), (0.50, 11)])
def test_min_samples_matches_loadgen_figure(q, expected):
    assert min_samples_for_percentile(q) == expected


@pytest.mark.parametrize("q", [0.5, 0.75, 0.9, 0.95, 0.99, 0.999])
@pytest.mark.parametrize(("confidence", "tail"), [(0.99, 2), (0.95, 1), (0.9, 3)])
def test_min_samples_is_the_smallest_n_meeting_the_documented_formula(q, confidence, tail):
    n = min_samples_for_percentile(q, confidence, tail)
    m = min(q, 1 - q)
    # P[Binomial(n, m) >= tail] >= confidence, and n - 1 does not qualify
    assert scipy_stats.binom.sf(tail - 1, n, m) >= confidence
    assert scipy_stats.binom.sf(tail - 1, n - 1, m) < confidence


def test_min_samples_is_symmetric_in_the_tail():
    assert min_samples_for_percentile(0.01) == min_samples_for_percentile(0.99)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.5, 2.0])
def test_min_samples_rejects_quantiles_outside_open_unit(bad):
    with pytest.raises(ValueError, match="quantile"):
        min_samples_for_percentile(bad)


def test_binom_cdf_agrees_with_scipy():
    rng = random.Random(11)
    for _ in range(3000):
        n = rng.randint(1, 5000)
        p = rng.random()
        k = rng.randint(-1, n + 1)
        assert _binom_cdf(k, n, p) == pytest.approx(float(scipy_stats.binom.cdf(k, n, p)), abs=1e-10)


@pytest.mark.parametrize("n", [6, 7, 10, 25, 100, 101, 1000, 54321])
def test_median_ci_indices_are_the_exact_binomial_order_statistics(n):
    alpha_half = 0.025
    lo, hi = median_ci_indices(n, 0.95)
    assert hi == n - 1 - lo
    # l = lo + 1 (1-based); P[Bin(n, 1/2) <= l - 1] <= alpha/2 and l + 1 would exceed it
    assert scipy_stats.binom.cdf(lo, n, 0.5) <= alpha_half
    assert scipy_stats.binom.cdf(lo + 1, n, 0.5) > alpha_half


def test_median_ci_not_established_below_six_samples_at_95():
    assert median_ci_indices(5, 0.95) is None
    assert median_ci([1.0, 2.0, 3.0, 4.0, 5.0]) is None
    assert median_ci([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]) == (1.0, 6.0)


def test_median_ci_covers_the_true_median_at_its_confidence():
    # exponential(1) has median ln 2; 2000 seeded trials of n = 40
    rng = random.Random(2024)
    trials, hits = 2000, 0
    for _ in range(trials):
        lo, hi = median_ci(sorted(rng.expovariate(1.0) for _ in range(40)), 0.95)
        hits += lo <= math.log(2) <= hi
    se = math.sqrt(0.95 * 0.05 / trials)
    assert hits / trials >= 0.95 - 3 * se


def test_summarize_reports_every_statistic():
    xs = [0.010, 0.012, 0.011, 0.013, 0.010, 0.014, 0.011, 0.012, 0.010, 0.011] * 3
    s = summarize(xs)
    assert s.n == 30
    assert s.min_s == 0.010 and s.max_s == 0.014
    assert s.mean_s == pytest.approx(sum(xs) / 30)
    assert s.stdev_s == pytest.approx(__import__("statistics").stdev(xs))
    assert s.p50_s == pytest.approx(0.011)
    assert s.iqr_s == pytest.approx(percentile(sorted(xs), 0.75) - percentile(sorted(xs), 0.25))
    assert s.cv == pytest.approx(s.stdev_s / s.mean_s)
    assert s.median_ci_s is not None and s.median_ci_s[0] <= s.p50_s <= s.median_ci_s[1]
    assert s.rel_ci_half_width == pytest.approx((s.median_ci_s[1] - s.median_ci_s[0]) / 2 / s.p50_s)


def test_summarize_reports_unestablished_percentiles_as_none_with_reason():
    s = summarize([0.01] * 661)
    assert s.p99_s is None
    assert "662" in s.not_established["p99"]
    assert s.p95_s is not None and "p95" not in s.not_established
    s = summarize([0.01] * 662)
    assert s.p99_s == 0.01 and "p99" not in s.not_established


def test_summarize_small_sample_has_no_stdev_ci_or_iqr_but_says_why():
    s = summarize([0.5])
    assert s.min_s == s.max_s == s.mean_s == 0.5
    assert s.stdev_s is None and s.cv is None and s.median_ci_s is None and s.iqr_s is None and s.p50_s is None
    assert {"stdev", "median_ci", "iqr", "p50"} <= set(s.not_established)


def test_summarize_rejects_empty():
    with pytest.raises(ValueError, match="empty"):
        summarize([])


def test_to_dict_is_json_safe_and_complete():
    import json

    d = summarize([0.01, 0.02] * 10).to_dict()
    assert json.loads(json.dumps(d)) == d
    assert set(d) >= {"min_s", "p50_s", "p90_s", "p95_s", "p99_s", "max_s", "mean_s", "stdev_s", "iqr_s", "cv", "median_ci_s"}


@settings(max_examples=200, deadline=None)
@given(samples_st)
def test_property_order_of_reported_statistics(xs):
    s = summarize(xs)
    chain = [s.min_s] + [v for v in (s.p50_s, s.p90_s, s.p95_s, s.p99_s) if v is not None] + [s.max_s]
    assert all(a <= b for a, b in zip(chain, chain[1:]))
    assert s.min_s <= s.mean_s * (1 + 1e-12) and s.mean_s <= s.max_s * (1 + 1e-12)
    if s.iqr_s is not None:
        assert s.iqr_s >= 0
    if s.stdev_s is not None:
        assert s.stdev_s >= 0


@settings(max_examples=200, deadline=None)
@given(samples_st)
def test_property_ci_contains_the_median(xs):
    s = summarize(xs)
    ci = median_ci(sorted(xs), s.ci_confidence)
    med = percentile(sorted(xs), 0.5)
    if ci is None:
        assert len(xs) < 6
    else:
        assert ci[0] <= med <= ci[1]


@settings(max_examples=200, deadline=None)
@given(samples_st, st.floats(0, 1), st.floats(0, 1))
def test_property_percentile_monotone_in_q(xs, q1, q2):
    ys = sorted(xs)
    lo, hi = min(q1, q2), max(q1, q2)
    assert percentile(ys, lo) <= percentile(ys, hi)
    assert ys[0] <= percentile(ys, lo) <= ys[-1]


@settings(max_examples=100, deadline=None)
@given(samples_st, st.randoms(use_true_random=False))
def test_property_summary_ignores_sample_order(xs, rnd):
    shuffled = list(xs)
    rnd.shuffle(shuffled)
    a, b = summarize(xs), summarize(shuffled)
    assert (a.min_s, a.p50_s, a.p99_s, a.max_s, a.median_ci_s) == (b.min_s, b.p50_s, b.p99_s, b.max_s, b.median_ci_s)
    assert a.mean_s == pytest.approx(b.mean_s, rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=20000))
def test_property_ci_indices_are_symmetric_and_in_range(n):
    idx = median_ci_indices(n)
    if idx is not None:
        lo, hi = idx
        assert 0 <= lo <= (n - 1) / 2 <= hi <= n - 1 and lo + hi == n - 1
