"""The KV cache of a decoder: its size computed from the model's config, and the bytes a cache object holds.

    kv_cache_bytes(config, batch_size=2, seq_len=7, dtype_bytes=2) -> KVCacheSize   (pure; no torch)
    measured_kv_cache_bytes(cache) -> int    (a transformers Cache, or a legacy tuple of (k, v) pairs)

The computed size is 2 (K and V) x layers x batch x kv_heads x head_dim x seq_len x dtype_bytes, with
kv_heads = ``num_key_value_heads`` (grouped-query attention; ``num_attention_heads`` when absent) and
head_dim = ``head_dim`` when the config has one, else ``hidden_size // num_attention_heads``.

Sliding windows are *not* applied to the bytes (the result records them). transformers' DynamicCache
(5.x) keeps a sliding layer's keys as a view of its last ``sliding_window - 1`` positions, but that view
keeps the whole concatenated tensor alive: after a prefill of any length the layer holds every position,
and only decoding past the window brings it down to ``sliding_window`` positions. The computed figure is
therefore exact for a prefill and whenever seq_len <= sliding_window, and an upper bound beyond.

Only model types whose cache layout has been checked against `measured_kv_cache_bytes` are accepted
(`SUPPORTED`); anything else (an encoder, an encoder-decoder, a decoder with latent or shared KV or
linear attention) raises `PerfDataError` rather than returning a number that may be wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from perfsuite.errors import PerfDataError

#: Decoder model types (of the text config) whose KV cache is the plain per-layer K and V tensors of
#: [batch, kv_heads, seq_len, head_dim] (tests/test_kv_cache.py checks each against a real forward).
SUPPORTED = ("gpt2", "llama", "mistral", "qwen2", "qwen3", "phi3", "gemma", "gemma2", "gemma3_text")
#: layer_types entries transformers' DynamicCache gives a sliding-window layer.
SLIDING_TYPES = ("sliding_attention", "chunked_attention")


@dataclass(frozen=True)
class KVCacheSize:
    """The KV cache of `batch_size` sequences of `seq_len` positions, and the config values it came from."""

    model_type: str
    layers: int
    kv_heads: int
    head_dim: int
    batch_size: int
    seq_len: int
    dtype_bytes: int
    sliding_window: int | None = None  # the window of the sliding-attention layers, if any: recorded, not applied
    sliding_layers: int = 0

    @property
    def per_token_bytes(self) -> int:
        """K and V of one position of one sequence, over every layer."""
        return 2 * self.layers * self.kv_heads * self.head_dim * self.dtype_bytes

    @property
    def bytes(self) -> int:
        return self.per_token_bytes * self.batch_size * self.seq_len

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "per_token_bytes": self.per_token_bytes, "bytes": self.bytes}


def text_config(config: Any) -> Any:
    """The decoder's config inside a multimodal one (``get_text_config``); the config itself otherwise."""
    get = getattr(config, "get_text_config", None)
    if get is None:
        return config
    try:
        return get(decoder=True)
    except TypeError:  # transformers versions whose get_text_config takes no `decoder`
        return get()


