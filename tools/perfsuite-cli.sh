#!/usr/bin/env bash
# Shared by the bootstrap scripts: run `python -m perfsuite.cli ARGS` with this checkout's Python.
#   tools/perfsuite-cli.sh CALLER ARGS...     (CALLER names the script, for messages)
# Python: $PERFSUITE_PYTHON, else <repo>/.venv/bin/python, else python3 on PATH.
set -euo pipefail
caller=$1
shift
checkout="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="${PERFSUITE_REPO_ROOT:-$checkout}"

if [[ -n "${PERFSUITE_PYTHON:-}" ]]; then
    py="$PERFSUITE_PYTHON"
elif [[ -x "$repo/.venv/bin/python" ]]; then
    py="$repo/.venv/bin/python"
elif [[ -x "$checkout/.venv/bin/python" ]]; then
    py="$checkout/.venv/bin/python"
else
    py="$(command -v python3 || true)"
fi
export PYTHONPATH="$checkout${PYTHONPATH:+:$PYTHONPATH}"
if [[ -z "$py" ]] || ! "$py" -c 'import perfsuite.cli' >/dev/null 2>&1; then
    echo "$caller: perfsuite is not installed for ${py:-any python}." >&2
    echo "  Create the environment first: bash $checkout/tools/run.sh setup" >&2
    echo "  (or set PERFSUITE_PYTHON to a python that can import perfsuite)." >&2
    exit 3
fi
exec "$py" -m perfsuite.cli "$@"
