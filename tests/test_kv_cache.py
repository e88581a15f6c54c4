"""The KV cache computed from a config against the bytes a real forward's cache holds (tiny random models)."""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import pytest

from perfsuite.errors import PerfDataError
from perfsuite.measure.kv_cache import SUPPORTED, KVCacheSize, kv_cache_bytes, measured_kv_cache_bytes

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

BATCH, SEQ, VOCAB = 2, 7, 64
COMMON = {"vocab_size": VOCAB, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "max_position_embeddings": 64}

# (config, model class, the kv_heads and head_dim the config means, written out by hand)
MODELS = {
    "gpt2": (lambda: transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, n_positions=64, vocab_size=VOCAB, bos_token_id=0, eos_token_id=0), "GPT2LMHeadModel", 2, 16),
    "llama_gqa": (lambda: transformers.LlamaConfig(**COMMON, num_attention_heads=4, num_key_value_heads=2), "LlamaForCausalLM", 2, 8),
    "qwen2": (lambda: transformers.Qwen2Config(**COMMON, num_attention_heads=4, num_key_value_heads=2), "Qwen2ForCausalLM", 2, 8),
    "qwen3": (lambda: transformers.Qwen3Config(**COMMON, num_attention_heads=4, num_key_value_heads=2, head_dim=16), "Qwen3ForCausalLM", 2, 16),
    "mistral": (lambda: transformers.MistralConfig(**COMMON, num_attention_heads=4, num_key_value_heads=1), "MistralForCausalLM", 1, 8),
    "phi3": (lambda: transformers.Phi3Config(**COMMON, num_attention_heads=4, num_key_value_heads=2, pad_token_id=0), "Phi3ForCausalLM", 2, 8),
    "gemma": (lambda: transformers.GemmaConfig(**COMMON, num_attention_heads=4, num_key_value_heads=1, head_dim=16), "GemmaForCausalLM", 1, 16),
    "gemma2": (lambda: transformers.Gemma2Config(**COMMON, num_attention_heads=4, num_key_value_heads=2, head_dim=16), "Gemma2ForCausalLM", 2, 16),
    "gemma3_text": (lambda: transformers.Gemma3TextConfig(**COMMON, num_attention_heads=4, num_key_value_heads=2, head_dim=16), "Gemma3ForCausalLM", 2, 16),
}


def build(name: str, dtype: Any) -> Any:
    make_config, cls, _, _ = MODELS[name]
    torch.manual_seed(0)
    return getattr(transformers, cls)(make_config()).eval().to(dtype)


def cache_of(output: Any) -> Any:
    """The returned cache: `cache` in transformers 5, `past_key_values` before."""
    found = output.get("cache", None)
    return output["past_key_values"] if found is None else found


def step(model: Any, ids: Any, cache: Any = None) -> Any:
    """One forward with the cache (the keyword is `cache` in transformers 5, `past_key_values` before)."""
    keyword = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    with torch.inference_mode():
        return cache_of(model(input_ids=ids, use_cache=True, **({keyword: cache} if cache is not None else {})))


def ids(seq: int, seed: int = 1) -> Any:
    return torch.randint(1, VOCAB, (BATCH, seq), generator=torch.Generator().manual_seed(seed))


def test_every_supported_type_is_checked_here():
    assert set(SUPPORTED) == {make().model_type for make, *_ in MODELS.values()}


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("name", list(MODELS))
def test_computed_equals_the_bytes_a_forward_cache_holds_prefill_then_decode(name, dtype):
    torch_dtype = getattr(torch, dtype)
    model = build(name, torch_dtype)
    _, _, kv_heads, head_dim = MODELS[name]
    elem = torch.tensor([], dtype=torch_dtype).element_size()

    size = kv_cache_bytes(model.config, batch_size=BATCH, seq_len=SEQ, dtype_bytes=elem)
    assert (size.layers, size.kv_heads, size.head_dim) == (2, kv_heads, head_dim)
    assert size.bytes == 2 * 2 * BATCH * kv_heads * head_dim * SEQ * elem

    cache = step(model, ids(SEQ))
    assert measured_kv_cache_bytes(cache) == size.bytes
    cache = step(model, ids(1, seed=2), cache)  # one decoding step: one more position per sequence
    assert measured_kv_cache_bytes(cache) == kv_cache_bytes(model.config, batch_size=BATCH, seq_len=SEQ + 1, dtype_bytes=elem).bytes


def test_known_figures_of_full_size_configs():
    """Llama-2-7B: 0.5 MiB per token in fp16 (32 layers x 32 heads x 128); Mistral-7B: 128 KiB (8 KV heads)."""
    llama = kv_cache_bytes(transformers.LlamaConfig(), batch_size=1, seq_len=4096, dtype_bytes=2)
    assert llama.per_token_bytes == 512 * 1024 and llama.bytes == 2 * 1024**3
    mistral = kv_cache_bytes(transformers.MistralConfig(), batch_size=4, seq_len=1000, dtype_bytes=2)
    assert mistral.per_token_bytes == 128 * 1024 and mistral.bytes == 4 * 1000 * 128 * 1024
    assert (mistral.sliding_window, mistral.sliding_layers) == (4096, 32)
    gpt2 = kv_cache_bytes(transformers.GPT2Config(), batch_size=1, seq_len=1, dtype_bytes=4)
    assert gpt2.per_token_bytes == 2 * 12 * 768 * 4 and gpt2.sliding_window is None
    assert gpt2.to_dict() == {
        "model_type": "gpt2", "layers": 12, "kv_heads": 12, "head_dim": 64, "batch_size": 1, "seq_len": 1, "dtype_bytes": 4,
        "sliding_window": None, "sliding_layers": 0, "per_token_bytes": 73728, "bytes": 73728,
    }  # fmt: skip


