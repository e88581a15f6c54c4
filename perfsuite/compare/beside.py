"""Verdicts re-judged from paired rounds beside the baseline's commit. Pure functions.

When a case is still `inconclusive` after the gate's confirmation runs (its head runs were flagged
as disturbed, or its interval is too wide), the gate measures it again in rounds, each round one
fresh process of the baseline's commit (its own recorded arguments) and one of the head, in
alternating order (`perfsuite.beside`). Both sides of a round suffer the same load, so the
per-round log-ratio cancels it; the rounds are summarized by `paired_t_ratio` and judged with the
gate's own rules (`judge`), at the suite's Bonferroni confidence split over the sequential looks
(``alpha / looks``, as `perfsuite ab` does).

Each sample metric of a case (latency and the throughput that mirrors it, generation's ttft and
e2e) gets one value per side and round: the gate's statistic (the fastest sample, or the median)
of its samples turned so that lower is better.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

from perfsuite.compare.paired import MIN_PAIRS, paired_t_ratio
from perfsuite.compare.stats import RatioEstimate
from perfsuite.compare.verdict import METRICS, Comparison, _inverted, _latency_oriented, judge, suite_confidence
from perfsuite.results.run import RunResult

NOT_RESAMPLED = ("exact", "summary")  # deterministic figures, and sides without samples: nothing to pair

RoundValues = Mapping[tuple[str, str], float]  # (result key, metric name) -> that side's value in one round


def undecided(comparison: Comparison, *, suspect_only: bool = False) -> tuple[str, ...]:
    """Result keys (``test::case``) with a sample verdict still `inconclusive`.

    ``suspect_only``: only those whose point estimate is worse than the threshold, the cases the gate
    re-measures beside the baseline's commit. An inconclusive case whose estimate is within its
    threshold (a wide interval around no change) is left as it is: re-measuring every such case
    would make each unchanged gate run cost several plain runs; the gate's loud line names them.
    """
    keys: dict[str, None] = {}
    for v in comparison.verdicts:
        if v.verdict == "inconclusive" and v.estimate.method not in NOT_RESAMPLED and (not suspect_only or v.badness > 1.0 + v.threshold):
            keys.setdefault(f"{v.test}::{v.case}", None)
    return tuple(keys)


def _lower_is_better(metric: str) -> bool | None:
    """The direction of sample metric ``metric`` (their names are unique across result kinds); None if no such metric."""
    found = next((m for ms in METRICS.values() for m in ms if m.name == metric and m.samples is not None), None)
    return None if found is None else found.lower_is_better


def round_values(run: RunResult, keys: Collection[str], statistic: str = "min") -> dict[tuple[str, str], float]:
    """One side's value per (key, sample metric) in one round: its fastest (or median) sample, lower is better."""
    if statistic not in ("min", "median"):
        raise ValueError(f"statistic must be 'min' or 'median', got {statistic!r}")
    out: dict[tuple[str, str], float] = {}
    for r in run.cases:
        if r.key not in keys or r.outcome != "passed":
            continue
        for metric in METRICS.get(r.kind, ()):
            samples = metric.samples(r) if metric.samples is not None else None
            if not samples:
                continue
            oriented = _latency_oriented(metric, samples)
            out[(r.key, metric.name)] = min(oriented) if statistic == "min" else float(statistics.median(oriented))
    return out


def beside_confidence(comparison: Comparison, looks: int) -> float:
    """Each interval's confidence: the suite's Bonferroni m of ``comparison``, its alpha split over ``looks``."""
    if looks < 1:
        raise ValueError(f"looks must be >= 1, got {looks}")
    return suite_confidence(comparison.alpha / looks, comparison.tests)


def beside_estimates(rounds: Sequence[tuple[RoundValues, RoundValues]], *, confidence: float) -> dict[tuple[str, str], RatioEstimate]:
    """head/base per (key, metric), as measured (a rate's ratio is a rate's), from the rounds where both sides measured it.

    ``rounds``: (base values, head values) per round (`round_values`). A metric measured in fewer
    than `MIN_PAIRS` rounds has no estimate.
    """
    pairs: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    for base, head in rounds:
        for item in base.keys() & head.keys():
            a, b = pairs.setdefault(item, ([], []))
            a.append(base[item])
            b.append(head[item])
    out = {}
    for (key, metric), (a, b) in sorted(pairs.items()):
        lower = _lower_is_better(metric)
        if lower is None or len(a) < MIN_PAIRS:
            continue
        est = paired_t_ratio(a, b, confidence=confidence)
        out[(key, metric)] = est if lower else _inverted(est)
    return out


def _describe(e: RatioEstimate) -> str:
    return f"{e.change:+.1%} [{e.low - 1:+.1%}, {e.high - 1:+.1%}]"


def rejudge(
    comparison: Comparison,
    estimates: Mapping[tuple[str, str], RatioEstimate],
    *,
    keys: Collection[str],
    commit: str | None,
    why_not: str = "",
) -> Comparison:
    """``comparison`` with the sample verdicts of ``keys`` judged on their paired estimates.

    A verdict of ``keys`` without an estimate keeps its word and says why it was not re-measured
    (``why_not``: the reason for the whole step, e.g. "the baseline records no git commit").
    """
    where = f"the baseline's commit {commit[:7]}" if commit else "the baseline's commit"
    out = []
    for v in comparison.verdicts:
        key = f"{v.test}::{v.case}"
        if key not in keys or v.estimate.method in NOT_RESAMPLED:
            out.append(v)
            continue
        est = estimates.get((key, v.metric))
        if est is None:
            why = why_not or "no round of both sides measured it"
            out.append(replace(v, note=f"{v.note}; not re-measured beside {where}: {why}" if v.note else f"not re-measured beside {where}: {why}"))
            continue
        verdict, improved = judge(est, v.threshold, lower_is_better=v.lower_is_better)
        note = (f"re-measured beside {where} (its own config): {est.n_base} paired rounds: {_describe(est)}; "
                f"before: {v.verdict} {_describe(v.estimate)}")
        out.append(replace(v, verdict=verdict, estimate=est, improved=improved, samples_needed=None, note=note,
                           first=v.first or v.estimate))
    return replace(comparison, verdicts=tuple(out))


def all_decided(comparison: Comparison, keys: Collection[str]) -> bool:
    """True when no sample verdict of ``keys`` is `inconclusive` (a sequential look may stop)."""
    return not set(undecided(comparison)) & set(keys)
