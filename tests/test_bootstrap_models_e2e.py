"""End to end: a tiny GPT-2 in a Hugging Face cache layout, the real models/bootstrap.sh, then the benches.

The model is built in a subprocess (torch stays out of this test process) once per module.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "models" / "bootstrap.sh"
REPO_ID = "perfsuite-tests/tiny-gpt2"
REV = "0123456789abcdef0123456789abcdef01234567"
NAME = "tiny-gpt2"

BUILD = r"""
import sys
import torch
from pydoc_data.topics import topics
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2Model, PreTrainedTokenizerFast

out = sys.argv[1]
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=["<|endoftext|>"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
tok.train_from_iterator([topics[k] for k in sorted(topics)][:20], trainer)
special = "<|endoftext|>"
PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=special, bos_token=special, unk_token=special,
                        pad_token=special).save_pretrained(out)
torch.manual_seed(0)
config = GPT2Config(n_layer=2, n_head=2, n_embd=64, n_positions=128, vocab_size=1000, bos_token_id=0, eos_token_id=0)
GPT2Model(config).save_pretrained(out)
"""

CONFIG = f"""\
roots:
  env: [HF_SNAPSHOTS_ROOT, MODELS_ROOT]
  defaults: []
models:
  - name: {NAME}
    repo_id: {REPO_ID}
    tokenizer_files: [tokenizer_config.json, [tokenizer.json, vocab.json]]
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hub cache root holding models--perfsuite-tests--tiny-gpt2 with refs/main and one snapshot."""
    root = tmp_path_factory.mktemp("hub")
    entry = root / ("models--" + REPO_ID.replace("/", "--"))
    snapshot = entry / "snapshots" / REV
    snapshot.mkdir(parents=True)
    (entry / "refs").mkdir()
    (entry / "refs" / "main").write_text(REV)
    subprocess.run([sys.executable, "-c", BUILD, str(snapshot)], check=True, capture_output=True, text=True)
    return root


def run_script(script: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(script), *args], env=env, capture_output=True, text=True, check=False)


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_SNAPSHOTS_ROOT", "MODELS_ROOT", "HF_HUB_CACHE")}
    env.update({"HOME": str(tmp_path / "home"), "PERFSUITE_PYTHON": sys.executable, **extra})
    return env


def test_models_bootstrap_script_links_the_tiny_gpt2(hub: Path, tmp_path: Path) -> None:
    config = tmp_path / "bootstrap.yaml"
    config.write_text(CONFIG)
    models = tmp_path / "models"
    env = clean_env(tmp_path, HF_SNAPSHOTS_ROOT=str(hub))
    args = ("--config", str(config), "--models-dir", str(models))

    plan_only = run_script(SCRIPT, *args, env=env)
    assert plan_only.returncode == 1, plan_only.stdout + plan_only.stderr
    assert "Re-run with --yes" in plan_only.stdout
    assert not os.path.lexists(models / NAME)

    done = run_script(SCRIPT, "--yes", *args, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    link = models / NAME
    assert link.is_symlink()
    assert link.resolve() == (hub / ("models--" + REPO_ID.replace("/", "--")) / "snapshots" / REV).resolve()
    assert (link / "config.json").is_file() and (link / "model.safetensors").is_file()

    again = run_script(SCRIPT, "--yes", *args, env=env)
    assert again.returncode == 0 and "all in place" in again.stdout


def test_root_bootstrap_script_runs_datasets_then_models(hub: Path, tmp_path: Path) -> None:
    config = tmp_path / "bootstrap.yaml"
    config.write_text(CONFIG)
    datasets = tmp_path / "datasets"
    (datasets / "embedded").mkdir(parents=True)
    (datasets / "embedded" / "README.md").write_text("embedded")
    env = clean_env(tmp_path, MODELS_ROOT=str(hub))
    result = run_script(
        REPO / "bootstrap.sh", "--yes",
        "--models-config", str(config), "--models-dir", str(tmp_path / "models"), "--datasets-dir", str(datasets),
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.index("dataset embedded") < out.index(f"model {NAME}")
    assert (tmp_path / "models" / NAME).is_symlink()


def test_script_fails_clearly_without_perfsuite(tmp_path: Path) -> None:
    env = clean_env(tmp_path, PERFSUITE_PYTHON=str(tmp_path / "no-python"))
    result = run_script(SCRIPT, "--yes", env=env)
    assert result.returncode == 3
    assert "perfsuite is not installed" in result.stderr and "tools/run.sh setup" in result.stderr


@pytest.mark.skipif(not (REPO / "benches" / "test_latency.py").exists(), reason="benches/ not in this checkout yet")
def test_benches_run_the_bootstrapped_model(hub: Path, tmp_path: Path, pytester: pytest.Pytester) -> None:
    config = tmp_path / "bootstrap.yaml"
    config.write_text(CONFIG)
    models = tmp_path / "models"
    env = clean_env(tmp_path, HF_SNAPSHOTS_ROOT=str(hub))
    assert run_script(SCRIPT, "--yes", "--config", str(config), "--models-dir", str(models), env=env).returncode == 0
    result = pytester.runpytest_subprocess(
        str(REPO / "benches"),
        "--perf-override", f"model={NAME}",
        "--perf-models-dir", str(models),
        "--perf-out-dir", str(tmp_path / "out"),
        "-p", "no:cacheprovider",
        "-v",
        timeout=900,
    )
    assert result.ret == 0, "\n".join(result.outlines[-40:])
    result.stdout.fnmatch_lines([f"*test_latency[[]{NAME}-*PASSED*"])
