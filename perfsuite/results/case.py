"""`CaseResult`: the one typed result of one benchmark test on one case.

A benchmark fills a `CaseDraft` (the `perf_record` fixture) with typed parts; when pytest knows
the outcome, the plugin turns it into a frozen `CaseResult`. Everything else derives from it:
results.json (`to_dict`), pytest-benchmark's `extra_info` (`extra_info`), the terminal table,
and later the gate and the reports, which read it back with `perfsuite.results.load_run`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from perfsuite.measure.generation import GenerationMeasurement
from perfsuite.measure.memory import CudaMemory, HostMemory
from perfsuite.measure.mps import MpsMemory
from perfsuite.measure.oom import OomRecord
from perfsuite.measure.peaks import DevicePeak
from perfsuite.measure.record import Measurement
from perfsuite.measure.stats import SampleStats, json_float
from perfsuite.measure.throughput import Throughput
from perfsuite.results.deep import LayerSummary, MemoryTimelineSummary, NsightSummary
from perfsuite.results.own_metrics import OwnMetric, metrics_from, metrics_to_dict
from perfsuite.results.reading import Doc, convert
from perfsuite.results.runtime_setup import RuntimeSetup
from perfsuite.results.scenario import ScenarioSummary
from perfsuite.runtimes.parity import ParityResult

OUTCOMES = ("passed", "failed", "error", "skipped", "oom")
KINDS = ("latency", "generation", "profile", "static", "scenario")


def stats_to_dict(stats: SampleStats | None) -> dict[str, Any] | None:
    return None if stats is None else stats.to_dict()


def stats_from(doc: Doc) -> SampleStats:
    ci = doc.numbers("median_ci_s", None, low=0, above=True)
    if ci is not None and len(ci) != 2:
        raise doc.fail("median_ci_s", "two numbers [low, high]", list(ci))
    missing = doc.mapping("not_established", {})
    if not all(isinstance(v, str) for v in missing.values()):
        raise doc.fail("not_established", "an object of reasons (strings)", missing)
    return SampleStats(
        n=doc.integer("n"),
        min_s=doc.number("min_s", low=0, above=True),  # durations: a negative or zero time is no measurement
        max_s=doc.number("max_s", low=0, above=True),
        mean_s=doc.number("mean_s", low=0, above=True),
        stdev_s=doc.number("stdev_s", None, low=0),
        p50_s=doc.number("p50_s", None, low=0, above=True),
        p90_s=doc.number("p90_s", None, low=0, above=True),
        p95_s=doc.number("p95_s", None, low=0, above=True),
        p99_s=doc.number("p99_s", None, low=0, above=True),
        iqr_s=doc.number("iqr_s", None, low=0),
        cv=doc.number("cv", None, low=0),
        median_ci_s=None if ci is None else (ci[0], ci[1]),
        ci_confidence=doc.number("ci_confidence"),
        percentile_confidence=doc.number("percentile_confidence"),
        not_established=missing,
    )


def _optional_stats(doc: Doc, key: str) -> SampleStats | None:
    sub = doc.sub(key, None)
    return None if sub is None else stats_from(sub)


@dataclass(frozen=True)
class CaseInfo:
    """What a case is, in plain values (from `perfsuite.config.schema.Case.describe`)."""

    id: str
    model: str
    model_family: str
    modality: str
    dataset: str
    runtime: str
    batch_size: int
    device: str
    precision: str
    seed: int
    sampling: str | None = None
    seq_len: int | None = None
    image_size: int | None = None
    precision_mode: str | None = None  # cast | autocast when precision is not fp32 (inference_runtime.precision_mode)
    kv_cache: str | None = None  # dynamic | static: a generating case's KV cache (infer.kv_cache)
    output_len: int | None = None  # a generation case on the output-length axis (infer.output_lens): its new tokens

    @classmethod
    def of(cls, case: Any) -> CaseInfo:
        return cls(**case.describe())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: Doc) -> CaseInfo:
        return cls(
            id=doc.string("id"),
            model=doc.string("model"),
            model_family=doc.string("model_family"),
            modality=doc.string("modality"),
            dataset=doc.string("dataset"),
            runtime=doc.string("runtime"),
            batch_size=doc.integer("batch_size"),
            device=doc.string("device"),
            precision=doc.string("precision"),
            seed=doc.integer("seed"),
            sampling=doc.string("sampling", None),
            seq_len=doc.integer("seq_len", None),
            image_size=doc.integer("image_size", None),
            precision_mode=doc.string("precision_mode", None),
            kv_cache=doc.string("kv_cache", None),
            output_len=doc.integer("output_len", None),
        )

    @property
    def group(self) -> str:
        """Cases that differ only by batch size share a group (one batch-sweep curve): the id without its
        -bs<N> part, so each prompt length (-s<len>), output length (-o<n>), static KV cache and prompt mix
        has its own curve. A test's own case (its id has no -bs<N>-) keeps model-dataset-runtime-device."""
        marker = f"-bs{self.batch_size}-"
        if marker in self.id:
            head, _, tail = self.id.partition(marker)
            return f"{head}-{tail}"
        return f"{self.model}-{self.dataset}-{self.runtime}-{self.device}"


