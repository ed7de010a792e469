"""The required structure of the prometheus-operator objects we ship (monitoring.coreos.com/v1).

kubernetes-validate has no schema for these CRDs and their CRD files are not vendored, so this is
a hand-written subset of the v1 API (prometheus-operator pkg/apis/monitoring/v1): every field we
use, with its type, the fields the CRD requires, the relabel actions and the duration pattern.
Fields outside the subset are reported, so a typo (`honourLabels`) cannot pass silently; add a
field here when a manifest starts to use it.
"""

from __future__ import annotations

from typing import Any

DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
_ACTIONS = ["replace", "keep", "drop", "hashmod", "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase"]
_ACTIONS += ["keepequal", "dropequal"]
RELABEL_ACTIONS = _ACTIONS + [a.capitalize() for a in _ACTIONS] + ["HashMod", "LabelMap", "LabelDrop", "LabelKeep"]
RELABEL_ACTIONS += ["KeepEqual", "DropEqual"]

_STRING: dict[str, Any] = {"type": "string"}
_DURATION: dict[str, Any] = {"type": "string", "pattern": DURATION}
_LABELS: dict[str, Any] = {"type": "object", "additionalProperties": _STRING}

LABEL_SELECTOR: dict[str, Any] = {
    "type": "object",
    "properties": {
        "matchLabels": _LABELS,
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "operator"],
                "properties": {
                    "key": _STRING,
                    "operator": {"type": "string", "enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": {"type": "array", "items": _STRING},
                },
            },
        },
    },
}

RELABEL: dict[str, Any] = {
    "type": "object",
    "properties": {
        "sourceLabels": {"type": "array", "items": {"type": "string", "pattern": LABEL_NAME}},
        "separator": _STRING,
        "targetLabel": _STRING,
        "regex": _STRING,
        "modulus": {"type": "integer", "minimum": 1},
        "replacement": _STRING,
        "action": {"type": "string", "enum": RELABEL_ACTIONS},
    },
}

_ENDPOINT_COMMON: dict[str, Any] = {
    "port": _STRING,
    "path": _STRING,
    "scheme": {"type": "string", "enum": ["http", "https", "HTTP", "HTTPS"]},
    "interval": _DURATION,
    "scrapeTimeout": _DURATION,
    "honorLabels": {"type": "boolean"},
    "honorTimestamps": {"type": "boolean"},
    "relabelings": {"type": "array", "items": RELABEL},
    "metricRelabelings": {"type": "array", "items": RELABEL},
}

_META: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": _STRING, "namespace": _STRING, "labels": _LABELS, "annotations": _LABELS},
}


def _kind(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"type": "string", "enum": ["monitoring.coreos.com/v1"]},
            "kind": _STRING,
            "metadata": _META,
            "spec": spec,
        },
    }


_SPEC_COMMON: dict[str, Any] = {
    "jobLabel": _STRING,
    "selector": LABEL_SELECTOR,
    "namespaceSelector": {
        "type": "object",
        "properties": {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": _STRING}},
    },
    "podTargetLabels": {"type": "array", "items": _STRING},
    "sampleLimit": {"type": "integer", "minimum": 0},
}

SERVICE_MONITOR = _kind(
    {
        "type": "object",
        # The CRD requires only the selector; an object with no endpoint scrapes nothing.
        "required": ["selector", "endpoints"],
        "properties": {
            **_SPEC_COMMON,
            "targetLabels": {"type": "array", "items": _STRING},
            "endpoints": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "object", "required": ["port"], "properties": {**_ENDPOINT_COMMON}},
            },
        },
    }
)

POD_MONITOR = _kind(
    {
        "type": "object",
        "required": ["selector", "podMetricsEndpoints"],
        "properties": {
            **_SPEC_COMMON,
            "podMetricsEndpoints": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["port"],
                    "properties": {**_ENDPOINT_COMMON, "portNumber": {"type": "integer"}},
                },
            },
        },
    }
)

_RULE: dict[str, Any] = {
    "type": "object",
    "required": ["expr"],
    "properties": {
        "record": _STRING,
        "alert": _STRING,
        "expr": {"x-kubernetes-int-or-string": True},
        "for": _DURATION,
        "keep_firing_for": _DURATION,
        "labels": _LABELS,
        "annotations": _LABELS,
    },
}

PROMETHEUS_RULE = _kind(
    {
        "type": "object",
        "properties": {
            "groups": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "interval": _DURATION,
                        "limit": {"type": "integer"},
                        "rules": {"type": "array", "items": _RULE},
                    },
                },
            }
        },
    }
)

SCHEMAS: dict[str, dict[str, Any]] = {
    "ServiceMonitor": SERVICE_MONITOR,
    "PodMonitor": POD_MONITOR,
    "PrometheusRule": PROMETHEUS_RULE,
}
