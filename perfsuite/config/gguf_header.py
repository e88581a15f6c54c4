"""What a GGUF file says about itself, read from its header alone (no tensor data, no gguf import).

`gguf.GGUFReader` parses every field into numpy arrays (2 s for a 98 MB SmolLM2 on a busy 2-core
machine); the plan only needs a few keys (architecture, context length, vocabulary, whether a chat
template is there) and each tensor's quant type, so this reads the header sequentially and skips
the large arrays (the tokenizer's 49k tokens) by their lengths.

Format (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md): magic ``GGUF``, uint32 version,
uint64 tensor count, uint64 key-value count, the key-values, then per tensor: name, uint32 n_dims,
uint64 dims, uint32 ggml type, uint64 offset. Little-endian.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from perfsuite.errors import PerfDataError

# ggml_type ids -> names (ggml.h; the same numbering as gguf.GGMLQuantizationType)
GGML_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K",
    11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS",
    19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32",
    27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4", 40: "NVFP4", 41: "Q1_0",
}
# value type -> struct format of a scalar (8: string, 9: array are read apart)
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_MAX_STRING = 1 << 26  # 64 MiB: a longer key or value means the file is not GGUF (or is damaged)


@dataclass(frozen=True)
class GGUFHeader:
    path: str
    version: int
    architecture: str
    name: str | None
    context_length: int | None
    vocab_size: int | None
    chat_template: bool
    quant_types: tuple[tuple[str, int], ...]  # (ggml type name, tensor count), most common first
    elements: int = 0  # the tensors' elements: the parameters of the de-quantized model
    shape: tuple[tuple[str, float], ...] = ()  # the architecture's numbers: ("block_count", 30), ("embedding_length", 576), ...

    def describe_quant(self) -> str:
        return ", ".join(f"{name} x{n}" for name, n in self.quant_types)


class _Reader:
    def __init__(self, fh: BinaryIO, path: Path) -> None:
        self.fh, self.path = fh, path

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        data = self.fh.read(size)
        if len(data) != size:
            raise PerfDataError(f"{self.path} ends inside its GGUF header: the file is truncated (a partial download?)")
        return struct.unpack(fmt, data)[0]

    def string(self, keep: bool = True) -> str | None:
        n = self.take("<Q")
        if n > _MAX_STRING:
            raise PerfDataError(f"{self.path}: a GGUF header string claims {n} bytes; the file is damaged")
        if not keep:
            self.fh.seek(n, 1)
            return None
        return self.fh.read(n).decode("utf-8", errors="replace")

    def value(self, kind: int, keep: bool = True) -> Any:
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == _STRING:
            return self.string(keep)
        if kind == _ARRAY:
            item, count = self.take("<I"), self.take("<Q")
            if item in _SCALARS:  # skipped by size: arrays are only ever counted here
                self.fh.seek(struct.calcsize(_SCALARS[item]) * count, 1)
            else:
                for _ in range(count):
                    self.value(item, keep=False)
            return count
        raise PerfDataError(f"{self.path}: unknown GGUF value type {kind}; the file is damaged or from a newer GGUF version")


def read_gguf_header(path: str | Path) -> GGUFHeader:
    """The header of a GGUF file; a clear PerfDataError when the file is not one (or is cut short)."""
    path = Path(path)
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise PerfDataError(f"cannot read the GGUF file {path}: {exc.strerror or exc}") from None
    with fh:
        r = _Reader(fh, path)
        if fh.read(4) != b"GGUF":
            raise PerfDataError(f"{path} is not a GGUF file (it does not start with the GGUF magic bytes)")
        version = r.take("<I")
        if version < 2:
            raise PerfDataError(f"{path} is GGUF version {version}; transformers reads versions 2 and 3 (re-convert it)")
        n_tensors, n_kv = r.take("<Q"), r.take("<Q")
        fields: dict[str, Any] = {}
        for _ in range(n_kv):
            key = r.string() or ""
            kind = r.take("<I")
            # Keep scalars and short strings; the tokenizer's token lists are only counted.
            fields[key] = r.value(kind, keep=key in ("general.architecture", "general.name", "tokenizer.chat_template"))
        types: Counter[str] = Counter()
        elements = 0
        for _ in range(n_tensors):
            r.string(keep=False)
            dims = r.take("<I")
            count = 1
            for _ in range(dims):
                count *= r.take("<Q")
            elements += count
            kind = r.take("<I")
            fh.seek(8, 1)
            types[GGML_TYPES.get(kind, f"type {kind}")] += 1
    arch = fields.get("general.architecture")
    if not isinstance(arch, str):
        raise PerfDataError(f"{path} has no general.architecture in its GGUF header, so no model can be built from it")
    context = fields.get(f"{arch}.context_length")
    vocab = fields.get(f"{arch}.vocab_size")
    if not isinstance(vocab, int):
        tokens = fields.get("tokenizer.ggml.tokens")
        vocab = tokens if isinstance(tokens, int) else None
    return GGUFHeader(
        path=str(path),
        version=version,
        architecture=arch,
        name=fields.get("general.name") if isinstance(fields.get("general.name"), str) else None,
        context_length=int(context) if isinstance(context, int) else None,
        vocab_size=vocab,
        chat_template=bool(fields.get("tokenizer.chat_template")),
        quant_types=tuple(types.most_common()),
        elements=elements,
        shape=tuple(sorted((k[len(arch) + 1:], v) for k, v in fields.items()
                           if k.startswith(f"{arch}.") and isinstance(v, (int, float)) and not isinstance(v, bool))),
    )
