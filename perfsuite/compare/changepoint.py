"""Change points in a metric's history: E-divisive with a permutation test (Matteson & James, 2014).

The method MongoDB's signal-processing-algorithms and Apache Otava (ex Hunter) run over nightly
performance results, implemented here on numpy so perfsuite needs neither (their pins on numpy,
scipy and structlog fight torch's stack, and neither is needed for a few hundred points):

1. Divisive: for every split tau of a segment, the energy statistic
       q(tau) = (m n / (m + n)) * (2/(m n) sum|x_i - y_j| - 1/C(m,2) sum|x_i - x_k| - 1/C(n,2) sum|y_j - y_k|)
   (alpha = 1) measures how far the distributions before and after tau are apart; the split with the
   largest q over all current segments is the candidate.
2. Significance: the candidate's q is compared with the best q of `permutations` random
   shuffles of its segment; the p-value is (1 + #shuffles at least as large) / (1 + permutations).
   Kept when p <= alpha, then the segments are split again, until no candidate is significant.

Groups: points that measured the same code (the runs of one commit) carry one group label, and
the group, not the point, is the unit: a split falls only between two groups, never inside one,
each side of it holds at least `min_size` groups, and the shuffles permute whole groups. Runs of
one commit are often measured in one stretch (one CI job, one quiet or busy hour) and share its
disturbance, so their agreement says little about the commit's level: shuffling single runs would
take that shared disturbance for a change. Shuffling groups keeps it inside each group, so the
test holds its alpha however the runs of a commit are correlated, and noise among the runs of one
commit can never be a change point. Without labels every point is a group of its own (the method
as published); a series of one group has no change point.

The shuffles are seeded from the series itself, so the same history always gives the same answer
(a CI job that flags a change today flags it tomorrow), while different series get different
shuffles: a fixed set of shuffles shared by every series holds alpha only on average over seeds,
and one such set can exceed it for all series alike. Each change point carries its magnitude (the relative
change of the median after it against the median before it, within the neighbouring segments)
and its index: the first point measured after the change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_ALPHA = 0.05
DEFAULT_PERMUTATIONS = 199
MIN_SEGMENT = 2  # a change needs two groups (points) on each side: one outlier, or one commit's runs, is not a level


@dataclass(frozen=True)
class ChangePoint:
    index: int  # the first point after the change
    q: float  # the energy statistic of the split
    p_value: float
    before: float  # median of the segment before
    after: float  # median of the segment after

    @property
    def magnitude(self) -> float:
        """Relative change, after / before - 1 (+0.10: 10% higher after the change)."""
        return self.after / self.before - 1.0 if self.before else float("inf")


def _q_at(values: np.ndarray, taus: np.ndarray) -> tuple[int, float]:
    """The best of the splits `taus` (each the index of the first point after it) and its statistic; (-1, -inf) if none."""
    if len(taus) == 0:
        return -1, float("-inf")
    n = len(values)
    d = np.abs(values[:, None] - values[None, :])
    s = np.zeros((n + 1, n + 1))
    s[1:, 1:] = d.cumsum(0).cumsum(1)

    m, k = taus.astype(float), (n - taus).astype(float)
    between = s[taus, n] - s[taus, taus]  # sum of |x_i - y_j|: rows before tau, columns after
    within_x = s[taus, taus] / 2.0
    within_y = (s[n, n] - s[taus, n] - s[n, taus] + s[taus, taus]) / 2.0
    q = (m * k / (m + k)) * (2.0 * between / (m * k) - within_x / (m * (m - 1) / 2.0) - within_y / (k * (k - 1) / 2.0))
    i = int(np.argmax(q))
    return int(taus[i]), float(q[i])


def group_sizes(groups: Sequence[Hashable]) -> list[int]:
    """The number of points of each group, in order; each group's points must be consecutive."""
    seen: set[Hashable] = set()
    sizes: list[int] = []
    for i, label in enumerate(groups):
        if i and label == groups[i - 1]:
            sizes[-1] += 1
            continue
        if label in seen:
            raise ValueError(f"the points of group {label!r} are not consecutive (again at point {i}, after other groups): order the series by group first")
        seen.add(label)
        sizes.append(1)
    return sizes


def _best_split(blocks: Sequence[np.ndarray], min_size: int) -> tuple[int, float]:
    """The best split of these groups (point index of the first point after it) leaving `min_size` groups each side."""
    if len(blocks) < 2 * min_size:
        return -1, float("-inf")
    ends = np.cumsum([len(b) for b in blocks])
    return _q_at(np.concatenate(blocks), ends[min_size - 1 : len(blocks) - min_size])


def change_points(
    series: Sequence[float],
    *,
    groups: Sequence[Hashable] | None = None,
    alpha: float = DEFAULT_ALPHA,
    permutations: int = DEFAULT_PERMUTATIONS,
    min_size: int = MIN_SEGMENT,
    seed: int | None = None,
) -> list[ChangePoint]:
    """The significant change points of `series` (in order of time), each with its magnitude.

    `groups`: one label per point (the commit it measured), each group's points consecutive; a
    change point lies only where the label changes, and the test shuffles whole groups. Default:
    every point a group of its own. `seed`: of the shuffles (default: derived from the series).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    values = np.asarray([float(v) for v in series], dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError("the series holds NaN or infinite values; leave missing points out")
    if groups is not None and len(groups) != len(values):
        raise ValueError(f"{len(groups)} group labels for {len(values)} points: give one label per point")
    sizes = [1] * len(values) if groups is None else group_sizes(groups)
    blocks = np.split(values, np.cumsum(sizes)[:-1]) if len(values) else []
    starts = [0, *np.cumsum(sizes).tolist()]  # point index where each group starts (and the end)
    rng = np.random.default_rng(_seed_of(values, sizes) if seed is None else seed)
    cuts: list[tuple[int, float, float]] = []  # (group index of the first group after the cut, q, p)
    while True:
        bounds = [0, *sorted(c[0] for c in cuts), len(blocks)]
        best: tuple[float, int, int, int] | None = None  # (q, group after the cut, first group, end group)
        for first, end in zip(bounds, bounds[1:]):
            tau, q = _best_split(blocks[first:end], min_size)
            if tau >= 0 and (best is None or q > best[0]):
                best = (q, starts.index(starts[first] + tau), first, end)
        if best is None:
            break
        q, cut, first, end = best
        segment = blocks[first:end]
        if np.ptp(np.concatenate(segment)) == 0:
            break
        # A shuffle that puts the same groups on each side gives the same q up to rounding (the sums
        # run in another order); it must count as at least as large, or the test loses its alpha.
        tie = q - 1e-9 * abs(q)
        larger = sum(_best_split([segment[i] for i in rng.permutation(len(segment))], min_size)[1] >= tie for _ in range(permutations))
        p = (1 + larger) / (1 + permutations)
        if p > alpha:
            break
        cuts.append((cut, q, p))
    out = []
    ordered = sorted(cuts)
    edges = [0, *(starts[c[0]] for c in ordered), len(values)]
    for i, (cut, q, p) in enumerate(ordered):
        tau = starts[cut]
        before = float(np.median(values[edges[i] : tau]))
        after = float(np.median(values[tau : edges[i + 2]]))
        out.append(ChangePoint(index=tau, q=q, p_value=p, before=before, after=after))
    return out


def _seed_of(values: np.ndarray, sizes: Sequence[int]) -> int:
    digest = hashlib.blake2b(values.tobytes() + np.asarray(sizes, dtype=np.int64).tobytes(), digest_size=8).digest()
    return int.from_bytes(digest, "little")
