"""The load generator on a fake clock (inline sender: every timestamp is exact), and its errors."""

from __future__ import annotations

import itertools
import json

import pytest

from perfsuite.errors import PerfConfigError, PerfUsageError
from perfsuite.measure.fakes import FakeTimer
from perfsuite.scenarios import Batch, offline, run_load, server, single_stream


class FakeServe:
    """Each call advances the fake clock by ``service_s`` (plus ``per_item_s`` per request) and logs the batch."""

    def __init__(self, timer: FakeTimer, service_s: float, per_item_s: float = 0.0) -> None:
        self.timer, self.service_s, self.per_item_s = timer, service_s, per_item_s
        self.batches: list[tuple[object, ...]] = []

    def __call__(self, batch: Batch) -> None:
        self.batches.append(batch.payloads)
        self.timer.advance(self.service_s + self.per_item_s * len(batch))


def inline(serve, payloads, arrivals, timer, **kw):
    return run_load(serve, payloads, arrivals, sender="inline", clock=timer, sleep=timer.advance, **kw)


def times(result, field):
    return [getattr(r, field) for r in result.requests]


def test_unloaded_requests_start_when_sent_and_take_the_service_time():
    t = FakeTimer()
    r = inline(FakeServe(t, 0.005), ["a"], (0.01, 0.02, 0.03), t)
    assert times(r, "sent_s") == pytest.approx([0.01, 0.02, 0.03])
    assert times(r, "start_s") == pytest.approx([0.01, 0.02, 0.03])
    assert times(r, "end_s") == pytest.approx([0.015, 0.025, 0.035])
    assert [q.queueing_s for q in r.requests] == pytest.approx([0, 0, 0])
    assert [q.service_s for q in r.requests] == pytest.approx([0.005] * 3)
    assert all(q.status == "completed" for q in r.requests)
    assert r.last_sent_s == pytest.approx(0.03) and r.ended_s == pytest.approx(0.035) and not r.drain_cut


def test_batcher_fills_up_to_max_batch_waits_max_wait_and_never_waits_for_nothing():
    t = FakeTimer()
    serve = FakeServe(t, 0.003)
    r = inline(serve, list("abcde"), (0.0, 0.001, 0.002, 0.010, 0.050), t, max_batch=3, max_wait_s=0.004)
    assert [b.request_indices for b in r.batches] == [(0, 1, 2), (3,), (4,)]
    assert serve.batches == [("a", "b", "c"), ("d",), ("e",)]
    # full at 0.002; request 3 waits its 4 ms for company; request 4 is the last: no wait
    assert [b.batched_s for b in r.batches] == pytest.approx([0.002, 0.014, 0.050])
    assert [b.end_s for b in r.batches] == pytest.approx([0.005, 0.017, 0.053])
    assert times(r, "batch_id") == [0, 0, 0, 1, 2]
    assert r.requests[3].queueing_s == pytest.approx(0.004)


def test_requests_arriving_during_service_queue_and_form_full_batches():
    t = FakeTimer()
    r = inline(FakeServe(t, 0.010), [0], (0.0, 0.001, 0.002, 0.003, 0.004), t, max_batch=2)
    assert [b.request_indices for b in r.batches] == [(0,), (1, 2), (3, 4)]
    # sent at their scheduled times although the worker was busy: queueing is charged, not hidden
    assert times(r, "sent_s") == pytest.approx([0.0, 0.001, 0.002, 0.003, 0.004])
    assert [q.queueing_s for q in r.requests] == pytest.approx([0.0, 0.009, 0.008, 0.017, 0.016])


def test_payloads_cycle_over_requests():
    t = FakeTimer()
    serve = FakeServe(t, 0.001)
    inline(serve, ["x", "y"], (0.0, 0.1, 0.2), t)
    assert serve.batches == [("x",), ("y",), ("x",)]


def test_max_concurrency_holds_requests_until_a_slot_frees():
    t = FakeTimer()
    r = inline(FakeServe(t, 0.010), [0], (0.0,) * 4, t, max_concurrency=2)
    assert times(r, "ready_s") == pytest.approx([0.0, 0.0, 0.01, 0.02])
    assert times(r, "sent_s") == pytest.approx([0.0, 0.0, 0.01, 0.02])
    assert times(r, "start_s") == pytest.approx([0.0, 0.01, 0.02, 0.03])
    assert r.settings.max_concurrency == 2


def test_single_stream_sends_the_next_request_when_the_previous_ends_until_both_minimums():
    t = FakeTimer()
    r = single_stream(FakeServe(t, 0.03), [0], min_queries=2, min_duration_s=0.1, sender="inline",
                      clock=t, sleep=t.advance)
    # ready at 0, .03, .06, .09; the 5th would be ready at .12 with both minimums met: not sent
    assert times(r, "sent_s") == pytest.approx([0.0, 0.03, 0.06, 0.09])
    assert [q.latency_s for q in r.requests] == pytest.approx([0.03] * 4)
    assert r.extra == {"scenario": "single_stream"}
    t2 = FakeTimer()
    assert len(single_stream(FakeServe(t2, 0.03), [0], min_queries=7, sender="inline", clock=t2,
                             sleep=t2.advance).requests) == 7


