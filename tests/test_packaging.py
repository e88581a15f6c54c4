"""The wheel ships every package: pyproject.toml lists its packages by hand (the config tree and
fixtures are mapped into perfsuite._conf / perfsuite._fixtures), so a new subpackage left out of
the list would be missing from a user's `pip install` while every test of this checkout passes."""

from __future__ import annotations

import tomllib

from conftest import REPO


def test_pyproject_lists_every_package_under_perfsuite():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "perfsuite").rglob("__init__.py")}
    assert found - listed == set(), f"add these to [tool.setuptools] packages in pyproject.toml: {sorted(found - listed)}"
    mapped = {"perfsuite._fixtures", "perfsuite._conf"}
    assert listed - found - mapped == set(), f"pyproject.toml lists packages that do not exist: {sorted(listed - found - mapped)}"
