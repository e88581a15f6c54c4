"""Statistics of latency samples: pure functions, raw samples in, frozen records out.

Every function here takes a sequence of durations in **seconds** and returns plain
data; nothing reads a clock or imports torch, so all of it is unit-tested with
fixed numbers.

Percentiles use linear interpolation between order statistics (numpy's default,
"type 7"). A percentile is only *established* when there are enough samples to bound
it (see `min_samples_for_percentile`); otherwise it is reported as ``None`` with a
reason in `SampleStats.not_established`, never as a made-up number.

The confidence interval of the median is distribution-free: it is the pair of order
statistics ``[x_(l), x_(n-l+1)]`` whose coverage follows from the Binomial(n, 1/2)
distribution of the number of samples below the true median (see `median_ci`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

#: Percentiles every `SampleStats` reports, as (field name, quantile).
REPORTED_PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 0.50),
    ("p90", 0.90),
    ("p95", 0.95),
    ("p99", 0.99),
)

#: Confidence with which a reported percentile must be bounded (LoadGen uses 99%).
DEFAULT_PERCENTILE_CONFIDENCE = 0.99
#: Samples that must lie beyond the true quantile (with that confidence) for the
#: percentile to count as established: 2 means the bound is not the lone extreme sample.
DEFAULT_TAIL_SAMPLES = 2
#: Confidence of the median's confidence interval.
DEFAULT_CI_CONFIDENCE = 0.95
#: IQR/median above this ratio raises the `high_iqr` noise flag.
DEFAULT_NOISE_IQR_RATIO = 0.10


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P[Binomial(n, p) <= k], exact to float precision for any n.

    The smaller tail is summed in log space, starting at its boundary term and walking
    away from the mode; the walk stops once a term no longer changes the sum (the pmf is
    unimodal, so from there on terms only shrink). Cost is O(sqrt(n)) terms.
    """
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    if k < n * p:
        return _tail_sum(k, n, p, downwards=True)
    return 1.0 - _tail_sum(k + 1, n, p, downwards=False)


def _tail_sum(start: int, n: int, p: float, *, downwards: bool) -> float:
    """Sum of the Binomial(n, p) pmf from ``start`` to 0 (downwards) or to n (upwards)."""
    log_pmf = (
        math.lgamma(n + 1)
        - math.lgamma(start + 1)
        - math.lgamma(n - start + 1)
        + start * math.log(p)
        + (n - start) * math.log1p(-p)
    )
    term = math.exp(log_pmf)
    total = term
    odds = p / (1.0 - p)
    i = start
    while (i > 0) if downwards else (i < n):
        if downwards:
            term *= i / (n - i + 1) / odds
            i -= 1
        else:
            term *= (n - i) / (i + 1) * odds
            i += 1
        if term <= total * 1e-17:
            break
        total += term
    return min(total, 1.0)


