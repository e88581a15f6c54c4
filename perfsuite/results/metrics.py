"""The one metric registry: every figure of a case declared once.

Each `MetricDef` says what a figure is (name, unit, the result kinds that have it, how to read it
from a `CaseResult`), which way is better, how the gate judges it (`Gated`: its verdict name, its
threshold group and that group's default threshold, raw samples or one number, a byte floor), where
trackers file it, whether the history keeps it and trends draw it, and its terminal column. The
tables (tables/cases.csv, metrics.parquet), the gate (`perfsuite.compare.verdict.METRICS`), the
history, the trackers and the terminal / summary.md tables all read this module; a test's own
figures (`perf.metric`) join them at run time (`perfsuite.compare.verdict.own_metrics`).

Adding a built-in metric: one `MetricDef` here (plus the threshold in conf/gate/default.yaml for a
gated one, and docs/tables.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from perfsuite.measure.stats import SampleStats
from perfsuite.results.case import CaseResult

Getter = Callable[[CaseResult], "float | None"]
LATENCY, GENERATION, PROFILE, STATIC, SCENARIO = ("latency",), ("generation",), ("profile",), ("static",), ("scenario",)
MEASURED = LATENCY + GENERATION
TRACKING_GROUPS = ("latency", "throughput", "generation", "memory", "compute")


@dataclass(frozen=True)
class Gated:
    """How the gate judges a figure: by its raw samples (``samples`` and ``median``) or as one number (``value``)."""

    name: str  # its name in verdicts ("latency", "ttft", "host_rss_own")
    group: str  # the threshold group (conf/gate thresholds.<group>)
    threshold: float  # the group's default threshold (relative change)
    kinds: tuple[str, ...]  # the result kinds it is judged for
    samples: Getter | None = None  # raw samples (seconds or rates) for an interval; None: one number, compared exactly
    median: Getter | None = None  # the median, when a side has no raw samples
    floor_scale: Callable[[CaseResult], float] | None = None  # bytes: growth below memory_floor_mib x this never regresses


@dataclass(frozen=True)
class MetricDef:
    """One figure of a case: a table column, a history series, a tracker key, a gated metric."""

    name: str
    unit: str  # "s", "B", "samples/s", "tokens/s", "tokens", "FLOP", "FLOP/B", "params", "steps", "ratio"
    kinds: tuple[str, ...]
    value: Getter
    why: Callable[[CaseResult], str | None] = lambda r: None  # why a missing value is missing
    n: Callable[[CaseResult], int | None] = lambda r: None  # samples behind the figure
    better: str | None = None  # "lower", "higher", None: a description, not a goal
    gate: Gated | None = None
    tracking: str = "compute"  # the output.trackers.<t>.metrics group (one of TRACKING_GROUPS)
    history: bool = False  # kept per run in the history (trends, change points)
    trend: bool = False  # drawn in the report's trend charts
    column: str | None = None  # its terminal / summary.md column, for a figure the kind's table does not show already
    fmt: str = "si"  # how that column shows it: "duration", "size", "si"


# -- readers -----------------------------------------------------------------------------------------

def latency_n(r: CaseResult) -> int | None:
    return r.stats.n if r.stats is not None else None


def _stat(kind_stats: Callable[[CaseResult], SampleStats | None], key: str) -> tuple[Getter, Callable[[CaseResult], str | None]]:
    """Reader and reason of one statistic (`p50`, `mean`, ...) of the stats `kind_stats` picks."""

    def value(r: CaseResult) -> float | None:
        stats = kind_stats(r)
        return None if stats is None else getattr(stats, f"{key}_s", getattr(stats, key, None))

    def why(r: CaseResult) -> str | None:
        stats = kind_stats(r)
        return None if stats is None else stats.not_established.get(key)

    return value, why


def _ci(i: int) -> tuple[Getter, Callable[[CaseResult], str | None]]:
    def value(r: CaseResult) -> float | None:
        ci = r.stats.median_ci_s if r.stats is not None else None
        return None if ci is None else ci[i]

    return value, lambda r: r.stats.not_established.get("median_ci") if r.stats is not None else None


def _gen(part: str) -> Callable[[CaseResult], SampleStats | None]:
    return lambda r: getattr(r.generation, part) if r.generation is not None else None


def _kv(key: str) -> Getter:
    def value(r: CaseResult) -> float | None:
        kv = r.generation.kv_cache if r.generation is not None else None
        found = kv.get(key) if kv else None
        return float(found) if isinstance(found, (int, float)) and not isinstance(found, bool) else None

    return value


def _prefill_memory(read: Callable[[Any], Any]) -> Getter:
    def value(r: CaseResult) -> float | None:
        m = r.generation.prefill_memory if r.generation is not None else None
        found = read(m) if m is not None else None
        return None if found is None else float(found)

    return value


def gen_n(r: CaseResult) -> int | None:
    return r.generation.n_runs if r.generation is not None else None


def _rate(attr: str) -> tuple[Getter, Callable[[CaseResult], str | None]]:
    return (lambda r: getattr(r.throughput, attr) if r.throughput is not None else None,
            lambda r: r.throughput.not_established if r.throughput is not None else None)


def _host(attr: str) -> Getter:
    return lambda r: getattr(r.memory.host, attr) if r.memory is not None and r.memory.host is not None else None


def _cuda(attr: str) -> Getter:
    return lambda r: getattr(r.memory.cuda, attr) if r.memory is not None and r.memory.cuda is not None else None


def _weights(r: CaseResult) -> float | None:
    if r.static is not None:
        return r.static.weights_bytes
    return r.memory.weights_bytes if r.memory is not None else None


def _flops(r: CaseResult) -> float | None:
    if r.static is not None:
        return r.static.flops_per_call
    return r.profile.flops_per_call if r.profile is not None else None


def _first_call(r: CaseResult) -> float | None:
    return r.measurement.first_call_s if r.measurement is not None else None


def _latency_samples(r: CaseResult) -> tuple[float, ...] | None:
    return r.samples_s or None


def _rate_samples(r: CaseResult) -> tuple[float, ...] | None:
    """Calls per second of each sample: the batch size cancels in a ratio of the same case."""
    samples = r.samples_s
    return tuple(1.0 / s for s in samples if s > 0) if samples else None


def _rate_median(r: CaseResult) -> float | None:
    median = r.stats.p50_s if r.stats is not None else None
    return 1.0 / median if median else None


def _setup_s(r: CaseResult) -> float | None:
    """Compile / export time before timing: with an empty cache when measured so, else with the cache."""
    s = r.runtime_setup
    return None if s is None else (s.cold_s if s.cold_s is not None else s.warm_s)


def _own_per_sample(r: CaseResult) -> float | None:
    own = r.memory.host.own_peak_bytes if r.memory is not None and r.memory.host is not None else None
    return None if own is None else own / max(r.case.batch_size, 1)


def _load(part: str, key: str) -> tuple[Getter, Callable[[CaseResult], str | None]]:
    """Reader and reason of one percentile (`p99`) of a scenario's per-request quantity (`latency`, `queueing`, `ttft`, ...)."""

    def of(r: CaseResult) -> Any:
        return getattr(r.scenario, part) if r.scenario is not None else None

    def value(r: CaseResult) -> float | None:
        p = of(r)
        return None if p is None else getattr(p, f"{key}_s")

    def why(r: CaseResult) -> str | None:
        p = of(r)
        return None if p is None else p.not_established.get(key)

    return value, why


