"""Metric names referenced by a PromQL expression, without a PromQL parser.

Good enough for expressions the dashboards generate: strings, label matchers, range selectors and
grouping clauses are stripped first, so what remains that is an identifier and not a function,
keyword or number is a metric name. `__name__` regexes (variable queries) are expanded.
"""

from __future__ import annotations

import re

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_NAME_MATCHER = re.compile(r'__name__\s*=~?\s*"((?:[^"\\]|\\.)*)"')
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)(\s*\()?")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
             "group_right", "inf", "nan"}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    names: set[str] = set()
    for match in _NAME_MATCHER.finditer(expr):
        names.update(part for part in match.group(1).split("|") if part)
    stripped = _STRING.sub('""', expr)
    stripped = _BRACES.sub("{}", stripped)
    stripped = _BRACKETS.sub("", stripped)
    stripped = _GROUPING.sub("", stripped)
    for match in _IDENTIFIER.finditer(stripped):
        identifier, call = match.group(1), match.group(2)
        if call or identifier.lower() in _KEYWORDS:
            continue
        names.add(identifier)
    return names
