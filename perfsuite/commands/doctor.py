"""`perfsuite doctor [--device cuda] [--out DIR] [--json]`: check this machine before a benchmark run.

Prints one line per finding (ok, warn, BLOCK) with what to fix. Exit status 1 when something
blocks a run (a CPU build of torch for --device cuda, a driver too old for torch's CUDA, an
unwritable or full out/, another run holding out/'s lock), 0 otherwise, warnings included.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from perfsuite.commands.args import number_in


def run(args: argparse.Namespace) -> int:
    from perfsuite.config.validate import check_device
    from perfsuite.doctor import exit_code, run_checks

    device = check_device(args.device)
    findings = run_checks(device=device, out_dir=Path(args.out), interval_s=args.interval_s)
    code = exit_code(findings)
    if args.json:
        print(json.dumps({"ok": code == 0, "device": device, "out": args.out, "findings": [f.to_dict() for f in findings]}, indent=2))
        return code
    width = max(len(f.check) for f in findings)
    for f in findings:
        mark = {"ok": "ok   ", "warn": "warn ", "block": "BLOCK"}[f.level]
        print(f"{mark} {f.check:<{width}}  {f.message}")
        if f.fix and f.level != "ok":
            print(f"      {'':<{width}}  fix: {f.fix}")
    blocks = sum(f.level == "block" for f in findings)
    warns = sum(f.level == "warn" for f in findings)
    print(f"{blocks} blocking, {warns} warnings: " + ("fix the blocking ones before a run" if blocks else "ready to run" + (" (see the warnings)" if warns else "")))
    return code


def register(sub: Any) -> None:
    p = sub.add_parser("doctor", help="check torch/CUDA/driver, NVML, disk, threads and other runs before a benchmark run")
    p.add_argument("--device", default="cpu", help="the device the run will use: cpu, cuda, cuda:N, mps (default: cpu)")
    p.add_argument("--out", default="out", help="the out/ folder runs will write to (default: out)")
    p.add_argument("--interval-s", type=number_in(0.05, 60, "seconds of CPU sampling"), default=0.5, help="how long to sample CPU use when the machine looks busy (default: 0.5)")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.set_defaults(func=run)
