"""Confirmation runs: a case whose run looks regressed is measured again before the gate fails it. Pure functions.

One run of unchanged code is sometimes much slower than its usual spread for reasons no measurement
inside that run can see: on 2026-11-26 one run in about 130 had its fastest call 29% slower, with
the speed probe around it normal and its own block spread 2.7% (docs/performance.md). No rule that
judges one run alone can tell that run from a regression. So the gate screens and then confirms:

1. **Screen.** After the run, a case is a suspect when any of its sample-based verdicts has a point
   estimate worse than the threshold (``badness > 1 + threshold``): `regressed`, or `inconclusive`
   because it is noisy, flagged, or too wide.
2. **Confirm.** The suspects are measured again in ``k`` fresh pytest processes
   (`perfsuite.confirm`, ``--perf-confirm K``). The final verdict is judged on those ``k`` runs
   alone; the first run only chose what to re-measure:

   - against a replicate baseline (at least ``min_replicates`` runs): the geometric mean of the
     ``k`` runs' summaries against the replicates, with the new runs' own spread pooled into the
     variance (`perfsuite.compare.replicates.ratio_of_runs_to_replicates`);
   - against a single-run baseline: each confirmation run is judged by the single-run rule, and
     the case is `regressed` only when every one of them is (an intersection: its false-alarm
     rate is at most that of one run).

   A confirmation run flagged as disturbed (a flag outside `SPREAD_FLAGS`) is left out. When no
   clean confirmation run measured the case (all were disturbed, or the processes failed or did
   not collect it), the first verdict stands, with a note: a gate must not pass a regression
   because its check broke or its machine was busy.

False alarms: a case is called regressed only when the confirmation runs, judged at the suite's
one-sided confidence, say so; the screen can only lower that chance. So the suite-wide rate stays
below ``alpha``, and one outlier run, the screen's own, can no longer fail the gate.
Power: ``k`` runs shrink the new side's variance by ``k`` (replaying the development VM's
measurements, 5% detection rose from 82% to 99.5% with ``k = 3`` in a quiet hour;
docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from perfsuite.compare.replicates import ReplicateModel, ratio_of_runs_to_replicates
from perfsuite.compare.stats import RatioEstimate
from perfsuite.compare.verdict import (
    METRICS,
    SPREAD_FLAGS,
    Comparison,
    GatePolicy,
    Metric,
    Verdict,
    _blocking_noise,
    _estimate,
    _inverted,
    _latency_oriented,
    judge,
    suite_confidence,
)
from perfsuite.results.case import CaseResult
from perfsuite.results.run import RunResult

SAMPLE_METHODS_EXCLUDED = ("exact", "summary")  # figures that are not re-measured: deterministic, or without samples


def _sample_metric(v: Verdict) -> bool:
    return v.estimate.method not in SAMPLE_METHODS_EXCLUDED


def suspects(comparison: Comparison) -> tuple[str, ...]:
    """Result keys (``test::case``) of the cases to measure again: a sample verdict worse than its threshold."""
    keys: dict[str, None] = {}
    for v in comparison.verdicts:
        if _sample_metric(v) and v.badness > 1.0 + v.threshold:
            keys.setdefault(f"{v.test}::{v.case}", None)
    return tuple(keys)


def _metric(kind: str, name: str) -> Metric | None:
    return next((m for m in METRICS.get(kind, ()) if m.name == name), None)


def _describe(e: RatioEstimate) -> str:
    return f"{e.change:+.1%} [{e.low - 1:+.1%}, {e.high - 1:+.1%}]"


def confirm_comparison(
    first: Comparison,
    base: RunResult,
    runs: Sequence[RunResult],
    policy: GatePolicy,
    *,
    models: Mapping[str, ReplicateModel] | None = None,
    keys: Sequence[str] | None = None,
    failure: str = "",
) -> Comparison:
    """``first`` with every suspect's sample verdicts judged again on the confirmation ``runs``.

    ``keys``: the cases that were re-measured (default: `suspects(first)`). ``failure``: why no
    confirmation run could be made, if none was (the first verdicts then stand, with that note).
    The Bonferroni m and the confidence are those of ``first``: the suite judged is the same.
    """
    keys = tuple(suspects(first) if keys is None else keys)
    models = models or {}
    confidence = suite_confidence(first.alpha, first.tests)
    base_cases = {r.key: r for r in base.cases if r.outcome == "passed"}
    again: dict[str, list[CaseResult]] = {}
    for run in runs:
        for r in run.cases:
            if r.key in keys and r.outcome == "passed":
                again.setdefault(r.key, []).append(r)
    out = []
    for v in first.verdicts:
        key = f"{v.test}::{v.case}"
        if key not in keys or not _sample_metric(v):
            out.append(v)
            continue
        out.append(_confirmed(v, base_cases.get(key), again.get(key, []), policy, models, confidence, attempted=bool(runs), failure=failure))
    return replace(first, verdicts=tuple(out))


def _confirmed(
    v: Verdict, base: CaseResult | None, results: list[CaseResult], policy: GatePolicy, models: Mapping[str, ReplicateModel],
    confidence: float, *, attempted: bool, failure: str,
) -> Verdict:
    first = _describe(v.estimate)
    if not results:  # nothing re-measured it: the first verdict stands (a broken check must not pass a regression)
        why = failure or ("no confirmation run measured this case" if attempted else "no confirmation run was made")
        return replace(v, note=f"not confirmed ({why}): this verdict is the first run's alone", first=v.estimate)
    metric = _metric(results[0].kind, v.metric)
    usable = [r for r in results if policy.gate_noisy or not set(r.noise_codes) - SPREAD_FLAGS]
    if metric is None or metric.samples is None or base is None or not usable:
        # Nothing clean to judge by: the first verdict stands, as when the processes failed. (Calling
        # it inconclusive would let a busy runner pass every regression its first run had proved.)
        flags = sorted({c for r in results for c in r.noise_codes} - SPREAD_FLAGS)
        why = f"all {len(results)} confirmation runs were disturbed ({', '.join(flags)})" if flags else "the confirmation runs cannot be compared"
        return replace(v, first=v.estimate, note=f"not confirmed ({why}): this verdict is the first run's alone"
                       + ("" if v.verdict == "ok" else "; re-measure on a quieter machine or use perfsuite ab"))
    samples = [metric.samples(r) for r in usable]
    head_runs = [_latency_oriented(metric, s) for s in samples if s is not None and len(s) >= 3]
    model = models.get(v.metric)
    spread = model.cases.get(f"{v.test}::{v.case}") if model is not None else None
    estimate: RatioEstimate | None = None
    if model is not None and spread is not None and spread.runs >= policy.min_replicates and head_runs:
        estimate = ratio_of_runs_to_replicates(model, f"{v.test}::{v.case}", head_runs, statistic=policy.statistic,
                                               confidence=confidence, floor=policy.replicate_floor)
        if estimate is not None and not metric.lower_is_better:
            estimate = _inverted(estimate)
    if estimate is not None:
        verdict, improved = judge(estimate, v.threshold, lower_is_better=metric.lower_is_better)
        rule = f"the mean of {len(head_runs)} confirmation runs against the baseline's {estimate.n_base}"
    else:  # a single-run baseline: every confirmation run must regress on its own
        judged = []
        for r in usable:
            est, _ = _estimate(metric, base, r, confidence, policy.noise_floor, policy.statistic)
            if est is not None:
                word, imp = judge(est, v.threshold, lower_is_better=metric.lower_is_better)
                if word == "regressed" and not policy.gate_noisy and _blocking_noise(base, r, est):
                    word = "inconclusive"  # as the single-run rule: a side flagged noisy can show a change, not prove it
                judged.append(((word, imp), est))
        if not judged:
            return replace(v, first=v.estimate, note="not confirmed (the confirmation runs have no comparable samples): this verdict is the first run's alone")
        words = [w for (w, _), _ in judged]
        verdict = "regressed" if all(w == "regressed" for w in words) else "ok" if all(w == "ok" for w in words) else "inconclusive"
        improved = verdict == "ok" and all(imp for (_, imp), _ in judged)
        ests = sorted((e for _, e in judged), key=lambda e: e.ratio)
        estimate = ests[(len(ests) - 1) // 2]  # the median confirmation run's estimate is the one shown
        rule = f"{len(judged)} confirmation runs, each against the baseline run ({', '.join(words)})"
    said = "confirmed" if verdict == "regressed" and v.verdict == "regressed" else "re-measured"
    note = f"{said}: {rule}: {_describe(estimate)}; first run {first}"
    dropped = len(results) - len(usable)
    if dropped:
        note += f"; {dropped} disturbed confirmation run{'s' if dropped > 1 else ''} left out"
    return replace(v, verdict=verdict, estimate=estimate, improved=improved, samples_needed=None, note=note,
                   first=v.estimate, confirm_runs=len(usable))

