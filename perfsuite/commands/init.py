"""`perfsuite init [DIR]`: scaffold a benchmark project in DIR, then run its smoke check.

Idempotent: a file already as perfsuite would write it is kept, a missing one is created, one that
differs is a conflict (nothing is written; `--force` replaces it and keeps the old one as .bak).
`--dry-run` shows the plan. Settings in the user's own files (pyproject.toml, pytest.ini,
.gitignore) are only ever added to.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from perfsuite.bootstrap.paths import is_inside_relative
from perfsuite.config.sources import foreign_primary_config
from perfsuite.errors import PerfConfigError
from perfsuite.scaffold.files import carry_out
from perfsuite.scaffold.project import DEVICES, InitOptions, ProjectLayout, plan_init, shown_command, smoke_check


def run(args: argparse.Namespace) -> int:
    root = Path(args.dir).absolute()
    if root.exists() and not root.is_dir():
        print(f"perfsuite init: {args.dir} is a file, not a folder; nothing was written.")
        return 1
    for flag, value in (("--conf-dir", args.conf_dir), ("--benches-dir", args.benches_dir), ("--out-dir", args.out_dir)):
        if not value or not is_inside_relative(value):
            raise PerfConfigError("must be a folder inside the project: a relative path without '..'", key=flag, value=value)
    if foreign_primary_config(root / args.conf_dir):  # the run would pass it as --perf-conf-dir: refused there too
        raise PerfConfigError(
            f"{root / args.conf_dir / 'config.yaml'} exists: perfsuite's presets go into a config folder without a config.yaml "
            "of its own (it would replace perfsuite's primary config); nothing was written",
            key="--conf-dir", value=args.conf_dir, hint="pick a folder of their own, e.g. perfsuite init --conf-dir perf_conf",
        )
    layout = ProjectLayout(root=root, conf=args.conf_dir, benches=args.benches_dir, out=args.out_dir, suite=args.suite)
    options = InitOptions(layout, device=args.device, runner_label=args.runner_label, main_branch=args.main_branch, requirement=args.requirement)
    plan = plan_init(options, force=args.force)
    if not carry_out(plan, title=f"perfsuite init {args.dir}", dry_run=args.dry_run, echo=print):
        return 1
    command = shown_command(layout.run_command())
    if args.dry_run:
        return 0
    if args.no_check:
        print(f"smoke check skipped (--no-check). Run the suite from {args.dir}: {command}")
        return 0
    print("smoke check: the suite once, with a very short measurement (not a baseline) ...")
    result = smoke_check(layout)
    if not result.ok:
        print(result.tail)
        print(f"smoke check FAILED after {result.seconds:.0f} s: {shown_command(result.command)}")
        print("The files are in place; fix what pytest reports above and re-run `perfsuite init` (it keeps what is there).")
        return 1
    print(f"smoke check passed in {result.seconds:.0f} s: {result.outcome}")
    print("Next:")
    print("  perfsuite new model NAME --from /path/to/hf/snapshot   # or --family gpt2|bert|distilbert|resnet50")
    print("  perfsuite new dataset NAME --from /path/to/folder")
    print(f"  {command}   # the full measurement, into {layout.out}/runs/")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "init",
        help="scaffold a benchmark project (conf, benches, pytest keys, CI workflow, CUDA Dockerfile) and check it",
        description="Scaffold a perfsuite benchmark project in DIR and run its smoke check. Never overwrites a file without --force.",
    )
    p.add_argument("dir", nargs="?", default=".", metavar="DIR", help="the project folder (created if missing). Default: .")
    p.add_argument("--dry-run", action="store_true", help="show the plan, write nothing. Default: off")
    p.add_argument("--force", action="store_true", help="replace files that differ (the old one is kept as <name>.bak). Default: off")
    p.add_argument("--no-check", action="store_true", help="skip the smoke check (a short pytest run of the suite). Default: run it")
    p.add_argument("--suite", default="project", metavar="NAME", help="the suite's name (conf/suite/NAME.yaml). Default: project")
    p.add_argument("--conf-dir", default="conf", metavar="DIR", help="the config tree, relative to DIR (--perf-conf-dir). Default: conf")
    p.add_argument("--benches-dir", default="benches", metavar="DIR", help="the benchmarks folder, relative to DIR. Default: benches")
    p.add_argument("--out-dir", default="out", metavar="DIR", help="where run folders go (ini perf_out_dir). Default: out")
    p.add_argument("--device", choices=DEVICES, default="cpu", help="what the CI workflow benchmarks on. Default: cpu")
    p.add_argument("--runner-label", default="perf", metavar="LABEL", help="the self-hosted runner label in the CI workflow. Default: perf")
    p.add_argument("--main-branch", default="main", metavar="BRANCH", help="the branch whose runs are the baseline. Default: main")
    p.add_argument(
        "--requirement", default=InitOptions.__dataclass_fields__["requirement"].default, metavar="SPEC",
        help="how CI and the Dockerfile install perfsuite (pip requirement, wheel path or git URL). Default: this version",
    )
    p.set_defaults(func=run)
