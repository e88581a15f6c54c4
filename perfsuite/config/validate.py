"""Composed plain data -> frozen schema: suite, model, infer, dataset, runtime, and the case.

With `sections` (pipeline, profiling, output, seed) and `run_settings` (hardware, measure, the
run-wide `RunSpec`), the one place config values are checked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from perfsuite import registry
from perfsuite.config.causal_source import causal_architecture, causal_source, has_chat_template
from perfsuite.config.fields import Fields
from perfsuite.config.schema import (
    DATASET_MODALITIES,
    KV_CACHES,
    MAX_BATCH_SIZE,
    MAX_BATCH_SIZES,
    MAX_IMAGE_SIZE,
    MAX_NEW_TOKENS,
    MAX_NUM_BATCHES,
    MAX_PIXELS_PER_BATCH,
    MAX_SAMPLES,
    MAX_SEQ_LEN,
    MAX_TOKENS_PER_BATCH,
    MODALITIES,
    PRECISIONS,
    SAMPLING_STRATEGIES,
    CaseConfig,
    DatasetSpec,
    ImagePreprocess,
    InferSpec,
    ModelSpec,
    RuntimeSpec,
    SamplingSpec,
    SuiteModel,
    SuiteSpec,
)
from perfsuite.config.run_settings import hardware_spec, run_spec
from perfsuite.config.runtime_options import backend_options, check_precision, parity_spec, precision_options
from perfsuite.config.scenario import number
from perfsuite.config.sections import check_sections
from perfsuite.config.sources import is_plain_name
from perfsuite.errors import PerfConfigError

# Architecture defaults for the longest sequence, when an arch preset does not set it.
DEFAULT_MAX_POSITIONS = {"gpt2": 1024, "bert": 512, "distilbert": 512}
DEFAULT_VOCAB_SIZE = {"gpt2": 50257, "bert": 30522, "distilbert": 30522}
_POSITION_KEYS = ("n_positions", "max_position_embeddings")
# The Hydra group conf/config.yaml mounts at inference_runtime.parity (the shared tolerances).
PARITY_GROUP = "inference_runtime/parity"


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
            models.append(SuiteModel(m.string("model"), m.string("infer", default=None), m.str_list("datasets", default=[], nonempty=False) or None))
            m.done()
        else:
            f.error(f"models[{i}]", "expected a model id or {model: ID, infer: PRESET, datasets: [NAMES]}", value=entry)
    if not models:
        f.error("models", "must list at least one model", hint="e.g. models: [gpt2.tiny]")
    spec = SuiteSpec(
        name=f.string("name"),
        description=f.string("description", default=""),
        models=tuple(models),
        datasets=f.str_list("datasets", nonempty=True),
        runtimes=f.str_list("runtimes", default=["pytorch"], nonempty=True),
        batch_sizes=f.int_list("batch_sizes", minimum=1, maximum=MAX_BATCH_SIZE, max_length=MAX_BATCH_SIZES, default=None),
        overrides=f.str_list("overrides", default=[]),
    )
    f.done()
    for i, m in enumerate(spec.models):
        for name in m.datasets or ():
            if name not in spec.datasets:
                f.error(f"models[{i}]", f"model {m.id} lists dataset {name!r}, which the suite does not run", value=name, allowed=spec.datasets)
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
    hub_id = f.string("hub_id", default=None)
    pre = f.sub("preprocess") if "preprocess" in f.data else None
    preprocess = None
    if pre is not None:
        size = pre.integer("image_size", minimum=8, maximum=MAX_IMAGE_SIZE)
        preprocess = ImagePreprocess(
            image_size=size,
            resize=pre.integer("resize", minimum=size, maximum=MAX_IMAGE_SIZE, default=size),
            mean=pre.float_list("mean", length=3, default=[0.485, 0.456, 0.406]),
            std=pre.float_list("std", length=3, default=[0.229, 0.224, 0.225]),
        )
        pre.done()
    f.done()

    path = None
    snapshot_config: dict[str, Any] = {}
    chat_template = False
    if hub_id is not None and adapter != "causal_lm":
        f.error("hub_id", "only a causal_lm model loads by hub id", hint="set adapter: causal_lm")
    if adapter == "local" and bool(weights) != bool(path_text):
        # A file (a .gguf) holds a decoder LM: transformers' GGUF loader builds one. A weights provider may hand one too.
        target = Path(registry.WEIGHTS.get(weights, key="model.weights", file=file)()) if weights else _resolve(path_text or "", project_root)
        if target.is_file():
            adapter = "causal_lm"
    if adapter == "causal_lm":
        found = causal_source(f, config=config, path_text=path_text, weights=weights, hub_id=hub_id, file=file, project_root=project_root)
        path, snapshot_config, chat_template = found.path, found.config, found.chat_template
        if modality not in ("text", "auto"):
            f.error("modality", "a causal_lm model reads text", value=modality, allowed=("text", "auto"))
        modality = "text"
    elif adapter == "local":
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
        if causal_architecture(snapshot_config):  # a decoder LM: loaded with its head, so that it can generate
            adapter, chat_template, modality = "causal_lm", has_chat_template(Path(path)), "text"
        if modality == "auto":
            modality = "image" if "num_channels" in snapshot_config and "vocab_size" not in snapshot_config else "text"
    elif modality == "auto":
        f.error("modality", "'auto' is only for local snapshots", allowed=MODALITIES)
    if modality == "image" and preprocess is None:
        if adapter == "local":
            size = snapshot_config.get("image_size", 224)
            if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= MAX_IMAGE_SIZE:
                f.error("path", f"the snapshot's config.json has image_size {size!r}", allowed=f"8..{MAX_IMAGE_SIZE}", hint="set model.preprocess.image_size")
            preprocess = ImagePreprocess(size, size, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
        else:
            f.error("preprocess", "an image model needs preprocess.image_size", hint="add preprocess: {image_size: 224}")

    vocab = config.get("vocab_size")
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        token = config.get(key)
        if isinstance(vocab, int) and isinstance(token, int) and not 0 <= token < vocab:
            f.error(f"config.{key}", f"outside the vocabulary (vocab_size {vocab})", value=token, allowed=f"0..{vocab - 1}")
    if adapter == "causal_lm" and path is None and not isinstance(config.get("eos_token_id"), int):
        f.error("config.eos_token_id", "a random-init decoder needs eos_token_id inside its vocabulary (generation holds it back to decode a fixed length)", hint="set config.eos_token_id (and bos_token_id, pad_token_id) below config.vocab_size")
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
        hub_id=hub_id,
        chat_template=chat_template,
    )


def _check_text_length(f: Fields, model: ModelSpec, spec: InferSpec, seq_len: int, key: str) -> None:
    """One prompt length of a text model (infer.seq_len, or each infer.seq_lens entry) against the model and the limits."""
    if seq_len < 1:
        f.error(key, f"text model {model.id} needs seq_len >= 1", value=seq_len)
    if model.max_positions and seq_len > model.max_positions:
        f.error(
            key,
            f"longer than model {model.id} accepts ({model.max_positions} positions)",
            value=seq_len,
            allowed=f"1..{model.max_positions}",
            hint=f"lower infer.{key}; longer samples are truncated to the length anyway",
        )
    if model.generative and model.max_positions:
        room = model.max_positions - seq_len
        for new_key, new_tokens in [("max_new_tokens", spec.max_new_tokens), *(("output_lens", n) for n in spec.output_lens)]:
            if new_tokens > 0 and seq_len + new_tokens > model.max_positions:
                what = "max_new_tokens" if new_key == "max_new_tokens" else "output length"
                low = "0" if new_key == "max_new_tokens" else "1"
                f.error(
                    new_key,
                    f"seq_len {seq_len} + {what} {new_tokens} is longer than model {model.id} accepts ({model.max_positions} positions)",
                    value=list(spec.output_lens) if new_key == "output_lens" else new_tokens,
                    allowed=f"{low}..{room}" if room > 0 else f"{low if low == '0' else 'none'} (seq_len already fills every position)",
                    hint=f"lower infer.{new_key} or infer.{key}; the prompt and the generated tokens share the positions",
                )
                break
    largest = max(spec.batch_sizes)
    if largest * seq_len > MAX_TOKENS_PER_BATCH:
        f.error(
            "batch_sizes",
            f"batch size {largest} x seq_len {seq_len} = {largest * seq_len} tokens per batch, "
            f"more than perfsuite's limit of {MAX_TOKENS_PER_BATCH}",
            value=largest,
            allowed=f"1..{max(1, MAX_TOKENS_PER_BATCH // seq_len)} at this seq_len",
            hint=f"lower the batch size or infer.{key}; see 'Limits' in docs/configuration.md",
        )


def infer_spec(data: Any, model: ModelSpec, device: str, *, file: str | None, overridden: Mapping[str, str]) -> InferSpec:
    f = Fields(data, section="infer", file=file, overridden=overridden)
    spec = InferSpec(
        batch_sizes=f.int_list("batch_sizes", minimum=1, maximum=MAX_BATCH_SIZE, max_length=MAX_BATCH_SIZES),
        seq_len=f.integer("seq_len", minimum=0, maximum=MAX_SEQ_LEN),
        max_new_tokens=f.integer("max_new_tokens", minimum=0, maximum=MAX_NEW_TOKENS, default=0),
        precision=f.string("precision", choices=PRECISIONS, default="fp32"),
        num_batches=f.integer("num_batches", minimum=1, maximum=MAX_NUM_BATCHES, default=2),
        seq_lens=tuple(dict.fromkeys(f.int_list("seq_lens", minimum=1, maximum=MAX_SEQ_LEN, max_length=MAX_BATCH_SIZES, default=None) or ())),
        kv_cache=f.string("kv_cache", choices=KV_CACHES, default="dynamic"),
        prompt_spread=number(f, "prompt_spread", default=0.0, low=0.0, above=False, high=0.9,
                             hint="0.5: a batch's prompts run evenly from seq_len down to half of it"),
        output_lens=tuple(dict.fromkeys(f.int_list("output_lens", minimum=1, maximum=MAX_NEW_TOKENS, max_length=MAX_BATCH_SIZES, default=None) or ())),
    )
    f.done()
    if spec.output_lens and not model.generative:
        f.error("output_lens", f"model {model.id} does not generate (no causal-LM head), so it has no output length axis",
                value=list(spec.output_lens), hint="leave infer.output_lens out, or pick a decoder model (adapter causal_lm or gpt2)")
    if model.modality == "text":
        key = "seq_lens" if spec.seq_lens else "seq_len"
        for seq_len in spec.seq_lens or (spec.seq_len,):
            _check_text_length(f, model, spec, seq_len, key)
    elif spec.seq_lens:
        f.error("seq_lens", f"image model {model.id} has no sequence length axis", value=list(spec.seq_lens), hint="leave infer.seq_lens out")
    elif model.preprocess is not None:
        largest = max(spec.batch_sizes)
        side = max(model.preprocess.resize, model.preprocess.image_size)
        if largest * side * side > MAX_PIXELS_PER_BATCH:
            f.error(
                "batch_sizes",
                f"batch size {largest} x {side}x{side} images = {largest * side * side} pixels per batch, "
                f"more than perfsuite's limit of {MAX_PIXELS_PER_BATCH}",
                value=largest,
                allowed=f"1..{max(1, MAX_PIXELS_PER_BATCH // (side * side))} at this image size",
                hint="lower the batch size or the image size; see 'Limits' in docs/configuration.md",
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
        max_samples=f.integer("max_samples", minimum=1, maximum=MAX_SAMPLES, default=256),
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
        known = is_plain_name(name) and bootstrap.exists()  # a name, not a path out of datasets/
        hint = f"run {bootstrap.relative_to(project_root)} --yes" if known else "create it or fix dataset.root"
        f.error("root", f"the dataset folder does not exist: {spec.root}", hint=hint)
    return spec


def runtime_spec(data: Any, *, file: str | None, overridden: Mapping[str, str], parity_file: str | None = None) -> RuntimeSpec:
    f = Fields(data, section="inference_runtime", file=file, overridden=overridden)
    name = f.string("name")
    backend = f.string("backend", choices=registry.RUNTIMES.names())
    slowdown = f._get("slowdown", 0.0)
    if isinstance(slowdown, bool) or not isinstance(slowdown, (int, float)) or not 0 <= slowdown <= 10:
        f.error("slowdown", "must be a ratio between 0 and 10 (0.05 = every call 5% slower)", value=slowdown)
    # -- precision, memory layout, parity; the compile: / onnxruntime: blocks (perfsuite.config.runtime_options)
    shared = precision_options(f)
    parity = parity_spec(f, file=parity_file)
    options = backend_options(f, backend)
    f.done()
    return RuntimeSpec(name=name, backend=backend, slowdown=float(slowdown), **shared, parity=parity, **options)


def case_config(
    data: dict[str, Any],
    *,
    model_id: str,
    family: str,
    device: str,
    files: Mapping[str, str | None],
    overridden: Mapping[str, str],
    project_root: Path,
    raw: dict[str, Any] | None = None,
) -> CaseConfig:
    """Validate one composed config. `files` maps section -> the YAML file it came from.

    `raw` is the config as stored in run_config.yaml (environment interpolations left unresolved);
    by default `data` itself.
    """
    sections = check_sections(data, files, overridden)
    model = model_spec(data.get("model"), model_id=model_id, family=family, file=files.get("model"), overridden=overridden, project_root=project_root)
    infer = infer_spec(data.get("infer"), model, device, file=files.get("infer"), overridden=overridden)
    runtime = runtime_spec(
        data.get("inference_runtime"), file=files.get("inference_runtime"), overridden=overridden, parity_file=files.get(PARITY_GROUP)
    )
    check_precision(runtime, infer, file=files.get("inference_runtime"), infer_file=files.get("infer"), overridden=overridden)
    return CaseConfig(
        model=model,
        infer=infer,
        dataset=dataset_spec(
            data.get("dataset"),
            file=files.get("dataset"),
            sampling_file=files.get("dataset/sampling"),
            overridden=overridden,
            project_root=project_root,
        ),
        runtime=runtime,
        hardware=hardware_spec(data.get("hardware"), device, file=files.get("hardware"), overridden=overridden),
        measure=sections.measure,
        stages=sections.stages,
        seed=sections.seed,
        profiling=sections.profiling,
        output=sections.output,
        scenario=sections.scenario,
        raw=data if raw is None else raw,
    )


def check_device(device: str) -> str:
    """Validate the --device value's form (availability is checked by the plugin)."""
    text = device.strip().lower()
    if text in ("cpu", "cuda", "mps") or (text.startswith("cuda:") and text[5:].isdigit()):
        return text
    raise PerfConfigError("unknown device", key="--device", value=device, allowed=["cpu", "cuda", "cuda:N", "mps"])


__all__ = ["case_config", "check_device", "run_spec", "suite_spec", "PerfConfigError"]
