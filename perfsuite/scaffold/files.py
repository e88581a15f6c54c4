"""Planned file writes: create what is missing, keep what is identical, never replace without --force.

A scaffold command builds a list of `FileWrite`s (whole files perfsuite owns) and `Merge`s (lines
or keys added to a file the user owns, such as pyproject.toml), turns them into a bootstrap
`Plan` (perfsuite.bootstrap.plan: the same steps, problems and rendering as `perfsuite bootstrap`)
and carries it out only when no step conflicts. `--force` replaces a differing file, keeping the
old one next to it as `<name>.bak` (then `.bak.1`, ...), so nothing is lost.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from perfsuite.bootstrap.paths import display_path
from perfsuite.bootstrap.plan import Echo, Plan, Problem, Step, execute, render
from perfsuite.errors import PerfConfigError
from perfsuite.results.layout import atomic_write_text

# Model and dataset names become folder names, Hydra option names and parts of test ids: one plain
# word. No '.': a model id's '.' separates family and preset (gpt2.tiny).
_SAFE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


def check_name(name: str, *, what: str, reserved: Sequence[str] = ()) -> str:
    """`name` when it is a safe identifier not taken by perfsuite's built-in tree; else a PerfConfigError."""
    if not _SAFE_NAME.match(name):
        raise PerfConfigError(
            f"the {what} name is not a safe identifier",
            key="NAME",
            value=name,
            allowed="a letter, then up to 63 letters, digits, '_' or '-' (no '.', '/', spaces)",
            hint=f"e.g. {re.sub(r'[^A-Za-z0-9_-]+', '_', name).strip('_-') or 'my_' + what}",
        )
    if name in reserved:
        raise PerfConfigError(
            f"the {what} name is taken by perfsuite's built-in config tree, and yours would shadow it",
            key="NAME",
            value=name,
            allowed=f"any other name (built-in: {', '.join(reserved)})",
        )
    return name


@dataclass(frozen=True)
class FileWrite:
    """A whole file perfsuite writes (a template rendered for this project)."""

    path: Path
    text: str
    executable: bool = False


@dataclass(frozen=True)
class Merge:
    """Additions to a file the user owns: `apply(current text or None) -> new text`.

    `detail` says what is added; `conflicts` are the user's settings that disagree with what
    perfsuite needs (reported, never overwritten, --force or not).
    """

    path: Path
    detail: str
    apply: Callable[[str | None], str] = field(compare=False)
    conflicts: tuple[str, ...] = ()
    needed: bool = True  # False: everything is already there


def backup_path(path: Path) -> Path:
    """A free name for the old copy of `path`: name.bak, name.bak.1, ..."""
    candidate = path.with_name(path.name + ".bak")
    n = 0
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = path.with_name(f"{path.name}.bak.{n}")
    return candidate


def _write(write: FileWrite, *, backup: bool) -> str | None:
    note = None
    if backup and write.path.exists():
        old = backup_path(write.path)
        os.replace(write.path, old)
        note = f"the old file is kept as {display_path(old)}"
    atomic_write_text(write.path, write.text)
    if write.executable:
        mode = write.path.stat().st_mode
        write.path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return note


def plan_write(write: FileWrite, *, subject: str, force: bool) -> Step | Problem:
    shown = display_path(write.path)
    path = write.path
    if path.is_symlink() or (path.exists() and not path.is_file()):
        return Problem(subject, f"{shown} exists and is not a regular file; move it away (nothing was written)")
    if not path.exists():
        blocked = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if blocked is not None:
            return Problem(subject, f"{display_path(blocked)} is a file where a folder is needed for {shown}")
        return Step(subject, "create", shown, True, lambda: _write(write, backup=False))
    try:
        current = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        current = None
    if current == write.text:
        return Step(subject, "keep", f"{shown} (already as perfsuite would write it)", False)
    if not force:
        return Problem(
            subject,
            f"{shown} already exists and differs from what perfsuite would write; it is left as is. "
            "Move it away, or re-run with --force to replace it (the old file is kept as .bak)",
        )
    return Step(subject, "replace", f"{shown} (--force; the old file is kept as .bak)", True, lambda: _write(write, backup=True))


def plan_merge(merge: Merge, *, subject: str) -> list[Step | Problem]:
    shown = display_path(merge.path)
    items: list[Step | Problem] = [Problem(subject, f"{shown}: {c}") for c in merge.conflicts]
    if not merge.needed:
        items.append(Step(subject, "keep", f"{shown} ({merge.detail}: already there)", False))
        return items

    def run() -> str | None:
        current = merge.path.read_text(encoding="utf-8") if merge.path.exists() else None
        atomic_write_text(merge.path, merge.apply(current))
        return None

    verb = "merge into" if merge.path.exists() else "create"
    items.append(Step(subject, verb, f"{shown} ({merge.detail})", True, run))
    return items


def build_plan(items: Sequence[FileWrite | Merge], *, subject: str, force: bool) -> Plan:
    out: list[Step | Problem] = []
    for item in items:
        if isinstance(item, FileWrite):
            out.append(plan_write(item, subject=subject, force=force))
        else:
            out.extend(plan_merge(item, subject=subject))
    return Plan.of(out)


def carry_out(plan: Plan, *, title: str, dry_run: bool, echo: Echo) -> bool:
    """Show the plan; apply it unless it is a dry run or has a problem. True when nothing is wrong.

    All or nothing: one conflict and no file is written, so a project is never half scaffolded.
    """
    echo(f"{title}{' (dry run: nothing is changed)' if dry_run else ''}:")
    render(plan, echo)
    if plan.fatal:
        echo(f"{len(plan.fatal)} problem(s); nothing was written. See the ERROR lines above.")
        return False
    if dry_run:
        echo(f"{len(plan.pending)} change(s) would be made." if plan.pending else "nothing to change.")
        return True
    if not plan.pending:
        echo("nothing to change: every file is already in place.")
        return True
    met = execute(plan, echo)
    if met.problems:
        echo(f"{len(met.problems)} step(s) failed; see FAILED above.")
        return False
    return True
