"""conf/gate/<name>.yaml -> `GatePolicy` plus what an inconclusive verdict does. Validated in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfsuite.compare.verdict import METRIC_GROUPS, METRICS, STATISTICS, GatePolicy
from perfsuite.config.fields import Fields
from perfsuite.config.sources import ConfSources
from perfsuite.errors import PerfConfigError

INCONCLUSIVE = ("pass", "warn", "fail")


@dataclass(frozen=True)
class GateSpec:
    name: str
    policy: GatePolicy
    inconclusive: str  # pass | warn | fail


def load_gate(name: str = "default", conf_dirs: tuple[str | Path, ...] = ()) -> GateSpec:
    import yaml

    sources = ConfSources.create(tuple(conf_dirs))
    path = sources.find("gate", name)
    if path is None:
        raise PerfConfigError("unknown gate config", key="--perf-gate-config", value=name, allowed=sources.options("gate"))
    file = sources.display(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PerfConfigError(f"YAML syntax error: {str(exc).splitlines()[0]}", file=file) from None
    return gate_spec(data, name=name, file=file)


def gate_spec(data: Any, *, name: str, file: str | None) -> GateSpec:
    f = Fields(data, section="", file=file, overridden={})
    alpha = _ratio(f, "alpha", 0.01, upper=0.5)
    statistic = f.string("statistic", choices=STATISTICS, default="min")
    floor = _ratio(f, "noise_floor", 0.05, lower_ok=True, upper=0.5)
    t = f.sub("thresholds")
    thresholds = {g: _ratio(t, g, GatePolicy().thresholds[g], lower_ok=True, upper=10.0) for g in METRIC_GROUPS}
    t.done()
    rules = []
    for i, entry in enumerate(f.raw_list("cases", default=[])):
        c = Fields(entry, section=f"cases[{i}]", file=file, overridden={})
        rules.append((c.string("match"), c.string("metric", choices=METRIC_GROUPS), _ratio(c, "threshold", None, lower_ok=True, upper=10.0)))
        c.done()
    inconclusive = f.string("inconclusive", choices=INCONCLUSIVE, default="warn")
    gate_noisy = f.boolean("gate_noisy", default=False)
    min_replicates = f._get("min_replicates", 3)
    if isinstance(min_replicates, bool) or not isinstance(min_replicates, int) or not 2 <= min_replicates <= 50:
        f.error("min_replicates", "must be a whole number of baseline runs from 2 to 50", value=min_replicates)
    replicate_floor = _ratio(f, "replicate_floor", 0.002, lower_ok=True, upper=0.5)
    known = {m.name for ms in METRICS.values() for m in ms if m.samples is not None}
    n = f.sub("noise_floors")  # a timing metric's own floor (two separate runs' spread), e.g. {e2e: 0.16}
    for name in sorted(n.data):
        if name not in known:
            n.error(name, "not a timing metric", value=n.data[name], allowed=sorted(known))
    floors = {name: _ratio(n, name, None, lower_ok=True, upper=0.5) for name in sorted(n.data)}
    n.done()
    memory_floor = f._get("memory_floor_mib", 8)
    if isinstance(memory_floor, bool) or not isinstance(memory_floor, (int, float)) or not 0 <= memory_floor <= 2**20:
        f.error("memory_floor_mib", "must be MiB from 0 to 1048576 (a memory growth under it is never a regression)", value=memory_floor)
    f.done()
    policy = GatePolicy(
        alpha=alpha, noise_floor=floor, statistic=statistic, thresholds=thresholds, case_thresholds=tuple(rules), gate_noisy=gate_noisy,
        min_replicates=min_replicates, replicate_floor=replicate_floor, memory_floor_bytes=float(memory_floor) * 2**20,
        noise_floors=floors,
    )
    return GateSpec(name, policy, inconclusive)


def _ratio(f: Fields, key: str, default: float | None, *, lower_ok: bool = False, upper: float) -> float:
    value = f._get(key, default)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (0 <= value if lower_ok else 0 < value) and value < upper
    if not ok:
        f.error(key, "must be a ratio" + (" >= 0" if lower_ok else " > 0") + f" and < {upper:g} (0.05 = 5%)", value=value)
    return float(value)
