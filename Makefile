# Two commands do all the setup on a machine with Python 3.10+ and make:
#   make report   build the environment, generate the demo data, run every notebook
#   make test     build the environment and run the test suite
# Everything is installed into .venv; nothing is registered outside it.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO   := data/demo
PARAMS ?= params/demo.yaml

.PHONY: report test lint demo-data clean help

help:
	@echo "make report  - generate the demo data and the HTML report (reports/demo/index.html)"
	@echo "make test    - lint (ruff) and run the tests"
	@echo "make clean   - remove reports/ and data/ (the environment stays)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dask]'
	@touch $@

# generated into a temporary folder and renamed, so an interrupted run leaves no half dataset
data/.demo.stamp: | $(STAMP)
	rm -rf $(DEMO).partial
	$(PY) -m eda_lib demo-data $(DEMO).partial
	rm -rf $(DEMO) && mv $(DEMO).partial $(DEMO)
	@touch $@  # the stamp lives outside the dataset, which must hold only its own files

demo-data: data/.demo.stamp

report: $(STAMP) data/.demo.stamp
	$(PY) -m eda_lib run -f $(PARAMS)

lint: $(STAMP)
	$(PY) -m ruff check eda_lib tests benchmarks notebooks

test: lint
	$(PY) -m pytest

clean:
	rm -rf reports data
