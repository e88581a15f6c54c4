"""Chat prompts: conversations that a decoder's chat template renders into its prompt tokens.

A sample is a `ChatPrompt` (role, content) messages; `perfsuite.models.chat_render` renders it with the
model's own chat template at exactly the case's length (the `cut` message's content is cut at a token
boundary so that template tokens are never lost; cuts are counted as truncation).

The embedded source `chat_prompts` builds its prompts from real English text shipped with CPython
(pydoc_data.topics): a task instruction followed by reference text long enough for a 4k-token prompt,
in an order drawn from the dataset's sampling seed. Users bring their own as .jsonl, one conversation
per line: ``{"messages": [{"role": "user", "content": "..."}]}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from perfsuite.config.schema import DatasetSpec, InferSpec, ModelSpec
from perfsuite.data.base import SampleSet, from_source, list_files
from perfsuite.data.text import read_utf8
from perfsuite.errors import PerfDataError
from perfsuite.registry import DATASETS, SOURCES

ROLES = ("system", "user", "assistant")
# Reference text per prompt, in characters: about 4-5k tokens of English prose, enough for a 4k bucket.
CONTEXT_CHARS = 20_000
TASKS = (
    "Summarize the following Python documentation in three sentences.",
    "Explain the following section of the Python reference to a programmer who is new to Python.",
    "List the three most important rules stated in this text, each with a one-line example.",
    "Read this excerpt from the Python documentation and write two quiz questions about it, with answers.",
    "What common mistake does the following documentation warn about? Answer briefly.",
)


@dataclass(frozen=True)
class ChatPrompt:
    messages: tuple[tuple[str, str], ...]  # (role, content)
    cut: int  # the message whose content may be cut to fit a length: the last user message

    def __post_init__(self) -> None:
        if not self.messages or not 0 <= self.cut < len(self.messages):
            raise ValueError("a chat prompt needs messages and a cut index inside them")

    def as_messages(self, content: dict[int, str] | None = None) -> list[dict[str, str]]:
        content = content or {}
        return [{"role": r, "content": content.get(i, c)} for i, (r, c) in enumerate(self.messages)]


def chat_prompt(messages: list[dict[str, str]]) -> ChatPrompt:
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]
    if not users:
        raise ValueError("no user message")
    return ChatPrompt(tuple((m["role"], m["content"]) for m in messages), users[-1])


def _record(record: object, where: str) -> ChatPrompt:
    messages = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(messages, list) or not messages:
        raise PerfDataError(f"{where}: expected an object with a non-empty 'messages' list ({{\"role\": ..., \"content\": ...}})")
    for j, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise PerfDataError(f"{where}: messages[{j}] must be {{\"role\": one of {', '.join(ROLES)}, \"content\": a string}}, got {m!r}")
    try:
        return chat_prompt(messages)
    except ValueError:
        raise PerfDataError(f"{where}: the conversation has no user message to answer") from None


@DATASETS.register("chat")
def load_chat(spec: DatasetSpec, model: ModelSpec, infer: InferSpec) -> SampleSet:
    if spec.source:
        return from_source(spec)
    samples: list[ChatPrompt] = []
    files = list_files(spec, ("**/*.jsonl",))
    for path in files:
        for lineno, line in enumerate(read_utf8(path, spec.name).splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise PerfDataError(f"dataset {spec.name}: {path}:{lineno} is not valid JSON ({exc})") from None
            samples.append(_record(record, f"dataset {spec.name}: {path}:{lineno}"))
        if len(samples) >= spec.max_samples:
            break
    return SampleSet(spec.name, tuple(samples), f"{spec.root} ({len(files)} files)")


@SOURCES.register("chat_prompts")
def chat_prompts(spec: DatasetSpec) -> SampleSet:
    """One prompt per pydoc topic: a task, then that topic's text and the next ones' up to CONTEXT_CHARS."""
    import numpy as np
    from pydoc_data.topics import topics

    texts = [topics[k].strip() for k in sorted(topics) if topics[k].strip()]
    rng = np.random.default_rng(spec.sampling.seed)
    order = [int(i) for i in rng.permutation(len(texts))]
    prompts = []
    for n in range(min(spec.max_samples, len(texts))):
        parts, size, j = [], 0, n
        while size < CONTEXT_CHARS:
            text = texts[order[j % len(order)]]
            parts.append(text)
            size += len(text)
            j += 1
        task = TASKS[n % len(TASKS)]
        prompts.append(ChatPrompt((("user", f"{task}\n\n" + "\n\n".join(parts)[:CONTEXT_CHARS]),), 0))
    return SampleSet(spec.name, tuple(prompts), f"pydoc_data.topics (CPython) as chat prompts, seed {spec.sampling.seed}")
