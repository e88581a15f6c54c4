"""Measure the regression gate itself on this machine: false alarms, detection, and the tool users have today.

One process, one case (the tiny GPT-2 forward of tools/tiny_cases.py, 1 thread), an artificial
slowdown injected through the runtime config (`inference_runtime.slowdown`, built by perfsuite's
own runtime factory), everything printed as a table:

1. Separate runs (baseline saved earlier, candidate measured now): `--runs` measurements at each
   of slowdown 0, 5% and 10%, in a shuffled order so that the machine's drift hits every level
   alike, each under perfsuite's contention monitor (a measurement whose pinned core was shared
   is flagged `contended`, as in a real run). Every pair (base at 0, head at s) is judged by
   perfsuite's gate (`--gate-config`, default conf/gate/default.yaml: the fastest samples;
   `median` for the Hodges-Lehmann rule; Bonferroni for a suite of `--suite-size` cases) and, on
   the same samples, by what pytest-benchmark's `--benchmark-compare-fail=median:5%` and
   `mean:5%` would decide. A/A pairs (both at 0) give the false-fail rate per case and for the
   whole suite.
2. Replicate baselines (`--perf-baseline-keep`, the gate's between-run model): a simulated suite
   of `--suite-size` cases, each with a baseline of `--keep` separate runs at slowdown 0 and one
   new run (at 0, 5% or 10%), judged as the gate judges a case whose baseline has that many runs
   (perfsuite.compare.replicates: moderated variance pooled over the suite's cases, t prediction
   interval, Bonferroni). `--trials` random draws of the measured runs; reports the per-case and
   whole-suite false-fail rate at 0 and the detection rate at 5% and 10%. With `--confirm K`
   (default 3, like `--perf-confirm`), a case whose new run looks regressed (point estimate
   beyond the threshold) is judged again on K more runs of the same level drawn from runs that
   are neither that suite's baseline runs nor its first runs, as the gate's confirmation runs
   judge it (perfsuite.compare.confirm); the "confirmed" columns are the gate's final verdicts.
   (The real confirmation runs are fresh processes; here they are runs of the same process.) `--baseline-from DUMP`
   takes the baseline runs from an earlier `--dump` (hours earlier: the drift a real baseline meets).
3. Interleaved A/B (`perfsuite ab`'s statistics, conf/gate/paired.yaml): `--ab-trials` trials per
   slowdown level, each `--ab-rounds` rounds of A then B measured back to back (a fresh model
   instance per side and round, as `perfsuite ab`'s fresh processes build), judged by the paired
   Wilcoxon rule at the suite-size Bonferroni confidence: as fixed designs of the first R rounds
   (`--ab-report-rounds`), and as the sequential design of `perfsuite ab --max-rounds` (a look
   at each R, alpha split over the looks, stop at the first look that decides). The smallest
   slowdown caught in >= 90% of trials with no false alarm is the headline.

Every interval is built as the gate builds it: at two-sided confidence 1 - 2 alpha / m, each
one-sided tail holding alpha / m (perfsuite.compare.verdict.suite_confidence).

    .venv/bin/python tools/measure_gate.py [--runs 20] [--replicate-runs 130] [--ab-trials 15] [--ab-rounds 48] [--dump FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import torch  # noqa: E402

from perfsuite.compare.paired import paired_ratio  # noqa: E402
from perfsuite.compare.replicates import ReplicateModel, ratio_of_runs_to_replicates, ratio_to_replicates  # noqa: E402
from perfsuite.compare.verdict import SPREAD_FLAGS  # noqa: E402
from perfsuite.compare.stats import ratio_of_minimums, ratio_of_samples  # noqa: E402
from perfsuite.compare.verdict import judge, suite_confidence  # noqa: E402
from perfsuite.measure.contention import ContentionMonitor  # noqa: E402
from perfsuite.config.gate import load_gate  # noqa: E402
from perfsuite.config.schema import RuntimeSpec  # noqa: E402
from perfsuite.measure import CpuClock, StopPolicy, WarmupPolicy, measure  # noqa: E402
from perfsuite.measure.speed_probe import session_probe  # noqa: E402
from perfsuite.runtimes.eager import EagerRuntime  # noqa: E402
from tiny_cases import tiny_gpt2  # noqa: E402


class _Adapter:
    """The least of a model adapter the eager runtime needs: forward(inputs)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module
        self.device = torch.device("cpu")
        self.dtype = torch.float32

    def forward(self, inputs: dict) -> object:
        return self.module(**inputs)


