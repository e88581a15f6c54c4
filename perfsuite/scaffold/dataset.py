"""`perfsuite new dataset NAME --from PATH`: a dataset folder in the bootstrap layout, from the data found.

Writes `datasets/NAME/{bootstrap.sh, bootstrap.yaml, README.md, metadata.yaml}` (the layout of
perfsuite's own datasets/digits_png, with PATH as this host's data root) and `conf/dataset/NAME.yaml`
reading `datasets/NAME/source-data`, then links `source-data` to PATH with perfsuite's bootstrap.
What the files say (kind, counts, sizes) is read from the data: text files are read the way the
`text` adapter reads them (UTF-8, paragraphs of .txt, records of .jsonl), images by their headers.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfsuite.data.images import IMAGE_SUFFIXES
from perfsuite.data.text import file_samples
from perfsuite.errors import PerfConfigError, PerfDataError
from perfsuite.scaffold.files import FileWrite
from perfsuite.scaffold.render import render

TEXT_SUFFIXES = (".txt", ".jsonl")
IMAGE_KINDS = (*IMAGE_SUFFIXES, ".npz")
SUPPORTED = f"text: {', '.join(TEXT_SUFFIXES)}; images: {', '.join(IMAGE_KINDS)}"


@dataclass(frozen=True)
class DataFacts:
    """What the folder holds, as perfsuite's adapters would read it."""

    root: Path
    kind: str  # text | image
    adapter: str  # text | images
    files: tuple[Path, ...]
    patterns: tuple[str, ...]
    bytes: int
    samples: int
    text_field: str = "text"
    extra: tuple[tuple[str, Any], ...] = ()  # counts beyond files/bytes, for metadata.yaml
    structure: tuple[tuple[str, Any], ...] = ()
    summary_lines: tuple[str, ...] = field(default=())


def _walk(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))


def scan(root: Path, *, kind: str | None = None, text_field: str = "text") -> DataFacts:
    """The facts of the data under `root`; PerfConfigError/PerfDataError when perfsuite could not read it."""
    if not root.is_dir():
        what = "is a file" if root.exists() else "does not exist"
        raise PerfConfigError(f"the data folder {what}", key="--from", value=str(root), hint="point --from at the folder that holds the data files (extract a zip first)")
    files = _walk(root)
    by_suffix = Counter(p.suffix.lower() for p in files)
    text = [p for p in files if p.suffix.lower() in TEXT_SUFFIXES]
    images = [p for p in files if p.suffix.lower() in IMAGE_KINDS]
    if kind is None:
        if text and images:
            raise PerfConfigError(
                f"{root} holds both text ({len(text)} files) and image files ({len(images)}); say which to use",
                key="--kind", allowed=["text", "image"],
            )
        if not text and not images:
            found = ", ".join(f"{suffix or '(no suffix)'} x{n}" for suffix, n in by_suffix.most_common(8)) or "no files at all"
            raise PerfConfigError(f"{root} holds no file perfsuite can read ({found})", key="--from", allowed=SUPPORTED)
        kind = "text" if text else "image"
    chosen = text if kind == "text" else images
    if not chosen:
        raise PerfConfigError(f"{root} holds no {kind} files", key="--kind", value=kind, allowed=SUPPORTED)
    suffixes = sorted({p.suffix for p in chosen})  # as on disk: the adapters glob case-sensitively
    patterns = tuple(f"**/*{s}" for s in suffixes)
    size = sum(p.stat().st_size for p in chosen)
    if kind == "text":
        return _scan_text(root, chosen, patterns, size, text_field)
    return _scan_images(root, chosen, patterns, size)


def _scan_text(root: Path, files: list[Path], patterns: tuple[str, ...], size: int, text_field: str) -> DataFacts:
    samples: list[str] = []
    for path in files:  # the text adapter's own reading: UTF-8 or a clear error, paragraphs, records
        samples.extend(file_samples(path, root.name, text_field))
    if not samples:
        raise PerfDataError(
            f"the text files under {root} hold no usable sample (empty files, or .jsonl records without a string "
            f"{text_field!r} field: pass --text-field)"
        )
    lengths = [len(s) for s in samples]
    words = sum(len(s.split()) for s in samples)
    extra = (
        ("samples", len(samples)),
        ("characters", sum(lengths)),
        ("words", words),
        ("sample_characters", {"min": min(lengths), "median": int(statistics.median(lengths)), "max": max(lengths)}),
    )
    structure = (
        ("record", "one sample per paragraph of a .txt file (blank-line separated), one per .jsonl line"),
        ("encoding", "UTF-8"),
    )
    summary = (
        f"{len(files)} text files ({size} bytes): {len(samples)} samples, {words} words, "
        f"{min(lengths)}-{max(lengths)} characters per sample (median {int(statistics.median(lengths))}).",
    )
    return DataFacts(root, "text", "text", tuple(files), patterns, size, len(samples), text_field, extra, structure, summary)


