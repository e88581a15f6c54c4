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


def test_run_sh_says_pip_is_still_at_work_during_a_long_install(tmp_path):
    """`pip install -q` is silent for minutes on a fresh machine: tools/run.sh prints a line while it runs."""
    import os
    import subprocess

    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "python"  # torch "is there"; every pip install takes 3 s
    fake.write_text('#!/usr/bin/env bash\nif [ "$1" = "-m" ] && [ "$2" = "pip" ]; then sleep 3; fi\nexit 0\n')
    fake.chmod(0o755)
    env = {**os.environ, "PERFSUITE_VENV": str(venv), "PERFSUITE_PIP_HEARTBEAT_S": "1"}
    done = subprocess.run(["bash", str(REPO / "tools" / "run.sh"), "setup"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tools/run.sh:   ... pip is still installing (1 s so far)" in done.stdout or "pip is still installing (2 s so far)" in done.stdout
    assert done.stdout.rstrip().endswith("tools/run.sh: setup done")
    fake.write_text('#!/usr/bin/env bash\nif [ "$1" = "-m" ] && [ "$2" = "pip" ]; then exit 7; fi\nexit 0\n')
    # set up from this pyproject.toml already (the stamp) and everything imports: no pip run at all
    stamp = venv / ".perfsuite-setup"
    assert stamp.read_text().split() == [stamp.read_text().split()[0], str(REPO)]
    again = subprocess.run(["bash", str(REPO / "tools" / "run.sh"), "setup"], capture_output=True, text=True, env=env, timeout=60)
    assert again.returncode == 0 and "no pip run" in again.stdout and "installing perfsuite" not in again.stdout
    stamp.write_text("another-pyproject " + str(REPO) + "\n")  # pyproject.toml changed since: pip runs again
    failed = subprocess.run(["bash", str(REPO / "tools" / "run.sh"), "setup"], capture_output=True, text=True, env=env, timeout=60)
    assert failed.returncode == 7 and "setup done" not in failed.stdout  # pip's failure is the script's
    assert not stamp.exists()  # a failed install leaves no stamp: the next run installs again
