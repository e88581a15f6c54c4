"""Seeded arrival schedules: when each request of a load scenario should be sent.

A schedule is a tuple of offsets in seconds from the start of the run, non-decreasing,
drawn from a renewal process whose gaps are independent::

    constant   every gap is 1 / rate
    poisson    exponential gaps with mean 1 / rate (a Poisson process; LoadGen's Server scenario)
    gamma      gamma gaps with shape k and mean 1 / rate (vLLM's ``--burstiness k``:
               k = 1 is Poisson, k < 1 burstier, k > 1 more regular)

Offsets are cumulative sums of the gaps, so the first request comes one gap after t = 0
(constant: exactly ``i / rate`` for request i = 1, 2, ...).
The same (process, rate, shape, seed) always gives the same offsets, and a shorter schedule is
a prefix of a longer one: gaps come from one `numpy.random.Generator` stream in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from perfsuite.errors import PerfConfigError

ArrivalProcess = Literal["constant", "poisson", "gamma"]
ARRIVAL_PROCESSES: tuple[str, ...] = get_args(ArrivalProcess)

#: No schedule may hold more requests than this (a typo in rate or duration, not a benchmark).
MAX_ARRIVALS = 50_000_000
_CHUNK = 4096


@dataclass(frozen=True)
class ArrivalSpec:
    """How requests arrive: the process, its mean rate, the gamma shape and the seed."""

    process: ArrivalProcess = "poisson"
    rate_per_s: float = 1.0
    seed: int = 0
    shape: float = 1.0  # gamma only; vLLM's burstiness

    def __post_init__(self) -> None:
        _validate(self.process, self.rate_per_s, self.shape, self.seed)

    def times(self, *, n: int | None = None, duration_s: float | None = None) -> tuple[float, ...]:
        """The schedule's offsets (see `arrival_times`)."""
        return arrival_times(
            self.process, self.rate_per_s, n=n, duration_s=duration_s, seed=self.seed, shape=self.shape
        )

    def to_dict(self) -> dict[str, object]:
        return {"process": self.process, "rate_per_s": self.rate_per_s, "seed": self.seed, "shape": self.shape}


def _validate(process: str, rate_per_s: float, shape: float, seed: int) -> None:
    if process not in ARRIVAL_PROCESSES:
        raise PerfConfigError(
            "unknown arrival process", key="arrivals.process", value=process, allowed=ARRIVAL_PROCESSES,
            hint="poisson is LoadGen's Server scenario; gamma with shape k is vLLM's --burstiness k",
        )
    if not rate_per_s > 0 or rate_per_s == float("inf"):
        raise PerfConfigError(
            "the arrival rate must be a positive, finite number of requests per second",
            key="arrivals.rate_per_s", value=rate_per_s,
        )
    if not shape > 0 or shape == float("inf"):
        raise PerfConfigError(
            "the gamma shape must be a positive, finite number", key="arrivals.shape", value=shape,
            hint="shape 1 is a Poisson process; smaller is burstier, larger more regular",
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise PerfConfigError("the seed must be a non-negative integer", key="arrivals.seed", value=seed)


def arrival_times(
    process: ArrivalProcess,
    rate_per_s: float,
    *,
    n: int | None = None,
    duration_s: float | None = None,
    seed: int = 0,
    shape: float = 1.0,
) -> tuple[float, ...]:
    """Offsets (s) of a seeded schedule: at least ``n`` requests and through ``duration_s``.

    Give ``n``, ``duration_s`` or both. With both, the schedule runs until both are met, as
    LoadGen's min query count and min duration: it holds ``max(n, count before duration_s)``
    requests. With ``duration_s`` alone it holds every arrival before ``duration_s``.
    """
    _validate(process, rate_per_s, shape, seed)
    if n is None and duration_s is None:
        raise PerfConfigError(
            "a schedule needs a length", key="arrivals", hint="pass n=<requests>, duration_s=<seconds> or both"
        )
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise PerfConfigError("n must be a non-negative integer", key="arrivals.n", value=n)
    if duration_s is not None and not 0 <= duration_s < float("inf"):
        raise PerfConfigError("duration_s must be a finite number >= 0", key="arrivals.duration_s", value=duration_s)
    min_n = n or 0
    expected = max(min_n, (duration_s or 0.0) * rate_per_s)
    if expected > MAX_ARRIVALS:
        raise PerfConfigError(
            f"the schedule would hold about {expected:.3g} requests (more than {MAX_ARRIVALS})",
            key="arrivals", hint="check rate_per_s, n and duration_s (seconds, not milliseconds)",
        )
    import numpy as np  # lazy: numpy is not needed to import perfsuite

    rng = np.random.default_rng(seed)

    def gaps(size: int) -> list[float]:
        if process == "constant":
            return [1.0 / rate_per_s] * size
        if process == "poisson":
            return [float(g) for g in rng.exponential(1.0 / rate_per_s, size)]
        return [float(g) for g in rng.gamma(shape, 1.0 / (rate_per_s * shape), size)]

    out: list[float] = []
    t = 0.0
    while True:
        for gap in gaps(_CHUNK):
            t = (len(out) + 1) / rate_per_s if process == "constant" else t + gap  # constant: no rounding drift
            if len(out) >= min_n and (duration_s is None or t >= duration_s):
                return tuple(out)
            out.append(t)
        if len(out) > MAX_ARRIVALS:  # a gamma shape so small that gaps are ~0: refuse, do not exhaust memory
            raise PerfConfigError(
                f"the schedule exceeded {MAX_ARRIVALS} requests", key="arrivals",
                hint="a tiny gamma shape packs requests into bursts of near-zero gaps; raise shape",
            )
