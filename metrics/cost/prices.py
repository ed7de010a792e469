"""GPU prices per GPU-hour: the built-in table, price-file overrides, and which price wins.

Built-in defaults are AWS us-east-1 on-demand list prices divided by the GPUs per instance
(../shared/reference/simulator-calibration.md §4, retrieved 2026-09/11):

| key       | $/GPU-h | instance, $/h                         |
|-----------|---------|---------------------------------------|
| H100      | 6.88    | p5.48xlarge $55.04 / 8 (after the June 2025 cut; Azure ND96isr_H100_v5 $12.29) |
| A100-80GB | 3.43    | p4de.24xlarge $27.447 / 8             |
| A100-40GB | 2.74    | p4d.24xlarge $21.958 / 8              |
| L4        | 0.80    | g6.xlarge $0.8048                     |
| A10G      | 1.01    | g5.xlarge $1.006                      |

Spot prices move hourly per zone, so the defaults are indicative only: half the on-demand price,
the typical hyperscaler H100/A100 spot discount in 2026 (AWS H100 $6.88 on demand vs $3.44 spot;
50-65% below on-demand across AWS, GCP and Azure). Put the prices you actually pay in a price
file (see price_file.py and docs/cost.md).

Which price applies to a Deployment, first match wins:
1. the autoscaler's spec.cost.pricePerGpuHour;
2. the namespace's entry in the price file (per GPU model, or a namespace-wide default);
3. the price file's `gpus` table for the GPU model (spot column when spec.cost.spot);
4. OpenCost's node_gpu_hourly_cost for the nodes that hold the Deployment's GPUs;
5. the built-in table above (spot column when spec.cost.spot).
Explicit configuration beats what is discovered, and what is discovered beats a default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from metrics.cost.gpu_models import A10G, A100_40GB, A100_80GB, H100, L4, gpu_model_key

DEFAULT_SPOT_FRACTION = 0.5


def check_price(what: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{what}: expected a price >= 0 in dollars per GPU-hour, got {value!r}")
    return float(value)


class PriceSource(StrEnum):
    AUTOSCALER = "autoscaler"
    NAMESPACE = "namespace"
    PRICE_FILE = "price-file"
    OPENCOST = "opencost"
    DEFAULT = "default"
    EXPORTED = "exported"  # the controller's tokenscale_gpu_price_dollars_per_hour, read back by the report
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class GpuPrice:
    """Dollars per GPU-hour for one GPU model; spot None means "half of on-demand"."""

    on_demand: float
    spot: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        check_price("on_demand", self.on_demand)
        if self.spot is not None:
            check_price("spot", self.spot)

    def price(self, spot: bool) -> float:
        if not spot:
            return self.on_demand
        return self.spot if self.spot is not None else self.on_demand * DEFAULT_SPOT_FRACTION


_AWS = "AWS us-east-1 on-demand"
DEFAULT_PRICES: Mapping[str, GpuPrice] = MappingProxyType(
    {
        H100: GpuPrice(6.88, source=f"{_AWS}, p5.48xlarge $55.04/h / 8 GPUs"),
        A100_80GB: GpuPrice(3.43, source=f"{_AWS}, p4de.24xlarge $27.447/h / 8 GPUs"),
        A100_40GB: GpuPrice(2.74, source=f"{_AWS}, p4d.24xlarge $21.958/h / 8 GPUs"),
        L4: GpuPrice(0.80, source=f"{_AWS}, g6.xlarge $0.8048/h"),
        A10G: GpuPrice(1.01, source=f"{_AWS}, g5.xlarge $1.006/h"),
    }
)


@dataclass(frozen=True)
class NamespacePrices:
    """A namespace's prices: one for every GPU model (`default`) and/or per GPU model."""

    default: float | None = None
    by_model: Mapping[str, float] = field(default_factory=dict)

    def price_for(self, gpu_model: str) -> float | None:
        return self.by_model.get(gpu_model, self.default)


@dataclass(frozen=True)
class PriceBook:
    """Built-in prices plus what a price file overrides. The default book is the built-in table."""

    gpus: Mapping[str, GpuPrice] = field(default_factory=dict)
    namespaces: Mapping[str, NamespacePrices] = field(default_factory=dict)
    use_opencost: bool = True

    def table_price(self, gpu_model: str, spot: bool) -> tuple[float, PriceSource] | None:
        if gpu_model in self.gpus:
            return self.gpus[gpu_model].price(spot), PriceSource.PRICE_FILE
        if gpu_model in DEFAULT_PRICES:
            return DEFAULT_PRICES[gpu_model].price(spot), PriceSource.DEFAULT
        return None


