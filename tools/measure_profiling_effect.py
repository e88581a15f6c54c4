"""Do the profiling stages change the timed figures? Paired in one process, and pipeline on/off across runs.

perfsuite orders tests by model, so with pipeline=deep_profile a model's profiler, layer hooks,
memory history and Nsight stage run *before* the next model's timed rounds: anything they leave
behind (threads, hooks, allocator state, a profiler left on) would show in later timings.

`--mode paired` (default): one process, the tiny GPT-2 of tools/tiny_cases.py on one thread.
Each round runs, in random order, two arms: "profiled" runs the stages' own functions on the
model (`profile_case`, `time_layers`, `record_timeline` with the profiled phase) and then times a
block of `--calls` forwards; "control" times the same block after doing nothing. The per-round
ratio (profiled block median / control block median) cancels the machine's drift; the script
prints the median ratio with its 95% distribution-free CI over `--rounds` rounds. Within noise =
the CI contains 1.

`--mode runs`: the same small matrix as separate pytest processes, alternating pipeline=default
and pipeline=deep_profile (`--pairs` of each, order swapped every pair), each case's latency p50
compared; on a shared machine the run-to-run spread is large, so it shows only gross effects.

    .venv/bin/python tools/measure_profiling_effect.py [--mode paired] [--rounds 21] [--calls 200]
    .venv/bin/python tools/measure_profiling_effect.py --mode runs [--pairs 3] [--models gpt2.tiny,bert.tiny,distilbert.tiny]
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


def paired(rounds: int, calls: int, seq_len: int) -> int:
    import random
    import time

    import torch

    from perfsuite.config.schema import TorchOutputSpec, TorchProfilerSpec
    from perfsuite.measure.stats import median_ci_indices
    from perfsuite.profile import ProfilerSettings, profile_case
    from perfsuite.profile.layers import time_layers
    from perfsuite.profile.memory_timeline import PhaseRun, record_timeline
    from perfsuite.profile.torch_profiler import profiler_session

    sys.path.insert(0, str(REPO / "tools"))
    from tiny_cases import forward_of, tiny_gpt2

    torch.set_num_threads(1)
    model = tiny_gpt2()
    fn = forward_of(model, seq_len)

    settings = ProfilerSettings(TorchProfilerSpec(), TorchOutputSpec())
    work = Path(tempfile.mkdtemp(prefix="perfsuite-effect-"))

    def stages() -> None:  # what pipeline=deep_profile runs between two models' timed tests (CPU)
        profile_case(fn, settings, device="cpu", out_dir=work, name="p")
        time_layers(model, fn, out_dir=work, name="p", passes=5)
        record_timeline(fn, [PhaseRun("timed", 10), PhaseRun("profiled", settings.steps, lambda: profiler_session(settings, "cpu"))],
                        device="cpu", out_dir=work, name="p")

    def block() -> float:
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    for _ in range(20):
        fn()
    rng = random.Random(0)
    ratios, medians = [], {"control": [], "profiled": []}
    for i in range(rounds):
        got = {}
        for arm in rng.sample(["control", "profiled"], 2):
            if arm == "profiled":
                stages()
            got[arm] = block()
            medians[arm].append(got[arm])
        ratios.append(got["profiled"] / got["control"])
        print(f"round {i + 1}/{rounds}: ratio {ratios[-1]:.4f}", file=sys.stderr)
    ratios.sort()
    ci = median_ci_indices(len(ratios), 0.95)
    lo, hi = (ratios[ci[0]], ratios[ci[1]]) if ci else (float("nan"), float("nan"))
    mid = statistics.median(ratios)
    print(f"tiny GPT-2 forward, seq {seq_len}, 1 thread; {rounds} rounds x {calls} calls per arm")
    print(f"median block median: control {statistics.median(medians['control']) * 1e3:.3f} ms, "
          f"after the profiling stages {statistics.median(medians['profiled']) * 1e3:.3f} ms")
    print(f"paired ratio (after profiling / control): median {mid:.4f}, 95% CI [{lo:.4f}, {hi:.4f}] -> "
          f"{'within noise' if lo <= 1.0 <= hi else 'DIFFERENT'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("paired", "runs"), default="paired")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--seq-len", type=int, default=32)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--models", default="gpt2.tiny,bert.tiny,distilbert.tiny")
    parser.add_argument("--out", type=Path, default=None, help="run folders go here (default: a temporary folder)")
    parser.add_argument("--override", action="append", default=[], help="extra --perf-override for both pipelines")
    args = parser.parse_args()
    if args.mode == "paired":
        return paired(args.rounds, args.calls, args.seq_len)
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