@lru_cache(maxsize=256)
def min_samples_for_percentile(
    q: float,
    confidence: float = DEFAULT_PERCENTILE_CONFIDENCE,
    tail_samples: int = DEFAULT_TAIL_SAMPLES,
) -> int:
    """Fewest samples that establish the ``q`` quantile (0 < q < 1).

    Formula: the smallest ``n`` such that, with probability at least ``confidence``, at
    least ``tail_samples`` of ``n`` independent samples fall beyond the true quantile,
    on its tail side::

        n_min = min { n : P[Binomial(n, m) >= r] >= c },   m = min(q, 1 - q),  r = tail_samples

    Then the r-th most extreme sample is a ``c``-confidence bound on the quantile that is
    not the single most extreme sample. With c = 0.99 and r = 2 this gives 662 samples
    for p99 (MLPerf LoadGen's figure), 64 for p90 and 130 for p95.
    """
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {q!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if tail_samples < 1:
        raise ValueError(f"tail_samples must be >= 1, got {tail_samples!r}")
    m = min(q, 1.0 - q)

    def ok(n: int) -> bool:
        return 1.0 - _binom_cdf(tail_samples - 1, n, m) >= confidence

    hi = tail_samples
    while not ok(hi):
        hi *= 2
    lo = max(tail_samples, hi // 2)
    while lo < hi:  # P[Bin(n, m) >= r] grows with n: bisect for the first n that passes
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def percentile(sorted_samples: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0 <= q <= 1) of already sorted samples, linear interpolation."""
    n = len(sorted_samples)
    if n == 0:
        raise ValueError("percentile of an empty sample")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {q!r}")
    h = (n - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, n - 1)
    frac = h - lo
    a, b = sorted_samples[lo], sorted_samples[hi]
    return a + (b - a) * frac if frac else a


def median_ci_indices(n: int, confidence: float = DEFAULT_CI_CONFIDENCE) -> tuple[int, int] | None:
    """0-based indices ``(lo, hi)`` of the order statistics bounding the median, or None.

    ``l`` (1-based) is the largest index with ``P[Binomial(n, 1/2) <= l - 1] <= (1 - c) / 2``;
    the interval ``[x_(l), x_(n-l+1)]`` then covers the true median with probability
    ``1 - 2 P[Binomial(n, 1/2) <= l - 1] >= c`` whatever the distribution. ``None`` when
    even ``[min, max]`` is not wide enough (n < 6 at 95%).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    alpha_half = (1.0 - confidence) / 2.0
    if n < 1 or _binom_cdf(0, n, 0.5) > alpha_half:
        return None
    lo, hi = 0, (n - 1) // 2  # search k = l - 1 in [0, hi]: cdf(k) <= alpha/2, largest such k
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _binom_cdf(mid, n, 0.5) <= alpha_half:
            lo = mid
        else:
            hi = mid - 1
    return lo, n - 1 - lo


def median_ci(
    sorted_samples: Sequence[float], confidence: float = DEFAULT_CI_CONFIDENCE
) -> tuple[float, float] | None:
    """Distribution-free confidence interval of the median of sorted samples, or None."""
    idx = median_ci_indices(len(sorted_samples), confidence)
    if idx is None:
        return None
    return sorted_samples[idx[0]], sorted_samples[idx[1]]


@dataclass(frozen=True)
class SampleStats:
    """Summary of one set of samples (seconds). ``None`` fields are explained in `not_established`."""

    n: int
    min_s: float
    max_s: float
    mean_s: float
    stdev_s: float | None
    p50_s: float | None
    p90_s: float | None
    p95_s: float | None
    p99_s: float | None
    iqr_s: float | None
    cv: float | None
    median_ci_s: tuple[float, float] | None
    ci_confidence: float
    percentile_confidence: float
    not_established: Mapping[str, str] = field(default_factory=dict)

    @property
    def median_s(self) -> float | None:
        return self.p50_s

    @property
    def rel_ci_half_width(self) -> float | None:
        """Half the width of the median's CI divided by the median (None if either is missing)."""
        if self.median_ci_s is None or not self.p50_s:
            return None
        lo, hi = self.median_ci_s
        return (hi - lo) / 2.0 / self.p50_s

    @property
    def iqr_ratio(self) -> float | None:
        """IQR / median, the robust spread torch.utils.benchmark warns on."""
        if self.iqr_s is None or not self.p50_s:
            return None
        return self.iqr_s / self.p50_s

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict (non-finite floats become None)."""
        out: dict[str, object] = {}
        for name in ("n", "min_s", "max_s", "mean_s", "stdev_s", "p50_s", "p90_s", "p95_s", "p99_s", "iqr_s", "cv"):
            out[name] = json_float(getattr(self, name))
        out["median_ci_s"] = None if self.median_ci_s is None else [json_float(v) for v in self.median_ci_s]
        out["ci_confidence"] = self.ci_confidence
        out["percentile_confidence"] = self.percentile_confidence
        out["not_established"] = dict(self.not_established)
        return out


def json_float(value: float | int | None) -> float | int | None:
    """``value`` unless it is NaN or infinite (JSON has no such numbers), then None."""
    if value is None or isinstance(value, int):
        return value
    return value if math.isfinite(value) else None


def summarize(
    samples: Sequence[float],
    *,
    ci_confidence: float = DEFAULT_CI_CONFIDENCE,
    percentile_confidence: float = DEFAULT_PERCENTILE_CONFIDENCE,
    tail_samples: int = DEFAULT_TAIL_SAMPLES,
) -> SampleStats:
    """All statistics of raw samples in seconds. Raises ValueError on an empty sample."""
    n = len(samples)
    if n == 0:
        raise ValueError("cannot summarize an empty sample; measure at least one call")
    xs = sorted(samples)
    missing: dict[str, str] = {}

    def established(name: str, q: float) -> float | None:
        need = min_samples_for_percentile(q, percentile_confidence, tail_samples)
        if n < need:
            missing[name] = f"needs >= {need} samples at {percentile_confidence:.0%} confidence, have {n}"
            return None
        return percentile(xs, q)

    pcts = {name: established(name, q) for name, q in REPORTED_PERCENTILES}
    q25 = established("q25", 0.25)
    q75 = established("q75", 0.75)
    iqr = None if q25 is None or q75 is None else q75 - q25
    if iqr is None:
        missing["iqr"] = missing.pop("q75", None) or missing.pop("q25", "")
    missing.pop("q25", None)
    missing.pop("q75", None)
    mean = math.fsum(xs) / n
    stdev = statistics.stdev(xs, mean) if n >= 2 else None
    if stdev is None:
        missing["stdev"] = "needs >= 2 samples"
    cv = stdev / mean if stdev is not None and mean > 0 else None
    ci = median_ci(xs, ci_confidence)
    if ci is None:
        missing["median_ci"] = f"needs more samples for a {ci_confidence:.0%} distribution-free interval, have {n}"
    return SampleStats(
        n=n,
        min_s=xs[0],
        max_s=xs[-1],
        mean_s=mean,
        stdev_s=stdev,
        p50_s=pcts["p50"],
        p90_s=pcts["p90"],
        p95_s=pcts["p95"],
        p99_s=pcts["p99"],
        iqr_s=iqr,
        cv=cv,
        median_ci_s=ci,
        ci_confidence=ci_confidence,
        percentile_confidence=percentile_confidence,
        not_established=missing,
    )
