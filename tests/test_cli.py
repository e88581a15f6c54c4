from __future__ import annotations

import datetime as dt
import json

import pytest

from perfsuite import __version__
from perfsuite.cli import main
from perfsuite.results.layout import RUN_DIR_RE, OutLayout, slugify


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and __version__ in capsys.readouterr().out


def test_env_prints_fingerprint(capsys, tmp_path):
    assert main(["env", "--project", str(tmp_path)]) == 0
    env = json.loads(capsys.readouterr().out)
    assert env["cpu"]["logical_cores"] >= 1 and env["python"].startswith("3.")
    assert env["packages"]["perfsuite"] == __version__
    assert env["cuda"]["available"] in (True, False)
    assert env["git"]["commit"] is None  # tmp_path is not a git checkout
    assert len(env["machine_id"]) == 12


def test_no_command_prints_help(capsys):
    assert main([]) == 2 and "usage" in capsys.readouterr().out


def test_run_dirs_never_clash(tmp_path):
    layout = OutLayout(tmp_path / "out")
    now = dt.datetime(2026, 11, 23, 12, 0, 0)
    a = layout.new_run_dir("smoke cpu/x", now)
    b = layout.new_run_dir("smoke cpu/x", now)
    assert a != b and a.name == "20261123-120000_smoke-cpu-x" and b.name.endswith("-2")
    assert RUN_DIR_RE.match(a.name) and RUN_DIR_RE.match(b.name)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["runs"]


def test_slugify():
    assert slugify("  ") == "run" and slugify("a b:c") == "a-b-c"
