"""A/A stability: the same case measured N times in one process; CV of the medians.

The case is a tiny GPT-2 forward built from config (random weights, no download) on
a fixed input, 1 thread, measured with `perfsuite.measure.measure` and its default
warm-up and stopping policies. Printed: each run's median, rounds and noise flags,
then the coefficient of variation (stdev / mean) of the N medians. Target: <= 2%.

    .venv/bin/python tools/measure_aa_stability.py [--repeats 10] [--min-time 0.5] [--seq-len 32]
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
from tiny_cases import tiny_gpt2_forward  # noqa: E402  (tools/ is on sys.path when a script runs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=10, metavar="N", help="measurements of the same case (default: 10)")
    p.add_argument("--min-time", type=float, default=0.5, metavar="S", help="StopPolicy.min_time_s (default: 0.5)")
    p.add_argument("--seq-len", type=int, default=32, metavar="T", help="input tokens (default: 32)")
    args = p.parse_args(argv)
    if args.repeats < 2:
        p.error("--repeats must be >= 2 to compute a CV")
    fn = tiny_gpt2_forward(args.seq_len)

    stop = StopPolicy(min_time_s=args.min_time, max_time_s=max(10.0, 10 * args.min_time))
    print(f"model: GPT2 n_layer=2 n_embd=64, input 1x{args.seq_len}, torch threads={torch.get_num_threads()}, "
          f"nproc={os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    medians = []
    for i in range(args.repeats):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        m = measure(fn, clock=CpuClock(), warmup=WarmupPolicy(), stop=stop)
        # below ~100%, this process was not on a CPU for part of the run (the machine is shared)
        on_cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
        medians.append(m.median_s)
        flags = ",".join(f.code for f in m.noise) or "-"
        print(f"run {i + 1:2d}: median {m.median_s * 1e3:.4f} ms  rounds {m.rounds:5d}  on-CPU {on_cpu:4.0%}  "
              f"CI half-width {m.stats.rel_ci_half_width:.2%}  IQR/median {m.stats.iqr_ratio:.1%}  "
              f"stop {m.stop_reason}  noise {flags}")
    cv = statistics.stdev(medians) / statistics.mean(medians)
    print(f"medians: mean {statistics.mean(medians) * 1e3:.4f} ms, min {min(medians) * 1e3:.4f}, "
          f"max {max(medians) * 1e3:.4f}")
    print(f"CV of the {args.repeats} medians: {cv:.2%} (target <= 2%); load average now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
