"""What perfsuite stores, prints or renders, without secrets: environment values and passwords in URLs.

`redact_urls` / `redacted`: a password in a URL's userinfo (`postgresql://user:PW@host/db`,
`http://user:PW@mlflow/`) becomes `***` wherever a URL is kept: run_config.yaml, report.html,
tracking.json, baselines, terminal lines and error messages.

The copy of a composed config that is written into run artifacts, without environment secrets.

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
# scheme://user:password@ (the password may hold ':' but no '@' or '/', as RFC 3986's userinfo ends at the last '@' before the host)
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)(?P<password>[^\s/@]+)@")
MASK = "***"


def redact_urls(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***`` (user, host and path kept)."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}@", text) if "://" in text else text


def redacted(node: Any) -> Any:
    """A copy of a JSON/YAML-like value (dicts, lists, strings) with `redact_urls` applied to every string."""
    if isinstance(node, str):
        return redact_urls(node)
    if isinstance(node, Mapping):
        return {k: redacted(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [redacted(v) for v in node]
    return node


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
