# Two commands for a fresh machine with Python 3.11:
#   make run    installs everything into .venv and runs the workflow on the demo survey
#   make test   installs everything into .venv and runs the test suite
#   make qgis-plugin   builds dist/skt_prospectivity.zip, the QGIS Processing provider
PYTHON ?= python3
VENV ?= .venv
CORES ?= all
export XDG_CACHE_HOME ?= $(CURDIR)/.cache

STAMP := $(VENV)/.installed

CLUSTER_STAMP := $(VENV)/.cluster-installed

$(STAMP): envs/requirements.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -r envs/requirements.txt
	$(VENV)/bin/python -m pip install -q --no-deps -e .
	touch $@

# The SLURM executor plugin is opt-in: Snakemake imports every installed executor plugin at start-up, and the
# SLURM one imports pandas, which costs every local `snakemake` call about 0.07 s (benchmarks/bench_noop.py).
install-cluster: $(CLUSTER_STAMP)

$(CLUSTER_STAMP): $(STAMP) envs/requirements-cluster.txt
	$(VENV)/bin/python -m pip install -q -r envs/requirements-cluster.txt
	touch $@

PLUGIN_DIST ?= dist

RUFF_VERSION ?= 0.17.6
SNAKEFMT_VERSION ?= 2.1.0

.PHONY: install install-cluster run test lint clean qgis-plugin
install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) --resources gpu=1

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q tests

# ruff: pyflakes and pycodestyle errors (pyproject.toml's [tool.ruff]); snakefmt: the rules' layout, in the
# order written (its directive sorting would move docstrings). Snakemake's own --lint is run by
# tests/test_config.py, which allows its one expected note (PYTHONPATH, set by the Snakefile itself).
lint: $(STAMP)
	$(VENV)/bin/python -m pip install -q ruff==$(RUFF_VERSION) snakefmt==$(SNAKEFMT_VERSION)
	$(VENV)/bin/ruff check pipeline workflow/scripts tests benchmarks qgis_plugin
	$(VENV)/bin/snakefmt --check --no-sort --line-length 120 Snakefile workflow/rules

# The QGIS plugin as a zip for Plugins > Manage and Install > Install from ZIP; it records this
# checkout's skt (make install first) so the plugin finds the workflow's environment.
qgis-plugin:
	rm -rf $(PLUGIN_DIST)/qgis && mkdir -p $(PLUGIN_DIST)/qgis
	cp -r qgis_plugin/skt_prospectivity $(PLUGIN_DIST)/qgis/
	rm -rf $(PLUGIN_DIST)/qgis/skt_prospectivity/__pycache__
	echo "$(abspath $(VENV))/bin/skt" > $(PLUGIN_DIST)/qgis/skt_prospectivity/skt_path.txt
	cd $(PLUGIN_DIST)/qgis && $(PYTHON) -m zipfile -c $(abspath $(PLUGIN_DIST))/skt_prospectivity.zip skt_prospectivity
	@echo "$(PLUGIN_DIST)/skt_prospectivity.zip: install it in QGIS (Plugins > Manage and Install Plugins > Install from ZIP)"

clean:
	rm -rf results .snakemake
