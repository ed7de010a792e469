"""Read a price file (`--prices FILE`): YAML overrides of the built-in GPU prices.

    # dollars per GPU-hour; every section is optional
    gpus:                          # replaces the built-in price of these GPU models
      H100: {on_demand: 4.10, spot: 2.05}
      L4: 0.70                     # on-demand only; spot is then half of it
      NVIDIA L40S: 1.10            # any dcgm modelName works as a key
    namespaces:                    # every Deployment in the namespace, unless its autoscaler says otherwise
      research: 2.00               # all GPU models
      prod: {default: 4.00, H100: 5.50}
    opencost: true                 # use OpenCost's node_gpu_hourly_cost when present (default true)

Precedence is in metrics/cost/prices.py.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from metrics.cost.prices import PriceBook, price_book_from_dict


def load_price_book(path: Path | None) -> PriceBook:
    """The price book for `path`, or the built-in one when path is None. Errors name the file."""
    if path is None:
        return PriceBook()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"price file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"price file {path}: not valid YAML: {exc}") from exc
    try:
        return price_book_from_dict(raw)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
