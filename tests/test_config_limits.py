"""Bad input the config must stop at configure time: sizes beyond the limits, positions, CPUs,
deleted sections, keyless overrides; secrets from the environment; one typed set of defaults."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from perfsuite.config import build_plan
from perfsuite.config import run_settings
from perfsuite.config.redact import stored_copy
from perfsuite.config.schema import (
    MAX_BATCH_SIZE,
    DirectOutputSpec,
    OutputSpec,
    TorchOutputSpec,
    TorchProfilerSpec,
)
from perfsuite.errors import PerfConfigError
from perfsuite.profile import ProfilerSettings


def error_of(*overrides: str, conf=None, suite: str | None = None) -> PerfConfigError:
    with pytest.raises(PerfConfigError) as info:
        build_plan(suite=suite, overrides=list(overrides), conf_dirs=[conf] if conf else [])
    return info.value


class TestSizeLimits:
    @pytest.mark.parametrize(
        ("overrides", "key", "limit"),
        [
            (["model=gpt2.tiny", "infer.batch_sizes=[1,1000000000]"], "infer.batch_sizes[1]", "4096"),
            (["model=gpt2.tiny", f"infer.batch_sizes=[{MAX_BATCH_SIZE + 1}]"], "infer.batch_sizes[0]", "4096"),
            (["model=gpt2.tiny", "infer.seq_len=100000000"], "infer.seq_len", "32768"),
            (["model=gpt2.tiny", "infer.num_batches=1000000"], "infer.num_batches", "1024"),
            (["model=gpt2.tiny", "infer.max_new_tokens=1000000"], "infer.max_new_tokens", "4096"),
            (["model=gpt2.tiny", "dataset.max_samples=1000000000"], "dataset.max_samples", "1000000"),
            (["model=gpt2.tiny", "measure.generation.runs=1000000000"], "measure.generation.runs", "10000"),
            (["model=resnet50.tiny", "dataset=synthetic", "model.preprocess.image_size=100000"], "model.preprocess.image_size", "4096"),
            (["model=bert.tiny", "profiling.torch.active=100000"], "profiling.torch.active", "1000"),
            (["model=bert.tiny", "measure.cuda_block=100000000000"], "measure.cuda_block", "10000"),
        ],
    )
    def test_values_beyond_a_limit_are_refused_naming_it(self, overrides, key, limit):
        err = error_of(*overrides)
        assert err.key == key and f"limit of {limit}" in str(err) and "--perf-override" in str(err)
        assert "Limits" in str(err)  # points at docs/configuration.md

    def test_suite_batch_sizes_have_the_same_limit(self, conf_dir):
        conf = conf_dir({"suite/huge.yaml": "name: huge\nmodels: [bert.tiny]\ndatasets: [pydoc]\nbatch_sizes: [1, 99999999]\n"})
        err = error_of(conf=conf, suite="huge")
        assert err.key == "suite.batch_sizes[1]" and "suite/huge.yaml" in str(err) and "4096" in str(err)

    def test_too_many_batch_sizes(self):
        sizes = ",".join(str(i) for i in range(1, 100))
        err = error_of("model=bert.tiny", f"infer.batch_sizes=[{sizes}]")
        assert err.key == "infer.batch_sizes" and "limit is 64" in str(err)

    def test_tokens_per_batch(self, conf_dir):
        conf = conf_dir({"model/gpt2/arch/gpt2.long.yaml": "adapter: gpt2\nmodality: text\nconfig: {n_layer: 1, n_head: 2, n_embd: 32, n_positions: 8192, vocab_size: 100, eos_token_id: 99, bos_token_id: 99}\n"})
        err = error_of("model=gpt2.long", "infer.seq_len=2048", "infer.batch_sizes=[4096]", conf=conf)
        assert err.key == "infer.batch_sizes" and "tokens per batch" in str(err) and "1..2048 at this seq_len" in str(err)

    def test_pixels_per_batch(self):
        err = error_of("model=resnet50.tiny", "dataset=synthetic", "model.preprocess.image_size=2048",
                       "model.preprocess.resize=2048", "infer.batch_sizes=[4096]")
        assert err.key == "infer.batch_sizes" and "pixels per batch" in str(err)

    def test_the_largest_allowed_values_pass(self):
        p = build_plan(overrides=["model=bert.tiny", f"infer.batch_sizes=[{MAX_BATCH_SIZE}]", "infer.seq_len=16"])
        assert [c.batch_size for c in p.cases] == [MAX_BATCH_SIZE]


class TestGenerationPositions:
    def test_seq_len_plus_new_tokens_beyond_positions(self):
        err = error_of("model=gpt2.tiny", "infer.seq_len=128", "infer.max_new_tokens=200")
        msg = str(err)
        assert err.key == "infer.max_new_tokens" and "256 positions" in msg and "Allowed: 0..128" in msg
        assert "--perf-override infer.max_new_tokens=200" in msg

    def test_a_prompt_that_fills_every_position_leaves_no_room(self):
        msg = str(error_of("model=gpt2.tiny", "infer.seq_len=256"))
        assert "infer.max_new_tokens" in msg and "seq_len already fills every position" in msg

    def test_no_generation_means_no_check(self):
        p = build_plan(overrides=["model=gpt2.tiny", "infer.seq_len=256", "infer.max_new_tokens=0"])
        assert p.cases[0].config.infer.seq_len == 256

    def test_encoders_do_not_generate(self):
        p = build_plan(overrides=["model=bert.tiny", "infer.seq_len=32", "infer.max_new_tokens=4000"])
        assert not p.cases[0].model.generative


class TestOverridesAndSections:
    @pytest.mark.parametrize("text", ["=5", "=", "+=1", "~"])
    def test_an_override_without_a_key(self, text):
        err = error_of(text)
        assert err.key == "--perf-override" and err.value == text and "needs a key" in str(err)

    @pytest.mark.parametrize("text", ["model=", "model=[]", "dataset=[]", "inference_runtime=", "hardware=", "suite="])
    def test_an_empty_selection(self, text):
        err = error_of(text)
        assert err.key == "--perf-override" and err.value == text and "non-empty name" in str(err)

    def test_null_for_a_required_value(self):
        err = error_of("model=bert.tiny", "infer.batch_sizes=null")
        assert err.key == "infer.batch_sizes" and "set to null" in str(err) and "--perf-override infer.batch_sizes=null" in str(err)

    def test_a_section_replaced_by_a_number_names_the_override(self):
        err = error_of("model=bert.tiny", "measure=5")
        assert err.key == "measure" and "not an integer" in str(err) and "--perf-override measure=5" in str(err)

    def test_a_number_for_a_config_group(self):
        assert "cannot compose the config" in str(error_of("pipeline=5"))

    @pytest.mark.parametrize("section", ["measure", "measure.stop", "measure.generation", "profiling.torch", "output.direct", "pipeline", "hardware", "infer"])
    def test_deleting_a_required_section_is_an_error(self, section):
        err = error_of("model=bert.tiny", f"~{section}")
        msg = str(err)
        assert err.key == section and f"required section '{section}' is missing" in msg
        assert f"--perf-override ~{section}" in msg

    def test_deleting_what_is_no_key_names_it(self):
        err = error_of("model=bert.tiny", "~profiling")
        assert err.key == "profiling" and "--perf-override ~profiling" in str(err) and "cannot delete" in str(err)

    def test_deleting_a_value_with_a_default_keeps_the_default(self):
        p = build_plan(overrides=["model=bert.tiny", "~profiling.torch.with_stack"])
        assert p.cases[0].config.profiling.torch.with_stack is TorchProfilerSpec().with_stack


class TestCpus:
    @pytest.fixture(autouse=True)
    def two_cpus(self, monkeypatch):
        monkeypatch.setattr(run_settings, "available_cpus", lambda: (0, 1))

    @pytest.mark.parametrize("override", ["hardware.threads=1000", "hardware.interop_threads=3"])
    def test_more_threads_than_cpus(self, override):
        err = error_of("model=bert.tiny", override)
        msg = str(err)
        assert err.key == override.split("=")[0] and "Allowed: 1..2" in msg and "2 CPU(s): 0-1" in msg

    def test_a_core_outside_the_affinity_mask(self):
        err = error_of("model=bert.tiny", "hardware.cores=[0,7]")
        assert err.key == "hardware.cores[1]" and err.value == 7 and "Allowed: 0-1" in str(err)

    def test_within_the_mask_is_fine(self):
        p = build_plan(overrides=["model=bert.tiny", "hardware.threads=2", "hardware.cores=[1]"])
        assert p.run.hardware.threads == 2 and p.run.hardware.cores == (1,)


def test_cpu_ranges():
    assert run_settings._ranges((0, 1, 2, 5, 7, 8)) == "0-2,5,7-8"


class TestSecrets:
    def test_env_values_are_used_but_never_stored(self, conf_dir, monkeypatch, tmp_path):
        secret_root = tmp_path / "s3cr3t-0xDEADBEEF"
        secret_root.mkdir()
        (secret_root / "a.txt").write_text("hello world\n")
        monkeypatch.setenv("PERF_TEST_SECRET_ROOT", str(secret_root))
        conf = conf_dir({"dataset/private.yaml": (
            "name: private\nadapter: text\nmodality: text\n"
            "root: ${oc.env:PERF_TEST_SECRET_ROOT}\nfiles: ['*.txt']\ntext_field: ${dataset.name}\nmax_samples: 4\n"
        )})
        p = build_plan(overrides=["model=bert.tiny", "dataset=private"], conf_dirs=[conf])
        case = p.cases[0]
        assert case.dataset.root == str(secret_root)  # validation saw the real value
        stored = yaml.safe_dump(p.raw_configs) + yaml.safe_dump(case.config.raw)
        assert "s3cr3t" not in stored and "${oc.env:PERF_TEST_SECRET_ROOT}" in stored
        assert list(p.raw_configs.values())[0]["dataset"]["text_field"] == "private"  # other interpolations resolve

    def test_values_that_come_from_env_indirectly_stay_unresolved(self):
        unresolved = {"a": "${oc.env:TOKEN}", "b": {"c": "${a}", "d": "x-${a}-y"}, "e": "${f}", "f": 3, "g": ["${a}", 1]}
        resolved = {"a": "tok123", "b": {"c": "tok123", "d": "x-tok123-y"}, "e": 3, "f": 3, "g": ["tok123", 1]}
        stored = stored_copy(resolved, unresolved, environ={"TOKEN": "tok123"})
        assert stored == {"a": "${oc.env:TOKEN}", "b": {"c": "${a}", "d": "x-${a}-y"}, "e": 3, "f": 3, "g": ["${a}", 1]}


def bert_output() -> OutputSpec:
    """The schema's output defaults with conf/model/bert/output/{direct,torch}/default.yaml over them."""
    return dataclasses.replace(
        OutputSpec(),
        direct=dataclasses.replace(DirectOutputSpec(), record_output_shapes=True),
        torch=dataclasses.replace(TorchOutputSpec(), op_table_rows=30),
    )


