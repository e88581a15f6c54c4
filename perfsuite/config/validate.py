"""Composed plain data -> frozen schema. The one place config values are checked."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from perfsuite import registry
from perfsuite.config.fields import Fields
from perfsuite.config.schema import (
    DATASET_MODALITIES,
    MODALITIES,
    PRECISIONS,
    SAMPLING_STRATEGIES,
    STAGES,
    CaseConfig,
    DatasetSpec,
    HardwareSpec,
    ImagePreprocess,
    InferSpec,
    MeasureSpec,
    ModelSpec,
    RuntimeSpec,
    SamplingSpec,
    SuiteModel,
    SuiteSpec,
)
from perfsuite.errors import PerfConfigError

TOP_LEVEL = ("hardware", "dataset", "inference_runtime", "pipeline", "profiling", "output", "suite", "seed", "measure")
# Architecture defaults for the longest sequence, when an arch preset does not set it.
DEFAULT_MAX_POSITIONS = {"gpt2": 1024, "bert": 512, "distilbert": 512}
DEFAULT_VOCAB_SIZE = {"gpt2": 50257, "bert": 30522, "distilbert": 30522}
_POSITION_KEYS = ("n_positions", "max_position_embeddings")


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def _resolve(path: str, root: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else (root / p)


def suite_spec(data: Any, *, file: str | None, overridden: Mapping[str, str]) -> SuiteSpec:
    f = Fields(data, section="suite", file=file, overridden=overridden)
    models = []
    for i, entry in enumerate(f.raw_list("models")):
        if isinstance(entry, str) and entry:
            models.append(SuiteModel(entry))
        elif isinstance(entry, Mapping):
            m = Fields(entry, section=f"suite.models[{i}]", file=file, overridden=overridden)
            models.append(SuiteModel(m.string("model"), m.string("infer", default=None)))
            m.done()
        else:
            f.error(f"models[{i}]", "expected a model id or {model: ID, infer: PRESET}", value=entry)
    if not models:
        f.error("models", "must list at least one model", hint="e.g. models: [gpt2.tiny]")
    spec = SuiteSpec(
        name=f.string("name"),
        description=f.string("description", default=""),
        models=tuple(models),
        datasets=f.str_list("datasets", nonempty=True),
        runtimes=f.str_list("runtimes", default=["pytorch"], nonempty=True),
        batch_sizes=f.int_list("batch_sizes", minimum=1, default=None),
        overrides=f.str_list("overrides", default=[]),
    )
    f.done()
    for i, text in enumerate(spec.overrides):
        key = text.split("=", 1)[0].lstrip("+")
        if "=" not in text or "." not in key or "/" in key:
            f.error(f"overrides[{i}]", "a suite may only set values (KEY.PATH=VALUE); select models/datasets with its lists", value=text)
    return spec


def _local_snapshot(f: Fields, path: Path, key: str) -> dict[str, Any]:
    if not path.is_dir():
        f.error(
            key,
            f"the model snapshot directory does not exist: {path}",
            hint="run models/bootstrap.sh --yes, or point model.path at a folder with config.json and weights",
        )
    config_json = path / "config.json"
    if not config_json.is_file():
        f.error(key, f"{path} has no config.json, so it is not a transformers snapshot", hint="point at the folder that holds config.json")
    try:
        return json.loads(config_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        f.error(key, f"{config_json} is not valid JSON ({exc})")


def model_spec(data: Any, *, model_id: str, family: str, file: str | None, overridden: Mapping[str, str], project_root: Path) -> ModelSpec:
    f = Fields(data, section="model", file=file, overridden=overridden)
    adapter = f.string("adapter", choices=registry.MODELS.names())
    modality = f.string("modality", choices=(*MODALITIES, "auto"))
    config = f.mapping("config", default={})
    path_text = f.string("path", default=None)
    weights = f.string("weights", choices=registry.WEIGHTS.names(), default=None)
    pre = f.sub("preprocess") if "preprocess" in f.data else None
    preprocess = None
    if pre is not None:
        size = pre.integer("image_size", minimum=8)
        preprocess = ImagePreprocess(
            image_size=size,
            resize=pre.integer("resize", minimum=size, default=size),
            mean=pre.float_list("mean", length=3, default=[0.485, 0.456, 0.406]),
            std=pre.float_list("std", length=3, default=[0.229, 0.224, 0.225]),
        )
        pre.done()
    f.done()

    path = None
    snapshot_config: dict[str, Any] = {}
    if adapter == "local":
        if weights and path_text:
            f.error("path", "set either 'path' or 'weights', not both")
        if weights:
            path = registry.WEIGHTS.get(weights, key="model.weights", file=file)()
            snapshot_config = _local_snapshot(f, Path(path), "weights")
        elif path_text:
            path = _resolve(path_text, project_root)
            snapshot_config = _local_snapshot(f, path, "path")
        else:
            f.error("path", "a local model needs 'path' (a snapshot folder) or 'weights' (a registered provider)")
        path = str(Path(path).resolve())
        if modality == "auto":
            modality = "image" if "num_channels" in snapshot_config and "vocab_size" not in snapshot_config else "text"
    elif modality == "auto":
        f.error("modality", "'auto' is only for local snapshots", allowed=MODALITIES)
    if modality == "image" and preprocess is None:
        if adapter == "local":
            size = int(snapshot_config.get("image_size", 224))
            preprocess = ImagePreprocess(size, size, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
        else:
            f.error("preprocess", "an image model needs preprocess.image_size", hint="add preprocess: {image_size: 224}")

    vocab = config.get("vocab_size")
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        token = config.get(key)
        if isinstance(vocab, int) and isinstance(token, int) and not 0 <= token < vocab:
            f.error(f"config.{key}", f"outside the vocabulary (vocab_size {vocab})", value=token, allowed=f"0..{vocab - 1}")
    if adapter == "gpt2" and isinstance(vocab, int) and vocab <= 50256 and "eos_token_id" not in config:
        f.error("config.eos_token_id", f"GPT-2's default eos_token_id 50256 lies outside vocab_size {vocab}", hint=f"set config.eos_token_id (and bos_token_id) below {vocab}")
    max_positions = vocab_size = None
    if modality == "text":
        source = snapshot_config or config
        found = next((source[k] for k in _POSITION_KEYS if isinstance(source.get(k), int)), None)
        max_positions = found or DEFAULT_MAX_POSITIONS.get(adapter)
        vocab_size = source.get("vocab_size") if isinstance(source.get("vocab_size"), int) else None
    return ModelSpec(
        id=model_id,
        family=family,
        adapter=adapter,
        modality=modality,
        config=_freeze(config),
        path=path,
        weights=weights,
        preprocess=preprocess,
        max_positions=max_positions,
        vocab_size=vocab_size or DEFAULT_VOCAB_SIZE.get(adapter),
    )


def infer_spec(data: Any, model: ModelSpec, device: str, *, file: str | None, overridden: Mapping[str, str]) -> InferSpec:
    f = Fields(data, section="infer", file=file, overridden=overridden)
    spec = InferSpec(
        batch_sizes=f.int_list("batch_sizes", minimum=1),
        seq_len=f.integer("seq_len", minimum=0),
        max_new_tokens=f.integer("max_new_tokens", minimum=0, default=0),
        precision=f.string("precision", choices=PRECISIONS, default="fp32"),
        num_batches=f.integer("num_batches", minimum=1, default=2),
    )
    f.done()
    if model.modality == "text":
        if spec.seq_len < 1:
            f.error("seq_len", f"text model {model.id} needs seq_len >= 1", value=spec.seq_len)
        if model.max_positions and spec.seq_len > model.max_positions:
            f.error(
                "seq_len",
                f"longer than model {model.id} accepts ({model.max_positions} positions)",
                value=spec.seq_len,
                allowed=f"1..{model.max_positions}",
                hint="lower infer.seq_len; longer samples are truncated to seq_len anyway",
            )
    if spec.precision == "fp16" and not device.startswith("cuda"):
        f.error("precision", "fp16 inference is only benchmarked on CUDA", value="fp16", allowed=["fp32", "bf16"])
    return spec


def dataset_spec(data: Any, *, file: str | None, sampling_file: str | None, overridden: Mapping[str, str], project_root: Path) -> DatasetSpec:
    f = Fields(data, section="dataset", file=file, overridden=overridden)
    s = Fields(f.data.get("sampling"), section="dataset.sampling", file=sampling_file, overridden=overridden)
    f._read.add("sampling")
    sampling = SamplingSpec(
        strategy=s.string("strategy", choices=SAMPLING_STRATEGIES),
        seed=s.integer("seed", minimum=0, default=0),
    )
    s.done()
    name = f.string("name")
    adapter = f.string("adapter", choices=registry.DATASETS.names())
    source = f.string("source", choices=registry.SOURCES.names(), default=None)
    root_text = f.string("root", default=None)
    spec = DatasetSpec(
        name=name,
        adapter=adapter,
        modality=f.string("modality", choices=DATASET_MODALITIES),
        source=source,
        root=str(_resolve(root_text, project_root)) if root_text else None,
        files=f.str_list("files", default=[]),
        text_field=f.string("text_field", default="text"),
        max_samples=f.integer("max_samples", minimum=1, default=256),
        sampling=sampling,
    )
    f.done()
    if adapter != "synthetic" and not (source or root_text):
        f.error("root", f"dataset {name} needs 'source' (embedded) or 'root' (a folder of files)")
    if spec.root and (Path(spec.root).parent / "bootstrap.yaml").is_file():
        # A bootstrapped dataset (datasets/<name>/source-data): say which bootstrap to run.
        from perfsuite.bootstrap import require_source_data

        require_source_data(Path(spec.root).parent)
    if spec.root and not Path(spec.root).exists():
        bootstrap = project_root / "datasets" / name / "bootstrap.sh"
        hint = f"run {bootstrap.relative_to(project_root)} --yes" if bootstrap.exists() else "create it or fix dataset.root"
        f.error("root", f"the dataset folder does not exist: {spec.root}", hint=hint)
    return spec


def runtime_spec(data: Any, *, file: str | None, overridden: Mapping[str, str]) -> RuntimeSpec:
    f = Fields(data, section="inference_runtime", file=file, overridden=overridden)
    spec = RuntimeSpec(name=f.string("name"), backend=f.string("backend", choices=registry.RUNTIMES.names()))
    f.done()
    return spec


def hardware_spec(data: Any, device: str, *, file: str | None, overridden: Mapping[str, str]) -> HardwareSpec:
    f = Fields(data, section="hardware", file=file, overridden=overridden)
    spec = HardwareSpec(
        device=f.string("device", choices=("cpu", "cuda")),
        threads=f.integer("threads", minimum=1),
        interop_threads=f.integer("interop_threads", minimum=1, default=1),
        pin=f.boolean("pin", default=False),
        cores=f.int_list("cores", minimum=0, default=None),
        cudnn_benchmark=f.boolean("cudnn_benchmark", default=False),
        deterministic=f.boolean("deterministic", default=False),
    )
    f.done()
    if spec.device != device.split(":")[0]:
        f.error("device", f"this hardware preset is for {spec.device} but --device is {device}", value=spec.device)
    return spec


def _policy(f: Fields, cls: type) -> Any:
    """Build a measure policy dataclass from a section; its own checks become errors with the file."""
    names = [fl.name for fl in dataclasses.fields(cls)]
    kwargs = {}
    for name in names:
        if name in f.data:
            value = f.data[name]
            kwargs[name] = tuple(value) if isinstance(value, list) else value
        f._read.add(name)
    f.done()
    try:
        return cls(**kwargs)
    except PerfConfigError as exc:
        key = (exc.key or "").split(".")[-1]
        f.error(key, exc.detail, value=exc.value, allowed=exc.allowed, hint=exc.hint)
    except TypeError as exc:  # e.g. a mapping where a number belongs
        f.error("", f"bad value: {exc}")


def _measure_spec(m: Fields) -> MeasureSpec:
    from perfsuite.measure.policy import StopPolicy, WarmupPolicy

    g = m.sub("generation")
    spec = MeasureSpec(
        warmup=_policy(m.sub("warmup"), WarmupPolicy),
        stop=_policy(m.sub("stop"), StopPolicy),
        cuda_timing=m.string("cuda_timing", choices=("isolated", "pipelined"), default="isolated"),
        cuda_block=m.integer("cuda_block", minimum=1, default=10),
        memory_period_s=_positive(m, "memory_period_s", 0.01),
        generation_runs=g.integer("runs", minimum=1, default=11),
        generation_warmup_runs=g.integer("warmup_runs", minimum=0, default=1),
        disable_gc=m.boolean("disable_gc", default=True),
    )
    g.done()
    m.done()
    return spec


def _positive(f: Fields, key: str, default: float) -> float:
    value = f._get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        f.error(key, "must be a number > 0 (seconds)", value=value)
    return float(value)


def _check_sections(data: dict[str, Any], files: Mapping[str, str | None], overridden: Mapping[str, str]) -> tuple[MeasureSpec, tuple[str, ...], int]:
    top = Fields(data, section="", file=files.get("config"), overridden=overridden)
    for key in (*TOP_LEVEL, "model", "infer"):
        top._read.add(key)
    top.done()
    measure = _measure_spec(top.sub("measure"))
    p = Fields(data.get("pipeline"), section="pipeline", file=files.get("pipeline"), overridden=overridden)
    stages = p.str_list("stages", nonempty=True)
    for i, stage in enumerate(stages):
        if stage not in STAGES:
            p.error(f"stages[{i}]", "unknown stage", value=stage, allowed=STAGES)
    p.done()
    prof = Fields(data.get("profiling"), section="profiling", file=files.get("profiling/torch"), overridden=overridden)
    t = prof.sub("torch")
    t.boolean("enabled")
    for i, act in enumerate(t.str_list("activities", nonempty=True)):
        if act not in ("cpu", "cuda"):
            t.error(f"activities[{i}]", "unknown profiler activity", value=act, allowed=["cpu", "cuda"])
    for key in ("record_shapes", "profile_memory", "with_stack", "with_flops"):
        t.boolean(key, default=False)
    t.integer("wait", minimum=0, default=0)
    t.integer("warmup", minimum=0, default=1)
    t.integer("active", minimum=1, default=1)
    t.done()
    prof.done()
    out = Fields(data.get("output"), section="output", file=files.get("output/direct"), overridden=overridden)
    d = out.sub("direct")
    d.boolean("record_output_shapes", default=True)
    d.boolean("save_raw_samples", default=True)
    d.done()
    tt = out.sub("torch")
    tt.boolean("export_trace", default=True)
    tt.integer("op_table_rows", minimum=1, default=20)
    from perfsuite.profile.torch_profiler import SORT_KEYS

    tt.string("sort_by", choices=SORT_KEYS, default="self_cpu_time_total")
    tt.done()
    out.done()
    seed = top.integer("seed", minimum=0, default=0)
    return measure, stages, seed


def case_config(
    data: dict[str, Any],
    *,
    model_id: str,
    family: str,
    device: str,
    files: Mapping[str, str | None],
    overridden: Mapping[str, str],
    project_root: Path,
) -> CaseConfig:
    """Validate one composed config. `files` maps section -> the YAML file it came from."""
    measure, stages, seed = _check_sections(data, files, overridden)
    model = model_spec(data.get("model"), model_id=model_id, family=family, file=files.get("model"), overridden=overridden, project_root=project_root)
    return CaseConfig(
        model=model,
        infer=infer_spec(data.get("infer"), model, device, file=files.get("infer"), overridden=overridden),
        dataset=dataset_spec(
            data.get("dataset"),
            file=files.get("dataset"),
            sampling_file=files.get("dataset/sampling"),
            overridden=overridden,
            project_root=project_root,
        ),
        runtime=runtime_spec(data.get("inference_runtime"), file=files.get("inference_runtime"), overridden=overridden),
        hardware=hardware_spec(data.get("hardware"), device, file=files.get("hardware"), overridden=overridden),
        measure=measure,
        stages=stages,
        seed=seed,
        raw=data,
    )


def check_device(device: str) -> str:
    """Validate the --device value's form (availability is checked by the plugin)."""
    text = device.strip().lower()
    if text == "cpu" or text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit()):
        return text
    raise PerfConfigError("unknown device", key="--device", value=device, allowed=["cpu", "cuda", "cuda:N"])


__all__ = ["case_config", "check_device", "suite_spec", "PerfConfigError"]
