"""Shared helpers for perfsuite's own tests."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def conf_dir(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Write a user config tree: {"model/x/arch/x.tiny.yaml": "yaml text", ...} -> its folder."""

    def make(files: dict[str, str]) -> Path:
        root = tmp_path / "user_conf"
        root.mkdir(exist_ok=True)
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        return root

    return make
