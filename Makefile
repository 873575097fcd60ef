# dhnet - every target calls a script in bin/ so that CI (.ci/run) and people run the same thing.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup check test parity goldens bench demo clean

setup: $(VENV)/.stamp-setup

$(VENV)/.stamp-setup: pyproject.toml setup.py src/dhnet/surveillance/_irls.c
	PYTHON=$(PYTHON) bin/setup
	touch $@

check: setup
	bin/check

test: setup check
	bin/test

# Regenerate the R goldens (installs Debian's r-cran-surveillance when missing) and compare.
goldens: setup
	bin/goldens

parity: goldens
	bin/test tests/surveillance -k "parity or golden"

bench: setup
	bin/bench

demo: setup
	bin/demo

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache var