@dataclass(frozen=True)
class MemoryResult:
    """Weights size; host RSS around the memory pass; CUDA allocator peaks on GPUs; MPS memory on Macs."""

    weights_bytes: int | None = None
    host: HostMemory | None = None
    cuda: CudaMemory | None = None
    tracked_calls: int | None = None  # calls of the memory pass the trackers saw
    mps: MpsMemory | None = None  # sampled torch.mps current/driver allocated memory (--device mps)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "weights_bytes": self.weights_bytes,
            "host": None if self.host is None else self.host.to_dict(),
            "cuda": None if self.cuda is None else self.cuda.to_dict(),
            "tracked_calls": self.tracked_calls,
        }
        if self.mps is not None:  # only on MPS: every other result keeps its shape
            out["mps"] = self.mps.to_dict()
        return out

    @classmethod
    def from_doc(cls, doc: Doc) -> MemoryResult:
        host = doc.sub("host", None)
        cuda = doc.sub("cuda", None)
        mps = doc.sub("mps", None)
        return cls(
            weights_bytes=doc.integer("weights_bytes", None),
            host=None
            if host is None
            else HostMemory(
                rss_start_bytes=host.integer("rss_start_bytes"),
                rss_peak_bytes=host.integer("rss_peak_bytes"),
                rss_end_bytes=host.integer("rss_end_bytes"),
                samples=host.integer("samples"),
                # absent in results written before the own figure existed: no own figure, no memory verdict
                private_peak_bytes=host.integer("private_peak_bytes", None),
                private_before_model_bytes=host.integer("private_before_model_bytes", None),
                mapped_weights_bytes=host.integer("mapped_weights_bytes", None),
                own_method=host.string("own_method", None),
            ),
            cuda=None
            if cuda is None
            else CudaMemory(max_allocated_bytes=cuda.integer("max_allocated_bytes"), max_reserved_bytes=cuda.integer("max_reserved_bytes")),
            tracked_calls=doc.integer("tracked_calls", None),
            mps=None
            if mps is None
            else MpsMemory(
                allocated_peak_bytes=mps.integer("allocated_peak_bytes"),
                driver_peak_bytes=mps.integer("driver_peak_bytes"),
                allocated_end_bytes=mps.integer("allocated_end_bytes"),
                samples=mps.integer("samples"),
            ),
        )


