"""Flag parsing: sensible defaults, and every bad value named with its flag."""

from __future__ import annotations

import argparse

import pytest

from serving.activator.config import ENDPOINTS_HEALTH, ENDPOINTS_SLICES, ConfigError, add_arguments, from_args


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["--upstream", "http://llama-8b.inference.svc:8000", "--deployment", "llama-8b", *argv])


def test_defaults() -> None:
    config = from_args(_parse(), environ={})
    assert str(config.upstream) == "http://llama-8b.inference.svc:8000"
    assert (config.namespace, config.service) == ("default", "llama-8b")
    assert config.endpoints == ENDPOINTS_HEALTH  # not in a cluster
    assert config.wake_lease == "llama-8b-wake"
    assert str(config.bind) == "127.0.0.1:8080"
    assert str(config.metrics_bind) == "127.0.0.1:9091"
    assert config.max_queue == 1000
    assert config.hold_timeout_s == 300
    assert config.records_dir is None
    assert config.retry_after_s == 5


def test_in_a_cluster_the_namespace_and_endpointslices_come_from_the_pod() -> None:
    config = from_args(_parse(), environ={"KUBERNETES_SERVICE_HOST": "10.0.0.1", "POD_NAMESPACE": "inference"})
    assert config.endpoints == ENDPOINTS_SLICES
    assert config.namespace == "inference"


def test_durations_and_lease_forms() -> None:
    config = from_args(
        _parse(
            "--hold-timeout", "2m", "--upstream-timeout", "1h", "--health-interval", "250ms", "--wake-lease", "none"
        ),
        environ={},
    )
    assert (config.hold_timeout_s, config.upstream_timeout_s, config.health_interval_s) == (120, 3600, 0.25)
    assert config.wake_lease is None
    assert from_args(_parse("--wake-lease", "custom-wake"), environ={}).wake_lease == "custom-wake"
    assert from_args(_parse("--retry-after", "1.2s"), environ={}).retry_after_s == 2


@pytest.mark.parametrize(
    ("argv", "flag", "value"),
    [
        (("--max-queue", "0"), "--max-queue", "0"),
        (("--max-queue", "many"), "--max-queue", "many"),
        (("--hold-timeout", "soon"), "--hold-timeout", "soon"),
        (("--hold-timeout", "0s"), "--hold-timeout", "0s"),
        (("--upstream-timeout=-1s",), "--upstream-timeout", "-1s"),
        (("--upstream-connect-timeout", "2h"), "--upstream-connect-timeout", "2h"),
        (("--release-rate", "nan"), "--release-rate", "nan"),
        (("--release-rate=-3",), "--release-rate", "-3"),
        (("--release-burst", "0"), "--release-burst", "0"),
        (("--endpoints", "dns"), "--endpoints", "dns"),
        (("--bind-address", "8080"), "--bind-address", "8080"),
        (("--metrics-bind-address", "127.0.0.1:99999"), "--metrics-bind-address", "99999"),
        (("--metrics-bind-address", "127.0.0.1:8080"), "--metrics-bind-address", "127.0.0.1:8080"),
        (("--namespace", "Bad_NS"), "--namespace", "Bad_NS"),
        (("--service", "svc."), "--service", "svc."),
        (("--wake-lease", "UPPER"), "--wake-lease", "UPPER"),
        (("--log-level", "loud"), "--log-level", "loud"),
        (("--event-loop", "trio"), "--event-loop", "trio"),
        (("--records-buffer", "0"), "--records-buffer", "0"),
        (("--max-held-bytes", "1GiB"), "--max-held-bytes", "1GiB"),
        (("--drain-grace=-5s",), "--drain-grace", "-5s"),
    ],
)
def test_bad_values_name_the_flag_and_the_value(argv: tuple[str, ...], flag: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        from_args(_parse(*argv), environ={})
    assert flag in str(info.value)
    assert value in str(info.value)


@pytest.mark.parametrize("upstream", ["llama:8000", "ftp://host", "http://host:8000/v1", "http://host?x=1", "http://"])
def test_bad_upstreams(upstream: str) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--upstream", upstream, "--deployment", "d"])
    with pytest.raises(ConfigError, match="--upstream"):
        from_args(args, environ={})


def test_bad_deployment_name() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(ConfigError, match=r"--deployment.*'Llama_8B'"):
        from_args(parser.parse_args(["--upstream", "http://h:1", "--deployment", "Llama_8B"]), environ={})
