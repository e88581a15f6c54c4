"""`perfsuite baseline save|list|show|promote|delete`: the stored baselines a gate compares against."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from perfsuite.commands.args import int_in
from perfsuite.errors import PerfDataError
from perfsuite.results.baselines import DEFAULT_KEEP, MAX_KEEP, BaselineStore, read_baseline
from perfsuite.results.run import latest_run


def _store(args: argparse.Namespace) -> BaselineStore:
    return BaselineStore(Path(args.baseline_dir) if args.baseline_dir else Path(args.out) / "baselines")


def run(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.action == "save":
        run_dir = Path(args.run) if args.run else latest_run(Path(args.out))
        path = store.save(run_dir, args.name, keep=args.keep)
        runs = read_baseline(path).runs
        print(f"saved baseline {args.name!r} from {run_dir} -> {path} ({runs} run{'s' if runs > 1 else ''} kept)")
    elif args.action == "list":
        found = store.list()
        if not found:
            print(f"no baselines under {store.root}")
        broken = []
        for machine, name, path in found:  # one unreadable file is named, not a reason to hide the others
            try:
                b = read_baseline(path)
            except PerfDataError as exc:
                broken.append(str(exc))
                print(f"{machine}  {name:<24} UNREADABLE (see below)")
                continue
            print(f"{machine}  {name:<24} saved {b.saved}  {len(b.run.cases)} results  {b.runs} run{'s' if b.runs > 1 else ''}  suite {b.run.suite}  device {b.run.device}")
        if broken:
            raise PerfDataError(f"{len(broken)} of {len(found)} baselines cannot be read (save them again or delete them): " + "; ".join(broken))
    elif args.action == "show":
        b = store.load(args.name, args.machine_id)
        print(json.dumps({"name": b.name, "machine_id": b.machine_id, "saved": b.saved, "source_run": b.source_run,
                          "suite": b.run.suite, "device": b.run.device, "raw_samples": b.has_raw_samples, "runs": b.runs,
                          "cases": [c.key for c in b.run.cases]}, indent=2))
    elif args.action == "promote":
        # Copy a baseline to another name (e.g. a nightly run becomes `main`) on the same machine id.
        b = store.load(args.name, args.machine_id)
        target = store.path(args.to, b.machine_id)
        doc = json.loads(b.path.read_text(encoding="utf-8"))
        doc["name"] = args.to
        from perfsuite.results.layout import atomic_write_text

        atomic_write_text(target, json.dumps(doc, indent=1))
        print(f"promoted baseline {args.name!r} to {args.to!r} -> {target}")
    elif args.action == "delete":
        path = store.delete(args.name, args.machine_id)
        print(f"deleted {path}")
    else:  # pragma: no cover - argparse restricts the choices
        raise PerfDataError(f"unknown action {args.action}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("baseline", help="save, list, show, promote or delete stored baselines")
    p.add_argument("action", choices=("save", "list", "show", "promote", "delete"))
    p.add_argument("name", nargs="?", help="baseline name (letters, digits, '.', '_', '-')")
    p.add_argument("--run", help="save: the run folder to save (default: the newest under OUT/runs)")
    p.add_argument("--to", help="promote: the new name")
    p.add_argument("--keep", type=int_in(1, MAX_KEEP, "runs a baseline keeps"), default=DEFAULT_KEEP, help=f"save: keep the last N runs under NAME; the gate judges by their spread from 3 on; 1 replaces (default: {DEFAULT_KEEP})")
    p.add_argument("--machine-id", help="show/promote/delete: the machine id folder (default: any, this machine's first)")
    p.add_argument("--out", default="out", help="the out/ folder (default: out)")
    p.add_argument("--baseline-dir", help="where baselines live (default: OUT/baselines)")
    p.set_defaults(func=_checked)


def _checked(args: argparse.Namespace) -> int:
    if args.action != "list" and not args.name:
        raise PerfDataError(f"`perfsuite baseline {args.action}` needs a NAME")
    if args.action == "promote" and not args.to:
        raise PerfDataError("`perfsuite baseline promote NAME --to NEW` needs --to")
    return run(args)
