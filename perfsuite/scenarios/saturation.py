"""Over-saturation: does the queue grow without bound over a run?

A stable queue (arrival rate below capacity) has a stationary length: it fluctuates but does not
drift. Past capacity the backlog grows roughly linearly with time. The test uses the backlog
each request finds when it arrives (requests sent before it and not yet started), known
exactly for every request, also those never served (their queueing delay is not: it is
censored by the end of the run, which would hide the growth at the very end):

1. Split the requests, in send order, into ``blocks`` (10) groups of equal count and take each
   group's **median** backlog. Block medians damp the strong correlation between neighbouring
   requests that makes a per-request regression's confidence interval far too narrow.
2. **Trend:** a one-sided Mann-Kendall test on the block medians (S = sum of the signs of all
   later-minus-earlier pairs; z = (S - 1) / sqrt(K (K - 1) (2K + 5) / 18)) must reject "no upward
   trend" at ``confidence`` (99%: with 10 blocks, S >= 28 of a possible 45).
3. **Size:** the last block's median backlog must exceed the first's by more than ``min_growth``
   mean batches (requests one ``serve`` call takes): a drift of a batch or two is the noise of a
   stable queue, not growth.

Both must hold. A run with too few requests (under ``blocks * min_per_block``) gets no verdict
(``flag`` None) rather than a guess. Near capacity (utilization ~0.95) a short run may
legitimately be judged either way: such a queue does wander far from its mean.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from dataclasses import dataclass
from statistics import NormalDist

from perfsuite.scenarios.records import LoadResult

DEFAULT_BLOCKS = 10
DEFAULT_MIN_PER_BLOCK = 5
DEFAULT_CONFIDENCE = 0.99
DEFAULT_MIN_GROWTH = 2.0


@dataclass(frozen=True)
class Oversaturation:
    """The verdict (None: too few requests) and the figures behind it."""

    flag: bool | None
    reason: str
    block_backlog: tuple[float, ...] = ()  # median backlog found on arrival, per block
    trend_z: float | None = None
    growth: float | None = None  # last block's median backlog - first block's (requests)
    mean_batch_size: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "flag": self.flag,
            "reason": self.reason,
            "block_backlog": list(self.block_backlog),
            "trend_z": self.trend_z,
            "growth": self.growth,
            "mean_batch_size": self.mean_batch_size,
        }


def mann_kendall_z(values: tuple[float, ...] | list[float]) -> float:
    """Mann-Kendall trend statistic with continuity correction (> 0: upward); ties count 0."""
    k = len(values)
    if k < 3:
        raise ValueError(f"a trend test needs at least 3 values, got {k}")
    s = sum(
        (values[j] > values[i]) - (values[j] < values[i]) for i in range(k - 1) for j in range(i + 1, k)
    )
    sd = math.sqrt(k * (k - 1) * (2 * k + 5) / 18.0)
    if s == 0:
        return 0.0
    return (s - 1) / sd if s > 0 else (s + 1) / sd


def detect_oversaturation(
    result: LoadResult,
    *,
    blocks: int = DEFAULT_BLOCKS,
    min_per_block: int = DEFAULT_MIN_PER_BLOCK,
    confidence: float = DEFAULT_CONFIDENCE,
    min_growth: float = DEFAULT_MIN_GROWTH,
) -> Oversaturation:
    """Judge whether ``result``'s queue grew without bound (see the module docstring)."""
    if blocks < 3 or min_per_block < 1:
        raise ValueError(f"need blocks >= 3 and min_per_block >= 1, got {blocks}, {min_per_block}")
    requests = sorted(result.requests, key=lambda r: r.sent_s)
    n = len(requests)
    if n < blocks * min_per_block:
        return Oversaturation(None, f"needs >= {blocks * min_per_block} requests to judge a trend, have {n}")
    if not result.batches:
        return Oversaturation(True, "no request was served before the drain limit")
    starts = sorted(r.start_s for r in requests if r.start_s is not None)
    backlog = [i - bisect.bisect_right(starts, r.sent_s) for i, r in enumerate(requests)]
    edges = [round(i * n / blocks) for i in range(blocks + 1)]
    medians = tuple(float(statistics.median(backlog[a:b])) for a, b in itertools.pairwise(edges))
    z = mann_kendall_z(medians)
    growth = medians[-1] - medians[0]
    batch = sum(b.size for b in result.batches) / len(result.batches)
    z_crit = NormalDist().inv_cdf(confidence)
    trend, grew = z > z_crit, growth > min_growth * batch
    if trend and grew:
        reason = (f"the backlog found on arrival grew from {medians[0]:g} to {medians[-1]:g} requests "
                  f"(trend z = {z:.2f}): offered load exceeds capacity")
        return Oversaturation(True, reason, medians, z, growth, batch)
    failed = [
        *([f"no significant upward trend (z = {z:.2f} <= {z_crit:.2f})"] if not trend else []),
        *([f"backlog grew by {growth:g} requests, within {min_growth:g} mean batches ({batch:.3g})"]
          if not grew else []),
    ]
    return Oversaturation(False, "stable: " + "; ".join(failed), medians, z, growth, batch)
