"""`perfsuite migrate-out`: a messy out/ is filed into runs/ baselines/ cache/ _archive/, losing nothing."""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfsuite.cli import main
from perfsuite.errors import PerfDataError
from perfsuite.results import migrate
from perfsuite.results.layout import OutLayout
from perfsuite.results.lock import RunLock, RunLockHeld
from perfsuite.results.migrate import (
    LOG_DIR,
    apply_migration,
    clash_name,
    find_timestamp,
    loose_entries,
    map_file,
    migrate_out,
    plan_migration,
)

REPO = Path(__file__).resolve().parents[1]

MESSY: dict[str, str | bytes] = {
    "runs/20261101-120000_gpt2/results.json": '{"ok": 1}',
    "runs/20261101-120000_gpt2/benchmark.json": '{"benchmarks": []}',
    "20261101-120000_report.html": "<html>report</html>",
    "results_2026-11-02T09:30:00.json": '{"r": 2}',
    "bench.json": json.dumps({"datetime": "2026-11-03T10:00:00", "benchmarks": []}),
    "notes.txt": "hand-written notes",
    "model_20261399-999999.bin": b"\x00\x01",
    "20261104-080000_bert/results.json": '{"bert": 1}',
    "20261104-080000_bert/traces/a.json.gz": b"\x1f\x8b trace",
    "traces/20261101-120000/gpt2.json.gz": b"\x1f\x8b gpt2 trace",
    "traces/readme.md": "what these are",
    "onnx/gpt2.onnx": b"onnx bytes",
    "baseline/m1/gpt2.json": '{"baseline": true}',
    "20261101-120000_gpt2/benchmark.json": '{"benchmarks": ["older copy"]}',
    "20261105-000000/x.txt": "first x",
    "2026-11-05T00-00-00/x.txt": "second x",
    ".benchmarks/Linux-CPython-3.11-64bit/0001_abc_20261106_070000_uncommitted-changes.json": '{"pb": 1}',
}


def build(root: Path) -> Path:
    for rel, content in MESSY.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    (root / "latest").symlink_to("runs/20261101-120000_gpt2")
    (root / "empty" / "deeper").mkdir(parents=True)
    return root


def snapshot(root: Path, *, skip_logs: bool = True) -> dict[str, bytes | str]:
    """Every file and symlink under root -> its bytes (or link target), relative paths as keys."""
    found: dict[str, bytes | str] = {}
    for here, dirs, files in os.walk(root):
        rel_here = Path(here).relative_to(root)
        if skip_logs and rel_here.as_posix().startswith(str(LOG_DIR)):
            continue
        for name in files + [d for d in dirs if (Path(here) / d).is_symlink()]:
            path = Path(here) / name
            found[(rel_here / name).as_posix()] = "->" + os.readlink(path) if path.is_symlink() else path.read_bytes()
    return found


def count_files(root: Path, *, exclude: tuple[PurePosixPath, ...] = ()) -> int:
    """Files and symlinks under root, not counting the excluded folders."""
    skip = {root / e for e in exclude}
    total = 0
    for here, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(here) / d not in skip]
        total += len(files) + sum(1 for d in dirs if (Path(here) / d).is_symlink())
    return total


def quiet(_line: str) -> None:
    pass


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return build(tmp_path / "out")


