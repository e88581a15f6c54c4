"""LoadGen's early-stopping bound and the Wilson interval, checked against scipy."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsuite.measure.stats import min_samples_for_percentile
from perfsuite.scenarios import (
    distribution,
    early_stopping_bound,
    early_stopping_rank,
    judge_attainment,
    wilson_interval,
)
from perfsuite.scenarios.bounds import binomial_cdf

scipy_stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize(("n", "p"), [(1, 0.3), (10, 0.5), (64, 0.1), (662, 0.01), (5000, 0.01), (100_000, 0.1)])
def test_binomial_cdf_matches_scipy(n, p):
    ours = binomial_cdf(n, p)
    theirs = scipy_stats.binom.cdf(range(n + 1), n, p)
    assert len(ours) == n + 1
    for k in range(0, n + 1, max(1, n // 500)):
        assert ours[k] == pytest.approx(theirs[k], rel=1e-8, abs=1e-300)


def test_binomial_cdf_edges():
    assert binomial_cdf(3, 0.0) == [1.0] * 4
    assert binomial_cdf(3, 1.0) == [0.0, 0.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="p must be"):
        binomial_cdf(3, 1.5)


@pytest.mark.parametrize(("q", "established_at"), [(0.90, 64), (0.99, 662)])
def test_loadgen_figures_64_for_p90_and_662_for_p99(q, established_at):
    """Established = at least one request beyond the bound (t >= 1) at 99% confidence."""
    # scipy: one overlatency request is allowed at n, not at n - 1
    assert scipy_stats.binom.cdf(1, established_at, 1 - q) <= 0.01 < scipy_stats.binom.cdf(1, established_at - 1, 1 - q)
    rank = early_stopping_rank(established_at, q, 0.99)
    assert rank is not None and established_at - rank == 1
    below = early_stopping_rank(established_at - 1, q, 0.99)
    assert below is None or below == established_at - 1  # only the slowest request bounds it: not established
    assert min_samples_for_percentile(q, 0.99, 2) == established_at


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3000), q=st.sampled_from([0.5, 0.9, 0.95, 0.99]), c=st.sampled_from([0.9, 0.95, 0.99]))
def test_early_stopping_rank_is_the_documented_order_statistic(n, q, c):
    rank = early_stopping_rank(n, q, c)
    if rank is None:
        assert scipy_stats.binom.cdf(0, n, 1 - q) > 1 - c
        return
    t = n - rank
    assert scipy_stats.binom.cdf(t, n, 1 - q) <= 1 - c + 1e-12
    assert t == n or scipy_stats.binom.cdf(t + 1, n, 1 - q) > 1 - c - 1e-12
    # established (rule of perfsuite.measure.stats) exactly when the bound is not the slowest sample
    if q >= 0.5:
        assert (t >= 1) == (n >= min_samples_for_percentile(q, c, 2))


def test_early_stopping_bound_covers_the_true_percentile_at_its_confidence():
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(11)
    true_p90 = -math.log(0.1)  # Exp(1)
    hits = 0
    trials = 2000
    for _ in range(trials):
        xs = sorted(rng.exponential(1.0, 200).tolist())
        hits += early_stopping_bound(xs, 0.9, 0.95) >= true_p90
    assert hits / trials >= 0.93  # nominal 95%; 2000 trials give sd 0.5%


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(1e-6, 10.0), min_size=1, max_size=1500))
def test_distribution_reports_established_percentiles_with_a_bound_above_the_estimate(xs):
    d = distribution(xs)
    for p in d.percentiles:
        assert p.established == (len(xs) >= p.needed)
        if p.established:
            assert p.bound_s >= p.value_s
            assert p.not_established is None
        else:
            assert p.value_s is None and p.bound_s is None
            assert f"needs >= {p.needed} requests" in p.not_established


def test_distribution_marks_unserved_requests_as_unbounded():
    d = distribution([0.01] * 990 + [math.inf] * 10)
    assert d.unbounded == 10
    assert d.mean_s == pytest.approx(0.01)
    assert d["p50"].value_s == pytest.approx(0.01)
    assert d["p99"].bound_s == math.inf
    assert d.to_dict()["p99"]["unbounded"] is True
    assert d.to_dict()["p99"]["bound_s"] is None  # JSON has no infinity
    with pytest.raises(KeyError, match="p50, p90, p99"):
        d["p95"]


def test_wilson_known_values():
    lo, hi = wilson_interval(5, 10, 0.95)
    assert (lo, hi) == (pytest.approx(0.23659, abs=1e-5), pytest.approx(0.76341, abs=1e-5))
    z2 = 1.959963984540054**2
    assert wilson_interval(0, 10) == (0.0, pytest.approx(z2 / (10 + z2)))
    assert wilson_interval(10, 10) == (pytest.approx(10 / (10 + z2)), 1.0)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="successes <= n"):
        wilson_interval(11, 10)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 10_000), frac=st.floats(0, 1), c=st.floats(0.5, 0.999))
def test_wilson_contains_the_estimate_and_narrows_with_confidence(n, frac, c):
    k = round(frac * n)
    lo, hi = wilson_interval(k, n, c)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    lo2, hi2 = wilson_interval(k, n, min(0.9999, c + 0.0005))
    assert lo2 <= lo + 1e-12 and hi2 >= hi - 1e-12


def test_wilson_coverage_near_a_p99_target():
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(5)
    p, n = 0.985, 1000
    draws = rng.binomial(n, p, 5000)
    covered = sum(lo <= p <= hi for lo, hi in (wilson_interval(int(k), n, 0.95) for k in draws))
    assert covered / len(draws) >= 0.93


def test_a_perfect_run_needs_about_380_requests_to_pass_a_p99_target():
    """At 95% the lower Wilson bound of n/n is n / (n + z^2) >= 0.99 from n = 381."""
    assert judge_attainment(380, 380, 0.99).verdict == "inconclusive"
    assert judge_attainment(381, 381, 0.99).verdict == "pass"
    assert judge_attainment(960, 1000, 0.99).verdict == "fail"
    assert judge_attainment(990, 1000, 0.99).verdict == "inconclusive"
