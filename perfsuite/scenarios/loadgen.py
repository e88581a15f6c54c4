"""`run_load`: drive an in-process ``serve`` callable with a request schedule, through a dynamic batcher.

    result = run_load(serve, payloads, ArrivalSpec("poisson", 200.0, seed=1).times(n=2000),
                      max_batch=8, max_wait_s=0.002)
    load_metrics(result, slo=Slo(latency_ms=50)).to_dict()

A sender (`perfsuite.scenarios.senders`) puts request ``i`` (payload ``payloads[i % len]``) into a
queue at its scheduled time; the calling thread is the worker: it takes up to ``max_batch``
queued requests (waiting at most ``max_wait_s`` after the oldest one's arrival for the batch to
fill), calls ``serve(batch)`` and stamps each request (see `perfsuite.scenarios.records`).

``serve`` gets a `Batch`: ``batch.payloads`` in request order, and ``batch.token(i)`` for
decoders, to be called each time item ``i`` produced a token (``batch.token()`` stamps every
item, one decode step of the whole batch). Its return value is ignored; it must return only
once the work is complete (synchronize the device first).

The run ends when sending is over and the queue is empty, or ``max_drain_s`` after the last
send (an over-saturated run ends too): requests still queued then are recorded as unserved.
An exception from ``serve`` stops the sender and propagates.

The scenarios of MLPerf LoadGen, as calls (`single_stream`, `offline`, `server` below):
single-stream sends the next request when the previous one ends (``max_concurrency=1``),
offline queues every request at t = 0 and serves full batches, server follows seeded arrivals.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from typing import Any

from perfsuite.errors import PerfConfigError, PerfUsageError
from perfsuite.scenarios.records import BatchRecord, LoadResult, LoadSettings, RequestRecord, SenderMode
from perfsuite.scenarios.senders import InlineSender, StopRule, ThreadedSender

DEFAULT_MAX_DRAIN_S = 10.0
DEFAULT_SPIN_S = 200e-6


class Batch:
    """What ``serve`` receives: the payloads of one batch, and a token stamp for decoders."""

    __slots__ = ("_clock", "_tokens", "payloads", "request_indices")

    def __init__(self, payloads: tuple[Any, ...], request_indices: tuple[int, ...], clock: Callable[[], int]) -> None:
        self.payloads = payloads
        self.request_indices = request_indices
        self._clock = clock
        self._tokens: tuple[list[int], ...] = tuple([] for _ in payloads)

    def __len__(self) -> int:
        return len(self.payloads)

    def token(self, index: int | None = None) -> None:
        """Stamp a token now for item ``index`` of the batch, or for every item when None."""
        now = self._clock()
        if index is None:
            for stamps in self._tokens:
                stamps.append(now)
            return
        if not 0 <= index < len(self._tokens):
            raise PerfUsageError(f"batch.token({index!r}): the batch has items 0..{len(self._tokens) - 1}")
        self._tokens[index].append(now)

    def token_times_ns(self, index: int) -> tuple[int, ...]:
        return tuple(self._tokens[index])


Serve = Callable[[Batch], object]


def _check(name: str, ok: bool, value: object, hint: str | None = None) -> None:
    if not ok:
        raise PerfConfigError("invalid load setting", key=name, value=value, hint=hint)


def run_load(
    serve: Serve,
    payloads: Sequence[Any],
    arrivals: Iterable[float],
    *,
    max_batch: int = 1,
    max_wait_s: float = 0.0,
    max_concurrency: int | None = None,
    min_queries: int | None = None,
    min_duration_s: float | None = None,
    max_drain_s: float = DEFAULT_MAX_DRAIN_S,
    sender: SenderMode = "thread",
    spin_s: float = DEFAULT_SPIN_S,
    clock: Callable[[], int] = time.perf_counter_ns,
    sleep: Callable[[float], None] = time.sleep,
    extra: Mapping[str, object] | None = None,
    on_sender_start: Callable[[], None] | None = None,
) -> LoadResult:
    """Send ``arrivals`` (offsets in s, non-decreasing) to ``serve`` through the batcher; record everything.

    ``min_queries`` / ``min_duration_s``: stop sending once both are met (LoadGen's rule); an
    endless ``arrivals`` iterator needs one of them. ``sender="inline"`` runs without a sender
    thread (exact sends; deterministic with a fake ``clock`` whose ``sleep`` advances it).
    ``clock`` returns integer nanoseconds; ``sleep`` is only used by the inline sender.
    ``on_sender_start`` runs first in the sender thread (e.g. to pin it to a core the worker does not use).
    """
    _check("max_batch", isinstance(max_batch, int) and max_batch >= 1, max_batch, "at least 1 request per batch")
    _check("max_wait_s", 0.0 <= max_wait_s < float("inf"), max_wait_s, "seconds the batcher may wait to fill a batch")
    _check("max_concurrency", max_concurrency is None or max_concurrency >= 1, max_concurrency,
           "None for open loop, or the most requests outstanding at once")
    _check("min_queries", min_queries is None or min_queries >= 0, min_queries)
    _check("min_duration_s", min_duration_s is None or min_duration_s >= 0, min_duration_s)
    _check("max_drain_s", max_drain_s >= 0.0, max_drain_s,
           "seconds the run may go on after the last send to serve what is still queued (inf: all of it)")
    _check("sender", sender in ("thread", "inline"), sender, "thread (measured sends) or inline (exact, for tests)")
    _check("spin_s", 0.0 <= spin_s < 1.0, spin_s)
    if not payloads:
        raise PerfUsageError("run_load needs at least one payload (request i sends payloads[i % len(payloads)])")
    stop = StopRule(min_queries, min_duration_s)
    if not isinstance(arrivals, Sized) and not stop.active:
        raise PerfUsageError(
            "arrivals is an iterator that may never end: pass min_queries and/or min_duration_s to stop the run"
        )
    payload_list = list(payloads)
    t0 = clock()
    src: InlineSender | ThreadedSender
    if sender == "inline":
        src = InlineSender(iter(arrivals), stop, t0, max_concurrency, clock, sleep)
    else:
        src = ThreadedSender(iter(arrivals), stop, t0, max_concurrency, clock, round(spin_s * 1e9), on_sender_start)
    max_wait_ns = round(max_wait_s * 1e9)
    drain_ns = None if max_drain_s == float("inf") else round(max_drain_s * 1e9)
    batches: list[tuple[tuple[int, ...], int, int, int, Batch]] = []
    src.start()
    try:
        while (indices := src.next_batch(max_batch, max_wait_ns, drain_ns)) is not None:
            if not indices:
                continue
            batched = clock()
            batch = Batch(tuple(payload_list[i % len(payload_list)] for i in indices), tuple(indices), clock)
            start = clock()
            serve(batch)
            end = clock()
            batches.append((tuple(indices), batched, start, end, batch))
            src.complete(len(indices), end)
    except BaseException:
        src.stop()
        src.join()
        raise
    src.join()
    ended = clock()
    settings = LoadSettings(
        max_batch=max_batch, max_wait_s=max_wait_s, max_concurrency=max_concurrency, max_drain_s=max_drain_s,
        min_queries=min_queries, min_duration_s=min_duration_s, sender=sender, spin_s=spin_s,
        clock=getattr(clock, "__name__", type(clock).__name__),
    )
    return _assemble(src, batches, t0, ended, settings, extra)


def _assemble(
    src: InlineSender | ThreadedSender,
    batches: list[tuple[tuple[int, ...], int, int, int, Batch]],
    t0: int,
    ended: int,
    settings: LoadSettings,
    extra: Mapping[str, object] | None,
) -> LoadResult:
    def s(ns: int) -> float:
        return (ns - t0) * 1e-9

    served: dict[int, tuple[int, int]] = {}  # request index -> (batch id, position in batch)
    batch_records = []
    for batch_id, (indices, batched, start, end, _) in enumerate(batches):
        batch_records.append(BatchRecord(batch_id, indices, s(batched), s(start), s(end)))
        for pos, i in enumerate(indices):
            served[i] = (batch_id, pos)
    requests = []
    for i, (offset, ready, sent) in enumerate(zip(src.scheduled_s, src.ready_ns, src.sent_ns)):
        if i not in served:
            requests.append(RequestRecord(i, offset, s(ready), s(sent), "unserved"))
            continue
        batch_id, pos = served[i]
        _, batched, start, end, batch = batches[batch_id]
        requests.append(RequestRecord(
            i, offset, s(ready), s(sent), "completed", batch_id=batch_id, batched_s=s(batched),
            start_s=s(start), end_s=s(end), token_times_s=tuple(s(t) for t in batch.token_times_ns(pos)),
        ))
    return LoadResult(
        requests=tuple(requests), batches=tuple(batch_records), settings=settings,
        last_sent_s=s(src.last_sent_ns), ended_s=s(ended), drain_cut=src.drain_cut, extra=extra,
    )


def single_stream(
    serve: Serve, payloads: Sequence[Any], *, min_queries: int = 1024, min_duration_s: float = 0.0,
    max_drain_s: float = DEFAULT_MAX_DRAIN_S, sender: SenderMode = "thread",
    clock: Callable[[], int] = time.perf_counter_ns, sleep: Callable[[float], None] = time.sleep,
) -> LoadResult:
    """LoadGen SingleStream: one request at a time, the next sent when the previous ends."""
    return run_load(
        serve, payloads, itertools.repeat(0.0), max_batch=1, max_concurrency=1, min_queries=min_queries,
        min_duration_s=min_duration_s, max_drain_s=max_drain_s, sender=sender, clock=clock, sleep=sleep,
        extra={"scenario": "single_stream"},
    )


def offline(
    serve: Serve, payloads: Sequence[Any], *, n: int, max_batch: int,
    clock: Callable[[], int] = time.perf_counter_ns, sleep: Callable[[float], None] = time.sleep,
) -> LoadResult:
    """LoadGen Offline: ``n`` requests queued at t = 0, served in batches of ``max_batch``.

    The inline sender queues them all at once (a sender thread would race the first batch).
    """
    return run_load(
        serve, payloads, (0.0,) * n, max_batch=max_batch, max_wait_s=0.0, max_drain_s=float("inf"), sender="inline",
        clock=clock, sleep=sleep, extra={"scenario": "offline"},
    )


def server(
    serve: Serve, payloads: Sequence[Any], arrivals: Sequence[float], *, max_batch: int = 1,
    max_wait_s: float = 0.0, max_concurrency: int | None = None, max_drain_s: float = DEFAULT_MAX_DRAIN_S,
    sender: SenderMode = "thread", clock: Callable[[], int] = time.perf_counter_ns,
    sleep: Callable[[float], None] = time.sleep, extra: Mapping[str, object] | None = None,
    on_sender_start: Callable[[], None] | None = None,
) -> LoadResult:
    """LoadGen Server: requests at seeded arrival times (`ArrivalSpec.times`), open loop unless capped."""
    return run_load(
        serve, payloads, arrivals, max_batch=max_batch, max_wait_s=max_wait_s, max_concurrency=max_concurrency,
        max_drain_s=max_drain_s, sender=sender, clock=clock, sleep=sleep,
        extra={"scenario": "server", **(extra or {})}, on_sender_start=on_sender_start,
    )