def test_a_sliding_window_is_recorded_not_applied_the_cache_keeps_the_prefill():
    """Mistral with a window of 4: the cache's view is the last 3 positions, but after the prefill it holds all
    7; one decoding step later it holds the window's 4. The computed figure is exact for the prefill."""
    torch.manual_seed(0)
    config = transformers.MistralConfig(**COMMON, num_attention_heads=4, num_key_value_heads=1, sliding_window=4)
    model = transformers.MistralForCausalLM(config).eval()
    size = kv_cache_bytes(config, batch_size=BATCH, seq_len=SEQ, dtype_bytes=4)
    assert (size.sliding_window, size.sliding_layers) == (4, 2)
    cache = step(model, ids(SEQ))
    assert measured_kv_cache_bytes(cache) == size.bytes
    cache = step(model, ids(1, seed=2), cache)
    assert measured_kv_cache_bytes(cache) == kv_cache_bytes(config, batch_size=BATCH, seq_len=4, dtype_bytes=4).bytes < size.bytes
    hybrid = kv_cache_bytes(MODELS["gemma2"][0](), batch_size=1, seq_len=1, dtype_bytes=2)
    assert (hybrid.sliding_window, hybrid.sliding_layers) == (4096, 1)  # layer_types: sliding, full


def test_static_cache_holds_its_whole_length():
    model = build("llama_gqa", torch.float32)
    static = transformers.StaticCache(config=model.config, max_cache_len=16)
    step(model, ids(SEQ), static)
    assert measured_kv_cache_bytes(static) == kv_cache_bytes(model.config, batch_size=BATCH, seq_len=16, dtype_bytes=4).bytes


def test_multimodal_configs_use_their_text_decoder():
    text = MODELS["llama_gqa"][0]()
    llava = transformers.LlavaConfig(text_config=text.to_dict())
    assert kv_cache_bytes(llava, batch_size=2, seq_len=5, dtype_bytes=2) == kv_cache_bytes(text, batch_size=2, seq_len=5, dtype_bytes=2)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (lambda: transformers.BertConfig(), ["'bert'", "BertConfig", "Supported decoders: gpt2, llama", "An encoder keeps no KV cache", "SUPPORTED"]),
        (lambda: transformers.T5Config(), ["'t5'", "measured_kv_cache_bytes"]),
        (lambda: transformers.GPT2Config(add_cross_attention=True), ["adds cross-attention", "measured_kv_cache_bytes"]),
        # transformers validates its own configs; a hand-made one can still be inconsistent
        (lambda: SimpleNamespace(model_type="qwen2", num_hidden_layers=2, num_attention_heads=4, hidden_size=30), ["no head_dim", "hidden_size 30", "not a multiple"]),
        (lambda: SimpleNamespace(model_type="llama", num_attention_heads=4, hidden_size=32), ["no usable num_hidden_layers", "got None"]),
    ],
)
def test_unknown_or_unsupported_configs_say_why(config, expected):
    with pytest.raises(PerfDataError) as info:
        kv_cache_bytes(config(), batch_size=1, seq_len=1, dtype_bytes=2)
    assert all(part in str(info.value) for part in expected), str(info.value)


@pytest.mark.parametrize(("kwargs", "name"), [({"batch_size": 0}, "batch_size"), ({"seq_len": -1}, "seq_len"), ({"dtype_bytes": True}, "dtype_bytes")])
def test_bad_sizes_are_refused(kwargs, name):
    with pytest.raises(ValueError, match=f"{name} must be an int"):
        kv_cache_bytes(transformers.GPT2Config(), **{"batch_size": 1, "seq_len": 1, "dtype_bytes": 2, **kwargs})


def test_measured_counts_each_storage_once_and_refuses_what_is_not_a_cache():
    kv = torch.zeros(2, 2, 5, 4)  # K and V as two views of one tensor: its storage is counted once
    assert measured_kv_cache_bytes(((kv[0], kv[1]), (torch.zeros(3), None))) == kv.nbytes + 12
    assert measured_kv_cache_bytes(((kv[0][:, :2], kv[0]),)) == kv.nbytes  # a view keeps its whole storage alive
    assert measured_kv_cache_bytes(None) == 0 and isinstance(kv_cache_bytes(transformers.GPT2Config(), batch_size=1, seq_len=0, dtype_bytes=2), KVCacheSize)
    with pytest.raises(TypeError, match="dict is not a KV cache"):
        measured_kv_cache_bytes({"keys": kv})
