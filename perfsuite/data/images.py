"""Image datasets: a folder of PNG/JPEG files or .npz arrays, or an embedded source; preprocessing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perfsuite.config.schema import DatasetSpec, ImagePreprocess, InferSpec, ModelSpec
from perfsuite.data.base import SampleSet, from_source, list_files
from perfsuite.errors import PerfDataError
from perfsuite.registry import DATASETS, SOURCES

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _rgb(array: Any) -> Any:
    """HxW, HxWx1, HxWx3 or HxWx4 of any numeric type -> HxWx3 uint8."""
    import numpy as np

    a = np.asarray(array)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an image of shape HxW[xC], got {a.shape}")
    if a.dtype != np.uint8:
        hi = float(a.max()) if a.size else 1.0
        a = np.clip(a / (hi or 1.0) * 255.0, 0, 255).astype(np.uint8)
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return a[:, :, :3]


def _read_image(path: Path) -> Any:
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise PerfDataError(f"cannot read image {path}: {exc}") from None


def _read_npz(path: Path) -> list[Any]:
    import numpy as np

    try:
        arrays = np.load(path)
    except (OSError, ValueError) as exc:
        raise PerfDataError(f"cannot read {path}: {exc}") from None
    images = []
    for key in arrays.files:
        a = arrays[key]
        stack = a if a.ndim == 4 or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)) else a[None]
        images.extend(_rgb(img) for img in stack)
    return images


@DATASETS.register("images")
def load_images(spec: DatasetSpec, model: ModelSpec, infer: InferSpec) -> SampleSet:
    if spec.source:
        return from_source(spec)
    images: list[Any] = []
    files = list_files(spec, ("**/*.png", "**/*.jpg", "**/*.jpeg", "**/*.npz"))
    for path in files:
        if path.suffix.lower() == ".npz":
            images.extend(_read_npz(path))
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            images.append(_read_image(path))
        if len(images) >= spec.max_samples:
            break
    return SampleSet(spec.name, tuple(images), f"{spec.root} ({len(files)} files)")


@SOURCES.register("sklearn_sample_images")
def sklearn_sample_images(spec: DatasetSpec) -> SampleSet:
    """scikit-learn's bundled photographs (china.jpg, flower.jpg, 427x640)."""
    try:
        from importlib.resources import files

        folder = Path(str(files("sklearn.datasets") / "images"))
    except ModuleNotFoundError:
        raise PerfDataError(
            f"dataset {spec.name} reads scikit-learn's sample images, but scikit-learn is not installed; "
            "pip install scikit-learn (or perfsuite[data])"
        ) from None
    paths = sorted(folder.glob("*.jpg"))
    return SampleSet(spec.name, tuple(_read_image(p) for p in paths), str(folder))


def preprocess_images(samples: Sequence[Any], pre: ImagePreprocess) -> Any:
    """Resize the shorter side to `resize`, center-crop `image_size`, scale to [0,1], normalize; NCHW float32."""
    import numpy as np
    from PIL import Image

    out = np.empty((len(samples), 3, pre.image_size, pre.image_size), dtype=np.float32)
    mean = np.asarray(pre.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(pre.std, dtype=np.float32)[:, None, None]
    for i, sample in enumerate(samples):
        img = Image.fromarray(_rgb(sample))
        w, h = img.size
        scale = pre.resize / min(w, h)
        img = img.resize((max(pre.image_size, round(w * scale)), max(pre.image_size, round(h * scale))), Image.BILINEAR)
        w, h = img.size
        left, top = (w - pre.image_size) // 2, (h - pre.image_size) // 2
        img = img.crop((left, top, left + pre.image_size, top + pre.image_size))
        chw = np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0
        out[i] = (chw - mean) / std
    return out
