"""Seeded arrival schedules: reproducible, prefix-stable, the right mean rate and burstiness."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfsuite.errors import PerfConfigError
from perfsuite.scenarios import ArrivalSpec, arrival_times

processes = st.sampled_from(["constant", "poisson", "gamma"])


@pytest.mark.parametrize("process", ["constant", "poisson", "gamma"])
def test_same_seed_same_schedule_other_seed_other_schedule(process):
    a = arrival_times(process, 100.0, n=500, seed=7, shape=0.5)
    b = arrival_times(process, 100.0, n=500, seed=7, shape=0.5)
    assert a == b
    if process != "constant":
        assert arrival_times(process, 100.0, n=500, seed=8, shape=0.5) != a


def test_spec_times_equal_the_function_and_describe_themselves():
    spec = ArrivalSpec("gamma", rate_per_s=40.0, seed=3, shape=2.0)
    assert spec.times(n=100) == arrival_times("gamma", 40.0, n=100, seed=3, shape=2.0)
    assert spec.to_dict() == {"process": "gamma", "rate_per_s": 40.0, "seed": 3, "shape": 2.0}


@settings(max_examples=40, deadline=None)
@given(process=processes, seed=st.integers(0, 2**32), short=st.integers(0, 5000), extra=st.integers(0, 9000))
def test_a_shorter_schedule_is_a_prefix_of_a_longer_one(process, seed, short, extra):
    # gaps come from one generator stream in order, also across the internal chunks of 4096
    small = arrival_times(process, 10.0, n=short, seed=seed, shape=0.7)
    large = arrival_times(process, 10.0, n=short + extra, seed=seed, shape=0.7)
    assert large[:short] == small


@settings(max_examples=30, deadline=None)
@given(
    process=processes,
    rate=st.floats(0.5, 5000.0),
    shape=st.floats(0.25, 8.0),
    seed=st.integers(0, 2**32),
)
def test_offsets_are_sorted_positive_with_mean_gap_one_over_rate(process, rate, shape, seed):
    n = 20_000
    xs = arrival_times(process, rate, n=n, seed=seed, shape=shape)
    assert len(xs) == n
    assert xs[0] > 0
    assert all(b >= a for a, b in itertools.pairwise(xs))
    mean_gap = xs[-1] / n
    # the mean of n gaps has relative sd 1/sqrt(k n) (k = 1 for poisson, exact for constant): 8 sd of slack
    k = {"constant": math.inf, "poisson": 1.0, "gamma": shape}[process]
    tol = 8.0 / math.sqrt(k * n) + 1e-9
    assert mean_gap == pytest.approx(1.0 / rate, rel=tol)


def test_gamma_shape_sets_burstiness_and_constant_is_regular():
    def cv2(xs):
        gaps = [b - a for a, b in zip((0.0, *xs), xs)]
        return statistics.pvariance(gaps) / statistics.fmean(gaps) ** 2

    assert cv2(arrival_times("gamma", 100.0, n=50_000, seed=1, shape=0.5)) == pytest.approx(2.0, rel=0.1)
    assert cv2(arrival_times("gamma", 100.0, n=50_000, seed=1, shape=4.0)) == pytest.approx(0.25, rel=0.1)
    assert cv2(arrival_times("poisson", 100.0, n=50_000, seed=1)) == pytest.approx(1.0, rel=0.1)
    xs = arrival_times("constant", 4.0, n=4)
    assert xs == pytest.approx((0.25, 0.5, 0.75, 1.0))


def test_duration_and_count_are_both_minimums_like_loadgen():
    # duration only: every arrival before it
    xs = arrival_times("constant", 10.0, duration_s=1.0)
    assert xs == pytest.approx(tuple(0.1 * i for i in range(1, 10)))
    # both: runs until both are met
    assert len(arrival_times("constant", 10.0, n=3, duration_s=1.0)) == 9
    assert len(arrival_times("constant", 10.0, n=30, duration_s=1.0)) == 30
    ys = arrival_times("poisson", 100.0, duration_s=2.0, seed=5)
    assert ys[-1] < 2.0 and 100 < len(ys) < 300
    assert arrival_times("poisson", 100.0, n=0, seed=5) == ()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"process": "uniform", "rate_per_s": 1.0, "n": 1}, r"arrivals\.process.*Allowed: constant, poisson, gamma"),
        ({"process": "poisson", "rate_per_s": 0.0, "n": 1}, r"arrivals\.rate_per_s.*positive"),
        ({"process": "poisson", "rate_per_s": -3.0, "n": 1}, r"rate_per_s"),
        ({"process": "gamma", "rate_per_s": 1.0, "shape": 0.0, "n": 1}, r"arrivals\.shape.*Hint: shape 1 is a Poisson"),
        ({"process": "poisson", "rate_per_s": 1.0}, r"needs a length.*Hint: pass n="),
        ({"process": "poisson", "rate_per_s": 1.0, "n": -1}, r"arrivals\.n"),
        ({"process": "poisson", "rate_per_s": 1.0, "duration_s": math.inf}, r"duration_s"),
        ({"process": "poisson", "rate_per_s": 1e9, "duration_s": 1e3}, r"more than .*Hint: check rate_per_s"),
        ({"process": "poisson", "rate_per_s": 1.0, "n": 1, "seed": -1}, r"arrivals\.seed"),
    ],
)
def test_bad_schedules_say_what_to_fix(kwargs, match):
    process, rate = kwargs.pop("process"), kwargs.pop("rate_per_s")
    with pytest.raises(PerfConfigError, match=match):
        arrival_times(process, rate, **kwargs)


def test_spec_validates_on_construction():
    with pytest.raises(PerfConfigError, match="rate_per_s"):
        ArrivalSpec("poisson", rate_per_s=float("nan"))
