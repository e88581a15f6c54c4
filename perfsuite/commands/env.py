"""`perfsuite env`: print this machine's fingerprint (what env.json records for every run)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def run(args: argparse.Namespace) -> int:
    from perfsuite.results.env import fingerprint

    print(json.dumps(fingerprint(Path(args.project).resolve()), indent=2, sort_keys=True))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("env", help="print the machine fingerprint as JSON")
    p.add_argument("--project", default=".", help="folder whose git commit is recorded (default: .)")
    p.set_defaults(func=run)
