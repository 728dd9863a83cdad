# The common jobs. `make run` brings the product up; `make test` installs what it needs and passes.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the browser softphone's SIP library, bundled from npm (deploy/scripts/install-web.sh)
WEB := pbx/portal/npm
JSSIP := pbx/portal/static/portal/vendor/jssip.min.js
SUDO := $(if $(filter 0,$(shell id -u)),,sudo -n)

.PHONY: install services run test lint format bench clean

install: $(STAMP) $(JSSIP)

# A fresh Debian's python3 has no venv module (python3.11 only suggests python3-venv).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -c 'import ensurepip' 2>/dev/null || \
	  { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq python3-venv python3.11-venv >/dev/null; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(JSSIP): $(WEB)/package.json $(WEB)/package-lock.json $(WEB)/jssip-entry.js
	bash deploy/scripts/install-web.sh

services:
	bash deploy/scripts/ensure-services.sh
	bash deploy/kamailio/install.sh
	bash deploy/scripts/install-browser.sh

run: install
	bash deploy/scripts/ensure-services.sh --optional
	bash deploy/kamailio/install.sh || echo "[run] could not install Kamailio: running without the engine"
	$(BIN)/python deploy/dev/run.py

test: install services
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/pytest -q -p no:cacheprovider tests/pbx/test_import_layers.py

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install services
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) var $(WEB)/node_modules $(dir $(JSSIP)) .pytest_cache .mypy_cache .ruff_cache
