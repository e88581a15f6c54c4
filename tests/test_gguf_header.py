"""The GGUF header reader and the plan-time checks of a GGUF file (issue 25): real file, hand-written files, bad files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from causal_snapshot import smollm2_gguf, write_gguf
from perfsuite.config.causal_source import gguf_problem
from perfsuite.config.gguf_header import GGML_TYPES, read_gguf_header
from perfsuite.errors import PerfDataError

pytest.importorskip("gguf")


def test_the_smollm2_file_says_what_it_is() -> None:
    header = read_gguf_header(smollm2_gguf())
    assert header.version == 3 and header.architecture == "llama"
    assert header.context_length == 8192 and header.vocab_size == 49152 and header.chat_template is True
    types = dict(header.quant_types)
    assert header.quant_types[0][0] == "Q4_1" and types["Q4_1"] > types.get("Q8_0", 0) and "F32" in types
    assert "Q4_1 x" in header.describe_quant()
    assert gguf_problem(header.quant_types, header.architecture) is None


def test_ggml_type_names_follow_gguf_numbering() -> None:
    import gguf

    assert {t.value: t.name for t in gguf.GGMLQuantizationType} == GGML_TYPES


def test_a_written_file_reads_back(tmp_path: Path) -> None:
    file = write_gguf(tmp_path / "m.gguf", tensor_types=("F32", "Q8_0", "Q8_0"), context=256, vocab=100, name="tiny one")
    header = read_gguf_header(file)
    assert (header.architecture, header.name, header.context_length, header.vocab_size) == ("llama", "tiny one", 256, 100)
    assert header.chat_template is True and header.quant_types == (("Q8_0", 2), ("F32", 1))


def test_no_chat_template_and_no_context_length(tmp_path: Path) -> None:
    header = read_gguf_header(write_gguf(tmp_path / "m.gguf", chat_template=None, context=None))
    assert header.chat_template is False and header.context_length is None and header.vocab_size == 100


def test_an_unsupported_quant_type_names_re_quantizing(tmp_path: Path) -> None:
    header = read_gguf_header(write_gguf(tmp_path / "m.gguf", tensor_types=("F32", "Q8_1")))
    problem = gguf_problem(header.quant_types, header.architecture)
    assert problem is not None and "Q8_1" in problem and "re-quantize" in problem and "Q8_0" in problem


def test_a_type_id_outside_the_known_list(tmp_path: Path) -> None:
    file = write_gguf(tmp_path / "m.gguf", tensor_types=("F32",))
    data = bytearray(file.read_bytes())
    # the tensor info ends in: uint32 ggml type (0 = F32), uint64 offset; the only tensor's type sits 12 bytes before
    # the end of the info block: name "weight.0", uint32 n_dims, 2 uint64 dims, type, offset.
    at = data.index(b"weight.0") + 8 + 4 + 2 * 8
    assert struct.unpack_from("<I", data, at)[0] == 0
    struct.pack_into("<I", data, at, 99)
    file.write_bytes(bytes(data))
    header = read_gguf_header(file)
    assert header.quant_types == (("type 99", 1),)
    problem = gguf_problem(header.quant_types, "llama")
    assert problem is not None and "type 99" in problem and "re-quantize" in problem


def test_an_architecture_transformers_cannot_load_as_a_decoder(tmp_path: Path) -> None:
    for arch in ("bert", "t5"):
        header = read_gguf_header(write_gguf(tmp_path / f"{arch}.gguf", arch=arch))
        problem = gguf_problem(header.quant_types, header.architecture)
        assert problem is not None and repr(arch) in problem and "safetensors snapshot" in problem
        assert "general" not in problem.split("supports")[1]  # key prefixes are no architectures


def test_not_a_gguf_file(tmp_path: Path) -> None:
    file = tmp_path / "model.gguf"
    file.write_bytes(b"PK\x03\x04 a zip, not a model")
    with pytest.raises(PerfDataError, match="is not a GGUF file"):
        read_gguf_header(file)


@pytest.mark.parametrize("keep", [3, 10, 24, 60, -20])
def test_a_truncated_file_is_said_to_be_truncated(tmp_path: Path, keep: int) -> None:
    whole = write_gguf(tmp_path / "whole.gguf", tensor_types=("F32",)).read_bytes()
    header_end = whole.index(b"weight.0") + 8 + 4 + 2 * 8 + 4 + 8  # the end of the only tensor's info
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(whole[: keep if keep > 0 else header_end + keep])
    with pytest.raises(PerfDataError, match="truncated|not a GGUF file"):
        read_gguf_header(cut)


def test_a_missing_file_and_an_old_version(tmp_path: Path) -> None:
    with pytest.raises(PerfDataError, match="cannot read the GGUF file"):
        read_gguf_header(tmp_path / "absent.gguf")
    old = tmp_path / "old.gguf"
    old.write_bytes(b"GGUF" + struct.pack("<I", 1) + b"\0" * 16)
    with pytest.raises(PerfDataError, match="version 1"):
        read_gguf_header(old)


def test_a_damaged_string_length(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 40))
    with pytest.raises(PerfDataError, match="damaged"):
        read_gguf_header(bad)
