"""WarmupPolicy / StopPolicy validation: bad values raise PerfConfigError naming the key."""

from __future__ import annotations

import pytest

from perfsuite.errors import PerfConfigError
from perfsuite.measure.policy import StopPolicy, WarmupPolicy


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
