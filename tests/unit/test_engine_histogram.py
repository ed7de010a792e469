"""Bulk histogram observations equal the same observations made one by one."""

from __future__ import annotations

import math

import pytest

from serving.engine import Histogram, request_token_buckets
from serving.engine.histogram import INTER_TOKEN_BUCKETS


def one_by_one(first: float, step: float, n: int, weight: int) -> Histogram:
    histogram = Histogram(INTER_TOKEN_BUCKETS)
    for index in range(n):
        histogram.observe(first + index * step, weight)
    return histogram


@pytest.mark.parametrize(
    ("first", "step", "n", "weight"),
    [(0.007, 0.00013, 5000, 3), (0.02, 0.0, 10, 2), (0.5, -0.01, 40, 1), (0.011, 0.5, 1, 7), (0.01, 0.005, 3, 1)],
)
def test_progression_equals_individual_observations(first: float, step: float, n: int, weight: int) -> None:
    bulk = Histogram(INTER_TOKEN_BUCKETS)
    bulk.observe_progression(first, step, n, weight)
    expected = one_by_one(first, step, n, weight)
    assert bulk.bucket_counts == expected.bucket_counts
    assert bulk.count == expected.count
    assert bulk.sum == pytest.approx(expected.sum)


def test_le_semantics_and_cumulative() -> None:
    histogram = Histogram((1.0, 2.0))
    histogram.observe(1.0)
    histogram.observe(1.5)
    histogram.observe(9.0)
    assert histogram.cumulative() == [(1.0, 1), (2.0, 2), (math.inf, 3)]
    assert histogram.quantile(0.5) == pytest.approx(1.5)


def test_request_token_buckets_follow_1_2_5_up_to_max_model_len() -> None:
    assert request_token_buckets(8192) == (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
    assert request_token_buckets(10) == (1, 2, 5, 10)
    assert request_token_buckets(131072)[-1] == 100000
