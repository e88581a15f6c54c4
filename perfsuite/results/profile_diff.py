"""Profile diffs of the cases a comparison marked `regressed`: finding both sides' tables, writing the diff.

For each regressed case id, the head side is this run's profile of the case (`tables/<case>.ops.csv`,
from the torch_profiler stage) and the base side is the baseline's: the op table its profile result
names, or, when that path moved, the same file name in the baseline's source run folder
(`Baseline.source_run`). Nothing is profiled again: both sides were profiled by their own runs,
outside the timed rounds. When a side has no op table the case gets no diff and a reason that says
how to get one. `tables/<case>.layers.csv` beside each op table adds layer rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from perfsuite.errors import PerfDataError
from perfsuite.profile.diff import DiffRow, diff_layers, diff_ops, read_table, write_diff
from perfsuite.results.case import CaseResult
from perfsuite.results.layout import file_stem, path_inside
from perfsuite.results.run import RunResult

TOP_ROWS = 5  # rows shown in the terminal and the HTML report; the CSV has every op
PROFILE_HINT = "run with --perf-override pipeline=full (or a pipeline with the torch_profiler stage)"


@dataclass(frozen=True)
class CaseDiff:
    case: str
    path: Path | None  # tables/<case>.diff.csv, or None when it could not be made
    top: tuple[DiffRow, ...] = ()
    reason: str | None = None  # why there is no diff


def _profile(run: RunResult, case_id: str) -> CaseResult | None:
    return next((c for c in run.cases if c.kind == "profile" and c.case.id == case_id and c.profile is not None), None)


def _op_table(result: CaseResult | None, run_dir: Path | None) -> Path | None:
    if result is None or result.profile is None:
        return None
    stored = Path(result.profile.op_table)
    for candidate in (stored, *((run_dir / "tables" / stored.name,) if run_dir is not None else ())):
        if candidate.is_file():
            return candidate
    return None


def diff_case(case_id: str, base: RunResult, base_dir: Path | None, head: RunResult, head_dir: Path) -> CaseDiff:
    """The diff of one case's profiles, written to head_dir/tables/<case>.diff.csv; or why there is none."""
    head_result, base_result = _profile(head, case_id), _profile(base, case_id)
    if head_result is None:
        return CaseDiff(case_id, None, reason=f"this run did not profile the case: {PROFILE_HINT}")
    if base_result is None:
        return CaseDiff(case_id, None, reason=f"the baseline has no profile of the case: save the baseline from a run that profiles ({PROFILE_HINT})")
    head_ops = _op_table(head_result, head_dir)
    if head_ops is None:
        return CaseDiff(case_id, None, reason=f"this run's op table {head_result.profile.op_table} is missing")  # type: ignore[union-attr]
    base_ops = _op_table(base_result, base_dir)
    if base_ops is None:
        where = f" or in {base_dir / 'tables'}" if base_dir is not None else ""
        return CaseDiff(case_id, None, reason=f"the baseline's op table is gone ({base_result.profile.op_table} not found{where}): "  # type: ignore[union-attr]
                                              "its source run folder was moved or deleted")
    try:
        rows = diff_ops(read_table(base_ops, ("name", "count", "self_cpu_us")), read_table(head_ops, ("name", "count", "self_cpu_us")),
                        base_steps=base_result.profile.active_steps or 1, head_steps=head_result.profile.active_steps or 1,  # type: ignore[union-attr]
                        base_name=str(base_ops), head_name=str(head_ops))
        base_layers, head_layers = (p.parent / f"{file_stem(case_id)}.layers.csv" for p in (base_ops, head_ops))
        if base_layers.is_file() and head_layers.is_file():
            needed = ("module", "calls", "time_s")
            rows += diff_layers(read_table(base_layers, needed), read_table(head_layers, needed),
                                base_name=str(base_layers), head_name=str(head_layers))
    except PerfDataError as exc:
        return CaseDiff(case_id, None, reason=str(exc))
    top = tuple(r for r in rows if r.kind == "op")[:TOP_ROWS]
    target = path_inside(head_dir / "tables", case_id, ".diff.csv")
    try:
        path = write_diff(target, rows)
    except OSError as exc:  # a full disk or a read-only folder: the top rows are still shown
        return CaseDiff(case_id, None, top, reason=f"could not write {target}: {exc.strerror or exc}")
    return CaseDiff(case_id, path, top)


def diff_regressed(case_ids: Iterable[str], base: RunResult, base_dir: Path | None, head: RunResult, head_dir: Path) -> list[CaseDiff]:
    return [diff_case(cid, base, base_dir, head, head_dir) for cid in dict.fromkeys(case_ids)]


def read_diff(path: Path, case_id: str, top: int = TOP_ROWS) -> CaseDiff:
    """A diff CSV written earlier, read back for a report (its first `top` op rows)."""
    try:
        rows = read_table(path, ("kind", "name", "delta_self_us"))
        parsed = []
        for r in rows:
            if r.get("kind") != "op":
                continue
            ratio = r.get("ratio") or ""
            parsed.append(DiffRow("op", r["name"], float(r["base_self_us"]), float(r["head_self_us"]), float(r["delta_self_us"]),
                                  float(ratio) if ratio else None, float(r["base_count"]), float(r["head_count"]), float(r["delta_count"]),
                                  r.get("time_basis") or "cpu"))
            if len(parsed) >= top:
                break
    except (PerfDataError, KeyError, ValueError) as exc:
        return CaseDiff(case_id, path, reason=f"{path.name} could not be read: {exc}")
    return CaseDiff(case_id, path, tuple(parsed))


def describe(row: DiffRow) -> str:
    """One line: `aten::addmm +120 µs/step (310 -> 430 µs, 1.39x), calls +0`."""
    ratio = f", {row.ratio:.2f}x" if row.ratio is not None else ", new"
    return (f"{row.name} {row.delta_self_us:+.1f} µs/step {row.time_basis} self time "
            f"({row.base_self_us:.1f} -> {row.head_self_us:.1f}{ratio}), calls {row.delta_count:+g}")


