# The two commands a newcomer needs: `make tutorial` and `make test`.
# Both create .venv if missing, install the pinned dependencies and this package
# (editable), and generate the default data if it is missing.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup data tutorial graphs test lab bench

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else "guneamp needs Python 3.11 or 3.12; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

data: setup
	$(BIN)/guneamp synth

# `make tutorial FULL=1` runs the course's heavier variants too (notebooks 06, 08, 11, 12, 13:
# longer trainings, whose figures the notebooks quote from a recorded run).
tutorial: data
	$(BIN)/guneamp course $(if $(filter 1 true yes,$(FULL)),-p FULL true)

# The course draws into build/graphs (never a tracked file); this copies that run's
# graphs over the committed ones that the README shows. The README's graphs and figures
# are the FULL run's (the course model at 600 steps), so this runs the course with FULL.
graphs: FULL = 1
graphs: tutorial
	cp build/graphs/*.png graphs/

test: data
	$(BIN)/python -m pytest

# JupyterLab refuses to run as root unless told; containers often are root.
LAB_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: data
	$(BIN)/jupyter lab $(LAB_FLAGS) notebooks

bench: data
	$(BIN)/python benchmarks/run.py --json build/bench.json
