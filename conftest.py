"""This repository's own extensions of perfsuite: the example a project copies into its conftest.py.

perfsuite's plugin loads its fixtures (`perf`, the suite's `model`, `runtime`, `batch`, ...) by
itself; a conftest.py only adds what is the project's own. Two kinds of addition:

- perfsuite's hooks (perfsuite.hookspec), below: what a run records about where it ran, and what
  the gate's verdicts do beyond the exit code.
- registrations, at import: models, datasets and runtimes of the project's own, and the conf tree
  that names them, e.g.

      from pathlib import Path
      import perfsuite
      perfsuite.register(perfsuite.Extension(models={"mymodel": build_mymodel}, conf_dir=Path(__file__).parent / "perf_conf"))

  (an installed package does the same through an entry point; docs/api.md).
"""

from __future__ import annotations

import os
from typing import Any

import pytest


# optionalhook: perfsuite's hooks exist only while its plugin is loaded (`-p no:perfsuite` leaves them unknown)
@pytest.hookimpl(optionalhook=True)
def pytest_perf_env(config: Any, env: dict[str, Any]) -> None:
    """Which runner pool a CI run came from (PERF_RUNNER_LABEL), kept in env.json next to the machine."""
    label = os.environ.get("PERF_RUNNER_LABEL")
    if label:
        env["runner_label"] = label


@pytest.hookimpl(optionalhook=True)
def pytest_perf_verdicts(config: Any, comparison: Any, decision: Any) -> None:
    """One line per gate run appended to $PERF_VERDICT_LOG (when set): a CI dashboard's feed."""
    path = os.environ.get("PERF_VERDICT_LOG")
    if not path:
        return
    counts = {w: len(comparison.of(w)) for w in ("regressed", "inconclusive", "ok")}
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"exit={decision.exit_code} " + " ".join(f"{w}={n}" for w, n in counts.items()) + "\n")
