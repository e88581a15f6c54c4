#!/usr/bin/env bash
# Per-host setup of this checkout: dataset data first, then model snapshots.
#
#   ./bootstrap.sh            show what would be done, change nothing
#   ./bootstrap.sh --dry-run  same, exit 0 unless a problem was found
#   ./bootstrap.sh --yes      do it
#
# Equivalent to `perfsuite bootstrap all`; extra flags go there (--use-sample, --models-dir DIR,
# --models-config FILE, --datasets-dir DIR). See datasets/README.md and models/README.md.
set -euo pipefail

repo_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="${PERFSUITE_REPO_ROOT:-$repo_here}"

exec "$repo_here/tools/perfsuite-cli.sh" bootstrap.sh bootstrap all --repo-root "$repo" "$@"
