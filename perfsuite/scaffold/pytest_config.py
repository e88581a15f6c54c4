"""perfsuite's ini keys, merged into the pytest config file a project already has (or a new pytest.ini).

pytest reads exactly one config file per rootdir, the first of pytest.toml, .pytest.toml,
pytest.ini, .pytest.ini, pyproject.toml (with a [tool.pytest.ini_options] or [tool.pytest]
table), tox.ini ([pytest]) and setup.cfg ([tool:pytest]) that holds pytest settings. Writing a
new pytest.ini next to a pyproject.toml with pytest settings would silently switch those settings
off, so the keys go into the file pytest already reads: inserted as lines right after its section
header, every other line kept byte for byte. A key the user set to another value is a conflict to
report, never a value to overwrite.
"""

from __future__ import annotations

import configparser
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from perfsuite.scaffold.files import Merge

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest itself requires tomli below 3.11
    import tomli as tomllib

IniValue = str | list[str]


@dataclass(frozen=True)
class PytestConfigFile:
    """Where the keys go: the file, the section (header text as written) and its syntax."""

    path: Path
    header: str  # "[pytest]", "[tool.pytest.ini_options]", ...
    syntax: str  # "ini" | "toml"
    exists: bool  # the section exists (else it is appended, or the file created)


_INI_FILES = ((Path("pytest.ini"), "pytest"), (Path(".pytest.ini"), "pytest"), (Path("tox.ini"), "pytest"), (Path("setup.cfg"), "tool:pytest"))


class _ParseError(Exception):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(reason)
        self.path, self.reason = path, reason


def _ini_section(path: Path, section: str) -> dict[str, str] | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise _ParseError(path, str(exc).splitlines()[0]) from None
    return dict(parser[section]) if parser.has_section(section) else None


def _toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise _ParseError(path, str(exc)) from None


def locate(root: Path) -> tuple[PytestConfigFile, dict[str, object]]:
    """The pytest config file of `root` in pytest's own order, and the settings it already has.

    Raises _ParseError (with the file) for a file that cannot be parsed.
    """
    for name in ("pytest.toml", ".pytest.toml"):
        path = root / name
        if path.is_file():
            table = _toml(path).get("pytest")
            return PytestConfigFile(path, "[pytest]", "toml", table is not None), dict(table or {})
    for name in ("pytest.ini", ".pytest.ini"):
        path = root / name
        if path.is_file():  # always pytest's file, even without a [pytest] section
            found = _ini_section(path, "pytest")
            return PytestConfigFile(path, "[pytest]", "ini", found is not None), dict(found or {})
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        tool = _toml(pyproject).get("tool", {}).get("pytest")
        if isinstance(tool, dict) and isinstance(tool.get("ini_options"), dict):
            return PytestConfigFile(pyproject, "[tool.pytest.ini_options]", "toml", True), dict(tool["ini_options"])
        if isinstance(tool, dict) and tool:
            return PytestConfigFile(pyproject, "[tool.pytest]", "toml", True), dict(tool)
    for rel, section in _INI_FILES[2:]:
        path = root / rel
        if path.is_file():
            found = _ini_section(path, section)
            if found is not None:
                return PytestConfigFile(path, f"[{section}]", "ini", True), dict(found)
    if pyproject.is_file():  # pytest falls back to a pyproject.toml without pytest settings
        return PytestConfigFile(pyproject, "[tool.pytest.ini_options]", "toml", False), {}
    return PytestConfigFile(root / "pytest.ini", "[pytest]", "ini", False), {}


def _same(current: object, wanted: IniValue) -> bool:
    if isinstance(wanted, list):
        have = current.split() if isinstance(current, str) else current
        return isinstance(have, list) and [str(v) for v in have] == wanted
    return str(current).strip() == wanted


def _line(key: str, value: IniValue, syntax: str) -> str:
    if syntax == "toml":
        return f"{key} = {json.dumps(value)}"  # a JSON string or list of strings is valid TOML
    return f"{key} = {' '.join(value) if isinstance(value, list) else value}"


def _header_re(header: str) -> re.Pattern[str]:
    return re.compile(r"^[ \t]*" + re.escape(header) + r"[ \t]*(#.*|;.*)?$", re.MULTILINE)


def insert_keys(text: str | None, target: PytestConfigFile, lines: list[str], comment: str) -> str:
    """`text` with `lines` inserted right after the section header (or a new section at the end)."""
    block = "".join(f"{line}\n" for line in [comment, *lines])
    if text is None:
        return f"{target.header}\n{block}"
    if target.exists:
        match = _header_re(target.header).search(text)
        if match is None:
            raise ValueError(f"cannot find the line {target.header} in {target.path}")
        end = match.end()
        if end < len(text) and text[end] == "\n":
            end += 1
        elif end == len(text):
            block = "\n" + block
        return text[:end] + block + text[end:]
    sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
    return f"{text}{sep}{target.header}\n{block}"


def pytest_config_merge(root: Path, keys: Mapping[str, IniValue]) -> Merge:
    """The Merge that puts `keys` into `root`'s pytest config file (conflicts reported, not replaced)."""
    try:
        target, current = locate(root)
    except _ParseError as exc:
        return Merge(exc.path, "pytest settings", lambda text: text or "", (f"cannot be parsed, so perfsuite cannot add its keys: {exc.reason}",), needed=False)
    conflicts = tuple(
        f"{target.header} sets {key} = {current[key]!r}, perfsuite's project layout needs {value!r}; "
        "change it by hand if the new layout is what you want (--force never edits your settings)"
        for key, value in keys.items()
        if key in current and not _same(current[key], value)
    )
    missing = {k: v for k, v in keys.items() if k not in current}
    lines = [_line(k, v, target.syntax) for k, v in missing.items()]
    comment = "# perfsuite (perfsuite init): where benchmarks and run folders live"
    if target.exists:
        # Check now that the header can be found, so a plan never fails half way.
        if missing and _header_re(target.header).search(target.path.read_text(encoding="utf-8")) is None:
            return Merge(
                target.path, target.header, lambda text: text or "",
                (*conflicts, f"cannot find the line {target.header} to add {', '.join(lines)} under; add them by hand"),
                needed=False,
            )
    detail = f"{target.header}: {', '.join(lines)}" if lines else f"{target.header}: {', '.join(keys)}"
    return Merge(target.path, detail, lambda text: insert_keys(text, target, lines, comment), conflicts, needed=bool(missing))
