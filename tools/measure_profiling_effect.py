"""Do the profiling stages change the timed figures? Latency p50 per case with pipeline=default vs deep_profile.

perfsuite orders tests by model, so with pipeline=deep_profile a model's profiler, layer hooks,
memory history and Nsight stage run *before* the next model's timed rounds: anything they leave
behind (threads, hooks, allocator state, a profiler left on) would show in that model's timings.
This runs the same small matrix as separate pytest processes, alternating the two pipelines
(`--pairs` of each, order swapped every pair so drift hits both), and reads each run's
results.json. Per case it prints the median over runs of the latency p50 with each pipeline,
their ratio, and the noise band: the spread (max/min - 1) of the p50s within each pipeline's own
runs. "within noise" = the ratio's distance from 1 is below the larger of the two spreads.

    .venv/bin/python tools/measure_profiling_effect.py [--pairs 3] [--models gpt2.tiny,bert.tiny,distilbert.tiny] [--out /tmp/effect]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from perfsuite.results import load_run  # noqa: E402

PIPELINES = ("default", "deep_profile")


def run_once(pipeline: str, models: str, out: Path, extra: list[str]) -> dict[str, float]:
    """One pytest process; returns case id -> latency p50 (s) of its timed test."""
    before = set((out / "runs").iterdir()) if (out / "runs").is_dir() else set()
    args = [sys.executable, "-m", "pytest", str(REPO / "benches"), "-q", "-p", "no:cacheprovider", "--perf-suite", "smoke",
            "--perf-out-dir", str(out), "--perf-override", f"pipeline={pipeline}", "--perf-override", f"model=[{models}]",
            "--perf-override", "dataset=pydoc", "--perf-override", "infer.batch_sizes=[1]"]
    for e in extra:
        args += ["--perf-override", e]
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode not in (0,):
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise SystemExit(f"pytest failed ({done.returncode}) with pipeline={pipeline}:\n{tail}")
    (run_dir,) = set((out / "runs").iterdir()) - before
    run = load_run(run_dir)
    return {r.case.id: r.stats.p50_s for r in run.cases if r.test == "test_latency" and r.stats and r.stats.p50_s}


def spread(values: list[float]) -> float:
    return max(values) / min(values) - 1 if len(values) > 1 else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--models", default="gpt2.tiny,bert.tiny,distilbert.tiny")
    parser.add_argument("--out", type=Path, default=None, help="run folders go here (default: a temporary folder)")
    parser.add_argument("--override", action="append", default=[], help="extra --perf-override for both pipelines")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="perfsuite-effect-"))
    p50s: dict[str, dict[str, list[float]]] = {p: {} for p in PIPELINES}
    for i in range(args.pairs):
        order = PIPELINES if i % 2 == 0 else PIPELINES[::-1]
        for pipeline in order:
            for case, p50 in run_once(pipeline, args.models, out, args.override).items():
                p50s[pipeline].setdefault(case, []).append(p50)
            print(f"pair {i + 1}/{args.pairs}: pipeline={pipeline} done", file=sys.stderr)
    print("| case | p50 default | p50 deep_profile | ratio | spread default | spread deep_profile | within noise |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for case in sorted(p50s["default"]):
        off, on = p50s["default"][case], p50s["deep_profile"].get(case, [])
        if not on:
            continue
        ratio = statistics.median(on) / statistics.median(off)
        band = max(spread(off), spread(on))
        print(f"| {case} | {statistics.median(off) * 1e3:.3f} ms | {statistics.median(on) * 1e3:.3f} ms | {ratio:.3f} | "
              f"{spread(off):+.1%} | {spread(on):+.1%} | {'yes' if abs(ratio - 1) <= band else 'NO'} |")
    print(f"\n{args.pairs} runs of each pipeline, alternating; run folders in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