_MODEL: list[_Adapter] = []


def make_call(slowdown: float, seq_len: int, *, fresh: bool = False):
    """The same model object at every level: only the injected slowdown differs (two instances of a
    model can differ by about 1% from where their weights landed in memory). ``fresh``: a new
    instance, as each round of `perfsuite ab` builds its model in a fresh process."""
    torch.set_num_threads(1)
    if not _MODEL:
        _MODEL.append(_Adapter(tiny_gpt2()))
    model = _Adapter(tiny_gpt2()) if fresh else _MODEL[0]
    runtime = EagerRuntime(RuntimeSpec("eager", "pytorch", slowdown=slowdown), model)  # type: ignore[arg-type]
    inputs = {"input_ids": torch.randint(0, 999, (1, seq_len), generator=torch.Generator().manual_seed(1))}
    return lambda: runtime(inputs)


def one_run(call, min_time: float, max_time: float):
    """One measurement with perfsuite's engine, its noise flags and the runner's contention and speed-probe flags included."""
    probe = session_probe()
    before = probe.measure()
    with ContentionMonitor(threads=1, cpu_bound=True, pinned=True) as monitor:
        m = measure(call, clock=CpuClock(), warmup=WarmupPolicy(min_calls=3, window=3, max_time_s=1.0),
                    stop=StopPolicy(min_time_s=min_time, max_time_s=max_time))
    speed = probe.report(before, probe.measure())
    busy = monitor.report.noise_flag() if monitor.report is not None else None
    m = m.with_noise(busy.code, busy.reason) if busy is not None else m
    slow = speed.noise_flag() if speed is not None else None
    m = m.with_noise(slow.code, slow.reason) if slow is not None else m
    return m.with_extra(probe_slowdown=speed.slowdown if speed is not None else None)


def value(m, statistic: str) -> float:
    """What one round contributes to a paired A/B comparison: the fastest sample, or the median."""
    return min(m.samples_s) if statistic == "min" else m.median_s


DUMP: dict[str, object] = {}


def pct(x: float) -> str:
    return f"{x:6.1%}"


