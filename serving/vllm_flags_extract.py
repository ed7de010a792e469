"""Extract the `vllm serve` flags from a vLLM wheel's source, without importing vLLM.

Importing vLLM's parser needs torch and a GPU platform plugin, so this reads the source with
`ast` instead. It follows the same rules as vLLM's own `_compute_kwargs` (vllm/engine/arg_utils.py):

* `EngineArgs.add_cli_args` and `AsyncEngineArgs.add_cli_args` register each flag with
  `group.add_argument("--flag", [aliases], **<Config>_kwargs["field"])`; the value form comes from
  the config dataclass field's annotation (bool -> `--x`/`--no-x`, Literal -> choices, list ->
  nargs "+", int/float, dataclass or dict -> JSON) and its pydantic `Field(ge=, gt=, le=, lt=)`;
* the frontend flags (`--port`, `--host`, ...) are the fields of `BaseFrontendArgs` and
  `FrontendArgs` in vllm/entrypoints/common/cli_args.py, plus `make_arg_parser`'s explicit ones.

Usage (regenerates the committed list; the wheel is ~340 MB and is not kept):

    pip download vllm==0.33.0 --no-deps -d /tmp/vllm-wheel
    python -m serving.vllm_flags_extract /tmp/vllm-wheel/vllm-0.33.0-*.whl > serving/vllm/flags/vllm-0.33.0.json
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ARG_UTILS = "vllm/engine/arg_utils.py"
FRONTEND = "vllm/entrypoints/common/cli_args.py"
FRONTEND_CLASSES = ("BaseFrontendArgs", "FrontendArgs")
# Fields vLLM parses with human_readable_int ("32k", "1M") rather than int (arg_utils._compute_kwargs).
HUMAN_READABLE_INT = frozenset(
    {
        "max_num_batched_tokens",
        "max_num_scheduled_tokens",
        "kv_cache_memory_bytes",
        "safetensors_prefetch_block_size",
        "max_num_queued_tokens",
    }
)
_ATOM_NAMES = {"bool", "int", "float", "str", "dict", "list", "tuple", "set", "None"}
_SEQUENCES = {"list", "tuple", "set", "Sequence", "MutableSequence"}
_MAPPINGS = {"dict", "Mapping", "MutableMapping"}
_TYPE_CALLABLES = {
    "int": "int",
    "float": "float",
    "str": "str",
    "human_readable_int": "human-int",
    "human_readable_int_or_auto": "human-int-or-auto",
    "loads": "json",
}


@dataclass
class ClassInfo:
    bases: list[str]
    fields: dict[str, ast.AnnAssign]
    is_dataclass: bool


@dataclass
class Index:
    """Every class and module-level alias in the wheel, by bare name (collisions: last one wins)."""

    classes: dict[str, ClassInfo] = field(default_factory=dict)
    aliases: dict[str, ast.expr] = field(default_factory=dict)

    def add_module(self, tree: ast.Module) -> None:
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                fields = {
                    s.target.id: s for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
                }
                decorators = {_name_of(d) for d in node.decorator_list}
                bases = [_name_of(b) for b in node.bases]
                self.classes[node.name] = ClassInfo(bases, fields, bool(decorators & {"dataclass", "config"}))
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                self.aliases[node.targets[0].id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                if _name_of(node.annotation) == "TypeAlias":
                    self.aliases[node.target.id] = node.value
            elif type(node).__name__ == "TypeAlias":  # `type X = ...` (3.12 syntax, parsed by 3.12+ only)
                name, value = getattr(node, "name", None), getattr(node, "value", None)
                if isinstance(name, ast.Name) and isinstance(value, ast.expr):
                    self.aliases[name.id] = value

    def field_of(self, cls: str, name: str) -> ast.AnnAssign | None:
        seen: set[str] = set()
        todo = [cls]
        while todo:
            current = todo.pop(0)
            info = self.classes.get(current)
            if info is None or current in seen:
                continue
            seen.add(current)
            if name in info.fields:
                return info.fields[name]
            todo.extend(info.bases)
        return None

    def subclasses(self, cls: str, base: str) -> bool:
        info = self.classes.get(cls)
        return info is not None and any(b == base or self.subclasses(b, base) for b in info.bases)


def _name_of(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        return _name_of(node.func)
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


Atom = tuple[str, tuple[Any, ...]]  # ("int", ()), ("Literal", values), ("list", element atoms)


def atoms(expr: ast.expr | None, index: Index, depth: int = 0) -> set[Atom]:
    """The flattened union members of a type annotation, resolved through aliases."""
    if expr is None or depth > 20:
        return {("other", ())}
    if isinstance(expr, ast.Constant):
        if expr.value is None:
            return {("None", ())}
        if isinstance(expr.value, str):  # forward reference
            return atoms(ast.parse(expr.value, mode="eval").body, index, depth + 1)
        return {("other", ())}
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
        return atoms(expr.left, index, depth + 1) | atoms(expr.right, index, depth + 1)
    if isinstance(expr, ast.Subscript):
        head = _name_of(expr.value)
        elts = list(expr.slice.elts) if isinstance(expr.slice, ast.Tuple) else [expr.slice]
        if head == "Optional":
            return atoms(elts[0], index, depth + 1) | {("None", ())}
        if head == "Union":
            return set().union(*(atoms(e, index, depth + 1) for e in elts))
        if head == "Annotated":
            return atoms(elts[0], index, depth + 1)
        if head == "Literal":
            values = tuple(_literal_values(elts, index, depth))
            return {("Literal", values)}
        if head in _SEQUENCES:
            element = frozenset(a for e in elts if not _is_ellipsis(e) for a in atoms(e, index, depth + 1))
            return {("list", (element,))}
        if head in _MAPPINGS:
            return {("dict", ())}
        return atoms(expr.value, index, depth + 1)
    if isinstance(expr, ast.Name | ast.Attribute):
        name = _name_of(expr)
        if name in _ATOM_NAMES:
            return {("list", (frozenset({("str", ())}),))} if name in _SEQUENCES else {(name, ())}
        if name in index.aliases:
            return atoms(index.aliases[name], index, depth + 1)
        info = index.classes.get(name)
        if info is not None and info.is_dataclass:
            return {("dataclass", ())}
        if info is not None and index.subclasses(name, "dict"):
            return {("dict", ())}
    return {("other", ())}


def _is_ellipsis(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is Ellipsis


def _literal_values(elts: Iterable[ast.expr], index: Index, depth: int) -> Iterator[Any]:
    for e in elts:
        if isinstance(e, ast.Constant):
            yield e.value
        else:  # Literal[Alias, ...] nests another Literal
            for kind, values in atoms(e, index, depth + 1):
                if kind == "Literal":
                    yield from values


def _kinds(found: set[Atom]) -> set[str]:
    return {k for k, _ in found}


def value_form(name: str, annotation: ast.expr | None, index: Index) -> dict[str, Any]:
    """The argparse value form vLLM derives for a config field (mirrors arg_utils._compute_kwargs)."""
    found = atoms(annotation, index)
    kinds = _kinds(found)
    if "dataclass" in kinds:
        return {"kind": "json"}
    if kinds == {"bool", "str", "None"}:
        return {"kind": "optional-str"}
    if "bool" in kinds:
        return {"kind": "flag"}
    if "Literal" in kinds:
        values = sorted({v for k, vs in found if k == "Literal" for v in vs}, key=str)
        if "str" in kinds:  # vLLM uses metavar, not choices: any string goes
            return {"kind": "str", "suggested": values}
        return {"kind": "choice", "choices": values}
    if "list" in kinds:
        element: set[Atom] = set()
        for k, payload in found:
            if k == "list":
                element |= set(payload[0])
        inner = value_form(name, None, index) if not element else _element_form(element)
        return {**inner, "nargs": "+"}
    if "int" in kinds:
        if name == "max_model_len":
            return {"kind": "human-int-or-auto"}
        return {"kind": "human-int" if name in HUMAN_READABLE_INT else "int"}
    if "float" in kinds:
        return {"kind": "float"}
    if "dict" in kinds:
        return {"kind": "json-or-str" if kinds - {"dict", "None"} else "json"}
    return {"kind": "str"}


def _element_form(element: set[Atom]) -> dict[str, Any]:
    kinds = _kinds(element)
    if "Literal" in kinds and "str" not in kinds:
        return {"kind": "choice", "choices": sorted({v for k, vs in element if k == "Literal" for v in vs}, key=str)}
    if kinds <= {"int", "None"}:
        return {"kind": "int"}
    if kinds <= {"float", "None"}:
        return {"kind": "float"}
    return {"kind": "str"}


def bounds(assign: ast.AnnAssign | None) -> dict[str, float]:
    """Numeric limits from a pydantic `Field(ge=..., gt=..., le=..., lt=...)` default."""
    if assign is None or not isinstance(assign.value, ast.Call) or _name_of(assign.value.func) != "Field":
        return {}
    out: dict[str, float] = {}
    for kw in assign.value.keywords:
        if kw.arg in {"ge", "gt", "le", "lt"}:
            try:
                value = ast.literal_eval(kw.value)
            except ValueError:
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[kw.arg] = value
    return out


@dataclass
class Flag:
    names: list[str]
    form: dict[str, Any]


class _CallReader:
    """Turns `add_argument(...)` calls into Flags, resolving `**<var>["field"]` to config fields."""

    def __init__(self, index: Index, kwargs_vars: dict[str, tuple[str, str | None]]) -> None:
        self.index = index
        self.kwargs_vars = kwargs_vars  # var -> (config class, field or None)

    def source_field(self, expr: ast.expr) -> tuple[str, str] | None:
        if isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Name):
            var = self.kwargs_vars.get(expr.value.id)
            key = expr.slice
            if var is not None and var[1] is None and isinstance(key, ast.Constant) and isinstance(key.value, str):
                return var[0], key.value
        if isinstance(expr, ast.Name):
            var = self.kwargs_vars.get(expr.id)
            if var is not None and var[1] is not None:
                return var[0], var[1]
        return None

    def flag(self, call: ast.Call) -> Flag | None:
        names = [
            a.value
            for a in call.args
            if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value.startswith("-")
        ]
        if not names:
            return None  # a positional (model_tag)
        explicit: dict[str, ast.expr] = {}
        origin: tuple[str, str] | None = None
        for kw in call.keywords:
            if kw.arg is not None:
                explicit[kw.arg] = kw.value
                continue
            parts = [kw.value]
            if isinstance(kw.value, ast.Dict):  # **{**x["f"], "default": None}
                parts = []
                for key, value in zip(kw.value.keys, kw.value.values, strict=True):
                    if key is None:
                        parts.append(value)
                    elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                        explicit[key.value] = value
            for part in parts:
                origin = self.source_field(part) or origin
        form: dict[str, Any] = {"kind": "str"}
        if origin is not None:
            cls, name = origin
            assign = self.index.field_of(cls, name)
            form = value_form(name, assign.annotation if assign else None, self.index)
            form.update({f"field-{k}": v for k, v in bounds(assign).items()})
            form["field"] = f"{cls}.{name}"
        form = _apply_explicit(form, explicit)
        action = explicit.get("action")
        store = isinstance(action, ast.Constant) and action.value in {"store_true", "store_false"}
        if form["kind"] == "flag" and not store:  # BooleanOptionalAction also registers --no-<flag>
            names = names + [f"--no-{n[2:]}" for n in names if n.startswith("--")]
        return Flag(names, form)


def _apply_explicit(form: dict[str, Any], explicit: dict[str, ast.expr]) -> dict[str, Any]:
    out = dict(form)
    action = explicit.get("action")
    if action is not None:
        name = action.value if isinstance(action, ast.Constant) else _name_of(action)
        if name in {"store_true", "store_false", "BooleanOptionalAction"}:
            return {"kind": "flag", **({"field": out["field"]} if "field" in out else {})}
        if name == "append":
            out["repeatable"] = True
    if "type" in explicit:
        kind = _TYPE_CALLABLES.get(_name_of(explicit["type"]))
        out["kind"] = kind or "str"
        out.pop("choices", None)
    if "choices" in explicit:
        # Computed choices (plugins, get_args(...)) cannot be read statically: left as str.
        with contextlib.suppress(ValueError):
            out = {**out, "kind": "choice", "choices": list(ast.literal_eval(explicit["choices"]))}
    nargs = explicit.get("nargs")
    if isinstance(nargs, ast.Constant):
        out["nargs"] = nargs.value
    return out


def _function(tree: ast.Module, cls: str, name: str) -> ast.FunctionDef:
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == name:
                    return item
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name and not cls:
            return node
    raise LookupError(f"{cls}.{name} not found")


def _kwargs_vars(func: ast.FunctionDef) -> dict[str, tuple[str, str | None]]:
    out: dict[str, tuple[str, str | None]] = {}
    for node in ast.walk(func):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        value, key = node.value, None
        if isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Constant):
            key, value = str(value.slice.value), value.value
        if isinstance(value, ast.Call) and _name_of(value.func) == "get_kwargs" and value.args:
            out[node.targets[0].id] = (_name_of(value.args[0]), key)
    return out


def _calls(func: ast.FunctionDef) -> Iterator[ast.Call]:
    for node in ast.walk(func):
        if isinstance(node, ast.Call) and _name_of(node.func) == "add_argument":
            yield node


def _double_key(target: ast.expr) -> tuple[str, str] | None:
    """`kwargs["field"]["key"]` -> ("field", "key")."""
    if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
        inner = target.value
        if isinstance(inner, ast.Subscript) and isinstance(inner.slice, ast.Constant):
            return str(inner.slice.value), str(target.slice.value)
    return None


def _frontend_flags(tree: ast.Module, index: Index) -> Iterator[Flag]:
    """Fields of the frontend dataclasses, with the overrides of their `_customize_cli_kwargs`."""
    overrides: dict[str, dict[str, ast.expr]] = {}
    deleted: dict[str, set[str]] = {}
    for cls in FRONTEND_CLASSES:
        custom = _function(tree, cls, "_customize_cli_kwargs")
        for node in ast.walk(custom):
            if isinstance(node, ast.Assign):
                key = _double_key(node.targets[0])
                if key is not None:
                    overrides.setdefault(key[0], {})[key[1]] = node.value
            elif isinstance(node, ast.Delete):
                for target in node.targets:
                    key = _double_key(target)
                    if key is not None:
                        deleted.setdefault(key[0], set()).add(key[1])
    for cls in FRONTEND_CLASSES:
        for name, assign in index.classes[cls].fields.items():
            form = value_form(name, assign.annotation, index)
            form.update({f"field-{k}": v for k, v in bounds(assign).items()})
            form["field"] = f"{cls}.{name}"
            explicit = overrides.get(name, {})
            for removed in deleted.get(name, set()):
                form.pop(removed, None)
            form = _apply_explicit(form, explicit)
            flag = f"--{name.replace('_', '-')}"
            names = [flag, f"--no-{flag[2:]}"] if form["kind"] == "flag" else [flag]
            yield Flag(names, form)


def extract(sources: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Flag name -> value form, from the wheel's Python sources (path -> text)."""
    index = Index()
    trees: dict[str, ast.Module] = {}
    # Bare names can collide across the wheel (model configs reuse names), so the modules that
    # define the CLI's config classes are indexed last and win.
    for path, text in sorted(sources.items(), key=lambda kv: (_preferred(kv[0]), kv[0])):
        try:
            trees[path] = ast.parse(text)
        except SyntaxError:
            continue
        index.add_module(trees[path])
    flags: list[Flag] = []
    for cls, func_name, path in (
        ("EngineArgs", "add_cli_args", ARG_UTILS),
        ("AsyncEngineArgs", "add_cli_args", ARG_UTILS),
        ("", "make_arg_parser", FRONTEND),
    ):
        func = _function(trees[path], cls, func_name)
        reader = _CallReader(index, _kwargs_vars(func))
        flags.extend(f for f in (reader.flag(c) for c in _calls(func)) if f is not None)
    flags.extend(_frontend_flags(trees[FRONTEND], index))
    out: dict[str, dict[str, Any]] = {}
    for flag in flags:
        for name in flag.names:
            out[name] = {**flag.form, "canonical": flag.names[0]} if name != flag.names[0] else flag.form
    return dict(sorted(out.items()))


