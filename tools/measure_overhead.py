"""Overhead of perfsuite's timing loop on a ~100 µs CPU op, against a bare perf_counter_ns loop.

Both loops time the same square matmul (sized at start-up to take ~100 µs on one
thread) for the same number of iterations; the pairs alternate so drift hits both.
Per-iteration time = wall time of the loop / iterations (for perfsuite: the timed
phase of `measure()`, chunking and stopping checks included). Target: ratio <= 1.02.
On a shared, noisy machine the op's own jitter swamps that ratio, so the script also
times both loops around a no-op: the difference is what perfsuite adds per iteration,
printed as a fraction of the op's median time.

    .venv/bin/python tools/measure_overhead.py [--iterations 5000] [--pairs 7] [--target-us 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import torch  # noqa: E402

from perfsuite.measure import CpuClock, StopPolicy, WarmupPolicy, measure  # noqa: E402


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


def bare_loop(fn, iterations: int) -> tuple[float, float]:
    """(wall seconds per iteration, median of the timed durations)."""
    timer = time.perf_counter_ns
    out = []
    append = out.append
    w0 = time.perf_counter()
    for _ in range(iterations):
        t0 = timer()
        fn()
        t1 = timer()
        append(t1 - t0)
    wall = time.perf_counter() - w0
    return wall / iterations, statistics.median(out) * 1e-9


def perfsuite_loop(fn, iterations: int) -> tuple[float, float]:
    stop = StopPolicy(min_time_s=1e-3, min_rounds=iterations, max_rounds=iterations, target_rel_ci=0.5, max_time_s=600)
    m = measure(fn, clock=CpuClock(), warmup=WarmupPolicy(min_calls=1, window=1, rel_tol=0.5), stop=stop)
    assert m.rounds == iterations, m.rounds
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
    ratios, med_ratios, op_medians = [], [], []
    for i in range(args.pairs):
        # alternate which loop goes first, so a slow phase of the machine does not favour one side
        if i % 2 == 0:
            bare, bare_med = bare_loop(fn, args.iterations)
            ours, ours_med = perfsuite_loop(fn, args.iterations)
        else:
            ours, ours_med = perfsuite_loop(fn, args.iterations)
            bare, bare_med = bare_loop(fn, args.iterations)
        ratios.append(ours / bare)
        med_ratios.append(ours_med / bare_med)
        op_medians.append(bare_med)
        print(f"pair {i + 1}: bare {bare * 1e6:8.2f} us/iter   perfsuite {ours * 1e6:8.2f} us/iter   ratio {ours / bare:.4f}")
    print(f"median per-iteration ratio perfsuite/bare: {statistics.median(ratios):.4f}x (target <= 1.02x)")
    print(f"median ratio of measured medians perfsuite/bare: {statistics.median(med_ratios):.4f}x")
    # The same loops around a no-op isolate what each loop itself costs per iteration, free of
    # the op's own noise; the difference over the op's time is perfsuite's added overhead.
    noop = lambda: None  # noqa: E731
    bare_noop = statistics.median(bare_loop(noop, args.iterations * 20)[0] for _ in range(5))
    ours_noop = statistics.median(perfsuite_loop(noop, args.iterations * 20)[0] for _ in range(5))
    op_s = statistics.median(op_medians)
    print(f"loop cost around a no-op: bare {bare_noop * 1e9:.0f} ns/iter, perfsuite {ours_noop * 1e9:.0f} ns/iter "
          f"-> perfsuite adds {(ours_noop - bare_noop) * 1e9:.0f} ns = {(ours_noop - bare_noop) / op_s:.3%} of the op")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