def kv_cache_bytes(config: Any, *, batch_size: int, seq_len: int, dtype_bytes: int) -> KVCacheSize:
    """The KV cache a decoder built from `config` (a transformers PretrainedConfig) holds for a batch.

    Raises PerfDataError for a config whose cache layout is not known to be the plain one (see `SUPPORTED`)
    and ValueError for a batch size, length or element size that is not a whole number in range.
    """
    for name, value, least in (("batch_size", batch_size, 1), ("seq_len", seq_len, 0), ("dtype_bytes", dtype_bytes, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"kv_cache_bytes: {name} must be an int >= {least}, got {value!r}")
    text = text_config(config)
    model_type = str(getattr(text, "model_type", "") or type(text).__name__)
    if model_type not in SUPPORTED:
        raise PerfDataError(
            f"kv_cache_bytes: no known KV cache layout for model type {model_type!r} ({type(config).__name__}). "
            f"Supported decoders: {', '.join(SUPPORTED)}. An encoder keeps no KV cache; other decoders may cache "
            "differently (latent, shared or compressed KV, linear attention): measure a forward's cache with "
            "measured_kv_cache_bytes, and add the type to perfsuite.measure.kv_cache.SUPPORTED once the two agree"
        )
    if getattr(text, "add_cross_attention", False) or getattr(text, "is_encoder_decoder", False):
        raise PerfDataError(
            f"kv_cache_bytes: this {model_type} config adds cross-attention, whose cache (the encoder's keys and "
            "values) this formula does not count: use measured_kv_cache_bytes on a forward's cache instead"
        )
    layers = _positive(text, "num_hidden_layers", model_type)
    heads = _positive(text, "num_attention_heads", model_type)
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    head_dim = getattr(text, "head_dim", None)
    if not head_dim:
        hidden = _positive(text, "hidden_size", model_type)
        if hidden % heads:
            raise PerfDataError(f"kv_cache_bytes: {model_type} config has no head_dim and hidden_size {hidden} is not a multiple of num_attention_heads {heads}")
        head_dim = hidden // heads
    window, sliding = _sliding(text, layers)
    return KVCacheSize(model_type, layers, int(kv_heads), int(head_dim), batch_size, seq_len, dtype_bytes, window, sliding)


def _positive(config: Any, key: str, model_type: str) -> int:
    value = getattr(config, key, None)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PerfDataError(f"kv_cache_bytes: {model_type} config has no usable {key} (got {value!r}): a decoder config needs a positive int there")
    return value


def _sliding(config: Any, layers: int) -> tuple[int | None, int]:
    """(window, number of sliding layers), as transformers' DynamicCache assigns them: `layer_types` when
    the config has it, else every layer when `sliding_window` is set (Mistral)."""
    window = getattr(config, "sliding_window", None)
    if not window:
        return None, 0
    types = getattr(config, "layer_types", None)
    sliding = layers if types is None else sum(1 for t in types if t in SLIDING_TYPES)
    return (int(window), sliding) if sliding else (None, 0)


def measured_kv_cache_bytes(cache: Any) -> int:
    """The bytes a KV cache holds: its K and V tensors' storages, each distinct storage counted once.

    `cache`: a transformers ``Cache`` (``layers`` with ``keys``/``values``, as in DynamicCache and
    StaticCache; ``key_cache``/``value_cache`` lists in older versions; an EncoderDecoderCache counts
    both of its caches) or a legacy tuple of (k, v) tuples. Whole storages are counted, not views: a
    sliding layer's view of its last positions keeps the full tensor alive, and that is what it holds.
    """
    seen: set[tuple[str, int]] = set()
    total = 0
    for tensor in _kv_tensors(cache):
        if tensor.device.type == "meta":
            continue
        storage = tensor.untyped_storage()
        key = (str(tensor.device), storage.data_ptr())
        if key not in seen:
            seen.add(key)
            total += storage.nbytes()
    return total


def _kv_tensors(cache: Any) -> Iterator[Any]:
    import torch

    if cache is None:
        return
    if isinstance(cache, torch.Tensor):
        yield cache
    elif isinstance(cache, (tuple, list)):
        for item in cache:
            yield from _kv_tensors(item)
    elif hasattr(cache, "self_attention_cache"):  # EncoderDecoderCache
        yield from _kv_tensors(cache.self_attention_cache)
        yield from _kv_tensors(getattr(cache, "cross_attention_cache", None))
    elif hasattr(cache, "layers"):  # transformers >= 4.56: one layer object per decoder layer
        for layer in cache.layers:
            yield from _kv_tensors((getattr(layer, "keys", None), getattr(layer, "values", None)))
    elif hasattr(cache, "key_cache") and hasattr(cache, "value_cache"):  # older DynamicCache / StaticCache
        yield from _kv_tensors((cache.key_cache, cache.value_cache))
    else:
        raise TypeError(
            f"measured_kv_cache_bytes: {type(cache).__name__} is not a KV cache: pass a transformers Cache "
            "(the model output's `cache`, or `past_key_values` in older versions) or a tuple of (key, value) tensors"
        )
