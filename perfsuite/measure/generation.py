"""Generation metrics of decoder models: TTFT, TPOT / inter-token latency, tokens/s.

`time_generation` runs one HF ``model.generate`` with greedy decoding and
``min_new_tokens == max_new_tokens`` (so every run decodes the same number of
tokens) and timestamps each new token through a streamer: ``generate`` hands every
step's tokens to ``streamer.put`` right after copying them to the host, which waits
for the device; the streamer also calls ``sync()`` (``torch.cuda.synchronize`` on
CUDA) before reading the clock, so each timestamp is a device-complete time.

    t = 0 (generate called) -> token 1 at ttft_s (prefill + first token) -> token i at token_times_s[i-1]
    inter-token latencies = diffs of token_times_s (n - 1 values); tpot_s = their mean
    decode_tokens_per_s = batch x (n - 1) / (token n time - token 1 time); e2e_s = until generate returned
    prefill_tokens_per_s = the prompt's real (unpadded) tokens over the batch / ttft_s

`measure_generation` repeats it (after warm-up runs) and summarises each metric with
`perfsuite.measure.stats.summarize`; inter-token latencies of all runs are pooled.
On MPS, transformers streams tokens one step late; timestamps are then late by a step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perfsuite.errors import PerfConfigError, PerfDataError
from perfsuite.measure.clocks import Timer
from perfsuite.measure.stats import SampleStats, json_float, summarize


@dataclass(frozen=True)
class GenerationTiming:
    """One generate call. Times in seconds from the call to ``generate``."""

    batch_size: int
    prompt_tokens: int
    new_tokens: int
    ttft_s: float
    token_times_s: tuple[float, ...]
    e2e_s: float
    prompt_real_tokens: int = 0  # prompt tokens that are not padding, over the batch (prefill work)

    @property
    def inter_token_s(self) -> tuple[float, ...]:
        ts = self.token_times_s
        return tuple(b - a for a, b in zip(ts, ts[1:]))

    @property
    def decode_s(self) -> float:
        """First token to last token: the decode phase after prefill."""
        return self.token_times_s[-1] - self.token_times_s[0]

    @property
    def tpot_s(self) -> float | None:
        """Mean time per output token after the first (None with a single new token)."""
        return self.decode_s / (self.new_tokens - 1) if self.new_tokens > 1 else None

    @property
    def decode_tokens_per_s(self) -> float | None:
        if self.new_tokens < 2 or self.decode_s <= 0:
            return None
        return self.batch_size * (self.new_tokens - 1) / self.decode_s

    @property
    def prefill_tokens_per_s(self) -> float | None:
        """Prompt tokens (padding left out) over TTFT: the prefill rate users compare."""
        return self.prompt_real_tokens / self.ttft_s if self.prompt_real_tokens and self.ttft_s > 0 else None

    @property
    def e2e_tokens_per_s(self) -> float:
        return self.batch_size * self.new_tokens / self.e2e_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size,
            "prompt_tokens": self.prompt_tokens,
            "new_tokens": self.new_tokens,
            "ttft_s": self.ttft_s,
            "tpot_s": self.tpot_s,
            "decode_tokens_per_s": json_float(self.decode_tokens_per_s),
            "prefill_tokens_per_s": json_float(self.prefill_tokens_per_s),
            "e2e_s": self.e2e_s,
            "e2e_tokens_per_s": json_float(self.e2e_tokens_per_s),
            "token_times_s": list(self.token_times_s),
        }


def _device_sync(model: Any) -> Callable[[], None]:
    try:
        device = next(model.parameters()).device
    except (StopIteration, AttributeError):
        return lambda: None
    from perfsuite.measure.sync import synchronizer

    return synchronizer(str(device))  # cuda:N waits for that GPU, mps for the Mac's; nothing on the CPU


def _token_streamer(timer: Timer, sync: Callable[[], None]) -> Any:
    from transformers.generation.streamers import BaseStreamer  # lazy

    class _Stamps(BaseStreamer):  # type: ignore[misc]
        """First put() is the prompt; every later put() is one decoding step."""

        def __init__(self) -> None:
            self.prompt_seen = False
            self.stamps: list[int] = []

        def put(self, value: Any) -> None:
            sync()
            now = timer()
            if not self.prompt_seen:
                self.prompt_seen = True
                return
            self.stamps.append(now)

        def end(self) -> None:
            pass

    return _Stamps()


def _check_new_tokens(max_new_tokens: int) -> None:
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise PerfConfigError(
            "must be a whole number >= 1", key="infer.max_new_tokens", value=max_new_tokens, allowed="integers >= 1"
        )


def pad_token_id(model: Any) -> int:
    """The id generate pads finished rows with: the model's pad token, else its (first) EOS token, else 0."""
    gen_cfg = getattr(model, "generation_config", None)
    pad = getattr(gen_cfg, "pad_token_id", None)
    if pad is None:
        pad = getattr(gen_cfg, "eos_token_id", None)
    if isinstance(pad, (list, tuple)):
        pad = pad[0] if pad else None
    return int(pad) if pad is not None else 0


