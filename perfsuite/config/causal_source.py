"""Where a `causal_lm` model's weights come from, checked at plan time so that a bad source fails before any case runs.

Exactly one of: `config.model_type` (random init from transformers' config class), `path` (a snapshot folder
whose config.json names a causal-LM architecture, or a .gguf file), `weights` (a registered provider that
returns one of those), `hub_id` (a snapshot already in the local Hugging Face cache; never downloaded).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfsuite import registry
from perfsuite.config.fields import Fields
from perfsuite.errors import PerfDataError

CAUSAL_HEADS = ("ForCausalLM", "LMHeadModel")
# ggml types transformers can turn into float tensors besides gguf-py's dequantizers.
_PLAIN_GGML = frozenset({"F32", "F16", "BF16", "F64", "I8", "I16", "I32", "I64"})
# Names in transformers' GGUF_SUPPORTED_ARCHITECTURES that are no decoder-only LM: key prefixes and encoder-decoders.
_NOT_DECODERS = frozenset({"general", "tokenizer", "t5", "umt5"})


@dataclass(frozen=True)
class CausalSource:
    path: str | None  # absolute snapshot folder or .gguf file; None for random init
    config: dict[str, Any] = field(default_factory=dict)  # what the plan reads: positions, vocabulary
    chat_template: bool = False


def causal_architecture(snapshot_config: Mapping[str, Any]) -> str | None:
    """The config.json architecture with a causal-LM head (``LlamaForCausalLM``, ``GPT2LMHeadModel``), else None."""
    archs = snapshot_config.get("architectures") or ()
    return next((a for a in archs if isinstance(a, str) and a.endswith(CAUSAL_HEADS)), None)


def has_chat_template(folder: Path) -> bool:
    """A snapshot's tokenizer carries a chat template (tokenizer_config.json, or chat_template.jinja/.json)."""
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    try:
        data = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(isinstance(data, dict) and data.get("chat_template"))


def gguf_problem(quant_types: tuple[tuple[str, int], ...], architecture: str) -> str | None:
    """Why transformers cannot load a GGUF file of this architecture and these tensor types, else None."""
    try:
        from gguf.quants import _type_traits  # the dequantizers transformers' GGUF loader calls
    except ImportError:
        return "loading GGUF files needs the gguf and accelerate packages (pip install gguf accelerate)"
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    # GGUF_SUPPORTED_ARCHITECTURES also holds the key prefixes `general` and `tokenizer`, and encoder-decoder
    # models that AutoModelForCausalLM cannot build.
    decoders = sorted(set(GGUF_SUPPORTED_ARCHITECTURES) - _NOT_DECODERS)
    if architecture.replace("-", "_") not in decoders and architecture.replace("-", "") not in decoders:
        return (
            f"its architecture {architecture!r} is not a decoder LM transformers' GGUF loader supports "
            f"({', '.join(decoders)}); use the model's safetensors snapshot instead"
        )
    known = _PLAIN_GGML | {t.name for t in _type_traits}
    bad = sorted(t for t, _ in quant_types if t not in known)
    if bad:
        return (
            f"it holds tensors of quant type {', '.join(bad)}, which transformers cannot de-quantize "
            f"(it can: {', '.join(sorted(known))}); re-quantize it to one of those (e.g. with llama.cpp's "
            "llama-quantize to Q4_K_M or Q8_0), or use the model's safetensors snapshot"
        )
    return None


def _gguf(f: Fields, file: Path, key: str) -> CausalSource:
    from perfsuite.config.gguf_header import read_gguf_header

    try:
        header = read_gguf_header(file)
    except PerfDataError as exc:
        f.error(key, str(exc))
    problem = gguf_problem(header.quant_types, header.architecture)
    if problem:
        f.error(key, f"{file} cannot be loaded: {problem}")
    config = {"max_position_embeddings": header.context_length, "vocab_size": header.vocab_size}
    return CausalSource(str(file.resolve()), {k: v for k, v in config.items() if v}, header.chat_template)


def _snapshot(f: Fields, folder: Path, key: str) -> CausalSource:
    config_json = folder / "config.json"
    if not config_json.is_file():
        f.error(key, f"{folder} has no config.json, so it is not a transformers snapshot", hint="point at the folder that holds config.json, or at a .gguf file")
    try:
        config = json.loads(config_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        f.error(key, f"{config_json} is not valid JSON ({exc})")
    if not isinstance(config, dict):
        f.error(key, f"{config_json} does not hold a JSON object")
    if not causal_architecture(config):
        archs = config.get("architectures") or ["(none listed)"]
        f.error(
            key,
            f"the snapshot at {folder} has no causal-LM head (architectures: {', '.join(map(str, archs))}), so it cannot generate",
            hint="measure it as an encoder with adapter: local, or use the snapshot of its ...ForCausalLM variant",
        )
    return CausalSource(str(folder.resolve()), config, has_chat_template(folder))


def _path(f: Fields, path: Path, key: str) -> CausalSource:
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            f.error(key, f"{path} is a file but not a .gguf file", hint="point at a snapshot folder (config.json + weights) or a .gguf file")
        return _gguf(f, path, key)
    if not path.is_dir():
        f.error(key, f"{path} does not exist", hint="point at a snapshot folder (config.json + weights) or a .gguf file")
    return _snapshot(f, path, key)


def _hub_snapshot(f: Fields, hub_id: str) -> Path:
    """The cached snapshot folder of `hub_id`; HF_HUB_OFFLINE is set so nothing is ever fetched."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    from huggingface_hub import snapshot_download
    from huggingface_hub.constants import HF_HUB_CACHE

    try:
        return Path(snapshot_download(hub_id, local_files_only=True))
    except Exception as exc:  # noqa: BLE001 - LocalEntryNotFoundError, HFValidationError, ...
        f.error(
            "hub_id",
            f"{hub_id} is not in the local Hugging Face cache ({HF_HUB_CACHE}); perfsuite never downloads "
            f"({type(exc).__name__})",
            value=hub_id,
            hint=f"on a machine with network: huggingface-cli download {hub_id} (same HF_HOME), or point model.path at a snapshot folder",
        )


def causal_source(
    f: Fields, *, config: Mapping[str, Any], path_text: str | None, weights: str | None, hub_id: str | None, file: str | None, project_root: Path
) -> CausalSource:
    given = [k for k, v in (("config.model_type", config.get("model_type")), ("path", path_text), ("weights", weights), ("hub_id", hub_id)) if v]
    if len(given) != 1:
        f.error(
            given[1] if len(given) > 1 else "path",
            f"a causal_lm model needs exactly one source of weights, got {', '.join(given) or 'none'}",
            allowed=("config.model_type (random init)", "path (snapshot folder or .gguf file)", "weights (a provider)", "hub_id (local cache)"),
        )
    if config.get("model_type"):
        return CausalSource(None)
    if weights:
        return _path(f, Path(registry.WEIGHTS.get(weights, key="model.weights", file=file)()), "weights")
    if hub_id:
        return _path(f, _hub_snapshot(f, hub_id), "hub_id")
    assert path_text is not None
    p = Path(path_text).expanduser()
    return _path(f, p if p.is_absolute() else project_root / p, "path")
