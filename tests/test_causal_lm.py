"""Decoder LMs (issue 25): the causal_lm adapter's sources and their bad inputs, as a run meets them (plan time,
before any timing), random-init presets that build and generate, and `perfsuite new model --from` a causal-LM
snapshot or a .gguf file, whose printed command then runs a generation case."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from causal_snapshot import save_tiny_llama, smollm2_gguf, smollm2_tokenizer_dir, tiny_llama_snapshot, write_gguf  # noqa: F401
from conftest import FAST_POLICY, REPO, as_overrides
from test_scaffold_e2e import _perfsuite, _printed_command  # the same CLI driver as the scaffolding end-to-end test
from perfsuite.config import build_plan
from perfsuite.errors import PerfConfigError

INFER = "batch_sizes: [1]\nseq_len: 32\nmax_new_tokens: 4\nprecision: fp32\nnum_batches: 1\n"


def _model(name: str, arch: str, infer: str = INFER) -> dict[str, str]:
    return {f"model/{name}/arch/{name}.default.yaml": arch, f"model/{name}/infer/{name}.default.yaml": infer}


def _plan(conf: Path, *overrides: str):
    return build_plan(suite="smoke", conf_dirs=[conf], overrides=["inference_runtime=pytorch", *overrides])


def _error(conf: Path, *overrides: str) -> str:
    with pytest.raises(PerfConfigError) as info:
        _plan(conf, *overrides)
    return str(info.value)


@pytest.fixture(scope="module")
def bert_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot without a causal-LM head (config.json alone: the plan reads nothing else)."""
    folder = tmp_path_factory.mktemp("bert")
    (folder / "config.json").write_text('{"architectures": ["BertModel"], "model_type": "bert", "vocab_size": 100}')
    return folder


@pytest.fixture(scope="module")
def no_template_snapshot(tmp_path_factory: pytest.TempPathFactory, smollm2_tokenizer_dir: Path) -> Path:  # noqa: F811
    return save_tiny_llama(tmp_path_factory.mktemp("no-template") / "snap", tokenizer_from=smollm2_tokenizer_dir, chat_template=False)


# -- plan-time checks ---------------------------------------------------------------------------------


def test_exactly_one_source_of_weights(conf_dir, tiny_llama_snapshot: Path) -> None:  # noqa: F811
    two = f"adapter: causal_lm\nmodality: text\npath: {tiny_llama_snapshot}\nconfig: {{model_type: llama, eos_token_id: 2}}\n"
    conf = conf_dir({**_model("two", two), **_model("none", "adapter: causal_lm\nmodality: text\n")})
    err = _error(conf, "model=two")
    assert "exactly one source of weights, got config.model_type, path" in err and "hub_id (local cache)" in err
    assert "exactly one source of weights, got none" in _error(conf, "model=none")


def test_a_snapshot_without_a_causal_head_cannot_generate(conf_dir, bert_snapshot: Path) -> None:
    conf = conf_dir(_model("enc", f"adapter: causal_lm\nmodality: text\npath: {bert_snapshot}\n"))
    err = _error(conf, "model=enc")
    assert "has no causal-LM head (architectures: BertModel), so it cannot generate" in err and "adapter: local" in err


def test_a_causal_snapshot_and_a_gguf_file_under_local_become_causal_lm(conf_dir, tiny_llama_snapshot: Path, tmp_path: Path) -> None:  # noqa: F811
    gguf = write_gguf(tmp_path / "m.gguf", tensor_types=("F32", "Q8_0"), context=300, vocab=100)
    conf = conf_dir({**_model("snap", f"adapter: local\nmodality: auto\npath: {tiny_llama_snapshot}\n"),
                     **_model("file", f"adapter: local\nmodality: auto\npath: {gguf}\n")})
    (snap,) = {c.model for c in _plan(conf, "model=snap", "dataset=pydoc").cases}
    assert (snap.adapter, snap.generative, snap.chat_template, snap.max_positions, snap.vocab_size) == ("causal_lm", True, True, 512, 49152)
    (file,) = {c.model for c in _plan(conf, "model=file", "dataset=pydoc").cases}
    assert (file.adapter, file.path, file.chat_template, file.max_positions, file.vocab_size) == ("causal_lm", str(gguf), True, 300, 100)


def test_a_gguf_of_an_unsupported_quant_type_names_re_quantizing(conf_dir, tmp_path: Path) -> None:
    gguf = write_gguf(tmp_path / "q81.gguf", tensor_types=("F32", "Q8_1"))
    conf = conf_dir(_model("q81", f"adapter: causal_lm\nmodality: text\npath: {gguf}\n"))
    err = _error(conf, "model=q81")
    assert "model.path" in err and "cannot be loaded" in err and "quant type Q8_1" in err and "re-quantize" in err


