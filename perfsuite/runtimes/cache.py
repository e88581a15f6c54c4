"""Where exported and compiled artifacts are cached: `out/cache/<runtime>/<hash of what made them>`.

The key is everything the artifact depends on (model, shapes, runtime options, versions), so a
changed option or an upgraded torch never picks up a stale file; the folder keeps the parts it
was made from in `key.json`, for a person wondering what a hash stands for.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from perfsuite.results.layout import atomic_write_text, slugify

KEY_FILE = "key.json"


def artifact_key(parts: Mapping[str, object]) -> str:
    """A stable hash of `parts` (JSON with sorted keys; values that are not JSON become their repr)."""
    text = json.dumps(parts, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def artifact_dir(out_dir: Path | str, runtime: str, parts: Mapping[str, object]) -> Path:
    """`<out_dir>/cache/<runtime>/<hash of parts>`, created, with the parts written next to the artifacts."""
    folder = Path(out_dir) / "cache" / slugify(runtime) / artifact_key(parts)
    folder.mkdir(parents=True, exist_ok=True)
    key_file = folder / KEY_FILE
    if not key_file.exists():
        atomic_write_text(key_file, json.dumps(parts, sort_keys=True, default=repr, indent=1))
    return folder