class TestTypedSections:
    def test_one_set_of_defaults(self, conf_dir):
        conf = conf_dir({
            "profiling/torch/bare.yaml": "enabled: true\n",
            "output/direct/bare.yaml": "{}\n",
            "output/torch/bare.yaml": "{}\n",
        })
        p = build_plan(overrides=["model=bert.tiny", "profiling/torch=bare", "output/direct=bare", "output/torch=bare"], conf_dirs=[conf])
        cfg = p.cases[0].config
        # bert's own output overlay (conf/model/bert/output/*) still applies over the bare shared sections
        assert cfg.profiling.torch == TorchProfilerSpec() and cfg.output == bert_output()
        assert ProfilerSettings.from_config(cfg) == ProfilerSettings(output=bert_output().torch)

    def test_the_default_presets_agree_with_the_schema(self):
        cfg = build_plan(overrides=["model=bert.tiny"]).cases[0].config
        assert cfg.profiling.torch == TorchProfilerSpec()
        assert cfg.output == bert_output()

    def test_presets_and_model_overlays_reach_the_typed_fields(self):
        p = build_plan(overrides=["model=gpt2.tiny", "profiling/torch=torch-profiler.min", "output.direct.save_raw_samples=false"])
        cfg = p.cases[0].config
        assert cfg.profiling.torch.active == 1 and cfg.profiling.torch.with_flops is False
        assert cfg.output.direct.save_raw_samples is False
        assert cfg.output.torch.sort_by == "cpu_time_total"  # conf/model/gpt2/output/torch overlay
        settings = ProfilerSettings.from_config(cfg)
        assert settings.steps == cfg.profiling.torch.wait + cfg.profiling.torch.warmup + 1

    def test_specs_are_frozen(self):
        with pytest.raises(dataclasses.FrozenInstanceError):
            TorchProfilerSpec().wait = 3  # type: ignore[misc]


class TestRunSpec:
    def test_run_wide_settings_live_on_the_plan(self):
        p = build_plan(suite="smoke", overrides=["seed=3"])
        assert p.run.seed == 3 and p.run.hardware == p.cases[0].config.hardware
        assert p.run.stages == ("direct_inference",) and p.run.measure == p.cases[-1].config.measure

    def test_a_preset_that_changes_a_run_wide_setting_is_refused(self, conf_dir):
        conf = conf_dir({
            "dataset/odd.yaml": "# @package _global_\ndataset: {name: odd, adapter: synthetic, modality: any}\nhardware: {deterministic: true}\n",
            "suite/mixed.yaml": "name: mixed\nmodels: [bert.tiny]\ndatasets: [pydoc, odd]\n",
        })
        err = error_of(conf=conf, suite="mixed")
        msg = str(err)
        assert err.key == "hardware" and "bert.tiny/pydoc and bert.tiny/odd" in msg and "run-wide" in msg
        assert "suite/mixed.yaml" in msg and "'deterministic': True" in msg
