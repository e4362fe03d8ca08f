# Two commands on a fresh machine: `make demo` and `make test`. Both build .venv from this repo.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test venv bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,excel,polars]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m labcoat.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python benchmarks/automl.py
	$(BIN)/python benchmarks/tracking.py

clean:
	rm -rf $(VENV) .labcoat build *.egg-info src/*.egg-info benchmarks/.venvs benchmarks/.work
