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
