"""`scenario` (conf/scenario/<name>.yaml, selected with scenario=NAME) -> `ScenarioSpec`.

Each kind reads only its own keys: a key another kind has (``rate`` on an offline scenario)
is an error naming the kind's keys, never ignored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from perfsuite.config.fields import Fields, article
from perfsuite.config.schema import (
    ARRIVAL_PROCESSES,
    MAX_SCENARIO_DURATION_S,
    MAX_SCENARIO_QUERIES,
    SCENARIO_KINDS,
    SLO_PERCENTILES,
    ScenarioSpec,
    SloSpec,
    SweepSpec,
)

_COMMON = ("name", "kind", "duration_s", "min_queries")
_LOAD = ("arrival", "shape", "seed", "concurrency", "max_wait_ms", "max_drain_s", "slo")
KEYS: Mapping[str, tuple[str, ...]] = {
    "single_stream": (*_COMMON, "slo"),
    "offline": _COMMON,
    "server": (*_COMMON, *_LOAD, "rate", "rate_of_capacity"),
    "sweep": (*_COMMON, *_LOAD, "sweep"),
}
_NAME = re.compile(r"^[A-Za-z0-9_.]+$")


def number(f: Fields, key: str, *, default: Any, low: float = 0.0, above: bool = True, high: float = math.inf,
           hint: str | None = None) -> Any:
    """A finite number in (low, high] (``above``) or [low, high]; None stays None when that is the default."""
    value = f._get(key, default)
    if value is None:
        return None
    bad = isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
    if bad or value < low or (above and value == low) or value > high:
        side = ">" if above else ">="
        allowed = f"numbers {side} {low:g}" + (f" and <= {high:g}" if high != math.inf else "")
        f.error(key, f"must be a number {side} {low:g}" + (f" and <= {high:g}" if high != math.inf else ""), value=value,
                allowed=allowed, hint=hint)
    return float(value)


def _optional_int(f: Fields, key: str, *, minimum: int, maximum: int) -> int | None:
    value = f._get(key, None)
    return None if value is None else f._check_int(key, value, minimum, maximum)


def _slo(f: Fields) -> SloSpec:
    s = f.sub("slo")
    found = [(key, q, v) for key, q in SLO_PERCENTILES if (v := number(s, key, default=None)) is not None]
    if len(found) > 1:
        s.error(found[1][0], "one latency percentile per SLO", value=found[1][2], hint=f"keep one of {', '.join(k for k, _, _ in found)}")
    latency, attainment = (found[0][2], found[0][1]) if found else (None, 0.99)
    spec = SloSpec(
        latency_ms=latency, attainment=attainment,
        ttft_ms=number(s, "ttft_ms", default=None, hint="decoders only (a case that generates)"),
        tpot_ms=number(s, "tpot_ms", default=None, hint="decoders only (a case that generates)"),
    )
    s.done()
    return spec


def _sweep(f: Fields) -> SweepSpec:
    w = f.sub("sweep")
    d = SweepSpec()
    spec = SweepSpec(
        start_rate=number(w, "start_rate", default=d.start_rate, hint="requests/s; null: half the capacity measured first"),
        growth=number(w, "growth", default=d.growth, low=1.0, high=100.0, hint="the factor between expanding probes, e.g. 2"),
        rel_tol=number(w, "rel_tol", default=d.rel_tol, high=1.0, hint="stop bisecting when first fail / last pass - 1 <= rel_tol"),
        max_attempts=w.integer("max_attempts", minimum=1, maximum=20, default=d.max_attempts),
        max_probes=w.integer("max_probes", minimum=1, maximum=200, default=d.max_probes),
    )
    w.done()
    return spec


def scenario_spec(data: Any, *, file: str | None, overridden: Mapping[str, str]) -> ScenarioSpec | None:
    """The selected scenario, validated; None when none is selected (``scenario: null`` in conf/config.yaml)."""
    if data is None:
        return None
    f = Fields(data, section="scenario", file=file, overridden=overridden)
    kind = f.string("kind", choices=SCENARIO_KINDS)
    name = f.string("name")
    if not _NAME.match(name):
        f.error("name", "a scenario's name ends its cases' ids: letters, digits, '_' and '.' only", value=name)
    unknown = sorted(set(f.data) - set(KEYS[kind]))
    if unknown:
        f.error(unknown[0], f"not a setting of {article(kind)} scenario", value=f.data[unknown[0]], allowed=KEYS[kind],
                hint="each kind has its own keys (conf/scenario/*.yaml)")
    d = ScenarioSpec(name=name, kind=kind)
    load = kind in ("server", "sweep")
    spec = ScenarioSpec(
        name=name,
        kind=kind,
        rate=number(f, "rate", default=None, hint="offered requests per second") if kind == "server" else None,
        rate_of_capacity=number(f, "rate_of_capacity", default=None, high=100.0,
                                hint="the offered rate as a share of the capacity measured before the load (0.5: half)") if kind == "server" else None,
        arrival=f.string("arrival", choices=ARRIVAL_PROCESSES, default=d.arrival) if load else d.arrival,
        shape=number(f, "shape", default=d.shape, hint="1 is Poisson; smaller is burstier, larger more regular") if load else d.shape,
        seed=f.integer("seed", minimum=0, default=d.seed) if load else d.seed,
        concurrency=_optional_int(f, "concurrency", minimum=1, maximum=MAX_SCENARIO_QUERIES) if load else None,
        max_wait_ms=number(f, "max_wait_ms", default=d.max_wait_ms, above=False, high=60_000.0) if load else 0.0,
        duration_s=number(f, "duration_s", default=d.duration_s, above=False, high=MAX_SCENARIO_DURATION_S),
        min_queries=f.integer("min_queries", minimum=1, maximum=MAX_SCENARIO_QUERIES, default=d.min_queries),
        max_drain_s=number(f, "max_drain_s", default=d.max_drain_s, above=False, high=MAX_SCENARIO_DURATION_S) if load else d.max_drain_s,
        slo=_slo(f) if "slo" in KEYS[kind] else SloSpec(),
        sweep=_sweep(f) if kind == "sweep" else None,
    )
    f.done()
    if kind == "server" and spec.rate is None and spec.rate_of_capacity is None:
        f.error("rate", "a server scenario needs rate (requests/s) or rate_of_capacity", value=None,
                hint="e.g. scenario.rate=200, or scenario.rate_of_capacity=0.5 (of the capacity measured first)")
    if spec.rate is not None and spec.rate_of_capacity is not None:
        spec = replace(spec, rate_of_capacity=None)  # a rate given wins over the preset's share of capacity
    if kind == "sweep" and spec.slo.empty:
        f.error("slo", "a sweep searches the highest rate that meets an SLO: set one", hint="e.g. scenario.slo.p99_ms=50")
    if spec.arrival != "gamma" and spec.shape != 1.0:
        f.error("shape", f"only a gamma arrival process has a shape (this one is {spec.arrival})", value=spec.shape,
                hint="set scenario.arrival=gamma, or leave shape at 1.0")
    return spec
