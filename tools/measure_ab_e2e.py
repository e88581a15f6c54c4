"""Interleaved A/B end to end: fresh pytest processes, as `perfsuite ab` runs them, on this machine.

tools/measure_gate.py measures the paired A/B verdicts on fresh model instances inside one
process. `perfsuite ab` runs every side of every round as its own pytest process, and a fresh
process adds its own spread (heap, caches, the host's speed at that moment). This script measures
the A/B verdicts with that spread in them. It runs `--rounds` rounds; each round runs every arm
once, in a random order, each arm a fresh `pytest benches` process through `perfsuite.ab.run_side`
(the code `perfsuite ab` uses):

    base, base2        the same code and config twice (A/A)
    slow<s> ...        every case slowed by s (`inference_runtime.slowdown`, the runtime's injected spin)

Then it draws `--draws` A/B runs of `--trial-rounds` rounds each from those rounds (without
replacement within a draw) and judges each with `perfsuite.compare.paired.compare_pairs` and the
gate config `paired` (conf/gate/paired.yaml), exactly as `perfsuite ab --rounds N` judges its
rounds. base vs base2 gives the suite-wide false-alarm rate; base vs slow<s> the share of cases
called regressed. Draws share rounds, so they are not independent trials: the figure is the
detection rate of an A/B run drawn from this hour's rounds, with `--rounds // --trial-rounds`
disjoint runs behind it. Two arms of a round are not always next to each other (the order is
random over all arms), so the pairs are further apart in time than in `perfsuite ab`: a
conservative setting, the same for the A/A and the slowed pairs.

`--mode duet` runs each pair at the same time instead (duet benchmarking, Bulej et al. 2020):
the base run and one B arm start together, each pinned to its own core, the cores swapped every
round. Interference from the host then lands on both sides of a pair at once, and a core's own
speed cancels over the rounds.

    .venv/bin/python tools/measure_ab_e2e.py [--rounds 30] [--slowdowns 0.02,0.05] [--trial-rounds 24] [--mode sequential|duet] [--json PATH]
    .venv/bin/python tools/measure_ab_e2e.py --replay PATH [--trial-rounds 24] [--trial-max-rounds 72] [--normalize probe]

The --json file is rewritten after every round: an interrupted measurement can still be replayed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from perfsuite.ab import Side, pinned, run_side, values_of  # noqa: E402
from perfsuite.compare.paired import PairedCase, compare_pairs, look_schedule  # noqa: E402
from perfsuite.config.gate import load_gate  # noqa: E402
from perfsuite.results.run import load_run  # noqa: E402

SUITE = """
name: ab_e2e
description: tools/measure_ab_e2e.py
models: [{models}]
datasets: [pydoc]
batch_sizes: [1]
overrides: [measure.stop.min_time_s={min_time}, measure.stop.max_time_s={max_time}]
"""


def arms(slowdowns: list[float], conf: Path) -> dict[str, Side]:
    common = ("-k", "test_latency", "--perf-suite", "ab_e2e", "--perf-conf-dir", str(conf))
    out = {name: Side(name, name, REPO, common) for name in ("base", "base2")}
    for s in slowdowns:
        name = f"slow{s:g}"
        out[name] = Side(name, name, REPO, (*common, "--perf-override", f"inference_runtime.slowdown={s}"))
    return out


def collect(sides: dict[str, Side], rounds: int, out: Path, seed: int, keep) -> list[dict[str, list[dict[str, float]]]]:
    """Sequential, as `perfsuite ab`: every round runs each arm once, in a random order.

    Returns per round, per B arm, the (A, B) pair of per-case fastest samples (A: the round's base run).
    `keep(done)` is called after every round (the --json file is written as the rounds finish).
    """
    rng = random.Random(seed)
    done = []
    for i in range(rounds):
        order = rng.sample(sorted(sides), len(sides))
        values: dict[str, dict[str, float]] = {}
        t0 = time.perf_counter()
        for name in order:
            values[name] = _run(sides[name], out / name, f"round {i + 1}, arm {name}")
        done.append({name: [values["base"], values[name]] for name in sides if name != "base"})
        keep(done)
        print(f"  round {i + 1:2d}/{rounds}: {' '.join(order)} ({time.perf_counter() - t0:.0f} s; load {os.getloadavg()[0]:.2f})", flush=True)
    return done


def collect_duet(sides: dict[str, Side], rounds: int, out: Path, cores: list[int], keep) -> list[dict[str, list[dict[str, float]]]]:
    """Duet: A (base) and each B arm run at the same time, each pinned to its own core, the cores
    swapped every round (so a core's own speed cancels); interference hits both at once."""
    from concurrent.futures import ThreadPoolExecutor

    done = []
    for i in range(rounds):
        pairs = {}
        t0 = time.perf_counter()
        for name in sides:
            if name == "base":
                continue
            ca, cb = (cores[0], cores[1]) if i % 2 == 0 else (cores[1], cores[0])
            a, b = pinned(sides["base"], [ca]), pinned(sides[name], [cb])
            with ThreadPoolExecutor(2) as pool:
                fa = pool.submit(_run, a, out / f"base-{name}", f"round {i + 1}, base of {name}")
                fb = pool.submit(_run, b, out / name, f"round {i + 1}, arm {name}")
                pairs[name] = [fa.result(), fb.result()]
        done.append(pairs)
        keep(done)
        print(f"  round {i + 1:2d}/{rounds}: duet, base on core {cores[i % 2]} ({time.perf_counter() - t0:.0f} s; "
              f"load {os.getloadavg()[0]:.2f})", flush=True)
    return done


PROBE = "probe::"  # a run's values also hold, per case, its speed probe (the faster of the two around it)


def _run(side: Side, out: Path, what: str) -> dict[str, float]:
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
    side = Side(side.label, side.description, side.cwd, side.args, tuple(env.items()))
    code, run_dir, tail = run_side(side, str(REPO / "benches"), out, ())
    if code != 0 or run_dir is None:
        raise SystemExit(f"{what}: pytest exited {code}:\n{tail}")
    run = load_run(run_dir)
    values = values_of(run, "min")
    for c in run.of_kind("latency"):
        probe = c.measurement.extra.get("speed_probe") if c.measurement is not None else None
        if c.key in values and probe:
            values[PROBE + c.key] = min(probe["before_s"], probe["after_s"])
    return values


def per_case(rounds: list[dict[str, list[dict[str, float]]]], normalize: bool) -> list[dict[str, list[dict[str, float]]]]:
    """The rounds with only the cases' values; `normalize`: each divided by its run's speed probe
    (a fixed matmul timed next to the case, perfsuite.measure.speed_probe), so a run the host slowed
    as a whole is scaled back."""
    def one(v: dict[str, float]) -> dict[str, float]:
        keys = [k for k in v if not k.startswith(PROBE) and (not normalize or PROBE + k in v)]
        return {k: v[k] / v[PROBE + k] if normalize else v[k] for k in keys}
    return [{arm: [one(a), one(b)] for arm, (a, b) in r.items()} for r in rounds]


def judge(rounds: list[dict[str, list[dict[str, float]]]], arm: str, policy, looks: tuple[int, ...] = ()) -> tuple[list[str], int, int]:
    """(the cases called regressed, how many cases, rounds used) of one A/B run made of `rounds`: base vs `arm`.

    `looks` (from `look_schedule`): judged as `perfsuite ab --rounds N --max-rounds M` judges a
    sequential run: at each look on the first rounds at alpha / looks, stopping at the first look
    that leaves no case inconclusive. Empty: one look on all the rounds (a fixed design).
    """
    keys = sorted(rounds[0][arm][0].keys() & rounds[0][arm][1].keys())
    looks = looks or (len(rounds),)
    for n in looks:
        cases = [PairedCase(k.split("::", 1)[1], k.split("::", 1)[0], tuple(r[arm][0][k] for r in rounds[:n]),
                            tuple(r[arm][1][k] for r in rounds[:n])) for k in keys]
        comparison = compare_pairs(cases, policy, looks=len(looks))
        if not comparison.of("inconclusive"):
            break
    return [v.case for v in comparison.verdicts if v.verdict == "regressed"], len(comparison.verdicts), n


def spread(rounds: list[dict[str, list[dict[str, float]]]], arm: str) -> dict[str, tuple[str, float, float]]:
    """Per case id: its short name, the SD of log(B/A) over the rounds (what pairing leaves), and the median B/A."""
    out = {}
    for k in sorted(rounds[0][arm][0].keys() & rounds[0][arm][1].keys()):
        logs = [math.log(r[arm][1][k] / r[arm][0][k]) for r in rounds]
        case = k.split("::", 1)[1]
        out[case] = (case.split("-", 1)[0], statistics.stdev(logs), math.exp(statistics.median(logs)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="bert.tiny,distilbert.tiny,gpt2.tiny", help="the suite's models, one case each (default: bert.tiny,distilbert.tiny,gpt2.tiny)")
    p.add_argument("--rounds", type=int, default=30, help="rounds measured; each runs every arm once (default: 30)")
    p.add_argument("--slowdowns", default="0.02,0.05", help="injected slowdowns, one arm each (default: 0.02,0.05)")
    p.add_argument("--trial-rounds", type=int, default=24, help="rounds per judged A/B run, like perfsuite ab --rounds (default: 24)")
    p.add_argument("--trial-max-rounds", type=int, default=None,
                   help="judge each A/B run as perfsuite ab --rounds TRIAL_ROUNDS --max-rounds THIS (sequential looks; default: a fixed design)")
    p.add_argument("--normalize", choices=("none", "probe"), default="none",
                   help="probe: judge each case's fastest call divided by its run's speed probe (default: none, as perfsuite ab)")
    p.add_argument("--draws", type=int, default=400, help="A/B runs drawn from the measured rounds (default: 400)")
    p.add_argument("--min-time", type=float, default=0.5, help="measure.stop.min_time_s (default: 0.5, the product's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mode", choices=("sequential", "duet"), default="sequential",
                   help="sequential: each arm in turn, as perfsuite ab; duet: A and B at the same time on two cores (default: sequential)")
    p.add_argument("--replay", metavar="JSON", help="judge the rounds of an earlier --json instead of measuring")
    p.add_argument("--json", metavar="PATH", help="write the measured rounds as JSON (for --replay)")
    args = p.parse_args(argv)
    slowdowns = [float(s) for s in args.slowdowns.split(",") if s]
    if args.trial_rounds < 3:
        p.error("--trial-rounds must be >= 3")
    cores = sorted(os.sched_getaffinity(0))[:2]
    if args.mode == "duet" and len(cores) < 2:
        p.error("--mode duet needs two cores")
    policy = load_gate("paired", ()).policy.paired()
    t0 = time.perf_counter()
    if args.replay:
        doc = json.loads(Path(args.replay).read_text(encoding="utf-8"))
        rounds, slowdowns = doc["rounds"], doc["args"]["slowdowns_parsed"]
        if rounds and "base" in rounds[0]:  # first format: each arm's values per round
            rounds = [{k: [r["base"], v] for k, v in r.items() if k not in ("base", "_order")} for r in rounds]
    else:
        print(f"A/B end to end: {args.models}; {args.rounds} rounds of {2 + len(slowdowns)} arms; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
        with tempfile.TemporaryDirectory(prefix="perfsuite-ab-e2e-") as tmp:
            conf = Path(tmp) / "conf"
            (conf / "suite").mkdir(parents=True)
            (conf / "suite" / "ab_e2e.yaml").write_text(
                SUITE.format(models=", ".join(args.models.split(",")), min_time=args.min_time, max_time=max(2.0, 4 * args.min_time)),
                encoding="utf-8")
            sides = arms(slowdowns, conf)

            def keep(done: list) -> None:  # after every round, so an interrupted measurement keeps its rounds
                if args.json:
                    tmp_json = Path(args.json + ".tmp")
                    tmp_json.write_text(json.dumps({"args": {**vars(args), "slowdowns_parsed": slowdowns}, "rounds": done}, indent=1),
                                        encoding="utf-8")
                    os.replace(tmp_json, args.json)

            if args.mode == "duet":
                rounds = collect_duet(sides, args.rounds, Path(tmp) / "out", cores, keep)
            else:
                rounds = collect(sides, args.rounds, Path(tmp) / "out", args.seed, keep)
    if args.normalize == "probe" and not any(k.startswith(PROBE) for k in rounds[0][next(iter(rounds[0]))][0]):
        raise SystemExit("--normalize probe: these rounds were measured without speed probes")
    rounds = per_case(rounds, args.normalize == "probe")
    looks = look_schedule(args.trial_rounds, args.trial_max_rounds) if args.trial_max_rounds else ()
    n = min(looks[-1] if looks else args.trial_rounds, len(rounds))
    if looks and n < looks[-1]:
        raise SystemExit(f"--trial-max-rounds {looks[-1]} needs at least that many measured rounds; there are {len(rounds)}")
    rng = random.Random(args.seed + 1)
    design = f"looks at {', '.join(map(str, looks))} rounds, each at alpha/{len(looks)}" if looks else "a fixed design"
    print(f"\n{len(rounds)} rounds measured; {args.draws} A/B runs of {n} rounds drawn from them "
          f"({len(rounds) // n} disjoint; {design}); gate config `paired`: latency threshold {policy.threshold('', 'latency'):.0%}, alpha {policy.alpha:g}")
    print(f"{'B side':>12}  {'A/B runs failed':>15}  {'cases regressed':>15}  {'mean rounds':>11}  per case: share of runs calling it regressed; "
          "between-round SD of log(B/A); median B/A")
    for b in ["base2", *(f"slow{s:g}" for s in slowdowns)]:
        failed = total = used = 0
        caught: dict[str, int] = {}
        for _ in range(args.draws):
            r, c, u = judge(rng.sample(rounds, n), b, policy, looks)
            failed += bool(r)
            for case in r:
                caught[case] = caught.get(case, 0) + 1
            total += c
            used += u
        cases_line = "  ".join(f"{k}: {caught.get(key, 0) / args.draws:.0%}, {sd:.2%}, {ratio:.3f}" for key, (k, sd, ratio) in spread(rounds, b).items())
        label = "base (A/A)" if b == "base2" else f"{b[4:]} slower"
        print(f"{label:>12}  {failed / args.draws:>15.1%}  {sum(caught.values()) / max(total, 1):>15.1%}  {used / args.draws:>11.1f}  {cases_line}")
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
