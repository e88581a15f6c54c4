"""Verdicts: for every case and metric of two runs, `regressed`, `ok` or `inconclusive`. Pure functions.

Each metric has a declared direction (latency lower is better, throughput higher is better,
memory lower is better) and a relative threshold. With the ratio ``head / base`` turned into a
"badness" ratio (``head/base`` when lower is better, ``base/head`` when higher is better) and its
interval ``[lo, hi]``:

- **regressed**: the interval excludes no change (``lo > 1``) and the change exceeds the threshold
  (estimate ``> 1 + threshold``);
- **ok**: the whole interval is inside the threshold (``hi <= 1 + threshold``), including any
  improvement (then also noted as ``improved`` when ``hi < 1``);
- **inconclusive**: neither; `samples_needed` says roughly how many samples per side would decide.

Noise flags explain, evidence decides. A flag about a run's spread or length (`SPREAD_FLAGS`:
high IQR, a time cap) is already in the interval (the block spread of the fastest times, the
replicates' spread) and never changes a verdict. A flag that says the run was *disturbed*
(a contended core, a host that ran slow, throttling, a warm-up that never settled) has a
direction: interference only adds time. A disturbed *head* can make a case look worse than it
is, so it cannot prove a regression (`regressed` becomes `inconclusive`, and the gate re-measures
the baseline beside it); a disturbed *baseline* can make the head look better than it is, so it
cannot prove that a case is `ok` or improved. A disturbed baseline never hides a regression's
sign: with the baseline's times too high, a case whose interval still clears the threshold is
regressed all the more. ``gate_noisy`` turns these vetoes off.

What a timing's ratio compares (`GatePolicy.statistic`): ``min``, the default, is the ratio of
the two runs' fastest times with a between-run interval (`perfsuite.compare.stats.ratio_of_minimums`:
robust to the one-sided interference of a shared machine); ``median`` is the Hodges–Lehmann
shift of all samples with its Moses interval widened by ``noise_floor`` (for quiet, dedicated
machines, where a change of the whole distribution should count). Rates (throughput) mirror
latency: their best is their maximum.

Replicate baselines: a baseline that holds at least ``min_replicates`` runs (``--perf-baseline-keep``)
judges every case by the spread measured between those runs (perfsuite.compare.replicates:
moderated variance, a t prediction interval), not by one run's spread plus an assumed
``noise_floor``. That is the between-run model two single runs cannot give. A baseline run that
was disturbed for a case is left out of that case (and named in the verdict's note); a case left
with no clean run keeps its disturbed runs and counts as a disturbed baseline. With fewer saved
runs the single-run rules apply.

Deterministic figures (parameters, FLOPs, weight bytes) are compared exactly against their own
threshold (default 0: any growth regresses). A side without raw samples (an imported
pytest-benchmark run, or `save_raw_samples: false`) is compared by its median alone: such a
verdict has no interval, and says that it is weaker.

Suite-wide false alarms: with m sample-based tests in one comparison, a case is called
regressed only when its interval's lower bound clears 1, a one-sided test; each interval is built
at two-sided confidence ``1 - 2 alpha / m`` (`suite_confidence`), so each of its tails holds
``alpha / m`` (Bonferroni over one-sided tests) and the chance that any unchanged case is called
regressed stays below ``alpha`` for the whole suite, however many cases it has. (An interval at
``1 - alpha / m`` would spend only half of ``alpha`` on false alarms and lose power for nothing.)
"""

from __future__ import annotations

import fnmatch
import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from perfsuite.compare.replicates import ReplicateModel, ratio_to_replicates
from perfsuite.compare.stats import RatioEstimate, exact_ratio, ratio_of_medians, ratio_of_minimums, ratio_of_samples, samples_to_decide
from perfsuite.results.case import CaseResult
from perfsuite.results.metrics import GROUP_THRESHOLDS, MetricDef, gated_of
from perfsuite.results.run import RunResult

VERDICTS = ("regressed", "ok", "inconclusive")
STATISTICS = ("min", "median")  # what a timing verdict compares; see perfsuite.compare.stats
METRIC_GROUPS = tuple(GROUP_THRESHOLDS)  # the registry's gate groups, then `own`: a test's own figures (perf.metric)


