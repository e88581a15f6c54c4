"""Names from configs and command lines never become paths outside the run folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsuite.config import build_plan
from perfsuite.config.sources import ConfSources
from perfsuite.errors import PerfConfigError
from perfsuite.results.layout import MAX_STEM, file_stem, path_inside

SAFE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
NASTY = ["../../etc/passwd", "/abs/path", "..", ".", "", "a/b", "a\\b", "a\0b", "-rf", ".hidden", "x" * 1000, "é/ü", "\udc80"]


@given(st.text())
def test_any_text_becomes_a_safe_bounded_stem_inside_the_folder(name):
    stem = file_stem(name)
    assert SAFE.match(stem) and len(stem) <= MAX_STEM and stem not in (".", "..")
    folder = Path("/tmp/perfsuite-run")
    for suffix in ("", ".json", ".json.gz", ".ops.csv"):
        path = path_inside(folder, name, suffix)
        assert path.parent == folder and path.resolve().parent == folder.resolve()


@given(st.text(), st.text())
def test_distinct_names_get_distinct_stems(a, b):
    if a != b:
        assert file_stem(a) != file_stem(b)


@pytest.mark.parametrize("name", NASTY)
def test_nasty_names(name):
    assert SAFE.match(file_stem(name))


def test_safe_case_ids_are_kept_as_they_are():
    case_id = "gpt2.tiny-pydoc-eager-bs4-cpu"
    assert file_stem(case_id) == case_id
    assert file_stem("a/b") != file_stem("a:b") and file_stem("a/b").startswith("a-b-")
    assert file_stem(file_stem("a/b")) != file_stem("a/b")  # a safe name shaped like a hashed stem


def test_unsafe_suffix_is_refused(tmp_path):
    with pytest.raises(ValueError):
        path_inside(tmp_path, "x", "/../../y")


def test_profiled_files_of_a_hostile_case_id_stay_in_the_run_folder(tmp_path):
    torch = pytest.importorskip("torch")
    from perfsuite.config.schema import TorchProfilerSpec
    from perfsuite.profile import ProfilerSettings, profile_case

    run_dir = tmp_path / "run"
    name = "../../../escaped/gpt2.tiny-..-eager-bs1-cpu"
    settings = ProfilerSettings(TorchProfilerSpec(wait=0, warmup=1, active=1, activities=("cpu",), with_flops=False))
    result = profile_case(lambda: torch.ones(2) + 1, settings, device="cpu", out_dir=run_dir, name=name)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    stem = file_stem(name)
    assert written == [f"run/tables/{stem}.ops.csv", f"run/traces/{stem}.json.gz"]
    assert result.table_path.parent == run_dir / "tables"


def test_a_dataset_named_like_a_path_keeps_a_readable_id(conf_dir):
    conf = conf_dir({"dataset/evil.yaml": "name: ../../evil\nadapter: synthetic\nmodality: any\n"})
    plan = build_plan(overrides=["model=bert.tiny", "dataset=evil"], conf_dirs=[conf])
    assert plan.cases[0].id == "bert.tiny-../../evil-eager-bs1-cpu"  # reports show it as written


@pytest.mark.parametrize(("override", "message"), [
    ("model=../conf", "unknown model"),
    ("model=../../models/x", "unknown model"),
    ("dataset=../suite/smoke", "unknown dataset"),
    ("inference_runtime=../hardware/cpu", "unknown inference runtime"),
])
def test_names_typed_as_paths_find_no_config(override, message):
    with pytest.raises(PerfConfigError, match=message):
        build_plan(overrides=[override])


def test_conf_sources_refuse_paths():
    sources = ConfSources.create()
    assert sources.find("suite", "smoke") is not None
    assert sources.find("dataset", "../suite/smoke") is None and sources.find("suite", "") is None
