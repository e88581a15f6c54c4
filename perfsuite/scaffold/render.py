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
        finalize=_one_line,
    )


def _one_line(value: Any) -> Any:
    """Every value goes into one line of a generated file (a YAML value, a comment, a shell word): a line
    break in it would start a line of its own, which the user never wrote (e.g. a path with a newline)."""
    text = value if isinstance(value, str) else str(value)
    if "\n" in text or "\r" in text:
        from perfsuite.errors import PerfConfigError

        raise PerfConfigError(f"{text!r} has a line break, which cannot go into a generated file; nothing was written",
                              hint="rename the folder (or pass a value) without line breaks")
    return value


def render(template: str, /, **context: Any) -> str:
    """The template (e.g. "project/suite.yaml.j2") rendered with `context`; a YAML file is checked to parse."""
    text = _environment().get_template(template).render(**context)
    if template.endswith((".yaml.j2", ".yml.j2")):
        import yaml

        try:
            yaml.safe_load(text)
        except yaml.YAMLError as exc:
            from perfsuite.errors import PerfConfigError

            raise PerfConfigError(f"the values given make {template.removesuffix('.j2')} invalid YAML ({str(exc).splitlines()[0]}); "
                                  "nothing was written") from None
    return text
