"""perfsuite's own pytest hooks, for plugins and conftest.py files (like pytest-benchmark's).

Implement them as any pytest hook (`def pytest_perf_case_result(config, result): ...` in a
conftest.py or a plugin). They are called in the process that writes the run folder (the xdist
controller, not its workers).
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec
def pytest_perf_env(config: pytest.Config, env: dict[str, Any]) -> None:
    """The run's environment was collected, before env.json is written: add keys to ``env`` (a mapping of JSON values)."""


@pytest.hookspec
def pytest_perf_case_result(config: pytest.Config, result: Any) -> None:
    """A case's result is final (``result``: perfsuite.results.case.CaseResult, written to results.json already)."""


@pytest.hookspec
def pytest_perf_verdicts(config: pytest.Config, comparison: Any, decision: Any) -> None:
    """The gate's verdicts are final (``comparison``: perfsuite.compare.verdict.Comparison; ``decision``: its exit decision)."""
