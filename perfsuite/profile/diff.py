"""Profile diff of a regressed case: which ops (and layers) got slower, base run against head run.

    rows = diff_tables(base_ops, head_ops, base_steps=..., head_steps=...)   # pure
    write_diff(path, rows)                                                   # tables/<case>.diff.csv

Inputs are the op tables the profiled pass wrote (`tables/<case>.ops.csv`, columns
`perfsuite.profile.torch_profiler.OP_COLUMNS`) on each side, and the per-layer tables
(`tables/<case>.layers.csv`: module, calls, time_s, ...) when both sides have one. Times are made
per profiled step (the op tables sum `active` steps, which may differ between runs). An op's self
time is its device self time when it ran on the device, else its CPU self time (`time_basis`:
`device`, `cpu`, or `cpu-wait` for the host's waits on the device, ranked last). The
profiler's step wrappers (`ProfilerStep#N`) are left out: their names change with the step number
and their self time is the profiler's, not the model's.

Ops come first, ranked by their change in self time per step (largest increase first), then by
their change in calls; layer rows follow, ranked the same way by their change in time.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from perfsuite.errors import PerfDataError

DIFF_COLUMNS = ("kind", "name", "base_self_us", "head_self_us", "delta_self_us", "ratio", "base_count", "head_count", "delta_count",
                "time_basis")
STEP_WRAPPER = "ProfilerStep"
WAIT_OPS = ("cudaDeviceSynchronize", "cudaStreamSynchronize", "cudaEventSynchronize")  # host time spent waiting on the device
WAIT_BASIS = "cpu-wait"


@dataclass(frozen=True)
class DiffRow:
    kind: str  # "op" | "layer"
    name: str
    base_self_us: float  # per profiled step (ops) or per the layers table's pass (layers)
    head_self_us: float
    delta_self_us: float
    ratio: float | None  # head / base; None when the base side is 0 (new op)
    base_count: float
    head_count: float
    delta_count: float
    time_basis: str  # "cpu" | "device" | "cpu-wait" | "layer"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_table(path: Path, needed: Iterable[str]) -> list[dict[str, str]]:
    """The rows of a CSV table the profiler or the layer pass wrote; a clear error when it is not one."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in needed if c not in (reader.fieldnames or ())]
            if missing:
                raise PerfDataError(f"{path} is not a perfsuite table: it lacks the column(s) {', '.join(missing)}")
            return list(reader)
    except FileNotFoundError:
        raise PerfDataError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PerfDataError(f"cannot read {path}: {exc}") from None


def _number(row: Mapping[str, str], key: str, path: str) -> float:
    try:
        return float(row.get(key) or 0.0)
    except ValueError:
        raise PerfDataError(f"{path}: column {key!r} of {row.get('name') or row.get('module')!r} is not a number: {row.get(key)!r}") from None


def _ranked(rows: list[DiffRow]) -> list[DiffRow]:
    # Host waits last: their time is the device work they wait for, already in that work's own rows.
    return sorted(rows, key=lambda r: (r.time_basis == WAIT_BASIS, -r.delta_self_us, -r.delta_count, r.name))


def _pairs(base: dict[str, tuple[float, float]], head: dict[str, tuple[float, float]], kind: str,
           basis: dict[str, str] | str) -> list[DiffRow]:
    out = []
    for name in dict.fromkeys([*head, *base]):
        bt, bc = base.get(name, (0.0, 0.0))
        ht, hc = head.get(name, (0.0, 0.0))
        how = basis if isinstance(basis, str) else basis[name]
        out.append(DiffRow(kind, name, bt, ht, ht - bt, (ht / bt) if bt > 0 else None, bc, hc, hc - bc, how))
    return _ranked(out)


def diff_ops(base: list[dict[str, str]], head: list[dict[str, str]], *, base_steps: int, head_steps: int,
             base_name: str = "base", head_name: str = "head") -> list[DiffRow]:
    """Op rows (`ops.csv` dicts) of both sides -> ranked per-step differences of self time and calls.

    Each op's self time is its device self time when it ran on the device (on either side), else
    its CPU self time: a slower kernel shows on the device, a slower host step (Python, a spin, a
    copy) on the CPU. Host waits for the device (`cuda*Synchronize`) keep their CPU time, marked
    `cpu-wait` and ranked after the rest.
    """
    if base_steps < 1 or head_steps < 1:
        raise ValueError(f"profiled steps must be >= 1 (base {base_steps}, head {head_steps})")
    on_device = {r.get("name") for rows, where in ((base, base_name), (head, head_name)) for r in rows
                 if _number(r, "self_device_us", where) > 0}

    def per_step(rows: list[dict[str, str]], steps: int, where: str) -> dict[str, tuple[float, float]]:
        out: dict[str, tuple[float, float]] = {}
        for r in rows:
            name = r.get("name") or ""
            if not name or name.startswith(STEP_WRAPPER):
                continue
            key = "self_device_us" if name in on_device else "self_cpu_us"
            t, c = out.get(name, (0.0, 0.0))
            out[name] = (t + _number(r, key, where) / steps, c + _number(r, "count", where) / steps)
        return out

    b, h = per_step(base, base_steps, base_name), per_step(head, head_steps, head_name)
    basis = {name: "device" if name in on_device else WAIT_BASIS if name.startswith(WAIT_OPS) else "cpu" for name in [*b, *h]}
    return _pairs(b, h, "op", basis)


def diff_layers(base: list[dict[str, str]], head: list[dict[str, str]], *, base_name: str = "base", head_name: str = "head") -> list[DiffRow]:
    """Layer rows (`layers.csv` dicts: module, calls, time_s) of both sides -> ranked differences (µs)."""

    def table(rows: list[dict[str, str]], where: str) -> dict[str, tuple[float, float]]:
        return {r.get("module") or "": (_number(r, "time_s", where) * 1e6, _number(r, "calls", where)) for r in rows if r.get("module")}

    return _pairs(table(base, base_name), table(head, head_name), "layer", "layer")


def write_diff(path: Path, rows: Iterable[DiffRow]) -> Path:
    """Write the diff CSV (atomically: a reader never sees half a table)."""
    from perfsuite.results.layout import atomic_write_text
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=DIFF_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        d = r.to_dict()
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else ("" if v is None else v)) for k, v in d.items()})
    atomic_write_text(Path(path), buf.getvalue())
    return Path(path)