def test_offline_queues_everything_at_zero_and_serves_full_batches():
    t = FakeTimer()
    r = offline(FakeServe(t, 0.0, per_item_s=0.001), [0], n=20, max_batch=8, clock=t, sleep=t.advance)
    assert [b.size for b in r.batches] == [8, 8, 4]
    assert all(q.sent_s == 0.0 for q in r.requests)
    assert r.ended_s == pytest.approx(0.020)
    assert r.settings.max_drain_s == float("inf")


def test_overload_ends_after_max_drain_and_counts_the_unserved():
    t = FakeTimer()
    arrivals = tuple(i / 200 for i in range(1, 201))  # 200/s for 1 s into a 100/s server
    r = inline(FakeServe(t, 0.010), [0], arrivals, t, max_drain_s=0.1)
    assert r.drain_cut
    assert len(r.requests) == 200  # every sent request is kept
    unserved = r.unserved
    assert 80 <= len(unserved) <= 100
    assert all(q.start_s is None and q.latency_s is None for q in unserved)
    assert r.ended_s <= r.last_sent_s + 0.1 + 0.010 + 1e-9  # at most one batch past the drain limit
    assert [q.index for q in r.requests] == list(range(200))


def test_decoder_token_stamps_give_ttft_and_tpot():
    t = FakeTimer()

    def decode(batch: Batch) -> None:
        t.advance(0.020)  # prefill
        batch.token()  # first token of every item
        for step in range(3):
            t.advance(0.005)
            batch.token(0)  # item 0 decodes 3 more tokens, item 1 stops after its first
            del step

    r = inline(decode, ["p"], (0.0, 0.0), t, max_batch=2)
    a, b = r.requests
    assert a.token_times_s == pytest.approx((0.020, 0.025, 0.030, 0.035))
    assert a.ttft_s == pytest.approx(0.020) and a.tpot_s == pytest.approx(0.005)
    assert b.token_times_s == pytest.approx((0.020,)) and b.tpot_s is None
    assert r.streaming


def test_token_index_out_of_range_says_what_the_batch_holds():
    t = FakeTimer()
    with pytest.raises(PerfUsageError, match=r"batch\.token\(5\).*items 0\.\.0"):
        inline(lambda batch: batch.token(5), [0], (0.0,), t)


@pytest.mark.parametrize("sender", ["inline", "thread"])
def test_an_exception_from_serve_propagates_and_stops_the_sender(sender):
    calls = itertools.count()

    def serve(batch: Batch) -> None:
        if next(calls) == 2:
            raise RuntimeError("CUDA out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        run_load(serve, [0], (i * 1e-4 for i in range(10**9)), min_queries=10**9, sender=sender)


@pytest.mark.parametrize("sender", ["inline", "thread"])
def test_a_bad_offset_is_a_usage_error(sender):
    with pytest.raises(PerfUsageError, match="finite seconds >= 0"):
        run_load(lambda b: None, [0], (0.0, -1.0), sender=sender)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_batch": 0}, r"max_batch"),
        ({"max_wait_s": -1.0}, r"max_wait_s"),
        ({"max_concurrency": 0}, r"max_concurrency.*Hint: None for open loop"),
        ({"max_drain_s": -1.0}, r"max_drain_s"),
        ({"sender": "process"}, r"sender"),
        ({"min_queries": -1}, r"min_queries"),
    ],
)
def test_bad_settings_say_what_to_fix(kwargs, match):
    with pytest.raises(PerfConfigError, match=match):
        run_load(lambda b: None, [0], (0.0,), **kwargs)


def test_no_payloads_or_an_endless_schedule_without_a_stop_are_refused():
    with pytest.raises(PerfUsageError, match="at least one payload"):
        run_load(lambda b: None, [], (0.0,))
    with pytest.raises(PerfUsageError, match="min_queries and/or min_duration_s"):
        run_load(lambda b: None, [0], itertools.repeat(0.0))


def test_result_is_json_serializable_and_records_its_settings():
    t = FakeTimer()
    r = server(FakeServe(t, 0.001), [0], (0.0, 0.5), max_batch=4, max_wait_s=0.002, sender="inline",
               clock=t, sleep=t.advance, extra={"arrivals": {"process": "constant"}})
    doc = json.loads(json.dumps(r.to_dict()))
    assert doc["settings"]["max_batch"] == 4 and doc["settings"]["sender"] == "inline"
    assert doc["extra"] == {"scenario": "server", "arrivals": {"process": "constant"}}
    assert doc["requests"][1]["sent_s"] == pytest.approx(0.5)
    assert doc["batches"][0]["request_indices"] == [0]
