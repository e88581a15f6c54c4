"""A CPU's roofs, measured: a short matmul probe (peak FLOP/s) and a STREAM-like probe (bandwidth).

CPUs have no datasheet figure that torch reaches (it depends on the ISA torch's kernels use, the
threads in force, turbo, the VM), so perfsuite measures them once per machine id (which includes
the CPU model, cores and torch threads: `perfsuite.results.env.machine_id_of`) and caches them in
`<out>/cache/peaks/<machine-id>.json`. Delete that file to measure again.

- compute: `torch.mm` of two NxN matrices (N=1024) in the case's dtype, best of a few calls, counted
  as 2·N³ FLOPs: what a well-tuned GEMM reaches with the threads in force, not the ISA's peak;
- bandwidth: STREAM's copy (`b.copy_(a)`, 2 arrays) and triad (`a = b + s·c`, 3 arrays) over arrays
  of 16 Mi float32 (64 MiB each, beyond any last-level cache of today's CPUs), best of a few
  repetitions; the triad's rate is the roof (STREAM's convention, write-allocate not counted).

Probes are best-of-N on purpose: a peak is what the machine can do, and a busy neighbour only
makes the measured roof lower, never higher (so a case can show more than 100% of a roof measured
on a busy machine; the report then says the roof is too low).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfsuite.measure.peaks import DevicePeak
from perfsuite.results.layout import atomic_write_text

CACHE_VERSION = 1
MATMUL_N = 1024
STREAM_ELEMENTS = 16 * 1024 * 1024
MIN_REPEATS = 3
PROBE_S = 0.5  # per probe: repeat until this long (after MIN_REPEATS)


@dataclass(frozen=True)
class ProbeSizes:
    matmul_n: int = MATMUL_N
    stream_elements: int = STREAM_ELEMENTS


def _best_s(fn: Callable[[], Any], now: Callable[[], float] = time.perf_counter) -> float:
    fn()  # warm-up: first-touch pages, kernel selection
    best, start, n = float("inf"), now(), 0
    while n < MIN_REPEATS or now() - start < PROBE_S:
        t0 = now()
        fn()
        best = min(best, now() - t0)
        n += 1
        if n >= 50:
            break
    return max(best, 1e-9)


def probe_matmul(dtype: str, n: int = MATMUL_N) -> float:
    """Best FLOP/s of an n×n `torch.mm` in `dtype` (fp32, bf16, fp16) on the CPU."""
    import torch

    tdtype = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    a = torch.randn(n, n).to(tdtype)
    b = torch.randn(n, n).to(tdtype)
    out = torch.empty(n, n, dtype=tdtype)
    with torch.inference_mode():
        return 2.0 * n**3 / _best_s(lambda: torch.mm(a, b, out=out))


def probe_stream(elements: int = STREAM_ELEMENTS) -> dict[str, float]:
    """Best bytes/s of STREAM copy and triad over float32 arrays of `elements`."""
    import torch

    a = torch.ones(elements)
    b = torch.full((elements,), 2.0)
    c = torch.full((elements,), 0.5)
    size = elements * 4
    with torch.inference_mode():
        copy = 2 * size / _best_s(lambda: b.copy_(a))
        triad = 3 * size / _best_s(lambda: torch.add(b, c, alpha=3.0, out=a))
    return {"copy": copy, "triad": triad}


def cache_path(out_dir: Path, machine_id: str) -> Path:
    return Path(out_dir) / "cache" / "peaks" / f"{machine_id}.json"


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # missing or unreadable: measured again and rewritten
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    return data


def cpu_peak(out_dir: Path, machine_id: str, cpu_name: str, dtype: str, *, sizes: ProbeSizes = ProbeSizes()) -> DevicePeak:
    """The measured roofs of this machine at `dtype`, from the cache or probed now (and cached)."""
    import torch

    path = cache_path(out_dir, machine_id)
    data = _read_cache(path)
    flops = data.get("flops") if isinstance(data.get("flops"), dict) else {}
    stream = data.get("stream") if isinstance(data.get("stream"), dict) else {}
    changed = False
    if not isinstance(flops.get(dtype), (int, float)):
        flops[dtype] = probe_matmul(dtype, sizes.matmul_n)
        changed = True
    if not isinstance(stream.get("triad"), (int, float)):
        stream = probe_stream(sizes.stream_elements)
        changed = True
    if changed:
        doc = {"version": CACHE_VERSION, "machine_id": machine_id, "cpu": cpu_name, "torch_threads": torch.get_num_threads(),
               "measured": time.strftime("%Y-%m-%dT%H:%M:%S"), "matmul_n": sizes.matmul_n, "stream_elements": sizes.stream_elements,
               "flops": flops, "stream": stream}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(doc, indent=1))
        except OSError:
            pass  # an unwritable out dir: measured again next run, nothing lost
    how = f"measured on this machine: torch.mm best-of-N and STREAM triad (sizes and date in {path})"
    return DevicePeak(cpu_name, dtype, float(flops[dtype]), float(stream["triad"]), how)
