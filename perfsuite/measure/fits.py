"""Will a case fit? Its memory estimated before its model is built, against what the device has free.

    estimate = weights + activations (+ KV cache when the case generates)

Weights are counted exactly: a random-init model is built on torch's meta device (shapes, no storage),
a snapshot by its weight files, a GGUF file by its tensors' elements; all at the case's precision.
Activations are a lower bound: the two largest tensors one forward must hold at once (the LM head's
logits, an attention score matrix, an MLP's hidden state, or an image model's first feature map),
so an estimate never says a case cannot fit when it could; it catches the batch sizes that are
orders of magnitude too large (bs 4096 of a full-size model under an 8 GB limit) before they take
the machine's memory. What the estimate misses, the allocator reports, and that is an `oom` too.

Free memory on CPU: the smaller of MemAvailable and the cgroup's limit minus its usage (a container's
limit is what kills the process); on CUDA: torch.cuda.mem_get_info.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfsuite.config.schema import Case

DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
MARGIN = 0.10  # the estimate must fit in 90% of what is free


@dataclass(frozen=True)
class Estimate:
    weights_bytes: int
    activation_bytes: int
    kv_cache_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.activation_bytes + self.kv_cache_bytes

    def describe(self) -> str:
        gib = 1024**3
        parts = f"weights {self.weights_bytes / gib:.2f} GiB + activations >= {self.activation_bytes / gib:.2f} GiB"
        if self.kv_cache_bytes:
            parts += f" + KV cache {self.kv_cache_bytes / gib:.2f} GiB"
        return f"{self.total_bytes / gib:.2f} GiB ({parts})"


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def free_host_bytes() -> int | None:
    """MemAvailable, capped by the cgroup v2 (or v1) limit minus usage; None when neither can be read."""
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 1 << 60:  # "max" or v1's huge number: no limit
            found.append(max(0, limit - usage))
            break
    return min(found) if found else None


def free_device_bytes(device: str) -> int | None:
    if device == "cpu":
        return free_host_bytes()
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    return None  # MPS shares host memory without a query perfsuite trusts


# GGUF header keys (after "<architecture>.") -> transformers config keys
_GGUF_KEYS = {"embedding_length": "hidden_size", "attention.head_count": "num_attention_heads", "feed_forward_length": "intermediate_size",
              "vocab_size": "vocab_size", "block_count": "num_hidden_layers"}


def _config_dict(case: Case) -> dict[str, Any]:
    spec = case.model
    if spec.path and Path(spec.path).is_file():
        from perfsuite.config.gguf_header import read_gguf_header

        header = read_gguf_header(spec.path)
        return {_GGUF_KEYS[k]: v for k, v in header.shape if k in _GGUF_KEYS} | {"vocab_size": header.vocab_size or 0}
    if spec.path and Path(spec.path).is_dir():
        try:
            data = json.loads((Path(spec.path) / "config.json").read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}
    return spec.config_dict()


def _weights_bytes(case: Case, built: Any | None) -> int:
    """Parameters at the case's precision: counted on the meta device, or from the snapshot's files."""
    spec, per = case.model, DTYPE_BYTES.get(case.weights_precision, 4)
    if spec.path and Path(spec.path).is_file():  # GGUF: de-quantized to float, so its elements count
        from perfsuite.config.gguf_header import read_gguf_header

        return read_gguf_header(spec.path).elements * per
    if spec.path:
        files = [p for p in Path(spec.path).iterdir() if p.suffix in (".safetensors", ".bin", ".pt", ".pth")]
        stored = sum(p.stat().st_size for p in files)
        return stored * per // 4 if stored else 0  # float32 files; a bf16 snapshot under fp32 is under-counted (a lower bound)
    if built is None:
        return 0
    import torch

    with torch.device("meta"):
        module = built().module
    return sum(p.numel() for p in module.parameters()) * per


def _activation_bytes(case: Case, cfg: dict[str, Any]) -> int:
    """The two largest tensors one forward holds at once, as a lower bound."""
    bs, per = case.batch_size, DTYPE_BYTES.get(case.precision, 4)
    if case.model.modality == "image":
        size = case.model.preprocess.image_size if case.model.preprocess else 224
        first = int(cfg.get("embedding_size") or 64)  # the stem's channels at half resolution
        return 2 * bs * first * (size // 2) ** 2 * per
    seq = case.config.infer.seq_len
    hidden = int(cfg.get("hidden_size") or cfg.get("n_embd") or cfg.get("dim") or 0)
    heads = int(cfg.get("num_attention_heads") or cfg.get("n_head") or 0)
    inner = int(cfg.get("intermediate_size") or cfg.get("n_inner") or cfg.get("hidden_dim") or 4 * hidden)
    vocab = int(cfg.get("vocab_size") or 0) if case.model.generative else 0
    tensors = sorted((bs * seq * vocab, bs * heads * seq * seq, bs * seq * inner, bs * seq * hidden), reverse=True)
    return (tensors[0] + tensors[1]) * per


def estimate_case(case: Case, built: Any | None = None, *, weights: bool = True) -> Estimate:
    """The case's memory before building it; `built` is the model factory's zero-argument builder (for the meta count).
    ``weights=False``: the model is built already (its weights are in use, not free)."""
    cfg = _config_dict(case)
    kv = 0
    new_tokens = max((case.max_new_tokens, *case.config.infer.output_lens)) if case.output_len is None else case.max_new_tokens
    if case.model.generative and new_tokens > 0 and cfg:
        from perfsuite.errors import PerfDataError
        from perfsuite.measure.kv_cache import kv_cache_bytes

        try:
            from transformers import AutoConfig

            config = AutoConfig.for_model(**cfg) if "model_type" in cfg else None
            if config is not None:
                kv = kv_cache_bytes(config, batch_size=case.batch_size, seq_len=case.config.infer.seq_len + new_tokens,
                                    dtype_bytes=DTYPE_BYTES.get(case.precision, 4)).bytes
        except (PerfDataError, ValueError, TypeError, KeyError):
            kv = 0
    return Estimate(_weights_bytes(case, built) if weights else 0, _activation_bytes(case, cfg), kv)


def does_not_fit(case: Case, free: int | None, built: Any | None = None, *, weights: bool = True) -> str | None:
    """Why `case` cannot fit in `free` bytes with the margin (its estimate), else None."""
    if free is None:
        return None
    estimate = estimate_case(case, built, weights=weights)
    if estimate.total_bytes <= (1 - MARGIN) * free:
        return None
    return (f"estimated {estimate.describe()} before building, more than {1 - MARGIN:.0%} of the "
            f"{free / 1024**3:.2f} GiB free on {case.device}; lower the batch size or infer.seq_len")
