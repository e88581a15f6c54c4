"""The change between two sets of latency samples, as a ratio with a confidence interval.

Pure functions over raw samples (seconds), no I/O.

Method: Hodges–Lehmann on log samples. With ``d = log(head_j) - log(base_i)`` over all pairs, the
estimate of the log-ratio is the median of ``d`` and its distribution-free confidence interval
is the Moses interval: the order statistics of the sorted ``d`` at the Mann–Whitney critical
count (normal approximation with the tie-free variance, fine from ~10 samples per side). The
ratio ``head / base`` is ``exp`` of those. It is invariant to the order of the samples and to a
common scale, robust to outliers, and needs no distribution assumption: the same reasons asv
uses Mann–Whitney and Kalibera & Jones recommend a CI of the ratio.

Between-run drift (a machine whose speed moves 5-10% between two runs while each run pins its
own median to ±1%) is not in the samples of either run: ``noise_floor`` widens the interval by
that relative amount (added in quadrature on the log scale) so that two separate runs of the
same code do not look different. Interleaved A/B runs need no floor.

The minimum (`ratio_of_minimums`, the gate's default for timings): on a shared machine the
interference is one-sided (another process, an interrupt or a frequency dip only ever adds time)
and comes in episodes of seconds, so a run's median moves 5-50% with the machine's load while
its fastest calls stay within about 1% (docs/performance.md). Under that additive, non-negative
noise model the minimum is the estimate of the code's own cost least touched by the machine
(Chen & Revels 2016, "Robust benchmarking in noisy environments"; BenchmarkTools.jl judges on
minimums for that reason). Its interval is a between-run model, not a sampling one: each run's
samples are cut into consecutive blocks, and the spread of the blocks' minimums (a robust SD on
the log scale) says how much of that run the machine disturbed; the two spreads add in
quadrature, with ``noise_floor`` as the least spread assumed on a quiet machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

# Above this many samples per side, an evenly spaced subsample of the sorted samples is used:
# the all-pairs differences grow as n1*n2, and quantiles of 2000 evenly spaced order statistics
# describe the distribution to far better than the interval's own width.
MAX_SAMPLES_PER_SIDE = 2000
MIN_SAMPLES = 3


@dataclass(frozen=True)
class RatioEstimate:
    """head / base: point estimate and confidence interval (all ratios; 1.0 means no change)."""

    ratio: float
    low: float
    high: float
    confidence: float
    n_base: int
    n_head: int
    method: str  # "hodges-lehmann", "minimum", "replicates" (n_base = baseline runs), "paired-wilcoxon", "summary" (medians only: no interval), "exact"
    noise_floor: float = 0.0

    @property
    def change(self) -> float:
        """Relative change, e.g. +0.05 for 5% slower latency."""
        return self.ratio - 1.0

    @property
    def has_interval(self) -> bool:
        return self.method != "summary"


def _thin(values: np.ndarray) -> np.ndarray:
    if values.size <= MAX_SAMPLES_PER_SIDE:
        return values
    idx = np.linspace(0, values.size - 1, MAX_SAMPLES_PER_SIDE).round().astype(int)
    return np.sort(values)[idx]


def _validated(samples: Sequence[float], side: str) -> np.ndarray:
    values = np.asarray(samples, dtype=float)
    if values.ndim != 1 or values.size < MIN_SAMPLES:
        raise ValueError(f"{side} needs at least {MIN_SAMPLES} samples, has {values.size}")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"{side} samples must be finite and > 0 (they are times)")
    return values


def moses_indices(n_base: int, n_head: int, confidence: float) -> tuple[int, int]:
    """0-based indices into the sorted pairwise differences bounding the Moses interval."""
    pairs = n_base * n_head
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    sd = math.sqrt(n_base * n_head * (n_base + n_head + 1) / 12.0)
    # P(U <= k) <= (1 - confidence) / 2 with a continuity correction: the k-th smallest difference
    # (0-based) lies above the true shift with at most that probability, and symmetrically.
    k = int(math.floor(pairs / 2.0 - z * sd - 0.5))
    k = min(max(k, 0), (pairs - 1) // 2)
    return k, pairs - 1 - k


def ratio_of_samples(
    base: Sequence[float], head: Sequence[float], *, confidence: float = 0.99, noise_floor: float = 0.0
) -> RatioEstimate:
    """Hodges–Lehmann ratio head/base with its Moses confidence interval, widened by ``noise_floor``."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if not 0.0 <= noise_floor < 1.0:
        raise ValueError(f"noise_floor must be in [0, 1), got {noise_floor!r}")
    a = _thin(np.log(_validated(base, "base")))
    b = _thin(np.log(_validated(head, "head")))
    diffs = np.sort((b[:, None] - a[None, :]).ravel())
    estimate = float(np.median(diffs))
    lo_i, hi_i = moses_indices(a.size, b.size, confidence)
    lo, hi = float(diffs[lo_i]), float(diffs[hi_i])
    if noise_floor > 0:
        z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
        extra = z * math.log1p(noise_floor)
        lo = estimate - math.hypot(estimate - lo, extra)
        hi = estimate + math.hypot(hi - estimate, extra)
    return RatioEstimate(
        ratio=math.exp(estimate),
        low=math.exp(lo),
        high=math.exp(hi),
        confidence=confidence,
        n_base=len(base),
        n_head=len(head),
        method="hodges-lehmann",
        noise_floor=noise_floor,
    )


