#!/usr/bin/env bash
# Link local model snapshots as models/<name> (see models/README.md).
#
#   models/bootstrap.sh            show the plan, change nothing
#   models/bootstrap.sh --dry-run  same, exit 0 unless a problem was found
#   models/bootstrap.sh --yes      create/refresh the links
#
# Snapshots are looked up under $HF_SNAPSHOTS_ROOT, $MODELS_ROOT, $HF_HUB_CACHE and
# ~/.cache/huggingface/hub (models/bootstrap.yaml). Extra flags go to `perfsuite bootstrap models`
# (--config FILE, --models-dir DIR). All the logic lives there; this script only finds Python.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="${PERFSUITE_REPO_ROOT:-$(cd "$here/.." && pwd)}"

# Python: see tools/perfsuite-cli.sh.
exec "$here/../tools/perfsuite-cli.sh" models/bootstrap.sh bootstrap models --repo-root "$repo" "$@"
