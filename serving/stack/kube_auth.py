"""Kubeconfigs that authenticate as a ServiceAccount, via the TokenRequest API.

The controller runs as its own ServiceAccount in end-to-end tests, so RBAC mistakes in its Role
show up as 403s there instead of in production.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from kubernetes import client

DEFAULT_TOKEN_TTL_S = 24 * 3600


def request_token(api: client.ApiClient, namespace: str, sa_name: str, ttl_s: int = DEFAULT_TOKEN_TTL_S) -> str:
    """A bound token for the ServiceAccount (which must exist), for the API server's audience."""
    body = client.AuthenticationV1TokenRequest(
        # Empty audiences: the API server fills in its own (the issuer URL).
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=ttl_s),
    )
    response = client.CoreV1Api(api).create_namespaced_service_account_token(sa_name, namespace, body)
    if response.status is None or not response.status.token:
        raise RuntimeError(f"TokenRequest for {namespace}/{sa_name} returned no token")
    token: str = response.status.token
    return token


def token_kubeconfig(server: str, ca_file: Path, user: str, token: str) -> str:
    """Kubeconfig YAML with one cluster, one token user and a current context."""
    name = user.replace(":", "-")
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kwok", "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": "kwok", "user": name}}],
        "current-context": name,
    }
    return yaml.safe_dump(document, sort_keys=False)


def write_private(path: Path, text: str) -> Path:
    """Write a credential file readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
