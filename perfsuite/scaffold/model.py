"""`perfsuite new model NAME --from PATH | --family F`: a model of the user's own conf tree.

Writes `conf/model/NAME/{arch,infer}/NAME.default.yaml` and `output/{direct,torch}/default.yaml`,
so `model=NAME` selects it. `--from` reads a Hugging Face snapshot's config.json (model type,
architecture, max positions, vocabulary, image size) and writes a `local` model that loads its
real weights; a snapshot of a decoder LM (a ...ForCausalLM / ...LMHeadModel architecture) or a
.gguf file (its header: architecture, context length, vocabulary, chat template, quant types)
becomes a `causal_lm` model whose infer preset generates (max_new_tokens > 0). `--family` copies
one of perfsuite's built-in presets (random weights, or the weights it names). Before anything
is written the files are staged in a temporary conf dir, composed and validated like a run
would, and the model is built and called once on CPU (a decoder also generates two tokens).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfsuite.config.sources import ConfSources
from perfsuite.errors import PerfConfigError, PerfError
from perfsuite.scaffold.files import FileWrite
from perfsuite.scaffold.render import render

DEFAULT_SEQ_LEN = 128
DEFAULT_NEW_TOKENS = 16  # a decoder's infer preset: tokens generated per run, so that its case generates
CHECK_NEW_TOKENS = 2  # tokens the build check generates
_POSITION_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length")
_OUTPUT_EXAMPLES = {
    "direct": ["record_output_shapes: false   # outputs too large to describe", "save_raw_samples: false       # keep results.json small"],
    "torch": ["sort_by: cpu_time_total        # op table order", "op_table_rows: 40"],
}


@dataclass(frozen=True)
class SnapshotFacts:
    """What perfsuite needs to know about a snapshot, read from its config.json (and preprocessor_config.json)."""

    path: Path
    model_type: str
    architectures: tuple[str, ...]
    modality: str  # text | image
    max_positions: int | None
    vocab_size: int | None
    image_size: int | None
    image_mean: tuple[float, ...] | None
    image_std: tuple[float, ...] | None
    layers: int | None
    hidden: int | None
    generates: bool = False  # a decoder LM with its LM head: written as a causal_lm model that generates
    chat_template: bool = False  # its tokenizer has a chat template (chat datasets render with it)
    gguf_quant: str | None = None  # a .gguf file: its tensors' quant types ("Q4_1 x211, F32 x61")

    def describe(self) -> str:
        if self.gguf_quant is not None:
            parts = [f"GGUF, architecture {self.model_type}", f"tensors {self.gguf_quant}"]
        else:
            parts = [f"model_type {self.model_type}"]
            if self.architectures:
                parts[0] += f" ({', '.join(self.architectures)})"
        for label, value in (("layers", self.layers), ("hidden", self.hidden), ("max positions", self.max_positions),
                             ("vocab", self.vocab_size), ("image size", self.image_size)):
            if value is not None:
                parts.append(f"{label} {value}")
        if self.generates:
            parts.append("chat template" if self.chat_template else "no chat template")
        return ", ".join(parts)


def builtin_families(sources: ConfSources | None = None) -> dict[str, list[str]]:
    """Built-in family -> its arch presets ("gpt2" -> ["gpt2.full", "gpt2.tiny"]), without `local`."""
    sources = sources or ConfSources.create()
    return {fam: sources.options(f"model/{fam}/arch") for fam in sources.model_families() if fam != "local"}


def _supported_help(families: dict[str, list[str]]) -> str:
    presets = "; ".join(f"{fam}: {', '.join(p)}" for fam, p in families.items())
    return (
        "Supported: (1) --from a snapshot whose config.json has a model_type that transformers' AutoModel "
        "can build, loaded by perfsuite's `local` adapter with its real weights (a ...ForCausalLM / ...LMHeadModel "
        "architecture: by the `causal_lm` adapter, which generates); (2) --from a .gguf file of an architecture "
        f"transformers' GGUF loader reads (`causal_lm`); (3) --family with a built-in preset "
        f"({presets}). To use `local` by hand, write conf/model/NAME/arch/NAME.default.yaml with "
        "`adapter: local`, `modality: text|image|auto` and `path: /folder/with/config.json`, or link the snapshot as "
        "models/NAME (`perfsuite bootstrap models`, docs/bring-your-own.md) and run with --perf-override model=NAME"
    )


def _int(config: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _image_size(config: dict[str, Any], pre: dict[str, Any]) -> int | None:
    size = _int(config, "image_size")
    if size is None:
        crop = pre.get("crop_size") or pre.get("size")
        if isinstance(crop, int):
            size = crop
        elif isinstance(crop, dict):
            size = _int(crop, "height", "shortest_edge")
    return size


def _floats(value: Any) -> tuple[float, ...] | None:
    if isinstance(value, list) and len(value) == 3 and all(isinstance(v, (int, float)) for v in value):
        return tuple(float(v) for v in value)
    return None


def read_snapshot(path: Path, *, families: dict[str, list[str]]) -> SnapshotFacts:
    """The facts of the snapshot at `path`; PerfConfigError when it is not one perfsuite can load."""
    from perfsuite.bootstrap.snapshots import WEIGHT_PATTERNS, is_hub_repo_dir, missing_files, resolve_hub_repo
    from perfsuite.config.causal_source import causal_architecture, has_chat_template

    if path.is_file():
        return read_gguf(path)
    if not path.is_dir():
        raise PerfConfigError(
            "the snapshot folder does not exist", key="--from", value=str(path),
            hint="point --from at the folder that holds config.json and the weights, or at a .gguf file",
        )
    if is_hub_repo_dir(path) and not (path / "config.json").is_file():  # a hub cache entry: models--org--name/
        path = resolve_hub_repo(path).path
    config_json = path / "config.json"
    if not config_json.is_file():
        raise PerfConfigError(
            f"{path} has no config.json, so it is not a Hugging Face model snapshot",
            key="--from",
            hint="point --from at the folder holding config.json (in a hub cache: models--ORG--NAME/snapshots/<revision>), "
            "or use --family for a built-in architecture. " + _supported_help(families),
        )
    try:
        config = json.loads(config_json.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PerfConfigError(f"{config_json} is not valid JSON ({exc})", key="--from") from None
    if not isinstance(config, dict):
        raise PerfConfigError(f"{config_json} is not a JSON object", key="--from")
    if missing_files(path, [], weights=True):
        raise PerfConfigError(
            f"{path} has config.json but no weights ({' or '.join(WEIGHT_PATTERNS)})",
            key="--from",
            hint="download the weights too (a hub download of config.json alone is not a snapshot), or use --family for random weights",
        )
    pre: dict[str, Any] = {}
    pre_json = path / "preprocessor_config.json"
    if pre_json.is_file():
        try:
            loaded = json.loads(pre_json.read_text(encoding="utf-8"))
            pre = loaded if isinstance(loaded, dict) else {}
        except (OSError, UnicodeDecodeError, ValueError):
            pre = {}  # optional: the defaults below apply

    model_type = config.get("model_type")
    architectures = tuple(str(a) for a in config.get("architectures") or () if isinstance(a, str))
    generates = causal_architecture(config) is not None
    check_architecture(model_type, architectures, config_json, families, causal=generates)
    modality = "text" if generates else "image" if "num_channels" in config and "vocab_size" not in config else "text"
    return SnapshotFacts(
        path=path.resolve(),
        model_type=str(model_type),
        architectures=architectures,
        modality=modality,
        max_positions=_int(config, *_POSITION_KEYS) if modality == "text" else None,
        vocab_size=_int(config, "vocab_size"),
        image_size=_image_size(config, pre) if modality == "image" else None,
        image_mean=_floats(pre.get("image_mean")),
        image_std=_floats(pre.get("image_std")),
        layers=_int(config, "num_hidden_layers", "n_layer", "num_layers"),
        hidden=_int(config, "hidden_size", "n_embd", "d_model"),
        generates=generates,
        chat_template=generates and has_chat_template(path),
    )


def read_gguf(path: Path) -> SnapshotFacts:
    """The facts of a .gguf file, from its header; PerfConfigError when transformers' GGUF loader cannot read it."""
    from perfsuite.config.causal_source import gguf_problem
    from perfsuite.config.gguf_header import read_gguf_header
    from perfsuite.errors import PerfDataError

    if path.suffix.lower() != ".gguf":
        raise PerfConfigError(
            "a file that is not a .gguf file", key="--from", value=str(path),
            hint="point --from at a snapshot folder (config.json + weights) or at a .gguf file",
        )
    try:
        header = read_gguf_header(path)
    except PerfDataError as exc:
        raise PerfConfigError(str(exc), key="--from", hint="download the file again, or convert the model to GGUF anew") from None
    problem = gguf_problem(header.quant_types, header.architecture)
    if problem:
        raise PerfConfigError(f"{path} cannot be loaded: {problem}", key="--from")
    return SnapshotFacts(
        path=path.resolve(),
        model_type=header.architecture + (f" ({header.name})" if header.name else ""),
        architectures=(),
        modality="text",
        max_positions=header.context_length,
        vocab_size=header.vocab_size,
        image_size=None,
        image_mean=None,
        image_std=None,
        layers=None,
        hidden=None,
        generates=True,
        chat_template=header.chat_template,
        gguf_quant=header.describe_quant(),
    )


