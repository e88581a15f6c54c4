"""--perf-shard K/N: every test in exactly one shard, balanced by expected cost, the same split everywhere."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsuite.shard import parse_shard, select, split


@given(st.lists(st.text(min_size=1, max_size=8), unique=True, max_size=40), st.integers(1, 6),
       st.dictionaries(st.text(min_size=1, max_size=8), st.floats(0.01, 100), max_size=20))
def test_every_test_lands_in_exactly_one_shard(tests, shards, costs):
    parts = split(tests, costs, shards)
    assert sorted(t for part in parts for t in part) == sorted(tests)
    assert parts == split(list(reversed(tests)), costs, shards)  # the order tests are listed in does not matter


def test_shards_are_balanced_by_cost_from_history():
    costs = {"slow": 10.0, "a": 2.0, "b": 2.0, "c": 3.0, "d": 3.0}
    parts = split(list(costs), costs, 2)
    assert sorted(sum(costs[t] for t in p) for p in parts) == [10.0, 10.0]
    assert select(list(costs), costs, (1, 2)) == {"slow"}
    # Without history: by count.
    assert [len(p) for p in split([f"t{i}" for i in range(7)], {}, 3)] == [3, 2, 2]
    # A test new since the history costs the median of the known ones.
    assert split(["x", "y", "new"], {"x": 1.0, "y": 5.0}, 2) == [["y"], ["new", "x"]]


@pytest.mark.parametrize("bad", ["0/2", "3/2", "1", "a/b", "1/0", "-1/2"])
def test_bad_shards_say_what_is_expected(bad):
    with pytest.raises(argparse.ArgumentTypeError, match="expected K/N with 1 <= K <= N"):
        parse_shard(bad)
    assert parse_shard("2/4") == (2, 4)
