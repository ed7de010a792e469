"""The Kubernetes API client the activator's two Kubernetes pieces share (slices watch, wake Lease).

Imported lazily: with --endpoints upstream-health and --wake-lease none the activator never loads
the Kubernetes client at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def api_client(kubeconfig: Path | None) -> Any:
    """An ApiClient: from --kubeconfig when given, else in-cluster, else the default kubeconfig."""
    from kubernetes import client
    from kubernetes import config as kube_config

    # The client's config helpers are untyped; keep that at this one boundary.
    config: Any = kube_config

    if kubeconfig is not None:
        return config.new_client_from_config(config_file=str(kubeconfig))
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        return config.new_client_from_config()
    return client.ApiClient(configuration)


def api_status(exc: BaseException) -> int | None:
    """The HTTP status of a kubernetes ApiException (None for transport errors)."""
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None
