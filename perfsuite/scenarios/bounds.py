"""Distribution-free bounds: LoadGen's early-stopping percentile bound and the Wilson interval.

**Early stopping (LoadGen).** Among ``n`` independent latencies, the number above the true
``q`` quantile is Binomial(n, 1 - q). Let ``t`` be the largest count with::

    P[Binomial(n, 1 - q) <= t] <= 1 - c

then the (n - t)-th smallest latency is at least the true quantile with probability >= c: it is
an upper ``c``-confidence bound on the percentile, the figure LoadGen reports with early
stopping. The percentile counts as *established* when ``t >= 1`` (the bound is not the single
slowest request), which is `perfsuite.measure.stats.min_samples_for_percentile` with two tail
samples: 64 requests for p90 and 662 for p99 at 99% confidence.

**Wilson score interval** for a proportion (SLO attainment: requests meeting the SLO out of
all sent), two-sided at ``confidence``: each bound alone holds with (1 + confidence) / 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist


def binomial_cdf(n: int, p: float) -> list[float]:
    """``[P[Binomial(n, p) <= k] for k in 0..n]``, from the pmf summed in order (exact to float precision)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n!r}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    if p in (0.0, 1.0):
        return [1.0] * (n + 1) if p == 0.0 else [0.0] * n + [1.0]
    import numpy as np

    k = np.arange(1, n + 1, dtype=np.float64)
    log_choose = np.concatenate(([0.0], np.cumsum(np.log(n - k + 1) - np.log(k))))
    ks = np.arange(n + 1, dtype=np.float64)
    cdf = np.cumsum(np.exp(log_choose + ks * math.log(p) + (n - ks) * math.log1p(-p)))
    return [min(float(v), 1.0) for v in cdf]


def early_stopping_rank(n: int, q: float, confidence: float) -> int | None:
    """1-based rank of the order statistic bounding the ``q`` quantile from above; None if none does.

    ``n - t`` with ``t`` the largest overlatency count such that P[Binomial(n, 1 - q) <= t] <= 1 - confidence.
    """
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {q!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if n < 1:
        return None
    cdf = binomial_cdf(n, 1.0 - q)
    alpha = 1.0 - confidence
    t = -1
    for k, value in enumerate(cdf):  # non-decreasing: stop at the first k past alpha
        if value > alpha:
            break
        t = k
    return None if t < 0 else n - t


def early_stopping_bound(sorted_values: Sequence[float], q: float, confidence: float) -> float | None:
    """The upper ``confidence`` bound on the ``q`` quantile of sorted values (see the module docstring)."""
    rank = early_stopping_rank(len(sorted_values), q, confidence)
    return None if rank is None else sorted_values[rank - 1]


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of the proportion ``successes / n``; ``(0, 1)`` when n is 0."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = successes / n
    z2n = z * z / n
    center = (p + z2n / 2.0) / (1.0 + z2n)
    half = z * math.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n)) / (1.0 + z2n)
    lo = 0.0 if successes == 0 else max(0.0, center - half)
    hi = 1.0 if successes == n else min(1.0, center + half)
    return lo, hi
