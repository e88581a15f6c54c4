"""A fresh venv under tmp that sees this environment's packages, for tests that install into it.

Its own site-packages comes first; this environment's site-packages are appended by a .pth file
as plain paths (their own .pth files, e.g. a checkout's editable perfsuite, are not run). So a
test installs only what it is about (a perfsuite wheel, an older pytest-benchmark) with
`pip install --no-deps`, and torch & co. are reused instead of downloaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path


def run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a command; a non-zero exit fails the test with its output."""
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}  # nothing from the caller
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env={**base, **(env or {})}, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{cmd} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


def overlay_venv(path: Path) -> Path:
    """Create the venv at `path`; returns its python."""
    run(sys.executable, "-m", "venv", "--without-pip", path, cwd=path.parent)
    python = path / "bin" / "python"
    purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=path).stdout.strip())
    here = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (purelib / "_perfsuite_test_overlay.pth").write_text("\n".join(here) + "\n")
    return python


def pip_install(python: Path, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    # --ignore-installed: what this environment has stays untouched (pip would otherwise try to
    # uninstall a visible older copy, outside the venv).
    return run(python, "-m", "pip", "install", "--disable-pip-version-check", "--no-deps", "--ignore-installed", "-q", *args, cwd=cwd)
