# darkmoments: every target works on a fresh machine from nothing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: venv install demo test test-all lint format bench templates studies clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PIP) install --quiet -e ".[test]"
	touch $(STAMP)

venv install: $(STAMP)

# The main job on shipped data: cross sections, a small event sample, a reach table.
demo: $(STAMP)
	$(PY) -m darkmoments.demo

# Default suite (< 15 min on 2 cores).  `make test-all` adds the slow checks.
test: $(STAMP)
	$(PY) -m pytest -q -n 2 -m "not slow"

test-all: $(STAMP)
	$(PY) -m pytest -q -n 2

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests studies benchmarks
	$(VENV)/bin/ruff format --check src tests studies benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format src tests studies benchmarks
	$(VENV)/bin/ruff check --fix src tests studies benchmarks

bench: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) benchmarks/run.py

templates: $(STAMP)
	$(VENV)/bin/darkmoments templates build --out templates

# Full studies (minutes each); outputs in studies/results/<name>/.  FAST=1 for smoke runs.
studies: $(STAMP)
	for s in studies/*.py; do n=$$(basename $$s .py); \
	  $(PY) $$s --out studies/results/$$n $(if $(FAST),--fast,) || exit 1; done

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
