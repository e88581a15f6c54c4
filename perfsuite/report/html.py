"""report.html: one self-contained, offline file that says what got slower, by how much and how sure we are.

    write_report(run_dir)                          # -> run_dir/report.html
    write_report(run_dir, target, comparison=...)  # elsewhere, with verdicts against a baseline

This module is the I/O edge: it reads what a run folder holds (results.json, env.json,
run_config.yaml, verdicts.json; each may be missing, and the report then says so at the top),
resolves the links to trace and op-table files relative to where the report is written, and renders
`perfsuite/report/templates/report.html.j2` with jinja2 (autoescape on). Charts are inline SVG
drawn at build time (`perfsuite.report.svg`); the case table is JSON in a
`<script type="application/json">` block, sorted, filtered and paginated by a few lines of
inline JavaScript. No URL outside the file is referenced.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from perfsuite.errors import PerfDataError
from perfsuite.report.page import ReportInputs, build_page
from perfsuite.report.shown import ComparisonView
from perfsuite.results.layout import atomic_write_text
from perfsuite.results.run import RESULTS_FILE, RunResult, load_run

REPORT_FILE = "report.html"
VERDICTS_FILE = "verdicts.json"


def _read_json(path: Path, what: str, problems: list[str]) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{path.name} is missing: {what} unknown.")
        return {}
    except (OSError, ValueError) as exc:
        problems.append(f"{path.name} could not be read ({exc}): {what} unknown.")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path.name} does not hold a JSON object: {what} unknown.")
        return {}
    return data


def _read_machines(run_dir: Path, problems: list[str]) -> tuple[Mapping[str, Any], ...]:
    """The source machines of a merged run (`perfsuite merge`): machines.json, or () for any other run."""
    from perfsuite.results.merge import MACHINES_FILE

    if not (run_dir / MACHINES_FILE).is_file():
        return ()
    data = _read_json(run_dir / MACHINES_FILE, "the machines of this merged run are", problems)
    machines = data.get("machines") if isinstance(data, dict) else None
    return tuple(m for m in machines if isinstance(m, dict)) if isinstance(machines, list) else ()


def _read_run_config(path: Path, problems: list[str]) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{path.name} is missing: the command line and overrides are unknown.")
        return {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.append(f"{path.name} could not be read ({str(exc).splitlines()[0]}).")
        return {}
    from perfsuite.config.redact import redacted

    return redacted(data) if isinstance(data, dict) else {}  # a run folder written before redaction shows no password either


def artifact_href(stored: str | None, run_dir: Path, folder: str, report_dir: Path) -> str | None:
    """A relative link from the report to a trace or op table, or None when the file is not there.

    The stored path is absolute (where the run wrote it); a run folder that was moved or copied is
    looked up by file name in its own traces/ or tables/ folder.
    """
    if not stored:
        return None
    path = Path(stored)
    for candidate in (path, run_dir / folder / path.name):
        if candidate.is_file():
            try:
                rel = os.path.relpath(candidate.resolve(), report_dir.resolve())
            except ValueError:  # another drive (Windows): an absolute file URI
                return candidate.resolve().as_uri()
            return quote(Path(rel).as_posix())
    return None


def links_of(run: RunResult, run_dir: Path, report_dir: Path) -> dict[str, tuple[str | None, str | None]]:
    out = {}
    for c in run.cases:
        if c.kind == "profile" and c.profile is not None:
            out[c.case.id] = (artifact_href(c.profile.trace, run_dir, "traces", report_dir),
                              artifact_href(c.profile.op_table, run_dir, "tables", report_dir))
    return out


def deep_links_of(run: RunResult, run_dir: Path, report_dir: Path) -> tuple[tuple[str, str, str], ...]:
    """(case id, what, href) for each deep-profile file still in the run folder."""
    out = []
    for c in run.cases:
        found = []
        if c.layers is not None:
            found.append(("layer table", c.layers.table, "tables"))
        if c.memory_timeline is not None:
            mt = c.memory_timeline
            found += [("memory by phase", mt.table, "tables"), ("CUDA memory snapshot", mt.snapshot, "traces"), ("RSS timeline", mt.timeline, "tables")]
        for what, stored, folder in found:
            href = artifact_href(stored, run_dir, folder, report_dir)
            if href is not None:
                out.append((c.case.id, what, href))
    return tuple(out)


def gather(
    run_dir: Path,
    *,
    report_dir: Path,
    run: RunResult | None = None,
    comparison: ComparisonView | None = None,
    baseline: RunResult | None = None,
    trends: Sequence[Any] = (),
    diffs: Sequence[Any] | None = None,
) -> ReportInputs:
    """Everything the report shows, read from `run_dir`; what is missing goes into `problems`.

    `run` (the results held in memory at the end of a session) is used instead of reading
    results.json. Without a `comparison`, a verdicts.json the gate left in the folder is shown.
    Without `diffs` (the gate's profile diffs, with the reasons for cases that have none), the
    `tables/<case>.diff.csv` files in the folder are shown.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise PerfDataError(f"run folder {run_dir} does not exist (or is not a folder); pass a folder under out/runs/")
    problems: list[str] = []
    if run is None:
        try:
            run = load_run(run_dir)
        except PerfDataError as exc:
            what = "is missing" if not (run_dir / RESULTS_FILE).exists() else "could not be read"
            problems.append(f"{RESULTS_FILE} {what}, so no case results are shown: {exc}")
    env = _read_json(run_dir / "env.json", "the machine, versions and threads are", problems)
    run_config = _read_run_config(run_dir / "run_config.yaml", problems)
    if comparison is None and (run_dir / VERDICTS_FILE).is_file():
        try:
            data = json.loads((run_dir / VERDICTS_FILE).read_text(encoding="utf-8"))
            comparison = ComparisonView.from_doc(data, VERDICTS_FILE)
        except (OSError, ValueError, PerfDataError) as exc:
            problems.append(f"{VERDICTS_FILE} could not be read, so no verdicts are shown: {exc}")
    from perfsuite import __version__

    if diffs is None and run is not None:
        diffs = stored_diffs(run, run_dir)
    diffs = tuple(diffs or ())
    return ReportInputs(
        diffs=diffs,
        diff_links={d.case: artifact_href(str(d.path), run_dir, "tables", report_dir) for d in diffs if d.path is not None},
        run_dir=run_dir,
        run=run,
        env=env,
        run_config=run_config,
        comparison=comparison,
        baseline=baseline,
        links=links_of(run, run_dir, report_dir) if run is not None else {},
        trends=tuple(trends),
        machines=_read_machines(run_dir, problems),
        deep_links=deep_links_of(run, run_dir, report_dir) if run is not None else (),
        problems=tuple(problems),
        generated=_dt.datetime.now().isoformat(timespec="seconds"),
        version=__version__,
    )


def render(inputs: ReportInputs) -> str:
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("perfsuite.report", "templates"),
        autoescape=True,  # every value is escaped unless it is Markup built by perfsuite.report.svg / script_json
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # The style sheet and the script are inlined as they are, not parsed as templates.
    assets = {name: Markup(env.loader.get_source(env, f"report.{name}")[0]) for name in ("css", "js")}  # type: ignore[union-attr]
    return env.get_template("report.html.j2").render(page=build_page(inputs), assets=assets)


def stored_diffs(run: RunResult, run_dir: Path) -> list[Any]:
    """The profile diffs a gate wrote into the run folder's tables/ (one per regressed case)."""
    from perfsuite.results.layout import path_inside
    from perfsuite.results.profile_diff import read_diff

    out = []
    for cid in dict.fromkeys(c.case.id for c in run.cases):
        try:
            path = path_inside(run_dir / "tables", cid, ".diff.csv")
        except ValueError:
            continue
        if path.is_file():
            out.append(read_diff(path, cid))
    return out


def write_report(
    run_dir: Path,
    target: Path | None = None,
    *,
    run: RunResult | None = None,
    comparison: ComparisonView | None = None,
    baseline: RunResult | None = None,
    trends: Sequence[Any] = (),
    diffs: Sequence[Any] | None = None,
) -> tuple[Path, tuple[str, ...]]:
    """Write the report (default: run_dir/report.html); return where, and what was missing."""
    run_dir = Path(run_dir)
    target = Path(target) if target is not None else run_dir / REPORT_FILE
    if target.is_dir():
        target = target / REPORT_FILE
    inputs = gather(run_dir, report_dir=target.parent, run=run, comparison=comparison, baseline=baseline, trends=trends, diffs=diffs)
    atomic_write_text(target, render(inputs))
    return target, inputs.problems


def compare_with(run_dir: Path, baseline: str, *, baseline_dir: Path, gate_config: str = "default",
                 conf_dirs: tuple[str, ...] = ()) -> tuple[ComparisonView, RunResult]:
    """Verdicts of the run in `run_dir` against BASELINE: a stored baseline's name, or another run folder."""
    from perfsuite.compare.verdict import compare_runs
    from perfsuite.config.gate import load_gate
    from perfsuite.results.baselines import BaselineStore, check_name

    head = load_run(run_dir)
    as_dir = Path(baseline)
    if as_dir.is_dir():
        base, label = load_run(as_dir), f"run {as_dir.name}"
    else:
        try:
            check_name(baseline)
        except PerfDataError:
            raise PerfDataError(f"--compare {baseline!r}: no such run folder, and not a baseline name either "
                                "(letters, digits, '.', '_', '-'); pass a run folder or a name saved with `perfsuite baseline save NAME`") from None
        env = _read_json(run_dir / "env.json", "", [])
        stored = BaselineStore(baseline_dir).load(baseline, env.get("machine_id"))
        base, label = stored.run, f"baseline {stored.name!r} (saved {stored.saved}, machine {stored.machine_id})"
    spec = load_gate(gate_config, conf_dirs)
    return ComparisonView.of(compare_runs(base, head, spec.policy), label, "compared when this report was written"), base
