"""GPU: dcgm-exporter per node and GPU: is the hardware busy, healthy, and who holds it."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import runbooks, units
from dashboards.base import new_dashboard, with_sections
from dashboards.panels import FULL, PanelBuilder, Query, Size, stat_panel, table_panel, timeseries_panel
from dashboards.queries import GPU, GPU_FILTER, GPU_LEGEND, HOSTNAME_FILTER, LAYOUT, gauge, label_values, or_zero
from dashboards.variables import query_variable
from metrics.catalog import aggregate, dcgm, scrape

UID = "tokenscale-gpu"
G = GPU_FILTER
HOT_CELSIUS = 83.0
GPU_IDENTITY = (*GPU, "UUID", "modelName")
CONSUMER = ("namespace", "pod", LAYOUT.deployment_label)


def allocation() -> str:
    """Each GPU with the pod holding it; free GPUs without pod labels.

    A free GPU's series carry the scrape target's own namespace and pod, i.e. the exporter's, in
    both scrape modes (renamed and honoured labels). Those are exactly the labels of the target's
    `up` series, which is how they are told apart from a consumer's.
    """
    series = gauge(dcgm.GPU_UTIL, "", (), G)
    target = "on (instance, namespace, pod)"
    up = gauge(scrape.UP, "")
    held = f"max by ({', '.join((*GPU_IDENTITY, *CONSUMER))}) (({series}) unless {target} ({up}))"
    free = f"max by ({', '.join(GPU_IDENTITY)}) (({series}) and {target} ({up}))"
    return f"({held}) or ({free})"


def _stats() -> list[PanelBuilder]:
    xid = gauge(dcgm.XID_ERRORS, "max", GPU, G)
    return [
        stat_panel(
            "GPUs reporting",
            "GPUs dcgm-exporter reports on the selected nodes.",
            units.GPUS,
            [Query(gauge(dcgm.GPU_UTIL, "count", (), G))],
            runbook=runbooks.GPU_TELEMETRY_MISSING,
        ),
        stat_panel(
            "Mean GPU utilisation",
            "Mean share of time a kernel was running, over the selected GPUs.",
            units.PERCENT,
            [Query(gauge(dcgm.GPU_UTIL, "avg", (), G))],
            runbook=runbooks.GPU_IDLE,
        ),
        stat_panel(
            "Mean engine activity",
            "Mean share of time the graphics engine was active (a finer busy measure than utilisation).",
            units.RATIO,
            [Query(gauge(dcgm.GR_ENGINE_ACTIVE, "avg", (), G))],
        ),
        stat_panel(
            "Power draw",
            "Total power drawn by the selected GPUs.",
            units.WATTS,
            [Query(gauge(dcgm.POWER_USAGE, "sum", (), G))],
        ),
        stat_panel(
            "Hottest GPU",
            "Highest GPU die temperature; sustained heat throttles clocks.",
            units.CELSIUS,
            [Query(gauge(dcgm.GPU_TEMP, "max", (), G))],
            runbook=runbooks.GPU_TEMPERATURE,
            thresholds=((None, "green"), (HOT_CELSIUS - 8, "orange"), (HOT_CELSIUS, "red")),
        ),
        stat_panel(
            "GPUs with an XID error",
            "GPUs whose last XID error code is not 0; most XIDs need the pod or the node drained.",
            units.GPUS,
            [Query(or_zero(f"count(({xid}) > 0)", f"count({xid})"))],
            runbook=runbooks.GPU_XID,
            thresholds=((None, "green"), (1, "red")),
        ),
    ]


def _per_gpu() -> list[PanelBuilder]:
    return [
        timeseries_panel(
            "GPU utilisation",
            "Share of time a kernel was running, per GPU (0-100%).",
            units.PERCENT,
            [Query(gauge(dcgm.GPU_UTIL, "avg", GPU, G), GPU_LEGEND)],
            runbook=runbooks.GPU_IDLE,
        ),
        timeseries_panel(
            "Graphics engine activity",
            "Share of time the graphics engine was active, per GPU.",
            units.RATIO,
            [Query(gauge(dcgm.GR_ENGINE_ACTIVE, "avg", GPU, G), GPU_LEGEND)],
            soft_max=1.0,
        ),
        timeseries_panel(
            "Framebuffer memory used",
            "GPU memory in use per GPU; vLLM reserves most of it for the KV cache at start-up.",
            units.MEBIBYTES,
            [Query(gauge(dcgm.FB_USED, "max", GPU, G), GPU_LEGEND)],
            runbook=runbooks.GPU_MEMORY_HIGH,
        ),
        timeseries_panel(
            "Power draw",
            "Power drawn per GPU.",
            units.WATTS,
            [Query(gauge(dcgm.POWER_USAGE, "max", GPU, G), GPU_LEGEND)],
        ),
        timeseries_panel(
            "Temperature",
            "GPU die and memory (HBM) temperature per GPU.",
            units.CELSIUS,
            [
                Query(gauge(dcgm.GPU_TEMP, "max", GPU, G), f"{GPU_LEGEND} die"),
                Query(gauge(dcgm.MEMORY_TEMP, "max", GPU, G), f"{GPU_LEGEND} memory"),
            ],
            FULL,
            runbook=runbooks.GPU_TEMPERATURE,
        ),
        table_panel(
            "XID errors",
            "Last XID error per GPU (0 = none since the exporter started) with NVIDIA's description.",
            units.PLAIN,
            [Query(gauge(dcgm.XID_ERRORS, "max", (*GPU, "err_code", "err_msg"), G), column="Last XID")],
            Size(12, 8),
            runbook=runbooks.GPU_XID,
        ),
        table_panel(
            "Memory row remapping",
            "Rows each GPU remapped after memory errors; a remap failure or uncorrectable rows mean the GPU must go.",
            units.COUNT,
            [
                Query(gauge(dcgm.CORRECTABLE_REMAPPED_ROWS, "max", GPU, G), column="Correctable", unit=units.COUNT),
                Query(gauge(dcgm.UNCORRECTABLE_REMAPPED_ROWS, "max", GPU, G), column="Uncorrectable", unit=units.COUNT),
                Query(gauge(dcgm.ROW_REMAP_FAILURE, "max", GPU, G), column="Remap failed", unit=units.BOOL),
            ],
            Size(12, 8),
            runbook=(runbooks.GPU_UNCORRECTABLE_MEMORY, runbooks.GPU_ROW_REMAP_FAILURE),
        ),
        table_panel(
            "Which pod holds which GPU",
            "Every GPU with the pod, namespace and Deployment it is allocated to (empty when free).",
            units.PERCENT,
            [Query(allocation(), column="Utilisation", unit=units.PERCENT)],
            FULL,
        ),
    ]


def build() -> dashboard.Dashboard:
    nodes = aggregate(dcgm.GPU_UTIL, LAYOUT, "count", ("hostname",))
    board = (
        new_dashboard(
            UID,
            "tokenscale / GPUs",
            "dcgm-exporter per node and GPU: utilisation, engine activity, memory, power, temperature, "
            "XID errors and the pod each GPU is allocated to.",
        )
        # The node label is `Hostname` or `hostname` depending on the exporter version: list the
        # normalised label from a query instead of label_values() on one spelling. The variable is
        # named after the label so alert links (`var-hostname=...`) select the alert's node.
        .with_variable(query_variable("hostname", "Node", f"query_result({nodes})", regex='/hostname="([^"]+)"/'))
        .with_variable(query_variable("gpu", "GPU", label_values("gpu", (dcgm.GPU_UTIL,), HOSTNAME_FILTER)))
    )
    return with_sections(board, [("Now", _stats()), ("Per GPU", _per_gpu())])
