"""Does the speed probe see what slows a case? Probe, measure, probe, N times; print how they move together.

The runner times a reference kernel right before and right after every CPU case
(perfsuite.measure.speed_probe) and flags the case `host_slow` when both probes are more than
3% slower than the fastest probe of the session. This script checks that premise on this
machine: `--runs` measurements of the tiny GPT-2 forward (1 thread, pinned, the product's default
`min_time_s` 0.5 s), each between two probes, then the spread of each series and the
correlation of the run's fastest call with the faster of its two probes (logs, relative to
their medians). A high correlation means the probe sees whole-machine slowdowns; a run slowed
by something the probe does not see (its own memory layout, say) stays unflagged.

    .venv/bin/python tools/measure_speed_probe.py [--runs 60]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import torch  # noqa: E402

from measure_gate import make_call  # noqa: E402
from perfsuite.measure import CpuClock, StopPolicy, WarmupPolicy, measure  # noqa: E402
from perfsuite.measure.speed_probe import HOST_SLOW_THRESHOLD, SpeedProbe  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=60, help="measurements, each between two probes (default: 60)")
    p.add_argument("--min-time", type=float, default=0.5, help="min_time_s of each measurement (default: 0.5)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    call = make_call(0.0, 32)
    probe = SpeedProbe()
    rows = []
    t0 = time.perf_counter()
    for _ in range(args.runs):
        before = probe.measure()
        m = measure(call, clock=CpuClock(), warmup=WarmupPolicy(min_calls=3, window=3, max_time_s=1.0),
                    stop=StopPolicy(min_time_s=args.min_time, max_time_s=max(2.0, 4 * args.min_time)))
        after = probe.measure()
        rows.append((min(m.samples_s), before, after))
    ref = probe.reference_s
    assert ref is not None
    run_med = statistics.median(r[0] for r in rows)
    logs = [(math.log(r[0] / run_med), math.log(min(r[1], r[2]) / ref)) for r in rows]
    runs, probes = zip(*logs)
    flagged = [x for x, y in logs if y > math.log1p(HOST_SLOW_THRESHOLD)]
    corr = statistics.correlation(runs, probes) if statistics.pstdev(probes) > 0 and statistics.pstdev(runs) > 0 else float("nan")
    print(f"{args.runs} runs of the tiny GPT-2 forward (min_time {args.min_time} s), {time.perf_counter() - t0:.0f} s, "
          f"load average {os.getloadavg()[0]:.2f}, probe reference {ref * 1e6:.1f} us")
    print(f"  SD of the runs' log fastest call: {statistics.stdev(runs):.2%}; of the faster probe around each: {statistics.stdev(probes):.2%}")
    print(f"  correlation of the two: {corr:.2f}")
    print(f"  flagged host_slow (> {HOST_SLOW_THRESHOLD:.0%}): {len(flagged)} runs, their fastest calls "
          f"{', '.join(f'{math.expm1(x):+.1%}' for x in sorted(flagged)) or '-'} against the median run")
    worst = sorted(logs)[-5:]
    print("  the 5 slowest runs (fastest call, faster probe): " + "; ".join(f"{math.expm1(x):+.1%}, {math.expm1(y):+.1%}" for x, y in worst))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
