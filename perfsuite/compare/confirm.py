"""Confirmation runs: a case whose run looks regressed is measured again before the gate fails it. Pure functions.

One run of unchanged code is sometimes much slower than its usual spread for reasons no measurement
inside that run can see (its fastest call slower, the speed probe around it normal, its own block
spread small; docs/gating.md has measured rates). No rule that judges one run alone can tell that
run from a regression. So the gate screens and then confirms:

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
     the case is `regressed` when most of them regressed and every other one agreed: `wide`
     (worse than the threshold, its own interval too wide to show it: a run whose spread was high
     says nothing against the regression, nor for it). A run that said `ok`, or whose estimate was
     within the threshold, makes the case `inconclusive` (`_single_run_rule`).

   Disturbed confirmation runs (a flag outside `SPREAD_FLAGS`) follow the direction rule of
   `perfsuite.compare.verdict.direction_veto`: such a run can still show that a case is `ok`
   (its times could only be too high), never that it regressed. When no usable confirmation run
   measured the case (all were disturbed and said nothing, or the processes failed or did not
   collect it), the first verdict stands, with a note: a gate must not pass a regression because
   its check broke or its machine was busy.

3. **Sequentially.** The runs are made one at a time, and the gate stops as soon as every suspect
   is decided (`settled`), no further run can change what is left, or a run was disturbed: on a
   busy machine more head-only runs cannot decide, and the gate measures the baseline beside the
   head instead. Each run (each look, against replicates) is judged at ``alpha / K`` for the K
   runs asked for, so that "one of them regressed" or looking after every run costs no false alarms.

False alarms: a case is called regressed only when the confirmation runs, judged at the suite's
one-sided confidence, say so; the screen can only lower that chance. So the suite-wide rate stays
below ``alpha``, and one outlier run, the screen's own, can no longer fail the gate.
Power: ``k`` runs shrink the new side's variance by ``k`` (detection figures for ``k = 1`` and
``k = 3`` in docs/gating.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from perfsuite.compare.replicates import ReplicateModel, ratio_of_runs_to_replicates
from perfsuite.compare.stats import RatioEstimate
from perfsuite.compare.verdict import (
    METRICS,
    Comparison,
    GatePolicy,
    Metric,
    Verdict,
    _estimate,
    _inverted,
    _latency_oriented,
    direction_veto,
    disturbances,
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
    looks: int = 1,
) -> Comparison:
    """``first`` with every suspect's sample verdicts judged again on the confirmation ``runs``.

    ``keys``: the cases that were re-measured (default: `suspects(first)`). ``failure``: why no
    confirmation run could be made, if none was (the first verdicts then stand, with that note).
    The Bonferroni m is that of ``first`` (the suite judged is the same); ``looks``: how many
    sequential looks the confirmation may take (the replicate rule spends ``alpha / looks`` on each).
    """
    keys = tuple(suspects(first) if keys is None else keys)
    models = models or {}
    confidence = suite_confidence(first.alpha / max(1, looks), first.tests)
    base_cases = _passed(base)
    again = _measured(runs, keys)
    out = []
    for v in first.verdicts:
        key = f"{v.test}::{v.case}"
        if key not in keys or not _sample_metric(v):
            out.append(v)
            continue
        out.append(_confirmed(v, base_cases.get(key), again.get(key, []), policy, models, confidence,
                              attempted=bool(runs), failure=failure))
    return replace(first, verdicts=tuple(out))


def _passed(run: RunResult) -> dict[str, CaseResult]:
    return {r.key: r for r in run.cases if r.outcome == "passed"}


def _measured(runs: Sequence[RunResult], keys: Sequence[str]) -> dict[str, list[CaseResult]]:
    """Each of ``keys``' passed results in ``runs``, in run order."""
    again: dict[str, list[CaseResult]] = {}
    for run in runs:
        for r in run.cases:
            if r.key in keys and r.outcome == "passed":
                again.setdefault(r.key, []).append(r)
    return again


