"""The regression gate end to end, as a CI job runs it: real pytest sessions, real confirmation processes.

tools/measure_gate.py measures the gate's statistics on thousands of simulated suites drawn from
runs of one process. This script checks the same rules the way a user meets them, at a smaller
scale: `pytest benches --perf-baseline-save NAME` `--baseline-runs` times, then
`pytest benches --perf-compare NAME --perf-gate` `--aa-runs` times unchanged (A/A) and
`--slow-runs` times with every case slowed by `--slowdown` (the runtime's injected spin,
`inference_runtime.slowdown`), each gate run with `--perf-confirm K`. For every gate run it reads
verdicts.json: the exit code, each case's final latency verdict, whether the first run alone
would have called it regressed (from the first run's interval, kept in verdicts.json), how many
cases were re-measured, and the wall time.

    .venv/bin/python tools/measure_gate_e2e.py [--aa-runs 20] [--slow-runs 10] [--slowdown 0.05] [--confirm 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SUITE = """
name: gate_e2e
description: tools/measure_gate_e2e.py
models: [{models}]
datasets: [pydoc]
batch_sizes: [1]
overrides: [measure.stop.min_time_s={min_time}, measure.stop.max_time_s={max_time}]
"""


def pytest_run(args: list[str], *, out: Path, conf: Path) -> tuple[int, float, str]:
    cmd = [sys.executable, "-m", "pytest", str(REPO / "benches"), "-q", "-p", "no:cacheprovider", "-k", "test_latency",
           "--perf-suite", "gate_e2e", "--perf-conf-dir", str(conf), "--perf-out-dir", str(out), *args]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    return done.returncode, time.perf_counter() - t0, done.stdout[-3000:] + done.stderr[-3000:]


def newest_run(out: Path) -> Path:
    return sorted(p for p in (out / "runs").iterdir() if p.is_dir())[-1]


def gate_runs(n: int, extra: list[str], *, out: Path, conf: Path, confirm: int, label: str) -> dict:
    rows = []
    for i in range(n):
        rc, secs, tail = pytest_run(["--perf-compare", "main", "--perf-gate", "--perf-confirm", str(confirm), *extra], out=out, conf=conf)
        if rc not in (0, 1):
            raise SystemExit(f"{label} run {i + 1} exited {rc}:\n{tail}")
        doc = json.loads((newest_run(out) / "verdicts.json").read_text(encoding="utf-8"))
        latency = [v for v in doc["verdicts"] if v["metric"] == "latency"]
        first_regressed = 0
        for v in latency:
            lo, ratio = (v["first_ci_low"], v["first_ratio"]) if "first_ratio" in v else (v["ci_low"], v["ratio"])
            first_regressed += bool(lo and ratio and lo > 1 and ratio > 1 + v["threshold"])
        rows.append({"rc": rc, "seconds": secs, "cases": len(latency),
                     "regressed": sum(v["verdict"] == "regressed" for v in latency), "first_regressed": first_regressed,
                     "remeasured": len((doc.get("confirmation") or {}).get("cases", [])),
                     "failures": (doc.get("confirmation") or {}).get("failures", [])})
        print(f"   {label} {i + 1:2d}: exit {rc}, {secs:5.1f} s, latency regressed {rows[-1]['regressed']}/{len(latency)} "
              f"(first run alone: {first_regressed}), re-measured {rows[-1]['remeasured']}", flush=True)
    return {"rows": rows}


def summary(label: str, part: dict) -> str:
    rows = part["rows"]
    cases = sum(r["cases"] for r in rows)
    return (f"{label:>10}  {len(rows):4d}  {sum(r['rc'] == 1 for r in rows):>12}  {sum(r['regressed'] for r in rows):>5}/{cases:<5}  "
            f"{sum(r['first_regressed'] for r in rows):>5}/{cases:<5}  {sum(r['remeasured'] > 0 for r in rows):>12}  "
            f"{statistics.median(r['seconds'] for r in rows):8.1f} s  {sum(len(r['failures']) for r in rows):>8}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="bert.tiny,distilbert.tiny,gpt2.tiny", help="the suite's models, one case each (default: bert.tiny,distilbert.tiny,gpt2.tiny)")
    p.add_argument("--baseline-runs", type=int, default=5, help="runs saved under the baseline name, like --perf-baseline-keep (default: 5)")
    p.add_argument("--aa-runs", type=int, default=20, help="gate runs of unchanged code (default: 20)")
    p.add_argument("--slow-runs", type=int, default=10, help="gate runs with every case slowed (default: 10)")
    p.add_argument("--slowdown", type=float, default=0.05, help="injected slowdown of the slowed runs (default: 0.05)")
    p.add_argument("--confirm", type=int, default=3, help="--perf-confirm of every gate run (default: 3)")
    p.add_argument("--min-time", type=float, default=0.5, help="measure.stop.min_time_s (default: 0.5, the product's default)")
    p.add_argument("--json", metavar="PATH", help="also write every gate run's figures as JSON")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="perfsuite-gate-e2e-") as tmp:
        conf, out = Path(tmp) / "conf", Path(tmp) / "out"
        (conf / "suite").mkdir(parents=True)
        (conf / "suite" / "gate_e2e.yaml").write_text(SUITE.format(models=", ".join(args.models.split(",")), min_time=args.min_time,
                                                                   max_time=max(2.0, 4 * args.min_time)), encoding="utf-8")
        print(f"gate end to end: {args.models}; baseline of {args.baseline_runs} runs, --perf-confirm {args.confirm}, "
              f"min_time {args.min_time} s; load average {os.getloadavg()[0]:.2f}", flush=True)
        t0 = time.perf_counter()
        for i in range(args.baseline_runs):
            rc, secs, tail = pytest_run(["--perf-baseline-save", "main"], out=out, conf=conf)
            if rc != 0:
                raise SystemExit(f"baseline run {i + 1} exited {rc}:\n{tail}")
        aa = gate_runs(args.aa_runs, [], out=out, conf=conf, confirm=args.confirm, label="A/A")
        slow = gate_runs(args.slow_runs, ["--perf-override", f"inference_runtime.slowdown={args.slowdown}"], out=out, conf=conf,
                         confirm=args.confirm, label=f"{args.slowdown:.0%}")
        print(f"\n{'':>10}  runs  {'gate failed':>12}  {'regressed':>11}  {'first alone':>11}  {'re-measured':>12}  {'median time':>10}  "
              f"{'failures':>8}")
        print(summary("A/A", aa))
        print(summary(f"{args.slowdown:.0%} slower", slow))
        print(f"({time.perf_counter() - t0:.0f} s in all; 'first alone': the latency verdicts the first run alone would have "
              f"called regressed; 're-measured': gate runs that ran confirmation processes)")
        if args.json:
            Path(args.json).write_text(json.dumps({"args": vars(args), "aa": aa, "slow": slow}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
