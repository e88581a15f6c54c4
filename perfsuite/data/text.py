"""Text datasets: .txt (one sample per paragraph) and .jsonl (one per line), or an embedded source."""

from __future__ import annotations

import json

from perfsuite.config.schema import DatasetSpec, InferSpec, ModelSpec
from perfsuite.data.base import SampleSet, from_source, list_files
from perfsuite.errors import PerfDataError
from perfsuite.registry import DATASETS, SOURCES


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


@DATASETS.register("text")
def load_text(spec: DatasetSpec, model: ModelSpec, infer: InferSpec) -> SampleSet:
    if spec.source:
        return from_source(spec)
    samples: list[str] = []
    files = list_files(spec, ("**/*.txt", "**/*.jsonl"))
    for path in files:
        if path.suffix == ".jsonl":
            for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise PerfDataError(f"dataset {spec.name}: {path}:{lineno} is not valid JSON ({exc})") from None
                value = record.get(spec.text_field) if isinstance(record, dict) else None
                if isinstance(value, str) and value.strip():
                    samples.append(value.strip())
        else:
            samples.extend(_paragraphs(path.read_text(encoding="utf-8", errors="replace")))
        if len(samples) >= spec.max_samples:
            break
    return SampleSet(spec.name, tuple(samples), f"{spec.root} ({len(files)} files)")


@SOURCES.register("pydoc_topics")
def pydoc_topics(spec: DatasetSpec) -> SampleSet:
    """CPython's pydoc help topics: real English technical prose, shipped with Python."""
    from pydoc_data.topics import topics

    samples = tuple(topics[k].strip() for k in sorted(topics) if topics[k].strip())
    return SampleSet(spec.name, samples, "pydoc_data.topics (CPython)")
