"""GPU names, the price table, price files and which price wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics.cost.gpu_models import gpu_model_key, normalize_gpu_model
from metrics.cost.price_file import load_price_book
from metrics.cost.prices import DEFAULT_PRICES, PriceBook, PriceSource, price_book_from_dict, resolve_price


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("NVIDIA H100 80GB HBM3", "H100"),
        ("NVIDIA-H100-80GB-HBM3", "H100"),  # --replace-blanks-in-model-name, GFD node label
        ("NVIDIA H100 PCIe", "H100"),
        ("NVIDIA A100-SXM4-80GB", "A100-80GB"),
        ("NVIDIA A100 80GB PCIe", "A100-80GB"),
        ("NVIDIA A100-SXM4-40GB", "A100-40GB"),
        ("NVIDIA A100-PCIE-40GB", "A100-40GB"),
        ("NVIDIA L4", "L4"),
        ("NVIDIA A10G", "A10G"),
        ("a100-80gb", "A100-80GB"),
        ("NVIDIA L40S", None),  # contains "L4" but is another GPU
        ("Tesla T4", None),
        ("", None),
    ],
)
def test_dcgm_model_names(name: str, key: str | None) -> None:
    assert normalize_gpu_model(name) == key


def test_defaults_match_the_calibration_table() -> None:
    assert {k: p.on_demand for k, p in DEFAULT_PRICES.items()} == {
        "H100": 6.88,
        "A100-80GB": 3.43,
        "A100-40GB": 2.74,
        "L4": 0.80,
        "A10G": 1.01,
    }
    assert DEFAULT_PRICES["H100"].price(spot=True) == pytest.approx(3.44)


BOOK = price_book_from_dict(
    {
        "gpus": {"H100": {"on_demand": 4.0, "spot": 1.5}, "NVIDIA L40S": 1.1},
        "namespaces": {"research": 2.0, "prod": {"default": 5.0, "L4": 0.5}},
    }
)


def test_precedence() -> None:
    def price(**kw: object) -> tuple[float | None, PriceSource]:
        quote = resolve_price(BOOK, **kw)  # type: ignore[arg-type]
        return quote.price_per_gpu_hour, quote.source

    assert price(namespace="x", gpu_model="H100", autoscaler_price=9.0) == (9.0, PriceSource.AUTOSCALER)
    assert price(namespace="research", gpu_model="H100") == (2.0, PriceSource.NAMESPACE)
    assert price(namespace="prod", gpu_model="NVIDIA L4") == (0.5, PriceSource.NAMESPACE)
    assert price(namespace="prod", gpu_model="H100") == (5.0, PriceSource.NAMESPACE)
    assert price(namespace="x", gpu_model="NVIDIA H100 80GB HBM3") == (4.0, PriceSource.PRICE_FILE)
    assert price(namespace="x", gpu_model="H100", spot=True) == (1.5, PriceSource.PRICE_FILE)
    assert price(namespace="x", gpu_model="NVIDIA L40S") == (1.1, PriceSource.PRICE_FILE)
    assert price(namespace="x", gpu_model="L4", opencost_price=0.7) == (0.7, PriceSource.OPENCOST)
    assert price(namespace="x", gpu_model="L4", opencost_price=0.0) == (0.80, PriceSource.DEFAULT)
    spot_a10g, source = price(namespace="x", gpu_model="A10G", spot=True)
    assert spot_a10g == pytest.approx(0.505) and source is PriceSource.DEFAULT
    assert price(namespace="x", gpu_model="Tesla T4") == (None, PriceSource.UNKNOWN)
    no_opencost = PriceBook(use_opencost=False)
    assert resolve_price(no_opencost, namespace="x", gpu_model="L4", opencost_price=0.7).source is PriceSource.DEFAULT


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"gpu": {}}, "unknown keys"),
        ({"gpus": {"H100": -1}}, "gpus.H100"),
        ({"gpus": {"H100": {"spot": 1}}}, "on_demand"),
        ({"namespaces": {"a": "cheap"}}, "namespaces.a"),
        ({"opencost": "yes"}, "opencost"),
        (["H100"], "mapping"),
    ],
)
def test_price_file_errors_name_the_key(raw: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        price_book_from_dict(raw)  # type: ignore[arg-type]


def test_load_price_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text("gpus:\n  H100: 5.5\nnamespaces:\n  team: {default: 1.0}\nopencost: false\n")
    book = load_price_book(path)
    assert book.gpus["H100"].on_demand == 5.5 and not book.use_opencost
    assert load_price_book(None) == PriceBook()
    (tmp_path / "bad.yaml").write_text("gpus: [")
    with pytest.raises(ValueError, match=r"bad\.yaml"):
        load_price_book(tmp_path / "bad.yaml")
    assert gpu_model_key(None) == "unknown"
