"""transformers models built from config (random weights, never downloaded) or loaded from disk.

Each factory imports what it needs and returns a zero-argument builder, so that load time
(`load_s`) measures building the model, not importing transformers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perfsuite.config.schema import ModelSpec
from perfsuite.errors import PerfDataError
from perfsuite.models.base import Built
from perfsuite.registry import MODELS


def _quiet_transformers() -> None:
    logging.getLogger("transformers").setLevel(logging.ERROR)


@MODELS.register("gpt2")
def gpt2(spec: ModelSpec) -> Callable[[], Built]:
    from transformers import GPT2Config, GPT2LMHeadModel

    _quiet_transformers()
    # No KV cache for a single forward pass: the timed call is the prefill alone.
    return lambda: Built(GPT2LMHeadModel(GPT2Config(**spec.config_dict())), forward_kwargs=(("use_cache", False),))


@MODELS.register("bert")
def bert(spec: ModelSpec) -> Callable[[], Built]:
    from transformers import BertConfig, BertModel

    _quiet_transformers()
    return lambda: Built(BertModel(BertConfig(**spec.config_dict())))


@MODELS.register("distilbert")
def distilbert(spec: ModelSpec) -> Callable[[], Built]:
    from transformers import DistilBertConfig, DistilBertModel

    _quiet_transformers()
    return lambda: Built(DistilBertModel(DistilBertConfig(**spec.config_dict())))


@MODELS.register("resnet")
def resnet(spec: ModelSpec) -> Callable[[], Built]:
    from transformers import ResNetConfig, ResNetForImageClassification

    _quiet_transformers()
    return lambda: Built(ResNetForImageClassification(ResNetConfig(**spec.config_dict())))


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "spiece.model")


@MODELS.register("local")
def local(spec: ModelSpec) -> Callable[[], Built]:
    """A snapshot folder: AutoModel + AutoTokenizer with local_files_only=True (no network)."""
    from transformers import AutoModel, AutoTokenizer

    _quiet_transformers()
    assert spec.path is not None  # validated
    path = Path(spec.path)
    _import_model_class(path)
    return lambda: _load_local(spec, path, AutoModel, AutoTokenizer)


def _import_model_class(path: Path) -> None:
    """Import the snapshot's model class now: AutoModel imports it lazily on first use (~100 MiB of
    modules for a BERT), which would otherwise count in load_s and in the case's own memory."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    try:
        MODEL_MAPPING[type(AutoConfig.from_pretrained(path, local_files_only=True))]
    except Exception:  # noqa: BLE001 - a bad snapshot gets its clear error from _load_local
        return


def _load_local(spec: ModelSpec, path: Path, AutoModel: Any, AutoTokenizer: Any) -> Built:  # noqa: N803
    try:
        module = AutoModel.from_pretrained(path, local_files_only=True)
    except Exception as exc:  # transformers/safetensors raise many types for a bad snapshot
        raise PerfDataError(f"cannot load the model snapshot at {path}: {type(exc).__name__}: {exc}") from None
    tokenizer = None
    if spec.modality == "text" and any((path / f).exists() for f in _TOKENIZER_FILES):
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        except Exception:
            tokenizer = None  # fall back to the hash tokenizer; info() says so
    kwargs = (("use_cache", False),) if getattr(module.config, "is_decoder", False) or "gpt" in module.config.model_type else ()
    return Built(module, tokenizer, kwargs, note=own_code_note(path, module))


def own_code_note(path: Path, module: Any) -> str | None:
    """A snapshot that ships its own modelling code (config.json's `auto_map`) but names a model type transformers
    knows is measured with transformers' class for that type: its own code is never run. Said, not silent."""
    import json

    try:
        auto_map = json.loads((path / "config.json").read_text(encoding="utf-8")).get("auto_map")
    except (OSError, ValueError, AttributeError):
        return None
    if not auto_map:
        return None
    theirs = ", ".join(f"{k} -> {v}" for k, v in auto_map.items()) if isinstance(auto_map, dict) else str(auto_map)
    return (f"the snapshot ships its own modelling code (auto_map: {theirs}), which perfsuite never runs: measured with "
            f"transformers' {type(module).__name__} for model_type {module.config.model_type!r}; its figures are that class's, "
            "not the snapshot's own code's")
