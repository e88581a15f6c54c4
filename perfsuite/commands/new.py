"""`perfsuite new model|dataset NAME --from PATH`: add your own model or dataset to a project's conf tree.

    perfsuite new model NAME --from /path/to/hf/snapshot     conf/model/NAME/{arch,infer,output}/
    perfsuite new model NAME --from /path/to/model.gguf      the same, a decoder LM that generates (+ benches/test_generation.py)
    perfsuite new model NAME --family gpt2[.tiny]            the same, copied from a built-in preset
    perfsuite new dataset NAME --from /path/to/folder        datasets/NAME/ + conf/dataset/NAME.yaml

Each validates what it writes (composed like a run, the model built and called once, the data's
samples loaded) before touching the project, never overwrites a file without --force, shows its
plan with --dry-run, and ends by printing the command that benchmarks the new model or dataset.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from perfsuite.config.sources import ConfSources
from perfsuite.scaffold.files import build_plan, carry_out, check_name
from perfsuite.scaffold.project import ProjectLayout, shown_command


def _layout(args: argparse.Namespace) -> ProjectLayout:
    root = Path(args.project).absolute()
    conf = root / args.conf_dir
    suites = sorted(p.stem for p in (conf / "suite").glob("*.yaml")) if (conf / "suite").is_dir() else []
    # The project's suite when it has exactly one (perfsuite init writes one); else the built-in default.
    return ProjectLayout(root=root, conf=args.conf_dir, benches=args.benches_dir, suite=suites[0] if len(suites) == 1 else "default")


def _print_command(layout: ProjectLayout, models: list[str], datasets: list[str]) -> None:
    def pick(names: list[str]) -> str:
        return names[0] if len(names) == 1 else f"[{','.join(names)}]"

    command = layout.run_command("--perf-override", f"model={pick(models)}", "--perf-override", f"dataset={pick(datasets)}")
    print(f"Benchmark it (from {layout.root}):")
    print(f"  {shown_command(command)}")


def run_model(args: argparse.Namespace) -> int:
    from perfsuite.scaffold.model import (
        builtin_families,
        family_files,
        generation_bench,
        paired_datasets,
        read_snapshot,
        snapshot_files,
        validate_model,
    )

    layout = _layout(args)
    builtin = ConfSources.create()
    check_name(args.name, what="model", reserved=[*builtin.model_families()])
    conf = layout.root / layout.conf
    generates = chat = False
    if args.source:
        facts = read_snapshot(Path(args.source).expanduser().absolute(), families=builtin_families(builtin))
        print(f"{'GGUF file' if facts.gguf_quant is not None else 'snapshot'} {facts.path}: {facts.describe()}")
        files = snapshot_files(args.name, facts, conf=conf, project_root=layout.root)
        generates, chat = facts.generates, facts.chat_template
    else:
        files = family_files(args.name, args.family, conf=conf, sources=builtin)
    if generates:  # a decoder: the project needs a benchmark that generates for its case to generate
        bench = generation_bench(layout.root / layout.benches, layout_args={"benches": layout.benches, "conf": layout.conf, "suite": layout.suite})
        files = files + ([bench] if bench is not None else [])
    plan = build_plan(files, subject=f"model {args.name}", force=args.force)
    conf_files = [f for f in files if f.path.is_relative_to(conf)]  # the bench file is no conf file to stage
    if plan.fatal:  # conflicts first: no point building a model that will not be written
        carry_out(plan, title=f"perfsuite new model {args.name}", dry_run=args.dry_run, echo=print)
        return 1
    if not args.no_validate:
        print(f"validating model {args.name}: composing it, building it on CPU and calling it once{' (and generating)' if generates else ''} ...")
        checked = validate_model(args.name, conf_files, conf=conf, project_root=layout.root)
        generated = f" (and generated {checked.generated} tokens)" if checked.generated else ""
        print(f"  ok: {checked.modality} model, {checked.params:,} parameters, built and called{generated} in {checked.seconds:.1f} s")
        modality = checked.modality
    else:
        modality = validate_model(args.name, conf_files, conf=conf, project_root=layout.root, build=False).modality
    if not carry_out(plan, title=f"perfsuite new model {args.name}", dry_run=args.dry_run, echo=print):
        return 1
    # A decoder with a chat template is measured on chat prompts rendered with it; one without, on plain text.
    _print_command(layout, [args.name], ["chat_prompts"] if generates and chat else paired_datasets(conf, modality))
    if generates:
        print("  (a decoder LM: its cases measure the prefill and, in test_generation, the generation of infer.max_new_tokens tokens; add -k generation for those alone)")
    return 0


def run_dataset(args: argparse.Namespace) -> int:
    from perfsuite.bootstrap.datasets import load_dataset_bootstrap, plan_dataset
    from perfsuite.bootstrap.plan import execute, render
    from perfsuite.scaffold.dataset import dataset_files, paired_models, scan, validate_dataset

    layout = _layout(args)
    check_name(args.name, what="dataset", reserved=ConfSources.create().options("dataset"))
    conf = layout.root / layout.conf
    facts = scan(Path(args.source).expanduser().absolute(), kind=args.kind, text_field=args.text_field)
    print(f"data {facts.root}: {' '.join(facts.summary_lines)}")
    files = dataset_files(args.name, facts, conf=conf, project_root=layout.root)
    plan = build_plan(files, subject=f"dataset {args.name}", force=args.force)
    if not plan.fatal:
        samples = validate_dataset(args.name, facts, files, conf=conf, project_root=layout.root)
        capped = " (a run reads at most max_samples of them; see conf/dataset/NAME.yaml)" if samples < facts.samples else ""
        print(f"validated dataset {args.name}: {samples} samples load as a run would read them{capped}")
    if not carry_out(plan, title=f"perfsuite new dataset {args.name}", dry_run=args.dry_run, echo=print):
        return 1
    if args.dry_run:
        return 0
    cfg = load_dataset_bootstrap(layout.root / "datasets" / args.name)
    assert cfg is not None  # just written
    link = plan_dataset(cfg, os.environ)
    render(link, print)
    if link.fatal or execute(link, print).problems:
        print(f"the files are written, but datasets/{args.name}/source-data is not linked; fix the ERROR above and run datasets/{args.name}/bootstrap.sh --yes")
        return 1
    _print_command(layout, paired_models(conf, facts.kind), [args.name])
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", default=".", metavar="DIR", help="the project root (where `perfsuite init` ran). Default: .")
    p.add_argument("--conf-dir", default="conf", metavar="DIR", help="its config tree, relative to the project. Default: conf")
    p.add_argument("--benches-dir", default="benches", metavar="DIR", help="its benchmarks folder, for the printed command. Default: benches")
    p.add_argument("--force", action="store_true", help="replace files that differ (the old one is kept as <name>.bak). Default: off")
    p.add_argument("--dry-run", action="store_true", help="show the plan, write nothing. Default: off")


def register(sub: Any) -> None:
    p = sub.add_parser("new", help="add a model (from a snapshot or a built-in family) or a dataset (from a folder) to your project")
    what = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    model = what.add_parser("model", help="write conf/model/NAME/ from a Hugging Face snapshot or a built-in family preset, and check it builds")
    model.add_argument("name", metavar="NAME", help="the model id to use in suites and model=NAME (letters, digits, '_', '-')")
    source = model.add_mutually_exclusive_group(required=True)
    source.add_argument("--from", dest="source", metavar="PATH", help="a local snapshot folder (config.json + weights), or a .gguf file of a decoder LM")
    source.add_argument("--family", metavar="F", help="a built-in preset: gpt2, bert, distilbert, resnet50, minilm, llama, qwen2, qwen3, mistral, phi3, gemma, smollm2, "
                        "or FAMILY.PRESET (gpt2.tiny, llama.tiny)")
    model.add_argument("--no-validate", action="store_true", help="compose it but do not build and call the model. Default: build and call it once")
    _common(model)
    model.set_defaults(func=run_model)
    dataset = what.add_parser("dataset", help="write datasets/NAME/ and conf/dataset/NAME.yaml from a folder of text or image files")
    dataset.add_argument("name", metavar="NAME", help="the dataset name (letters, digits, '_', '-')")
    dataset.add_argument("--from", dest="source", required=True, metavar="PATH", help="the folder holding the data (.txt/.jsonl or .png/.jpg/.jpeg/.npz)")
    dataset.add_argument("--kind", choices=("text", "image"), default=None, help="which files to use when the folder holds both. Default: what it holds")
    dataset.add_argument("--text-field", default="text", metavar="KEY", help=".jsonl: the field that holds the text. Default: text")
    _common(dataset)
    dataset.set_defaults(func=run_dataset)

