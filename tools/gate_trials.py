"""Issue #22's acceptance trials: the gate as users run it, scenario by scenario, and the table.

Every step is a fresh process of a user-facing command (`pytest benches --perf-baseline-save`,
`pytest benches --perf-compare --perf-gate`, `perfsuite ab`), run by `perfsuite.calibrate.trials`,
the code of `perfsuite gate calibrate`. The scenarios:

    quiet-1run       smoke suite, a fresh 1-run baseline per trial; 2x and 1.25x slowed, unchanged
    quiet-replicate  default suite, a fresh 5-run replicate baseline per trial; 5% slowed, unchanged
    busy             smoke suite, 1-run baseline, 2 busy processes beside each trial; 2x slowed, unchanged

    .venv/bin/python tools/gate_trials.py --scenario quiet-1run [--trials 10] [--aa-trials 20] [--slowdowns 0,0.25,1.0]
        [--model-change model.config.n_layer=3 --changed 'gpt2*'] [--ab-rounds N] [--json PATH] [-- EXTRA PYTEST ARGS]

The JSON (default out/gate_trials/<scenario>.json) is rewritten after every trial, so an
interrupted measurement keeps its data; `--table PATH` prints the table of a saved JSON again.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from perfsuite.calibrate.summary import arm_rows, document  # noqa: E402
from perfsuite.calibrate.trials import Change, Trial, TrialPlan, TrialRunner, config_change, slowdown_change  # noqa: E402
from perfsuite.commands.args import int_in  # noqa: E402
from perfsuite.commands.gate import slowdowns  # noqa: E402
from perfsuite.report.calibration import ARM_HEADER, arm_table  # noqa: E402
from perfsuite.report.terminal import table  # noqa: E402
from perfsuite.results.layout import atomic_write_text  # noqa: E402


@dataclass(frozen=True)
class Scenario:
    suite: str
    baseline_runs: int
    busy: int
    slowdowns: str
    trials: int
    aa_trials: int


# The acceptance settings; each is a default that the command line may change.
SCENARIOS = {
    "quiet-1run": Scenario("smoke", 1, 0, "0,0.25,1.0", 10, 20),
    "quiet-replicate": Scenario("default", 5, 0, "0,0.05", 10, 100),
    "busy": Scenario("smoke", 1, 2, "0,1.0", 10, 10),
}


def plan_of(args: argparse.Namespace) -> TrialPlan:
    sc = SCENARIOS[args.scenario]
    changes: list[Change] = [slowdown_change(s) for s in (args.slowdowns or slowdowns(sc.slowdowns))]
    if args.model_change:
        changes.append(config_change(args.model_change, args.changed))
    extra = tuple(a for a in args.pytest_args if a != "--")
    return TrialPlan(str(REPO / "benches"), ("--perf-suite", sc.suite, *extra), tuple(changes), args.trials or sc.trials,
                     args.aa_trials or sc.aa_trials, sc.baseline_runs, False, args.ab_rounds, sc.busy)


def print_table(scenario: str, plan: TrialPlan, trials: list[Trial]) -> None:
    print(f"scenario {scenario}: baseline of {plan.baseline_runs} run(s) per trial, {plan.busy} busy process(es), "
          f"pytest {' '.join(plan.pytest_args)}")
    for line in table(["scenario", *ARM_HEADER], [[scenario, *row] for row in arm_table(arm_rows(trials, plan.changes))]):
        print(line)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", choices=sorted(SCENARIOS), default="quiet-1run")
    p.add_argument("--trials", type=int_in(1, 1000, "trials per slowed change"), default=None, help="(default: the scenario's)")
    p.add_argument("--aa-trials", type=int_in(1, 1000, "unchanged trials"), default=None, help="(default: the scenario's)")
    p.add_argument("--slowdowns", type=slowdowns, default=None, help="(default: the scenario's)")
    p.add_argument("--model-change", default=None, metavar="KEY=VALUE", help="also a config change, e.g. model.config.n_layer=3")
    p.add_argument("--changed", default="gpt2*", metavar="GLOB", help="the cases --model-change reaches (default: gpt2*)")
    p.add_argument("--ab-rounds", type=int_in(0, 1000, "A/B rounds per trial"), default=0)
    p.add_argument("--out", default=str(REPO / "out"), help="trials go to OUT/gate_trials/<scenario>/ (default: out)")
    p.add_argument("--json", default=None, help="(default: OUT/gate_trials/<scenario>.json)")
    p.add_argument("--table", default=None, metavar="JSON", help="print the table of a saved JSON and exit")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: extra pytest arguments (e.g. -k 'bert and bs1')")
    args = p.parse_args(argv)
    if args.table:
        doc = json.loads(Path(args.table).read_text(encoding="utf-8"))
        plan = TrialPlan(**{**doc["plan"], "pytest_args": tuple(doc["plan"]["pytest_args"]),
                            "changes": tuple(Change(**{**c, "overrides": tuple(c["overrides"])}) for c in doc["plan"]["changes"])})
        print_table(Path(args.table).stem, plan, [Trial.from_dict(t) for t in doc["trials"]])
        return 0
    plan = plan_of(args)
    work = Path(args.out) / "gate_trials" / args.scenario
    if work.exists() and any(work.iterdir()):
        p.error(f"{work} is not empty (an earlier measurement); move it or give another --out")
    json_path = Path(args.json) if args.json else Path(args.out) / "gate_trials" / f"{args.scenario}.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)

    def save(done: list[Trial]) -> None:
        atomic_write_text(json_path, json.dumps(document(plan, done), indent=1))

    trials = TrialRunner(plan, work.resolve()).run(on_trial=save)
    save(trials)
    print_table(args.scenario, plan, trials)
    print(f"trials: {json_path}")
    return 0


if __name__ == "__main__":
    from perfsuite.errors import PerfError

    try:
        sys.exit(main())
    except PerfError as exc:
        print(f"gate_trials: error: {exc}", file=sys.stderr)
        sys.exit(2)