def _scenario(attr: str) -> Getter:
    return lambda r: getattr(r.scenario, attr) if r.scenario is not None else None


def _requests(r: CaseResult) -> int | None:
    return r.scenario.sent if r.scenario is not None and r.scenario.sent else None


def _max_rate(r: CaseResult) -> float | None:
    return r.scenario.sweep.max_rate_per_s if r.scenario is not None and r.scenario.sweep is not None else None


def _max_rate_why(r: CaseResult) -> str | None:
    sweep = r.scenario.sweep if r.scenario is not None else None
    return None if sweep is None or sweep.max_rate_per_s is not None else f"{sweep.status}: {sweep.reason}"


def _oversaturated(r: CaseResult) -> float | None:
    flag = r.scenario.oversaturated if r.scenario is not None else None
    return None if flag is None else float(flag)


def _scenario_definitions() -> list[MetricDef]:
    """A load scenario's figures (perfsuite.scenarios): per-request percentiles (n/e until established), rates, SLO, saturation."""
    defs = []
    for part, keys in (("latency", ("p50", "p90", "p99")), ("queueing", ("p50", "p99")), ("service", ("p50", "p99")),
                       ("ttft", ("p50", "p99")), ("tpot", ("p50", "p99")), ("send_error", ("p50", "p99"))):
        for k in keys:
            defs.append(MetricDef(f"scenario_{part}_{k}_s", "s", SCENARIO, *_load(part, k), n=_requests, better="lower",
                                  tracking="generation" if part in ("ttft", "tpot") else "latency",
                                  history=k == "p99" and part in ("latency", "queueing", "ttft", "tpot"), fmt="duration"))
    defs += [
        MetricDef("scenario_offered_rate_per_s", "requests/s", SCENARIO, _scenario("offered_rate_per_s"), n=_requests, tracking="throughput"),
        MetricDef("scenario_achieved_rate_per_s", "requests/s", SCENARIO, _scenario("achieved_rate_per_s"), n=_requests, better="higher",
                  tracking="throughput", history=True),
        MetricDef("scenario_capacity_per_s", "requests/s", SCENARIO, _scenario("capacity_per_s"), better="higher", tracking="throughput"),
        # Requests meeting the SLO per second of the run: one number per run, gated with the scenario threshold
        MetricDef("scenario_goodput_per_s", "requests/s", SCENARIO, _scenario("goodput_per_s"), n=_requests, better="higher",
                  tracking="throughput", history=True, trend=True, gate=Gated("goodput", "scenario", 0.10, SCENARIO)),
        MetricDef("scenario_slo_attainment", "ratio", SCENARIO, lambda r: r.scenario.attainment_fraction if r.scenario else None,
                  n=_requests, better="higher", tracking="latency", history=True),
        # The sweep's answer: the last rate that passed (its bracket's lower end; rel_tol wide)
        MetricDef("scenario_max_rate_per_s", "requests/s", SCENARIO, _max_rate, why=_max_rate_why, better="higher", tracking="throughput",
                  history=True, trend=True, gate=Gated("max_rate", "scenario", 0.10, SCENARIO)),
        MetricDef("scenario_knee_rate_per_s", "requests/s", SCENARIO,
                  lambda r: r.scenario.sweep.knee_rate_per_s if r.scenario is not None and r.scenario.sweep is not None else None,
                  tracking="throughput"),
        MetricDef("scenario_mean_batch_size", "requests", SCENARIO, lambda r: r.scenario.mean_batch_size if r.scenario else None,
                  tracking="throughput"),
        MetricDef("scenario_oversaturated", "ratio", SCENARIO, _oversaturated, tracking="latency"),  # 1: the queue grew without bound
    ]
    return defs


