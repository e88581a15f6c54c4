"""`perfsuite ab`: interleaved A/B rounds in fresh processes, paired verdicts (see perfsuite.ab)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

from perfsuite.commands.args import int_in
from perfsuite.errors import PerfDataError

MAX_ROUNDS = 1000  # pairs of runs: beyond this a run of days, not a typo worth starting


def run(args: argparse.Namespace) -> int:
    from perfsuite.ab import Side, conf_side, git_side, overridden, remove_worktrees, run_ab
    from perfsuite.compare.gate import decide
    from perfsuite.compare.paired import compare_pairs, look_schedule, min_pairs
    from perfsuite.compare.verdict import suite_confidence
    from perfsuite.config.gate import load_gate
    from perfsuite.report.verdicts import markdown, terminal_lines, verdicts_doc

    try:
        looks = look_schedule(args.rounds, args.max_rounds, args.look_every)
    except ValueError as exc:
        raise PerfDataError(str(exc)) from None
    by_conf = bool(args.a or args.b)
    by_git = bool(args.base or args.head)
    by_override = not (by_conf or by_git) and bool(args.a_override or args.b_override)
    if (by_conf == by_git and not by_override) or (by_conf and not (args.a and args.b)) or (by_git and not args.base):
        raise PerfDataError("give either --a CONF --b CONF, or --base REF [--head REF], or only --b-override KEY=VALUE "
                            "(both sides the working tree, B with the override)")
    for option, values in (("--a-override", args.a_override), ("--b-override", args.b_override)):
        for value in values:
            if "=" not in value and not value.startswith("~"):
                raise PerfDataError(f"{option} {value!r}: expected a config override KEY=VALUE, e.g. inference_runtime.slowdown=0.05")
    spec = load_gate(args.gate_config, tuple(args.conf_dir or ()))
    policy = spec.policy.paired()
    cwd = Path.cwd()
    out = Path(args.out).resolve()
    sides = []
    previous = signal.signal(signal.SIGTERM, _terminated)  # a CI time limit: clean up (the finally below), say so
    try:
        if by_override:
            sides = [Side("a", "working tree", cwd), Side("b", "working tree", cwd)]
        elif by_conf:
            sides = [conf_side("a", args.a, cwd), conf_side("b", args.b, cwd)]
        else:
            repo = Path(args.repo).resolve()
            worktrees = out / "ab-worktrees"
            worktrees.mkdir(parents=True, exist_ok=True)
            sides.append(git_side("a", repo, args.base, worktrees))
            sides.append(git_side("b", repo, args.head, worktrees) if args.head else
                         type(sides[0])("b", "working tree", repo))  # --repo's working tree, wherever ab was started
        sides = [overridden(sides[0], args.a_override), overridden(sides[1], args.b_override)]
        pytest_args = [a for a in args.pytest_args if a != "--"]

        def decided(run: Any) -> bool:
            """A sequential run's look: stop once no case is inconclusive (judged at alpha / looks)."""
            if len(run.rounds) not in looks[:-1] or any(len(r.values) < 2 for r in run.rounds):
                return False
            look = compare_pairs(_cases(run), policy, looks=len(looks))
            if look.verdicts and not look.of("inconclusive"):
                print(f"perfsuite ab: every case decided after {len(run.rounds)} rounds (a look of {len(looks)}); stopping")
                return True
            return False

        ab = run_ab(sides[0], sides[1], rounds=looks[-1], out_root=out, benches=args.benches, pytest_args=pytest_args,
                    order=args.order, seed=args.seed, statistic=policy.statistic, stop=decided if len(looks) > 1 else None)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if by_git:
            remove_worktrees(Path(args.repo).resolve(), sides)
    cases = _cases(ab)
    comparison = compare_pairs(cases, policy, looks=len(looks))
    needed = min_pairs(suite_confidence(policy.alpha / len(looks), len(cases)))
    if len(ab.rounds) < needed:
        print(f"perfsuite ab: note: {len(ab.rounds)} rounds cannot decide at suite-wide alpha {policy.alpha:g} over {len(cases)} case(s)"
              f"{f' and {len(looks)} looks' if len(looks) > 1 else ''}; use --rounds {needed} or more")
    label = f"A = {sides[0].description}, B = {sides[1].description}"
    for line in terminal_lines(comparison, label):
        print(line)
    decision = decide(comparison, inconclusive=spec.inconclusive, base_machine="same", head_machine="same", force=False)
    print(decision.message)
    doc = verdicts_doc(comparison, base={"side": "a", "description": sides[0].description}, head={"side": "b", "description": sides[1].description},
                       gate={"config": spec.name, "mode": ("duet" if args.order == "duet" else "interleaved") + ("" if len(looks) == 1 else "-sequential"),
                             "rounds": len(ab.rounds), "looks": list(looks), "decision": decision.message, "exit_code": decision.exit_code or 0})
    (ab.folder / "verdicts.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    (ab.folder / "summary.md").write_text(markdown(comparison, label, title="perfsuite A/B"), encoding="utf-8")
    print(f"ab folder: {ab.folder}")
    return decision.exit_code or 0


def _cases(ab: Any) -> list[Any]:
    """The paired rounds of every case measured on both sides."""
    from perfsuite.compare.paired import PairedCase

    return [PairedCase(key.split("::", 1)[1], key.split("::", 1)[0], tuple(a), tuple(b)) for key, (a, b) in sorted(ab.pairs().items())]


def _terminated(signum: int, frame: Any) -> None:
    """SIGTERM: stop the rounds; the worktrees are removed on the way out and the exit code says why (128 + 15)."""
    print("perfsuite ab: stopped by SIGTERM; removing its git worktrees", file=sys.stderr, flush=True)
    raise SystemExit(143)


def register(sub: Any) -> None:
    p = sub.add_parser("ab", help="interleaved A/B rounds of the same cases in fresh processes, with paired verdicts")
    p.add_argument("--a", help="config tree for side A (used as --perf-conf-dir)")
    p.add_argument("--b", help="config tree for side B")
    p.add_argument("--base", help="git ref for side A (a detached worktree)")
    p.add_argument("--head", help="git ref for side B (default: the working tree as it is)")
    p.add_argument("--a-override", action="append", default=[], metavar="KEY=VALUE",
                   help="a --perf-override for side A's runs only, repeatable (default: none)")
    p.add_argument("--b-override", action="append", default=[], metavar="KEY=VALUE",
                   help="a --perf-override for side B's runs only, repeatable; without --a/--b/--base both sides are the working tree, "
                        "so B is the same code with the override, e.g. inference_runtime.slowdown=0.05 (default: none)")
    p.add_argument("--repo", default=".", help="the git repository of --base/--head (default: .)")
    p.add_argument("--rounds", type=int_in(1, MAX_ROUNDS, "pairs of runs"), default=24, help="pairs of runs (the first look with --max-rounds); a suite of 20 cases at alpha 0.01 "
                   "needs at least 11 to decide anything. On a shared 2-core VM, end to end, 24 rounds caught 5%% in every case and 3%% in 98%% "
                   "of runs for cases whose pair ratios spread by <= 3%%; 2%% took 48 (docs/performance.md) (default: 24)")
    p.add_argument("--max-rounds", type=int_in(1, MAX_ROUNDS, "pairs of runs at most"), default=None,
                   help="sequential: after --rounds, look at the verdicts every --look-every rounds and stop once no case is inconclusive, "
                        "at most this many rounds; each look is judged at alpha / looks (default: --rounds, a fixed design)")
    p.add_argument("--look-every", type=int_in(1, MAX_ROUNDS, "rounds between two looks"), default=None, help="rounds between two looks of a sequential run (default: half of --rounds)")
    p.add_argument("--order", choices=("alternate", "random", "duet"), default="alternate",
                   help="ABAB..., a random order per round, or duet: A and B at the same time, each pinned to its own half of the CPUs, "
                        "the halves swapped every round (needs 2+ CPUs; opt-in: its false-alarm rate is not established yet, docs/gating.md) "
                        "(default: alternate)")
    p.add_argument("--seed", type=int_in(0, 2**32 - 1, "a random seed"), default=0, help="seed of --order random (default: 0)")
    p.add_argument("--benches", default="benches", help="the benchmark folder each side runs (default: benches)")
    p.add_argument("--gate-config", default="paired", help="conf/gate/NAME.yaml for statistic, thresholds and alpha (its noise floor is not used) (default: paired)")
    p.add_argument("--conf-dir", action="append", help="extra config tree for the gate config")
    p.add_argument("--out", default="out", help="the out/ folder (default: out)")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: arguments for every pytest run")
    p.set_defaults(func=run)
