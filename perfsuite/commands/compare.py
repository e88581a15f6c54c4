"""`perfsuite compare RUN_A RUN_B` / `perfsuite compare --baseline NAME [RUN]`: verdicts without pytest."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from perfsuite.errors import PerfDataError
from perfsuite.results.layout import write_named_file


def _machine_of(run_dir: Path) -> str | None:
    try:
        env = json.loads((run_dir / "env.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return env.get("machine_id") if isinstance(env, dict) else None


def run(args: argparse.Namespace) -> int:
    from perfsuite.compare import compare_runs
    from perfsuite.compare.gate import decide
    from perfsuite.config.gate import load_gate
    from perfsuite.report.verdicts import markdown, terminal_lines, verdicts_doc
    from perfsuite.results.baselines import BaselineStore
    from perfsuite.results.run import latest_run, load_run

    spec = load_gate(args.gate_config, tuple(args.conf_dir or ()))
    if args.baseline:
        if len(args.runs) > 1:
            raise PerfDataError("with --baseline NAME give at most one run folder (the head)")
        head_dir = Path(args.runs[0]) if args.runs else latest_run(Path(args.out))
        head_machine = _machine_of(head_dir)
        store = BaselineStore(Path(args.baseline_dir) if args.baseline_dir else Path(args.out) / "baselines")
        baseline = store.load(args.baseline, head_machine)
        base, base_machine = baseline.run, baseline.machine_id
        replicates = baseline.replicates
        label = f"baseline {baseline.name!r} ({baseline.saved}" + (f", {baseline.runs} runs)" if baseline.runs > 1 else ")")
    else:
        if len(args.runs) != 2:
            raise PerfDataError("give two run folders (RUN_A RUN_B), or --baseline NAME [RUN]")
        base_dir, head_dir = Path(args.runs[0]), Path(args.runs[1])
        base, base_machine, label = load_run(base_dir), _machine_of(base_dir), f"run {base_dir.name}"
        head_machine = _machine_of(head_dir)
        replicates = ()
    head = load_run(head_dir)
    if base.imported or head.imported:
        print("perfsuite: note: one side is an imported pytest-benchmark run; without raw samples its verdicts compare medians only (weaker)", file=sys.stderr)
    comparison = compare_runs(base, head, spec.policy, replicates=replicates)
    for line in terminal_lines(comparison, label):
        print(line)
    decision = decide(comparison, inconclusive=spec.inconclusive, base_machine=base_machine, head_machine=head_machine, force=args.force)
    print(decision.message)
    if args.json:
        doc = verdicts_doc(comparison, base={"label": label, "machine_id": base_machine}, head={"run": str(head_dir), "machine_id": head_machine},
                           gate={"config": spec.name, "decision": decision.message, "exit_code": decision.exit_code or 0})
        write_named_file(Path(args.json), json.dumps(doc, indent=1), "the verdicts (--json)")
    if args.markdown:
        write_named_file(Path(args.markdown), markdown(comparison, label, head=head), "the Markdown summary (--markdown)")
    return decision.exit_code or 0


def register(sub: Any) -> None:
    p = sub.add_parser("compare", help="verdicts (regressed / ok / inconclusive) of one run against another or a baseline")
    p.add_argument("runs", nargs="*", help="RUN_A RUN_B, or with --baseline: the head run (default: the newest)")
    p.add_argument("--baseline", help="compare against this stored baseline")
    p.add_argument("--gate-config", default="default", help="conf/gate/NAME.yaml (default: default)")
    p.add_argument("--conf-dir", action="append", help="extra config tree searched first (repeatable)")
    p.add_argument("--force", action="store_true", help="gate even when the machine ids differ")
    p.add_argument("--json", help="also write verdicts.json here")
    p.add_argument("--markdown", help="also write the Markdown summary here")
    p.add_argument("--out", default="out", help="the out/ folder (default: out)")
    p.add_argument("--baseline-dir", help="where baselines live (default: OUT/baselines)")
    p.set_defaults(func=run)
