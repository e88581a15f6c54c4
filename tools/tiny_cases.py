"""The fixed case the measurement scripts share: a tiny GPT-2 built from config (no download)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import transformers


def tiny_gpt2() -> torch.nn.Module:
    """2 layers, n_embd 64, vocab 1000, seeded random weights, eval mode."""
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(
        n_layer=2, n_head=2, n_embd=64, n_positions=128, vocab_size=1000, bos_token_id=999, eos_token_id=999
    )
    return transformers.GPT2Model(cfg).eval()


def forward_of(model: torch.nn.Module, seq_len: int) -> Callable[[], object]:
    """`model`'s forward on a fixed 1 x seq_len input, as a zero-argument call."""
    ids = torch.randint(0, 999, (1, seq_len), generator=torch.Generator().manual_seed(1))

    def fn() -> object:
        with torch.inference_mode():
            return model(input_ids=ids)

    return fn


def tiny_gpt2_forward(seq_len: int) -> Callable[[], object]:
    """One thread, the tiny GPT-2 and a fixed 1 x seq_len input: a zero-argument forward call."""
    torch.set_num_threads(1)
    return forward_of(tiny_gpt2(), seq_len)
