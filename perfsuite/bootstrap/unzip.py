"""Extracting a dataset zip once, resumably.

Each member is written to a temporary name beside its destination and renamed into place, so
a file is either complete or absent. A member already on disk with the right size and CRC-32 is
skipped, so a run that was interrupted (or a folder someone half-unzipped by hand) is completed
without duplicates. When every member is in place a marker file records it; the next run sees
the marker and does nothing.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from perfsuite.errors import PerfDataError
from perfsuite.results.layout import atomic_write_text

MARKER_DIR = ".perfsuite-bootstrap"


@dataclass(frozen=True)
class ExtractResult:
    written: int
    skipped: int


def marker_path(root: Path, zip_rel: str) -> Path:
    """Where the completion marker of `zip_rel` (a path relative to the data root) lives."""
    return root / MARKER_DIR / (zip_rel.replace("/", "__") + ".done.json")


def _fingerprint(zip_path: Path) -> dict[str, int]:
    st = zip_path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def extraction_state(zip_path: Path, marker: Path) -> str:
    """One of: done (the marker matches the zip), changed (a marker for another zip), partial, new."""
    if marker.is_file():
        try:
            recorded = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "partial"
        if not zip_path.exists():
            return "done"  # the zip was removed after extraction to save space: that is fine
        if recorded.get("zip") == _fingerprint(zip_path):
            return "done"
        return "changed"
    return "new"


def _crc32(path: Path) -> int:
    crc = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            crc = zlib.crc32(chunk, crc)
    return crc


def _safe_member_path(dest: Path, name: str, zip_path: Path) -> Path:
    pure = PurePosixPath(name)
    parts = pure.parts
    drive_like = bool(parts) and ":" in parts[0]  # "C:/..." written by a Windows tool
    if pure.is_absolute() or ".." in parts or name.startswith("\\") or drive_like or not parts:
        raise PerfDataError(
            f"{zip_path} contains the unsafe member name {name!r} (absolute or '..'); refusing to extract it. "
            "Re-create the zip with paths relative to its top folder."
        )
    return dest.joinpath(*pure.parts)


def _open_zip(zip_path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise PerfDataError(
            f"{zip_path} is not a readable zip ({exc}); it is probably truncated or corrupt. "
            "Nothing was extracted from it. Download or copy it again, then re-run the bootstrap."
        ) from exc


def extract_zip(zip_path: Path, dest: Path, marker: Path) -> ExtractResult:
    """Extract `zip_path` into `dest`, skipping members already in place; write `marker` at the end."""
    written = skipped = 0
    with _open_zip(zip_path) as zf:
        members = zf.infolist()
        targets = [(info, _safe_member_path(dest, info.filename, zip_path)) for info in members]
        dest.mkdir(parents=True, exist_ok=True)
        for info, target in targets:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if target.is_file() and not target.is_symlink() and target.stat().st_size == info.file_size:
                if _crc32(target) == info.CRC:
                    skipped += 1
                    continue
            if target.is_dir() and not target.is_symlink():
                raise PerfDataError(f"cannot extract {info.filename} from {zip_path}: {target} is a folder.")
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.partial")
            try:
                with zf.open(info) as src, tmp.open("wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                os.replace(tmp, target)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise PerfDataError(
                    f"{zip_path} is corrupt: member {info.filename!r} cannot be read ({exc}). "
                    f"Members extracted so far are kept and will be reused; download or copy the zip again, "
                    "then re-run the bootstrap to finish."
                ) from exc
            finally:
                if tmp.exists():
                    tmp.unlink()
            written += 1
    record = {
        "zip": _fingerprint(zip_path),
        "zip_path": str(zip_path),
        "dest": str(dest),
        "members": len(members),
        "completed_at": _dt.datetime.now().isoformat(timespec="seconds"),
    }
    atomic_write_text(marker, json.dumps(record, indent=2) + "\n")
    return ExtractResult(written=written, skipped=skipped)
