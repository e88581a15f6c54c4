"""`perfsuite ab`: interleaved A/B rounds in fresh processes, paired verdicts (see perfsuite.ab)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from perfsuite.errors import PerfDataError


def run(args: argparse.Namespace) -> int:
    from perfsuite.ab import conf_side, git_side, remove_worktrees, run_ab
    from perfsuite.compare.gate import decide
    from perfsuite.compare.paired import PairedCase, compare_pairs, min_pairs
    from perfsuite.config.gate import load_gate
    from perfsuite.report.verdicts import markdown, terminal_lines, verdicts_doc

    by_conf = bool(args.a or args.b)
    by_git = bool(args.base or args.head)
    if by_conf == by_git or (by_conf and not (args.a and args.b)) or (by_git and not args.base):
        raise PerfDataError("give either --a CONF --b CONF, or --base REF [--head REF]")
    spec = load_gate(args.gate_config, tuple(args.conf_dir or ()))
    policy = type(spec.policy)(alpha=spec.policy.alpha, noise_floor=0.0, statistic=spec.policy.statistic,
                               thresholds=spec.policy.thresholds, case_thresholds=spec.policy.case_thresholds)
    cwd = Path.cwd()
    out = Path(args.out).resolve()
    sides = []
    try:
        if by_conf:
            sides = [conf_side("a", args.a, cwd), conf_side("b", args.b, cwd)]
        else:
            repo = Path(args.repo).resolve()
            worktrees = out / "ab-worktrees"
            worktrees.mkdir(parents=True, exist_ok=True)
            sides.append(git_side("a", repo, args.base, worktrees))
            sides.append(git_side("b", repo, args.head, worktrees) if args.head else
                         type(sides[0])("b", "working tree", cwd))
        pytest_args = [a for a in args.pytest_args if a != "--"]
        ab = run_ab(sides[0], sides[1], rounds=args.rounds, out_root=out, benches=args.benches,
                    pytest_args=pytest_args, order=args.order, seed=args.seed, statistic=policy.statistic)
    finally:
        if by_git:
            remove_worktrees(Path(args.repo).resolve(), sides)
    pairs = ab.pairs()
    cases = [PairedCase(key.split("::", 1)[1], key.split("::", 1)[0], tuple(a), tuple(b)) for key, (a, b) in sorted(pairs.items())]
    comparison = compare_pairs(cases, policy)
    needed = min_pairs(1.0 - policy.alpha / max(1, len(cases)))
    if args.rounds < needed:
        print(f"perfsuite ab: note: {args.rounds} rounds cannot decide at suite-wide alpha {policy.alpha:g} over {len(cases)} case(s); use --rounds {needed} or more")
    label = f"A = {sides[0].description}, B = {sides[1].description}"
    for line in terminal_lines(comparison, label):
        print(line)
    decision = decide(comparison, inconclusive=spec.inconclusive, base_machine="same", head_machine="same", force=False)
    print(decision.message)
    doc = verdicts_doc(comparison, base={"side": "a", "description": sides[0].description}, head={"side": "b", "description": sides[1].description},
                       gate={"config": spec.name, "mode": "interleaved", "rounds": args.rounds, "decision": decision.message, "exit_code": decision.exit_code or 0})
    (ab.folder / "verdicts.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    (ab.folder / "summary.md").write_text(markdown(comparison, label, title="perfsuite A/B"), encoding="utf-8")
    print(f"ab folder: {ab.folder}")
    return decision.exit_code or 0


def register(sub: Any) -> None:
    p = sub.add_parser("ab", help="interleaved A/B rounds of the same cases in fresh processes, with paired verdicts")
    p.add_argument("--a", help="config tree for side A (used as --perf-conf-dir)")
    p.add_argument("--b", help="config tree for side B")
    p.add_argument("--base", help="git ref for side A (a detached worktree)")
    p.add_argument("--head", help="git ref for side B (default: the working tree as it is)")
    p.add_argument("--repo", default=".", help="the git repository of --base/--head (default: .)")
    p.add_argument("--rounds", type=int, default=24, help="pairs of runs; a suite of 20 cases at alpha 0.01 needs at least 12 to decide anything, "
                   "24 caught 5%% in 15/15 and 2%% in 12/15 trials on a shared 2-core VM (docs/performance.md) (default: 24)")
    p.add_argument("--order", choices=("alternate", "random"), default="alternate", help="ABAB... or a random order per round (default: alternate)")
    p.add_argument("--seed", type=int, default=0, help="seed of --order random (default: 0)")
    p.add_argument("--benches", default="benches", help="the benchmark folder each side runs (default: benches)")
    p.add_argument("--gate-config", default="paired", help="conf/gate/NAME.yaml for statistic, thresholds and alpha (its noise floor is not used) (default: paired)")
    p.add_argument("--conf-dir", action="append", help="extra config tree for the gate config")
    p.add_argument("--out", default="out", help="the out/ folder (default: out)")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: arguments for every pytest run")
    p.set_defaults(func=run)
