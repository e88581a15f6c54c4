"""The same suite with one xdist worker and with two: wall time, cases per hour and per-case medians.

    .venv/bin/python tools/measure_scaling.py [--suite smoke] [--workers 2] [--keep DIR]

Runs `pytest benches/test_latency.py --device cpu --perf-suite SUITE -n 1`, then the same with
`-n WORKERS`, each into its own out/ folder (history off, so neither run sees the other), and
prints a Markdown table: wall time and cases/hour of each, the speed-up, and for every case the
two medians, their ratio and whether the ratio is within the noise of the two measurements (the
95% confidence intervals of the two medians overlap). Also the load average before and after,
since a shared machine's other work shows in both figures. Exit status 1 when a run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_suite(suite: str, workers: int, out: Path) -> tuple[float, dict[str, dict]]:
    cmd = [sys.executable, "-m", "pytest", str(ROOT / "benches" / "test_latency.py"), "--device", "cpu", "--perf-suite", suite,
           "-n", str(workers), "--perf-out-dir", str(out), "--perf-history", "off", "-p", "no:cacheprovider", "-q"]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-4000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"measure_scaling: -n {workers} failed with exit status {done.returncode}")
    (run_dir,) = sorted((out / "runs").iterdir())
    results = json.loads((run_dir / "results.json").read_text())["results"]
    cases = {}
    for r in results:
        stats = (r.get("measurement") or {}).get("stats") or {}
        if r["kind"] == "latency" and r["outcome"] == "passed" and stats.get("p50_s"):
            cases[r["case"]["id"]] = {"p50": stats["p50_s"], "ci": stats.get("median_ci_s"), "n": stats.get("n")}
    return wall, cases


def within_noise(a: dict, b: dict) -> bool:
    if not a.get("ci") or not b.get("ci"):
        return False
    return a["ci"][0] <= b["ci"][1] and b["ci"][0] <= a["ci"][1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="smoke")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="keep the two out/ folders here (default: a temporary folder)")
    args = parser.parse_args(argv)
    base = args.keep or Path(tempfile.mkdtemp(prefix="perfsuite-scaling-"))
    load_before = os.getloadavg()
    wall1, one = run_suite(args.suite, 1, base / "n1")
    wallN, many = run_suite(args.suite, args.workers, base / f"n{args.workers}")
    load_after = os.getloadavg()
    shared = sorted(set(one) & set(many))
    rate1, rateN = len(one) / wall1 * 3600, len(many) / wallN * 3600
    print(f"suite {args.suite}, benches/test_latency.py, --device cpu; load average before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, "
          f"after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}; {os.cpu_count()} CPUs")
    print()
    print("| workers | cases | wall | cases/hour |")
    print("|---|---|---|---|")
    print(f"| -n 1 | {len(one)} | {wall1:.1f} s | {rate1:.0f} |")
    print(f"| -n {args.workers} | {len(many)} | {wallN:.1f} s | {rateN:.0f} |")
    print(f"\nspeed-up in cases/hour: **{rateN / rate1:.2f}x**\n")
    print(f"| case | median -n 1 | median -n {args.workers} | ratio | within noise (95% CIs overlap) |")
    print("|---|---|---|---|---|")
    ratios = []
    for cid in shared:
        a, b = one[cid], many[cid]
        ratio = b["p50"] / a["p50"]
        ratios.append(ratio)
        print(f"| {cid} | {a['p50'] * 1e3:.3f} ms | {b['p50'] * 1e3:.3f} ms | {ratio:.3f} | {'yes' if within_noise(a, b) else 'no'} |")
    if ratios:
        ratios.sort()
        print(f"\nmedian ratio {ratios[len(ratios) // 2]:.3f}, range {ratios[0]:.3f}-{ratios[-1]:.3f}; "
              f"{sum(within_noise(one[c], many[c]) for c in shared)}/{len(shared)} within noise")
    print(f"\nrun folders: {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
