"""The typed, frozen form of a composed config. Built only by `perfsuite.config.validate`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MODALITIES = ("text", "image")
DATASET_MODALITIES = ("text", "image", "any")
PRECISIONS = ("fp32", "bf16", "fp16")
SAMPLING_STRATEGIES = ("sequential", "random")
GENERATIVE_ADAPTERS = frozenset({"gpt2"})
STAGES = ("direct_inference", "static_analysis", "torch_profiler")


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

    @property
    def generative(self) -> bool:
        """Has an LM head that `generate` can drive (local snapshots load the bare AutoModel)."""
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


@dataclass(frozen=True)
class RuntimeSpec:
    name: str  # shown in test ids ("eager")
    backend: str  # registry name (perfsuite.registry.RUNTIMES)


@dataclass(frozen=True)
class HardwareSpec:
    device: str  # cpu | cuda
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
class SuiteModel:
    id: str
    infer: str | None = None  # infer preset name; default "<family>.default"


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
    # The whole composed config as plain data (for run_config.yaml); not part of identity.
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class Case:
    """One benchmark case: what pytest parametrizes over."""

    config: CaseConfig
    batch_size: int
    device: str  # "cpu", "cuda", "cuda:1"

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
        return f"{self.model.id}-{self.dataset.name}-{self.runtime.name}-bs{self.batch_size}-{self.device}"

    @property
    def model_key(self) -> tuple[ModelSpec, str, str]:
        """Cases sharing this key share one built model."""
        return (self.model, self.config.infer.precision, self.device)

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
            "precision": infer.precision,
            "device": self.device,
            "seed": self.config.seed,
        }


@dataclass(frozen=True)
class Exclusion:
    """A (model, dataset) pair the matrix left out, and why."""

    model: str
    dataset: str
    reason: str


@dataclass(frozen=True)
class SuitePlan:
    """Everything a benchmark session runs: the suite, its cases, and what was left out."""

    suite: SuiteSpec
    device: str
    cases: tuple[Case, ...]
    exclusions: tuple[Exclusion, ...]
    overrides: tuple[str, ...]
    conf_dirs: tuple[str, ...]
    raw_configs: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False, hash=False, repr=False)
