"""`perfsuite bootstrap models|datasets|all`: per-host links to model snapshots and dataset data.

Paths come from flags, else environment variables, else the repository root, so tests and CI
can point every write at a temporary folder:

    --repo-root      PERFSUITE_REPO_ROOT      (default: the working directory)
    --models-dir     PERFSUITE_MODELS_DIR     (default: <repo>/models)
    --config         PERFSUITE_MODELS_CONFIG  (default: <repo>/models/bootstrap.yaml)
    --datasets-dir   PERFSUITE_DATASETS_DIR   (default: <repo>/datasets)
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from perfsuite.bootstrap.plan import Plan, Problem, run_plan
from perfsuite.errors import PerfConfigError


def _path(flag: str | None, var: str, default: Path, env: Mapping[str, str]) -> Path:
    if flag:
        return Path(flag).absolute()
    if env.get(var):
        return Path(env[var]).absolute()
    return default


def _repo(args: argparse.Namespace, env: Mapping[str, str]) -> Path:
    return _path(args.repo_root, "PERFSUITE_REPO_ROOT", Path.cwd(), env)


def _models_plan(args: argparse.Namespace, env: Mapping[str, str]) -> Plan:
    from perfsuite.bootstrap.models import load_models_bootstrap, plan_models

    repo = _repo(args, env)
    config = _path(args.config, "PERFSUITE_MODELS_CONFIG", repo / "models" / "bootstrap.yaml", env)
    models_dir = _path(args.models_dir, "PERFSUITE_MODELS_DIR", repo / "models", env)
    try:
        return plan_models(load_models_bootstrap(config), models_dir, env)
    except PerfConfigError as exc:
        return Plan.of([Problem("models", str(exc))])


def _datasets_plan(args: argparse.Namespace, env: Mapping[str, str]) -> Plan:
    from perfsuite.bootstrap.datasets import plan_datasets

    repo = _repo(args, env)
    datasets_dir = _path(args.datasets_dir, "PERFSUITE_DATASETS_DIR", repo / "datasets", env)
    return plan_datasets(datasets_dir, getattr(args, "names", []) or [], env, use_sample=args.use_sample)


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    what = args.what
    if what == "models":
        plan = _models_plan(args, env)
    elif what == "datasets":
        plan = _datasets_plan(args, env)
    else:
        # Datasets first, then models: a broken dataset does not stop the models from being linked.
        plan = _datasets_plan(args, env) + _models_plan(args, env)
    return run_plan(plan, title=f"perfsuite bootstrap {what}", yes=args.yes, dry_run=args.dry_run, echo=print)


def _common(p: argparse.ArgumentParser) -> None:
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--yes", action="store_true", help="apply the plan. Default: only show it")
    mode.add_argument("--dry-run", action="store_true", help="show the plan, change nothing, exit 0 unless a problem was found")
    p.add_argument("--repo-root", metavar="DIR", help="repository root. Default: $PERFSUITE_REPO_ROOT, else the working directory")


def _models_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", "--models-config", dest="config", metavar="FILE",
        help="models bootstrap config. Default: $PERFSUITE_MODELS_CONFIG, else <repo>/models/bootstrap.yaml",
    )
    p.add_argument(
        "--models-dir", metavar="DIR",
        help="where the models/<name> links go. Default: $PERFSUITE_MODELS_DIR, else <repo>/models",
    )


def _datasets_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--datasets-dir", metavar="DIR",
        help="folder of dataset folders. Default: $PERFSUITE_DATASETS_DIR, else <repo>/datasets",
    )
    p.add_argument(
        "--use-sample", action="store_true",
        help="seed a missing data root with the dataset's shipped sample zip. Default: off",
    )


def register(sub: Any) -> None:
    p = sub.add_parser("bootstrap", help="link local model snapshots and dataset data on this host")
    what = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    models = what.add_parser("models", help="link models/<name> to local snapshots (models/bootstrap.yaml)")
    _common(models)
    _models_flags(models)
    datasets = what.add_parser("datasets", help="extract dataset zips once and link datasets/<name>/source-data")
    datasets.add_argument("names", nargs="*", metavar="NAME", help="datasets to bootstrap. Default: all")
    _common(datasets)
    _datasets_flags(datasets)
    both = what.add_parser("all", help="datasets, then models")
    _common(both)
    _models_flags(both)
    _datasets_flags(both)
    for q in (models, datasets, both):
        q.set_defaults(func=run)
