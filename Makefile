# `make test` works on a fresh clone with nothing but Python >= 3.11: it creates .venv,
# installs the project with its dev extra, then runs the linters, the type checker, the tests
# and the strict documentation build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck pytest docs serve-docs demo bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: lint typecheck pytest docs

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs/_ext
	$(BIN)/ruff format --check src tests benchmarks docs/_ext
	$(BIN)/lint-imports --no-logo

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site

# The site with live reload, at http://127.0.0.1:8000 (Ctrl-C stops it).
serve-docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

demo: $(STAMP)
	$(BIN)/purecallerid demo

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) site .mypy_cache .ruff_cache .pytest_cache .hypothesis dist build
