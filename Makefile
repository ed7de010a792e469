# tokenscale developer entry points. `make demo` and `make test` do their own set-up.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Kubernetes binaries are built from the Go module proxy and cached outside the repository.
export TOKENSCALE_CACHE_DIR ?= $(HOME)/.cache/tokenscale
APT_PACKAGES := prometheus prometheus-alertmanager

.PHONY: setup setup-apt setup-venv setup-k8s demo demo-short test lint unit bench generate check-generated clean

setup: setup-apt setup-venv setup-k8s

# Idempotent: only calls apt when a binary is missing.
setup-apt:
	@if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null \
	    || ! command -v prometheus-alertmanager >/dev/null || ! command -v amtool >/dev/null; then \
	  echo "installing $(APT_PACKAGES) from Debian"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $(APT_PACKAGES); \
	else echo "prometheus, promtool, prometheus-alertmanager and amtool present"; fi

setup-venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

setup-k8s:
	.ci/build-k8s.sh

demo: setup
	$(PY) -m scaler.cli demo

demo-short: setup
	$(PY) -m scaler.cli demo --short

lint: setup-venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy metrics scaler serving alerts dashboards tests
	$(VENV)/bin/lint-imports

test: setup lint
	$(PY) -m pytest -q

unit: setup-venv
	$(PY) -m pytest -q -m "not integration and not e2e"

bench: setup
	$(PY) -m scaler.cli bench

generate: setup-venv
	$(PY) -m alerts.build
	$(PY) -m dashboards.build
	$(PY) -m tests.alerts.rulecases

check-generated: setup-venv
	$(PY) -m alerts.build --check
	$(PY) -m dashboards.build --check

clean:
	rm -rf build dist .mypy_cache .ruff_cache .pytest_cache