def time_generation(
    model: Any,
    inputs: Mapping[str, Any],
    *,
    max_new_tokens: int,
    sync: Callable[[], None] | None = None,
    timer: Timer = time.perf_counter_ns,
    on_output: Callable[[Any], None] | None = None,
    generate_kwargs: Mapping[str, Any] | None = None,
) -> GenerationTiming:
    """One greedy ``model.generate(**inputs)`` producing exactly ``max_new_tokens`` tokens, timed per token.

    With ``on_output``, generate returns its dict output (sequences, past_key_values), handed to ``on_output``
    once the clock has stopped (and dropped after: holding a KV cache would inflate the next call's memory).
    """
    _check_new_tokens(max_new_tokens)
    if "input_ids" not in inputs:
        raise PerfDataError(f"generation inputs need 'input_ids'; got keys {sorted(inputs)}")
    sync = sync if sync is not None else _device_sync(model)
    input_ids = inputs["input_ids"]
    batch, prompt = int(input_ids.shape[0]), int(input_ids.shape[-1])
    pad = pad_token_id(model)
    mask = inputs.get("attention_mask")
    real = int(mask.sum()) if mask is not None else batch * prompt
    streamer = _token_streamer(timer, sync)
    extra = {**(generate_kwargs or {}), **({"return_dict_in_generate": True} if on_output is not None else {})}
    sync()
    t0 = timer()
    out = model.generate(
        **inputs,
        **extra,
        do_sample=False,
        num_beams=1,
        max_new_tokens=max_new_tokens,
        min_new_tokens=max_new_tokens,
        pad_token_id=pad,
        streamer=streamer,
    )
    sync()
    t_end = timer()
    if on_output is not None:
        on_output(out)
    del out
    stamps = streamer.stamps
    if len(stamps) != max_new_tokens:
        raise PerfDataError(
            f"generate produced {len(stamps)} decoding steps, expected max_new_tokens={max_new_tokens}; "
            "the model stopped early (check eos_token_id is inside the vocabulary so min_new_tokens can hold it back)"
        )
    times = tuple((s - t0) * 1e-9 for s in stamps)
    return GenerationTiming(
        batch_size=batch,
        prompt_tokens=prompt,
        new_tokens=max_new_tokens,
        ttft_s=times[0],
        token_times_s=times,
        e2e_s=(t_end - t0) * 1e-9,
        prompt_real_tokens=real,
    )


@dataclass(frozen=True)
class GeneratedOutput:
    """What one generate call produced: the first row's new tokens and the KV cache it ended with."""

    first_row_tokens: tuple[int, ...]
    kv_cache_bytes: int | None  # bytes the returned cache's tensors hold (perfsuite.measure.kv_cache); None: no cache returned