@dataclass(frozen=True)
class PriceQuote:
    """The price that applies, where it came from, and the GPU model it was looked up for."""

    price_per_gpu_hour: float | None
    source: PriceSource
    gpu_model: str
    spot: bool = False


def resolve_price(
    book: PriceBook,
    *,
    namespace: str,
    gpu_model: str | None,
    spot: bool = False,
    autoscaler_price: float | None = None,
    opencost_price: float | None = None,
) -> PriceQuote:
    """The price per GPU-hour for one Deployment (precedence in the module docstring).

    `gpu_model` may be a dcgm modelName, a table key or None (unknown). `opencost_price` is the
    GPU-weighted node_gpu_hourly_cost of the Deployment's nodes when Prometheus has it; a zero
    from OpenCost means "not priced" (its custom-pricing default for unknown GPUs), not "free".
    """
    model = gpu_model_key(gpu_model)
    if autoscaler_price is not None:
        return PriceQuote(check_price("pricePerGpuHour", autoscaler_price), PriceSource.AUTOSCALER, model, spot)
    ns = book.namespaces.get(namespace)
    if ns is not None:
        ns_price = ns.price_for(model)
        if ns_price is not None:
            return PriceQuote(ns_price, PriceSource.NAMESPACE, model, spot)
    if model in book.gpus:
        return PriceQuote(book.gpus[model].price(spot), PriceSource.PRICE_FILE, model, spot)
    if book.use_opencost and opencost_price is not None and math.isfinite(opencost_price) and opencost_price > 0:
        return PriceQuote(opencost_price, PriceSource.OPENCOST, model, spot)
    if model in DEFAULT_PRICES:
        return PriceQuote(DEFAULT_PRICES[model].price(spot), PriceSource.DEFAULT, model, spot)
    return PriceQuote(None, PriceSource.UNKNOWN, model, spot)


def price_book_from_dict(raw: Mapping[str, object] | None) -> PriceBook:
    """Parse a price file's content (see price_file.py for the format); errors name the key."""
    if raw is None:
        return PriceBook()
    if not isinstance(raw, Mapping):
        raise ValueError(f"price file: expected a mapping at the top level, got {type(raw).__name__}")
    unknown = set(raw) - {"gpus", "namespaces", "opencost"}
    if unknown:
        raise ValueError(f"price file: unknown keys {sorted(unknown)} (expected gpus, namespaces, opencost)")
    gpus: dict[str, GpuPrice] = {}
    for name, entry in _mapping(raw.get("gpus"), "gpus").items():
        key = gpu_model_key(str(name))
        if isinstance(entry, Mapping):
            extra = set(entry) - {"on_demand", "spot"}
            if extra or "on_demand" not in entry:
                raise ValueError(f"price file: gpus.{name}: expected {{on_demand: X, spot: Y}}, got {dict(entry)}")
            spot = entry.get("spot")
            gpus[key] = GpuPrice(
                check_price(f"gpus.{name}.on_demand", entry["on_demand"]),
                None if spot is None else check_price(f"gpus.{name}.spot", spot),
                source="price file",
            )
        else:
            gpus[key] = GpuPrice(check_price(f"gpus.{name}", entry), source="price file")  # type: ignore[arg-type]
    namespaces: dict[str, NamespacePrices] = {}
    for ns, entry in _mapping(raw.get("namespaces"), "namespaces").items():
        if isinstance(entry, Mapping):
            by_model = {
                gpu_model_key(str(k)): check_price(f"namespaces.{ns}.{k}", v)
                for k, v in entry.items()
                if k != "default"
            }
            default = entry.get("default")
            namespaces[str(ns)] = NamespacePrices(
                None if default is None else check_price(f"namespaces.{ns}.default", default), by_model
            )
        else:
            namespaces[str(ns)] = NamespacePrices(check_price(f"namespaces.{ns}", entry))  # type: ignore[arg-type]
    use_opencost = raw.get("opencost", True)
    if not isinstance(use_opencost, bool):
        raise ValueError(f"price file: opencost: expected true or false, got {use_opencost!r}")
    return PriceBook(MappingProxyType(gpus), MappingProxyType(namespaces), use_opencost)


def _mapping(value: object, key: str) -> Mapping[str, object]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"price file: {key}: expected a mapping, got {value!r}")
    return value
