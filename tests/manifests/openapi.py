"""A small validator for the structural OpenAPI v3 schemas of CustomResourceDefinitions.

It checks what the API server checks from a CRD's schema, with strict field validation (unknown
fields are errors, as `kubectl apply --validate=strict` makes them): types, required, enum,
numeric bounds (OpenAPI 3.0 boolean exclusiveMinimum/exclusiveMaximum), string length and
pattern, array length, items, and unique keys of x-kubernetes-list-type: map. CEL rules
(x-kubernetes-validations) are not evaluated; scaler.spec.parse_spec covers them for ours.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

Schema = Mapping[str, Any]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
}


def _type_ok(value: Any, expected: str) -> bool:
    if expected in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[expected])


def validate(value: Any, schema: Schema, path: str = "") -> list[str]:
    """Every violation of `schema` by `value`, each prefixed with its field path."""
    where = path or "<root>"
    if value is None:
        return [] if schema.get("nullable") else [f"{where}: null is not allowed"]
    if schema.get("x-kubernetes-int-or-string"):
        if not (isinstance(value, str) or _type_ok(value, "integer")):
            return [f"{where}: expected an integer or a string, got {value!r}"]
        return []
    if "anyOf" in schema and not any(not validate(value, s, path) for s in schema["anyOf"]):
        return [f"{where}: matches none of anyOf"]
    expected = schema.get("type")
    if expected is not None and not _type_ok(value, expected):
        return [f"{where}: expected {expected}, got {type(value).__name__} {value!r}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        errors.extend(_bounds(value, schema, where))
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{where}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{where}: longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, list):
        errors.extend(_array(value, schema, path))
    if isinstance(value, dict):
        errors.extend(_object(value, schema, path))
    return errors


def _bounds(value: float, schema: Schema, where: str) -> list[str]:
    errors = []
    if "minimum" in schema:
        low = schema["minimum"]
        if value < low or (schema.get("exclusiveMinimum") is True and value == low):
            errors.append(f"{where}: {value} is below the minimum {low}")
    if "maximum" in schema:
        high = schema["maximum"]
        if value > high or (schema.get("exclusiveMaximum") is True and value == high):
            errors.append(f"{where}: {value} is above the maximum {high}")
    return errors


def _array(value: list[Any], schema: Schema, path: str) -> list[str]:
    where = path or "<root>"
    errors = []
    if len(value) < schema.get("minItems", 0):
        errors.append(f"{where}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(f"{where}: more than {schema['maxItems']} items")
    items = schema.get("items")
    if items is not None:
        for i, item in enumerate(value):
            errors.extend(validate(item, items, f"{path}[{i}]"))
    keys = schema.get("x-kubernetes-list-map-keys")
    if schema.get("x-kubernetes-list-type") == "map" and keys:
        seen = [tuple(item.get(k) for k in keys) for item in value if isinstance(item, dict)]
        if len(seen) != len(set(seen)):
            errors.append(f"{where}: duplicate entries for list-map keys {keys}")
    return errors


def _object(value: dict[str, Any], schema: Schema, path: str) -> list[str]:
    errors = []
    for key in schema.get("required", ()):
        if key not in value:
            errors.append(f"{path}.{key}: required" if path else f"{key}: required")
    properties: Mapping[str, Schema] = schema.get("properties", {})
    additional = schema.get("additionalProperties")
    preserve = schema.get("x-kubernetes-preserve-unknown-fields", False)
    for key, item in value.items():
        child = f"{path}.{key}" if path else key
        if key in properties:
            errors.extend(validate(item, properties[key], child))
        elif isinstance(additional, Mapping):
            errors.extend(validate(item, additional, child))
        elif properties and not preserve and additional is not True:
            errors.append(f"{child}: unknown field")
    return errors


def crd_schema(crd: Mapping[str, Any], version: str) -> Schema:
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            schema: Schema = v["schema"]["openAPIV3Schema"]
            return schema
    raise KeyError(f"{crd['metadata']['name']} has no version {version}")
