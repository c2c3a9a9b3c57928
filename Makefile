# Two commands for a new user: `make run` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .uv/bin/uv
VENV := .venv
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

ACCOUNTS ?= 200
SEED ?= 7

.PHONY: install install-spark run dev test test-slow test-spark lint docs clean

# uv itself, in a private bootstrap venv, so the only prerequisite is Python 3.11.
$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The project venv as uv.lock pins it. One stamp per flavour: .synced (the default packages) and
# .synced-spark (those plus the spark extra: dbt-spark, pyspark). The default sync is
# --inexact, so `make run` after `make test` keeps pyspark instead of uninstalling it; the spark
# sync installs a superset of the default one, so it stamps both.
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --inexact --python $(PYTHON)
	@touch $@

$(VENV)/.synced-spark: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON) --extra spark
	@touch $@ $(VENV)/.synced

install: $(VENV)/.synced

install-spark: $(VENV)/.synced-spark

$(DAGSTER_HOME):
	mkdir -p $(DAGSTER_HOME)

## make run: generate the sample company if data/raw is empty, refresh, print the headline.
run: install | $(DAGSTER_HOME)
	$(VENV)/bin/python -m orchestration.run --accounts $(ACCOUNTS) --seed $(SEED)

## make dev: the Dagster UI on http://localhost:3000
dev: install | $(DAGSTER_HOME)
	$(VENV)/bin/dbt parse --project-dir dbt_project --profiles-dir dbt_project --quiet
	$(VENV)/bin/dagster dev -m orchestration.definitions -h 127.0.0.1 -p 3000

## make test: the default suite (what CI runs), the Spark parity test included.
test: install-spark
	$(VENV)/bin/ruff check orchestration sample_company tests
	$(VENV)/bin/python -m pytest -m "not slow"

test-slow: install
	$(VENV)/bin/python -m pytest -m slow

test-spark: install-spark
	CS_SPARK_PARITY_DATA_TESTS=1 $(VENV)/bin/python -m pytest -m spark

lint: install
	$(VENV)/bin/ruff check orchestration sample_company tests

## make docs: dbt docs and Great Expectations data docs from the published file, in build/docs/
docs: install
	$(VENV)/bin/python -m orchestration.lib.contract
	$(VENV)/bin/python -m orchestration.lib.docs_site --out build/docs

clean:
	rm -rf $(VENV) .uv dbt_project/target dbt_project/logs .pytest_cache build
