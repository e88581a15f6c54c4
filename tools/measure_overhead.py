"""Overhead of the path a benchmark run really times, on a ~100 µs CPU op, against a bare loop.

The perfsuite side is `perfsuite.runner.measure_latency` -- what benches/test_latency.py calls --
with a real case's config (its clock, trackers, memory pass, gc setting and a progress
callback, as under the pytest plugin), only its policies fixed to a number of iterations. The
bare side is a perf_counter_ns loop with the garbage collector off (as timeit does). Both
time the same square matmul (sized at start-up to take ~100 µs on one thread) for the same
number of iterations; the pairs alternate so drift hits both. Per-iteration time = wall time
of the timed rounds / iterations (chunking, stopping checks and progress calls included).
Target: ratio <= 1.02. A third loop, `measure()` with the 10 ms RSS sampler thread running
beside it (how runs were timed before the memory pass moved after the timed rounds), shows
what that thread cost.

On a shared, noisy machine the op's own jitter swamps those ratios, so the script also times
the loops around a no-op: the difference is what perfsuite adds per iteration, printed as a
fraction of the op's median time and of a 1 ms op.

    .venv/bin/python tools/measure_overhead.py [--iterations 5000] [--pairs 7] [--target-us 100]
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import torch  # noqa: E402

from perfsuite.config import build_plan  # noqa: E402
from perfsuite.measure import CpuClock, RssSampler, StopPolicy, WarmupPolicy, measure  # noqa: E402
from perfsuite.runner import measure_latency  # noqa: E402


def calibrate(target_s: float) -> tuple[int, float]:
    """Matrix size whose matmul takes about ``target_s`` on this thread."""
    n = 64
    while True:
        a, b = torch.randn(n, n), torch.randn(n, n)
        for _ in range(20):
            a @ b
        reps = 200
        t0 = time.perf_counter()
        for _ in range(reps):
            a @ b
        per = (time.perf_counter() - t0) / reps
        if per >= target_s or n >= 2048:
            return n, per
        n = max(n + 8, int(n * (target_s / per) ** (1 / 3)))


WARMUP = WarmupPolicy(min_calls=1, window=1, rel_tol=0.5)


def fixed(iterations: int) -> StopPolicy:
    return StopPolicy(min_time_s=1e-3, min_rounds=iterations, max_rounds=iterations, target_rel_ci=0.5,
                      max_time_s=600, hard_max_time_s=600)


def bare_loop(fn, iterations: int) -> tuple[float, float]:
    """(wall seconds per iteration, median of the timed durations), garbage collector off."""
    timer = time.perf_counter_ns
    out = []
    append = out.append
    gc.collect()
    gc.disable()
    try:
        w0 = time.perf_counter()
        for _ in range(iterations):
            t0 = timer()
            fn()
            t1 = timer()
            append(t1 - t0)
        wall = time.perf_counter() - w0
    finally:
        gc.enable()
    return wall / iterations, statistics.median(out) * 1e-9


def run_case():
    """A real CPU case's config (model and data are not built: only the measure path is used)."""
    case = build_plan(device="cpu", overrides=["model=bert.tiny", "dataset=pydoc", "infer.batch_sizes=[1]"]).cases[0]
    return case


def run_path_loop(case, fn, iterations: int) -> tuple[float, float]:
    """`measure_latency` as benches/test_latency.py calls it, with a progress callback as under pytest."""
    spec = dataclasses.replace(case.config.measure, warmup=WARMUP, stop=fixed(iterations))
    case = dataclasses.replace(case, config=dataclasses.replace(case.config, measure=spec))
    batches = SimpleNamespace(inputs=({},), tokens_per_batch=0.0)
    module = torch.nn.Linear(1, 1)
    outcome = measure_latency(case, lambda inputs: fn(), batches, module, progress=lambda event: None)
    m = outcome.measurement
    assert m is not None and m.rounds == iterations, m
    return m.total_time_s / m.rounds, m.median_s or statistics.median(m.samples_s)


def sampler_beside_loop(fn, iterations: int) -> tuple[float, float]:
    """`measure()` with the RSS sampler thread running during the timed rounds (the old arrangement)."""
    with RssSampler():
        m = measure(fn, clock=CpuClock(), warmup=WARMUP, stop=fixed(iterations))
    return m.total_time_s / m.rounds, m.median_s or statistics.median(m.samples_s)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iterations", type=int, default=5000, metavar="N", help="iterations per loop (default: 5000)")
    p.add_argument("--pairs", type=int, default=7, metavar="K", help="alternating bare/perfsuite pairs (default: 7)")
    p.add_argument("--target-us", type=float, default=100.0, metavar="US", help="op duration to size for (default: 100)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    n, per = calibrate(args.target_us * 1e-6)
    a, b = torch.randn(n, n), torch.randn(n, n)
    fn = lambda: a @ b  # noqa: E731
    print(f"op: {n}x{n} float32 matmul, ~{per * 1e6:.1f} us, torch threads={torch.get_num_threads()}, "
          f"nproc={os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    for _ in range(200):
        fn()
    case = run_case()
    ratios, med_ratios, old_ratios, op_medians = [], [], [], []
    for i in range(args.pairs):
        # alternate which loop goes first, so a slow phase of the machine does not favour one side
        order = ("bare", "run", "old") if i % 2 == 0 else ("old", "run", "bare")
        got = {}
        for name in order:
            if name == "bare":
                got[name] = bare_loop(fn, args.iterations)
            elif name == "run":
                got[name] = run_path_loop(case, fn, args.iterations)
            else:
                got[name] = sampler_beside_loop(fn, args.iterations)
        (bare, bare_med), (ours, ours_med), (old, _) = got["bare"], got["run"], got["old"]
        ratios.append(ours / bare)
        med_ratios.append(ours_med / bare_med)
        old_ratios.append(old / bare)
        op_medians.append(bare_med)
        print(f"pair {i + 1}: bare {bare * 1e6:8.2f} us/iter   run path {ours * 1e6:8.2f} us/iter   ratio {ours / bare:.4f}"
              f"   (sampler beside: {old / bare:.4f})")
    print(f"median per-iteration ratio run path/bare: {statistics.median(ratios):.4f}x (target <= 1.02x)")
    print(f"median ratio of measured medians run path/bare: {statistics.median(med_ratios):.4f}x")
    print(f"median per-iteration ratio with the RSS sampler beside the timed rounds: {statistics.median(old_ratios):.4f}x")
    # The same loops around a no-op isolate what each loop itself costs per iteration, free of
    # the op's own noise; the difference over the op's time is perfsuite's added overhead.
    noop = lambda: None  # noqa: E731
    n = args.iterations * 20
    bare_noop = statistics.median(bare_loop(noop, n)[0] for _ in range(5))
    ours_noop = statistics.median(run_path_loop(case, noop, n)[0] for _ in range(5))
    op_s = statistics.median(op_medians)
    added = ours_noop - bare_noop
    print(f"loop cost around a no-op: bare {bare_noop * 1e9:.0f} ns/iter, run path {ours_noop * 1e9:.0f} ns/iter "
          f"-> perfsuite adds {added * 1e9:.0f} ns = {added / op_s:.3%} of the op, {added / 1e-3:.4%} of a 1 ms op")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
