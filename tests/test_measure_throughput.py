"""Throughput helpers and the batch-sweep knee."""

from __future__ import annotations

import math

import pytest

from perfsuite.measure import OomRecord, analyze_sweep, summarize, throughput
from perfsuite.measure.throughput import gain_per_doubling


def stats(latency_s):
    return summarize([latency_s] * 30)


def test_samples_and_tokens_per_second_from_the_same_median():
    t = throughput(stats(0.02), batch_size=8, tokens_per_call=8 * 128)
    assert t.samples_per_s == pytest.approx(400.0)
    assert t.tokens_per_s == pytest.approx(51200.0)
    assert t.tokens_per_s / t.samples_per_s == pytest.approx(128)
    assert throughput(stats(0.02)).tokens_per_s is None


def test_an_unestablished_median_gives_no_rates_and_says_why():
    t = throughput(summarize([0.01] * 3), batch_size=4, tokens_per_call=100)
    assert t.samples_per_s is None and t.tokens_per_s is None and t.latency_p50_s is None
    assert not t.established and "needs >= 11 samples" in t.not_established
    assert t.to_dict()["not_established"] == t.not_established


def test_a_sweep_with_unestablished_points_keeps_the_rest_of_the_curve():
    pts = [(1, stats(0.01)), (2, summarize([0.02] * 5)), (4, stats(0.012)), (8, stats(0.024))]
    a = analyze_sweep(pts)
    assert [r.status for r in a.rows] == ["ok", "not_established", "ok", "ok"]
    assert "needs >= 11 samples" in a.rows[1].reason and a.rows[1].samples_per_s is None
    assert a.rows[2].gain_per_doubling is not None  # 1 -> 4 skips the unknown point
    assert a.best_batch_size == 4


def test_a_sweep_where_no_median_is_established_has_no_knee_and_no_crash():
    a = analyze_sweep([(1, summarize([0.5] * 5)), (4, summarize([2.0] * 5))])
    assert a.knee_batch_size is None and a.best_batch_size is None
    assert "established" in a.knee_reason


def test_gain_per_doubling_normalises_uneven_steps():
    assert gain_per_doubling(1, 100.0, 4, 400.0) == pytest.approx(1.0)  # x4 over two doublings = x2 each
    assert gain_per_doubling(2, 100.0, 4, 105.0) == pytest.approx(0.05)
    assert gain_per_doubling(3, 100.0, 6, 100.0) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        gain_per_doubling(4, 1.0, 4, 1.0)


def test_knee_is_first_batch_after_which_every_doubling_gains_less_than_min_gain():
    latencies = {1: 0.010, 2: 0.011, 4: 0.0125, 8: 0.022, 16: 0.042, 32: 0.082}
    # samples/s: 100, 182, 320, 364 (+13.6%), 381 (+4.8%), 390 (+2.4%)
    a = analyze_sweep([(b, stats(lat)) for b, lat in latencies.items()], min_gain=0.10)
    assert a.knee_batch_size == 8
    assert a.best_batch_size == 32
    assert [r.batch_size for r in a.rows] == [1, 2, 4, 8, 16, 32]
    assert a.rows[0].gain_per_doubling is None
    assert a.rows[4].gain_per_doubling == pytest.approx((16 / 0.042) / (8 / 0.022) - 1)
    assert set(a.to_dict()) == {"rows", "knee_batch_size", "knee_reason", "best_batch_size", "min_gain"}


def test_a_late_recovery_moves_the_knee():
    # 4 -> 8 flat, but 8 -> 16 gains 30% again: the knee is after that, at 16
    lat = {1: 0.01, 2: 0.01, 4: 0.02, 8: 0.04, 16: 0.0615, 32: 0.12}
    assert analyze_sweep([(b, stats(v)) for b, v in lat.items()]).knee_batch_size == 16


def test_no_knee_while_throughput_scales():
    a = analyze_sweep([(b, stats(0.01)) for b in (1, 2, 4, 8)])  # constant latency: x2 per doubling
    assert a.knee_batch_size is None and "still grows" in a.knee_reason
    assert all(math.isclose(r.gain_per_doubling, 1.0) for r in a.rows[1:])


def test_oom_ends_the_curve_and_is_listed():
    oom = OomRecord(batch_size=16, message="CUDA out of memory", error_type="OutOfMemoryError")
    pts = [(1, stats(0.01)), (2, stats(0.02)), (4, stats(0.04)), (16, oom), (32, stats(0.01))]
    a = analyze_sweep(pts)
    assert [r.status for r in a.rows] == ["ok", "ok", "ok", "oom", "skipped"]
    assert a.knee_batch_size == 1 and a.best_batch_size in (1, 2, 4)


def test_a_batch_size_without_an_established_median_is_listed_not_fatal():
    # a case cut by its hard budget (7 samples: p50 needs 11) must not crash the session's sweep
    pts = [(1, stats(0.01)), (4, summarize([1.0] * 7)), (8, stats(0.05))]
    a = analyze_sweep(pts)
    assert [r.status for r in a.rows] == ["ok", "not_established", "ok"]
    assert a.rows[2].gain_per_doubling is not None  # measured from batch 1, the last "ok" row


def test_too_few_points_has_no_knee_with_reason():
    a = analyze_sweep([(1, stats(0.01))])
    assert a.knee_batch_size is None and "at least two" in a.knee_reason


def test_duplicate_batch_sizes_are_rejected():
    with pytest.raises(ValueError, match="unique"):
        analyze_sweep([(2, stats(0.01)), (2, stats(0.02))])
