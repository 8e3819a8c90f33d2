# Two commands do all the set-up: `make demo` and `make test`. `make ui` opens the Dagster UI.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export GTM_FEEDBACK_HOME ?= $(CURDIR)/.gtm_feedback
export DAGSTER_HOME ?= $(GTM_FEEDBACK_HOME)/dagster_home

.PHONY: install demo test ui lint validate bench-smoke clean

$(STAMP): pyproject.toml
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (set PY=python3.11)")'
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade --quiet pip
	# torch first and pinned: it resolves to the CPU wheel; unpinned, pip may pick a CUDA build.
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/gtm-feedback demo

test: install validate lint
	$(BIN)/python -m pytest

validate: install
	@mkdir -p "$(DAGSTER_HOME)"
	$(BIN)/dagster definitions validate -m gtm_feedback_dagster.definitions

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

ui: install
	@mkdir -p "$(DAGSTER_HOME)"
	$(BIN)/gtm-feedback db upgrade
	$(BIN)/dagster dev -w workspace.yaml

bench-smoke: install
	$(BIN)/python -m bench.run --smoke

# Builds the image and runs deploy/docker-compose.yaml end to end (needs root for dockerd; see
# docs/operations.md). Not part of `make test`.
.PHONY: docker-test
docker-test: install
	PYBIN=$(BIN)/python deploy/docker-test.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