@dataclass(frozen=True)
class GatePolicy:
    """How strict the gate is (conf/gate/*.yaml, --perf-gate-* options)."""

    alpha: float = 0.01  # suite-wide false-alarm rate
    noise_floor: float = 0.0  # relative between-run drift added to every interval (0 for interleaved A/B)
    statistic: str = "min"  # timings: "min" (ratio of fastest times) or "median" (Hodges-Lehmann on all samples)
    gate_noisy: bool = False  # True: a measurement flagged noisy may still be called regressed
    min_replicates: int = 3  # baseline runs a case needs before the replicate model judges it (perfsuite.compare.replicates)
    replicate_floor: float = 0.002  # least between-run SD the replicate model assumes (relative)
    memory_floor_bytes: float = 16 * 2**20  # a memory growth smaller than this is never `regressed`, whatever its ratio
    noise_floors: Mapping[str, float] = field(default_factory=dict)  # metric name -> its own noise_floor (e.g. e2e)
    thresholds: Mapping[str, float] = field(
        default_factory=lambda: dict(GROUP_THRESHOLDS)
    )
    case_thresholds: tuple[tuple[str, str, float], ...] = ()  # (case-id glob, metric group, threshold)

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"gate alpha must be in (0, 0.5), got {self.alpha!r}")
        if not 0 <= self.noise_floor < 1:
            raise ValueError(f"gate noise_floor must be in [0, 1), got {self.noise_floor!r}")
        if not (isinstance(self.min_replicates, int) and self.min_replicates >= 2):
            raise ValueError(f"gate min_replicates must be an integer >= 2, got {self.min_replicates!r}")
        if not 0 <= self.replicate_floor < 1:
            raise ValueError(f"gate replicate_floor must be in [0, 1), got {self.replicate_floor!r}")
        for name, value in self.noise_floors.items():
            if not 0 <= value < 1:
                raise ValueError(f"gate noise_floors.{name} must be in [0, 1), got {value!r}")
        if not 0 <= self.memory_floor_bytes < 2**50:
            raise ValueError(f"gate memory_floor_bytes must be >= 0, got {self.memory_floor_bytes!r}")
        if self.statistic not in STATISTICS:
            raise ValueError(f"gate statistic must be one of {', '.join(STATISTICS)}, got {self.statistic!r}")
        for group, value in self.thresholds.items():
            if group not in METRIC_GROUPS:
                raise ValueError(f"unknown metric group {group!r} in thresholds; known: {', '.join(METRIC_GROUPS)}")
            if not (isinstance(value, (int, float)) and 0 <= value < 10):
                raise ValueError(f"threshold for {group} must be a ratio >= 0 (0.05 = 5%), got {value!r}")

    def paired(self) -> GatePolicy:
        """This policy for interleaved A/B pairs (`perfsuite ab`): pairing cancels the drift, no noise floor."""
        return replace(self, noise_floor=0.0, noise_floors={})

    def floor(self, metric: str) -> float:
        """The noise floor of two separate runs for ``metric``: its own (``noise_floors``) where set, else ``noise_floor``."""
        return float(self.noise_floors.get(metric, self.noise_floor))

    def threshold(self, case_id: str, group: str) -> float:
        for pattern, g, value in reversed(self.case_thresholds):  # the last matching rule wins
            if g == group and fnmatch.fnmatchcase(case_id, pattern):
                return value
        return float(self.thresholds.get(group, 0.0))


@dataclass(frozen=True)
class Metric:
    """One comparable figure of a result."""

    name: str  # "latency", "throughput", "ttft", "host_rss_own", "params", ...
    group: str  # one of METRIC_GROUPS: picks the threshold
    lower_is_better: bool
    samples: Callable[[CaseResult], tuple[float, ...] | None] | None = None
    median: Callable[[CaseResult], float | None] | None = None
    value: Callable[[CaseResult], float | None] | None = None  # deterministic figures
    unit: str = "s"
    floor_scale: Callable[[CaseResult], float] | None = None  # bytes: a growth below memory_floor_bytes x this never regresses


def _gate_view(d: MetricDef) -> Metric:
    """The gate's view of a registry metric (perfsuite.results.metrics): its verdict name, group and readers."""
    g = d.gate
    assert g is not None
    if g.samples is not None:
        return Metric(g.name, g.group, d.better == "lower", samples=g.samples, median=g.median, unit=d.unit, floor_scale=g.floor_scale)
    return Metric(g.name, g.group, d.better == "lower", value=d.value, unit=d.unit, floor_scale=g.floor_scale)


