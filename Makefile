# darkmoments: every target works on a fresh machine from nothing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs

# Other dependency sets, each in its own venv (created on first use):
#   make test-newest  the newest releases of every dependency (pip install --upgrade, eager)
#   make test-oldest  the lower bounds of pyproject.toml (ci/oldest-constraints.txt)
NEWEST_VENV ?= .venv-newest
OLDEST_VENV ?= .venv-oldest
# Default test selection and parallelism (2 cores).
PYTEST_ARGS ?= -q -n 2 -m "not slow"

.PHONY: venv install demo test test-all test-newest test-oldest lint format docs bench templates \
	studies clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# [test] pulls [all] = [plot] (matplotlib, mplhep) + [dask] (dask, distributed); [lint] is
# mypy and its stub packages (`make lint`; the newest/oldest sets do not need them).
$(STAMP): $(PY) pyproject.toml
	$(PIP) install --quiet -e ".[test,lint]"
	touch $(STAMP)

venv install: $(STAMP)

# The main job on shipped data: cross sections, a small event sample, a reach table.
demo: $(STAMP)
	MPLBACKEND=Agg $(PY) -m darkmoments.demo

# Default suite (< 15 min on 2 cores).  `make test-all` adds the slow checks.
test: $(STAMP)
	MPLBACKEND=Agg $(PY) -m pytest $(PYTEST_ARGS)

test-all: $(STAMP)
	MPLBACKEND=Agg $(PY) -m pytest -q -n 2

# The same suite against the newest release of every dependency (no cap in pyproject.toml).
test-newest:
	test -x $(NEWEST_VENV)/bin/python || $(PYTHON) -m venv $(NEWEST_VENV)
	$(NEWEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(NEWEST_VENV)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e ".[test]"
	$(NEWEST_VENV)/bin/python -m pip list --format=freeze > $(NEWEST_VENV)/versions.txt
	@grep -iE '^(numpy|scipy|iminuit|pyhf|pandas|matplotlib|mplhep|hist|h5py|dask)==' \
	  $(NEWEST_VENV)/versions.txt | tr '\n' ' '; echo
	MPLBACKEND=Agg $(NEWEST_VENV)/bin/python -m pytest $(PYTEST_ARGS) -p no:cacheprovider

# The same suite against the oldest supported set (the lower bounds in pyproject.toml).
test-oldest:
	test -x $(OLDEST_VENV)/bin/python || $(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST_VENV)/bin/python -m pip install --quiet -c ci/oldest-constraints.txt -e ".[test]"
	$(OLDEST_VENV)/bin/python -m pip list --format=freeze > $(OLDEST_VENV)/versions.txt
	@grep -iE '^(numpy|scipy|iminuit|pyhf|pandas|matplotlib|mplhep|hist|h5py|dask)==' \
	  $(OLDEST_VENV)/versions.txt | tr '\n' ' '; echo
	MPLBACKEND=Agg $(OLDEST_VENV)/bin/python -m pytest $(PYTEST_ARGS) -p no:cacheprovider

# ruff on everything, then mypy on src/ ([tool.mypy] in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests studies benchmarks
	$(VENV)/bin/ruff format --check src tests studies benchmarks
	$(VENV)/bin/mypy

# The documentation site (mkdocs.yml): API reference from the docstrings, tutorial, physics
# pages; --strict turns every warning (a broken link, a docstring griffe cannot parse) into an
# error.  The [docs] extra is installed here only, so `make test` stays lean.
$(DOCS_STAMP): $(STAMP)
	$(PIP) install --quiet -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

format: $(STAMP)
	$(VENV)/bin/ruff format src tests studies benchmarks
	$(VENV)/bin/ruff check --fix src tests studies benchmarks

bench: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) benchmarks/run.py

# Every shipped template file, as shipped (resumable: finished templates are skipped):
# LDMX truth level with 1e6 events (the default), LDMX detector level and M3 with 2e5.
templates: $(STAMP)
	$(VENV)/bin/darkmoments templates build --experiment ldmx-phase1 --experiment ldmx-phase2 \
	  --out templates
	$(VENV)/bin/darkmoments templates build --experiment ldmx-phase1 --experiment ldmx-phase2 \
	  --level detector --events 200000 --out templates
	$(VENV)/bin/darkmoments templates build --experiment m3-phase1 --experiment m3-phase2 \
	  --events 200000 --out templates

# Full studies (minutes each); outputs in studies/results/<name>/.  FAST=1 for smoke runs.
studies: $(STAMP)
	for s in studies/*.py; do n=$$(basename $$s .py); \
	  $(PY) $$s --out studies/results/$$n $(if $(FAST),--fast,) || exit 1; done

clean:
	rm -rf $(VENV) $(NEWEST_VENV) $(OLDEST_VENV) build dist site .pytest_cache .ruff_cache
