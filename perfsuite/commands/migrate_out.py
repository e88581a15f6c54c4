"""`perfsuite migrate-out [--out DIR] [--apply]`: file an older or hand-made out/ into the layout."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def run(args: argparse.Namespace) -> int:
    from perfsuite.results.migrate import migrate_out

    return migrate_out(Path(args.out).absolute(), apply=args.apply, echo=print)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "migrate-out",
        help="move an older out/ into runs/ baselines/ cache/ _archive/ (dry run unless --apply)",
        description=(
            "Move loose files and old folders of an out/ folder into the current layout. Files are mapped to "
            "their run by the timestamp in their name or folder, or the time inside a JSON file; what cannot "
            "be mapped goes to _archive/unmapped/. Nothing is overwritten (clashes get .clash-N) and re-running "
            "finishes an interrupted migration. Refuses while a perfsuite session holds the run lock."
        ),
    )
    p.add_argument("--out", default="out", metavar="DIR", help="the out/ folder to migrate. Default: out")
    p.add_argument("--apply", action="store_true", help="move the files. Default: only print the plan")
    p.set_defaults(func=run)
