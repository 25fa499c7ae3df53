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
# uv installs every dependency at the exact version uv.lock names; uv itself is pinned here and
# kept in its own small environment (.tools) so `uv sync` never removes it.
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
# Never download an interpreter and never let a newer registry release change what gets installed.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test lint typecheck pytest sdk install install-dev lock clean

$(UV):
	@test -n "$(PYTHON)" || { echo "Referkit needs Python 3.11+ (python3.11 or newer on PATH)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Referkit needs Python 3.11+")'
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Runtime dependencies only, exactly as locked (--inexact keeps dev tools installed by `make test`).
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --inexact --no-dev --python "$$(command -v $(PYTHON))" --quiet
	@touch $@

# Runtime and dev dependencies, exactly as locked.
$(VENV)/.installed-dev: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --extra dev --python "$$(command -v $(PYTHON))" --quiet
	@touch $@ $(VENV)/.installed

## Refresh uv.lock on purpose after editing pyproject.toml (newest versions the bounds allow).
lock: | $(UV)
	$(UV) lock --upgrade --python "$$(command -v $(PYTHON))"

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

# pytest-xdist: one worker per core (PYTEST_WORKERS=0 runs in one process); whole files stay
# together so each file's module-scoped servers and browsers start once.
PYTEST_WORKERS ?= auto
pytest: $(VENV)/.installed-dev
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

## The Python SDK (clients/python): lint, mypy --strict, its tests against the live app.
sdk: $(VENV)/.installed-dev
	$(UV) pip install --quiet --no-deps --python $(BIN)/python -e clients/python
	$(BIN)/ruff format --check clients
	$(BIN)/ruff check clients
	cd clients/python && ../../$(BIN)/mypy --strict src examples && ../../$(BIN)/pytest tests

## Lint, type-check and run the whole suite (PostgreSQL too when REFERKIT_TEST_DATABASE_URL is set).
test: lint typecheck pytest sdk

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache .hypothesis
