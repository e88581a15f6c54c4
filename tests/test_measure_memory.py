"""Host RSS sampler and weights size."""

from __future__ import annotations

import threading

import pytest

from perfsuite.measure import RssSampler, weights_bytes


def test_rss_sampler_reports_start_peak_end_from_an_injected_reader():
    values = iter([100, 900])
    second_read = threading.Event()
    reads = []

    def read():
        value = next(values, 200)
        reads.append(value)
        if len(reads) >= 2:
            second_read.set()
        return value

    with RssSampler(period_s=0.001, rss_bytes=read) as rss:
        assert second_read.wait(10), "sampler thread never sampled"
    r = rss.result
    assert (r.rss_start_bytes, r.rss_peak_bytes, r.rss_end_bytes) == (100, 900, 200)
    assert r.rss_increase_bytes == 800
    assert r.samples == len(reads) >= 3
    assert r.to_dict()["rss_increase_bytes"] == 800


def test_rss_sampler_sees_a_real_allocation():
    with RssSampler() as rss:
        block = bytearray(64 * 1024 * 1024)
        block[:: 4096] = b"x" * len(block[:: 4096])  # touch every page so it is resident
    r = rss.result
    assert r.rss_end_bytes - r.rss_start_bytes >= 48 * 1024 * 1024
    assert r.rss_peak_bytes >= r.rss_end_bytes and r.rss_increase_bytes >= 48 * 1024 * 1024
    del block


def test_rss_sampler_rejects_bad_period():
    with pytest.raises(ValueError, match="period_s"):
        RssSampler(period_s=0, rss_bytes=lambda: 1)


def test_weights_bytes_counts_parameters_and_buffers():
    torch = pytest.importorskip("torch")
    lin = torch.nn.Linear(10, 5)  # 55 float32
    assert weights_bytes(lin) == 55 * 4
    bn = torch.nn.BatchNorm1d(4)  # weight+bias 8 float32, running mean/var 8 float32, num_batches_tracked int64
    assert weights_bytes(bn) == 16 * 4 + 8
    assert weights_bytes(lin.to(torch.float16)) == 55 * 2


def test_weights_bytes_counts_tied_weights_once():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    cfg = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=32, n_positions=64, vocab_size=500)
    model = transformers.GPT2LMHeadModel(cfg)
    assert model.lm_head.weight is model.transformer.wte.weight
    unique = {id(t): t for t in (*model.parameters(), *model.buffers())}
    expected = sum(t.numel() * t.element_size() for t in unique.values())
    naive = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    assert weights_bytes(model) == expected < naive
