"""From raw watch-cache objects to what the loop needs per autoscaler. Pure.

The cache holds raw API dicts (camelCase, as served). Nothing here calls the API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scaler.kube.selectors import matches
from scaler.observation import KubeView
from scaler.spec import AutoscalerSpec, SpecError, parse_spec

GPU_RESOURCE = "nvidia.com/gpu"
MIG_PREFIX = "nvidia.com/mig-"
#: Node label written by NVIDIA's GPU feature discovery; the GPU model hint for cost.
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"

Raw = Mapping[str, Any]


@dataclass(frozen=True)
class ObjectRef:
    namespace: str
    name: str
    uid: str = ""
    generation: int = 0
    resource_version: str = ""


@dataclass(frozen=True)
class TargetInfo:
    """One InferenceAutoscaler and what the cache knows about its target."""

    autoscaler: ObjectRef
    spec: AutoscalerSpec | None
    spec_error: SpecError | None
    target_kind: str
    target_name: str
    kube: KubeView | None  # None when the target does not exist (or isn't a kind we can read)
    gpus_per_replica: float = 0.0
    gpus_allocated: float = 0.0
    gpu_model_hint: str = ""
    status: Raw | None = None  # the autoscaler's current status, to skip no-op writes
    target_uid: str = ""  # the target object's uid: a recreated target has a new one

    @property
    def key(self) -> tuple[str, str]:
        return (self.autoscaler.namespace, self.target_name)


def _ref(obj: Raw) -> ObjectRef:
    meta = obj.get("metadata") or {}
    return ObjectRef(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        uid=meta.get("uid", ""),
        generation=int(meta.get("generation") or 0),
        resource_version=meta.get("resourceVersion", ""),
    )


def _quantity(raw: Any) -> float:
    """Parse the integer-ish quantities GPU resources use ("1", 2, "1k" is not expected)."""
    try:
        return float(str(raw))
    except ValueError:
        return 0.0


def gpus_per_pod(pod_spec: Raw) -> float:
    """GPUs a pod template asks for: nvidia.com/gpu, plus MIG slices as sevenths of a GPU.

    A MIG profile `mig-<g>g.<mem>gb` takes g of a GPU's seven compute slices; time-sliced replicas of
    nvidia.com/gpu count as one each (that is what the scheduler counts).
    """
    total = 0.0
    for container in pod_spec.get("containers") or []:
        resources = container.get("resources") or {}
        limits = {**(resources.get("requests") or {}), **(resources.get("limits") or {})}
        for name, value in limits.items():
            if name == GPU_RESOURCE:
                total += _quantity(value)
            elif name.startswith(MIG_PREFIX):
                profile = name[len(MIG_PREFIX) :]
                slices = profile.split("g.", 1)[0]
                total += _quantity(value) * (_quantity(slices) / 7.0 if slices.isdigit() else 1.0)
    return total


def _gpu_model_hint(pod_spec: Raw) -> str:
    selector = pod_spec.get("nodeSelector") or {}
    if GPU_PRODUCT_LABEL in selector:
        return str(selector[GPU_PRODUCT_LABEL])
    affinity = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    for term in affinity.get("nodeSelectorTerms") or []:
        for expr in term.get("matchExpressions") or []:
            if expr.get("key") == GPU_PRODUCT_LABEL and expr.get("operator") == "In" and expr.get("values"):
                return str(expr["values"][0])
    return ""


def _pending_pods(deployment: Raw, pending: Iterable[Raw]) -> tuple[int, int, str]:
    """(unscheduled, unschedulable, scheduler message) for the Deployment's Pending pods."""
    namespace = (deployment.get("metadata") or {}).get("namespace", "")
    selector = (deployment.get("spec") or {}).get("selector")
    unscheduled = unschedulable = 0
    message = ""
    for pod in pending:
        meta = pod.get("metadata") or {}
        if meta.get("namespace") != namespace or meta.get("deletionTimestamp"):
            continue
        if not matches(selector, meta.get("labels") or {}):
            continue
        if (pod.get("spec") or {}).get("nodeName"):
            continue  # bound to a node: starting, not waiting for capacity
        unscheduled += 1
        for cond in (pod.get("status") or {}).get("conditions") or []:
            scheduled_false = cond.get("type") == "PodScheduled" and cond.get("status") == "False"
            if scheduled_false and cond.get("reason") == "Unschedulable":
                unschedulable += 1
                message = message or str(cond.get("message", ""))
    return unscheduled, unschedulable, message


def kube_view(deployment: Raw, pending: Sequence[Raw], cache_healthy: bool, cache_problem: str = "") -> KubeView:
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    meta = deployment.get("metadata") or {}
    replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    unscheduled, unschedulable, message = _pending_pods(deployment, pending)
    generation = int(meta.get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    consistent, why = cache_healthy, cache_problem
    if consistent and observed < generation:
        consistent, why = False, f"Deployment status is for generation {observed}, spec is at {generation}"
    return KubeView(
        spec_replicas=replicas,
        ready_replicas=int(status.get("readyReplicas") or 0),
        unscheduled_pods=unscheduled,
        unschedulable_pods=unschedulable,
        unschedulable_message=message,
        consistent=consistent,
        inconsistency=why,
    )


def build_targets(
    autoscalers: Iterable[Raw],
    deployments: Mapping[tuple[str, str], Raw],
    pending_pods: Sequence[Raw],
    cache_healthy: bool,
    cache_problem: str = "",
) -> list[TargetInfo]:
    """One TargetInfo per autoscaler, in a stable order (namespace, name)."""
    targets: list[TargetInfo] = []
    for obj in sorted(autoscalers, key=lambda o: (_ref(o).namespace, _ref(o).name)):
        ref = _ref(obj)
        raw_spec = obj.get("spec") or {}
        spec: AutoscalerSpec | None
        error: SpecError | None = None
        try:
            spec = parse_spec(raw_spec)
        except SpecError as exc:
            spec, error = None, exc
        target_ref = raw_spec.get("scaleTargetRef") or {}
        kind = str(target_ref.get("kind") or "Deployment")
        name = str(target_ref.get("name") or "")
        deployment = deployments.get((ref.namespace, name)) if kind == "Deployment" else None
        view = None
        per_pod = allocated = 0.0
        hint = target_uid = ""
        if deployment is not None:
            target_uid = str((deployment.get("metadata") or {}).get("uid") or "")
            view = kube_view(deployment, pending_pods, cache_healthy, cache_problem)
            pod_spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
            per_pod = gpus_per_pod(pod_spec)
            if spec is not None and spec.cost.gpus_per_replica is not None:
                per_pod = float(spec.cost.gpus_per_replica)
            created = int((deployment.get("status") or {}).get("replicas") or 0)
            allocated = max(0, created - view.unscheduled_pods) * per_pod
            hint = _gpu_model_hint(pod_spec)
        if spec is not None and spec.cost.gpu_model:
            hint = spec.cost.gpu_model
        targets.append(
            TargetInfo(
                autoscaler=ref,
                spec=spec,
                spec_error=error,
                target_kind=kind,
                target_name=name,
                kube=view,
                gpus_per_replica=per_pod,
                gpus_allocated=allocated,
                gpu_model_hint=hint,
                status=obj.get("status"),
                target_uid=target_uid,
            )
        )
    return targets