#: The gated metrics of each result kind, from the registry, timings first (a case's worst verdict names them first).
METRICS: dict[str, tuple[Metric, ...]] = {kind: tuple(_gate_view(d) for d in gated_of(kind)) for kind in ("latency", "generation", "static", "scenario")}


def own_metrics(result: CaseResult) -> tuple[Metric, ...]:
    """The test's own figures of ``result`` (`perf.metric`) as comparable metrics: one number each, group `own`."""

    def getter(name: str) -> Callable[[CaseResult], float | None]:
        return lambda r: next((m.value for m in r.metrics if m.name == name), None)

    return tuple(Metric(m.name, "own", m.lower_is_better, value=getter(m.name), unit=m.unit) for m in result.metrics)


def metrics_of(result: CaseResult) -> tuple[Metric, ...]:
    """Every comparable figure of ``result``: its kind's built-in metrics, then the test's own."""
    return (*METRICS.get(result.kind, ()), *own_metrics(result))


@dataclass(frozen=True)
class Verdict:
    """The verdict of one metric of one case."""

    case: str  # case id
    test: str
    metric: str
    verdict: str  # one of VERDICTS
    estimate: RatioEstimate  # head / base, as measured (not yet turned by direction)
    threshold: float
    lower_is_better: bool
    improved: bool = False
    samples_needed: int | None = None
    note: str = ""
    first: RatioEstimate | None = None  # the first run's estimate, when confirmation runs judged this verdict (perfsuite.compare.confirm)
    confirm_runs: int = 0  # confirmation runs the verdict was judged on
    open_to_more: bool = False  # confirmation runs so far could not decide it, and a further one still could

    @property
    def badness(self) -> float:
        """> 1 means worse: head/base for lower-is-better metrics, base/head otherwise."""
        return self.estimate.ratio if self.lower_is_better else 1.0 / self.estimate.ratio

    @property
    def change(self) -> float:
        """Relative change of the metric itself (+0.05: 5% higher)."""
        return self.estimate.change

    def to_dict(self) -> dict[str, object]:
        e = self.estimate
        return {
            "case": self.case,
            "test": self.test,
            "metric": self.metric,
            "verdict": self.verdict,
            "ratio": _finite(e.ratio),
            "ci_low": _finite(e.low),
            "ci_high": _finite(e.high),
            "confidence": e.confidence,
            "method": e.method,
            "judged_by": judged_by(e),
            "n_base": e.n_base,
            "n_head": e.n_head,
            "noise_floor": e.noise_floor,
            "threshold": self.threshold,
            "direction": "lower_is_better" if self.lower_is_better else "higher_is_better",
            "improved": self.improved,
            "samples_needed": self.samples_needed,
            "note": self.note,
            **({"confirm_runs": self.confirm_runs, "first_ratio": _finite(self.first.ratio), "first_ci_low": _finite(self.first.low),
                "first_ci_high": _finite(self.first.high)} if self.first is not None else {}),
        }


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class Comparison:
    """Every verdict of head against base, plus the cases present on one side only."""

    verdicts: tuple[Verdict, ...]
    new: tuple[str, ...]  # result keys only in head
    removed: tuple[str, ...]  # result keys only in base
    alpha: float
    tests: int  # sample-based tests (the Bonferroni m)
    statistic: str = "min"  # what the timings compared (GatePolicy.statistic)

    def of(self, verdict: str) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.verdict == verdict)

    @property
    def regressed(self) -> bool:
        return bool(self.of("regressed"))


def suite_confidence(alpha: float, tests: int) -> float:
    """The two-sided confidence of each interval in a suite of ``tests``: each tail holds ``alpha / tests``.

    Only the lower tail can make a false `regressed` (lower bound above 1), so Bonferroni over
    one-sided tests keeps the suite-wide false-alarm rate at ``alpha``.
    """
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha!r}")
    return 1.0 - 2.0 * alpha / max(1, tests)


def judge(estimate: RatioEstimate, threshold: float, *, lower_is_better: bool) -> tuple[str, bool]:
    """(verdict, improved) of one estimate; see the module docstring for the rules."""
    ratio, lo, hi = estimate.ratio, estimate.low, estimate.high
    if not lower_is_better:
        ratio, lo, hi = 1.0 / ratio, 1.0 / hi, 1.0 / lo
    limit = 1.0 + threshold
    if estimate.method in ("exact", "summary"):
        regressed = ratio > limit if threshold > 0 or estimate.method == "summary" else ratio > 1.0
        return ("regressed" if regressed else "ok"), ratio < 1.0
    if lo > 1.0 and ratio > limit:
        return "regressed", False
    if hi <= limit:
        return "ok", hi < 1.0
    return "inconclusive", False


