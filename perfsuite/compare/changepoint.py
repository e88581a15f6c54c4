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

The shuffles use a fixed seed, so the same history always gives the same answer (a CI job that
flags a change today flags it tomorrow). Each change point carries its magnitude (the relative
change of the median after it against the median before it, within the neighbouring segments)
and its index: the first point measured after the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_ALPHA = 0.05
DEFAULT_PERMUTATIONS = 199
MIN_SEGMENT = 2  # a change needs at least two points on each side: one outlier is not a level


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


def _q_all(values: np.ndarray, min_size: int) -> tuple[int, float]:
    """The best split (index of the first point after it) of `values` and its statistic; (-1, -inf) if none fits."""
    n = len(values)
    if n < 2 * min_size:
        return -1, float("-inf")
    d = np.abs(values[:, None] - values[None, :])
    s = np.zeros((n + 1, n + 1))
    s[1:, 1:] = d.cumsum(0).cumsum(1)

    taus = np.arange(min_size, n - min_size + 1)
    m, k = taus.astype(float), (n - taus).astype(float)
    between = s[taus, n] - s[taus, taus]  # sum of |x_i - y_j|: rows before tau, columns after
    within_x = s[taus, taus] / 2.0
    within_y = (s[n, n] - s[taus, n] - s[n, taus] + s[taus, taus]) / 2.0
    q = (m * k / (m + k)) * (2.0 * between / (m * k) - within_x / (m * (m - 1) / 2.0) - within_y / (k * (k - 1) / 2.0))
    i = int(np.argmax(q))
    return int(taus[i]), float(q[i])


def change_points(
    series: Sequence[float],
    *,
    alpha: float = DEFAULT_ALPHA,
    permutations: int = DEFAULT_PERMUTATIONS,
    min_size: int = MIN_SEGMENT,
    seed: int = 0,
) -> list[ChangePoint]:
    """The significant change points of `series` (in order of time), each with its magnitude."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    values = np.asarray([float(v) for v in series], dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError("the series holds NaN or infinite values; leave missing points out")
    rng = np.random.default_rng(seed)
    cuts: list[tuple[int, float, float]] = []  # (index, q, p)
    while True:
        bounds = [0, *sorted(c[0] for c in cuts), len(values)]
        best: tuple[float, int, int, int] | None = None  # (q, tau, start, end)
        for start, end in zip(bounds, bounds[1:]):
            tau, q = _q_all(values[start:end], min_size)
            if tau >= 0 and (best is None or q > best[0]):
                best = (q, start + tau, start, end)
        if best is None:
            break
        q, tau, start, end = best
        segment = values[start:end].copy()
        if np.ptp(segment) == 0:
            break
        larger = 0
        for _ in range(permutations):
            rng.shuffle(segment)
            if _q_all(segment, min_size)[1] >= q:
                larger += 1
        p = (1 + larger) / (1 + permutations)
        if p > alpha:
            break
        cuts.append((tau, q, p))
    out = []
    ordered = sorted(cuts)
    edges = [0, *(c[0] for c in ordered), len(values)]
    for i, (tau, q, p) in enumerate(ordered):
        before = float(np.median(values[edges[i] : tau]))
        after = float(np.median(values[tau : edges[i + 2]]))
        out.append(ChangePoint(index=tau, q=q, p_value=p, before=before, after=after))
    return out