@dataclass(frozen=True)
class GenerationSummary:
    """TTFT / TPOT / decode rate statistics of a generation case, plus each run's token times."""

    n_runs: int
    warmup_runs: int
    new_tokens: int
    batch_size: int
    prompt_tokens: int
    ttft: SampleStats
    e2e: SampleStats
    tpot: SampleStats | None = None
    inter_token: SampleStats | None = None
    decode_tokens_per_s: SampleStats | None = None
    runs: tuple[Mapping[str, Any], ...] = ()  # each run's token times, as stored (display)
    ttft_samples_s: tuple[float, ...] = ()  # one per run: what comparisons test
    e2e_samples_s: tuple[float, ...] = ()
    prefill_tokens_per_s: SampleStats | None = None
    # The first prompt's generated text (a real tokenizer's decode; None with the hash tokenizer) and its token ids
    output_text: str | None = None
    output_tokens: tuple[int, ...] = ()
    # KV cache at the end of a call (prompt + new tokens): computed from the config, and measured (bytes held)
    kv_cache: Mapping[str, Any] | None = None
    # The prefill's memory alone (one forward over the prompt filling the KV cache); the case's `memory` is whole
    # generate calls, so decoding's share is the difference.
    prefill_memory: MemoryResult | None = None

    @classmethod
    def of(cls, g: GenerationMeasurement, *, output_text: str | None = None, kv_cache: Mapping[str, Any] | None = None) -> GenerationSummary:
        first = g.runs[0]
        return cls(
            n_runs=len(g.runs),
            warmup_runs=g.warmup_runs,
            new_tokens=first.new_tokens,
            batch_size=first.batch_size,
            prompt_tokens=first.prompt_tokens,
            ttft=g.ttft,
            e2e=g.e2e,
            tpot=g.tpot,
            inter_token=g.inter_token,
            decode_tokens_per_s=g.decode_tokens_per_s,
            runs=tuple(r.to_dict() for r in g.runs),
            ttft_samples_s=tuple(r.ttft_s for r in g.runs),
            e2e_samples_s=tuple(r.e2e_s for r in g.runs),
            prefill_tokens_per_s=g.prefill_tokens_per_s,
            output_text=output_text,
            output_tokens=g.output.first_row_tokens if g.output is not None else (),
            kv_cache=kv_cache,
            prefill_memory=g.prefill_memory,
        )

    def to_dict(self, *, include_runs: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n_runs": self.n_runs,
            "warmup_runs": self.warmup_runs,
            "new_tokens": self.new_tokens,
            "batch_size": self.batch_size,
            "prompt_tokens": self.prompt_tokens,
            "ttft": stats_to_dict(self.ttft),
            "e2e": stats_to_dict(self.e2e),
            "tpot": stats_to_dict(self.tpot),
            "inter_token": stats_to_dict(self.inter_token),
            "decode_tokens_per_s": stats_to_dict(self.decode_tokens_per_s),
            "ttft_samples_s": [json_float(v) for v in self.ttft_samples_s],
            "e2e_samples_s": [json_float(v) for v in self.e2e_samples_s],
            "prefill_tokens_per_s": stats_to_dict(self.prefill_tokens_per_s),
            "output_text": self.output_text,
            "output_tokens": list(self.output_tokens),
            "kv_cache": dict(self.kv_cache) if self.kv_cache is not None else None,
            "prefill_memory": self.prefill_memory.to_dict() if self.prefill_memory is not None else None,
        }
        if include_runs:
            out["runs"] = [dict(r) for r in self.runs]
        return out

    @classmethod
    def from_doc(cls, doc: Doc) -> GenerationSummary:
        return cls(
            n_runs=doc.integer("n_runs"),
            warmup_runs=doc.integer("warmup_runs"),
            new_tokens=doc.integer("new_tokens"),
            batch_size=doc.integer("batch_size"),
            prompt_tokens=doc.integer("prompt_tokens"),
            ttft=stats_from(doc.sub("ttft")),
            e2e=stats_from(doc.sub("e2e")),
            tpot=_optional_stats(doc, "tpot"),
            inter_token=_optional_stats(doc, "inter_token"),
            decode_tokens_per_s=_optional_stats(doc, "decode_tokens_per_s"),
            runs=tuple(r.data for r in doc.items("runs", [])),
            ttft_samples_s=doc.numbers("ttft_samples_s", (), low=0, above=True),
            e2e_samples_s=doc.numbers("e2e_samples_s", (), low=0, above=True),
            prefill_tokens_per_s=_optional_stats(doc, "prefill_tokens_per_s"),
            output_text=doc.string("output_text", None),
            output_tokens=tuple(int(t) for t in doc.numbers("output_tokens", (), low=0)),
            kv_cache=doc.mapping("kv_cache", None),
            prefill_memory=MemoryResult.from_doc(doc.sub("prefill_memory")) if doc.has("prefill_memory") else None,
        )


