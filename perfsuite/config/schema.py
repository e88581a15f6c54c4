"""The typed, frozen form of a composed config. Built only by `perfsuite.config.validate` (and its
`sections` and `run_settings` helpers); readers use these fields, never `CaseConfig.raw`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from perfsuite.config.tracking import TrackingSpec

MODALITIES = ("text", "image")
DATASET_MODALITIES = ("text", "image", "any", "chat")  # chat: conversations for decoders with a chat template
PRECISIONS = ("fp32", "bf16", "fp16")
KV_CACHES = ("dynamic", "static")  # infer.kv_cache
PRECISION_MODES = ("cast", "autocast")  # inference_runtime.precision_mode (perfsuite.runtimes.eager)
SAMPLING_STRATEGIES = ("sequential", "random")
GENERATIVE_ADAPTERS = frozenset({"gpt2", "causal_lm"})
# Runtimes whose generate() is what they say: eager, int8 (generate on its quantized copy: `generation_module`),
# and compile (transformers' torch.compile of generate: the decoding step compiled, static KV cache)
GENERATING_BACKENDS = frozenset({"pytorch", "pytorch_int8_dynamic", "compile"})
STAGES = ("direct_inference", "static_analysis", "torch_profiler", "layer_timing", "memory_timeline", "nsight")

# Upper bounds, checked when a config is validated (docs/configuration.md, "Limits"). Beyond them
# a case cannot fit in memory or time: building it would hang the session, not fail fast.
MAX_BATCH_SIZE = 4096
MAX_BATCH_SIZES = 64  # entries in one batch_sizes list
MAX_SEQ_LEN = 32768
MAX_TOKENS_PER_BATCH = 4096 * 1024  # batch size x seq_len
MAX_NEW_TOKENS = 4096
MAX_NUM_BATCHES = 1024
MAX_SAMPLES = 1_000_000
MAX_IMAGE_SIZE = 4096
MAX_PIXELS_PER_BATCH = 2**28  # batch size x resize^2 (about 3 GiB as float32 RGB)
MAX_GENERATION_RUNS = 10_000
MAX_CUDA_BLOCK = 10_000  # measure.cuda_block: calls per event pair
MAX_PROFILER_STEPS = 1000  # profiling.torch wait + warmup + active
MAX_OP_TABLE_ROWS = 100_000


@dataclass(frozen=True)
class ImagePreprocess:
    image_size: int
    resize: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


@dataclass(frozen=True)
class ModelSpec:
    """One model: which adapter builds it and with what architecture (no weights download, ever)."""

    id: str  # "gpt2.tiny", "minilm", or a local snapshot's name
    family: str  # conf/model/<family>/
    adapter: str  # registry name (perfsuite.registry.MODELS)
    modality: str  # text | image (resolved, never "auto")
    config: tuple[tuple[str, Any], ...] = ()  # transformers config kwargs, frozen
    path: str | None = None  # local snapshot directory (absolute)
    weights: str | None = None  # registered weights provider (perfsuite.registry.WEIGHTS)
    preprocess: ImagePreprocess | None = None
    max_positions: int | None = None  # text models: longest sequence the architecture accepts
    vocab_size: int | None = None  # text models
    hub_id: str | None = None  # causal_lm: the Hugging Face hub id `path` was resolved from (the local cache only)
    chat_template: bool = False  # the model's tokenizer has a chat template (chat datasets need one)

    @property
    def generative(self) -> bool:
        """Has an LM head that `generate` can drive (a `local` snapshot of a causal LM becomes `causal_lm`)."""
        return self.adapter in GENERATIVE_ADAPTERS

    def config_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.config}


@dataclass(frozen=True)
class InferSpec:
    batch_sizes: tuple[int, ...]
    seq_len: int
    max_new_tokens: int
    precision: str
    num_batches: int
    # The prompt-length axis: one case per length (the case id ends in -s<len>); empty: seq_len alone, no axis.
    seq_lens: tuple[int, ...] = ()
    kv_cache: str = "dynamic"  # one of KV_CACHES: generate's cache (static: preallocated, what compiled decoders use)
    # Mixed prompt lengths in a batch: rows evenly from seq_len down to (1 - spread) x seq_len (0: every row seq_len)
    prompt_spread: float = 0.0
    # The output-length axis: one generation case per length (the id ends in -o<n>); empty: max_new_tokens alone.
    output_lens: tuple[int, ...] = ()


@dataclass(frozen=True)
class SamplingSpec:
    strategy: str
    seed: int


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    adapter: str  # registry name (perfsuite.registry.DATASETS)
    modality: str  # text | image | any
    source: str | None  # registered embedded source (perfsuite.registry.SOURCES)
    root: str | None  # folder of files (absolute), when no embedded source
    files: tuple[str, ...]  # glob patterns under root; empty: every supported file
    text_field: str  # .jsonl: the field that holds the text
    max_samples: int
    sampling: SamplingSpec


# -- compiled and exported runtimes (inference_runtime.compile / inference_runtime.onnxruntime) ----
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
COMPILE_BACKENDS = ("inductor", "aot_eager", "eager", "cudagraphs")  # torch._dynamo.list_backends() plus the debug ones
ONNX_EXPORTERS = ("auto", "dynamo", "torchscript")  # auto: dynamo, then the TorchScript exporter if it fails
ORT_OPT_LEVELS = ("disable", "basic", "extended", "all")
ORT_EXECUTION_MODES = ("sequential", "parallel")


@dataclass(frozen=True)
class CompileOptions:
    """`inference_runtime.compile`: the arguments of torch.compile, and how compile time is measured."""

    mode: str = "default"  # one of COMPILE_MODES (inductor only)
    backend: str = "inductor"  # one of COMPILE_BACKENDS
    dynamic: bool | None = False  # None: torch's automatic dynamic shapes
    fullgraph: bool = False  # true: a graph break fails the case instead of being counted
    # true: empty the case's inductor cache first, so the first compile is cold, then compile again
    # (dynamo reset) with the cache populated: both times recorded. false: one compile, with
    # whatever out/cache/compile/ holds (recorded as cold or warm accordingly).
    cold_start: bool = True


@dataclass(frozen=True)
class OnnxOptions:
    """`inference_runtime.onnxruntime`: how the model is exported and how ONNX Runtime runs it."""

    exporter: str = "auto"  # one of ONNX_EXPORTERS
    opset: int | None = None  # None: the exporter's default
    providers: tuple[str, ...] = ()  # execution providers in order; empty: CUDA EP on cuda devices, else CPU
    graph_optimization_level: str = "all"  # one of ORT_OPT_LEVELS
    execution_mode: str = "sequential"  # one of ORT_EXECUTION_MODES
    intra_op_threads: int | None = None  # None: hardware.threads (the pinned thread count)
    inter_op_threads: int | None = None  # None: hardware.interop_threads
    model_file: str | None = None  # an .onnx file the model ships (absolute path): run it, export nothing


@dataclass(frozen=True)
class Tolerance:
    """An output matches its reference where |out - ref| <= atol + rtol * |ref| (torch.allclose)."""

    atol: float
    rtol: float


@dataclass(frozen=True)
class ParitySpec:
    """`inference_runtime.parity`: the check of a runtime's outputs against eager fp32 before timing.

    The tolerances come from YAML only (conf/inference_runtime/parity/default.yaml, which every
    composed config mounts, overridden by a runtime preset's own `parity:` block): one per precision.
    """

    enabled: bool = True
    tolerances: tuple[tuple[str, Tolerance], ...] = ()  # (precision, tolerance), one per PRECISIONS
    # Decoders: the first `tokens` greedy tokens against eager fp32's (0: not compared), reported as the match
    # length; a case whose precision is in `exact_tokens` fails unless every one of them matches.
    tokens: int = 16
    exact_tokens: tuple[str, ...] = ("fp32",)

    def tolerance(self, precision: str) -> Tolerance:
        return dict(self.tolerances)[precision]


@dataclass(frozen=True)
class RuntimeSpec:
    name: str  # shown in test ids ("eager")
    backend: str  # registry name (perfsuite.registry.RUNTIMES)
    # An artificial slowdown (0.05 = every call takes 5% longer, by spinning on the host after it;
    # generation cases spin after every forward of a decoding step): for measuring the regression
    # gate itself (perfsuite gate calibrate, tools/gate_trials.py), never for real runs.
    slowdown: float = 0.0
    # -- precision, memory layout and the parity check (perfsuite.runtimes.eager, .parity) ---------
    # precision_mode "cast": the whole model (weights and activations) in `precision`;
    # "autocast": fp32 weights, eligible ops under torch.autocast(dtype=precision).
    precision: str = "fp32"  # one of PRECISIONS
    precision_mode: str = "cast"  # one of PRECISION_MODES
    channels_last: bool = False  # image models: weights and pixel inputs in torch.channels_last
    parity: ParitySpec = ParitySpec()
    # -- compiled and exported runtimes: set only for their backend (perfsuite.config.runtime_options)
    compile: CompileOptions | None = None  # backend "compile"
    onnxruntime: OnnxOptions | None = None  # backend "onnxruntime"

    @property
    def generates(self) -> bool:
        """Whether generation benchmarks apply: eager runtimes whose precision is the model's (a cast), and
        torch.compile through transformers' compiled generate; exported and captured runtimes replace
        forward() only, and autocast would not reach generate's loop."""
        return self.backend in GENERATING_BACKENDS and self.precision_mode == "cast"


@dataclass(frozen=True)
class HardwareSpec:
    device: str  # cpu | cuda | mps
    threads: int
    interop_threads: int
    pin: bool
    cores: tuple[int, ...] | None
    cudnn_benchmark: bool = False
    deterministic: bool = False


@dataclass(frozen=True)
class MeasureSpec:
    warmup: Any  # perfsuite.measure.policy.WarmupPolicy
    stop: Any  # perfsuite.measure.policy.StopPolicy
    cuda_timing: str  # isolated | pipelined
    cuda_block: int
    memory_period_s: float
    generation_runs: int
    generation_warmup_runs: int
    disable_gc: bool = True  # garbage collector off during the timed rounds


@dataclass(frozen=True)
class TorchProfilerSpec:
    """`profiling.torch`: the profiled pass. These defaults are the only ones (the validator reads them)."""

    enabled: bool = True
    activities: tuple[str, ...] = ("cpu", "cuda")  # cuda is dropped on machines without CUDA
    record_shapes: bool = True
    profile_memory: bool = True
    with_stack: bool = False
    with_flops: bool = True
    wait: int = 1
    warmup: int = 1
    active: int = 3

    @property
    def steps(self) -> int:
        return self.wait + self.warmup + self.active


@dataclass(frozen=True)
class LayerTimingSpec:
    """`profiling.layers`: the per-layer pass (forward hooks, its own forwards, never the timed rounds)."""

    enabled: bool = True
    passes: int = 5  # hooked forwards (and as many unhooked ones, for the hooks' overhead)
    warmup: int = 1  # untimed forwards first
    top_n: int = 5  # modules shown in the terminal and the HTML report
    count_flops: bool = True  # one more forward under torch's FlopCounterMode for the flops column


@dataclass(frozen=True)
class MemoryTimelineSpec:
    """`profiling.memory`: the memory timeline pass (phases replayed after the timed rounds)."""

    enabled: bool = True
    warmup_calls: int = 3  # the warm-up phase's calls
    timed_calls: int = 10  # the timed phase's calls (steady state, as the timed rounds run)
    max_entries: int = 100_000  # CUDA: allocator events kept by _record_memory_history
    period_s: float = 0.005  # CPU: RSS sampling period


NSYS_TRACES = ("cuda", "nvtx", "osrt", "cudnn", "cublas", "mpi", "none")
NSYS_SAMPLES = ("none", "cpu", "process-tree", "system-wide")
NCU_SETS = ("basic", "detailed", "full", "roofline", "source", "nvlink", "pmsampling")


@dataclass(frozen=True)
class NsysSpec:
    """`profiling.nsys`: Nsight Systems over one case's timed test (a child pytest run)."""

    enabled: bool = True
    trace: tuple[str, ...] = ("cuda", "nvtx", "osrt")
    sample: str = "none"
    capture_nvtx: str | None = None  # e.g. "perfsuite:timed": capture only that NVTX range
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class NcuSpec:
    """`profiling.ncu`: Nsight Compute kernel analysis over one case's timed test (CUDA only)."""

    enabled: bool = True
    set: str = "basic"
    kernel_regex: str | None = None
    launch_skip: int = 0
    launch_count: int = 20  # ncu replays each kernel: cap the kernels it analyses
    nvtx_include: str | None = None  # e.g. "perfsuite:timed/": only kernels inside that NVTX range
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProfilingSpec:
    torch: TorchProfilerSpec = TorchProfilerSpec()
    layers: LayerTimingSpec = LayerTimingSpec()
    memory: MemoryTimelineSpec = MemoryTimelineSpec()
    nsys: NsysSpec = NsysSpec()
    ncu: NcuSpec = NcuSpec()


@dataclass(frozen=True)
class DirectOutputSpec:
    """`output.direct`: what the direct-inference stage records next to its timings."""

    record_output_shapes: bool = True
    save_raw_samples: bool = True


@dataclass(frozen=True)
class TorchOutputSpec:
    """`output.torch`: what the torch.profiler stage exports."""

    export_trace: bool = True
    op_table_rows: int = 20
    sort_by: str = "self_cpu_time_total"


@dataclass(frozen=True)
class OutputSpec:
    direct: DirectOutputSpec = DirectOutputSpec()
    torch: TorchOutputSpec = TorchOutputSpec()
    tracking: TrackingSpec = TrackingSpec()  # output.tracking / output.trackers (perfsuite.config.tracking)


SCENARIO_KINDS = ("single_stream", "offline", "server", "sweep")
ARRIVAL_PROCESSES = ("constant", "poisson", "gamma")  # perfsuite.scenarios.arrivals.ARRIVAL_PROCESSES
SLO_PERCENTILES = (("p50_ms", 0.50), ("p90_ms", 0.90), ("p99_ms", 0.99))
MAX_SCENARIO_DURATION_S = 3600.0
MAX_SCENARIO_QUERIES = 10_000_000


@dataclass(frozen=True)
class SloSpec:
    """`scenario.slo`: per-request thresholds (ms; None: not part of the SLO) and the share that must meet them."""

    latency_ms: float | None = None  # from p50_ms / p90_ms / p99_ms
    attainment: float = 0.99  # the percentile of that key (p99_ms: 0.99); 0.99 without one
    ttft_ms: float | None = None  # decoders only; ignored for a case that does not generate
    tpot_ms: float | None = None

    @property
    def empty(self) -> bool:
        return self.latency_ms is None and self.ttft_ms is None and self.tpot_ms is None


@dataclass(frozen=True)
class SweepSpec:
    """`scenario.sweep`: the max-rate search (perfsuite.scenarios.sweep.find_max_rate)."""

    start_rate: float | None = None  # None: half the capacity measured before the load
    growth: float = 2.0
    rel_tol: float = 0.05
    max_attempts: int = 3
    max_probes: int = 20


@dataclass(frozen=True)
class ScenarioSpec:
    """`scenario` (conf/scenario/<name>.yaml): a load scenario run over each case's runtime (perfsuite.scenarios).

    A request is one sample; the dynamic batcher serves up to the case's batch size per call.
    """

    name: str  # shown in case ids (-<name>)
    kind: str  # one of SCENARIO_KINDS
    rate: float | None = None  # server: offered requests/s (None: rate_of_capacity x the measured capacity)
    rate_of_capacity: float | None = None
    arrival: str = "poisson"  # one of ARRIVAL_PROCESSES
    shape: float = 1.0  # gamma only
    seed: int = 0
    concurrency: int | None = None  # None: open loop
    max_wait_ms: float = 2.0
    duration_s: float = 10.0
    min_queries: int = 1024
    max_drain_s: float = 10.0
    slo: SloSpec = SloSpec()
    sweep: SweepSpec | None = None  # kind sweep only


@dataclass(frozen=True)
class RunSpec:
    """Settings that hold for the whole run, not per case: one value for every case of a plan."""

    hardware: HardwareSpec
    measure: MeasureSpec
    stages: tuple[str, ...]
    seed: int
    tracking: TrackingSpec = TrackingSpec()  # one tracked run per perfsuite run


@dataclass(frozen=True)
class SuiteModel:
    id: str
    infer: str | None = None  # infer preset name; default "<family>.default" (a named preset's batch sizes beat the suite's)
    datasets: tuple[str, ...] | None = None  # the suite's datasets this model meets; None: all of them


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    description: str
    models: tuple[SuiteModel, ...]
    datasets: tuple[str, ...]
    runtimes: tuple[str, ...]
    batch_sizes: tuple[int, ...] | None
    overrides: tuple[str, ...] = ()  # value overrides applied to every case (before the user's)


@dataclass(frozen=True)
class CaseConfig:
    """One composed (model, dataset, runtime) combination, before batch sizes are expanded."""

    model: ModelSpec
    infer: InferSpec
    dataset: DatasetSpec
    runtime: RuntimeSpec
    hardware: HardwareSpec
    measure: MeasureSpec
    stages: tuple[str, ...]
    seed: int
    profiling: ProfilingSpec = ProfilingSpec()
    output: OutputSpec = OutputSpec()
    scenario: ScenarioSpec | None = None  # conf/scenario/ (scenario=NAME); None: no load scenario selected
    # The composed config as stored in run_config.yaml (oc.env values left unresolved); a record,
    # not an input: nothing reads settings from it. Not part of identity.
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class Case:
    """One benchmark case: what pytest parametrizes over."""

    config: CaseConfig
    batch_size: int
    device: str  # "cpu", "cuda", "cuda:1", "mps"
    label: str | None = None  # a test's own case (perfsuite.config.own): its id instead of model-dataset-runtime-bs
    # A load scenario's case (the perf_scenario benches): the config's scenario, its name ending the id.
    # None for every other bench, so their ids stay the same whether a scenario is selected or not.
    scenario: ScenarioSpec | None = None
    # A generation case on the output-length axis (infer.output_lens): its new tokens, its id carrying -o<n>.
    # None for every other case (the latency cases of a decoder do not depend on the output length).
    output_len: int | None = None

    @property
    def model(self) -> ModelSpec:
        return self.config.model

    @property
    def dataset(self) -> DatasetSpec:
        return self.config.dataset

    @property
    def runtime(self) -> RuntimeSpec:
        return self.config.runtime

    @property
    def id(self) -> str:
        if self.label is not None:
            return self.label
        length = f"-s{self.config.infer.seq_len}" if self.config.infer.seq_lens else ""
        length += f"-o{self.output_len}" if self.output_len is not None else ""
        length += "-kvstatic" if self.config.infer.kv_cache == "static" else ""
        length += f"-mix{round(self.config.infer.prompt_spread * 100)}" if self.config.infer.prompt_spread > 0 else ""
        scenario = f"-{self.scenario.name}" if self.scenario is not None else ""
        return f"{self.model.id}-{self.dataset.name}-{self.runtime.name}-bs{self.batch_size}{length}-{self.device}{scenario}"

    @property
    def precision(self) -> str:
        """The precision the case computes in: the runtime's, else the infer preset's whole-model cast."""
        runtime = self.runtime.precision
        return runtime if runtime != "fp32" else self.config.infer.precision

    @property
    def weights_precision(self) -> str:
        """The dtype the model is built in: fp32 under autocast, else the case's precision (a cast)."""
        return self.config.infer.precision if self.runtime.precision_mode == "autocast" else self.precision

    @property
    def max_new_tokens(self) -> int:
        """The tokens a generation run of this case decodes: its output length on the axis, else infer.max_new_tokens."""
        return self.output_len if self.output_len is not None else self.config.infer.max_new_tokens

    @property
    def generates(self) -> bool:
        """A generation case can be made of it: a model with an LM head, tokens to decode, a runtime that runs generate()."""
        infer = self.config.infer
        return self.model.generative and (infer.max_new_tokens > 0 or bool(infer.output_lens)) and self.runtime.generates

    def with_output_lens(self) -> tuple[Case, ...]:
        """The generation cases of this case: one per infer.output_lens entry, or the case itself without the axis."""
        lens = self.config.infer.output_lens
        return tuple(replace(self, output_len=n) for n in lens) if lens else (self,)

    @property
    def model_key(self) -> tuple[ModelSpec, str, bool, str]:
        """Cases sharing this key share one built model (dtype and memory layout are the model's)."""
        return (self.model, self.weights_precision, self.runtime.channels_last, self.device)

    def describe(self) -> dict[str, Any]:
        infer = self.config.infer
        return {
            "id": self.id,
            "model": self.model.id,
            "model_family": self.model.family,
            "modality": self.model.modality,
            "dataset": self.dataset.name,
            "sampling": self.dataset.sampling.strategy,
            "runtime": self.runtime.name,
            "batch_size": self.batch_size,
            "seq_len": infer.seq_len if self.model.modality == "text" else None,
            "image_size": self.model.preprocess.image_size if self.model.preprocess else None,
            "precision": self.precision,
            "precision_mode": self.runtime.precision_mode if self.precision != "fp32" else None,
            "device": self.device,
            "seed": self.config.seed,
            "kv_cache": infer.kv_cache if self.model.generative and self.max_new_tokens > 0 else None,
            "output_len": self.output_len,
        }


@dataclass(frozen=True)
class Exclusion:
    """A (model, dataset) pair, or a (model, dataset, runtime) combination, the matrix left out, and why."""

    model: str
    dataset: str
    reason: str
    runtime: str | None = None  # None: no runtime of the pair applies (the modalities differ)

    @property
    def label(self) -> str:
        return " x ".join(p for p in (self.model, self.dataset, self.runtime) if p)


@dataclass(frozen=True)
class SuitePlan:
    """Everything a benchmark session runs: the suite, its cases, and what was left out."""

    suite: SuiteSpec
    device: str
    cases: tuple[Case, ...]
    exclusions: tuple[Exclusion, ...]
    overrides: tuple[str, ...]
    conf_dirs: tuple[str, ...]
    run: RunSpec  # hardware, measure policy, stages, seed: the same for every case
    raw_configs: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False, hash=False, repr=False)
