"""Decoder LMs as people have them: random init from a transformers config, a local snapshot, a GGUF file,
or a hub id already in the local Hugging Face cache (never a download).

    random init   config.model_type (llama, qwen2, qwen3, mistral, phi3, gemma, ...) -> AutoModelForCausalLM.from_config
    snapshot      a folder with config.json naming a causal-LM architecture -> AutoModelForCausalLM + its tokenizer
    GGUF          a .gguf file -> transformers' GGUF loader (de-quantized to float weights), its tokenizer and chat
                  template; the de-quantized weights are cached (`gguf_cache_dir`) so later runs load in a second
    hub id        resolved at plan time to the cached snapshot folder (HF_HUB_OFFLINE), then as a snapshot

The timed forward of a latency case is the prefill alone (`use_cache=False`); generation goes through
`model.generate` (perfsuite.measure.generation).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perfsuite.config.schema import ModelSpec
from perfsuite.errors import PerfDataError
from perfsuite.models.base import Built
from perfsuite.models.hf import _quiet_transformers, own_code_note
from perfsuite.registry import MODELS

def gguf_cache_dir() -> Path:
    """Where de-quantized GGUF weights are kept: $PERFSUITE_CACHE_DIR, else $XDG_CACHE_HOME/perfsuite, else ~/.cache/perfsuite."""
    root = os.environ.get("PERFSUITE_CACHE_DIR") or os.path.join(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "perfsuite")
    return Path(root) / "gguf"


def _gguf_key(file: Path) -> str:
    import transformers

    st = file.stat()
    ident = f"{file.resolve()}|{st.st_size}|{st.st_mtime_ns}|transformers {transformers.__version__}"
    return f"{file.stem}-{hashlib.sha256(ident.encode()).hexdigest()[:16]}"


@MODELS.register("causal_lm")
def causal_lm(spec: ModelSpec) -> Callable[[], Built]:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    _quiet_transformers()
    if spec.path is None:
        kwargs = spec.config_dict()
        model_type = kwargs.pop("model_type")
        config = AutoConfig.for_model(model_type, **kwargs)
        return lambda: Built(AutoModelForCausalLM.from_config(config), forward_kwargs=(("use_cache", False),))
    path = Path(spec.path)
    if path.is_file():  # validated: a .gguf file
        return lambda: _load_gguf(path, AutoModelForCausalLM, AutoTokenizer)
    return lambda: _load_snapshot(path, AutoModelForCausalLM, AutoTokenizer)


def _load_snapshot(path: Path, auto_model: Any, auto_tokenizer: Any, note: str | None = None) -> Built:
    try:
        module = auto_model.from_pretrained(path, local_files_only=True)
    except Exception as exc:  # transformers/safetensors raise many types for a bad snapshot
        raise PerfDataError(f"cannot load the causal-LM snapshot at {path}: {type(exc).__name__}: {exc}") from None
    try:
        tokenizer = auto_tokenizer.from_pretrained(path, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - said, then the hash tokenizer
        tokenizer = None
        note = "; ".join(filter(None, [note, f"the snapshot's tokenizer did not load ({type(exc).__name__}), so text is hashed into its vocabulary"]))
    note = "; ".join(filter(None, [note, own_code_note(path, module)])) or None
    return Built(module, tokenizer, (("use_cache", False),), note=note)


def _load_gguf(file: Path, auto_model: Any, auto_tokenizer: Any) -> Built:
    """transformers' GGUF loader de-quantizes every tensor (17 s for SmolLM2-135M); the float weights are
    saved once under `gguf_cache_dir()` (keyed by the file's path, size, mtime and transformers' version)."""
    cached = gguf_cache_dir() / _gguf_key(file)
    note = f"GGUF {file.name}, de-quantized to float weights by transformers' GGUF loader"
    if is_gguf_cached(file):
        return _load_snapshot(cached, auto_model, auto_tokenizer, note=f"{note} (cached at {cached})")
    try:
        module = auto_model.from_pretrained(file.parent, gguf_file=file.name, local_files_only=True)
        tokenizer = auto_tokenizer.from_pretrained(file.parent, gguf_file=file.name, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - the loader raises many types
        raise PerfDataError(f"transformers cannot load the GGUF file {file}: {type(exc).__name__}: {exc}") from None
    # The weights are float now: drop the GGUF marker so that the model saves (and is described) as what it is.
    if hasattr(module.config, "quantization_config"):
        del module.config.quantization_config
    module.hf_quantizer, module.is_quantized = None, False
    _save_cache(cached, module, tokenizer)
    return Built(module, tokenizer, (("use_cache", False),), note=note)


def is_gguf_cached(file: str | Path) -> bool:
    """Whether `file`'s de-quantized weights are in the cache (for this file's size, mtime and this transformers)."""
    return (gguf_cache_dir() / _gguf_key(Path(file)) / "config.json").is_file()


def warm_gguf_cache(file: str | Path) -> bool:
    """De-quantize `file` into the cache now (an install step: `tools/run.sh setup` does it for SmolLM2), so that the
    first run does not spend its time there. False when it was cached already."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    file = Path(file)
    if is_gguf_cached(file):
        return False
    _quiet_transformers()
    _load_gguf(file, AutoModelForCausalLM, AutoTokenizer)
    return True


def _save_cache(target: Path, module: Any, tokenizer: Any) -> None:
    """Write beside, then rename: two processes converting the same file never leave half a folder."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError:
        return  # a cache that cannot be written costs the next run time, not this run its result
    try:
        module.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tmp.rename(target)  # fails if another process got there first: theirs is kept
    except Exception:  # noqa: BLE001 - a full disk, a tokenizer that cannot save: no cache, same result
        shutil.rmtree(tmp, ignore_errors=True)
