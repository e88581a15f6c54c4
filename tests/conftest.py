"""Shared helpers for perfsuite's own tests."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Most end-to-end tests start fresh pytest processes. With PYTHONDONTWRITEBYTECODE set (some CI images
# and containers set it) each of them compiled perfsuite from source again and pytest re-rewrote its
# asserts: 1.6 s of a 4.8 s start-up on the 2-core VM (`pytest benches --collect-only`). The test
# suite's processes cache bytecode (in the ignored __pycache__ folders) whatever the caller's setting.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

try:
    # pyarrow's registry of extension types is process-wide and outlives pytester's sys.modules
    # snapshots: a test that reads Parquet inside a pytester test would leave pandas' arrow types
    # registered but their module unloaded, and the next import fails ("pandas.period already
    # defined"). Imported once here, before any snapshot, the module stays.
    import pandas.core.arrays.arrow.extension_types  # noqa: F401
except ImportError:  # pandas or pyarrow not installed: the tests that need them skip or fail on their own
    pass

try:
    # The same for torch's operator libraries: an inline pytester run that imports transformers' model loading
    # (torch.distributed's functional collectives) or inductor's lowering (its _inductor_test ops) leaves their
    # TORCH_LIBRARY registered when pytester drops the modules, and every later import in that worker fails
    # ("Only a single TORCH_LIBRARY can be used to register the namespace c10d_functional"). Imported once here.
    import torch._inductor.lowering  # noqa: F401
    import transformers.core_model_loading  # noqa: F401
except ImportError:
    pass


pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True, scope="session")
def _not_an_xdist_worker_below() -> Iterator[None]:
    """Processes the tests start are plain pytest sessions, also when this suite runs under xdist (`-n 2`).

    xdist marks its workers with PYTEST_XDIST_* variables, and a child process inherits them:
    pytest-benchmark in a child would take it for a worker and turn itself off. Session-scoped, so
    that module fixtures which start processes come after it.
    """
    with pytest.MonkeyPatch.context() as mp:
        for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
            mp.delenv(name, raising=False)
        yield

REPO = Path(__file__).resolve().parents[1]

# A short measurement policy for end-to-end runs: they check behaviour, not figures.
FAST_POLICY = (
    "measure.stop.min_time_s=0.02",
    "measure.stop.max_time_s=0.3",
    "measure.stop.min_rounds=5",
    "measure.warmup.min_calls=2",
    "measure.warmup.window=2",
    "measure.warmup.max_time_s=0.5",
)


# The fastest policy for runner tests on fake clocks: they check wiring, not statistics.
QUICK_POLICY = [
    "measure.stop.min_time_s=0.001",
    "measure.stop.max_time_s=0.05",
    "measure.stop.min_rounds=12",
    "measure.warmup.min_calls=2",
    "measure.warmup.window=1",
]


def as_overrides(values: tuple[str, ...] | list[str]) -> list[str]:
    """["--perf-override", v, ...] for each value."""
    return [arg for v in values for arg in ("--perf-override", v)]


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
