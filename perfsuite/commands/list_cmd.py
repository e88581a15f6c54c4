"""`perfsuite list [suites|models|datasets|runtimes] [--perf-conf-dir DIR ...]`: what a run can select (all four by default).

One line per name, with what it is: a suite's description, a model's family, adapter and
modality, a dataset's adapter and modality, a runtime's backend and precision. Names come from the built-in
conf tree and the user conf dirs (searched first, as in a run), so a user's own presets show.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perfsuite.config.sources import ConfSources

KINDS = ("suites", "models", "datasets", "runtimes")


def _read(path: Path | None) -> dict[str, Any] | str:
    """The YAML mapping in `path`, or why it cannot be read (listing never stops at one bad file)."""
    import yaml

    if path is None:
        return "no file"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return f"cannot read {path}: {str(exc).splitlines()[0]}"
    return data if isinstance(data, dict) else f"{path} is not a mapping"


def _fields(data: dict[str, Any] | str, *keys: str) -> str:
    if isinstance(data, str):
        return f"({data})"
    return ", ".join(f"{key} {data[key]}" for key in keys if data.get(key) not in (None, "", []))


def suites(sources: ConfSources) -> list[tuple[str, str]]:
    rows = []
    for name in sources.options("suite"):
        data = _read(sources.find("suite", name))
        rows.append((name, f"({data})" if isinstance(data, str) else str(data.get("description") or "(no description)")))
    return rows


def models(sources: ConfSources) -> list[tuple[str, str]]:
    rows = []
    for model_id in sources.model_ids():
        family, _, preset = model_id.partition(".")
        data = _read(sources.find(f"model/{family}/arch", model_id if preset else f"{family}.default"))
        described = _fields(data, "adapter", "modality")
        rows.append((model_id, f"family {family}" + (f", {described}" if described else "")))
    return rows


def datasets(sources: ConfSources) -> list[tuple[str, str]]:
    return [(name, _fields(_read(sources.find("dataset", name)), "adapter", "modality", "source", "root")) for name in sources.options("dataset")]


def runtimes(sources: ConfSources) -> list[tuple[str, str]]:
    keys = ("backend", "name", "precision", "precision_mode")
    return [(name, _fields(_read(sources.find("inference_runtime", name)), *keys)) for name in sources.options("inference_runtime")]


LISTERS: dict[str, Callable[[ConfSources], list[tuple[str, str]]]] = {
    "suites": suites,
    "models": models,
    "datasets": datasets,
    "runtimes": runtimes,
}


def format_rows(rows: list[tuple[str, str]]) -> list[str]:
    width = max((len(name) for name, _ in rows), default=0)
    return [f"{name:<{width}}  {text}".rstrip() for name, text in rows]


def run(args: argparse.Namespace) -> int:
    sources = ConfSources.create(tuple(args.perf_conf_dir))
    kinds = [args.what] if args.what else list(KINDS)
    for i, kind in enumerate(kinds):
        if len(kinds) > 1:
            print(("\n" if i else "") + f"{kind}:")
        for line in format_rows(LISTERS[kind](sources)):
            print(("  " if len(kinds) > 1 else "") + line)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "list",
        help="list the suites, models, datasets or runtimes a run can select",
        description="One line per name, with what it is, from the built-in conf tree and any --perf-conf-dir.",
    )
    p.add_argument("what", nargs="?", choices=KINDS, default=None, help="what to list. Default: all four, each under its heading")
    p.add_argument(
        "--perf-conf-dir", action="append", default=[], metavar="DIR",
        help="extra config tree searched before the built-in conf/, repeatable (as for pytest). Default: none",
    )
    p.set_defaults(func=run)
