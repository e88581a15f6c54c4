"""What a tracker receives: one perfsuite run as params, tags, metric points and files. Pure.

Built once, from the typed results (`RunResult`: the session's snapshot, or `load_run` for
`perfsuite track`), the composed configs (run_config.yaml), env.json and the gate's verdicts,
so every tracker logs the same numbers under the same names:

- a metric point is `(key, step, value)` with key `<test>/<model>-<dataset>-<runtime>-<device>/<metric>`
  and step = the batch size, so a tracker's chart of a key is the batch-size curve of one case group;
- verdicts are `<test>/<group>/verdict/<metric>` (0 ok, 1 inconclusive, 2 regressed) and
  `<test>/<group>/ratio/<metric>` (head / baseline);
- params are the composed config flattened to `dotted.keys`; a key whose value differs between
  the run's (model, dataset, runtime) combinations is logged once per combination, prefixed by it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfsuite.config.tracking import METRIC_GROUPS
from perfsuite.results.run import RunResult

VERDICT_CODES = {"ok": 0, "inconclusive": 1, "regressed": 2}
MAX_PARAM_CHARS = 500  # MLflow's limit before 2.x; newer ones take more, the full config is an artifact
_KEY_BAD = re.compile(r"[^A-Za-z0-9_\-. /:]+")
# Files of the run folder a tracker keeps as artifacts (those that exist), then tables/ and traces/.
RUN_FILES = ("report.html", "summary.md", "run_config.yaml", "env.json", "results.json", "verdicts.json", "benchmark.json")


def metric_group(name: str) -> str:
    """The `output.trackers.<t>.metrics` group of a metric: the registry's `tracking` (perfsuite.results.metrics); `compute` if unknown."""
    from perfsuite.results.metrics import tracking_group

    return tracking_group(name)


def clean_key(key: str) -> str:
    """A metric/param name every tracker accepts (MLflow's rule: letters, digits, _ - . space / :)."""
    return _KEY_BAD.sub("_", key)


@dataclass(frozen=True)
class MetricPoint:
    key: str
    step: int  # the batch size
    value: float
    group: str  # one of METRIC_GROUPS


@dataclass(frozen=True)
class TrackedRun:
    run_dir: Path
    name: str  # the run folder's name: the tracked run's name
    status: str  # finished | interrupted | error | running
    params: Mapping[str, str]
    tags: Mapping[str, str]
    points: tuple[MetricPoint, ...]
    files: tuple[Path, ...] = ()  # artifacts at the top of the run folder, and tables/*
    traces: tuple[Path, ...] = ()  # the profiler's chrome traces (traces/*.json.gz)
    summary: str = ""  # summary.md, when the run has one
    config_text: str = ""  # run_config.yaml
    started_ms: int | None = None
    ended_ms: int | None = None
    notes: tuple[str, ...] = field(default=())  # what could not be read (e.g. a corrupt verdicts.json)

    def metrics(self, groups: Iterable[str]) -> tuple[MetricPoint, ...]:
        wanted = set(groups)
        return tuple(p for p in self.points if p.group in wanted)


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """A nested config as `dotted.key -> text` (lists as compact JSON)."""
    out: dict[str, str] = {}
    if isinstance(value, Mapping):
        if not value and prefix:
            out[prefix] = "{}"
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, (list, tuple)):
        text = json.dumps(list(value), separators=(",", ":"), default=str)
    elif value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    if prefix:
        out[prefix] = text
    return out


def config_params(composed: Mapping[str, Any], extra: Mapping[str, Any] = {}) -> dict[str, str]:
    """Params of a run: `extra` (suite, device, overrides) and its composed configs, flattened."""
    params = {f"perfsuite.{k}": v for k, v in flatten(dict(extra)).items()}
    flats = {combo: flatten(cfg) for combo, cfg in composed.items() if isinstance(cfg, Mapping)}
    keys = sorted({k for flat in flats.values() for k in flat})
    for key in keys:
        values = {combo: flat.get(key, "(unset)") for combo, flat in flats.items()}
        if len(set(values.values())) == 1:
            params[key] = next(iter(values.values()))
        else:
            params.update({f"{combo}/{key}": v for combo, v in values.items()})
    return {clean_key(k)[:250]: v if len(v) <= MAX_PARAM_CHARS else v[: MAX_PARAM_CHARS - 1] + "…" for k, v in params.items()}


def metric_points(run: RunResult, verdicts: Any = None) -> tuple[MetricPoint, ...]:
    """Every finite metric of every case, and the gate's verdicts (`ComparisonView`) when given."""
    from perfsuite.results.metrics import DEFS, value_of

    points = []
    by_key = {}
    for r in run.cases:
        by_key[f"{r.test}::{r.case.id}"] = r
        base = f"{r.test}/{r.case.group}"
        for spec in DEFS:
            if r.kind not in spec.kinds:
                continue
            value = value_of(spec.name, r)
            if value is not None:
                points.append(MetricPoint(clean_key(f"{base}/{spec.name}"), r.case.batch_size, value, metric_group(spec.name)))
    for v in getattr(verdicts, "verdicts", ()):
        r = by_key.get(v.key)
        if r is None:  # a case of the baseline only (removed): nothing of this run to put it on
            continue
        base = f"{r.test}/{r.case.group}"
        points.append(MetricPoint(clean_key(f"{base}/verdict/{v.metric}"), r.case.batch_size, float(VERDICT_CODES[v.verdict]), "verdicts"))
        points.append(MetricPoint(clean_key(f"{base}/ratio/{v.metric}"), r.case.batch_size, float(v.ratio), "verdicts"))
    if verdicts is not None:
        for name, count in verdicts.case_counts().items():
            points.append(MetricPoint(f"verdicts/{name}", 0, float(count), "verdicts"))
    return tuple(points)