def separate_runs(calls, args, policy, confidence) -> None:
    levels = [0.0, 0.05, 0.10]
    order = [lvl for lvl in levels for _ in range(args.runs)]
    random.Random(0).shuffle(order)
    runs: dict[float, list] = {lvl: [] for lvl in levels}
    t0 = time.perf_counter()
    for lvl in order:
        runs[lvl].append(one_run(calls[lvl], args.min_time, max(2.0, 4 * args.min_time)))
    DUMP["separate"] = {str(lvl): [{"samples_s": list(m.samples_s), "noise": [f.code for f in m.noise], "probe": m.extra.get("probe_slowdown")}
                                   for m in runs[lvl]] for lvl in levels}
    def cv(values: list[float]) -> str:
        return f"{statistics.stdev(values) / statistics.mean(values):.2%}"

    noisy = sum(bool(m.noise) for lvl in levels for m in runs[lvl])
    flags = sorted({flag.code for lvl in levels for m in runs[lvl] for flag in m.noise})
    print(f"\n1. separate runs: {args.runs} measurements per level, {time.perf_counter() - t0:.0f} s; between-run CV at 0: "
          f"medians {cv([m.median_s for m in runs[0.0]])}, minimums {cv([min(m.samples_s) for m in runs[0.0]])}; "
          f"{noisy} of {len(order)} flagged noisy ({', '.join(flags) or 'none'})")
    threshold = policy.thresholds["latency"]
    print(f"   perfsuite gate: statistic {policy.statistic}, threshold {threshold:.0%}, noise floor {policy.noise_floor:.0%}, "
          f"confidence {confidence:.5f} (alpha {policy.alpha} over a suite of {args.suite_size})")
    compare = ratio_of_minimums if policy.statistic == "min" else ratio_of_samples
    print(f"   {'slowdown':>8}  {'pairs':>5}  {'perfsuite regressed':>19}  {'inconclusive':>12}  {'(flags ignored)':>15}  {'pb median:5%':>12}  {'pb mean:5%':>10}")
    per_case_false = None
    for lvl in levels:
        pairs = list(itertools.combinations(runs[0.0], 2)) if lvl == 0 else list(itertools.product(runs[0.0], runs[lvl]))
        regressed = inconclusive = pb_median = pb_mean = unflagged = 0
        for base, head in pairs:
            est = compare(base.samples_s, head.samples_s, confidence=confidence, noise_floor=policy.noise_floor)
            verdict, _ = judge(est, threshold, lower_is_better=True)
            unflagged += verdict == "regressed"  # the statistics alone, as with gate_noisy: true
            if verdict == "regressed" and (base.noise or head.noise) and not policy.gate_noisy:
                verdict = "inconclusive"  # the gate's rule: a measurement flagged noisy is not gated on
            regressed += verdict == "regressed"
            inconclusive += verdict == "inconclusive"
            pb_median += statistics.median(head.samples_s) > 1.05 * statistics.median(base.samples_s)
            pb_mean += statistics.mean(head.samples_s) > 1.05 * statistics.mean(base.samples_s)
        n = len(pairs)
        print(f"   {lvl:8.0%}  {n:5d}  {pct(regressed / n):>19}  {pct(inconclusive / n):>12}  {pct(unflagged / n):>15}  {pct(pb_median / n):>12}  {pct(pb_mean / n):>10}")
        if lvl == 0:
            per_case_false = (regressed / n, pb_median / n, pb_mean / n, unflagged / n)
    assert per_case_false is not None
    suite = [1 - (1 - p) ** args.suite_size for p in per_case_false]
    print(f"   A/A false fail of a {args.suite_size}-case suite (1-(1-p)^{args.suite_size}): perfsuite {suite[0]:.1%} "
          f"({suite[3]:.1%} with noise flags ignored), "
          f"pytest-benchmark median:5% {suite[1]:.1%}, mean:5% {suite[2]:.1%}")