def _preferred(path: str) -> int:
    if path in (ARG_UTILS, FRONTEND):
        return 2
    return 1 if path.startswith("vllm/config/") else 0


def read_wheel(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    with zipfile.ZipFile(path) as wheel:
        sources = {n: wheel.read(n).decode("utf-8") for n in wheel.namelist() if n.endswith(".py")}
    version_ns: dict[str, Any] = {}
    exec(compile(sources["vllm/_version.py"], "_version.py", "exec"), version_ns)  # plain assignments
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    meta = {
        "vllm": str(version_ns["__version__"]),
        "commit": str(version_ns.get("__commit_id__", "")),
        "wheel": path.name,
        "wheel_sha256": digest,
    }
    return sources, meta


def render(meta: dict[str, str], flags: dict[str, dict[str, Any]]) -> str:
    """Stable JSON with one flag per line, so a version bump reads as a small diff."""
    head = {
        **meta,
        "generated_by": "python -m serving.vllm_flags_extract <wheel> (ast over vllm/engine/arg_utils.py "
        "and vllm/entrypoints/common/cli_args.py; see that module's docstring)",
    }
    lines = ["{"]
    lines.extend(f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items())
    lines.append('  "flags": {')
    items = [f"    {json.dumps(name)}: {json.dumps(form, sort_keys=True)}" for name, form in flags.items()]
    lines.append(",\n".join(items))
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m serving.vllm_flags_extract <vllm wheel>", file=sys.stderr)
        return 2
    sources, meta = read_wheel(Path(args[0]))
    sys.stdout.write(render(meta, extract(sources)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
