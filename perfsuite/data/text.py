"""Text datasets: .txt (one sample per paragraph) and .jsonl (one per line), both UTF-8, or an embedded source."""

from __future__ import annotations

import json
from pathlib import Path

from perfsuite.config.schema import DatasetSpec, InferSpec, ModelSpec
from perfsuite.data.base import SampleSet, from_source, list_files
from perfsuite.errors import PerfDataError
from perfsuite.registry import DATASETS, SOURCES


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


def read_utf8(path: Path, dataset: str) -> str:
    """A text file's content; one policy for .txt and .jsonl: UTF-8 (a BOM is allowed), or an error.

    Replacing undecodable bytes would feed the model different text than the file holds, without
    a word; an error that names the file and the first bad byte lets the user fix the data.
    """
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise PerfDataError(
            f"dataset {dataset}: {path} is not UTF-8 text: byte 0x{data[exc.start]:02x} at byte offset {exc.start} "
            f"(line {line}) cannot be decoded ({exc.reason}). Convert the file to UTF-8 "
            f"(e.g. iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}) or leave it out with dataset.files"
        ) from None


@DATASETS.register("text")
def load_text(spec: DatasetSpec, model: ModelSpec, infer: InferSpec) -> SampleSet:
    if spec.source:
        return from_source(spec)
    samples: list[str] = []
    files = list_files(spec, ("**/*.txt", "**/*.jsonl"))
    for path in files:
        samples.extend(file_samples(path, spec.name, spec.text_field))
        if len(samples) >= spec.max_samples:
            break
    return SampleSet(spec.name, tuple(samples), f"{spec.root} ({len(files)} files)")


def file_samples(path: Path, dataset: str, text_field: str) -> list[str]:
    """The samples of one file: the paragraphs of a .txt, the `text_field` of each .jsonl record."""
    text = read_utf8(path, dataset)
    if path.suffix != ".jsonl":
        return _paragraphs(text)
    samples = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise PerfDataError(f"dataset {dataset}: {path}:{lineno} is not valid JSON ({exc})") from None
        value = record.get(text_field) if isinstance(record, dict) else None
        if isinstance(value, str) and value.strip():
            samples.append(value.strip())
    return samples


@SOURCES.register("pydoc_topics")
def pydoc_topics(spec: DatasetSpec) -> SampleSet:
    """CPython's pydoc help topics: real English technical prose, shipped with Python."""
    from pydoc_data.topics import topics

    samples = tuple(topics[k].strip() for k in sorted(topics) if topics[k].strip())
    return SampleSet(spec.name, samples, "pydoc_data.topics (CPython)")
