"""Turning the path strings of bootstrap YAML files into paths, against an explicit environment.

The environment is a parameter (not `os.environ` read deep inside) so that planning is
testable with a dict and never depends on the shell a test happens to run in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

_VAR = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
_SIMPLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def expand_path(text: str, env: Mapping[str, str], *, base: Path | None = None) -> Path:
    """Expand a leading `~` (from env HOME) and `$VAR` / `${VAR}`; a relative result is taken from `base`.

    An unset variable expands to the empty string, like the shell does; callers validate the result.
    """
    def _sub(match: re.Match[str]) -> str:
        return env.get(match.group("braced") or match.group("plain"), "")

    expanded = _VAR.sub(_sub, text)
    if expanded == "~" or expanded.startswith("~/"):
        home = env.get("HOME") or str(Path.home())
        expanded = home + expanded[1:]
    path = Path(expanded)
    if not path.is_absolute() and base is not None:
        path = base / path
    return path


def env_path(name: str, env: Mapping[str, str]) -> Path | None:
    """The path in environment variable `name`, or None when it is unset or empty."""
    value = env.get(name, "").strip()
    return expand_path(value, env) if value else None


def is_simple_name(name: str) -> bool:
    """True for a single folder name: letters, digits, '.', '_' and '-', not starting with a dot."""
    return bool(_SIMPLE_NAME.match(name))


def is_inside_relative(text: str) -> bool:
    """True for a relative path that stays inside its base (no absolute path, no '..')."""
    path = Path(text)
    return not path.is_absolute() and ".." not in path.parts


def display_path(path: Path, cwd: Path | None = None) -> str:
    """`path` relative to the working directory when it lies below it, else absolute: for messages."""
    cwd = cwd or Path.cwd()
    try:
        rel = path.absolute().relative_to(cwd.absolute())
    except ValueError:
        return str(path)
    return str(rel) if str(rel) != "." else "."