@pytest.mark.parametrize(("content", "expect"), [
    (b"not a model at all", "is not a GGUF file"),
    (b"GGUF\x03\x00\x00\x00\x01", "truncated"),
])
def test_a_file_that_is_not_gguf_or_is_truncated(conf_dir, tmp_path: Path, content: bytes, expect: str) -> None:
    file = tmp_path / "bad.gguf"
    file.write_bytes(content)
    conf = conf_dir(_model("bad", f"adapter: causal_lm\nmodality: text\npath: {file}\n"))
    assert expect in _error(conf, "model=bad")


def test_a_file_that_is_not_gguf_by_name(conf_dir, tmp_path: Path) -> None:
    file = tmp_path / "model.bin"
    file.write_bytes(b"\0" * 8)
    conf = conf_dir(_model("bin", f"adapter: causal_lm\nmodality: text\npath: {file}\n"))
    assert "is a file but not a .gguf file" in _error(conf, "model=bin")


def test_chat_prompts_need_a_chat_template(conf_dir, no_template_snapshot: Path) -> None:
    err = _error(conf_dir({}), "model=llama.tiny", "dataset=chat_prompts")
    assert "llama.tiny has no chat template to render chat prompts with" in err and "smollm2" in err and "pydoc" in err
    conf = conf_dir(_model("plain", f"adapter: causal_lm\nmodality: text\npath: {no_template_snapshot}\n"))
    assert "plain has no chat template" in _error(conf, "model=plain", "dataset=chat_prompts")
    assert "no LM head to answer with" in _error(conf, "model=bert.tiny", "dataset=chat_prompts")


