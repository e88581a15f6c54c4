"""The real sender thread on the real clock: only robust facts are asserted (no speeds)."""

from __future__ import annotations

import time

import pytest

from perfsuite.scenarios import ArrivalSpec, Batch, load_metrics, run_load, single_stream


def sleeper(seconds: float):
    def serve(batch: Batch) -> None:
        time.sleep(seconds)

    return serve


def test_threaded_run_keeps_order_and_measures_its_send_error():
    arrivals = tuple(i * 0.001 for i in range(1, 201))
    r = run_load(lambda batch: None, [0], arrivals)
    assert len(r.requests) == 200 and not r.unserved
    for q in r.requests:
        assert q.ready_s == pytest.approx(q.scheduled_s, abs=1e-9)  # open loop: the schedule is the request
        assert q.sent_s >= q.ready_s  # the busy-wait never sends early
        assert q.sent_s <= q.batched_s <= q.start_s <= q.end_s
    sent = [q.sent_s for q in r.requests]
    assert sent == sorted(sent)
    m = load_metrics(r)
    assert m.send_error is not None and m.send_error.n == 200
    assert m.send_error["p50"].value_s >= 0.0 and m.send_error["p90"].established


def test_threaded_batcher_waits_to_fill_batches_up_to_max_batch():
    r = run_load(sleeper(0.002), [0], (0.0,) * 20, max_batch=4, max_wait_s=0.05)
    sizes = [b.size for b in r.batches]
    assert sum(sizes) == 20 and max(sizes) == 4 and all(1 <= s <= 4 for s in sizes)


def test_closed_loop_never_exceeds_its_concurrency():
    r = run_load(sleeper(0.001), [0], (0.0,) * 30, max_concurrency=2)
    reqs = r.requests
    assert all(reqs[i].sent_s >= reqs[i - 2].end_s for i in range(2, len(reqs)))
    s = single_stream(sleeper(0.001), [0], min_queries=20)
    assert len(s.requests) == 20
    assert all(b.sent_s >= a.end_s and b.ready_s == pytest.approx(a.end_s, abs=1e-9)
               for a, b in zip(s.requests, s.requests[1:]))


def test_half_load_is_stable_and_one_and_a_half_is_over_saturated():
    """4 ms per request (capacity <= 250/s; less on a busy machine): offered 125/s, then 375/s, for 1 s each."""
    serve = sleeper(0.004)
    low = run_load(serve, [0], ArrivalSpec("poisson", 125.0, seed=1).times(n=125))
    high = run_load(serve, [0], ArrivalSpec("poisson", 375.0, seed=1).times(n=375), max_drain_s=0.2)
    assert load_metrics(low).oversaturation.flag is False
    over = load_metrics(high).oversaturation
    assert over.flag is True, over.reason
