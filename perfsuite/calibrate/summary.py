"""What the trials say: detection and false-alarm rates per case, the smallest slowdown caught, a setting.

Pure functions over `Trial` records. Only timing metrics count (those the metric registry measures
from samples: latency, throughput, TTFT, ...): a config change also moves exact figures such as
the weights' size, and a detection figure made of those would say nothing about timing.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from perfsuite.calibrate.trials import CaseVerdict, Change, Trial, TrialPlan
from perfsuite.compare.verdict import METRICS

#: A change counts as caught when the gate calls it regressed in at least this share of trials (issue #22's bar).
DETECTION = 0.9
#: The metrics timed from samples, whose verdicts the detection figures are made of.
TIMING_METRICS = frozenset(m.name for ms in METRICS.values() for m in ms if m.samples is not None)


@dataclass(frozen=True)
class Rate:
    hits: int
    n: int

    @property
    def rate(self) -> float | None:
        return self.hits / self.n if self.n else None

    def __str__(self) -> str:
        return f"{self.hits}/{self.n}" if self.n else "-"


def timing(trial: Trial) -> list[CaseVerdict]:
    return [v for v in trial.verdicts if v.metric in TIMING_METRICS]


def caught(trial: Trial, case: str) -> bool:
    """The gate called one of the case's timing metrics regressed."""
    return any(v.verdict == "regressed" for v in timing(trial) if v.case == case)


def wrong_direction(trial: Trial, change: Change) -> list[CaseVerdict]:
    """Confident timing verdicts against the change made: a slowed case `ok (improved)`, an untouched case `regressed`."""
    return [v for v in timing(trial)
            if (change.reaches(v.case) and v.verdict == "ok" and v.improved) or (not change.reaches(v.case) and v.verdict == "regressed")]


@dataclass(frozen=True)
class CaseRow:
    """One case under one method: its detection rate per change and the smallest slowdown caught."""

    case: str
    method: str
    rates: dict[str, Rate]  # change label -> trials in which the case was caught (for "unchanged": false alarms)
    smallest: float | None  # the smallest slowdown caught in >= DETECTION of trials, and every larger one tried too


@dataclass(frozen=True)
class ArmRow:
    """One method and change over all its trials: the acceptance table's row."""

    method: str
    change: str
    trials: int
    gates_failed: int
    reached: Rate  # timing verdicts of reached cases that were `regressed`
    all_reached: int  # trials in which every timing verdict of a reached case was `regressed`
    wrong: int  # wrong-direction verdicts
    gate_wall_s: float | None  # mean
    plain_wall_s: float | None  # mean


@dataclass(frozen=True)
class Calibration:
    cases: tuple[CaseRow, ...]
    arms: tuple[ArmRow, ...]
    advice: tuple[str, ...]