def check_architecture(
    model_type: Any, architectures: tuple[str, ...], config_json: Path, families: dict[str, list[str]], *, causal: bool = False
) -> None:
    """A model_type that transformers' AutoModel (what the `local` adapter calls) can build, or an error;
    with `causal`, one that AutoModelForCausalLM (the `causal_lm` adapter) can build."""
    import transformers
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, MODEL_MAPPING_NAMES

    if isinstance(model_type, str) and model_type in (MODEL_FOR_CAUSAL_LM_MAPPING_NAMES if causal else MODEL_MAPPING_NAMES):
        return
    what = f"model_type {model_type!r}" if model_type else "no model_type"
    custom = " It ships its own modelling code (auto_map); perfsuite never runs code from a snapshot." if "auto_map" in json.loads(config_json.read_text(encoding="utf-8")) else ""
    raise PerfConfigError(
        f"{config_json} names an unknown architecture: {what}"
        + (f", architectures {list(architectures)}" if architectures else "")
        + f"; transformers {transformers.__version__} has no {'AutoModelForCausalLM' if causal else 'AutoModel'} for it, "
        f"so perfsuite cannot load it.{custom}",
        key="--from",
        hint=_supported_help(families) + ". A newer transformers may know this model_type",
    )


def decoder_lengths(max_positions: int | None) -> tuple[int, int]:
    """(seq_len, max_new_tokens) of a decoder's infer preset: the prompt and the new tokens fit its context."""
    context = max_positions or DEFAULT_SEQ_LEN + DEFAULT_NEW_TOKENS
    new_tokens = min(DEFAULT_NEW_TOKENS, max(1, context // 4))
    return min(DEFAULT_SEQ_LEN, context - new_tokens), new_tokens


def snapshot_files(name: str, facts: SnapshotFacts, *, conf: Path, project_root: Path) -> list[FileWrite]:
    """The conf files of a `local` model reading the snapshot `facts` describes (`causal_lm` for a decoder LM)."""
    try:
        path_text = str(facts.path.relative_to(project_root.resolve()))  # inside the project: portable
    except ValueError:
        path_text = str(facts.path)
    preprocess = None
    if facts.modality == "image":
        size = facts.image_size or 224
        preprocess = {
            "image_size": size,
            "resize": size,
            "mean": list(facts.image_mean or (0.485, 0.456, 0.406)),
            "std": list(facts.image_std or (0.229, 0.224, 0.225)),
        }
    if facts.modality == "text":
        seq_len = min(DEFAULT_SEQ_LEN, facts.max_positions or DEFAULT_SEQ_LEN)
        seq_note = f"tokens per sample; the snapshot accepts {facts.max_positions}" if facts.max_positions else "tokens per sample"
    else:
        seq_len, seq_note = 0, "image model: no tokens"
    if facts.generates:
        seq_len, new_tokens = decoder_lengths(facts.max_positions)
        context = f"its context holds {facts.max_positions}" if facts.max_positions else "its context length is not stated"
        arch = render(
            "model/arch_causal.yaml.j2",
            name=name, path=facts.path, path_text=json.dumps(path_text), facts=facts.describe(), gguf=facts.gguf_quant is not None,
            chat_template=facts.chat_template,
        )
        infer = render(
            "model/infer.yaml.j2", name=name, seq_len=seq_len, max_new_tokens=new_tokens,
            seq_note=f"prompt tokens; {context}, prompt + max_new_tokens must fit",
        )
        return model_files(name, conf, arch, infer, outputs={})
    arch = render(
        "model/arch_snapshot.yaml.j2",
        name=name, path=facts.path, path_text=json.dumps(path_text), facts=facts.describe(), modality=facts.modality, preprocess=preprocess,
    )
    infer = render("model/infer.yaml.j2", name=name, seq_len=seq_len, seq_note=seq_note, max_new_tokens=0)
    return model_files(name, conf, arch, infer, outputs={})


def model_files(name: str, conf: Path, arch: str, infer: str, *, outputs: dict[str, str]) -> list[FileWrite]:
    base = conf / "model" / name
    files = [FileWrite(base / "arch" / f"{name}.default.yaml", arch), FileWrite(base / "infer" / f"{name}.default.yaml", infer)]
    for stage in ("direct", "torch"):
        text = outputs.get(stage) or render("model/output.yaml.j2", name=name, stage=stage, example=_OUTPUT_EXAMPLES[stage])
        files.append(FileWrite(base / "output" / stage / "default.yaml", text))
    return files


def family_files(name: str, family: str, *, conf: Path, sources: ConfSources | None = None) -> list[FileWrite]:
    """The conf files of a model copied from the built-in preset `family` ("gpt2" or "gpt2.tiny")."""
    sources = sources or ConfSources.create()
    families = builtin_families(sources)
    fam, _, preset = family.partition(".")
    if fam == "local":
        raise PerfConfigError("the `local` family is a template for snapshots on disk", key="--family", value=family, hint="use --from /path/to/snapshot instead")
    if fam not in families:
        raise PerfConfigError("unknown model family", key="--family", value=family, allowed=[p for ps in families.values() for p in ps], hint=_supported_help(families))
    presets = families[fam]
    if preset:
        option = family
    else:  # a bare family: its default preset, else its full-size one
        option = next((p for p in (f"{fam}.default", f"{fam}.full") if p in presets), presets[0])
    arch_file = sources.find(f"model/{fam}/arch", option)
    infer_file = sources.find(f"model/{fam}/infer", f"{fam}.default")
    if arch_file is None or infer_file is None:
        raise PerfConfigError("unknown preset of this family", key="--family", value=family, allowed=presets)
    header = f"# {name}: a copy of perfsuite's built-in preset {option} (written by `perfsuite new model {name} --family {family}`).\n"
    outputs = {}
    for stage in ("direct", "torch"):
        found = sources.find(f"model/{fam}/output/{stage}", "default")
        if found is not None:
            outputs[stage] = header + found.read_text(encoding="utf-8")
    return model_files(name, conf, header + arch_file.read_text(encoding="utf-8"), header + infer_file.read_text(encoding="utf-8"), outputs=outputs)


@dataclass(frozen=True)
class Validated:
    modality: str
    params: int
    seconds: float  # build + one forward pass (+ generating CHECK_NEW_TOKENS tokens)
    generated: int = 0  # tokens a decoder generated in the check; 0: not a decoder that generates


def validate_model(name: str, files: list[FileWrite], *, conf: Path, project_root: Path, build: bool = True) -> Validated:
    """Compose `model=NAME` from the staged files (before the project's own conf), then build and call it once.

    Raises PerfError (config or data) with the problem; nothing of the project is touched.
    """
    import time

    from perfsuite.config.plan import build_plan

    with tempfile.TemporaryDirectory(prefix="perfsuite-new-model-") as tmp:
        staged = Path(tmp) / "conf"
        for f in files:
            target = staged / f.path.relative_to(conf)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f.text, encoding="utf-8")
        dirs = [staged, conf] if conf.is_dir() else [staged]
        plan = build_plan(
            device="cpu", suite="smoke", conf_dirs=dirs, project_root=project_root,
            overrides=[f"model={name}", "dataset=synthetic", "inference_runtime=pytorch", "infer.batch_sizes=[1]"],
        )
        case = plan.cases[0]
        if not build:
            return Validated(case.model.modality, 0, 0.0)
        start = time.perf_counter()
        params, generated = _build_and_call(case)
        return Validated(case.model.modality, params, time.perf_counter() - start, generated)


# Long enough to fill any check length exactly, so no row is padded (a padded prompt would mislead generate).
_CHECK_TEXT = " ".join(["perfsuite checks that this model builds, runs and generates."] * 64)


def _build_and_call(case: Any) -> tuple[int, int]:
    """Build the case's model on CPU and run one forward pass on a one-sample batch; a decoder then generates
    CHECK_NEW_TOKENS tokens from a chat prompt rendered with its chat template (from plain text without one).
    Its parameter count and the tokens it generated."""
    import numpy as np
    import torch

    from perfsuite.models.base import build_model

    model = build_model(case.model, precision=case.config.infer.precision, device="cpu", seed=case.config.seed)
    generates = case.model.generative and case.config.infer.max_new_tokens > 0
    what = f"a {case.model.modality} input"
    try:
        if generates and case.model.chat_template:
            from perfsuite.data.chat import ChatPrompt

            what = "a chat prompt rendered with its chat template"
            # the case's own prompt length: a chat template's roles and markers take tokens of their own
            inputs = model.prepare_input([ChatPrompt((("user", _CHECK_TEXT),), 0)], seq_len=case.config.infer.seq_len)
        elif case.model.modality == "text":
            inputs = model.prepare_input([_CHECK_TEXT], seq_len=min(case.config.infer.seq_len, 16))
        else:
            size = case.model.preprocess.image_size
            inputs = model.prepare_input([np.zeros((size, size, 3), dtype=np.uint8)], seq_len=0)
        with torch.inference_mode():
            model.forward(inputs)
    except PerfError:
        raise
    except Exception as exc:  # a model that builds but cannot take perfsuite's inputs (e.g. text+image models)
        raise PerfError(f"model {case.model.id} builds but its forward pass failed on {what}: {type(exc).__name__}: {exc}") from None
    generated = 0
    if generates:
        new = min(CHECK_NEW_TOKENS, case.config.infer.max_new_tokens)
        try:
            with torch.inference_mode():
                out = model.module.generate(
                    input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                    max_new_tokens=new, min_new_tokens=new, do_sample=False,
                )
            generated = int(out.shape[1] - inputs["input_ids"].shape[1])
        except Exception as exc:  # noqa: BLE001 - generate raises many types
            raise PerfError(f"model {case.model.id} builds and runs its prefill, but generate() failed: {type(exc).__name__}: {exc}") from None
    return model.info().params, generated


def generation_bench(benches: Path, *, layout_args: dict[str, str]) -> FileWrite | None:
    """benches/test_generation.py, when the project's benchmarks have none that generates (a file using the
    perf_generation marker or perf.generate); None when one does, or when that file name is taken."""
    target = benches / "test_generation.py"
    if target.exists():
        return None
    for path in sorted(benches.rglob("*.py")) if benches.is_dir() else []:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "perf_generation" in text or "perf.generate(" in text:
            return None
    return FileWrite(target, render("project/bench_generation.py.j2", **layout_args))


def paired_datasets(conf: Path, modality: str, *, builtin: Callable[[str], str] = lambda m: {"text": "pydoc", "image": "sample_images"}[m]) -> list[str]:
    """The project's own datasets of this modality (conf/dataset/*.yaml), else perfsuite's built-in one."""
    import yaml

    mine = []
    for path in sorted((conf / "dataset").glob("*.yaml")) if (conf / "dataset").is_dir() else []:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and data.get("modality") in (modality, "any") and data.get("adapter") != "synthetic":
            mine.append(path.stem)
    return mine or [builtin(modality)]