@dataclass(frozen=True)
class ProfileSummary:
    """Where the profiled pass wrote its trace and op table, and its headline figures."""

    op_table: str
    trace: str | None = None
    active_steps: int | None = None
    total_flops: float | None = None
    flops_per_call: float | None = None
    top_ops: tuple[Mapping[str, Any], ...] = ()
    activities: tuple[str, ...] = ()
    dropped_activities: Mapping[str, str] = field(default_factory=dict)
    headline_op: str | None = None  # optional: runs before it was recorded derive it from top_ops
    overhead: Mapping[str, Any] | None = None  # profiled vs unprofiled median per call (ProfilerOverhead.to_dict)

    @classmethod
    def of(cls, result: Any) -> ProfileSummary:
        return cls.from_doc(Doc.root(result.to_dict(), "profile result"))

    @property
    def top_op(self) -> str | None:
        """The headline op: the top op by the table's sort key, the profiler's step wrappers excluded."""
        if self.headline_op:
            return self.headline_op
        for op in self.top_ops:
            name = op.get("name") if isinstance(op, Mapping) else None
            if isinstance(name, str) and not name.startswith("ProfilerStep"):
                return name
        return None

    @property
    def overhead_ratio(self) -> float | None:
        ratio = (self.overhead or {}).get("ratio")
        return float(ratio) if isinstance(ratio, (int, float)) and not isinstance(ratio, bool) else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "trace": self.trace,
            "op_table": self.op_table,
            "active_steps": self.active_steps,
            "total_flops": self.total_flops,
            "flops_per_call": self.flops_per_call,
            "top_ops": [dict(op) for op in self.top_ops],
            "activities": list(self.activities),
            "dropped_activities": dict(self.dropped_activities),
            "headline_op": self.headline_op,
            "overhead": None if self.overhead is None else dict(self.overhead),
        }

    @classmethod
    def from_doc(cls, doc: Doc) -> ProfileSummary:
        return cls(
            op_table=doc.string("op_table"),
            trace=doc.string("trace", None),
            active_steps=doc.integer("active_steps", None),
            total_flops=doc.number("total_flops", None),
            flops_per_call=doc.number("flops_per_call", None),
            top_ops=tuple(op.data for op in doc.items("top_ops", [])),
            activities=doc.strings("activities", ()),
            dropped_activities=doc.mapping("dropped_activities", {}),
            headline_op=doc.string("headline_op", None),
            overhead=doc.mapping("overhead", None),
        )


@dataclass(frozen=True)
class StaticSummary:
    """Parameters, weight bytes and FLOPs per call (static_analysis stage)."""

    params: int
    weights_bytes: int
    flops_per_call: int
    params_by_dtype: Mapping[str, int] = field(default_factory=dict)
    params_by_child: Mapping[str, int] = field(default_factory=dict)
    flops_by_module: Mapping[str, int] = field(default_factory=dict)
    flops_by_op: Mapping[str, int] = field(default_factory=dict)
    flops_per_weight_byte: float | None = None
    # Added with the roofline (older results lack them): fused-attention FLOPs, attention left
    # uncounted (why), bytes moved per call (eager, unfused estimate) and the device's roofs.
    sdpa_flops: int | None = None
    attention_not_counted: str | None = None
    bytes_per_call: int | None = None
    bytes_moved: Mapping[str, int] = field(default_factory=dict)
    flops_per_byte: float | None = None
    peak: DevicePeak | None = None

    @classmethod
    def of(cls, analysis: Mapping[str, Any]) -> StaticSummary:
        return cls.from_doc(Doc.root(analysis, "static analysis"))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("params_by_dtype", "params_by_child", "flops_by_module", "flops_by_op", "bytes_moved"):
            out[key] = dict(getattr(self, key))
        out["peak"] = None if self.peak is None else self.peak.to_dict()
        return out

    @classmethod
    def from_doc(cls, doc: Doc) -> StaticSummary:
        counts = {}
        peak = doc.sub("peak", None)
        for key in ("params_by_dtype", "params_by_child", "flops_by_module", "flops_by_op", "bytes_moved"):
            value = doc.mapping(key, {})
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
                raise doc.fail(key, "an object of whole numbers", value)
            counts[key] = value
        return cls(
            params=doc.integer("params"),
            weights_bytes=doc.integer("weights_bytes"),
            flops_per_call=doc.integer("flops_per_call"),
            flops_per_weight_byte=doc.number("flops_per_weight_byte", None),
            sdpa_flops=doc.integer("sdpa_flops", None),
            attention_not_counted=doc.string("attention_not_counted", None),
            bytes_per_call=doc.integer("bytes_per_call", None),
            flops_per_byte=doc.number("flops_per_byte", None),
            peak=None if peak is None else _peak_from(peak),
            **counts,
        )


