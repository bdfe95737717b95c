# Two commands for a fresh machine with Python 3.11:
#   make run    installs everything into .venv and runs the workflow on the demo survey
#   make test   installs everything into .venv and runs the test suite
PYTHON ?= python3
VENV ?= .venv
CORES ?= all
export XDG_CACHE_HOME ?= $(CURDIR)/.cache

STAMP := $(VENV)/.installed

$(STAMP): envs/requirements.txt envs/requirements-cluster.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -r envs/requirements.txt -r envs/requirements-cluster.txt
	$(VENV)/bin/python -m pip install -q --no-deps -e .
	touch $@

.PHONY: install run test clean
install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) --resources gpu=1

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q tests

clean:
	rm -rf results .snakemake