def _latency_oriented(metric: Metric, samples: tuple[float, ...]) -> list[float]:
    """Samples turned so that lower is better (a rate's 1/x): the replicate model and the minimum work on these."""
    return list(samples) if metric.lower_is_better else [1.0 / x for x in samples]


def _inverted(est: RatioEstimate) -> RatioEstimate:
    return replace(est, ratio=1.0 / est.ratio, low=1.0 / est.high, high=1.0 / est.low)


def disturbances(result: CaseResult) -> tuple[str, ...]:
    """The noise codes of a result that say something added time to it (not only spread)."""
    return tuple(sorted(set(result.noise_codes) - SPREAD_FLAGS))


def replicate_models(runs: Sequence[RunResult], statistic: str) -> dict[str, ReplicateModel]:
    """Per sample metric, every case's summaries over the baseline's runs (newest and older replicates).

    A baseline measurement flagged as disturbed (`contended`, `host_slow`, `throttled`, an unsettled
    warm-up: any flag outside `SPREAD_FLAGS`) is left out of its case when the case has a clean run:
    it measured the disturbance, not the machine's normal spread between runs, and one such run
    widens every case's pooled interval. A case with no clean run keeps its disturbed runs (and
    says so: `CaseSpread.disturbed`), so a replicate baseline always judges by its replicates.
    """
    clean: dict[str, dict[str, list[float]]] = {}
    noisy: dict[str, dict[str, list[tuple[float, str, tuple[str, ...]]]]] = {}
    for i, run in enumerate(runs):
        label = f"baseline run {i + 1} of {len(runs)}" + (f" (started {run.started})" if run.started else "")
        for r in run.cases:
            if r.outcome != "passed":
                continue
            flags = disturbances(r)
            for metric in METRICS.get(r.kind, ()):
                samples = metric.samples(r) if metric.samples is not None else None
                if samples is None or len(samples) < 3:
                    continue
                oriented = _latency_oriented(metric, samples)
                value = min(oriented) if statistic == "min" else float(statistics.median(oriented))
                if flags:
                    noisy.setdefault(metric.name, {}).setdefault(r.key, []).append((value, label, flags))
                else:
                    clean.setdefault(metric.name, {}).setdefault(r.key, []).append(value)
    models = {}
    for name in {*clean, *noisy}:
        summaries = dict(clean.get(name, {}))
        disturbed: dict[str, list[str]] = {}
        left_out: dict[str, list[str]] = {}
        for key, entries in noisy.get(name, {}).items():
            if key in summaries:
                left_out[key] = [f"{label} left out: disturbed ({', '.join(flags)})" for _, label, flags in entries]
            else:
                summaries[key] = [value for value, _, _ in entries]
                disturbed[key] = sorted({f for _, _, flags in entries for f in flags})
        models[name] = ReplicateModel.from_summaries(summaries, runs_saved=len(runs), disturbed=disturbed, left_out=left_out)
    return models


def _estimate(
    metric: Metric, base: CaseResult, head: CaseResult, confidence: float, noise_floor: float, statistic: str = "min",
    replicates: ReplicateModel | None = None, policy: GatePolicy | None = None,
) -> tuple[RatioEstimate | None, str]:
    if metric.value is not None:
        a, b = metric.value(base), metric.value(head)
        if a is None or b is None:
            return None, ""
        return exact_ratio(a, b), ""
    assert metric.samples is not None and metric.median is not None
    sa, sb = metric.samples(base), metric.samples(head)
    if sa is not None and sb is not None and min(len(sa), len(sb)) >= 3:
        if policy is not None and replicates is not None and replicates.judges(head.key, policy.min_replicates):
            est = ratio_to_replicates(
                replicates, head.key, _latency_oriented(metric, sb), statistic=statistic, confidence=confidence, floor=policy.replicate_floor
            )
            if est is not None:
                return (est if metric.lower_is_better else _inverted(est)), ""
        if statistic == "median":
            return ratio_of_samples(sa, sb, confidence=confidence, noise_floor=noise_floor), ""
        if metric.lower_is_better:
            return ratio_of_minimums(sa, sb, confidence=confidence, noise_floor=noise_floor), ""
        # A rate's best is its maximum: the fastest call seen as a rate (1/x turns it into a minimum).
        est = ratio_of_minimums(_latency_oriented(metric, sa), _latency_oriented(metric, sb), confidence=confidence, noise_floor=noise_floor)
        return _inverted(est), ""
    ma, mb = metric.median(base), metric.median(head)
    if ma is None or mb is None or ma <= 0 or mb <= 0:
        return None, ""
    sides = [name for name, s in (("base", sa), ("head", sb)) if s is None]
    note = f"weaker verdict: {' and '.join(sides) or 'one side'} has no raw samples, so only medians are compared (no interval)"
    n_a = base.stats.n if base.stats else 0
    n_b = head.stats.n if head.stats else 0
    return ratio_of_medians(ma, mb, n_base=n_a, n_head=n_b, confidence=confidence), note


