"""The fixed case the measurement scripts share: a tiny GPT-2 built from config (no download)."""

from __future__ import annotations

import torch
import transformers


def tiny_gpt2() -> torch.nn.Module:
    """2 layers, n_embd 64, vocab 1000, seeded random weights, eval mode."""
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(
        n_layer=2, n_head=2, n_embd=64, n_positions=128, vocab_size=1000, bos_token_id=999, eos_token_id=999
    )
    return transformers.GPT2Model(cfg).eval()
