"""The model adapter: one object that knows how to build, feed and describe a model.

    prepare_input(samples) -> dict of tensors on the model's device (done before timing)
    forward(inputs)        -> the model call that is timed (eval mode, inference_mode)
    info()                 -> ModelInfo(name, params, dtype, device, ...)
    to(device)             -> move weights
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from perfsuite.config.schema import ModelSpec
from perfsuite.measure.sync import synchronize
from perfsuite.models.tokenize import TokenizedBatch, pad_batch, tokenize
from perfsuite.registry import MODELS

DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


@dataclass(frozen=True)
class ModelInfo:
    name: str
    adapter: str
    modality: str
    params: int
    dtype: str
    device: str
    weights: str  # "random (from config)" or the snapshot path
    tokenizer: str | None  # tokenizer class, "hash", or None for image models
    memory_format: str = "contiguous_format"  # channels_last when inference_runtime.channels_last
    note: str | None = None  # what the user should know about what was built (e.g. a snapshot's own code left unused)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Built:
    """What a registered model factory returns."""

    module: Any  # torch.nn.Module
    tokenizer: Any = None  # a transformers tokenizer, or None
    forward_kwargs: tuple[tuple[str, Any], ...] = ()  # fixed extra kwargs, e.g. use_cache=False
    note: str | None = None  # shown with the case's results (ModelInfo.note)


def row_lengths(rows: int, seq_len: int, spread: float) -> list[int]:
    """Each row's prompt length: all `seq_len`, or (spread > 0) evenly from seq_len down to (1 - spread) x seq_len,
    so a batch mixes long and short prompts the same way in every run (no random draw to differ between runs)."""
    if spread <= 0 or rows < 2:
        return [seq_len] * rows
    shortest = max(1, round(seq_len * (1 - spread)))
    return [round(seq_len - (seq_len - shortest) * i / (rows - 1)) for i in range(rows)]


class ModelAdapter(Protocol):
    spec: ModelSpec

    def prepare_input(self, samples: Sequence[Any], *, seq_len: int) -> dict[str, Any]: ...
    def forward(self, inputs: dict[str, Any]) -> Any: ...
    def info(self) -> ModelInfo: ...
    def to(self, device: str) -> ModelAdapter: ...


class TransformersModel:
    """Adapter over a transformers module (text: token ids + mask; image: pixel_values)."""

    def __init__(self, spec: ModelSpec, built: Built, precision: str = "fp32", *, channels_last: bool = False) -> None:
        import torch

        self.spec = spec
        self.module = built.module.eval()
        self.tokenizer = built.tokenizer
        self._kwargs = dict(built.forward_kwargs)
        self.note = built.note
        self.dtype = getattr(torch, DTYPES[precision])
        self.module.to(self.dtype)
        # Image models only (the matrix leaves text models with channels_last out): 4-D weights and
        # the pixel inputs prepared below in NHWC order.
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if channels_last:
            self.module.to(memory_format=torch.channels_last)
        self.device = "cpu"
        self.last_truncated = 0
        self.last_real_tokens = 0
        self.load_s = 0.0

    @property
    def vocab_size(self) -> int:
        cfg = self.module.config
        return int(getattr(cfg, "vocab_size", 0) or 0)

    def to(self, device: str) -> TransformersModel:
        self.module.to(device)
        self.device = device
        return self

    def prepare_input(self, samples: Sequence[Any], *, seq_len: int, spread: float = 0.0) -> dict[str, Any]:
        """The model's inputs for `samples`; text rows are `seq_len` wide. With `spread` > 0 the rows' prompt lengths
        differ (row_lengths: from seq_len down to (1 - spread) x seq_len), padding on the right (generate moves it left)."""
        import torch

        if self.spec.modality == "text":
            lengths = row_lengths(len(samples), seq_len, spread)
            batch = self._chat_batch(samples, lengths) or tokenize(samples, seq_len, self.tokenizer, self.vocab_size, lengths=lengths)
            self.last_truncated = batch.truncated
            self.last_real_tokens = batch.real_tokens
            return {
                "input_ids": torch.tensor(batch.input_ids, dtype=torch.long, device=self.device),
                "attention_mask": torch.tensor(batch.attention_mask, dtype=torch.long, device=self.device),
            }
        from perfsuite.data.images import preprocess_images

        assert self.spec.preprocess is not None  # validated: image models have preprocess
        pixels = preprocess_images(samples, self.spec.preprocess)
        tensor = torch.from_numpy(pixels).to(device=self.device, dtype=self.dtype)
        return {"pixel_values": tensor.contiguous(memory_format=self.memory_format)}

    def _chat_batch(self, samples: Sequence[Any], lengths: Sequence[int]) -> TokenizedBatch | None:
        """Chat prompts rendered with the model's chat template, row i at lengths[i] tokens; None for plain text."""
        from perfsuite.data.chat import ChatPrompt

        if not samples or not isinstance(samples[0], ChatPrompt):
            return None
        from perfsuite.models.chat_render import render_chat

        rows, cut = [], 0
        for sample, length in zip(samples, lengths):
            ids, was_cut = render_chat(sample, self.tokenizer, length, model=self.spec.id)
            rows.append(ids)
            cut += was_cut
        pad = getattr(self.tokenizer, "pad_token_id", None)
        if pad is None:
            pad = getattr(self.tokenizer, "eos_token_id", None) or 0
        batch = pad_batch(rows, max(lengths), int(pad))
        return TokenizedBatch(batch.input_ids, batch.attention_mask, cut, batch.real_tokens)

    def forward(self, inputs: dict[str, Any]) -> Any:
        return self.module(**inputs, **self._kwargs)

    def info(self) -> ModelInfo:
        params = sum(p.numel() for p in self.module.parameters())
        if self.tokenizer is not None:
            tok: str | None = type(self.tokenizer).__name__
        else:
            tok = "hash" if self.spec.modality == "text" else None
        return ModelInfo(
            name=self.spec.id,
            adapter=self.spec.adapter,
            modality=self.spec.modality,
            params=params,
            dtype=str(self.dtype).replace("torch.", ""),
            memory_format=str(self.memory_format).replace("torch.", ""),
            device=self.device,
            weights=self.spec.path or "random (from config)",
            tokenizer=tok,
            note=self.note,
        )


def build_model(
    spec: ModelSpec, *, precision: str, device: str, seed: int, channels_last: bool = False, imported: Callable[[], None] | None = None
) -> TransformersModel:
    """Build (random init is seeded), cast to `precision` and move to `device`; eval mode.

    `load_s`: build + cast + move, seconds. `channels_last`: image models' weights and inputs in NHWC.
    `imported` is called once the adapter's modules are imported, right before the build: a
    process's first import of a model family costs more memory than any model it builds.
    """
    import torch

    factory: Callable[[ModelSpec], Callable[[], Built]] = MODELS.get(spec.adapter, key="model.adapter")
    make = factory(spec)  # imports happen here, outside load_s
    if imported is not None:
        imported()
    torch.manual_seed(seed)
    start = time.perf_counter()
    model = TransformersModel(spec, make(), precision, channels_last=channels_last).to(device)
    synchronize(device)
    model.load_s = time.perf_counter() - start
    return model