def replicate_baselines(calls, args, policy, confidence) -> None:
    """Section 2: a suite's baselines of `--keep` runs each, one new run per case, the gate's replicate model."""
    t0 = time.perf_counter()
    levels = [0.0, 0.05, 0.10]
    order = [0.0] * args.replicate_runs + [lvl for lvl in levels[1:] for _ in range(args.replicate_heads)]
    random.Random(1).shuffle(order)
    runs: dict[float, list[tuple[tuple[float, ...], tuple[str, ...]]]] = {lvl: [] for lvl in levels}
    probes: dict[float, list[float | None]] = {lvl: [] for lvl in levels}
    if args.replay:  # judge the runs of an earlier --dump again (a changed rule, the same measurements)
        part = json.loads(Path(args.replay).read_text(encoding="utf-8"))["replicates"]
        for lvl in levels:
            for r in part[str(lvl)]:
                runs[lvl].append((tuple(r["samples_s"]), tuple(r["noise"])))
                probes[lvl].append(r.get("probe"))
    for lvl in [] if args.replay else order:
        m = one_run(calls[lvl], args.min_time, max(2.0, 4 * args.min_time))
        runs[lvl].append((tuple(m.samples_s), tuple(f.code for f in m.noise)))
        probes[lvl].append(m.extra.get("probe_slowdown"))
    DUMP["replicates"] = {str(lvl): [{"samples_s": list(s), "noise": list(n), "probe": p} for (s, n), p in zip(runs[lvl], probes[lvl])]
                          for lvl in levels}
    slow = sum("host_slow" in n for lvl in levels for _, n in runs[lvl])
    paired_logs = [(math.log(min(s)), math.log1p(p)) for (s, _), p in zip(runs[0.0], probes[0.0]) if p is not None]
    probe_line = f"   speed probe: {slow} of {len(order)} runs flagged host_slow"
    if len(paired_logs) > 2:
        xs, ys = zip(*paired_logs)
        corr = statistics.correlation(xs, ys) if statistics.pstdev(ys) > 0 and statistics.pstdev(xs) > 0 else float("nan")
        probe_line += f"; correlation of the runs' log minimum with the probe's log slowdown at 0: {corr:.2f}"
    pool = runs[0.0]
    source = f"replayed from {args.replay}" if args.replay else "measured now, shuffled with the new runs"
    if args.baseline_from:
        earlier = json.loads(Path(args.baseline_from).read_text(encoding="utf-8"))
        part = earlier.get("replicates") or earlier["separate"]
        pool = [(tuple(r["samples_s"]), tuple(r["noise"])) for r in part["0.0"]]
        source = f"from {args.baseline_from} (measured earlier)"
    k, m = args.keep, args.suite_size
    need = k * m + (0 if args.baseline_from else m)
    if len(pool) < need:
        raise SystemExit(f"--replicate-runs: {need} runs at slowdown 0 needed for {m} cases x ({k} baseline runs + 1), have {len(pool)}")
    mins0 = [min(s) for s, _ in runs[0.0]]
    shifts = ", ".join(f"{lvl:.0%} -> {math.exp(statistics.mean(math.log(min(s)) for s, _ in runs[lvl]) - statistics.mean(math.log(x) for x in mins0)) - 1:+.1%}"
                       for lvl in levels[1:])
    print(f"\n2. replicate baselines: {len(runs[0.0])} + {len(runs[0.05])} x 2 runs, {time.perf_counter() - t0:.0f} s; between-run CV "
          f"of minimums at 0: {statistics.stdev(mins0) / statistics.mean(mins0):.2%}; baseline runs {source}")
    print(probe_line)
    print(f"   the injected slowdown as the minimums saw it (geometric means against slowdown 0): {shifts}")
    threshold = policy.thresholds["latency"]
    print(f"   suite of {m} cases, each judged against {k} baseline runs; threshold {threshold:.0%}, replicate floor "
          f"{policy.replicate_floor:.1%}, confidence {confidence:.5f}; {args.trials} random draws")
    print(f"   {'slowdown':>8}  {'case verdicts':>13}  {'regressed':>9}  {'(flags ignored)':>15}  {'suites with any regressed':>25}  "
          f"{'median CI half-width':>20}  {'pb median:5%':>12}  {'pb mean:5%':>10}  {f'confirmed ({args.confirm} runs)':>18}  "
          f"{'suites':>6}  {'re-measured':>11}")
    rng = random.Random(2)
    for lvl in levels:
        regressed = unflagged = suites = total = pb_median = pb_mean = 0
        confirmed = confirmed_suites = suspects = 0
        halves = []
        for _ in range(args.trials):
            drawn = rng.sample(pool, len(pool))
            bases = [drawn[i * k:(i + 1) * k] for i in range(m)]
            if lvl == 0 and not args.baseline_from:
                heads = drawn[k * m:k * m + m]
            else:
                heads = [rng.choice(runs[lvl]) for _ in range(m)]
            # as the gate builds it (replicate_models): a baseline run flagged as disturbed is left out
            model = ReplicateModel.from_summaries({f"c{i}": [min(s) for s, n in bases[i] if not set(n) - SPREAD_FLAGS] for i in range(m)})
            any_regressed = any_confirmed = False
            # confirmation runs come from runs that are neither this suite's baseline runs nor its first runs
            spare = drawn[k * m + m:] if lvl == 0 and not args.baseline_from else runs[lvl]
            for i, (samples, noise) in enumerate(heads):
                newest = bases[i][0][0]  # what pytest-benchmark compares with: one stored run
                pb_median += statistics.median(samples) > 1.05 * statistics.median(newest)
                pb_mean += statistics.mean(samples) > 1.05 * statistics.mean(newest)
                total += 1
                spread = model.cases.get(f"c{i}")
                est = ratio_to_replicates(model, f"c{i}", samples, statistic="min", confidence=confidence, floor=policy.replicate_floor)
                if est is None or spread is None or spread.runs < policy.min_replicates:
                    continue  # too few undisturbed baseline runs: the single-run rule, which cannot prove 5-10%
                verdict, _ = judge(est, threshold, lower_is_better=True)
                unflagged += verdict == "regressed"
                if verdict == "regressed" and set(noise) - SPREAD_FLAGS and not policy.gate_noisy:
                    verdict = "inconclusive"
                regressed += verdict == "regressed"
                any_regressed |= verdict == "regressed"
                halves.append((math.log(est.high) - math.log(est.low)) / 2)
                if args.confirm and est.ratio > 1 + threshold:  # the gate's screen: re-measure a case that looks regressed
                    suspects += 1
                    again = [s for s, n in (rng.choice([r for r in spare if r[0] is not samples]) for _ in range(args.confirm))
                             if not set(n) - SPREAD_FLAGS]
                    est2 = ratio_of_runs_to_replicates(model, f"c{i}", again, statistic="min", confidence=confidence,
                                                       floor=policy.replicate_floor) if again else None
                    hit = est2 is not None and judge(est2, threshold, lower_is_better=True)[0] == "regressed"
                    confirmed += hit

                    any_confirmed |= hit
            suites += any_regressed
            confirmed_suites += any_confirmed
        print(f"   {lvl:8.0%}  {total:13d}  {pct(regressed / total):>9}  {pct(unflagged / total):>15}  {pct(suites / args.trials):>25}  "
              f"{'±' + format(math.expm1(statistics.median(halves)), '.2%'):>20}  {pct(pb_median / total):>12}  {pct(pb_mean / total):>10}  "
              f"{pct(confirmed / total) if args.confirm else '-':>18}  {pct(confirmed_suites / args.trials) if args.confirm else '-':>6}  "
              f"{pct(suspects / total) if args.confirm else '-':>11}")
        if lvl == 0:
            p = regressed / total
            print(f"   {'':8}  A/A per case {p:.3%} -> a {m}-case suite 1-(1-p)^{m} = {1 - (1 - p) ** m:.2%}; "
                  f"pytest-benchmark median:5% {1 - (1 - pb_median / total) ** m:.1%}, mean:5% {1 - (1 - pb_mean / total) ** m:.1%}")


