"""Per-layer time: forward hooks on every submodule, in a pass of their own (never the timed rounds).

Each module gets a forward pre-hook and a forward hook. Both first wait for the device
(`perfsuite.measure.sync.synchronizer`: `torch.cuda.synchronize(device)` on CUDA, nothing on the
CPU) and then read `time.perf_counter`, so a module's time is the wall time of its forward with
its queued kernels finished: inclusive of its children, and of their hooks. That last part is the
hooks' own cost; it is measured, not hidden: the same number of forwards is timed without hooks
just before, and `hook_overhead` (hooked median / unhooked median) goes into the results.

The table `tables/<case>.layers.csv` has one row per module that ran:

    module  qualified name ("" for the root)      type    class name
    depth   0 for the root, 1 for its children    calls   calls per forward of the model
    time_s  inclusive seconds per forward of the model (all its calls in one forward, averaged
            over the passes)
    share   time_s / the root's time_s            params  parameters it owns, its children's included
    flops   FLOPs per forward (torch's FlopCounterMode, one extra uncounted-in-time forward);
            empty when counting failed

A hook that raises (a user's module, a sync that fails) ends the pass with `PerfProfileError`
naming the module; the hooks are always removed, and no table is written.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfsuite.errors import PerfProfileError
from perfsuite.profile.files import write_csv
from perfsuite.results.layout import path_inside

LAYER_COLUMNS = ("module", "type", "depth", "calls", "time_s", "share", "params", "flops")


@dataclass(frozen=True)
class LayerRow:
    module: str
    type: str
    depth: int
    calls: float
    time_s: float
    share: float | None
    params: int
    flops: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "type": self.type,
            "depth": self.depth,
            "calls": self.calls,
            "time_s": self.time_s,
            "share": self.share,
            "params": self.params,
            "flops": self.flops,
        }


@dataclass(frozen=True)
class LayerTiming:
    """What the layer pass found: every module's row (table order), and what the hooks cost."""

    table_path: Path
    rows: tuple[LayerRow, ...]
    passes: int
    hooked_median_s: float
    unhooked_median_s: float
    flops_note: str | None = None  # why the flops column is empty, when it is

    @property
    def root_time_s(self) -> float:
        return self.rows[0].time_s if self.rows else 0.0

    @property
    def hook_overhead(self) -> float | None:
        """hooked / unhooked median forward time: 1.10 means the hooks made a forward 10% slower."""
        return self.hooked_median_s / self.unhooked_median_s if self.unhooked_median_s > 0 else None

    def top(self, n: int) -> tuple[LayerRow, ...]:
        """The `n` slowest modules below the root, by inclusive time (the root, always 100%, left out)."""
        return tuple(sorted((r for r in self.rows if r.depth > 0), key=lambda r: -r.time_s)[:n])


class _Hooks:
    """The pre/post hook pair of every module; times per module name, summed over calls."""

    def __init__(self, now: Callable[[], float], sync: Callable[[], None]) -> None:
        self.now, self.sync = now, sync
        self.started: dict[int, list[float]] = {}
        self.total_s: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def pre(self, name: str) -> Callable[..., None]:
        def hook(module: Any, args: Any) -> None:
            try:
                self.sync()
                self.started.setdefault(id(module), []).append(self.now())
            except Exception as exc:
                raise PerfProfileError(f"the layer pass's pre-hook on module {name or '<root>'!r} failed: {type(exc).__name__}: {exc}") from exc

        return hook

    def post(self, name: str) -> Callable[..., None]:
        def hook(module: Any, args: Any, output: Any) -> None:
            try:
                self.sync()
                end = self.now()
                start = self.started[id(module)].pop()
            except Exception as exc:
                raise PerfProfileError(f"the layer pass's hook on module {name or '<root>'!r} failed: {type(exc).__name__}: {exc}") from exc
            self.total_s[name] = self.total_s.get(name, 0.0) + (end - start)
            self.calls[name] = self.calls.get(name, 0) + 1

        return hook


def _flops_by_module(root: Any, call: Callable[[], Any]) -> tuple[dict[str, int], str | None]:
    """FLOPs per forward by qualified module name ("" the root), or ({}, why not)."""
    try:
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
        with counter:
            call()
        counts = counter.get_flop_counts()
    except Exception as exc:  # counting is a nicety: the times stand without it
        return {}, f"FLOPs not counted: {type(exc).__name__}: {exc}"
    prefix = type(root).__name__
    out = {}
    for key, ops in counts.items():
        if key == "Global":
            continue
        name = "" if key == prefix else key.removeprefix(prefix + ".")
        out[name] = int(sum(ops.values()))
    return out, None


def time_layers(
    module: Any,
    call: Callable[[], Any],
    *,
    out_dir: Path,
    name: str,
    passes: int = 5,
    warmup: int = 1,
    sync: Callable[[], None] = lambda: None,
    now: Callable[[], float] = time.perf_counter,
    count_flops: bool = True,
) -> LayerTiming:
    """Time `passes` forwards (`call()`, which runs `module`) with a hook pair on every submodule.

    Before: `warmup` untimed calls, then `passes` calls without hooks (the overhead's reference).
    Writes `out_dir/tables/<name>.layers.csv`; raises `PerfProfileError` if a hook raises.
    """
    import torch

    if passes < 1:
        raise ValueError(f"passes must be >= 1, got {passes}")
    modules = list(module.named_modules())
    hooks = _Hooks(now, sync)
    handles = []

    def timed() -> float:
        t0 = now()
        call()
        sync()
        return now() - t0

    try:
        with torch.inference_mode():
            for _ in range(warmup):
                call()
                sync()
            unhooked = [timed() for _ in range(passes)]
            for qual, mod in modules:
                handles.append(mod.register_forward_pre_hook(hooks.pre(qual)))
                handles.append(mod.register_forward_hook(hooks.post(qual)))
            hooked = [timed() for _ in range(passes)]
    except PerfProfileError:
        raise
    except Exception as exc:  # the model, or a user's own hook, raised during the pass
        raise PerfProfileError(f"the layer pass failed: {type(exc).__name__}: {exc}") from exc
    finally:
        for h in handles:
            h.remove()
    with torch.inference_mode():
        flops, note = _flops_by_module(module, call) if count_flops else ({}, "FLOPs not counted (count_flops off)")
    root_s = hooks.total_s.get("", 0.0) / passes
    rows = []
    for qual, mod in modules:
        if qual not in hooks.calls:
            continue  # never ran in this forward (an unused head, a branch not taken)
        t = hooks.total_s[qual] / passes
        rows.append(
            LayerRow(
                module=qual,
                type=type(mod).__name__,
                depth=0 if qual == "" else qual.count(".") + 1,
                calls=hooks.calls[qual] / passes,
                time_s=t,
                share=(t / root_s) if root_s > 0 else None,
                params=sum(p.numel() for p in mod.parameters()),
                flops=flops.get(qual) if flops else None,
            )
        )
    if count_flops and not flops and note is None:
        note = "FLOPs not counted: the counter saw no module"
    table = path_inside(out_dir / "tables", name, ".layers.csv")
    write_csv(table, LAYER_COLUMNS, [r.to_dict() for r in rows], "layer table")
    return LayerTiming(
        table_path=table,
        rows=tuple(rows),
        passes=passes,
        hooked_median_s=statistics.median(hooked),
        unhooked_median_s=statistics.median(unhooked),
        flops_note=note,
    )
