"""Render chat prompts with the model's own chat template at an exact token length.

The template is rendered once around a marker in place of the cut message's content; the text before
and after it (system prompt, role headers, the generation prompt) is tokenized whole, and only the
content is cut, at a token boundary, so a prompt of any length still ends where the model answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perfsuite.data.chat import ChatPrompt
from perfsuite.errors import PerfDataError

_MARK = "\u2063perfsuite-content\u2063"


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])


def render_chat(prompt: ChatPrompt, tokenizer: Any, length: int, *, model: str) -> tuple[list[int], bool]:
    """The prompt's token ids, `length` long when its content is long enough (else shorter), and whether it was cut."""
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise PerfDataError(
            f"model {model} has no chat template, so a chat dataset cannot be rendered for it "
            "(random-init presets use a hash tokenizer; a snapshot needs chat_template in tokenizer_config.json or chat_template.jinja)",
        )
    text = tokenizer.apply_chat_template(prompt.as_messages({prompt.cut: _MARK}), tokenize=False, add_generation_prompt=True)
    if not isinstance(text, str) or text.count(_MARK) != 1:
        raise PerfDataError(f"model {model}'s chat template does not place a message's content once in its output; it cannot be cut to a length")
    head, tail = (_ids(tokenizer, part) for part in text.split(_MARK))
    room = length - len(head) - len(tail)
    if room < 1:
        raise PerfDataError(
            f"a prompt of {length} tokens cannot hold model {model}'s chat template ({len(head) + len(tail)} tokens of "
            f"roles and markers) and any content; raise infer.seq_len / infer.seq_lens above {len(head) + len(tail)}"
        )
    body = _ids(tokenizer, prompt.messages[prompt.cut][1])
    return head + body[:room] + tail, len(body) > room


def render_chats(prompts: Sequence[ChatPrompt], tokenizer: Any, length: int, *, model: str) -> tuple[list[list[int]], int]:
    rows, cut = [], 0
    for p in prompts:
        ids, was_cut = render_chat(p, tokenizer, length, model=model)
        rows.append(ids)
        cut += was_cut
    return rows, cut
