"""Was the machine itself slow? A fixed reference kernel timed right before and right after a case.

    probe = SpeedProbe()                       # one per process: it keeps the fastest probe seen
    before = probe.measure()
    m = measure(fn, clock=clock_for("cpu"))
    report = probe.report(before, probe.measure())
    if (flag := report.noise_flag()) is not None:
        m = m.with_noise(flag.code, flag.reason)   # "host_slow"

On a virtual machine the host can slow the whole guest for seconds to minutes (other tenants on
the same socket share its caches, memory bandwidth and clocks). Nothing inside the guest accounts
for it (the development VM's steal time stays 0), and no statistic of one run sees it when it
covers the whole run: one 0.5 s run of an unchanged case had its fastest call 30% slower than
the median of 129 other runs, with a normal block spread and no contention flag
(docs/performance.md). A fixed kernel timed on the same core next to the case sees the same
slowdown: over 60 runs in a noisy hour the fastest probe around each run moved with the run's
fastest call (correlation 0.98 of the logs). Not every whole-run slowdown is the machine's: a
run slowed for itself (the same day, +29% with both probes within 0.6%, cause unknown) is not
flagged.

The kernel is a 96x96 float32 matmul (about 20 us, in L1/L2; single-threaded at this size),
repeated `REPS` times; a probe is the fastest repetition. The reference is the fastest probe this
process has seen (`SpeedProbe` lives as long as the pytest session). A case is flagged
``host_slow`` when both probes around it are more than `HOST_SLOW_THRESHOLD` above the
reference: the case's fastest samples can only have been raised when the slowdown lasted through
the whole measurement, and then the probe on either side sees it. A session that runs slow from
its first probe to its last is not flagged (its reference is slow too), nor is the first case of
a session (its own probes are the reference); the replicate baselines measure that drift between
runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from perfsuite.measure.record import NoiseFlag

HOST_SLOW_THRESHOLD = 0.03  # both probes this much slower than the session's fastest: flag the case
REPS = 40  # repetitions per probe: the fastest of them is the probe (about 1 ms in all)
SIZE = 96  # matrix side of the reference matmul


@dataclass(frozen=True)
class SpeedReport:
    """The probes around one case against the session's reference (seconds per kernel call)."""

    before_s: float
    after_s: float
    reference_s: float
    threshold: float = HOST_SLOW_THRESHOLD

    @property
    def slowdown(self) -> float:
        """How much slower than the reference the faster of the two probes was (0.05: 5%)."""
        return min(self.before_s, self.after_s) / self.reference_s - 1.0

    def noise_flag(self) -> NoiseFlag | None:
        if self.slowdown <= self.threshold:
            return None
        return NoiseFlag(
            "host_slow",
            f"the machine itself ran slow around this case: a reference kernel took {self.slowdown:.1%} longer before and after it "
            f"than its fastest in this session (> {self.threshold:.0%}); another tenant of the host or a slower clock, not the code",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "before_s": self.before_s,
            "after_s": self.after_s,
            "reference_s": self.reference_s,
            "slowdown": self.slowdown,
            "threshold": self.threshold,
            "host_slow": self.noise_flag() is not None,
        }


class SpeedProbe:
    """Times the reference kernel and keeps the fastest probe seen (the session's reference)."""

    def __init__(self, kernel: Callable[[], object] | None = None, *, timer: Callable[[], float] = time.perf_counter,
                 reps: int = REPS, threshold: float = HOST_SLOW_THRESHOLD) -> None:
        if reps < 1:
            raise ValueError(f"reps must be >= 1, got {reps}")
        if not 0 < threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
        self._kernel = kernel
        self._timer = timer
        self.reps = reps
        self.threshold = threshold
        self.reference_s: float | None = None

    def _default_kernel(self) -> Callable[[], object]:
        import torch

        gen = torch.Generator().manual_seed(0)
        a = torch.randn(SIZE, SIZE, generator=gen)
        b = torch.randn(SIZE, SIZE, generator=gen)
        out = torch.empty(SIZE, SIZE)
        return lambda: torch.mm(a, b, out=out)

    def measure(self) -> float:
        """One probe: the fastest of `reps` kernel calls (seconds); updates the reference."""
        if self._kernel is None:
            self._kernel = self._default_kernel()
        kernel, timer = self._kernel, self._timer
        kernel()  # touch the operands: the first call after a case pays for its cache misses
        best = float("inf")
        for _ in range(self.reps):
            t0 = timer()
            kernel()
            best = min(best, timer() - t0)
        if best > 0 and (self.reference_s is None or best < self.reference_s):
            self.reference_s = best
        return best

    def report(self, before_s: float, after_s: float) -> SpeedReport | None:
        """The probes around a case against the fastest seen so far (None without a usable reference)."""
        if self.reference_s is None or self.reference_s <= 0 or before_s <= 0 or after_s <= 0:
            return None
        return SpeedReport(before_s, after_s, self.reference_s, self.threshold)


_SESSION_PROBE: list[SpeedProbe] = []


def session_probe() -> SpeedProbe:
    """The process's probe: its reference is the fastest probe of every case measured in this process."""
    if not _SESSION_PROBE:
        from perfsuite.confirm import probe_reference_from_env

        probe = SpeedProbe()
        # A gate's confirmation run starts from its parent's fastest probe (perfsuite.confirm), so
        # that its first case, too, is compared with the machine at its best.
        probe.reference_s = probe_reference_from_env()
        _SESSION_PROBE.append(probe)
    return _SESSION_PROBE[0]
