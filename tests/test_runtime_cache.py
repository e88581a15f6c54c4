"""out/cache/<runtime>/<key>/: one folder per model, shapes, options and package versions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from perfsuite.runtimes import cache
from perfsuite.runtimes.cache import artifact_dir, artifact_key


@dataclass(frozen=True)
class Options:
    opset: int
    providers: tuple[str, ...]


PARTS = {"model": "gpt2.tiny", "config": {"n_layer": 2, "n_head": 2}, "shapes": {"input_ids": (2, 128)}, "options": Options(18, ("CPU",))}


def test_the_same_parts_give_the_same_folder_under_out_cache(tmp_path: Path):
    folder = artifact_dir(tmp_path, "onnxruntime", PARTS)
    assert folder.is_dir() and folder.parent == tmp_path / "cache" / "onnxruntime" and len(folder.name) == cache.KEY_LENGTH
    reordered = {"options": Options(18, ("CPU",)), "shapes": {"input_ids": [2, 128]}, "config": {"n_head": 2, "n_layer": 2}, "model": "gpt2.tiny"}
    assert artifact_dir(tmp_path, "onnxruntime", reordered) == folder  # order and tuple/list do not matter
    record = json.loads((folder / cache.KEY_FILE).read_text())
    assert record["key"] == folder.name and record["parts"]["options"] == {"opset": 18, "providers": ["CPU"]}
    assert record["versions"]["torch"]


@pytest.mark.parametrize(
    "change",
    [
        {"shapes": {"input_ids": (4, 128)}},
        {"config": {"n_layer": 3, "n_head": 2}},
        {"options": Options(17, ("CPU",))},
        {"model": "gpt2.full"},
    ],
)
def test_any_part_changes_the_key(change):
    assert artifact_key({**PARTS, **change}) != artifact_key(PARTS)


def test_a_new_package_version_changes_the_key(monkeypatch):
    before = artifact_key(PARTS)
    monkeypatch.setattr(cache, "versions", lambda: {**dict.fromkeys(cache.VERSIONED), "torch": "99.0"})
    assert artifact_key(PARTS) != before


def test_unkeyable_values_are_refused():
    with pytest.raises(TypeError, match="cannot key an artifact on a object"):
        artifact_key({"thing": object()})
    import torch

    assert artifact_key({"dtype": torch.float16}) == artifact_key({"dtype": "torch.float16"})