_BYTES = lambda r: 1.0  # noqa: E731 - the memory floor as configured
_PER_SAMPLE = lambda r: 1.0 / max(r.case.batch_size, 1)  # noqa: E731 - the floor shared by the batch's samples


def _definitions() -> tuple[MetricDef, ...]:
    latency = lambda r: r.stats  # noqa: E731
    defs = [
        MetricDef("latency_p50_s", "s", LATENCY, *_stat(latency, "p50"), n=latency_n, better="lower", tracking="latency", history=True,
                  trend=True, gate=Gated("latency", "latency", 0.03, LATENCY, _latency_samples, lambda r: r.stats.p50_s if r.stats is not None else None)),
        *(MetricDef(f"latency_{k}_s", "s", LATENCY, *_stat(latency, k), n=latency_n, better="lower", tracking="latency",
                    history=k in ("p90", "p99", "mean", "min", "iqr"))
          for k in ("p90", "p95", "p99", "mean", "min", "max", "stdev", "iqr")),
        MetricDef("latency_cv", "ratio", LATENCY, *_stat(latency, "cv"), n=latency_n, tracking="latency"),
        *(MetricDef(f"latency_median_ci_{side}_s", "s", LATENCY, *_ci(i), n=latency_n, tracking="latency", history=True)
          for i, side in enumerate(("low", "high"))),
        MetricDef("samples_per_s", "samples/s", LATENCY, *_rate("samples_per_s"), n=latency_n, better="higher", tracking="throughput",
                  history=True, trend=True, gate=Gated("throughput", "throughput", 0.03, LATENCY, _rate_samples, _rate_median)),
        MetricDef("tokens_per_s", "tokens/s", LATENCY, *_rate("tokens_per_s"), n=latency_n, better="higher", tracking="throughput", history=True),
        MetricDef("first_call_s", "s", LATENCY, _first_call, better="lower", tracking="latency"),
        # Measured once per case: gated as one number, with a threshold for compile-time noise (20-40% between runs).
        MetricDef("runtime_setup_s", "s", LATENCY, _setup_s, better="lower", history=True, column="setup", fmt="duration",
                  gate=Gated("runtime_setup", "setup", 0.5, LATENCY)),
    ]
    itl_columns = {"p50": "ITL p50", "p90": "ITL p90"}  # inter-token latency: what LLM serving users compare
    for part, keys in (("ttft", ("p50", "p90", "p99")), ("tpot", ("p50", "p90", "p99")), ("inter_token", ("p50", "p90", "p99")), ("e2e", ("p50", "p90", "p99"))):
        for k in keys:
            gate = None
            if k == "p50" and part in ("ttft", "e2e"):
                gate = Gated(part, "latency", 0.03, GENERATION, lambda r, p=part: getattr(r.generation, f"{p}_samples_s") or None if r.generation else None,
                             lambda r, p=part: getattr(r.generation, p).p50_s if r.generation is not None else None)
            defs.append(MetricDef(f"{part}_{k}_s", "s", GENERATION, *_stat(_gen(part), k), n=gen_n, better="lower", tracking="generation",
                                  history=k == "p50" and part != "inter_token", trend=k == "p50" and part in ("ttft", "tpot"), gate=gate,
                                  column=itl_columns.get(k) if part == "inter_token" else None, fmt="duration"))
    defs += [
        # decode_tokens_per_s is a SampleStats of rates: its "p50_s" field holds tokens/s, not seconds
        MetricDef("decode_tokens_per_s_p50", "tokens/s", GENERATION, *_stat(_gen("decode_tokens_per_s"), "p50"), n=gen_n, better="higher",
                  tracking="throughput", history=True),
        MetricDef("prefill_tokens_per_s_p50", "tokens/s", GENERATION, *_stat(_gen("prefill_tokens_per_s"), "p50"), n=gen_n, better="higher",
                  tracking="throughput", history=True, column="prefill tokens/s"),
        # Computed from the config at the end of a call (prompt + new tokens - 1 positions): changes only with the model
        MetricDef("kv_cache_bytes", "B", GENERATION, _kv("bytes"), better="lower", tracking="memory", column="KV cache", fmt="size",
                  gate=Gated("kv_cache_bytes", "exact", 0.0, GENERATION)),
        MetricDef("kv_cache_measured_bytes", "B", GENERATION, _kv("measured_bytes"), tracking="memory"),
        # The prefill alone (one forward filling the KV cache); host_rss_own_bytes of a generation case is whole calls
        MetricDef("prefill_host_rss_own_bytes", "B", GENERATION, _prefill_memory(lambda m: m.host.own_peak_bytes if m.host else None),
                  better="lower", tracking="memory", history=True, column="prefill own RSS", fmt="size"),
        MetricDef("prefill_cuda_max_allocated_bytes", "B", GENERATION, _prefill_memory(lambda m: m.cuda.max_allocated_bytes if m.cuda else None),
                  better="lower", tracking="memory", history=True),
        MetricDef("new_tokens", "tokens", GENERATION, lambda r: r.generation.new_tokens if r.generation else None, tracking="generation"),
        MetricDef("prompt_tokens", "tokens", GENERATION, lambda r: r.generation.prompt_tokens if r.generation else None, tracking="generation"),
        MetricDef("load_s", "s", MEASURED, lambda r: r.load_s, better="lower", history=True),
        # The case's own memory (counted from the level before its model was built): what the gate judges.
        MetricDef("host_rss_own_bytes", "B", MEASURED, _host("own_peak_bytes"), better="lower", tracking="memory", history=True,
                  gate=Gated("host_rss_own", "memory", 0.10, LATENCY, floor_scale=_BYTES)),
        # What a batch costs per sample: the own peak over the batch size (weights included, shared by the batch).
        MetricDef("host_rss_own_per_sample_bytes", "B", LATENCY, _own_per_sample, better="lower", tracking="memory", history=True,
                  gate=Gated("memory_per_sample", "memory_per_sample", 0.10, LATENCY, floor_scale=_PER_SAMPLE)),
        MetricDef("host_rss_peak_bytes", "B", MEASURED, _host("rss_peak_bytes"), tracking="memory", history=True),  # the process's: context
        MetricDef("host_rss_increase_bytes", "B", MEASURED, _host("rss_increase_bytes"), tracking="memory"),
        MetricDef("cuda_max_allocated_bytes", "B", MEASURED, _cuda("max_allocated_bytes"), better="lower", tracking="memory", history=True,
                  gate=Gated("cuda_max_allocated", "memory", 0.10, LATENCY, floor_scale=_BYTES)),
        MetricDef("cuda_max_reserved_bytes", "B", MEASURED, _cuda("max_reserved_bytes"), tracking="memory"),
        MetricDef("weights_bytes", "B", MEASURED + STATIC, _weights, better="lower", tracking="memory",
                  gate=Gated("weights_bytes", "exact", 0.0, LATENCY)),
        MetricDef("params", "params", STATIC, lambda r: r.static.params if r.static else None, better="lower",
                  gate=Gated("params", "exact", 0.0, STATIC)),
        MetricDef("flops_per_call", "FLOP", PROFILE + STATIC, _flops, better="lower", gate=Gated("flops_per_call", "exact", 0.0, STATIC)),
        MetricDef("flops_per_weight_byte", "FLOP/B", STATIC, lambda r: r.static.flops_per_weight_byte if r.static else None),
        MetricDef("profile_total_flops", "FLOP", PROFILE, lambda r: r.profile.total_flops if r.profile else None),
        MetricDef("profile_active_steps", "steps", PROFILE, lambda r: r.profile.active_steps if r.profile else None),
    ]
    return tuple(defs + _scenario_definitions())


