"""Dataset adapters, tokenization, preprocessing and sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsuite.config.schema import DatasetSpec, ImagePreprocess, InferSpec, ModelSpec, SamplingSpec
from perfsuite.data.base import load_samples, make_batches
from perfsuite.data.images import preprocess_images
from perfsuite.errors import PerfDataError
from perfsuite.models.tokenize import HashTokenizer, pad_batch, tokenize

SEQ = SamplingSpec("sequential", 0)
TEXT_MODEL = ModelSpec(id="t", family="t", adapter="bert", modality="text", vocab_size=500)
IMAGE_MODEL = ModelSpec(id="i", family="i", adapter="resnet", modality="image", preprocess=ImagePreprocess(16, 20, (0.5,) * 3, (0.25,) * 3))
INFER = InferSpec((1,), 12, 0, "fp32", 2)


def ds(adapter, modality, root=None, source=None, files=(), max_samples=100, sampling=SEQ):
    return DatasetSpec("d", adapter, modality, source, str(root) if root else None, tuple(files), "text", max_samples, sampling)


class TestText:
    def test_pydoc_is_real_english(self):
        s = load_samples(ds("text", "text", source="pydoc_topics"), TEXT_MODEL, INFER)
        assert len(s.samples) > 50 and all(isinstance(x, str) and x for x in s.samples)
        assert any("assert" in x for x in s.samples)

    def test_txt_paragraphs_and_jsonl(self, tmp_path):
        (tmp_path / "a.txt").write_text("first para\nstill first\n\nsecond\n\n\n")
        (tmp_path / "b.jsonl").write_text(json.dumps({"text": "from json"}) + "\n\n" + json.dumps({"other": 1}) + "\n")
        s = load_samples(ds("text", "text", root=tmp_path), TEXT_MODEL, INFER)
        assert list(s.samples) == ["first para\nstill first", "second", "from json"]

    def test_zero_usable_samples_is_an_error(self, tmp_path):
        (tmp_path / "empty.txt").write_text("\n\n   \n")
        with pytest.raises(PerfDataError, match="zero usable samples"):
            load_samples(ds("text", "text", root=tmp_path), TEXT_MODEL, INFER)

    def test_bad_jsonl_line_named(self, tmp_path):
        (tmp_path / "x.jsonl").write_text('{"text": "ok"}\n{not json\n')
        with pytest.raises(PerfDataError, match=r"x.jsonl:2"):
            load_samples(ds("text", "text", root=tmp_path), TEXT_MODEL, INFER)

    @pytest.mark.parametrize(("name", "head"), [("notes.txt", b"first\n\nsecond "), ("rows.jsonl", b'{"text": "ok"}\n{"text": "caf')])
    def test_non_utf8_text_is_named_with_its_byte_offset(self, tmp_path, name, head):
        (tmp_path / name).write_bytes(head + b"\xe9 latin-1\n" + (b"" if name.endswith(".txt") else b'"}\n'))
        with pytest.raises(PerfDataError) as info:
            load_samples(ds("text", "text", root=tmp_path), TEXT_MODEL, INFER)
        msg, line = str(info.value), head.count(b"\n") + 1
        assert str(tmp_path / name) in msg and f"byte 0xe9 at byte offset {len(head)} (line {line})" in msg
        assert "UTF-8" in msg and "iconv" in msg

    def test_utf8_with_bom_and_accents_reads(self, tmp_path):
        (tmp_path / "a.txt").write_bytes("\ufeffcafé\n\nnaïve".encode())
        (tmp_path / "b.jsonl").write_text(json.dumps({"text": "über"}, ensure_ascii=False) + "\n", encoding="utf-8")
        s = load_samples(ds("text", "text", root=tmp_path), TEXT_MODEL, INFER)
        assert list(s.samples) == ["café", "naïve", "über"]

    def test_max_samples_caps(self):
        s = load_samples(ds("text", "text", source="pydoc_topics", max_samples=3), TEXT_MODEL, INFER)
        assert len(s.samples) == 3


class TestTokenize:
    def test_hash_tokenizer_is_deterministic_and_in_vocab(self):
        tok = HashTokenizer(100)
        a, b = tok.encode("Hello, world hello"), tok.encode("Hello, world hello")
        assert a == b and a[0] == tok.bos_id and a[-1] == tok.eos_id
        assert a[1] == a[4]  # case-folded words hash alike
        assert all(0 <= t < 100 for t in a)

    def test_truncation_is_counted(self):
        batch = tokenize(["one two three four five six", "short"], 4, None, 50)
        assert batch.truncated == 1
        assert all(len(row) == 4 for row in batch.input_ids)
        assert batch.attention_mask[1] == [1, 1, 1, 0]  # bos short eos + 1 pad
        assert batch.real_tokens == 4 + 3

    @given(st.lists(st.lists(st.integers(3, 99), max_size=20), min_size=1, max_size=6), st.integers(1, 16))
    def test_pad_batch_shape(self, seqs, seq_len):
        b = pad_batch(seqs, seq_len, 0)
        assert all(len(r) == seq_len for r in b.input_ids) and all(len(m) == seq_len for m in b.attention_mask)
        assert b.real_tokens == sum(min(len(s), seq_len) for s in seqs)
        assert b.truncated == sum(len(s) > seq_len for s in seqs)


class TestImages:
    def test_sklearn_sample_images(self):
        s = load_samples(ds("images", "image", source="sklearn_sample_images"), IMAGE_MODEL, INFER)
        assert len(s.samples) == 2 and s.samples[0].shape == (427, 640, 3) and s.samples[0].dtype == np.uint8

    def test_folder_png_and_npz(self, tmp_path):
        from PIL import Image

        Image.fromarray(np.full((10, 12, 3), 200, np.uint8)).save(tmp_path / "a.png")
        np.savez(tmp_path / "b.npz", x=np.random.default_rng(0).random((3, 8, 8)))
        (tmp_path / "notes.md").write_text("ignored")
        s = load_samples(ds("images", "image", root=tmp_path), IMAGE_MODEL, INFER)
        assert len(s.samples) == 4 and all(x.shape[2] == 3 and x.dtype == np.uint8 for x in s.samples)

    def test_corrupt_image_named(self, tmp_path):
        (tmp_path / "bad.png").write_bytes(b"not a png")
        with pytest.raises(PerfDataError, match="bad.png"):
            load_samples(ds("images", "image", root=tmp_path), IMAGE_MODEL, INFER)

    def test_preprocess_normalizes_to_model_size(self):
        white = np.full((30, 50, 3), 255, np.uint8)
        out = preprocess_images([white, white[:, :, 0]], IMAGE_MODEL.preprocess)
        assert out.shape == (2, 3, 16, 16) and out.dtype == np.float32
        assert np.allclose(out, (1.0 - 0.5) / 0.25)


class TestSynthetic:
    def test_text_and_image_shapes_follow_model(self):
        t = load_samples(ds("synthetic", "any", max_samples=5), TEXT_MODEL, INFER)
        assert len(t.samples) == 5 and all(len(x) == 12 and max(x) < 500 for x in t.samples)
        i = load_samples(ds("synthetic", "any", max_samples=2), IMAGE_MODEL, INFER)
        assert i.samples[0].shape == (20, 20, 3)

    def test_seeded(self):
        a = load_samples(ds("synthetic", "any", max_samples=3), TEXT_MODEL, INFER)
        b = load_samples(ds("synthetic", "any", max_samples=3), TEXT_MODEL, INFER)
        assert a.samples == b.samples


class TestSampling:
    def test_sequential_wraps(self):
        assert make_batches(list("abc"), 2, 3, SEQ) == [["a", "b"], ["c", "a"], ["b", "c"]]

    def test_random_is_seeded_permutation(self):
        r = SamplingSpec("random", 7)
        a = make_batches(list(range(10)), 10, 1, r)
        assert a == make_batches(list(range(10)), 10, 1, r)
        assert sorted(a[0]) == list(range(10)) and a[0] != list(range(10))