def settled(comparison: Comparison, runs: Sequence[RunResult], keys: Sequence[str]) -> str:
    """Why more head-only confirmation runs are pointless ("" when they are not).

    ``comparison``: `confirm_comparison` over ``runs`` so far. Every re-measured case decided; or
    the newest run disturbed, which means a busy machine: the next run would be disturbed too, and
    only measuring the baseline beside the head can decide what is left.
    """
    if not runs:
        return ""
    undecided = [v for v in comparison.verdicts if v.verdict == "inconclusive" and _sample_metric(v) and f"{v.test}::{v.case}" in set(keys)]
    open_keys = {f"{v.test}::{v.case}" for v in undecided}
    if not open_keys:
        return f"every re-measured case is decided after {len(runs)} run{'s' if len(runs) > 1 else ''}"
    if all(_fixed(v) for v in undecided):
        return ("the cases left are judged against a one-run baseline, where a confirmation run that said ok or spoke "
                "against the regression leaves a case inconclusive whatever the next runs say")
    flags = sorted({f for r in runs[-1].cases if r.key in open_keys for f in disturbances(r)})
    if flags:
        return f"the last run was disturbed ({', '.join(flags)}): more runs on this busy machine would not decide"
    return ""


def _fixed(v: Verdict) -> bool:
    """An inconclusive verdict that no further confirmation run can change (`_single_run_rule`)."""
    return v.confirm_runs > 0 and not v.open_to_more