def test_dry_run_prints_the_plan_and_changes_nothing(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(out)
    dirs_before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert main(["migrate-out", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "dry run" in text and "--apply" in text
    assert "notes.txt -> _archive/unmapped/notes.txt" in text and "UNMAPPED" in text
    assert "20261101-120000_report.html -> runs/20261101-120000_gpt2/20261101-120000_report.html" in text
    assert snapshot(out) == before
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == dirs_before


def test_apply_files_everything_and_loses_nothing(out: Path) -> None:
    before = snapshot(out)
    count_before = count_files(out)
    assert migrate_out(out, apply=True, echo=quiet) == 0
    after = snapshot(out)

    assert loose_entries(out) == []
    assert sorted(p.name for p in out.iterdir()) == ["_archive", "baselines", "cache", "runs"]
    assert count_files(out, exclude=(LOG_DIR,)) == count_before
    assert sorted(map(repr, before.values())) == sorted(map(repr, after.values())), "same contents, only moved"

    expected = {
        "runs/20261101-120000_gpt2/20261101-120000_report.html": b"<html>report</html>",
        "runs/20261102-093000_migrated/results_2026-11-02T09:30:00.json": b'{"r": 2}',
        "runs/20261103-100000_migrated/bench.json": MESSY["bench.json"].encode(),  # type: ignore[union-attr]
        "runs/20261104-080000_bert/results.json": b'{"bert": 1}',
        "runs/20261104-080000_bert/traces/a.json.gz": b"\x1f\x8b trace",
        "runs/20261101-120000_gpt2/traces/gpt2.json.gz": b"\x1f\x8b gpt2 trace",
        "_archive/unmapped/traces/readme.md": b"what these are",
        "_archive/unmapped/notes.txt": b"hand-written notes",
        "_archive/unmapped/model_20261399-999999.bin": b"\x00\x01",
        "cache/onnx/gpt2.onnx": b"onnx bytes",
        "baselines/m1/gpt2.json": b'{"baseline": true}',
        "runs/20261101-120000_gpt2/benchmark.json": b'{"benchmarks": []}',
        "runs/20261101-120000_gpt2/benchmark.clash-1.json": b'{"benchmarks": ["older copy"]}',
        # sorted by source path, "2026-11-05T00-00-00/" comes before "20261105-000000/"
        "runs/20261105-000000_migrated/x.txt": b"second x",
        "runs/20261105-000000_migrated/x.clash-1.txt": b"first x",
        "runs/20261106-070000_migrated/.benchmarks/Linux-CPython-3.11-64bit/"
        "0001_abc_20261106_070000_uncommitted-changes.json": b'{"pb": 1}',
        "_archive/unmapped/latest": "->runs/20261101-120000_gpt2",
    }
    for rel, content in expected.items():
        assert after.get(rel) == content, rel
    logs = list((out / LOG_DIR).glob("*.jsonl"))
    assert len(logs) == 1
    lines = [json.loads(line) for line in logs[0].read_text().splitlines()]
    assert len(lines) == len(before) - 2  # everything but the two files already inside runs/
    assert {"src": "notes.txt", "dst": "_archive/unmapped/notes.txt"}.items() <= next(
        line for line in lines if line["src"] == "notes.txt"
    ).items()
    assert sum(line["clash"] for line in lines) == 2


def test_second_apply_changes_nothing(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert migrate_out(out, apply=True, echo=quiet) == 0
    state = snapshot(out, skip_logs=False)
    assert main(["migrate-out", "--out", str(out), "--apply"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert snapshot(out, skip_logs=False) == state


def test_interrupted_migration_is_completed_by_a_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = build(tmp_path / "reference")
    assert migrate_out(reference, apply=True, echo=quiet) == 0

    out = build(tmp_path / "out")
    real_move = migrate._move
    calls = {"n": 0}

    def crash_on_the_seventh(src: Path, dst: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt("power cut")
        real_move(src, dst)

    monkeypatch.setattr(migrate, "_move", crash_on_the_seventh)
    with pytest.raises(KeyboardInterrupt):
        migrate_out(out, apply=True, echo=quiet)
    monkeypatch.setattr(migrate, "_move", real_move)
    assert loose_entries(out), "the crash left work to do"
    assert not OutLayout(out).lock_file.exists(), "the lock is released even when interrupted"

    assert migrate_out(out, apply=True, echo=quiet) == 0
    assert snapshot(out) == snapshot(reference)
    assert loose_entries(out) == []


def test_a_live_run_lock_makes_it_refuse_naming_the_pid(out: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys; from pathlib import Path\n"
            "from perfsuite.results.layout import OutLayout\n"
            "from perfsuite.results.lock import RunLock\n"
            f"with RunLock(OutLayout(Path({str(out)!r}))):\n"
            "    print('locked', flush=True); sys.stdin.read()\n"
        )],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        before = snapshot(out)
        for apply in (False, True):
            with pytest.raises(RunLockHeld) as info:
                migrate_out(out, apply=apply, echo=quiet)
            assert f"pid {holder.pid}" in str(info.value)
        assert snapshot(out) == before
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert migrate_out(out, apply=True, echo=quiet) == 0


def test_cli_reports_a_held_lock_as_an_error(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with RunLock(OutLayout(out), purpose="perfsuite session"):  # held by this process, through another descriptor
        assert main(["migrate-out", "--out", str(out), "--apply"]) == 2
    err = capsys.readouterr().err
    assert f"pid {os.getpid()}" in err and "perfsuite session" in err
    assert (out / "notes.txt").exists()


def test_missing_out_folder_and_layout_names_taken_by_files(tmp_path: Path) -> None:
    with pytest.raises(PerfDataError, match="does not exist"):
        migrate_out(tmp_path / "nope", apply=False, echo=quiet)
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "runs").write_text("not a folder")
    with pytest.raises(PerfDataError, match="the layout needs a folder there"):
        plan_migration(tmp_path / "o")
    assert (tmp_path / "o" / "runs").read_text() == "not a folder"


def test_a_file_blocking_the_destination_folder_sends_the_file_to_unmapped(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "runs" / "20261101-120000_a").mkdir(parents=True)
    (out / "runs" / "20261101-120000_a" / "traces").write_text("a file named traces")
    (out / "traces" / "20261101-120000").mkdir(parents=True)
    (out / "traces" / "20261101-120000" / "t.json").write_text("t")
    (move,) = plan_migration(out).moves
    assert move.dst == PurePosixPath("_archive/unmapped/traces/20261101-120000/t.json")
    assert "UNMAPPED" in move.reason
    result = apply_migration(plan_migration(out))
    assert result.leftovers == ()


def test_nothing_to_do_on_a_clean_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layout = OutLayout(tmp_path / "out")
    layout.new_run_dir("x")
    assert main(["migrate-out", "--out", str(layout.root)]) == 0
    assert "nothing to do" in capsys.readouterr().out


# --- the pure parts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20261101-120000_report.html", "20261101-120000"),
        ("x_20261101_120000.json", "20261101-120000"),
        ("20261101T120000", "20261101-120000"),
        ("run 2026-11-01T12:00:00.123+00:00", "20261101-120000"),
        ("2026-11-01_12-00-00", "20261101-120000"),
        ("v120261101-120000", None),  # digits glued on the left are not a timestamp
        ("20261301-120000", None),  # month 13
        ("notes.txt", None),
    ],
)
def test_find_timestamp(text: str, expected: str | None) -> None:
    match = find_timestamp(text)
    assert (match.key if match else None) == expected


_moments = st.datetimes(min_value=_dt.datetime(1990, 1, 1), max_value=_dt.datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0)
)
_formats = st.sampled_from(["%Y%m%d-%H%M%S", "%Y%m%d_%H%M%S", "%Y%m%dT%H%M%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d_%H-%M-%S"])


@given(when=_moments, fmt=_formats, prefix=st.sampled_from(["", "run_", "bench-"]), suffix=st.sampled_from(["", "_x", ".json"]))
def test_every_supported_form_round_trips(when: _dt.datetime, fmt: str, prefix: str, suffix: str) -> None:
    match = find_timestamp(prefix + when.strftime(fmt) + suffix)
    assert match is not None and match.when == when


@given(name=st.from_regex(r"\.?[a-z]{1,8}(\.[a-z]{1,4}){0,2}", fullmatch=True), n=st.integers(1, 50))
def test_clash_names_differ_and_keep_the_extension(name: str, n: int) -> None:
    renamed = clash_name(name, n)
    assert renamed != name and f"clash-{n}" in renamed
    head = name.lstrip(".")
    if "." in head:
        assert renamed.endswith(name[name.index(".", 1 if name.startswith(".") else 0) :])


def test_map_file_prefers_the_name_then_folders_then_json() -> None:
    when = _dt.datetime(2026, 1, 2, 3, 4, 5)
    assert map_file(PurePosixPath("a/20260101-000000/b_20260202-000000.txt"), when).ts == "20260202-000000"
    folder = map_file(PurePosixPath("a/20260101-000000_exp/b.txt"), when)
    assert (folder.ts, folder.run_name, str(folder.inner)) == ("20260101-000000", "20260101-000000_exp", "a/b.txt")
    assert map_file(PurePosixPath("b.json"), when).ts == "20260102-030405"
    assert map_file(PurePosixPath("b.json"), None).kind == "unmapped"
    assert map_file(PurePosixPath("onnx/20260101-000000.onnx"), None).kind == "cache"


def test_json_times_with_a_zone_become_local_time(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    stamp = "2026-11-03T10:00:00+00:00"
    (out / "pb.json").write_text(json.dumps({"datetime": stamp}))
    local = _dt.datetime.fromisoformat(stamp).astimezone().strftime("%Y%m%d-%H%M%S")
    (move,) = plan_migration(out).moves
    assert move.dst == PurePosixPath(f"runs/{local}_migrated/pb.json")


def test_shutil_is_not_needed_for_same_filesystem_moves(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Moves inside one out/ are renames: a copy fallback would double the I/O of a big migration.
    monkeypatch.setattr(shutil, "move", lambda *a: pytest.fail("copied instead of renamed"))
    assert migrate_out(out, apply=True, echo=quiet) == 0


def test_a_file_that_cannot_be_moved_is_reported_and_the_rest_move(out: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # Tests run as root, where chmod does not stop a rename: refuse one file at the move seam.
    real_move = migrate._move

    def read_only_bert(src: Path, dst: Path) -> None:
        if src.parent.name == "20261104-080000_bert":
            raise PermissionError(13, "Permission denied", str(src))
        real_move(src, dst)

    monkeypatch.setattr(migrate, "_move", read_only_bert)
    before = snapshot(out)
    assert main(["migrate-out", "--out", str(out), "--apply"]) == 1
    text = capsys.readouterr().out
    assert "could not move 20261104-080000_bert/results.json -> runs/20261104-080000_bert/results.json: PermissionError: Permission denied" in text
    assert "1 file(s) could not be moved" in text
    assert (out / "20261104-080000_bert" / "results.json").is_file()  # stayed, intact
    assert (out / "runs" / "20261104-080000_bert" / "traces" / "a.json.gz").is_file()  # its neighbour moved
    assert (out / "_archive" / "unmapped" / "notes.txt").is_file()  # everything else moved
    assert count_files(out, exclude=(LOG_DIR,)) == len(before)  # nothing lost

    monkeypatch.setattr(migrate, "_move", real_move)
    assert main(["migrate-out", "--out", str(out), "--apply"]) == 0
    assert loose_entries(out) == []


def test_a_failed_move_leaves_no_empty_run_folder(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(src: Path, dst: Path) -> None:
        raise PermissionError(13, "Permission denied", str(src))

    monkeypatch.setattr(migrate, "_move", refuse)
    assert migrate_out(out, apply=True, echo=quiet) == 1
    assert not (out / "runs" / "20261104-080000_bert").exists()
    assert not (out / "runs" / "20261101-120000_migrated").exists()
    assert not (out / "_archive" / "unmapped").exists()
