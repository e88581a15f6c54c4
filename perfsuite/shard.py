"""`--perf-shard K/N`: a deterministic, balanced share of the cases, for a CI matrix of N machines.

Pure. Each test gets an expected cost: its median wall time in the history store when there is
one (perfsuite.results.history, any machine), else the median of the known costs, else 1. The
tests are dealt longest first to the shard with the least expected time so far (ties: the
lowest shard, then the test id), so the N shards together run every test exactly once and finish
at about the same time.

Every shard must compute the same split: the same suite and options, and the same history (a
shared `--perf-history` database, or the same restored history file). Runs of the commit being
measured are left out of the costs, so a shard that finishes (and appends) before another starts
does not change the other's split. With no history at all the split is by count, which every
machine computes alike. `perfsuite merge` says when the merged shards are not 1..N.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Mapping, Sequence


def parse_shard(text: str) -> tuple[int, int]:
    """'2/4' -> (2, 4); shards are numbered 1..N."""
    k, sep, n = text.partition("/")
    try:
        k_i, n_i = int(k), int(n)
    except ValueError:
        k_i = n_i = 0
    if not sep or n_i < 1 or not 1 <= k_i <= n_i:
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N (e.g. 1/4 for the first of four machines), got {text!r}")
    return k_i, n_i


def split(tests: Sequence[str], costs: Mapping[str, float], shards: int) -> list[list[str]]:
    """`tests` dealt into `shards` lists of about equal expected cost (longest first)."""
    known = [costs[t] for t in tests if t in costs and costs[t] > 0]
    default = statistics.median(known) if known else 1.0
    expected = {t: costs.get(t, default) if costs.get(t, 0) > 0 else default for t in tests}
    load = [0.0] * shards
    out: list[list[str]] = [[] for _ in range(shards)]
    for test in sorted(tests, key=lambda t: (-expected[t], t)):
        target = min(range(shards), key=lambda s: (load[s], s))
        out[target].append(test)
        load[target] += expected[test]
    return out


def select(tests: Sequence[str], costs: Mapping[str, float], shard: tuple[int, int]) -> set[str]:
    k, n = shard
    return set(split(tests, costs, n)[k - 1])
