"""Tokenization to fixed-shape batches: the model's tokenizer, or a deterministic vocab-hash one.

Every text batch is exactly `seq_len` tokens wide (truncated or right-padded, with an attention
mask), so a case's timings never depend on which samples happened to be drawn. How many samples
were truncated is reported with the case.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_WORD = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class TokenizedBatch:
    input_ids: list[list[int]]
    attention_mask: list[list[int]]
    truncated: int  # samples longer than seq_len, cut to seq_len
    real_tokens: int  # tokens that are not padding


class HashTokenizer:
    """Word-level tokens hashed into the model's vocabulary: deterministic across runs and machines.

    Ids 0..2 are reserved (pad, begin, end); words map to crc32(word) into [3, vocab_size).
    """

    pad_id, bos_id, eos_id = 0, 1, 2
    name = "hash"

    def __init__(self, vocab_size: int) -> None:
        if vocab_size < 4:
            raise ValueError(f"vocab_size must be >= 4 for the hash tokenizer, got {vocab_size}")
        self.vocab_size = vocab_size

    def encode(self, text: str) -> list[int]:
        span = self.vocab_size - 3
        words = _WORD.findall(text.lower())
        return [self.bos_id] + [3 + zlib.crc32(w.encode()) % span for w in words] + [self.eos_id]


def pad_batch(sequences: Sequence[Sequence[int]], seq_len: int, pad_id: int, lengths: Sequence[int] | None = None) -> TokenizedBatch:
    """Each sequence cut to its row's length (`lengths`, else seq_len) and right-padded to seq_len."""
    ids, mask = [], []
    truncated = real = 0
    for i, seq in enumerate(sequences):
        limit = min(lengths[i], seq_len) if lengths is not None else seq_len
        if len(seq) > limit:
            truncated += 1
        seq = list(seq[:limit])
        real += len(seq)
        ids.append(seq + [pad_id] * (seq_len - len(seq)))
        mask.append([1] * len(seq) + [0] * (seq_len - len(seq)))
    return TokenizedBatch(ids, mask, truncated, real)


def tokenize(samples: Sequence[Any], seq_len: int, tokenizer: Any, vocab_size: int, lengths: Sequence[int] | None = None) -> TokenizedBatch:
    """Samples are strings, or lists of token ids (synthetic data); the result is `seq_len` wide (row i at most lengths[i])."""
    if tokenizer is None:
        tokenizer = HashTokenizer(vocab_size)
    seqs: list[list[int]] = []
    for sample in samples:
        if isinstance(sample, str):
            if isinstance(tokenizer, HashTokenizer):
                seqs.append(tokenizer.encode(sample))
            else:
                seqs.append(list(tokenizer(sample, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]))
        else:
            seqs.append([int(t) for t in sample])
    pad_id = getattr(tokenizer, "pad_token_id", None)
    if pad_id is None:
        pad_id = getattr(tokenizer, "pad_id", 0)
    return pad_batch(seqs, seq_len, int(pad_id), lengths)
