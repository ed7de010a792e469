"""Read the `{{ define }}` blocks of a Go template file, so a body can be inlined where template
files cannot be loaded (the AlertmanagerConfig custom resource)."""

from __future__ import annotations

import re

_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.DOTALL)
_OPENERS = ("if", "range", "with", "define", "block")
_DEFINE = re.compile(r'^define\s+"([^"]+)"$')


class TemplateError(ValueError):
    """The file is not a set of well-nested defines."""


def defines(text: str) -> dict[str, str]:
    """Name -> body of every top-level define, with the define's own `-` trim markers applied."""
    out: dict[str, str] = {}
    depth = 0
    name = ""
    body_start = 0
    for match in _ACTION.finditer(text):
        left_trim, action, right_trim = match.groups()
        if action.startswith("/*"):
            continue
        keyword = action.split(maxsplit=1)[0] if action else ""
        if keyword in _OPENERS:
            if depth == 0:
                found = _DEFINE.match(action)
                if found is None:
                    raise TemplateError(f"top-level {{{{ {action} }}}} outside a define")
                name = found.group(1)
                body_start = match.end()
                trim_body_start = bool(right_trim)
            depth += 1
        elif keyword == "end":
            depth -= 1
            if depth < 0:
                raise TemplateError("unbalanced {{ end }}")
            if depth == 0:
                body = text[body_start : match.start()]
                if trim_body_start:
                    body = body.lstrip()
                if left_trim:
                    body = body.rstrip()
                if "{{ template" in body or "{{template" in body:
                    raise TemplateError(f"define {name!r} calls another template; keep defines self-contained")
                out[name] = body
    if depth != 0:
        raise TemplateError("unterminated define")
    return out