def test_a_hub_id_resolves_from_the_local_cache_only(conf_dir, tiny_llama_snapshot: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    import shutil

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    conf = conf_dir({**_model("hub", "adapter: causal_lm\nmodality: text\nhub_id: someone/not-cached\n"),
                     **_model("cached", "adapter: causal_lm\nmodality: text\nhub_id: someone/tiny\n")})
    err = _error(conf, "model=hub")
    assert "someone/not-cached is not in the local Hugging Face cache" in err and "perfsuite never downloads" in err
    repo = tmp_path / "hf" / "hub" / "models--someone--tiny"
    shutil.copytree(tiny_llama_snapshot, repo / "snapshots" / ("a" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    (model,) = {c.model for c in _plan(conf, "model=cached", "dataset=pydoc").cases}
    assert model.hub_id == "someone/tiny" and model.path == str((repo / "snapshots" / ("a" * 40)).resolve()) and model.chat_template


# -- random-init presets --------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["llama", "qwen2", "qwen3", "mistral", "phi3", "gemma"])
def test_random_init_presets_build_and_generate(family: str) -> None:
    import torch

    from perfsuite.models.base import build_model

    (case,) = build_plan(suite="smoke", overrides=[f"model={family}.tiny", "dataset=pydoc", "inference_runtime=pytorch", "infer.batch_sizes=[1]"]).cases
    assert case.model.adapter == "causal_lm" and case.model.generative and not case.model.chat_template
    model = build_model(case.model, precision="fp32", device="cpu", seed=0)
    inputs = model.prepare_input(["a prompt for a tiny decoder " * 4], seq_len=12)
    with torch.inference_mode():
        logits = model.forward(inputs).logits
        out = model.module.generate(**inputs, max_new_tokens=3, min_new_tokens=3, do_sample=False, pad_token_id=0)
    assert logits.shape[:2] == (1, 12) and out.shape == (1, 15)


# -- as a user runs it ------------------------------------------------------------------------------------


def _run(pytester: pytest.Pytester, conf: Path, tmp_path: Path, *args: str) -> pytest.RunResult:
    argv = [str(REPO / "benches"), "-p", "no:cacheprovider", "--perf-conf-dir", str(conf), "--perf-out-dir", str(tmp_path / "out")]
    return pytester.runpytest_subprocess(*argv, *as_overrides([*FAST_POLICY, "measure.generation.runs=3"]), *args)


@pytest.mark.parametrize(("args", "expect"), [
    (["model=enc"], "*has no causal-LM head (architectures: BertModel), so it cannot generate*"),
    (["model=q81"], "*quant type Q8_1, which transformers cannot de-quantize*re-quantize it*"),
    (["model=hub"], "*someone/not-cached is not in the local Hugging Face cache*perfsuite never downloads*"),
    (["model=llama.tiny", "dataset=chat_prompts"], "*llama.tiny has no chat template to render chat prompts with*"),
    (["model=llama.tiny", "infer.seq_len=2040"], "*seq_len 2040 + max_new_tokens 16 is longer than model llama.tiny accepts (2048 positions)*"),
], ids=["no-causal-head", "gguf-quant", "hub-not-cached", "no-chat-template", "prompt-over-context"])
def test_bad_decoder_inputs_stop_the_run_before_any_case(
    pytester, conf_dir, tmp_path: Path, bert_snapshot: Path, monkeypatch, args: list[str], expect: str
) -> None:
    gguf = write_gguf(tmp_path / "q81.gguf", tensor_types=("Q8_1",))
    conf = conf_dir({**_model("enc", f"adapter: causal_lm\nmodality: text\npath: {bert_snapshot}\n"),
                     **_model("q81", f"adapter: causal_lm\nmodality: text\npath: {gguf}\n"),
                     **_model("hub", "adapter: causal_lm\nmodality: text\nhub_id: someone/not-cached\n")})
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    result = _run(pytester, conf, tmp_path, *as_overrides(args))
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stderr.str()
    result.stderr.fnmatch_lines([f"ERROR: perfsuite config error*{expect}"])
    assert "Traceback" not in result.stderr.str() and not (tmp_path / "out" / "runs").exists()


def test_a_generation_run_with_xdist_switched_off(pytester, conf_dir, tmp_path: Path) -> None:
    """Regression: perfsuite's optional xdist hook once made every run with -p no:xdist fail ('unknown hook')."""
    result = _run(pytester, conf_dir({}), tmp_path, "-p", "no:xdist", "-k", "generation",
                  *as_overrides(["model=llama.tiny", "dataset=pydoc", "infer.batch_sizes=[1]", "+infer.seq_lens=[16,32]", "infer.max_new_tokens=4"]))
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*llama.tiny-pydoc-eager-bs1-s16-cpu *passed*", "*llama.tiny-pydoc-eager-bs1-s32-cpu *passed*"])


# -- perfsuite new model --from <causal-LM snapshot | file.gguf> --------------------------------------------


def _project(root: Path) -> Path:
    """A `perfsuite init` project (without its smoke run: test_scaffold_e2e runs that)."""
    root.mkdir(parents=True, exist_ok=True)
    init = _perfsuite(root, "init", ".", "--no-check")
    assert init.returncode == 0, init.stdout + init.stderr
    return root


def _new_model_then_generate(project: Path, name: str, source: Path, *, dataset: str) -> None:
    made = _perfsuite(project, "new", "model", name, "--from", str(source))
    assert made.returncode == 0, made.stdout + made.stderr
    assert "(and generated 2 tokens)" in made.stdout
    arch = (project / "conf" / "model" / name / "arch" / f"{name}.default.yaml").read_text()
    infer = (project / "conf" / "model" / name / "infer" / f"{name}.default.yaml").read_text()
    assert "adapter: causal_lm" in arch and "GENERATES" in arch and "max_new_tokens: 16" in infer
    assert (project / "benches" / "test_generation.py").is_file()
    command = _printed_command(made.stdout)
    assert f"model={name}" in command and f"dataset={dataset}" in command
    run = subprocess.run(
        [sys.executable, "-m", *command, "-k", "generation", "-p", "no:cacheprovider", "--benchmark-disable",
         "--perf-override", "infer.batch_sizes=[1]", "--perf-override", "infer.max_new_tokens=4"],
        cwd=project, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"test_generation[{name}-{dataset}-eager-bs1-cpu] PASSED" in run.stdout or "1 passed" in run.stdout, run.stdout[-3000:]


def test_new_model_from_a_causal_lm_snapshot_generates(tmp_path: Path, tiny_llama_snapshot: Path) -> None:  # noqa: F811
    _new_model_then_generate(_project(tmp_path / "p"), "mine", tiny_llama_snapshot, dataset="chat_prompts")


def test_new_model_from_a_gguf_file_generates(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    _new_model_then_generate(project, "smol", smollm2_gguf(), dataset="chat_prompts")
    assert "GGUF file" in (project / "conf" / "model" / "smol" / "arch" / "smol.default.yaml").read_text()


def _file(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(("make", "expect"), [
    (lambda d: write_gguf(d / "q81.gguf", tensor_types=("F32", "Q8_1")), "quant type Q8_1"),
    (lambda d: write_gguf(d / "bert.gguf", arch="bert"), "architecture 'bert' is not a decoder LM"),
    (lambda d: _file(d / "cut.gguf", b"GGUF\x03\x00"), "truncated"),
    (lambda d: _file(d / "weights.bin", b"\0"), "not a .gguf file"),
])
def test_new_model_from_a_bad_file_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str], make, expect: str) -> None:
    from perfsuite.cli import main

    source = make(tmp_path)
    assert main(["new", "model", "mine", "--from", str(source), "--project", str(tmp_path / "p")]) == 2
    assert expect in capsys.readouterr().err
    assert not (tmp_path / "p" / "conf").exists() and not (tmp_path / "p" / "benches").exists()


def test_new_model_keeps_a_projects_own_generation_bench(tmp_path: Path, tiny_llama_snapshot: Path, capsys) -> None:  # noqa: F811
    from perfsuite.cli import main

    benches = tmp_path / "benches"
    benches.mkdir()
    (benches / "test_decode.py").write_text("def test_decode(perf, model, batch):\n    perf.generate(model, batch)\n")
    assert main(["new", "model", "mine", "--from", str(tiny_llama_snapshot), "--project", str(tmp_path), "--no-validate"]) == 0
    assert not (benches / "test_generation.py").exists()
    assert (tmp_path / "conf" / "model" / "mine" / "arch" / "mine.default.yaml").is_file()
