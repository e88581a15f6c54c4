#!/usr/bin/env bash
# Bootstrap this dataset on this host: extract its zip(s) once under the data root and link
# ./source-data to the data (settings in ./bootstrap.yaml, details in ./README.md).
#
#   ./bootstrap.sh                 show the plan, change nothing
#   ./bootstrap.sh --dry-run       same, exit 0 unless a problem was found
#   ./bootstrap.sh --yes           do it
#   ./bootstrap.sh --yes --use-sample   seed a missing data root with the shipped sample first
#
# All the logic is in `perfsuite bootstrap datasets NAME`; this script only finds Python.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
name="$(basename "$here")"
repo="${PERFSUITE_REPO_ROOT:-$(cd "$here/../.." && pwd)}"

exec "$here/../../tools/perfsuite-cli.sh" "datasets/$name/bootstrap.sh" bootstrap datasets "$name" --repo-root "$repo" "$@"
