"""Symlinks that bootstrap owns (`models/<name>`, `datasets/<name>/source-data`).

Bootstrap creates or refreshes a symlink, and nothing else: a real file or folder where the
link should go is reported and left alone, so a user who keeps data there never loses it.
"""

from __future__ import annotations

import os
from pathlib import Path

from perfsuite.bootstrap.paths import display_path
from perfsuite.bootstrap.plan import Problem, Step
from perfsuite.errors import PerfDataError


def _same_dir(link: Path, target: Path) -> bool:
    return link.exists() and os.path.realpath(link) == os.path.realpath(target)


def refuse_real_path(link: Path) -> str:
    """The message for a real file or folder that sits where a bootstrap symlink belongs."""
    kind = "folder" if link.is_dir() else "file"
    shown = display_path(link)
    return (
        f"{shown} is a real {kind}, not a symlink; bootstrap only creates and refreshes symlinks and "
        f"never deletes or replaces real files. If it holds the data you want, move it elsewhere "
        f"(e.g. `mv {shown} /data/...`) and point the bootstrap config at that place; if it is stale, "
        f"remove it yourself. Then re-run."
    )


def plan_link(subject: str, link: Path, target: Path) -> Step | Problem:
    """What to do so that `link` is a symlink to `target` (an absolute path)."""
    if link.is_symlink():
        current = os.readlink(link)
        if _same_dir(link, target):
            return Step(subject, "keep", f"{display_path(link)} -> {current}", changes=False)
        why = "missing" if not link.exists() else "elsewhere"
        return Step(
            subject,
            "refresh",
            f"{display_path(link)} -> {target} (was -> {current}, {why})",
            changes=True,
            run=lambda: make_link(link, target),
        )
    if link.exists():
        return Problem(subject, refuse_real_path(link))
    return Step(subject, "create", f"{display_path(link)} -> {target}", changes=True, run=lambda: make_link(link, target))


def make_link(link: Path, target: Path) -> str | None:
    """Point `link` at `target`, atomically replacing an existing symlink; refuses real files."""
    if link.exists() and not link.is_symlink():
        # Re-checked here: the plan may be old, and a real folder must never be replaced.
        raise PerfDataError(refuse_real_path(link))
    if not target.is_dir():
        raise PerfDataError(f"cannot link {display_path(link)}: the target {target} is not a folder")
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{link.name}.bootstrap-{os.getpid()}")
    if tmp.is_symlink():
        tmp.unlink()
    os.symlink(target, tmp, target_is_directory=True)
    try:
        os.replace(tmp, link)
    except OSError:
        tmp.unlink()
        raise
    return None
