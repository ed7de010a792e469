"""Check `vllm serve` arguments against the flags of the pinned vLLM release.

The flag list (serving/vllm/flags/vllm-<version>.json) is extracted from the release's wheel by
`serving.vllm_flags_extract`; this module only reads it, so tests need neither vLLM nor torch.
A check covers what argparse would reject before vLLM starts: unknown flags, a value given to a
switch, a missing value, a value of the wrong form (int, float, human-readable int such as
`32k`, JSON, one of a fixed set) or outside the config field's declared bounds.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FLAGS_DIR = Path(__file__).resolve().parent / "vllm" / "flags"
PINNED_VERSION = "0.33.0"

_INT = re.compile(r"^-?\d+$")
_HUMAN_INT = re.compile(r"^(\d+(\.\d+)?[kmgt]|\d+[KMGT]|\d+)$")
_VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\$")


@dataclass(frozen=True)
class FlagForm:
    """How one flag takes its value (see serving.vllm_flags_extract.value_form)."""

    kind: str
    choices: tuple[Any, ...] = ()
    nargs: str | int | None = None
    bounds: tuple[tuple[str, float], ...] = ()

    @property
    def takes_value(self) -> bool:
        return self.kind != "flag"

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> FlagForm:
        bounds = tuple((k.removeprefix("field-"), float(v)) for k, v in raw.items() if k.startswith("field-"))
        return cls(str(raw["kind"]), tuple(raw.get("choices", ())), raw.get("nargs"), bounds)


@dataclass(frozen=True)
class FlagTable:
    version: str
    flags: Mapping[str, FlagForm]


def load_flags(version: str = PINNED_VERSION, directory: Path = FLAGS_DIR) -> FlagTable:
    raw = json.loads((directory / f"vllm-{version}.json").read_text(encoding="utf-8"))
    if raw["vllm"] != version:
        raise ValueError(f"vllm-{version}.json describes vLLM {raw['vllm']}")
    return FlagTable(version, {name: FlagForm.from_json(form) for name, form in raw["flags"].items()})


def expand_vars(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion in command and args: `$$` escapes, unknown refs stay as written."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR_REF.sub(sub, text)


def value_problem(form: FlagForm, value: str) -> str | None:
    """Why argparse (or the config's pydantic bounds) would refuse `value`, or None."""
    kind = form.kind
    number: float | None = None
    if kind == "int":
        if not _INT.match(value):
            return "expects an integer"
        number = int(value)
    elif kind == "float":
        try:
            number = float(value)
        except ValueError:
            return "expects a number"
        if not math.isfinite(number):
            return "expects a finite number"
    elif kind in ("human-int", "human-int-or-auto"):
        if kind == "human-int-or-auto" and value.strip().lower() in ("auto", "-1"):
            return None
        if not _HUMAN_INT.match(value.strip()):
            return "expects an integer such as 8192, 32k or 32K"
    elif kind == "choice":
        if value not in {str(c) for c in form.choices}:
            return f"expects one of {', '.join(str(c) for c in form.choices)}"
    elif kind == "json":
        try:
            json.loads(value)
        except ValueError:
            return "expects JSON"
    elif not value:
        return "expects a non-empty value"
    if number is not None:
        for op, limit in form.bounds:
            ok = {"ge": number >= limit, "gt": number > limit, "le": number <= limit, "lt": number < limit}[op]
            if not ok:
                return f"must be {op} {limit:g}"
    return None


def check_serve_args(args: Sequence[str], table: FlagTable) -> list[str]:
    """Problems with the arguments after `vllm serve`; empty when argparse would accept them."""
    problems: list[str] = []
    i = 0
    if args and not args[0].startswith("-"):
        i = 1  # the positional model tag
    while i < len(args):
        token = args[i]
        i += 1
        if not token.startswith("-"):
            problems.append(f"{token!r}: a value with no flag before it")
            continue
        name, eq, inline = token.partition("=")
        form = table.flags.get(name)
        if form is None:
            problems.append(f"{name}: not a flag of vLLM {table.version}")
            continue
        if not form.takes_value:
            if eq:
                problems.append(f"{name}: a switch, takes no value (got {inline!r})")
            continue
        values: list[str]
        if eq:
            values = [inline]
        else:
            values = []
            while i < len(args) and not args[i].startswith("--") and (not values or form.nargs == "+"):
                values.append(args[i])
                i += 1
            if not values:
                problems.append(f"{name}: needs a value")
                continue
        for value in values:
            if "$(" in value:
                problems.append(f"{name}: unexpanded variable in {value!r}")
                continue
            problem = value_problem(form, value)
            if problem is not None:
                problems.append(f"{name}={value}: {problem}")
    return problems
