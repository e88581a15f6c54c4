"""The scaffold templates (package data under perfsuite/scaffold/templates/), rendered with jinja2.

The delimiters are `[= x =]` and `[% ... %]`, not jinja's `{{ }}`: GitHub Actions workflows use
`${{ ... }}` themselves, and shell scripts use `{ }`; none of the rendered formats use `[=` or `[%`.
Undefined variables are errors, so a template never silently renders an empty value.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("perfsuite.scaffold", "templates"),
        variable_start_string="[=",
        variable_end_string="=]",
        block_start_string="[%",
        block_end_string="%]",
        comment_start_string="[#",
        comment_end_string="#]",
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # YAML, Python, shell and Dockerfiles: no HTML anywhere
    )


def render(template: str, /, **context: Any) -> str:
    """The template (e.g. "project/suite.yaml.j2") rendered with `context`."""
    return _environment().get_template(template).render(**context)
