"""The copy of a composed config that is written into run artifacts, without environment secrets.

A user's conf YAML may read a token or a path from the environment (`${oc.env:HF_TOKEN}`).
Validation needs the resolved value; run_config.yaml must not record it. The stored copy keeps
every value that came (directly or through another interpolation) from an environment variable
as the interpolation text the user wrote, and everything else resolved.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

_ENV_REF = re.compile(r"\$\{\s*oc\.env\s*:\s*([^,}\s]+)")


def _strings(node: Any) -> list[str]:
    if isinstance(node, Mapping):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def env_values(unresolved: Any, environ: Mapping[str, str] | None = None) -> set[str]:
    """The values of the environment variables that `unresolved` refers to with oc.env."""
    environ = os.environ if environ is None else environ
    names = {name for text in _strings(unresolved) for name in _ENV_REF.findall(text)}
    return {environ[n] for n in names if environ.get(n)}


def _mask(resolved: Any, unresolved: Any, secrets: set[str]) -> Any:
    if isinstance(unresolved, str) and "${" in unresolved:
        if "oc.env" in unresolved or any(secret in str(resolved) for secret in secrets):
            return unresolved  # the interpolation as written, never its value
        return resolved
    if isinstance(resolved, Mapping) and isinstance(unresolved, Mapping):
        return {k: _mask(v, unresolved.get(k), secrets) for k, v in resolved.items()}
    if isinstance(resolved, list) and isinstance(unresolved, list) and len(resolved) == len(unresolved):
        return [_mask(r, u, secrets) for r, u in zip(resolved, unresolved)]
    return resolved


def stored_copy(resolved: dict[str, Any], unresolved: dict[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`resolved`, except values that came from the environment, which stay as `${oc.env:...}` text."""
    secrets = env_values(unresolved, environ)
    masked = _mask(resolved, unresolved, secrets)
    assert isinstance(masked, dict)
    return masked