def _paired_verdict(a: list[float], b: list[float], confidence: float, threshold: float) -> tuple[str, float]:
    est = paired_ratio(a, b, confidence=confidence)
    return judge(est, threshold, lower_is_better=True)[0], est.ratio


def interleaved(calls_for, args, policy, paired) -> None:
    """Section 3: trials of `--ab-rounds` interleaved rounds per level; every prefix in `--ab-report-rounds` judged
    as a fixed design, and the sequential design (a look at each prefix, alpha split over the looks)."""
    levels = [0.0] + [float(x) for x in args.slowdowns.split(",")]
    threshold = paired.thresholds["latency"]
    looks = sorted({int(x) for x in args.ab_report_rounds.split(",")} | {args.ab_rounds})
    if looks[0] < 3 or looks[-1] > args.ab_rounds:
        raise SystemExit(f"--ab-report-rounds: every count must be in [3, --ab-rounds={args.ab_rounds}], got {args.ab_report_rounds}")
    fixed = suite_confidence(paired.alpha, args.suite_size)
    per_look = suite_confidence(paired.alpha / len(looks), args.suite_size)
    print(f"\n3. interleaved A/B: {args.ab_trials} trials x {args.ab_rounds} rounds per level ({args.ab_order} order, "
          f"{'a fresh model instance per side and round' if args.ab_fresh else 'one model instance'}), per-round {paired.statistic}, "
          f"paired Wilcoxon, threshold {threshold:.1%} (regressed: interval above 1 and change above the threshold)")
    print(f"   fixed designs: the first R rounds at confidence {fixed:.5f}; sequential: a look at R = {', '.join(map(str, looks))}, "
          f"each at {per_look:.6f} (alpha split over {len(looks)} looks), stopping at the first decided verdict")
    head = "  ".join(f"{f'R={r}':>8}" for r in looks)
    print(f"   {'slowdown':>8}  {head}  {'sequential':>10}  {'mean R':>6}  {'median ratio':>12}  {'time':>6}")
    best: dict[str, float | None] = {}
    rng = random.Random(3)
    for lvl in levels:
        hits = dict.fromkeys(looks, 0)
        seq_hits = 0
        seq_rounds = []
        ratios = []
        t0 = time.perf_counter()
        for trial in range(args.ab_trials):
            a_val, b_val = [], []
            for _ in range(args.ab_rounds):
                sides = [("a", 0.0), ("b", lvl)]
                if args.ab_order == "random":
                    rng.shuffle(sides)
                got = {}
                for side, level in sides:
                    call = make_call(level, args.seq_len, fresh=True) if args.ab_fresh else calls_for(level)
                    got[side] = value(one_run(call, args.ab_min_time, 2 * args.ab_min_time), paired.statistic)
                a_val.append(got["a"])
                b_val.append(got["b"])
            DUMP.setdefault("interleaved", {}).setdefault(str(lvl), []).append({"a": a_val, "b": b_val})
            for r in looks:
                verdict, ratio = _paired_verdict(a_val[:r], b_val[:r], fixed, threshold)
                hits[r] += verdict == "regressed"
                if r == args.ab_rounds:
                    ratios.append(ratio)
            for r in looks:
                verdict, _ = _paired_verdict(a_val[:r], b_val[:r], per_look, threshold)
                if verdict != "inconclusive" or r == looks[-1]:
                    seq_hits += verdict == "regressed"
                    seq_rounds.append(r)
                    break
        n = args.ab_trials
        cells = "  ".join(f"{f'{hits[r]}/{n}':>8}" for r in looks)
        print(f"   {lvl:8.0%}  {cells}  {f'{seq_hits}/{n}':>10}  {statistics.mean(seq_rounds):6.1f}  {statistics.median(ratios):12.4f}  "
              f"{time.perf_counter() - t0:5.0f}s", flush=True)
        for name, rate in [(f"R={r}", hits[r] / n) for r in looks] + [("sequential", seq_hits / n)]:
            if lvl > 0 and rate >= 0.9 and best.get(name) is None:
                best[name] = lvl
            best.setdefault(name, None)
    print("   smallest slowdown caught in >= 90% of trials: " + ", ".join(
        f"{name} {'none' if lvl is None else f'{lvl:.0%}'}" for name, lvl in best.items()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=20, help="separate-run measurements per slowdown level (default: 20)")
    p.add_argument("--min-time", type=float, default=0.5,
                   help="min_time_s of each separate run (default: 0.5, conf/config.yaml's measure.stop.min_time_s)")
    p.add_argument("--suite-size", type=int, default=20, help="cases in the simulated suite, for Bonferroni (default: 20)")
    p.add_argument("--ab-trials", type=int, default=20, help="A/B trials per slowdown level (default: 20)")
    p.add_argument("--skip-separate", action="store_true", help="only the interleaved A/B part")
    p.add_argument("--skip-ab", action="store_true", help="skip the interleaved A/B part")
    p.add_argument("--skip-replicates", action="store_true", help="skip the replicate-baseline part")
    p.add_argument("--replicate-runs", type=int, default=130, help="replicate part: runs at slowdown 0 (default: 130)")
    p.add_argument("--replicate-heads", type=int, default=30, help="replicate part: runs at 5%% and at 10%% each (default: 30)")
    p.add_argument("--keep", type=int, default=5, help="replicate part: baseline runs per case, like --perf-baseline-keep (default: 5)")
    p.add_argument("--trials", type=int, default=200, help="replicate part: random draws of suites (default: 200)")
    p.add_argument("--confirm", type=int, default=3, help="replicate part: confirmation runs drawn for a case whose new run looks regressed, "
                   "like --perf-confirm (0: none) (default: 3)")
    p.add_argument("--replay", metavar="DUMP", help="replicate part only: judge the runs of an earlier --dump again instead of measuring "
                   "(implies --skip-separate --skip-ab)")
    p.add_argument("--baseline-from", metavar="DUMP", help="replicate part: baseline runs from an earlier --dump file")
    p.add_argument("--ab-rounds", type=int, default=48, help="rounds per A/B trial, like perfsuite ab --rounds (default: 48)")
    p.add_argument("--ab-report-rounds", default="24,36", help="also judge the first R rounds of each trial, and look at them in the sequential design (default: 24,36)")
    p.add_argument("--ab-order", choices=("alternate", "random"), default="alternate", help="like perfsuite ab --order (default: alternate)")
    p.add_argument("--ab-fresh", action=argparse.BooleanOptionalAction, default=True,
                   help="a fresh model instance per side and round, as perfsuite ab's fresh processes build (default: on)")
    p.add_argument("--ab-min-time", type=float, default=0.1, help="min_time_s of each A/B measurement (default: 0.1)")
    p.add_argument("--gate-config", default="default", help="conf/gate/NAME.yaml of the separate-run gate (default: default)")
    p.add_argument("--ab-gate-config", default="paired", help="conf/gate/NAME.yaml of the A/B gate (default: paired)")
    p.add_argument("--slowdowns", default="0.01,0.02,0.03,0.05", help="A/B slowdown levels (default: 0.01,0.02,0.03,0.05)")
    p.add_argument("--seq-len", type=int, default=32)
    p.add_argument("--dump", metavar="PATH", help="also write every raw sample and round value as JSON, to try other rules offline")
    args = p.parse_args(argv)
    if args.replay:
        args.skip_separate = args.skip_ab = True
    torch.set_num_threads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one pinned core, like a perfsuite run
    policy = load_gate(args.gate_config).policy
    paired = load_gate(args.ab_gate_config).policy
    confidence = suite_confidence(policy.alpha, args.suite_size)
    cache = {}

    def calls_for(level: float):
        if level not in cache:
            cache[level] = make_call(level, args.seq_len)
        return cache[level]

    print(f"case: tiny GPT-2 forward 1x{args.seq_len}, torch threads {torch.get_num_threads()}, nproc {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    def dump() -> None:  # after every section, so a long run's finished parts can be studied while it goes on
        if args.dump:
            Path(args.dump).write_text(json.dumps(DUMP), encoding="utf-8")

    if not args.skip_separate:
        separate_runs({lvl: calls_for(lvl) for lvl in (0.0, 0.05, 0.10)}, args, policy, confidence)
        dump()
    if not args.skip_replicates:
        replicate_baselines({lvl: calls_for(lvl) for lvl in (0.0, 0.05, 0.10)}, args, policy, confidence)
        dump()
    if not args.skip_ab:
        interleaved(calls_for, args, policy, paired)
        dump()
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
