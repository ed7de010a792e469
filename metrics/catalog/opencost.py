"""OpenCost (and Kubecost) cost-model families that tokenscale reads when a cluster has them.

OpenCost exports its prices per node: `node_gpu_hourly_cost` is the hourly price of *one* GPU on
that node (Kubecost's metric reference: "Hourly cost per GPU on this node"), labelled with the
node name, instance type, region and provider id. tokenscale ties a Deployment to its nodes
through dcgm-exporter's `Hostname`, which is the node name (see metrics/catalog/cost.py).
"""

from __future__ import annotations

from metrics.catalog.families import MetricFamily, MetricType, Source

NODE_LABELS = ("node", "instance", "instance_type", "region", "provider_id")

NODE_GPU_HOURLY_COST = MetricFamily(
    name="node_gpu_hourly_cost",
    type=MetricType.GAUGE,
    unit="dollars/hour",
    help="OpenCost's hourly price of one GPU on the node.",
    source=Source.OPENCOST,
    labels=NODE_LABELS,
)
NODE_GPU_COUNT = MetricFamily(
    name="node_gpu_count",
    type=MetricType.GAUGE,
    unit="gpus",
    help="GPUs OpenCost sees on the node.",
    source=Source.OPENCOST,
    labels=NODE_LABELS,
)
NODE_IS_SPOT = MetricFamily(
    name="kubecost_node_is_spot",
    type=MetricType.GAUGE,
    unit="bool",
    help="1 when the cloud provider reports the node as spot or preemptible.",
    source=Source.OPENCOST,
    labels=NODE_LABELS,
)

ALL: tuple[MetricFamily, ...] = (NODE_GPU_HOURLY_COST, NODE_GPU_COUNT, NODE_IS_SPOT)