def _peak_from(doc: Doc) -> DevicePeak:
    return DevicePeak(
        device=doc.string("device"),
        dtype=doc.string("dtype"),
        flops_per_s=doc.number("flops_per_s", None),
        bytes_per_s=doc.number("bytes_per_s", None),
        source=doc.string("source", None),
        omitted=doc.string("omitted", None),
    )


def _throughput_to_dict(tp: Throughput) -> dict[str, Any]:
    return tp.to_dict()


def _throughput_from(doc: Doc) -> Throughput:
    return Throughput(
        latency_p50_s=doc.number("latency_p50_s", None, low=0, above=True),
        samples_per_s=doc.number("samples_per_s", None, low=0, above=True),
        tokens_per_s=doc.number("tokens_per_s", None, low=0, above=True),
        batch_size=doc.integer("batch_size"),
        not_established=doc.string("not_established", None),
    )


def _parity_from(doc: Doc) -> ParityResult:
    return ParityResult(
        checked=doc.boolean("checked"),
        passed=doc.boolean("passed"),
        reference=doc.string("reference"),
        precision=doc.string("precision", None),
        atol=doc.number("atol", None),
        rtol=doc.number("rtol", None),
        output=doc.string("output", None),
        max_abs=doc.number("max_abs", None),
        max_rel=doc.number("max_rel", None),
        compared=doc.strings("compared", ()),
        reason=doc.string("reason", None),
    )


def _measurement_from(doc: Doc, key: str) -> Measurement:
    sub = doc.sub(key)
    sub.numbers("samples_s", low=0, above=True)  # checked here: the constructor below trusts its input
    sub.integer("schema_version")
    for i, flag in enumerate(sub.items("noise", [])):
        flag.string("code"), flag.string("reason")
    return convert(doc, key, lambda: Measurement.from_extra_info(sub.data))


