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
# make dev listens on this address only: the UI can start runs, so it stays on this machine
# unless you say otherwise (DEV_HOST=0.0.0.0 make dev, behind your own access control).
DEV_HOST ?= 127.0.0.1
DEV_PORT ?= 3000

.PHONY: install install-spark run dev test test-slow test-spark lint docs reliability bench clean

# uv itself, in a private bootstrap venv, so the only prerequisite is Python 3.11.
$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The project venv as uv.lock pins it. One stamp per flavour: .synced (the default packages) and
# .synced-spark (those plus the spark extra: dbt-spark, pyspark). The default sync is
# --inexact, so `make run` after `make test` keeps pyspark instead of uninstalling it; the spark
# sync installs a superset of the default one, so it stamps both.
# --compile-bytecode writes every package's .pyc files at install time (about 12 s): where
# Python may not write them itself (PYTHONDONTWRITEBYTECODE, as in containers and CI), every
# process would otherwise compile dagster, dbt and their dependencies from source again: about
# 3 s at each start of the pipeline and 2 s at each dbt call (benchmarks/README.md).
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --inexact --compile-bytecode --python $(PYTHON)
	@touch $@

$(VENV)/.synced-spark: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON) --extra spark
	@touch $@ $(VENV)/.synced

install: $(VENV)/.synced

install-spark: $(VENV)/.synced-spark

# The instance settings (dagster.yaml: one refresh run in progress at a time), refreshed when the
# repository's copy changes.
$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

## make run: generate the sample company if data/raw is empty, refresh, print the headline.
run: install $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/python -m orchestration.run --accounts $(ACCOUNTS) --seed $(SEED)

## make dev: the Dagster UI on http://127.0.0.1:3000 (DEV_HOST, DEV_PORT)
dev: install $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dbt parse --project-dir dbt_project --profiles-dir dbt_project --quiet
	$(VENV)/bin/dagster dev -m orchestration.definitions -h $(DEV_HOST) -p $(DEV_PORT)

## make test: the default suite (what CI runs), the Spark parity test included.
test: install-spark
	$(VENV)/bin/ruff check orchestration sample_company tests benchmarks
	$(VENV)/bin/python -m pytest -m "not slow"

test-slow: install
	$(VENV)/bin/python -m pytest -m slow

test-spark: install-spark
	CS_SPARK_PARITY_ALL_TESTS=1 $(VENV)/bin/python -m pytest -m spark

lint: install
	$(VENV)/bin/ruff check orchestration sample_company tests benchmarks

## make docs: dbt docs and Great Expectations data docs from the published file, in build/docs/
docs: install
	$(VENV)/bin/python -m orchestration.lib.contract
	$(VENV)/bin/python -m orchestration.lib.docs_site --out build/docs

## make reliability: the broken-export corpus through the loader and the raw gate (fast table),
## killed runs, two refreshes at once and ten readers during a run, then every corpus case through
## the whole refresh from the published file of a clean run (full table: published file intact?).
## About an hour on 2 cores; RELIABILITY_FULL=0 skips the last part (a few minutes then).
RELIABILITY_FULL ?= 1
reliability: install $(DAGSTER_HOME)/dagster.yaml
	rm -rf build/reliability
	$(VENV)/bin/python -m tests.reliability.make_corpus build/reliability/corpus
	$(VENV)/bin/python -m orchestration.lib.reliability build/reliability/corpus build/reliability/work
	$(VENV)/bin/python -m orchestration.lib.reliability_runs --work build/reliability/runs
	if [ "$(RELIABILITY_FULL)" = 1 ]; then \
	  $(VENV)/bin/python -m orchestration.lib.reliability build/reliability/corpus build/reliability/full \
	    --full --published build/reliability/runs/baseline/cs_metrics.duckdb; fi

## make bench PROFILE=small REPEAT=3: floor, pipeline, pandas notebook, daily incremental run
PROFILE ?= small
REPEAT ?= 3
bench: install $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/python -m benchmarks.bench --profile $(PROFILE) --repeat $(REPEAT)

clean:
	rm -rf $(VENV) .uv dbt_project/target dbt_project/logs .pytest_cache build
