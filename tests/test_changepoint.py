"""E-divisive change points: steps found where they are, with their size; quiet series left alone."""

from __future__ import annotations

import numpy as np
import pytest

from perfsuite.compare.changepoint import change_points


def noisy(levels: list[tuple[float, int]], rel_noise: float, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return [level * (1 + rng.normal(0, rel_noise)) for level, n in levels for _ in range(n)]


@pytest.mark.parametrize("seed", range(5))
def test_a_ten_percent_step_is_found_at_its_first_run_with_its_size(seed):
    found = change_points(noisy([(10.0, 5), (11.0, 5)], 0.005, seed))
    assert [c.index for c in found] == [5]
    assert found[0].magnitude == pytest.approx(0.10, abs=0.01) and found[0].p_value <= 0.05


def test_two_steps_in_a_longer_series():
    found = change_points(noisy([(10.0, 20), (11.0, 20), (10.5, 20)], 0.01, 3))
    assert [c.index for c in found] == [20, 40]
    assert [round(c.magnitude, 2) for c in found] == [pytest.approx(0.10, abs=0.01), pytest.approx(-0.045, abs=0.01)]


def test_quiet_series_rarely_get_a_change_point():
    # alpha = 0.05 bounds the false alarms of the first test per series; 40 quiet series may give a few.
    alarms = sum(bool(change_points(noisy([(10.0, 30)], 0.01, seed))) for seed in range(40))
    assert alarms <= 6


def test_the_same_history_always_gives_the_same_answer():
    series = noisy([(10.0, 8), (10.4, 8)], 0.01, 11)
    assert change_points(series) == change_points(series)


def test_flat_short_and_bad_series():
    assert change_points([5.0] * 10) == []
    assert change_points([1.0, 2.0, 3.0]) == []  # too short for two segments of two
    with pytest.raises(ValueError, match="NaN"):
        change_points([1.0, float("nan"), 1.0, 1.0])
    with pytest.raises(ValueError, match="alpha"):
        change_points([1.0] * 5, alpha=1.5)


# -- groups: the runs of one commit ------------------------------------------------------------------

def commits(n_commits: int, runs: int, seed: int, *, noise: float = 0.01, stretch: float = 0.03, outlier: float = 1.6,
            step: tuple[int, float] | None = None) -> tuple[list[float], list[str]]:
    """`runs` runs of each of `n_commits` commits: each commit measured in a stretch of its own (a level off by
    `stretch`, shared by its runs), run noise on top, and one heavy outlier run in a random commit."""
    rng = np.random.default_rng(seed)
    bad = (int(rng.integers(n_commits)), int(rng.integers(runs)))
    values, labels = [], []
    for c in range(n_commits):
        level = 10.0 * (1 + rng.normal(0, stretch)) * (step[1] if step and c >= step[0] else 1.0)
        for r in range(runs):
            values.append(level * (1 + rng.normal(0, noise)) * (outlier if (c, r) == bad else 1.0))
            labels.append(f"{c:02d}" + "c" * 38)
    return values, labels


def test_runs_of_one_commit_never_make_a_change_point():
    values = [10.0, 10.1, 9.9, 10.0, 16.0, 16.2, 15.9, 16.1]  # the last four measured in a busy hour
    assert [c.index for c in change_points(values)] == [4]  # as single points: a change
    assert change_points(values, groups=["a"] * 8) == []  # one commit: noise, whatever its shape


@pytest.mark.parametrize(("n_commits", "runs"), [(4, 8), (3, 12)])
def test_a_a_histories_of_few_commits_hold_alpha_where_single_runs_do_not(n_commits, runs):
    alpha, trials = 0.05, 200
    series = [commits(n_commits, runs, seed) for seed in range(trials)]
    alarms = sum(bool(change_points(v, groups=g, alpha=alpha)) for v, g in series)
    assert alarms <= alpha * trials, f"{alarms} of {trials} A/A histories got a change point"
    # The same histories judged run by run: each commit's shared stretch reads as a change.
    assert sum(bool(change_points(v, alpha=alpha)) for v, g in series[:40]) >= 20


def test_a_a_histories_of_many_commits_hold_alpha():
    # Enough commits for the test to have power (next test): false alarms as alpha implies. A test
    # that holds alpha exceeds this bound in 1 of 200 such sets of trials; one at 2 x alpha, in 5 of 6.
    from scipy.stats import binom

    alpha, trials = 0.05, 200
    series = [commits(10, 3, 1000 + seed) for seed in range(trials)]
    alarms = sum(bool(change_points(v, groups=g, alpha=alpha)) for v, g in series)
    assert alarms <= binom.ppf(0.995, trials, alpha), f"{alarms} of {trials} A/A histories got a change point"


def test_a_step_between_commits_is_found_at_the_first_run_of_its_commit():
    for seed in range(10):
        values, labels = commits(10, 3, seed, stretch=0.01, step=(5, 1.10))
        found = change_points(values, groups=labels)
        assert [c.index for c in found] == [15], seed  # commit 05's first run
        assert found[0].magnitude == pytest.approx(0.10, abs=0.03) and found[0].p_value <= 0.05


def test_a_shuffle_with_the_same_sides_counts_as_at_least_as_large():
    # 4 commits: the only split is 2 | 2, and 8 of the 24 orders of the commits put the same two on
    # each side, so p is about 1/3 however far apart the sides are. Those shuffles sum the same
    # distances in another order; a rounding-level difference must not count them as smaller.
    for seed in range(5):
        values, labels = commits(4, 8, seed, stretch=0.0, step=(2, 1.5))
        (found,) = change_points(values, groups=labels, alpha=0.99)
        assert found.index == 16 and found.p_value >= 0.25, seed


def test_bad_groups_are_refused():
    with pytest.raises(ValueError, match="one label per point"):
        change_points([1.0, 2.0, 3.0], groups=["a", "b"])
    with pytest.raises(ValueError, match="group 'a' are not consecutive.*order the series by group first"):
        change_points([1.0, 1.0, 2.0, 1.0], groups=["a", "a", "b", "a"])
