"""Chat prompts (issue 25): the embedded chat_prompts source, .jsonl conversations, and rendering with a model's
chat template at an exact token length (SmolLM2's template)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from causal_snapshot import smollm2_tokenizer_dir  # noqa: F401 - a session fixture
from perfsuite.config.schema import DatasetSpec, SamplingSpec
from perfsuite.data.chat import CONTEXT_CHARS, ChatPrompt, chat_prompts, load_chat
from perfsuite.errors import PerfDataError
from perfsuite.models.chat_render import render_chat, render_chats

GENERATION_PROMPT = "<|im_start|>assistant\n"  # where SmolLM2's template hands over to the model


def _spec(seed: int = 0, **kw: object) -> DatasetSpec:
    base = dict(name="chat_prompts", adapter="chat", modality="chat", source="chat_prompts", root=None, files=(),
                text_field="text", max_samples=8, sampling=SamplingSpec("sequential", seed))
    return DatasetSpec(**{**base, **kw})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tokenizer(smollm2_tokenizer_dir: Path):  # noqa: F811
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2_tokenizer_dir)
    assert tok.chat_template
    return tok


def test_chat_prompts_are_reproducible_from_the_seed() -> None:
    a, b, other = chat_prompts(_spec(0)), chat_prompts(_spec(0)), chat_prompts(_spec(1))
    assert a.samples == b.samples and len(a.samples) == 8
    assert a.samples != other.samples and "seed 0" in a.origin
    for p in a.samples:
        assert isinstance(p, ChatPrompt) and p.messages[p.cut][0] == "user"
        assert len(p.messages[p.cut][1]) > CONTEXT_CHARS * 0.9  # long enough for a 4k-token prompt


@pytest.mark.parametrize("length", [64, 256])
def test_rendering_at_an_exact_length_keeps_the_template_end(tokenizer, length: int) -> None:
    prompts = chat_prompts(_spec()).samples[:3]
    rows, cut = render_chats(prompts, tokenizer, length, model="m")
    assert [len(r) for r in rows] == [length] * 3 and cut == 3
    for row in rows:
        text = tokenizer.decode(row)
        assert text.endswith(GENERATION_PROMPT) and text.startswith("<|im_start|>system")
        assert "<|im_start|>user\n" in text and text.count("<|im_end|>") == 2  # system and user both closed


def test_a_short_prompt_is_not_cut_nor_padded(tokenizer) -> None:
    prompt = ChatPrompt((("system", "Be brief."), ("user", "Say hi.")), 1)
    ids, was_cut = render_chat(prompt, tokenizer, 256, model="m")
    assert not was_cut and len(ids) < 256
    assert ids == list(tokenizer.apply_chat_template(prompt.as_messages(), tokenize=True, add_generation_prompt=True, return_dict=True)["input_ids"])


def test_a_length_too_short_for_the_template_names_the_fix(tokenizer) -> None:
    with pytest.raises(PerfDataError, match=r"cannot hold model m's chat template .* raise infer.seq_len"):
        render_chat(chat_prompts(_spec()).samples[0], tokenizer, 8, model="m")


def test_no_chat_template_is_a_clear_error(tokenizer) -> None:
    prompt = chat_prompts(_spec()).samples[0]
    for tok in (None, type("NoTemplate", (), {"chat_template": None})()):
        with pytest.raises(PerfDataError, match="model m has no chat template"):
            render_chat(prompt, tok, 64, model="m")


def test_jsonl_conversations_load_and_bad_lines_name_their_place(tmp_path: Path) -> None:
    good = [{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q1"},
                          {"role": "assistant", "content": "a"}, {"role": "user", "content": "q2"}]}]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in good) + "\n\n")
    spec = _spec(source=None, root=str(tmp_path), name="mine")
    (p,) = load_chat(spec, None, None).samples  # type: ignore[arg-type]
    assert p.cut == 3 and p.messages[3] == ("user", "q2")
    for line, expect in [
        ("{not json", "a.jsonl:1 is not valid JSON"),
        (json.dumps({"text": "x"}), "non-empty 'messages' list"),
        (json.dumps({"messages": [{"role": "robot", "content": "x"}]}), r"messages\[0\] must be"),
        (json.dumps({"messages": [{"role": "system", "content": "x"}]}), "no user message"),
    ]:
        (tmp_path / "a.jsonl").write_text(line + "\n")
        with pytest.raises(PerfDataError, match=expect):
            load_chat(spec, None, None)  # type: ignore[arg-type]
