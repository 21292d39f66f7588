# The two commands a newcomer needs: `make run` and `make test`.
# Both create .venv when missing and (re)install the project when setup.cfg changes.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

# Debian packages the tests and the PDF/browser/mail features need.
APT_PACKAGES := chromium libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
	poppler-utils postgresql redis-server wrk

.PHONY: run test bench load audit sysdeps lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

sysdeps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Missing Debian packages; run: sudo apt-get install -y$$missing"; \
	  fi; \
	fi

# A fresh clone has no secret: write instance/config.py with a random SECRET_KEY once.
instance/config.py:
	mkdir -p instance
	umask 077 && $(PYTHON) -c 'import secrets; print("SECRET_KEY = " + repr(secrets.token_hex(32)))' > $@

run: $(VENV)/.installed instance/config.py
	$(BIN)/b12planner db upgrade
	B12_SERVER_NAME="$${B12_SERVER_NAME:-$(HOST):$(PORT)}" \
	  $(BIN)/b12planner run --host $(HOST) --port $(PORT)

test: sysdeps $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: sysdeps $(VENV)/.installed-test
	$(BIN)/python benchmarks/plan_bench.py
	$(BIN)/python benchmarks/mail_bench.py

# gunicorn with production settings (2 workers, 127.0.0.1) under wrk: 60 s per endpoint,
# about 4 minutes; LOAD_ARGS="--duration 20" for a quick look. Not part of make test.
load: sysdeps $(VENV)/.installed-test
	$(BIN)/python benchmarks/load.py $(LOAD_ARGS)

# Known vulnerabilities in the installed dependencies (pip-audit; exit 1: found,
# exit 3: the audit could not be completed; see .ci/audit.py).
audit: $(VENV)/.installed-test
	$(BIN)/python .ci/audit.py

# ruff over everything (ruff.toml), mypy strict over planner/domain and foods (setup.cfg).
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache test-artifacts