# Flags about a run's spread or length, not about what disturbed it: the replicate model has measured
# the spread between whole runs and widens for the new run's own block spread, so these do not
# stop its verdict. A shared core, throttling or a warm-up that never settled still do.
SPREAD_FLAGS = frozenset({"high_iqr", "max_time", "max_rounds", "hard_budget"})


def base_disturbances(base: CaseResult, estimate: RatioEstimate, model: ReplicateModel | None) -> tuple[str, ...]:
    """What disturbed the baseline side of a sample estimate: its run, or (replicates) the disturbed runs it kept."""
    if estimate.method == "replicates":
        spread = model.cases.get(base.key) if model is not None else None
        return spread.disturbed if spread is not None else ()
    return disturbances(base)


def direction_veto(verdict: str, base_flags: Sequence[str], head_flags: Sequence[str]) -> str:
    """Why a verdict cannot stand given which side was disturbed ("" when it stands).

    Interference only adds time: a disturbed head can only make a case look worse (so it cannot
    prove `regressed`), a disturbed baseline only better (so it cannot prove `ok`).
    """
    if verdict == "regressed" and head_flags:
        return (f"not proven: this run was disturbed ({', '.join(head_flags)}), and interference only adds time, so it can show "
                "a regression but not prove it; the baseline measured beside this run would decide it")
    if verdict == "ok" and base_flags:
        return (f"not proven: the baseline was disturbed ({', '.join(base_flags)}), so its times may be too high and could hide "
                "a regression; a quieter baseline, or the baseline measured beside this run, would decide it")
    return ""


def judged_by(estimate: RatioEstimate) -> str:
    """Which model judged a verdict, in words (verdicts.json `judged_by`, the report)."""
    e = estimate
    if e.method == "replicates":
        return f"replicates: the spread between {e.n_base} baseline runs" + (f", {e.n_head} new runs" if e.n_head > 1 else "")
    if e.method == "minimum":
        return f"one baseline run: fastest samples, block spread (floor {e.noise_floor:.0%})"
    if e.method == "hodges-lehmann":
        return f"one baseline run: Hodges-Lehmann of all samples (floor {e.noise_floor:.0%})"
    if e.method.startswith("paired"):
        return f"paired rounds ({e.method}, {e.n_head} pairs)"
    return {"exact": "exact figures", "summary": "medians only"}.get(e.method, e.method)


def sample_tests(result: CaseResult) -> int:
    """Independent sample-based tests of one result (throughput mirrors latency: not counted)."""
    return sum(1 for m in METRICS.get(result.kind, ()) if m.samples is not None and m.name != "throughput")


