"""Parity for decoders: the greedy tokens of a case's runtime against eager fp32's, before generation is timed.

Logits within a tolerance can still flip an argmax, and one flipped token changes every token after
it; what a user of a quantized or reduced-precision decoder needs to know is how many tokens it
produces exactly as the reference does. `token_parity` runs both for `tokens` greedy steps on the
case's first batch and reports the match length (the shortest common prefix over the batch's rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TokenParity:
    tokens: int  # greedy tokens compared per row
    match: int  # the shortest common prefix with the reference over the rows
    rows: tuple[int, ...]  # each row's common prefix
    exact_required: bool  # the case's precision is in parity.exact_tokens
    reference: str = "eager fp32"

    @property
    def passed(self) -> bool:
        return self.match == self.tokens or not self.exact_required

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "match": self.match, "rows": list(self.rows), "exact_required": self.exact_required,
                "reference": self.reference, "passed": self.passed}

    def message(self, case_id: str) -> str:
        return (f"{case_id}: greedy tokens differ from the {self.reference} reference after {self.match} of {self.tokens} "
                f"(per row: {', '.join(map(str, self.rows))}); the case was not timed. Its precision is in "
                "inference_runtime.parity.exact_tokens, which requires every compared token to match")


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def compare_tokens(actual: Sequence[Sequence[int]], reference: Sequence[Sequence[int]], *, tokens: int, exact_required: bool) -> TokenParity:
    """Pure: each row's common prefix (capped at `tokens`), the batch's match is the shortest."""
    if len(actual) != len(reference):
        raise ValueError(f"{len(actual)} rows against {len(reference)} reference rows")
    rows = tuple(min(common_prefix(a, r), tokens) for a, r in zip(actual, reference))
    return TokenParity(tokens=tokens, match=min(rows) if rows else tokens, rows=rows, exact_required=exact_required)


def greedy_tokens(module: Any, inputs: Mapping[str, Any], tokens: int, generate_kwargs: Mapping[str, Any] | None = None) -> list[list[int]]:
    """The new tokens of a greedy, fixed-length generate call (min_new_tokens holds EOS back), per row."""
    import torch

    from perfsuite.measure.generation import pad_token_id

    with torch.inference_mode():
        out = module.generate(**inputs, do_sample=False, num_beams=1, max_new_tokens=tokens, min_new_tokens=tokens,
                              pad_token_id=pad_token_id(module), **(generate_kwargs or {}))
    prompt = int(inputs["input_ids"].shape[-1])
    return [[int(t) for t in row] for row in out[:, prompt:].tolist()]


def token_parity(module: Any, reference: Any, inputs: Mapping[str, Any], *, tokens: int, exact_required: bool,
                 generate_kwargs: Mapping[str, Any] | None = None) -> TokenParity:
    """Greedy tokens of `module` (with the case's generate kwargs) against `reference` (eager fp32, dynamic cache, same inputs)."""
    ref_device = next(reference.parameters()).device
    ref_inputs = {k: v.to(ref_device) for k, v in inputs.items()}
    return compare_tokens(greedy_tokens(module, inputs, tokens, generate_kwargs), greedy_tokens(reference, ref_inputs, tokens),
                          tokens=tokens, exact_required=exact_required)