def _scan_images(root: Path, files: list[Path], patterns: tuple[str, ...], size: int) -> DataFacts:
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    sizes: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    count = 0
    for path in files:
        if path.suffix.lower() == ".npz":
            try:
                with np.load(path) as arrays:
                    for key in arrays.files:
                        n, width, height = _npz_images(arrays[key].shape, f"{path}[{key}]")
                        count += n
                        sizes[f"{width}x{height}"] += n
            except (OSError, ValueError) as exc:
                raise PerfDataError(f"cannot read {path}: {exc}") from None
            continue
        try:
            with Image.open(path) as img:  # reads the header only
                sizes[f"{img.width}x{img.height}"] += 1
                modes[img.mode] += 1
                count += 1
        except (UnidentifiedImageError, OSError) as exc:
            raise PerfDataError(f"cannot read image {path}: {exc}") from None
    common = dict(sizes.most_common(5))
    extra = (("images", count), ("sizes", common), ("distinct_sizes", len(sizes)))
    structure = (("image_modes", dict(modes) or "arrays (.npz)"), ("preprocessing", "resized and centre-cropped to each model's image_size"))
    shown = ", ".join(f"{k} x{v}" for k, v in common.items())
    summary = (f"{len(files)} image files ({size} bytes): {count} images; sizes (width x height): {shown}.",)
    return DataFacts(root, "image", "images", tuple(files), patterns, size, count, "text", extra, structure, summary)


def _npz_images(shape: tuple[int, ...], where: str) -> tuple[int, int, int]:
    """(images, width, height) of an .npz array, read the way the images adapter stacks them."""
    if len(shape) == 4 or (len(shape) == 3 and shape[2] not in (1, 3, 4)):
        return shape[0], shape[2], shape[1]  # N x H x W [x C]
    if len(shape) in (2, 3):
        return 1, shape[1], shape[0]  # H x W [x C]
    raise PerfDataError(f"{where} has shape {shape}, not an image (H x W [x C]) or a stack of them (N x H x W [x C])")


def root_env(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).upper() + "_ROOT"


def dataset_files(name: str, facts: DataFacts, *, conf: Path, project_root: Path) -> list[FileWrite]:
    """datasets/NAME/{bootstrap.sh,bootstrap.yaml,README.md,metadata.yaml} and conf/dataset/NAME.yaml."""
    folder = project_root / "datasets" / name
    title = f"{facts.kind} data from {facts.root.name}"
    context = {
        "name": name,
        "title": title,
        "kind": facts.kind,
        "adapter": facts.adapter,
        "root_env": root_env(name),
        "default_root": json.dumps(str(facts.root)),
        "patterns": json.dumps(list(facts.patterns)),
        "text_field": json.dumps(facts.text_field),
        "counts": {"files": len(facts.files), "bytes": facts.bytes, "extra": [(k, json.dumps(v)) for k, v in facts.extra]},
        "structure": [(k, json.dumps(v)) for k, v in facts.structure],
        "summary": " ".join(facts.summary_lines),
        "summary_line": facts.summary_lines[0].rstrip("."),
        "conf_file": str((conf / "dataset" / f"{name}.yaml").relative_to(project_root)) if conf.is_relative_to(project_root) else str(conf / "dataset" / f"{name}.yaml"),
    }
    return [
        FileWrite(folder / "bootstrap.sh", render("dataset/bootstrap.sh.j2", **context), executable=True),
        FileWrite(folder / "bootstrap.yaml", render("dataset/bootstrap.yaml.j2", **context)),
        FileWrite(folder / "README.md", render("dataset/README.md.j2", **context)),
        FileWrite(folder / "metadata.yaml", render("dataset/metadata.yaml.j2", **context)),
        FileWrite(conf / "dataset" / f"{name}.yaml", render("dataset/dataset.yaml.j2", **context)),
    ]


def paired_models(conf: Path, modality: str) -> list[str]:
    """The project's own model ids of this modality (conf/model/*/arch/*.yaml), else a built-in tiny one."""
    import yaml

    mine = []
    for path in sorted((conf / "model").glob("*/arch/*.yaml")) if (conf / "model").is_dir() else []:
        family = path.parent.parent.name
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and data.get("modality") == modality:
            mine.append(family if path.stem == f"{family}.default" else path.stem)
    return mine or [{"text": "bert.tiny", "image": "resnet50.tiny"}[modality]]


def validate_dataset(name: str, facts: DataFacts, files: list[FileWrite], *, conf: Path, project_root: Path) -> int:
    """Compose `dataset=NAME` from the staged config (root pointing at the data itself) and load its samples."""
    import tempfile

    from perfsuite.config.plan import build_plan
    from perfsuite.data.base import load_samples

    (dataset_yaml,) = [f for f in files if f.path == conf / "dataset" / f"{name}.yaml"]
    with tempfile.TemporaryDirectory(prefix="perfsuite-new-dataset-") as tmp:
        staged = Path(tmp) / "conf" / "dataset" / f"{name}.yaml"
        staged.parent.mkdir(parents=True)
        staged.write_text(dataset_yaml.text.replace(f"root: datasets/{name}/source-data", f"root: {json.dumps(str(facts.root))}"), encoding="utf-8")
        dirs = [staged.parent.parent, conf] if conf.is_dir() else [staged.parent.parent]
        model = {"text": "bert.tiny", "image": "resnet50.tiny"}[facts.kind]
        plan = build_plan(
            device="cpu", suite="smoke", conf_dirs=dirs, project_root=project_root,
            overrides=[f"model={model}", f"dataset={name}", "inference_runtime=pytorch", "infer.batch_sizes=[1]"],
        )
        case = plan.cases[0]
        return len(load_samples(case.dataset, case.model, case.config.infer).samples)