def compare_runs(
    base: RunResult,
    head: RunResult,
    policy: GatePolicy | None = None,
    *,
    tests: int | None = None,
    replicates: Sequence[RunResult] = (),
    models: Mapping[str, ReplicateModel] | None = None,
) -> Comparison:
    """Verdicts for every case and metric present in both runs (passed results only).

    ``tests`` is the Bonferroni m; by default the number of sample-based tests compared here. A
    caller judging one case at a time (the pytest gate, as each case finishes) passes the
    suite's total so that every case is judged at the same confidence.

    ``replicates``: the baseline's older runs (``base`` is its newest). A case present in at least
    ``policy.min_replicates`` of them (``base`` included) is judged by the replicate model
    (perfsuite.compare.replicates); ``models`` passes that model precomputed (`replicate_models`).
    """
    policy = policy or GatePolicy()
    if models is None:
        models = replicate_models((base, *replicates), policy.statistic) if replicates else {}
    a = {r.key: r for r in base.cases if r.outcome == "passed"}
    b = {r.key: r for r in head.cases if r.outcome == "passed"}
    shared = [k for k in b if k in a]
    pairs = [(a[k], b[k], m) for k in shared for m in metrics_of(b[k])]
    if tests is None:
        tests = sum(sample_tests(b[k]) for k in shared) or 1
    confidence = suite_confidence(policy.alpha, tests)
    verdicts = []
    for ra, rb, metric in pairs:
        estimate, note = _estimate(metric, ra, rb, confidence, policy.floor(metric.name), policy.statistic, models.get(metric.name), policy)
        if estimate is None:
            continue
        threshold = policy.threshold(rb.case.id, metric.group)
        if metric.group == "own":  # the test's own threshold (perf.metric(..., threshold=)) where it gave one
            threshold = next((m.threshold for m in rb.metrics if m.name == metric.name and m.threshold is not None), threshold)
        verdict, improved = judge(estimate, threshold, lower_is_better=metric.lower_is_better)
        needed = None
        veto = ""
        if metric.samples is not None and not policy.gate_noisy:
            veto = direction_veto(verdict, base_disturbances(ra, estimate, models.get(metric.name)), disturbances(rb))
        if veto:
            verdict, improved, note = "inconclusive", False, veto
        elif verdict == "regressed" and metric.floor_scale is not None:
            verdict, note = _memory_floor(metric, ra, rb, policy.memory_floor_bytes * metric.floor_scale(rb))
        elif verdict == "inconclusive":
            turned = estimate if metric.lower_is_better else replace(
                estimate, ratio=1.0 / estimate.ratio, low=1.0 / estimate.high, high=1.0 / estimate.low
            )
            needed = samples_to_decide(turned, threshold)
            if needed:
                hint = f"about {needed} samples per side would decide it"
            elif estimate.method == "replicates":
                hint = (f"the new run is within the spread of the baseline's {estimate.n_base} runs: more baseline runs "
                        "(--perf-baseline-save NAME again, it keeps the last --perf-baseline-keep) or perfsuite ab would decide it")
            elif estimate.method == "minimum":
                hint = "the runs' fastest times moved between blocks (machine noise): re-measure on a quieter machine, or use perfsuite ab"
            else:
                hint = "more samples alone will not decide it (noise floor or change at the threshold)"
            note = note or hint
        if estimate.method == "replicates":
            spread = models[metric.name].cases[rb.key]
            if spread.left_out:
                note = "; ".join(filter(None, (note, *spread.left_out)))
        verdicts.append(Verdict(rb.case.id, rb.test, metric.name, verdict, estimate, threshold, metric.lower_is_better, improved, needed, note))
    return Comparison(
        verdicts=tuple(verdicts),
        new=tuple(k for k in b if k not in a),
        removed=tuple(k for k in a if k not in b),
        alpha=policy.alpha,
        tests=tests,
        statistic=policy.statistic,
    )


def _memory_floor(metric: Metric, base: CaseResult, head: CaseResult, floor: float) -> tuple[str, str]:
    """A memory figure that grew by more than its threshold stays `regressed` only if it grew by ``floor`` bytes or more.

    A tiny model's own memory is a few MiB to a few tens, and the allocator's and the sampler's own
    noise moves it between runs of the same code by several MiB (docs/gating.md), tens of percent
    of such a figure: a ratio alone would fail unchanged runs. Deterministic growth of a real model
    clears the floor.
    """
    assert metric.value is not None
    a, b = metric.value(base), metric.value(head)
    grew = (b or 0.0) - (a or 0.0)
    if grew >= floor:
        return "regressed", ""
    return "ok", f"grew {grew / 2**20:+.1f} MiB, under the gate's memory floor of {floor / 2**20:g} MiB (memory_floor_mib)"


def worst_per_case(verdicts: Iterable[Verdict]) -> dict[str, str]:
    """One word per case: regressed if any metric regressed, else inconclusive if any was, else ok."""
    rank = {"ok": 0, "inconclusive": 1, "regressed": 2}
    out: dict[str, str] = {}
    for v in verdicts:
        if rank[v.verdict] >= rank.get(out.get(v.case, "ok"), 0):
            out[v.case] = v.verdict
    return out