DEFS: tuple[MetricDef, ...] = _definitions()
BY_NAME: Mapping[str, MetricDef] = {d.name: d for d in DEFS}
GATED: tuple[MetricDef, ...] = tuple(d for d in DEFS if d.gate is not None)
#: The gate's threshold groups and their defaults, from the gated metrics; `own` is the tests' own figures (perf.metric).
GROUP_THRESHOLDS: Mapping[str, float] = {**{d.gate.group: d.gate.threshold for d in GATED if d.gate is not None}, "own": 0.05}
HISTORY: tuple[str, ...] = tuple(d.name for d in DEFS if d.history)
TRENDS: tuple[str, ...] = tuple(d.name for d in DEFS if d.trend)


def value_of(name: str, result: CaseResult) -> float | None:
    """One metric of one case as a finite float, or None (not measured, not established, NaN)."""
    raw = BY_NAME[name].value(result)
    if raw is None or isinstance(raw, bool):
        return None
    value = float(raw)
    return value if math.isfinite(value) else None


def tracking_group(name: str) -> str:
    """The trackers' group of a metric name; a name the registry does not know (a test's own figure) is `compute`."""
    found = BY_NAME.get(name)
    return found.tracking if found is not None else "compute"


def gated_of(kind: str) -> tuple[MetricDef, ...]:
    """The gated metrics of results of ``kind``, in the registry's order (timings first: a case's worst verdict names them first)."""
    return tuple(d for d in GATED if d.gate is not None and kind in d.gate.kinds)


def describe(d: MetricDef) -> dict[str, Any]:
    """A metric as plain values (`perfsuite list metrics`, docs)."""
    g = d.gate
    return {"name": d.name, "unit": d.unit, "kinds": list(d.kinds), "better": d.better, "tracking": d.tracking, "history": d.history,
            "trend": d.trend, "gate": None if g is None else {"name": g.name, "group": g.group, "threshold": g.threshold,
                                                              "judged": "samples" if g.samples is not None else "one number"}}
