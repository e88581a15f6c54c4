"""WarmupPolicy / StopPolicy validation: bad values raise PerfConfigError naming the key."""

from __future__ import annotations

import pytest

from perfsuite.errors import PerfConfigError
from perfsuite.measure.policy import StopPolicy, WarmupPlan, WarmupPolicy, plan_warmup


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"min_calls": 0}, "warmup.min_calls"),
        ({"min_calls": -3}, "warmup.min_calls"),
        ({"min_calls": 2.5}, "warmup.min_calls"),
        ({"min_calls": True}, "warmup.min_calls"),
        ({"window": 0}, "warmup.window"),
        ({"rel_tol": 0}, "warmup.rel_tol"),
        ({"rel_tol": 1.5}, "warmup.rel_tol"),
        ({"max_calls": 0}, "warmup.max_calls"),
        ({"max_time_s": 0}, "warmup.max_time_s"),
        ({"max_time_s": -1.0}, "warmup.max_time_s"),
        ({"max_time_s": float("nan")}, "warmup.max_time_s"),
        ({"min_calls": 10, "max_calls": 5}, "warmup.max_calls"),
        ({"budget_fraction": 0}, "warmup.budget_fraction"),
        ({"budget_fraction": 1.5}, "warmup.budget_fraction"),
        ({"budget_fraction": "a quarter"}, "warmup.budget_fraction"),
    ],
)
def test_warmup_policy_rejects(kwargs, key):
    with pytest.raises(PerfConfigError) as info:
        WarmupPolicy(**kwargs)
    assert info.value.key == key
    assert key in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"min_time_s": 0}, "stop.min_time_s"),
        ({"min_time_s": -0.1}, "stop.min_time_s"),
        ({"min_rounds": 0}, "stop.min_rounds"),
        ({"min_rounds": -1}, "stop.min_rounds"),
        ({"target_rel_ci": 0}, "stop.target_rel_ci"),
        ({"target_rel_ci": 1.0}, "stop.target_rel_ci"),
        ({"max_time_s": 0}, "stop.max_time_s"),
        ({"max_rounds": 0}, "stop.max_rounds"),
        ({"ci_confidence": 1.0}, "stop.ci_confidence"),
        ({"percentile_confidence": 0}, "stop.percentile_confidence"),
        ({"tail_samples": 0}, "stop.tail_samples"),
        ({"noise_iqr_ratio": -0.1}, "stop.noise_iqr_ratio"),
        ({"min_time_s": 5.0, "max_time_s": 1.0}, "stop.max_time_s"),
        ({"min_rounds": 50, "max_rounds": 10}, "stop.max_rounds"),
        ({"establish": ("p42",)}, "stop.establish"),
        ({"establish": "p99"}, "stop.establish"),
        ({"hard_max_time_s": 0}, "stop.hard_max_time_s"),
        ({"hard_max_time_s": float("inf")}, "stop.hard_max_time_s"),
        ({"max_time_s": 30.0, "hard_max_time_s": 20.0}, "stop.hard_max_time_s"),
        ({"min_rounds": 5, "max_rounds": 8}, "stop.max_rounds"),  # p50 needs 11
        ({"max_rounds": 500, "establish": ("p99",)}, "stop.max_rounds"),  # p99 needs 662
    ],
)
def test_stop_policy_rejects(kwargs, key):
    with pytest.raises(PerfConfigError) as info:
        StopPolicy(**kwargs)
    assert info.value.key == key


def test_error_names_value_and_allowed_values():
    with pytest.raises(PerfConfigError) as info:
        StopPolicy(establish=("p42",))
    text = str(info.value)
    assert "'p42'" in text and "p99" in text


def test_defaults_are_valid_and_serialise():
    assert WarmupPolicy().to_dict()["min_calls"] >= 1
    d = StopPolicy(establish=("p99",)).to_dict()
    assert d["establish"] == ["p99"] and d["min_rounds"] >= 1


def test_policies_are_frozen():
    with pytest.raises(AttributeError):
        StopPolicy().min_rounds = 3  # type: ignore[misc]


def test_hard_budget_below_soft_cap_says_how_to_fix_it():
    with pytest.raises(PerfConfigError) as info:
        StopPolicy(max_time_s=200.0)
    text = str(info.value)
    assert "hard_max_time_s" in text and "200.0" in text and "raise it" in text


def test_max_rounds_below_the_median_floor_names_what_it_cannot_establish():
    with pytest.raises(PerfConfigError) as info:
        StopPolicy(min_rounds=5, max_rounds=500, establish=("p99",))
    text = str(info.value)
    assert "p50, p99" in text and "662" in text


def test_min_samples_covers_p50_and_the_establish_list():
    assert StopPolicy().min_samples == 11
    assert StopPolicy(establish=("p90",)).min_samples == 64
    assert StopPolicy(establish=("p99", "p90")).min_samples == 662


def test_budget_fraction_of_one_is_allowed():
    assert WarmupPolicy(budget_fraction=1).budget_fraction == 1


@pytest.mark.parametrize(
    ("per_sample_s", "scaled", "window", "min_calls"),
    [
        (0.001, False, 5, 5),  # the 10 samples of 1 ms the policy needs fit easily in 25% of 10 s
        (0.2, True, 3, 5),  # 1.4 s spent, 1.1 s left: 5 more, 7 in all -> window 3
        (0.5, True, 1, 4),  # 2.0 s spent, 0.5 s left: 1 more, 3 in all -> window 1, 4 calls
        (3.0, True, 1, 3),  # nothing more fits: the cold call plus the 2 samples made
    ],
)
def test_plan_warmup_scales_window_and_min_calls_to_what_fits(per_sample_s, scaled, window, min_calls):
    spent = 1.0 + 2 * per_sample_s  # a 1 s cold call and the 2 samples every warm-up makes
    plan = plan_warmup(WarmupPolicy(), budget_s=10.0, spent_s=spent, samples_taken=2, per_sample_s=per_sample_s)
    assert plan.time_cap_s == pytest.approx(2.5)
    assert plan.scaled is scaled and plan.window == window and plan.min_calls == min_calls
    assert ("25% of the case budget" in plan.reason) is scaled


def test_plan_warmup_without_budget_is_the_policy():
    policy = WarmupPolicy(min_calls=9, window=4, max_time_s=12.0)
    assert plan_warmup(policy, budget_s=None, spent_s=50.0, samples_taken=2, per_sample_s=9.0) == WarmupPlan(9, 4, 12.0)
