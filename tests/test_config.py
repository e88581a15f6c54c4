"""Composition, validation and every config error a user can cause."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perfsuite.config import build_plan
from perfsuite.config.compose import parse_overrides
from perfsuite.errors import PerfConfigError

TINY_SUITE = """
name: tiny
models: [gpt2.tiny, resnet50.tiny]
datasets: [pydoc, sample_images]
batch_sizes: [1, 2]
"""


def plan(conf: Path | None = None, **kw):
    return build_plan(conf_dirs=[conf] if conf else [], **kw)


def error_of(**kw) -> str:
    with pytest.raises(PerfConfigError) as info:
        plan(**kw)
    return str(info.value)


class TestComposition:
    def test_smoke_suite_matrix(self):
        p = plan(suite="smoke")
        ids = [c.id for c in p.cases]
        assert "gpt2.tiny-pydoc-eager-bs4-cpu" in ids
        assert len(ids) == len(set(ids)) >= 6
        assert len({c.model.family for c in p.cases}) >= 3
        assert {c.dataset.name for c in p.cases} == {"pydoc", "sample_images", "chat_prompts"}
        # the suite pairs each model with its data: nothing to leave out, nothing composed in vain
        assert p.exclusions == () and len(p.cases) == 14
        # a dataset= choice lifts the pairing; incompatible pairs are then excluded by the expansion, never parametrized
        lifted = plan(suite="smoke", overrides=["dataset=[pydoc,sample_images]"])
        assert not any(c.model.modality == "image" and c.dataset.name == "pydoc" for c in lifted.cases)
        assert ("resnet50.tiny", "pydoc") in {(e.model, e.dataset) for e in lifted.exclusions}

    def test_cases_are_model_major(self):
        keys = [c.model.id for c in plan(suite="smoke").cases]
        firsts = list(dict.fromkeys(keys))
        assert keys == sorted(keys, key=firsts.index)

    def test_user_overrides_select_and_set(self):
        p = plan(suite="smoke", overrides=["infer.batch_sizes=[1,4]", "model/gpt2/arch@model=gpt2.tiny"])
        assert [c.id for c in p.cases] == ["gpt2.tiny-pydoc-eager-bs1-cpu", "gpt2.tiny-pydoc-eager-bs4-cpu"]

    def test_override_batch_sizes_beats_suite(self):
        p = plan(suite="smoke", overrides=["model=bert.tiny", "infer.batch_sizes=[3]"])
        assert [c.batch_size for c in p.cases] == [3]

    def test_suite_batch_sizes_beat_infer_preset(self, conf_dir):
        p = plan(conf_dir({"suite/tiny.yaml": TINY_SUITE}), suite="tiny")
        assert sorted({c.batch_size for c in p.cases}) == [1, 2]

    def test_infer_preset_override(self):
        p = plan(overrides=["model=gpt2.tiny", "model/gpt2/infer@infer=gpt2.large_batch"])
        assert [c.batch_size for c in p.cases] == [8, 16, 32]  # a preset chosen by hand beats the suite's sizes

    def test_dataset_override_narrows_axis(self):
        p = plan(suite="smoke", overrides=["dataset=synthetic"])
        assert {c.dataset.name for c in p.cases} == {"synthetic"}
        assert {c.model.modality for c in p.cases} == {"text", "image"}  # synthetic fits both

    def test_sampling_preset(self):
        p = plan(suite="smoke", overrides=["dataset/sampling=random", "model=bert.tiny"])
        assert {c.dataset.sampling.strategy for c in p.cases} == {"random"}

    def test_user_conf_dir_is_searched_first(self, conf_dir):
        conf = conf_dir(
            {
                "model/gpt2/arch/gpt2.tiny.yaml": """
                adapter: gpt2
                modality: text
                config: {n_layer: 1, n_head: 2, n_embd: 32, n_positions: 64, vocab_size: 100, eos_token_id: 99, bos_token_id: 99}
                """,
                "model/mine/arch/mine.default.yaml": """
                adapter: bert
                modality: text
                config: {num_hidden_layers: 1, hidden_size: 32, num_attention_heads: 2, intermediate_size: 64}
                """,
                "model/mine/infer/mine.default.yaml": "{batch_sizes: [2], seq_len: 16}",
            }
        )
        p = plan(conf, overrides=["model=gpt2.tiny", "infer.seq_len=32"])
        assert p.cases[0].model.config_dict()["n_layer"] == 1
        assert p.cases[0].model.max_positions == 64
        p = plan(conf, overrides=["model=mine"])
        assert {c.id for c in p.cases} == {"mine-pydoc-eager-bs1-cpu", "mine-pydoc-eager-bs4-cpu"}  # suite sizes
        assert p.cases[0].config.infer.seq_len == 16 and p.cases[0].model.adapter == "bert"

    def test_minilm_points_at_real_weights(self):
        p = plan(overrides=["model=minilm"])
        path = Path(p.cases[0].model.path)
        assert (path / "config.json").is_file() and p.cases[0].model.vocab_size == 30522

    def test_local_snapshot_by_name(self, tmp_path):
        snap = tmp_path / "models" / "mybert"
        snap.mkdir(parents=True)
        (snap / "config.json").write_text(json.dumps({"model_type": "bert", "vocab_size": 99, "max_position_embeddings": 64}))
        p = plan(overrides=["model=mybert", "infer.seq_len=32"], models_dir=tmp_path / "models")
        case = p.cases[0]
        assert case.model.adapter == "local" and case.model.id == "mybert"
        assert case.model.path == str(snap.resolve()) and case.model.modality == "text"


    @pytest.mark.parametrize("folder", ["modèles", "models <1>", "it's \"quoted\"", "a,b]c=d", "back\\slash"])
    def test_a_models_folder_with_any_characters_runs(self, tmp_path, folder):
        """perfsuite writes the snapshot's path into an override of its own: quoted, it survives accents, quotes, <, ',', ']'."""
        snap = tmp_path / folder / "mybert"
        snap.mkdir(parents=True)
        (snap / "config.json").write_text(json.dumps({"model_type": "bert", "vocab_size": 99, "max_position_embeddings": 64}))
        case = plan(overrides=["model=mybert", "infer.seq_len=32"], models_dir=tmp_path / folder).cases[0]
        assert case.model.path == str(snap.resolve())


