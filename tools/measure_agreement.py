"""Does perfsuite's median agree with torch.utils.benchmark? Same model, input and thread count.

A tiny GPT-2 built from config (random weights, no download) runs one forward on a
fixed input, on 1 thread. Each round measures it once with `perfsuite.measure.measure`
and once with ``torch.utils.benchmark.Timer.blocked_autorange``, alternating which goes
first to cancel drift. Printed: both medians per round, the median of each over all
rounds, and their difference in percent. Target: within ±3%.

Note the two medians are not the same statistic: perfsuite's is the median of
per-call times, Timer's the median of block means (blocks of ``number_per_run`` calls).
Timer turns the garbage collector off while it times; so does perfsuite by default
(``measure.disable_gc``). ``--perfsuite-gc on`` keeps it on in perfsuite's rounds, to see
what the collector costs (that setting read +1.96% against Timer, 5 of 6 rounds positive).

    .venv/bin/python tools/measure_agreement.py [--rounds 6] [--min-run-time 1.0] [--seq-len 32] [--perfsuite-gc off]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import torch  # noqa: E402
from torch.utils.benchmark import Timer  # noqa: E402

from perfsuite.measure import CpuClock, StopPolicy, WarmupPolicy, measure  # noqa: E402
from tiny_cases import tiny_gpt2_forward  # noqa: E402  (tools/ is on sys.path when a script runs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=6, metavar="R", help="alternating measurement pairs (default: 6)")
    p.add_argument("--min-run-time", type=float, default=1.0, metavar="S",
                   help="seconds per measurement, both tools (default: 1.0)")
    p.add_argument("--seq-len", type=int, default=32, metavar="T", help="input tokens (default: 32)")
    p.add_argument("--perfsuite-gc", choices=("off", "on"), default="off",
                   help="garbage collector during perfsuite's timed rounds (default: off, as measure.disable_gc)")
    args = p.parse_args(argv)
    fn = tiny_gpt2_forward(args.seq_len)

    timer = Timer(stmt="fn()", globals={"fn": fn}, num_threads=1, label="tiny-gpt2 forward")
    stop = StopPolicy(min_time_s=args.min_run_time, max_time_s=max(10.0, 5 * args.min_run_time), target_rel_ci=0.01)
    warm = WarmupPolicy()
    print(f"model: GPT2 n_layer=2 n_embd=64, input 1x{args.seq_len}, torch threads={torch.get_num_threads()}, "
          f"nproc={os.cpu_count()}, load average {os.getloadavg()[0]:.2f}, perfsuite gc {args.perfsuite_gc} while timing")
    ours, theirs = [], []
    for r in range(args.rounds):
        def run_ours() -> None:
            m = measure(fn, clock=CpuClock(), warmup=warm, stop=stop, disable_gc=args.perfsuite_gc == "off")
            ours.append(m.median_s)

        def run_theirs() -> None:
            theirs.append(timer.blocked_autorange(min_run_time=args.min_run_time).median)

        for step in ((run_ours, run_theirs) if r % 2 == 0 else (run_theirs, run_ours)):
            step()
        print(f"round {r + 1}: perfsuite median {ours[-1] * 1e3:.4f} ms   torch Timer median {theirs[-1] * 1e3:.4f} ms   "
              f"diff {(ours[-1] / theirs[-1] - 1) * 100:+.2f}%")
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"perfsuite median of medians: {a * 1e3:.4f} ms")
    print(f"torch.utils.benchmark median of medians: {b * 1e3:.4f} ms")
    print(f"difference perfsuite vs torch: {(a / b - 1) * 100:+.2f}% (target within ±3%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