def generated_output(out: Any, inputs: Mapping[str, Any]) -> GeneratedOutput:
    from perfsuite.measure.kv_cache import measured_kv_cache_bytes

    prompt = int(inputs["input_ids"].shape[-1])
    sequences = getattr(out, "sequences", None)
    tokens = tuple(int(t) for t in sequences[0, prompt:].tolist()) if sequences is not None else ()
    keys = out.keys() if callable(getattr(out, "keys", None)) else ()
    cache = next((out[k] for k in ("cache", "past_key_values") if k in keys), None)  # "cache" from transformers 5.x
    try:
        kv = measured_kv_cache_bytes(cache) if cache is not None else None
    except (TypeError, ValueError, AttributeError):  # a cache class perfsuite does not know: unmeasured, not wrong
        kv = None
    return GeneratedOutput(tokens, kv)


@dataclass(frozen=True)
class GenerationMeasurement:
    """Repeated `time_generation` runs with statistics per metric (seconds, tokens/s)."""

    runs: tuple[GenerationTiming, ...]
    warmup_runs: int
    ttft: SampleStats
    tpot: SampleStats | None
    inter_token: SampleStats | None
    e2e: SampleStats
    decode_tokens_per_s: SampleStats | None
    prefill_tokens_per_s: SampleStats | None = None
    output: GeneratedOutput | None = None  # from the memory pass's call
    prefill_memory: Any = None  # perfsuite.results.case.MemoryResult of the prefill alone (the case's memory: whole calls)

    def to_extra_info(self, *, include_runs: bool = True) -> dict[str, Any]:
        def d(s: SampleStats | None) -> dict[str, object] | None:
            return None if s is None else s.to_dict()

        out: dict[str, Any] = {
            "schema_version": 1,
            "kind": "generation",
            "warmup_runs": self.warmup_runs,
            "n_runs": len(self.runs),
            "new_tokens": self.runs[0].new_tokens,
            "batch_size": self.runs[0].batch_size,
            "prompt_tokens": self.runs[0].prompt_tokens,
            "ttft": d(self.ttft),
            "tpot": d(self.tpot),
            "inter_token": d(self.inter_token),
            "e2e": d(self.e2e),
            "decode_tokens_per_s": d(self.decode_tokens_per_s),
            "prefill_tokens_per_s": d(self.prefill_tokens_per_s),
        }
        if include_runs:
            out["runs"] = [r.to_dict() for r in self.runs]
        return out


def _maybe(values: Sequence[float | None]) -> SampleStats | None:
    kept = [v for v in values if v is not None]
    return summarize(kept) if kept else None


def measure_generation(
    model: Any,
    inputs: Mapping[str, Any],
    *,
    max_new_tokens: int,
    runs: int = 11,
    warmup_runs: int = 1,
    sync: Callable[[], None] | None = None,
    timer: Timer = time.perf_counter_ns,
    generate_kwargs: Mapping[str, Any] | None = None,
) -> GenerationMeasurement:
    """``warmup_runs`` untimed + ``runs`` timed generate calls. 11 runs establish the medians."""
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise PerfConfigError("must be a whole number >= 1", key="generation.runs", value=runs)
    if isinstance(warmup_runs, bool) or not isinstance(warmup_runs, int) or warmup_runs < 0:
        raise PerfConfigError("must be a whole number >= 0", key="generation.warmup_runs", value=warmup_runs)
    for _ in range(warmup_runs):
        time_generation(model, inputs, max_new_tokens=max_new_tokens, sync=sync, timer=timer, generate_kwargs=generate_kwargs)
    timings = tuple(
        time_generation(model, inputs, max_new_tokens=max_new_tokens, sync=sync, timer=timer, generate_kwargs=generate_kwargs)
        for _ in range(runs)
    )
    return GenerationMeasurement(
        runs=timings,
        warmup_runs=warmup_runs,
        ttft=summarize([t.ttft_s for t in timings]),
        tpot=_maybe([t.tpot_s for t in timings]),
        inter_token=_maybe([x for t in timings for x in t.inter_token_s]),
        e2e=summarize([t.e2e_s for t in timings]),
        decode_tokens_per_s=_maybe([t.decode_tokens_per_s for t in timings]),
        prefill_tokens_per_s=_maybe([t.prefill_tokens_per_s for t in timings]),
    )