MIN_BLOCKS = 2
MAX_BLOCKS = 10


def block_spread(samples: Sequence[float], blocks: int = MAX_BLOCKS) -> float:
    """Robust SD (1.4826 x MAD) of the log minimums of consecutive blocks of ``samples`` (time order).

    Small when every stretch of the run reached the same fastest time (a quiet machine); large when
    interference lifted whole stretches. At least 3 samples per block, between 2 and ``blocks`` blocks.
    """
    values = _validated(samples, "samples")
    k = max(MIN_BLOCKS, min(blocks, values.size // 3))
    minima = np.log([chunk.min() for chunk in np.array_split(values, k)])
    return float(1.4826 * np.median(np.abs(minima - np.median(minima))))


def ratio_of_minimums(
    base: Sequence[float], head: Sequence[float], *, confidence: float = 0.99, noise_floor: float = 0.0
) -> RatioEstimate:
    """min(head) / min(base), its interval from both runs' block spreads (at least ``noise_floor``).

    Samples must be in the order they were taken (results.json keeps them so): the blocks are
    stretches of time.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if not 0.0 <= noise_floor < 1.0:
        raise ValueError(f"noise_floor must be in [0, 1), got {noise_floor!r}")
    a, b = _validated(base, "base"), _validated(head, "head")
    estimate = math.log(b.min()) - math.log(a.min())
    sd = max(math.log1p(noise_floor), math.hypot(block_spread(a), block_spread(b)))
    half = NormalDist().inv_cdf(0.5 + confidence / 2.0) * sd
    return RatioEstimate(
        ratio=math.exp(estimate),
        low=math.exp(estimate - half),
        high=math.exp(estimate + half),
        confidence=confidence,
        n_base=int(a.size),
        n_head=int(b.size),
        method="minimum",
        noise_floor=noise_floor,
    )


def ratio_of_medians(base_median: float, head_median: float, *, n_base: int, n_head: int, confidence: float) -> RatioEstimate:
    """Only summaries on one side (an imported run): the ratio, and no interval to judge it by."""
    if not (base_median > 0 and head_median > 0):
        raise ValueError("medians must be > 0")
    r = head_median / base_median
    return RatioEstimate(r, r, r, confidence, n_base, n_head, method="summary")


def exact_ratio(base: float, head: float) -> RatioEstimate:
    """Deterministic figures (parameters, FLOPs, weight bytes): the ratio is the change."""
    if base == 0:
        r = 1.0 if head == 0 else math.inf
    else:
        r = head / base
    return RatioEstimate(r, r, r, 1.0, 1, 1, method="exact")


def samples_to_decide(estimate: RatioEstimate, threshold: float) -> int | None:
    """Roughly how many samples per side would make an inconclusive interval decide.

    The interval's half-width shrinks as 1/sqrt(n); it must shrink to the distance between the
    estimate and the nearest decision boundary (no change, or the threshold). None when the
    estimate sits on a boundary (no sample count decides it) or the noise floor alone is wider.
    """
    if not estimate.has_interval or estimate.method in ("minimum", "replicates"):
        return None  # the minimum's interval is the machine's between-run spread: samples do not narrow it
    log_r = math.log(estimate.ratio)
    half = (math.log(estimate.high) - math.log(estimate.low)) / 2.0
    bounds = (0.0, math.log1p(threshold), math.log1p(-threshold) if threshold < 1 else -math.inf)
    distance = min(abs(log_r - b) for b in bounds)
    floor = 0.0
    if estimate.noise_floor > 0:
        floor = NormalDist().inv_cdf(0.5 + estimate.confidence / 2.0) * math.log1p(estimate.noise_floor)
        if floor >= distance:
            return None
    if distance <= 0 or half <= 0:
        return None
    sample_half = math.sqrt(max(half**2 - floor**2, 0.0))
    target = math.sqrt(distance**2 - floor**2)
    n = max(estimate.n_base, estimate.n_head)
    return max(n + 1, math.ceil(n * (sample_half / target) ** 2))
