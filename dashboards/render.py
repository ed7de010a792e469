"""Dashboards to committed files: Grafana JSON and ConfigMaps for the Grafana sidecar.

Output is deterministic (sorted keys, fixed panel ids) so a rebuild that changes nothing changes
no byte, and the drift check can compare text.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards.registry import DASHBOARDS

#: The Grafana version the JSON targets (grafana-foundation-sdk build `1769699379!11.6.0`).
GRAFANA_VERSION = "11.6"
CONFIGMAP_DIR = "configmaps"
#: Label the Grafana sidecar (kube-prometheus-stack, grafana chart) watches by default.
SIDECAR_LABEL = {"grafana_dashboard": "1"}
FOLDER = "tokenscale"


def dashboard_json(board: dashboard.Dashboard) -> dict[str, Any]:
    """The dashboard as Grafana JSON, with panel ids 1..n in layout order.

    The SDK leaves ids unset; fixed ids keep `viewPanel=` links and the drift check stable.
    """
    data: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder, sort_keys=True))
    for index, panel in enumerate(data.get("panels", []), start=1):
        panel["id"] = index
    return data


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


class _LiteralDumper(yaml.SafeDumper):
    """Writes multi-line strings as `|` blocks so the JSON inside a ConfigMap stays readable."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _str_representer)


def configmap(uid: str, json_text: str) -> str:
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"{uid}-dashboard",
            "labels": {
                **SIDECAR_LABEL,
                "app.kubernetes.io/name": "tokenscale",
                "app.kubernetes.io/component": "dashboards",
            },
            # Read by the sidecar when its folderAnnotation is set to grafana_folder.
            "annotations": {"grafana_folder": FOLDER},
        },
        "data": {f"{uid}.json": json_text},
    }
    return yaml.dump(manifest, Dumper=_LiteralDumper, sort_keys=False, width=1 << 20, allow_unicode=True)


def kustomization(uids: list[str]) -> str:
    body = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [f"{uid}.yaml" for uid in uids],
    }
    return yaml.safe_dump(body, sort_keys=False)


def render_all() -> dict[str, str]:
    """Every generated file, by path relative to the output directory."""
    files: dict[str, str] = {}
    for source in DASHBOARDS:
        text = dumps(dashboard_json(source.build()))
        files[f"{source.uid}.json"] = text
        files[f"{CONFIGMAP_DIR}/{source.uid}.yaml"] = configmap(source.uid, text)
    files[f"{CONFIGMAP_DIR}/kustomization.yaml"] = kustomization([s.uid for s in DASHBOARDS])
    return files
