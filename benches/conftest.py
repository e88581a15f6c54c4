"""benches/ are perfsuite benchmarks: without perfsuite's pytest plugin they cannot run, and say so."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("perfsuite"):
        raise pytest.UsageError(
            "benches/ holds perfsuite benchmarks, but perfsuite's pytest plugin is off (-p no:perfsuite, or "
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 without -p perfsuite.plugin, or perfsuite is not installed in this "
            "Python: pip install perfsuite). Run them with the plugin on, or leave benches/ out of this run."
        )