@dataclass(frozen=True)
class CaseResult:
    """One test's result on one case: outcome plus every typed part it measured."""

    test: str  # the benchmark function, e.g. "test_latency"
    kind: str  # one of KINDS
    case: CaseInfo
    outcome: str  # one of OUTCOMES
    finished: str  # ISO time the outcome was known
    reason: str | None = None  # why it failed, was skipped or ran out of memory
    measurement: Measurement | None = None  # latency: raw samples, stats and how they were made
    summary: SampleStats | None = None  # latency statistics without a Measurement (imported runs)
    imported_samples_s: tuple[float, ...] | None = None  # raw samples of an imported run, when it kept them
    throughput: Throughput | None = None
    memory: MemoryResult | None = None
    device_state: Mapping[str, Any] | None = None  # NVML memory, energy, clocks, throttling (CUDA)
    generation: GenerationSummary | None = None
    profile: ProfileSummary | None = None
    static: StaticSummary | None = None
    oom: OomRecord | None = None
    load_s: float | None = None
    parity: ParityResult | None = None  # the runtime's outputs against eager fp32, checked before timing
    details: Mapping[str, Any] = field(default_factory=dict)  # display-only: model info, runtime, data origin, threads
    runtime_setup: RuntimeSetup | None = None  # compile/export before timing (compiled and exported runtimes)
    layers: LayerSummary | None = None  # layer_timing stage (optional section)
    memory_timeline: MemoryTimelineSummary | None = None  # memory_timeline stage (optional section)
    nsight: NsightSummary | None = None  # nsight stage (optional section)
    metrics: tuple[OwnMetric, ...] = ()  # the test's own figures (perf.metric), gated by their direction
    scenario: ScenarioSummary | None = None  # a load scenario (perf.serve; kind "scenario")
    # output.direct.save_raw_samples: false stores only the statistics (and how they were made)
    keep_samples: bool = field(default=True, compare=False)

    @property
    def key(self) -> str:
        return f"{self.test}::{self.case.id}"

    @property
    def stats(self) -> SampleStats | None:
        """Latency statistics, from the measurement or (imported runs) the stored summary."""
        return self.measurement.stats if self.measurement is not None else self.summary

    @property
    def samples_s(self) -> tuple[float, ...] | None:
        if self.measurement is not None:
            return self.measurement.samples_s
        return self.imported_samples_s

    @property
    def noise_codes(self) -> tuple[str, ...]:
        return () if self.measurement is None else tuple(f.code for f in self.measurement.noise)

    @property
    def metrics_only(self) -> bool:
        """A passed test that recorded only its own figures (`perf.metric`): nothing timed, nothing missing."""
        timed = (self.measurement, self.summary, self.generation, self.oom, self.profile, self.static, self.scenario)
        return bool(self.metrics) and self.outcome == "passed" and all(part is None for part in timed)

    @property
    def median_established(self) -> bool:
        stats = self.stats
        return stats is not None and stats.p50_s is not None

    def to_dict(self) -> dict[str, Any]:
        measurement, summary, details = self.measurement, self.summary, dict(self.details)
        if measurement is not None and not self.keep_samples:
            # Statistics only: read back as a summary, like an imported run (weaker comparisons).
            summary = measurement.stats
            details["measurement"] = measurement.to_extra_info(include_samples=False)
            measurement = None
        return {
            "test": self.test,
            "kind": self.kind,
            "case": self.case.to_dict(),
            "outcome": self.outcome,
            "finished": self.finished,
            "reason": self.reason,
            "measurement": None if measurement is None else measurement.to_extra_info(include_samples=True),
            "summary": stats_to_dict(summary),
            "imported_samples_s": None if self.imported_samples_s is None else [json_float(v) for v in self.imported_samples_s],
            "throughput": None if self.throughput is None else _throughput_to_dict(self.throughput),
            "memory": None if self.memory is None else self.memory.to_dict(),
            "device_state": None if self.device_state is None else dict(self.device_state),
            "generation": None if self.generation is None else self.generation.to_dict(),
            "profile": None if self.profile is None else self.profile.to_dict(),
            "static": None if self.static is None else self.static.to_dict(),
            "oom": None if self.oom is None else self.oom.to_dict(),
            "load_s": self.load_s,
            "parity": None if self.parity is None else self.parity.to_dict(),
            "details": details,
            "runtime_setup": None if self.runtime_setup is None else self.runtime_setup.to_dict(),
            **self._deep_sections(),
        }

    def _deep_sections(self) -> dict[str, Any]:
        """The deep-profile sections and the test's own metrics, present only when measured: older readers never see a new key."""
        out: dict[str, Any] = {"metrics": metrics_to_dict(self.metrics)} if self.metrics else {}
        for key in ("layers", "memory_timeline", "nsight", "scenario"):
            part = getattr(self, key)
            if part is not None:
                out[key] = part.to_dict()
        return out

    def extra_info(self, *, include_samples: bool = False) -> dict[str, Any]:
        """pytest-benchmark's extra_info for this case: the same figures, derived from this result."""
        out: dict[str, Any] = {"case": self.case.to_dict(), **dict(self.details)}
        if self.measurement is not None:
            out.update(self.measurement.to_extra_info(include_samples=include_samples))
        if self.throughput is not None:
            out["throughput"] = _throughput_to_dict(self.throughput)
        if self.memory is not None:
            out["memory"] = self.memory.to_dict()
        if self.device_state is not None:
            out["device_state"] = dict(self.device_state)
        if self.generation is not None:
            out["generation"] = self.generation.to_dict(include_runs=include_samples)
        if self.load_s is not None:
            out["load_s"] = self.load_s
        if self.parity is not None:
            out["parity"] = self.parity.to_dict()
        if self.runtime_setup is not None:
            out["runtime_setup"] = self.runtime_setup.to_dict()
        if self.metrics:
            out["metrics"] = metrics_to_dict(self.metrics)
        if self.scenario is not None:
            out["scenario"] = self.scenario.to_dict()
        return out

    @classmethod
    def from_doc(cls, doc: Doc) -> CaseResult:
        kind = doc.string("kind")
        if kind not in KINDS:
            raise doc.fail("kind", f"one of {', '.join(KINDS)}", kind)
        outcome = doc.string("outcome")
        if outcome not in OUTCOMES:
            raise doc.fail("outcome", f"one of {', '.join(OUTCOMES)}", outcome)
        oom = doc.sub("oom", None)
        memory = doc.sub("memory", None)
        throughput = doc.sub("throughput", None)
        generation = doc.sub("generation", None)
        profile = doc.sub("profile", None)
        static = doc.sub("static", None)
        parity = doc.sub("parity", None)
        setup = doc.sub("runtime_setup", None)
        layers = doc.sub("layers", None)
        timeline = doc.sub("memory_timeline", None)
        nsight = doc.sub("nsight", None)
        scenario = doc.sub("scenario", None)
        return cls(
            test=doc.string("test"),
            kind=kind,
            case=CaseInfo.from_doc(doc.sub("case")),
            outcome=outcome,
            finished=doc.string("finished"),
            reason=doc.string("reason", None),
            measurement=_measurement_from(doc, "measurement") if doc.has("measurement") else None,
            summary=_optional_stats(doc, "summary"),
            imported_samples_s=doc.numbers("imported_samples_s", None, low=0, above=True),
            throughput=None if throughput is None else _throughput_from(throughput),
            memory=None if memory is None else MemoryResult.from_doc(memory),
            device_state=doc.mapping("device_state", None),
            generation=None if generation is None else GenerationSummary.from_doc(generation),
            profile=None if profile is None else ProfileSummary.from_doc(profile),
            static=None if static is None else StaticSummary.from_doc(static),
            oom=None
            if oom is None
            else OomRecord(batch_size=oom.integer("batch_size", None), message=oom.string("message"), error_type=oom.string("error_type")),
            load_s=doc.number("load_s", None, low=0),
            parity=None if parity is None else _parity_from(parity),
            details=doc.mapping("details", {}),
            runtime_setup=None if setup is None else RuntimeSetup.from_doc(setup),
            layers=None if layers is None else LayerSummary.from_doc(layers),
            memory_timeline=None if timeline is None else MemoryTimelineSummary.from_doc(timeline),
            nsight=None if nsight is None else NsightSummary.from_doc(nsight),
            metrics=metrics_from(doc),
            scenario=None if scenario is None else ScenarioSummary.from_doc(scenario),
        )


