# TDS Ledger — developer and CI entry points.
#
#   make test    install if needed, then run the whole suite (SQLite and PostgreSQL)
#   make run     start a demo ledger:   make run DATA_DIR=/tmp/demo PORT=8080
#   make bench   run every benchmark script in scripts/bench/
#   make clean   remove caches and build output (distclean also removes .venv, node_modules)
#
# The install steps are re-run only when pyproject.toml (or package.json / its lock)
# is newer than the stamp left by the last install, so a repeated `make test` is fast.
# `make run` installs only what running needs (the package); `make test` adds the test
# and benchmark extras, the npm tools (solc, anvil) and Debian's chromium, chromium-driver and fonts-noto-cjk.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
STAMP  := $(VENV)/.install-stamp
RUN_STAMP := $(VENV)/.install-run-stamp

DATA_DIR ?= ./data
HOST     ?= 127.0.0.1
PORT     ?= 8000

PYTEST_WORKERS ?= 2
PYTEST_ARGS    ?=
TDSL_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export TDSL_TEST_POSTGRES_URL

# Node tools (anvil, solc) that package.json may add later are found on PATH.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

# npm hook: only when the repo has a package.json.
ifneq ($(wildcard package.json),)
NPM_STAMP := node_modules/.install-stamp
endif

.PHONY: venv install install-run compile run test bench clean distclean

venv: install
install: $(STAMP) $(NPM_STAMP)
install-run: $(RUN_STAMP)

$(VPY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "error: $(PYTHON) is $$($(PYTHON) -V 2>&1); Python 3.11+ is required (make PYTHON=python3.12 ...)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VPY)
	$(VPY) -m pip install -e '.[test,bench]'
	@touch $@ $(RUN_STAMP)

$(RUN_STAMP): pyproject.toml | $(VPY)
	$(VPY) -m pip install -e .
	@touch $@

$(NPM_STAMP): package.json $(wildcard package-lock.json)
	npm ci --no-audit --no-fund
	@mkdir -p $(@D) && touch $@

# Byte-compile the package (only what changed since the last time). Python reads these
# even where PYTHONDONTWRITEBYTECODE is set (this kind of machine sets it), which
# otherwise compiles every module of the editable install at every start: `tdsl verify`
# took 0.37 s instead of 0.26 s (scripts/bench/cli.py).
compile: | $(VPY)
	@$(VPY) -m compileall -q ledger api >/dev/null

# The demo's operator keystore password: yours if set, else a fixed demo-only one.
run: install-run compile
	TDSL_KEYSTORE_PASSWORD="$${TDSL_KEYSTORE_PASSWORD:-demo}" $(VENV)/bin/tdsl demo --data-dir $(DATA_DIR) --host $(HOST) --port $(PORT)

# The passport page's browser test (tests/test_passport_browser.py) drives Debian's
# Chromium through its ChromeDriver; CI runs as root, elsewhere sudo is asked for.
# The Chinese page needs a CJK font to render (Noto Sans CJK, as on Android phones).
CHROMEDRIVER := /usr/bin/chromedriver
CJK_FONT     := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
APT_INSTALL  = if [ "$$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq
$(CHROMEDRIVER):
	@$(APT_INSTALL) chromium chromium-driver
$(CJK_FONT):
	@$(APT_INSTALL) fonts-noto-cjk

test: install compile $(CHROMEDRIVER) $(CJK_FONT)
	$(VPY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup tests $(PYTEST_ARGS)

bench: install compile
	@shopt -s nullglob; scripts=(scripts/bench/[!_]*.py); \
	if (( $${#scripts[@]} == 0 )); then echo "no benchmark scripts in scripts/bench/"; exit 0; fi; \
	for script in "$${scripts[@]}"; do \
	  echo "== $$script"; \
	  $(VPY) "$$script"; \
	done

clean:
	rm -rf build dist *.egg-info .pytest_cache .hypothesis
	find . -path ./$(VENV) -prune -o -path ./node_modules -prune -o \
	  -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) node_modules