class TestBadInput:
    def test_yaml_syntax_error_names_file_and_line(self, conf_dir):
        conf = conf_dir({"suite/broken.yaml": "name: broken\nmodels: [gpt2.tiny\n  datasets: x: y\n"})
        msg = error_of(conf=conf, suite="broken")
        assert "YAML syntax error" in msg and "suite/broken.yaml" in msg and "line" in msg

    @pytest.mark.parametrize(
        ("kw", "expect"),
        [
            ({"suite": "nope"}, "unknown suite"),
            ({"overrides": ["model=nope"]}, "unknown model"),
            ({"overrides": ["dataset=nope"]}, "unknown dataset"),
            ({"overrides": ["inference_runtime=nope"]}, "unknown inference runtime"),
        ],
    )
    def test_unknown_names_list_the_known_ones(self, kw, expect):
        msg = error_of(**kw)
        assert expect in msg and "Allowed:" in msg
        assert "'nope'" in msg

    def test_unknown_model_in_suite_names_suite_file(self, conf_dir):
        conf = conf_dir({"suite/s.yaml": "name: s\nmodels: [gpt3.huge]\ndatasets: [pydoc]\n"})
        msg = error_of(conf=conf, suite="s")
        assert "suite/s.yaml" in msg and "suite.models[0]" in msg and "gpt2.tiny" in msg

    def test_wrong_type_in_yaml_names_file_key_value(self, conf_dir):
        conf = conf_dir({"model/gpt2/infer/gpt2.default.yaml": "batch_sizes: [1]\nseq_len: long\n"})
        msg = error_of(conf=conf, overrides=["model=gpt2.tiny"])
        assert "gpt2.default.yaml" in msg and "infer.seq_len" in msg and "'long'" in msg and "integer" in msg

    @pytest.mark.parametrize("bad", ["[0]", "[-2]", "[1,0]"])
    def test_batch_size_must_be_positive(self, bad):
        msg = error_of(overrides=["model=gpt2.tiny", f"infer.batch_sizes={bad}"])
        assert "infer.batch_sizes[" in msg and ">= 1" in msg and "--perf-override" in msg

    def test_empty_batch_sizes(self):
        assert "must not be empty" in error_of(overrides=["model=gpt2.tiny", "infer.batch_sizes=[]"])

    def test_override_of_missing_key(self):
        msg = error_of(overrides=["model=gpt2.tiny", "infer.batchsize=4"])
        assert "infer.batchsize" in msg and "batch_sizes" in msg and "+infer.batchsize" in msg

    def test_unknown_key_in_yaml(self, conf_dir):
        conf = conf_dir({"model/gpt2/infer/gpt2.default.yaml": "batch_sizes: [1]\nseq_len: 8\nbatch_size: 4\n"})
        msg = error_of(conf=conf, overrides=["model=gpt2.tiny"])
        assert "unknown key" in msg and "infer.batch_size" in msg and "batch_sizes" in msg

    def test_local_path_missing(self, conf_dir, tmp_path):
        conf = conf_dir({"model/mine/arch/mine.default.yaml": f"adapter: local\nmodality: auto\npath: {tmp_path}/nowhere\n",
                         "model/mine/infer/mine.default.yaml": "batch_sizes: [1]\nseq_len: 8\n"})
        msg = error_of(conf=conf, overrides=["model=mine"])
        assert "does not exist" in msg and "nowhere" in msg and "mine.default.yaml" in msg

    def test_local_path_without_config_json(self, conf_dir, tmp_path):
        (tmp_path / "snap").mkdir()
        conf = conf_dir({"model/mine/arch/mine.default.yaml": f"adapter: local\nmodality: auto\npath: {tmp_path}/snap\n",
                         "model/mine/infer/mine.default.yaml": "batch_sizes: [1]\nseq_len: 8\n"})
        assert "has no config.json" in error_of(conf=conf, overrides=["model=mine"])

    def test_seq_len_beyond_max_positions(self):
        msg = error_of(overrides=["model=gpt2.tiny", "infer.seq_len=1000"])
        assert "256 positions" in msg and "infer.seq_len" in msg

    def test_gpt2_special_tokens_inside_vocab(self, conf_dir):
        conf = conf_dir({"model/gpt2/arch/gpt2.small_vocab.yaml": "adapter: gpt2\nmodality: text\nconfig: {vocab_size: 500, n_positions: 64}\n"})
        msg = error_of(conf=conf, overrides=["model=gpt2.small_vocab", "infer.seq_len=32"])
        assert "eos_token_id" in msg and "vocab_size 500" in msg and "gpt2.small_vocab.yaml" in msg

    def test_op_table_sort_key(self):
        msg = error_of(overrides=["model=bert.tiny", "output.torch.sort_by=speed"])
        assert "output.torch.sort_by" in msg and "self_cpu_time_total" in msg

    def test_fp16_on_cpu(self):
        assert "fp16" in error_of(overrides=["model=gpt2.tiny", "infer.precision=fp16"])

    def test_unknown_precision(self):
        msg = error_of(overrides=["model=gpt2.tiny", "infer.precision=int3"])
        assert "fp32" in msg and "'int3'" in msg

    def test_dataset_root_missing_names_bootstrap(self, conf_dir, tmp_path):
        conf = conf_dir({"dataset/mytext.yaml": f"name: mytext\nadapter: text\nmodality: text\nroot: {tmp_path}/absent\n"})
        msg = error_of(conf=conf, overrides=["model=gpt2.tiny", "dataset=mytext"])
        assert "does not exist" in msg and "dataset.root" in msg

    def test_unparseable_override(self):
        assert "cannot parse override" in error_of(overrides=["infer.batch_sizes=[1,4"])

    def test_conf_dir_missing(self, tmp_path):
        assert "does not exist" in error_of(conf=tmp_path / "nope")

    def test_suite_without_compatible_pairs(self, conf_dir):
        conf = conf_dir({"suite/odd.yaml": "name: odd\nmodels: [resnet50.tiny]\ndatasets: [pydoc]\n"})
        assert "expands to no benchmark case" in error_of(conf=conf, suite="odd")

    def test_bool_is_not_an_int(self):
        assert "integer" in error_of(overrides=["model=gpt2.tiny", "infer.seq_len=true"])

    @pytest.mark.parametrize(("override", "key"), [
        ("measure.stop.min_rounds=0", "measure.stop.min_rounds"),
        ("measure.stop.max_time_s=-1", "measure.stop.max_time_s"),
        ("measure.warmup.max_time_s=0", "measure.warmup.max_time_s"),
        ("measure.memory_period_s=0", "measure.memory_period_s"),
    ])
    def test_measure_targets_positive(self, override, key):
        msg = error_of(overrides=["model=gpt2.tiny", override])
        assert key in msg and "--perf-override" in msg

    def test_measure_policy_typo(self, conf_dir):
        conf = conf_dir({"suite/s.yaml": "name: s\nmodels: [bert.tiny]\ndatasets: [pydoc]\noverrides: [measure.stop.max_time=3]\n"})
        msg = error_of(conf=conf, suite="s")
        assert "measure.stop.max_time" in msg

    def test_suite_overrides_must_be_values(self, conf_dir):
        conf = conf_dir({"suite/s.yaml": "name: s\nmodels: [bert.tiny]\ndatasets: [pydoc]\noverrides: [dataset=synthetic]\n"})
        assert "may only set values" in error_of(conf=conf, suite="s")

    def test_unknown_device(self):
        assert "cuda:N" in error_of(device="tpu")

    def test_conflicting_suite_choices(self):
        assert "conflicts" in error_of(suite="smoke", overrides=["suite=default"])


def test_parse_overrides_classifies():
    u = parse_overrides(["model=gpt2.tiny", "dataset=pydoc", "infer.seq_len=8", "model/bert/infer@infer=bert.default"])
    assert u.models == ("gpt2.tiny",) and u.datasets == ("pydoc",)
    assert u.infer_options == {"bert": "bert.default"}
    assert u.passthrough == ("infer.seq_len=8",) and u.keys == {"infer.seq_len": "8"}