def _confirmed(
    v: Verdict, base: CaseResult | None, results: list[CaseResult], policy: GatePolicy, models: Mapping[str, ReplicateModel],
    confidence: float, *, attempted: bool, failure: str,
) -> Verdict:
    first = _describe(v.estimate)
    if not results:  # nothing re-measured it: the first verdict stands (a broken check must not pass a regression)
        why = failure or ("no confirmation run measured this case" if attempted else "no confirmation run was made")
        return replace(v, note=f"not confirmed ({why}): this verdict is the first run's alone", first=v.estimate)
    metric = _metric(results[0].kind, v.metric)
    if metric is None or metric.samples is None or base is None:
        return replace(v, first=v.estimate, note="not confirmed (the confirmation runs cannot be compared): this verdict is the first run's alone")
    key = f"{v.test}::{v.case}"
    model = models.get(v.metric)
    clean = [r for r in results if policy.gate_noisy or not disturbances(r)]
    head_runs = [_latency_oriented(metric, s) for r in clean if (s := metric.samples(r)) is not None and len(s) >= 3]
    estimate: RatioEstimate | None = None
    if model is not None and model.judges(key, policy.min_replicates) and head_runs:
        estimate = ratio_of_runs_to_replicates(model, key, head_runs, statistic=policy.statistic,
                                               confidence=confidence, floor=policy.replicate_floor)
        if estimate is not None and not metric.lower_is_better:
            estimate = _inverted(estimate)
    used = len(head_runs)
    if estimate is not None:
        verdict, improved = judge(estimate, v.threshold, lower_is_better=metric.lower_is_better)
        spread = model.cases[key] if model is not None else None
        veto = "" if policy.gate_noisy else direction_veto(verdict, spread.disturbed if spread else (), ())
        if veto:
            verdict, improved = "inconclusive", False
        rule = f"the mean of {used} confirmation runs against the baseline's {estimate.n_base}"
    else:  # a single-run baseline: each confirmation run judged on its own against it
        judged = []
        for r in results:
            est, _ = _estimate(metric, base, r, confidence, policy.floor(metric.name), policy.statistic)
            if est is None:
                continue
            word, imp = judge(est, v.threshold, lower_is_better=metric.lower_is_better)
            if not policy.gate_noisy and direction_veto(word, disturbances(base), disturbances(r)):
                word, imp = "inconclusive", False
            if word == "inconclusive" and disturbances(r) and not policy.gate_noisy:
                continue  # a disturbed run that could not decide says nothing either way
            judged.append(((_side(word, est, v, metric.lower_is_better), imp), est))
        if not judged:
            flags = sorted({c for r in results for c in disturbances(r)})
            every = "the confirmation run was" if len(results) == 1 else f"all {len(results)} confirmation runs were"
            why = (f"{every} disturbed ({', '.join(flags)})" if flags
                   else "the confirmation runs have no comparable samples")
            return replace(v, first=v.estimate, note=f"not confirmed ({why}): this verdict is the first run's alone")
        words = [w for (w, _), _ in judged]
        verdict, open_to_more = _single_run_rule(words)
        improved = verdict == "ok" and all(imp for (_, imp), _ in judged)
        ests = sorted((e for _, e in judged), key=lambda e: e.ratio)
        estimate = ests[(len(ests) - 1) // 2]  # the median confirmation run's estimate is the one shown
        used = len(judged)
        rule = f"{used} confirmation run{'s' if used > 1 else ''}, each against the baseline run ({', '.join(words)})"
        if verdict == "inconclusive":
            said = "re-measured"
            note = f"{said}: {rule}: {_describe(estimate)}; first run {first}"
            return replace(v, verdict=verdict, estimate=estimate, improved=False, samples_needed=None, note=_dropped(note, results, used),
                           first=v.estimate, confirm_runs=used, open_to_more=open_to_more)
    said = "confirmed" if verdict == "regressed" and v.verdict == "regressed" else "re-measured"
    note = f"{said}: {rule}: {_describe(estimate)}; first run {first}"
    return replace(v, verdict=verdict, estimate=estimate, improved=improved, samples_needed=None, note=_dropped(note, results, used),
                   first=v.estimate, confirm_runs=used, open_to_more=estimate.method == "replicates" and verdict == "inconclusive")


ONE_RUN_METHODS = ("minimum", "hodges-lehmann")  # estimates against a single baseline run (perfsuite.compare.stats)


def one_run_regressions(comparison: Comparison) -> tuple[str, ...]:
    """Result keys with a sample verdict `regressed` judged against a single baseline run.

    The first run and every confirmation run are each compared with that one baseline run, so
    however many of them agree, nothing has measured how far the baseline run itself was from its
    code's usual speed: a baseline process that ran unusually fast makes every later run look
    regressed (an unchanged suite failed its gate so on an idle VM, bert.tiny +18.4% [+2.6%, +36.6%]
    in two runs; docs/gating.md). Before it fails, the gate measures the baseline's commit once more
    and judges these cases against that run too (`recheck`).
    """
    keys: dict[str, None] = {}
    for v in comparison.verdicts:
        if v.verdict == "regressed" and v.estimate.method in ONE_RUN_METHODS:
            keys.setdefault(f"{v.test}::{v.case}", None)
    return tuple(keys)


def recheck(
    comparison: Comparison,
    fresh: RunResult | None,
    runs: Sequence[RunResult],
    policy: GatePolicy,
    *,
    keys: Sequence[str],
    commit: str | None,
    why_not: str = "",
    looks: int = 1,
) -> Comparison:
    """``comparison`` with each one-run regression of ``keys`` judged again against ``fresh``.

    ``fresh``: the baseline's commit measured once more, now (`perfsuite.beside.measure_base_again`);
    ``runs``: the head's runs that judged the regression (the confirmation runs). Each is judged
    against ``fresh`` as against the saved run (`_single_run_rule`, at ``alpha / looks``): the
    regression stands when they regress against it too, or when every one of them is still worse
    than the threshold against it but some too noisy to prove it (they agree with the regression:
    a baseline run that was merely fast would leave them near no change). Otherwise it takes that
    verdict (`ok`, or `inconclusive`: a run came out within the threshold, so the saved baseline run
    was faster than its code now measures). A ``fresh`` run
    that did not measure a case, or was disturbed (it could only be too slow, which would hide a
    regression), leaves the regression standing with a note that says why.
    """
    where = f"the baseline's commit {commit[:7]} measured again" if commit else "the baseline's commit measured again"
    fresh_cases = _passed(fresh) if fresh is not None else {}
    confidence = suite_confidence(comparison.alpha / max(1, looks), comparison.tests)
    again = _measured(runs, keys)
    out = []
    for v in comparison.verdicts:
        key = f"{v.test}::{v.case}"
        if key not in keys or v.verdict != "regressed" or v.estimate.method not in ONE_RUN_METHODS:
            out.append(v)
            continue
        base = fresh_cases.get(key)
        flags = disturbances(base) if base is not None else ()
        if base is None or (flags and not policy.gate_noisy) or not again.get(key):
            if base is None:
                why = (why_not or "there is no such run") if fresh is None else "it did not measure this case"
            elif flags and not policy.gate_noisy:
                why = f"it was disturbed ({', '.join(flags)})"
            else:
                why = "no run of this session measured the case to judge against it"
            out.append(replace(v, note=f"{v.note}; not checked against {where}: {why}, so the regression stands"))
            continue
        checked = _confirmed(v, base, again.get(key, []), policy, {}, confidence, attempted=True, failure="")
        said = checked.note.split(": ", 1)[-1].split("; first run ")[0].replace("against the baseline run", "against it")
        if checked.verdict == "regressed":
            out.append(replace(v, note=f"{v.note}; {where}: regressed too ({said})"))
        elif checked.verdict == "inconclusive" and checked.open_to_more:  # every run worse than the threshold, some too wide to prove it
            out.append(replace(v, note=f"{v.note}; {where}: worse than the threshold in every run, some too noisy to prove it "
                                       f"({said}), which agrees with the regression"))
        else:
            out.append(replace(v, verdict=checked.verdict, estimate=checked.estimate, improved=checked.improved,
                               note=f"checked against {where}: {checked.verdict} ({said}); against the saved baseline run: "
                                    f"regressed {_describe(v.estimate)}", first=v.first or v.estimate))
    return replace(comparison, verdicts=tuple(out))


def _dropped(note: str, results: Sequence[CaseResult], used: int) -> str:
    dropped = len(results) - used
    return note + (f"; {dropped} disturbed confirmation run{'s' if dropped > 1 else ''} left out" if dropped else "")


def _side(word: str, est: RatioEstimate, v: Verdict, lower_is_better: bool) -> str:
    """A confirmation run's word: `regressed` / `ok`, or for an undecided run `wide` when its estimate
    is worse than the threshold (it agrees with a regression but its interval is too wide to show it)
    and `inconclusive` when it is not (it speaks against the regression)."""
    if word != "inconclusive":
        return word
    badness = est.ratio if lower_is_better else 1.0 / est.ratio
    return "wide" if badness > 1.0 + v.threshold else "inconclusive"


def _single_run_rule(words: Sequence[str]) -> tuple[str, bool]:
    """(verdict, whether a further run could still change it) from the confirmation runs' words.

    `regressed`: most runs regressed (more `regressed` than `wide`) and none disagreed. A `wide`
    run (worse than the threshold but too noisy to prove it) does not speak against the
    regression, but it does not confirm it either: with one regressed run against two wide ones
    the evidence is that one run's, which an unchanged suite on a busy machine produced (distilbert
    +12.4% [-8.5%, +38.2%] from (wide, wide, regressed); docs/gating.md). `ok`: every run ok.
    Otherwise `inconclusive`, for good once a run said `ok` or spoke against the regression (no
    later run can make every run agree), open while only `wide` runs keep the regressed ones from
    a majority. Each run is judged at ``alpha / K`` for K possible runs.
    """
    if all(w == "ok" for w in words):
        return "ok", False
    if any(w in ("ok", "inconclusive") for w in words):
        return "inconclusive", False
    if sum(w == "regressed" for w in words) > sum(w == "wide" for w in words):
        return "regressed", False
    return "inconclusive", True
