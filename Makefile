# One-command set-up: `make demo` runs the main job, `make test` the whole test suite.
# Both create .venv once (Python 3.11+, CPU torch pinned by requirements/ci-constraints.txt).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONSTRAINTS := requirements/ci-constraints.txt
STAMP := $(VENV)/.installed

.PHONY: demo test docs lint clean

$(STAMP): setup.cfg pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel setuptools_scm
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) torch
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e ".[tests,docs,dask]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sunpy-slic classify --sample --no-progress

test: $(STAMP)
	$(BIN)/ruff check sunpy_slic examples scripts benchmarks docs/conf.py
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -p no:cacheprovider --mpl

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html -d docs/_build/doctrees docs docs/_build/html

clean:
	rm -rf $(VENV) build docs/_build docs/generated docs/api docs/auto_examples *.egg-info
