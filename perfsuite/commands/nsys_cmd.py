"""`perfsuite nsys-cmd CASE [--tool nsys|ncu]`: the exact Nsight command that profiles one case.

The same options as a pytest run select the plan (`--perf-suite`, `--perf-device`, repeatable
`--perf-override` and `--perf-conf-dir`), so the printed command reruns exactly that case's
timed test under `nsys profile` (or `ncu`), with the profiling.nsys / profiling.ncu preset of the
case's composed config. It prints, it does not run: paste it on a machine with the tool.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from perfsuite.errors import PerfConfigError
from perfsuite.profile.nsight import TOOLS, child_for, not_applicable, nsight_command


def run(args: argparse.Namespace) -> int:
    from perfsuite.config.plan import build_plan

    plan = build_plan(device=args.perf_device, suite=args.perf_suite, overrides=args.perf_override, conf_dirs=args.perf_conf_dir)
    case = next((c for c in plan.cases if c.id == args.case), None)
    if case is None:
        raise PerfConfigError("no such case in this plan", key="CASE", value=args.case, allowed=[c.id for c in plan.cases],
                              hint="pass the same --perf-suite, --perf-device and --perf-override options as the pytest run")
    benches = Path(args.benches)
    node = f"{benches / 'test_latency.py'}::test_latency[{case.id}]"
    out = Path(args.out)
    child = child_for(case, node, suite=plan.suite.name, overrides=plan.overrides, conf_dirs=plan.conf_dirs[:-1], out_dir=out / "out")
    cmd = nsight_command(args.tool, case, child, out)
    why_not = not_applicable(args.tool, case, getattr(case.config.profiling, args.tool).enabled)
    if why_not is not None:
        print(f"perfsuite: note: the nsight stage would skip {args.tool} for this case ({why_not})", file=sys.stderr)
    print(cmd.shell())
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "nsys-cmd",
        help="print the exact nsys (or ncu) command that profiles one case",
        description="Print the Nsight Systems / Compute command for CASE (a case id, as in test ids), built from its "
        "profiling.nsys / profiling.ncu preset; runnable on a machine with the tool on PATH.",
    )
    p.add_argument("case", metavar="CASE", help="the case id, e.g. gpt2.tiny-pydoc-eager-bs1-cuda")
    p.add_argument("--tool", choices=TOOLS, default="nsys", help="which Nsight tool. Default: nsys")
    p.add_argument("--perf-suite", default=None, metavar="NAME", help="conf/suite/NAME.yaml. Default: default")
    p.add_argument("--perf-device", "--device", dest="perf_device", default="cuda", metavar="DEVICE", help="cpu, cuda, cuda:N. Default: cuda")
    p.add_argument("--perf-override", action="append", default=[], metavar="KEY=VALUE", help="as for pytest, repeatable. Default: none")
    p.add_argument("--perf-conf-dir", action="append", default=[], metavar="DIR", help="extra config tree, repeatable. Default: none")
    p.add_argument("--benches", default="benches", metavar="DIR", help="the folder holding test_latency.py. Default: benches")
    p.add_argument("--out", default="out/nsight", metavar="DIR", help="where the report (and the child run's folder) go. Default: out/nsight")
    p.set_defaults(func=run)
