# The two set-up commands of README.md: `make run` and `make test`.
# Both create .venv and install the project into it first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install run test lint browser test-sqlite test-postgres bench load translations clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/ledger init
	@echo ""
	@echo "  Public API:      http://$(HOST):$(PORT)/api/v1/log/checkpoint"
	@echo "  Log entries:     http://$(HOST):$(PORT)/api/v1/log/entries"
	@echo "  OpenAPI:         http://$(HOST):$(PORT)/api/v1/openapi.json"
	@echo ""
	$(BIN)/ledger serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The receipt page's own verifier is tested in Debian's Chromium (tests/browser/).
browser:
	command -v chromium >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

test-sqlite: install browser
	$(BIN)/pytest $(PYTEST_ARGS)

test-postgres: install browser
	scripts/with-postgres $(BIN)/pytest -m "not setup_commands" $(PYTEST_ARGS)

# The two database passes run side by side (each is one pytest process, one core);
# each pass's output is printed whole when it ends.
test: lint browser
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# The running service under wrk (Debian's package) on SQLite and PostgreSQL.
load: install
	command -v wrk >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk)
	$(BIN)/python -m bench.load $(LOAD_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# The pages' message catalogues: extract the marked messages, merge them into each
# language's .po file, and compile the .mo files the app reads (both are committed).
# TRANSLATIONS=file.json adds translations: {"Vietnamese": "English"}.
translations: install
	$(BIN)/python scripts/translate $(TRANSLATIONS)
