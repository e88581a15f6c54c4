"""Paired verdicts for interleaved A/B rounds. Pure functions.

`perfsuite ab` runs A and B alternately (ABAB... or randomized blocks), each round a fresh
process. Round i gives a value for A and one for B (each case's fastest sample, or its median:
the gate config's `statistic`) taken minutes apart on the same machine state, so the machine's
drift cancels in their ratio. For each case the log-ratios
``d_i = log(b_i / a_i)`` are summarized by the one-sample Hodges–Lehmann estimate (median of the
Walsh averages) with the exact Wilcoxon signed-rank confidence interval, and judged with the
same rules as two separate runs (`perfsuite.compare.verdict.judge`), with no noise floor: the
pairing is what removes the between-run variance.

The gate's re-measurement beside the baseline's commit (`perfsuite.beside`) cannot afford the
Wilcoxon interval: at the gate's Bonferroni confidence (``1 - 2 alpha / m``, 0.998 and up) it
needs ten or more pairs, each two pytest processes. `paired_t_ratio` gives an interval from
three pairs on: the mean of the log-ratios with Student's t (df = n - 1), which assumes the
log-ratios are roughly normal; a wide spread widens it honestly through the sample variance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from perfsuite.compare.replicates import t_quantile
from perfsuite.compare.stats import RatioEstimate
from perfsuite.compare.verdict import Comparison, GatePolicy, Verdict, judge, suite_confidence

MIN_PAIRS = 3
PAIRED_T = "paired-t"


@lru_cache(maxsize=64)
def _signed_rank_counts(n: int) -> tuple[int, ...]:
    """counts[w] = number of sign assignments of ranks 1..n whose positive ranks sum to w."""
    counts = [1] + [0] * (n * (n + 1) // 2)
    for rank in range(1, n + 1):
        for w in range(len(counts) - 1, rank - 1, -1):
            counts[w] += counts[w - rank]
    return tuple(counts)


def wilcoxon_k(n: int, confidence: float) -> int:
    """Largest k with P(W <= k - 1) <= (1 - confidence) / 2 under the null (exact, no ties).

    The interval is then [walsh_(k), walsh_(N - k + 1)] in 1-based order of the N = n(n+1)/2
    Walsh averages; k = 0 means no interval at this confidence (too few pairs).
    """
    counts = _signed_rank_counts(n)
    total = 2**n
    tail = (1.0 - confidence) / 2.0
    cumulative = 0
    k = 0
    for w, c in enumerate(counts):
        cumulative += c
        if cumulative / total <= tail:
            k = w + 1
        else:
            break
    return k


def _log_ratios(base: Sequence[float], head: Sequence[float]) -> list[float]:
    if len(base) != len(head):
        raise ValueError(f"paired rounds must match: {len(base)} base vs {len(head)} head")
    if len(base) < MIN_PAIRS:
        raise ValueError(f"need at least {MIN_PAIRS} pairs of rounds, have {len(base)}")
    if any(not (x > 0 and math.isfinite(x)) for x in (*base, *head)):
        raise ValueError("paired round values must be finite and > 0")
    return [math.log(b / a) for a, b in zip(base, head)]


def _exp(x: float) -> float:
    return math.exp(x) if x < 700.0 else math.inf  # a bound that wide says nothing; math.exp would overflow


def paired_t_ratio(base: Sequence[float], head: Sequence[float], *, confidence: float) -> RatioEstimate:
    """head/base from paired per-round values: geometric mean of the ratios, Student's t interval (df = n - 1)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    d = _log_ratios(base, head)
    n = len(d)
    mean = math.fsum(d) / n
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in d) / (n - 1))
    half = t_quantile(1.0 - (1.0 - confidence) / 2.0, n - 1) * sd / math.sqrt(n)
    return RatioEstimate(ratio=math.exp(mean), low=math.exp(mean - half), high=_exp(mean + half), confidence=confidence,
                         n_base=n, n_head=n, method=PAIRED_T)