@dataclass
class CaseDraft:
    """What a benchmark test fills in about its case (the `perf_record` fixture); typed parts only.

    The plugin calls `finish` once pytest knows the outcome. Parts left None were not measured.
    """

    case: Any  # perfsuite.config.schema.Case
    kind: str = "latency"
    measurement: Measurement | None = None
    throughput: Throughput | None = None
    memory: MemoryResult | None = None
    device_state: Mapping[str, Any] | None = None
    generation: GenerationSummary | None = None
    profile: ProfileSummary | None = None
    static: StaticSummary | None = None
    oom: OomRecord | None = None
    load_s: float | None = None
    parity: ParityResult | None = None
    details: dict[str, Any] = field(default_factory=dict)
    runtime_setup: RuntimeSetup | None = None
    keep_samples: bool = True  # output.direct.save_raw_samples
    layers: LayerSummary | None = None
    memory_timeline: MemoryTimelineSummary | None = None
    nsight: NsightSummary | None = None
    metrics: dict[str, OwnMetric] = field(default_factory=dict)  # perf.metric, by name (the last value of a name wins)
    scenario: ScenarioSummary | None = None  # perf.serve

    def finish(self, test: str, outcome: str, reason: str | None) -> CaseResult:
        return CaseResult(
            test=test,
            kind=self.kind,
            case=CaseInfo.of(self.case),
            outcome="oom" if self.oom is not None and outcome == "skipped" else outcome,
            finished=_now(),
            reason=reason,
            measurement=self.measurement,
            throughput=self.throughput,
            memory=self.memory,
            device_state=self.device_state,
            generation=self.generation,
            profile=self.profile,
            static=self.static,
            oom=self.oom,
            load_s=self.load_s,
            parity=self.parity,
            details=dict(self.details),
            runtime_setup=self.runtime_setup,
            keep_samples=self.keep_samples,
            layers=self.layers,
            memory_timeline=self.memory_timeline,
            nsight=self.nsight,
            metrics=tuple(self.metrics.values()),
            scenario=self.scenario,
        )

    def extra_info(self) -> dict[str, Any]:
        """pytest-benchmark's extra_info, derived from the result this draft becomes (no raw samples:
        pytest-benchmark keeps its own copy of the rounds)."""
        return self.finish("draft", "passed", None).extra_info()


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def unrecorded(case: Any, test: str, outcome: str, reason: str | None) -> CaseResult:
    """The result of a test that failed before it filled its draft: the kind its name says."""
    kind = test.removeprefix("test_")
    return CaseDraft(case, kind=kind if kind in KINDS else "latency").finish(test, outcome, reason)
