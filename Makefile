# The two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.bench-stamp
WEB_STAMP := web/node_modules/.installed-stamp
# The test OpenID Provider (oidc-provider) the single sign-on tests start.
OIDC_STAMP := tests/oidc/node_modules/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install web web-deps oidc-provider lint typecheck pytest web-test e2e openapi gen-api asyncapi gen-protocol bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "chatapi needs Python 3.11+"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web-deps: $(if $(wildcard web/package.json),$(WEB_STAMP))

$(OIDC_STAMP): tests/oidc/package.json tests/oidc/package-lock.json
	cd tests/oidc && npm ci --no-audit --no-fund
	touch $@

oidc-provider: $(OIDC_STAMP)

web: web-deps
	@if [ -f web/package.json ]; then cd web && npm run build; fi

run: install web
	$(BIN)/chatapi migrate
	$(BIN)/chatapi serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check src tests bench alembic
	$(BIN)/ruff format --check src tests bench alembic
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

# One worker per CPU (pytest-xdist); a module's tests stay on one worker (its servers
# are module fixtures). PYTEST_ARGS= runs them in one process.
PYTEST_ARGS ?= -n auto --dist loadfile
pytest: install web-deps oidc-provider
	$(BIN)/pytest $(PYTEST_ARGS)

web-test: web oidc-provider
	@if [ -f web/package.json ]; then cd web && npm run format:check && npm test && npm run test:e2e; fi

test: lint typecheck pytest web-test

openapi: install
	@mkdir -p var
	$(BIN)/chatapi openapi > var/openapi.json

gen-api: openapi web-deps
	cd web && npm run gen:api

asyncapi: install
	@mkdir -p var
	$(BIN)/chatapi asyncapi > var/asyncapi.json

gen-protocol: asyncapi web-deps
	cd web && npm run gen:protocol

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) web/node_modules web/dist tests/oidc/node_modules .mypy_cache .pytest_cache .ruff_cache