def paired_ratio(base: Sequence[float], head: Sequence[float], *, confidence: float) -> RatioEstimate:
    """head/base from paired per-round values: HL estimate and exact Wilcoxon interval."""
    d = _log_ratios(base, head)
    n = len(d)
    walsh = sorted((d[i] + d[j]) / 2.0 for i in range(n) for j in range(i, n))
    mid = len(walsh) // 2
    estimate = walsh[mid] if len(walsh) % 2 else (walsh[mid - 1] + walsh[mid]) / 2.0
    k = wilcoxon_k(n, confidence)
    if k == 0:
        lo, hi = -math.inf, math.inf  # no interval reaches this confidence with n pairs
    else:
        lo, hi = walsh[k - 1], walsh[len(walsh) - k]
    return RatioEstimate(
        ratio=math.exp(estimate),
        low=math.exp(lo) if math.isfinite(lo) else 0.0,
        high=math.exp(hi) if math.isfinite(hi) else math.inf,
        confidence=confidence,
        n_base=n,
        n_head=n,
        method="paired-wilcoxon",
    )


def min_pairs(confidence: float) -> int:
    """Fewest pairs with which any interval exists at `confidence` (k >= 1)."""
    n = MIN_PAIRS
    while wilcoxon_k(n, confidence) == 0:
        n += 1
    return n


@dataclass(frozen=True)
class PairedCase:
    case: str
    test: str
    base_medians: tuple[float, ...]  # one value (min or median) per completed round, in round order
    head_medians: tuple[float, ...]


def look_schedule(rounds: int, max_rounds: int | None = None, every: int | None = None) -> tuple[int, ...]:
    """The round counts at which a sequential A/B run looks at its verdicts: rounds, rounds + every, ..., max_rounds.

    ``max_rounds`` None (or equal to ``rounds``): one look, a fixed design. ``every`` defaults to
    half of ``rounds``. The last look is always ``max_rounds``.
    """
    if rounds < 1:
        raise ValueError(f"--rounds must be >= 1, got {rounds}")
    top = rounds if max_rounds is None else max_rounds
    if top < rounds:
        raise ValueError(f"--max-rounds ({top}) must be >= --rounds ({rounds})")
    step = max(1, rounds // 2) if every is None else every
    if step < 1:
        raise ValueError(f"--look-every must be >= 1, got {step}")
    looks = list(range(rounds, top, step)) + [top]
    return tuple(looks)


def compare_pairs(cases: Sequence[PairedCase], policy: GatePolicy | None = None, *, looks: int = 1) -> Comparison:
    """Latency (and its throughput mirror) verdicts of every case from its paired rounds.

    ``looks``: how many times a sequential A/B run looks at its verdicts (`look_schedule`). Each
    look may stop the run on a verdict, so each is judged at ``alpha / looks`` (Bonferroni over
    the looks): the suite-wide false-alarm rate over the whole run stays at ``alpha``.
    """
    if looks < 1:
        raise ValueError(f"looks must be >= 1, got {looks}")
    policy = policy or GatePolicy(noise_floor=0.0)
    usable = [c for c in cases if min(len(c.base_medians), len(c.head_medians)) >= MIN_PAIRS]
    tests = len(usable) or 1
    confidence = suite_confidence(policy.alpha / looks, tests)
    verdicts = []
    for c in usable:
        n = min(len(c.base_medians), len(c.head_medians))
        est = paired_ratio(c.base_medians[:n], c.head_medians[:n], confidence=confidence)
        threshold = policy.threshold(c.case, "latency")
        verdict, improved = judge(est, threshold, lower_is_better=True)
        note = ""
        if verdict == "inconclusive" and est.low == 0.0:
            note = f"{n} pairs cannot give a {confidence:.4g} interval; run at least {min_pairs(confidence)} rounds"
        elif verdict == "inconclusive":
            note = "more rounds would narrow the interval"
        verdicts.append(Verdict(c.case, c.test, "latency", verdict, est, threshold, True, improved, None, note))
    skipped = tuple(c.case for c in cases if c not in usable)
    return Comparison(verdicts=tuple(verdicts), new=(), removed=skipped, alpha=policy.alpha, tests=tests, statistic=policy.statistic)


def pair_medians(rounds: Sequence[tuple[Mapping[str, float], Mapping[str, float]]]) -> dict[str, tuple[list[float], list[float]]]:
    """Per case key, the A and B values of the rounds in which both sides measured it."""
    out: dict[str, tuple[list[float], list[float]]] = {}
    for a, b in rounds:
        for key in a.keys() & b.keys():
            pair = out.setdefault(key, ([], []))
            pair[0].append(a[key])
            pair[1].append(b[key])
    return out
