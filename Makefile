# Referkit — `make run` to try it, `make test` to check it.
SHELL := /bin/bash
# The first interpreter that really runs and is 3.11+ (a pyenv shim may exist without one).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; \
	done)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck pytest sdk install install-dev clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Referkit needs Python 3.11+ (python3.11 or newer on PATH)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Referkit needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Create .venv, install, migrate ./data/referkit.db, seed a demo workspace, serve on :8000.
run: $(VENV)/.installed
	$(BIN)/referkit serve --demo --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy src

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest

## The Python SDK (clients/python): lint, mypy --strict, its tests against the live app.
sdk: $(VENV)/.installed-dev
	$(BIN)/pip install --quiet -e clients/python
	$(BIN)/ruff format --check clients
	$(BIN)/ruff check clients
	cd clients/python && ../../$(BIN)/mypy --strict src examples && ../../$(BIN)/pytest tests

## Lint, type-check and run the whole suite (PostgreSQL too when REFERKIT_TEST_DATABASE_URL is set).
test: lint typecheck pytest sdk

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