def run_tags(run: RunResult, env: Mapping[str, Any]) -> dict[str, str]:
    outcomes: dict[str, int] = {}
    for r in run.cases:
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    tags = {
        "perfsuite.run": run.run_dir.name,
        "perfsuite.run_dir": str(run.run_dir.resolve()),
        "perfsuite.status": run.status,
        "perfsuite.suite": run.suite or "",
        "perfsuite.device": run.device or "",
        "perfsuite.cases": ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())) or "none",
    }
    facts = {
        "machine_id": env.get("machine_id"),
        "hostname": env.get("hostname"),
        "git_commit": (env.get("git") or {}).get("commit") if isinstance(env.get("git"), Mapping) else None,
        "torch": (env.get("packages") or {}).get("torch") if isinstance(env.get("packages"), Mapping) else None,
        "cpu": (env.get("cpu") or {}).get("model") if isinstance(env.get("cpu"), Mapping) else None,
    }
    for key, value in facts.items():
        if isinstance(value, str) and value:
            tags[f"perfsuite.{key}"] = value
    if run.error:
        tags["perfsuite.error"] = run.error[:MAX_PARAM_CHARS]
    return tags


def _ms(iso: str | None) -> int | None:
    import datetime as _dt

    if not iso:
        return None
    for fmt in ("%Y%m%d-%H%M%S", None):
        try:
            when = _dt.datetime.strptime(iso, fmt) if fmt else _dt.datetime.fromisoformat(iso)
        except ValueError:
            continue
        return int(when.timestamp() * 1000)
    return None


def run_files(run_dir: Path) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """(artifact files, trace files) of a run folder, in a stable order."""
    files = [run_dir / n for n in RUN_FILES if (run_dir / n).is_file()]
    tables = run_dir / "tables"
    if tables.is_dir():
        files += sorted(p for p in tables.iterdir() if p.is_file() and not p.name.startswith("."))
    traces_dir = run_dir / "traces"
    traces = sorted(p for p in traces_dir.glob("*.json.gz") if p.is_file()) if traces_dir.is_dir() else []
    return tuple(files), tuple(traces)


def build(run: RunResult, *, composed: Mapping[str, Any], header: Mapping[str, Any], env: Mapping[str, Any], verdicts: Any = None,
          notes: Iterable[str] = ()) -> TrackedRun:
    """The tracked form of `run`; `header` is run_config.yaml without `composed` (suite, device, overrides)."""
    run_dir = run.run_dir
    files, traces = run_files(run_dir)
    summary = run_dir / "summary.md"
    config = run_dir / "run_config.yaml"
    extra = {k: header[k] for k in ("suite", "device", "overrides") if k in header}
    return TrackedRun(
        run_dir=run_dir,
        name=run_dir.name,
        status=run.status,
        params=config_params(composed, extra),
        tags=run_tags(run, env),
        points=metric_points(run, verdicts),
        files=files,
        traces=traces,
        summary=_read(summary),
        config_text=_read(config),
        started_ms=_ms(run.started),
        ended_ms=_ms(run.ended),
        notes=tuple(notes),
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def load_tracked(run_dir: Path) -> TrackedRun:
    """A run folder as a tracker sees it: `load_run` plus run_config.yaml, env.json, verdicts.json."""
    import yaml

    from perfsuite.report.shown import ComparisonView
    from perfsuite.results.run import load_run

    run = load_run(run_dir)
    notes = []
    header: dict[str, Any] = {}
    try:
        loaded = yaml.safe_load((run_dir / "run_config.yaml").read_text(encoding="utf-8"))
        header = loaded if isinstance(loaded, dict) else {}
    except FileNotFoundError:
        notes.append("no run_config.yaml: the config is not logged as params")
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        notes.append(f"run_config.yaml is unreadable ({type(exc).__name__}): the config is not logged as params")
    env: dict[str, Any] = {}
    try:
        loaded = json.loads((run_dir / "env.json").read_text(encoding="utf-8"))
        env = loaded if isinstance(loaded, dict) else {}
    except (OSError, UnicodeDecodeError, ValueError):
        pass
    verdicts = None
    path = run_dir / "verdicts.json"
    if path.is_file():
        try:
            verdicts = ComparisonView.from_doc(json.loads(path.read_text(encoding="utf-8")), str(path))
        except Exception as exc:  # noqa: BLE001 - a bad verdicts.json costs the verdict metrics, not the export
            notes.append(f"verdicts.json is unreadable, verdicts not logged: {exc}")
    composed = header.get("composed") if isinstance(header.get("composed"), dict) else {}
    return build(run, composed=composed, header=header, env=env, verdicts=verdicts, notes=notes)
