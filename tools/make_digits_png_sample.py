"""Make datasets/digits_png/sample/digits_png.zip: a few dozen PNG digits to try the bootstrap flow.

The images are scikit-learn's bundled `load_digits()` (a copy of the UCI "Optical Recognition of
Handwritten Digits" test set: 8x8 pixels, values 0..16), taken in dataset order, the first
`--per-class` of each digit, scaled to 0..255 grayscale and upscaled with nearest-neighbour to
`--size` x `--size`. No network is used. The zip is deterministic (fixed member times, sorted
members), so re-running this script with the same library versions reproduces it byte for byte.

Layout inside the zip:

    digits_png/labels.csv            file,label
    digits_png/<label>/<label>_<sklearn index, 4 digits>.png

Usage: python tools/make_digits_png_sample.py [--out datasets/digits_png/sample/digits_png.zip]
       [--per-class 4] [--size 32]
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path

ZIP_TIME = (2026, 1, 1, 0, 0, 0)
TOP = "digits_png"


def build_members(per_class: int, size: int) -> list[tuple[str, bytes]]:
    """(name, bytes) of every zip member, in order."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    members: list[tuple[str, bytes]] = []
    rows = ["file,label"]
    for label in range(10):
        indices = np.flatnonzero(digits.target == label)[:per_class]
        for index in indices:
            pixels = (digits.images[index] * (255.0 / 16.0)).round().clip(0, 255).astype(np.uint8)
            image = Image.fromarray(pixels).resize((size, size), Image.Resampling.NEAREST)
            buf = io.BytesIO()
            image.save(buf, format="PNG", optimize=True)
            name = f"{label}/{label}_{int(index):04d}.png"
            members.append((f"{TOP}/{name}", buf.getvalue()))
            rows.append(f"{name},{label}")
    members.append((f"{TOP}/labels.csv", ("\n".join(rows) + "\n").encode()))
    return sorted(members)


def write_zip(path: Path, members: list[tuple[str, bytes]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("datasets/digits_png/sample/digits_png.zip"),
                        help="zip to write. Default: datasets/digits_png/sample/digits_png.zip")
    parser.add_argument("--per-class", type=int, default=4, help="images per digit. Default: 4")
    parser.add_argument("--size", type=int, default=32, help="output width and height in pixels. Default: 32")
    args = parser.parse_args(argv)
    members = build_members(args.per_class, args.size)
    write_zip(args.out, members)
    print(f"wrote {args.out}: {len(members) - 1} PNG images + labels.csv, {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