def _mean(values: Sequence[float | None]) -> float | None:
    xs = [v for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


def case_rows(trials: Sequence[Trial], changes: Sequence[Change], method: str) -> list[CaseRow]:
    mine = [t for t in trials if t.method == method]
    cases = sorted({v.case for t in mine for v in timing(t)})
    slowdowns = sorted((c for c in changes if c.slowdown), key=lambda c: c.slowdown or 0.0)
    rows = []
    for case in cases:
        rates = {}
        for change in changes:
            seen = [t for t in mine if t.change == change.label and any(v.case == case for v in timing(t))]
            rates[change.label] = Rate(sum(caught(t, case) for t in seen), len(seen))
        tried = [c for c in slowdowns if rates[c.label].n]
        smallest = next((c.slowdown for i, c in enumerate(tried)  # the smallest from which every larger one is caught too
                         if all((rates[d.label].rate or 0.0) >= DETECTION for d in tried[i:])), None)
        rows.append(CaseRow(case, method, rates, smallest))
    return rows


def arm_rows(trials: Sequence[Trial], changes: Sequence[Change]) -> list[ArmRow]:
    out = []
    for method in ("separate", "ab"):
        for change in changes:
            mine = [t for t in trials if t.method == method and t.change == change.label]
            if not mine:
                continue
            reached = [v for t in mine for v in timing(t) if change.reaches(v.case)]
            out.append(ArmRow(method, change.label, len(mine), sum(t.failed for t in mine),
                              Rate(sum(v.verdict == "regressed" for v in reached), len(reached)),
                              sum(_all_regressed(t, change) for t in mine),
                              sum(len(wrong_direction(t, change)) for t in mine),
                              _mean([t.gate_wall_s for t in mine]), _mean([t.plain_wall_s for t in mine])))
    return out


def _all_regressed(trial: Trial, change: Change) -> bool:
    reached = [v for v in timing(trial) if change.reaches(v.case)]
    return bool(reached) and all(v.verdict == "regressed" for v in reached)


def rounds_for(trials: Sequence[Trial], rounds: int, target: float) -> int | None:
    """A/B rounds that would catch ``target`` in DETECTION of runs, from the A/A trials' intervals at ``rounds``.

    A paired interval's half-width ``h`` shrinks as 1/sqrt(rounds); the lower bound of a
    ``target`` slowdown clears the threshold in DETECTION of runs once ``target - threshold >=
    h * (1 + z_power / z_conf)`` (the bound's own scatter is about ``h / z_conf``). None when the
    A/A trials have no finite interval or the target is not above the threshold.
    """
    widths, need = [], []
    for t in trials:
        if t.method != "ab" or t.change != "unchanged":
            continue
        for v in timing(t):
            if v.low is None or v.high is None or not (math.isfinite(v.low) and math.isfinite(v.high)) or not v.confidence:
                continue
            if target <= v.threshold:
                return None
            z_conf = statistics.NormalDist().inv_cdf(0.5 + v.confidence / 2)
            factor = (1 + statistics.NormalDist().inv_cdf(DETECTION) / z_conf) / (target - v.threshold)
            widths.append((v.high - v.low) / 2)
            need.append(factor)
    if not widths:
        return None
    h = statistics.median(widths)
    return max(2, math.ceil(rounds * (h * max(need)) ** 2))


def advice(rows: Sequence[CaseRow], arms: Sequence[ArmRow], changes: Sequence[Change], trials: Sequence[Trial], ab_rounds: int) -> list[str]:
    out = []
    thresholds = sorted({v.threshold for t in trials for v in timing(t) if v.metric == "latency"})
    configured = f" (configured latency threshold {', '.join(f'{x:.0%}' for x in thresholds)})" if thresholds else ""
    for method, name in (("separate", "separate runs (--perf-compare --perf-gate)"), ("ab", f"A/B ({ab_rounds} rounds)")):
        mine = [r for r in rows if r.method == method]
        if not mine:
            continue
        missed = [r.case for r in mine if r.smallest is None]
        found = [r.smallest for r in mine if r.smallest is not None]
        if not missed:
            worst = max(found)
            smallest_tried = worst == min(c.slowdown for c in changes if c.slowdown)
            out.append(f"{name}: every case was caught in >= {DETECTION:.0%} of trials from a {worst:.0%} slowdown on"
                       f"{' (the smallest tried)' if smallest_tried else ''}; smaller changes pass unseen on this runner, so set the "
                       f"latency threshold to {worst:.0%}{configured} or judge smaller changes with `perfsuite ab`")
        else:
            out.append(f"{name}: {len(missed)} of {len(mine)} case(s) not caught in >= {DETECTION:.0%} of trials at any slowdown tried: "
                       f"{', '.join(missed[:5])}{' ...' if len(missed) > 5 else ''}")
        for arm in arms:
            if arm.method == method and arm.change == "unchanged" and arm.gates_failed:
                out.append(f"{name}: the unchanged suite failed the gate in {arm.gates_failed}/{arm.trials} trials: "
                           f"raise the thresholds or save more baseline runs (--perf-baseline-keep)")
    sep = {r.case: r.smallest for r in rows if r.method == "separate"}
    tried = sorted(c.slowdown for c in changes if c.slowdown)
    if ab_rounds and tried:
        target = next((s for s in tried if any(v is None or v > s for v in sep.values())), tried[0])
        needed = rounds_for(trials, ab_rounds, target)
        if needed is not None:
            out.append(f"A/B: about {needed} rounds (`perfsuite ab --rounds {needed}`) would catch a {target:.0%} slowdown in "
                       f">= {DETECTION:.0%} of runs, estimated from the unchanged A/B trials' intervals at {ab_rounds} rounds")
    return out


def calibrate(trials: Sequence[Trial], changes: Sequence[Change], ab_rounds: int = 0) -> Calibration:
    rows = case_rows(trials, changes, "separate") + case_rows(trials, changes, "ab")
    arms = arm_rows(trials, changes)
    return Calibration(tuple(rows), tuple(arms), tuple(advice(rows, arms, changes, trials, ab_rounds)))


def document(plan: TrialPlan, trials: Sequence[Trial]) -> dict[str, Any]:
    """The calibration JSON: the plan, every trial as recorded and what they add up to (rewritten after each trial)."""
    cal = calibrate(trials, plan.changes, plan.ab_rounds)
    return {
        "schema_version": 1,
        "plan": plan.to_dict(),
        "trials": [t.to_dict() for t in trials],
        "cases": [{"case": r.case, "method": r.method, "smallest_caught": r.smallest,
                   "rates": {k: {"hits": v.hits, "n": v.n} for k, v in r.rates.items()}} for r in cal.cases],
        "changes": [asdict(a) for a in cal.arms],
        "advice": list(cal.advice),
    }
