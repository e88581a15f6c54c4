"""The shipped datasets/ folders, scripts and the digits_png sample agree with what they claim."""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from perfsuite.bootstrap import load_dataset_bootstrap

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO / "datasets"
SHIPPED = ("pydoc", "sample_images", "digits_png")
SCRIPTS = (REPO / "bootstrap.sh", REPO / "models" / "bootstrap.sh", DATASETS / "digits_png" / "bootstrap.sh")


def metadata(name: str) -> dict:
    return yaml.safe_load((DATASETS / name / "metadata.yaml").read_text())


@pytest.mark.parametrize("name", SHIPPED)
def test_each_dataset_documents_provenance_license_counts_and_structure(name: str) -> None:
    assert (DATASETS / name / "README.md").read_text().strip()
    meta = metadata(name)
    assert meta["name"] == name
    for key in ("provenance", "license", "counts", "structure"):
        assert meta.get(key), f"{name}/metadata.yaml lacks {key}"


@pytest.mark.parametrize("name", ["pydoc", "sample_images"])
def test_embedded_datasets_have_no_bootstrap(name: str) -> None:
    assert metadata(name)["embedded"] is True
    assert load_dataset_bootstrap(DATASETS / name) is None
    assert "nothing to bootstrap" in (DATASETS / name / "README.md").read_text().lower()


def test_pydoc_counts_match_this_python() -> None:
    import platform

    from pydoc_data.topics import topics

    counts = metadata("pydoc")["counts"]
    if counts["measured_on"] != f"CPython {platform.python_version()}":
        pytest.skip(f"counts were measured on {counts['measured_on']}")
    assert len(topics) == counts["topics"]
    assert sum(len(v) for v in topics.values()) == counts["characters"]
    assert sum(len(v.split()) for v in topics.values()) == counts["words"]


def test_sample_images_match_the_installed_scikit_learn() -> None:
    sklearn = pytest.importorskip("sklearn")
    from PIL import Image

    folder = Path(sklearn.__file__).parent / "datasets" / "images"
    meta = metadata("sample_images")
    readme = (folder / "README.txt").read_text()
    def lines(text: str) -> list[str]:
        return [line.strip() for line in text.splitlines() if line.strip()]

    assert lines(meta["provenance"]["readme_quote"]) == lines(readme), "the quote is verbatim"
    assert "creativecommons.org/licenses/by/2.0" in meta["license"]["url"]
    for name, facts in meta["counts"]["files"].items():
        with Image.open(folder / name) as image:
            assert (image.width, image.height, image.mode) == (facts["width"], facts["height"], facts["mode"])
        if meta["counts"]["measured_on"] == f"scikit-learn {sklearn.__version__}":
            assert (folder / name).stat().st_size == facts["bytes"]


def test_digits_png_sample_matches_its_metadata_and_bootstrap_config() -> None:
    from PIL import Image

    meta = metadata("digits_png")
    cfg = load_dataset_bootstrap(DATASETS / "digits_png")
    assert cfg is not None and cfg.root_env == "DIGITS_PNG_ROOT" and cfg.repo_link_name == "source-data"
    sample = DATASETS / "digits_png" / cfg.sample
    assert sample.stat().st_size == meta["counts"]["zip_bytes"]
    with zipfile.ZipFile(sample) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        pngs = [n for n in names if n.endswith(".png")]
        assert len(names) == meta["counts"]["files_in_zip"] and len(pngs) == meta["counts"]["images"]
        assert all(n.startswith(cfg.source_subdir + "/") for n in names)
        labels = zf.read(f"{cfg.source_subdir}/labels.csv").decode().splitlines()
        assert labels[0] == "file,label" and len(labels) == 1 + len(pngs)
        for row in labels[1:]:
            file, label = row.split(",")
            assert file.split("/")[0] == label
            with Image.open(io.BytesIO(zf.read(f"{cfg.source_subdir}/{file}"))) as image:
                assert image.size == (32, 32) and image.mode == "L"


def test_the_generator_reproduces_the_sample(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location("make_digits_png_sample", REPO / "tools" / "make_digits_png_sample.py")
    assert spec and spec.loader
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / "digits_png.zip"
    assert tool.main(["--out", str(out)]) == 0
    shipped = DATASETS / "digits_png" / "sample" / "digits_png.zip"
    with zipfile.ZipFile(out) as new, zipfile.ZipFile(shipped) as old:
        assert new.namelist() == old.namelist()
        assert new.read("digits_png/labels.csv") == old.read("digits_png/labels.csv")


def test_source_data_links_are_git_ignored() -> None:
    assert "*/source-data" in (DATASETS / ".gitignore").read_text().split()


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_scripts_are_executable_bash_and_parse(script: Path) -> None:
    assert os.access(script, os.X_OK)
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
