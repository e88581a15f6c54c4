"""The two senders behind `run_load`: who puts requests into the batcher's queue, and when.

`ThreadedSender` is the real one: a dedicated thread that waits for each request's ready
time (coarse sleep, then a busy-wait over the last ``spin_s``) and enqueues it, stamping the
actual send time, so the sender's own error (``sent - ready``) is measured.

`InlineSender` has no thread: the worker admits each request whose ready time has passed,
stamped exactly with that time, and sleeps until the next one when it has nothing queued.
Sends are exact by construction (no sender error to measure), and with a fake clock whose
``sleep`` advances it, a whole run is deterministic: the mode of unit tests and simulations.

Both keep requests in send order (index = order), enforce ``max_concurrency`` (a request
counts from its send until ``serve`` returns; a request held by it is ready when a slot frees)
and stop sending once the `StopRule` is met. ``next_batch`` is the dynamic batcher: it returns
up to ``max_batch`` queued requests once the batch is full, the oldest request has waited
``max_wait``, or no more requests can arrive before a batch completes.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from perfsuite.errors import PerfUsageError


@dataclass(frozen=True)
class StopRule:
    """Stop sending once at least ``min_queries`` were sent and ``min_duration_s`` has passed (LoadGen)."""

    min_queries: int | None = None
    min_duration_s: float | None = None

    @property
    def active(self) -> bool:
        return self.min_queries is not None or self.min_duration_s is not None

    def reached(self, sent: int, elapsed_s: float) -> bool:
        return (
            self.active
            and sent >= (self.min_queries or 0)
            and elapsed_s >= (self.min_duration_s or 0.0)
        )


def _offset_ns(offset: float) -> int:
    if not 0.0 <= offset < float("inf"):
        raise PerfUsageError(f"arrival offsets must be finite seconds >= 0 from the start of the run, got {offset!r}")
    return round(offset * 1e9)


class _Ledger:
    """State shared by both senders: per-request times (ns) in send order, the queue, slots."""

    def __init__(self, arrivals: Iterator[float], stop: StopRule, t0_ns: int, max_concurrency: int | None) -> None:
        self._arrivals = arrivals
        self._stop = stop
        self.t0_ns = t0_ns
        self.max_concurrency = max_concurrency
        self.scheduled_s: list[float] = []
        self.ready_ns: list[int] = []
        self.sent_ns: list[int] = []
        self.queue: deque[int] = deque()
        self.outstanding = 0
        self.slot_free_ns = t0_ns  # when the last slot was freed
        self.prev_ready_ns = t0_ns
        self.done = False  # no more requests will be sent
        self.drain_cut = False

    @property
    def last_sent_ns(self) -> int:
        return self.sent_ns[-1] if self.sent_ns else self.t0_ns

    def next_offset(self) -> float | None:
        """The next scheduled offset, or None (and ``done``) when the schedule or the stop rule ends sending."""
        offset = next(self._arrivals, None)
        if offset is None:
            self.done = True
        return offset

    def ready_time(self, offset: float, waited_for_slot: bool) -> int | None:
        """When the request at ``offset`` is meant to go out; None (and ``done``) if the stop rule says stop."""
        ready = max(self.t0_ns + _offset_ns(offset), self.prev_ready_ns)  # FIFO: never before the previous one
        if waited_for_slot:
            ready = max(ready, self.slot_free_ns)
        if self._stop.reached(len(self.sent_ns), (ready - self.t0_ns) * 1e-9):
            self.done = True
            return None
        return ready

    def slots_full(self) -> bool:
        return self.max_concurrency is not None and self.outstanding >= self.max_concurrency

    def enqueue(self, offset: float, ready_ns: int, sent_ns: int) -> None:
        self.queue.append(len(self.sent_ns))
        self.scheduled_s.append(offset)
        self.ready_ns.append(ready_ns)
        self.sent_ns.append(sent_ns)
        self.prev_ready_ns = ready_ns
        self.outstanding += 1

    def take(self, max_batch: int, now_ns: int, drain_ns: int | None) -> list[int] | None:
        if self.done and drain_ns is not None and now_ns > self.last_sent_ns + drain_ns:
            self.drain_cut = bool(self.queue)
            return None
        return [self.queue.popleft() for _ in range(min(max_batch, len(self.queue)))]

    def release(self, n: int, end_ns: int) -> None:
        self.outstanding -= n
        self.slot_free_ns = end_ns


class InlineSender(_Ledger):
    """No thread: the worker admits requests whose ready time has passed (see the module docstring)."""

    def __init__(
        self,
        arrivals: Iterator[float],
        stop: StopRule,
        t0_ns: int,
        max_concurrency: int | None,
        clock: Callable[[], int],
        sleep: Callable[[float], None],
    ) -> None:
        super().__init__(arrivals, stop, t0_ns, max_concurrency)
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None
        self._waited = False

    def start(self) -> None:
        return None

    def _peek_ready(self) -> int | None:
        """Ready time of the next request, or None when sending is over or a slot must free first."""
        if self.done:
            return None
        if self._next is None:
            self._next = self.next_offset()
            if self._next is None:
                return None
        if self.slots_full():
            self._waited = True
            return None
        ready = self.ready_time(self._next, self._waited)
        if ready is None:
            self._next = None
        return ready

    def _admit(self, now_ns: int) -> None:
        while (ready := self._peek_ready()) is not None and ready <= now_ns:
            assert self._next is not None
            self.enqueue(self._next, ready, ready)
            self._next, self._waited = None, False

    def _sleep_until(self, t_ns: int) -> None:
        remaining = t_ns - self._clock()
        if remaining > 0:
            self._sleep(remaining * 1e-9)

    def next_batch(self, max_batch: int, max_wait_ns: int, drain_ns: int | None) -> list[int] | None:
        self._admit(self._clock())
        while not self.queue:
            ready = self._peek_ready()
            if ready is None:  # sending is over (nothing can be blocked: no request is outstanding)
                return None
            self._sleep_until(ready)
            self._admit(self._clock())
        deadline = self.sent_ns[self.queue[0]] + max_wait_ns
        while len(self.queue) < max_batch:
            ready = self._peek_ready()
            if ready is None:  # no request can arrive before this batch completes
                break
            if ready > deadline:
                self._sleep_until(deadline)
                self._admit(self._clock())
                break
            self._sleep_until(ready)
            self._admit(self._clock())
        return self.take(max_batch, self._clock(), drain_ns)

    def complete(self, n: int, end_ns: int) -> None:
        self._admit(end_ns)  # requests due while serve ran saw the slots still taken
        self.release(n, end_ns)

    def stop(self) -> None:
        self.done = True

    def join(self) -> None:
        return None


class ThreadedSender(_Ledger):
    """A dedicated thread sends each request at its ready time (see the module docstring)."""

    def __init__(
        self,
        arrivals: Iterator[float],
        stop: StopRule,
        t0_ns: int,
        max_concurrency: int | None,
        clock: Callable[[], int],
        spin_ns: int,
        on_start: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(arrivals, stop, t0_ns, max_concurrency)
        self._clock = clock
        self._spin_ns = spin_ns
        self._on_start = on_start  # runs in the sender thread first (e.g. moving it to a core of its own)
        self._cond = threading.Condition()
        self._abort = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="perfsuite-loadgen-sender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _wait_until(self, t_ns: int) -> None:
        clock = self._clock
        while (remaining := t_ns - clock()) > self._spin_ns:
            if self._abort.wait((remaining - self._spin_ns) * 1e-9):
                return
        while clock() < t_ns:  # busy-wait the last stretch: a sleep overshoots by tens of microseconds
            pass

    def _run(self) -> None:
        try:
            if self._on_start is not None:
                self._on_start()
            while (offset := self.next_offset()) is not None:
                with self._cond:
                    waited = False
                    while self.slots_full() and not self._abort.is_set():
                        waited = True
                        self._cond.wait()
                    ready = self.ready_time(offset, waited)
                if ready is None or self._abort.is_set():
                    break
                self._wait_until(ready)
                if self._abort.is_set():
                    break
                sent = self._clock()
                with self._cond:
                    self.enqueue(offset, ready, sent)
                    self._cond.notify_all()
        except BaseException as exc:  # noqa: BLE001 -- handed to the worker, which re-raises it after join()
            self.error = exc
        finally:
            with self._cond:
                self.done = True
                self._cond.notify_all()

    def next_batch(self, max_batch: int, max_wait_ns: int, drain_ns: int | None) -> list[int] | None:
        with self._cond:
            while not self.queue:
                if self.done:
                    return None
                self._cond.wait()
            deadline = self.sent_ns[self.queue[0]] + max_wait_ns
            while len(self.queue) < max_batch and not self.done and not self.slots_full():
                remaining = deadline - self._clock()
                if remaining <= 0:
                    break
                self._cond.wait(remaining * 1e-9)
            return self.take(max_batch, self._clock(), drain_ns)

    def complete(self, n: int, end_ns: int) -> None:
        with self._cond:
            self.release(n, end_ns)
            self._cond.notify_all()

    def stop(self) -> None:
        self._abort.set()
        with self._cond:
            self._cond.notify_all()

    def join(self) -> None:
        self._thread.join()
        if self.error is not None:
            raise self.error
