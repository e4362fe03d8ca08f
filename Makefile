# Two commands on a fresh machine: `make demo` and `make test`. Both build .venv from this repo.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test venv bench clean browser java

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[all,test]"
# Forecasting's global model on Ray: the pins its notice names (pyproject.toml's `ray` extra: why --no-deps).
	$(BIN)/pip install --quiet --no-deps $$($(BIN)/python -c "from labcoat.tasks.forecast.distributed import LIBRARIES; print(LIBRARIES)")
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m labcoat.demo

# $(call debian,COMMAND,PACKAGE,WHAT): Debian's PACKAGE installed when COMMAND is missing and we
# may (root with apt-get); else WHAT is skipped, and said so.
debian = command -v $(1) >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
  && apt-get update -qq && apt-get install -y -qq --no-install-recommends $(2) >/dev/null; } \
  || echo "$(1) is not installed: $(3) will be skipped"

# The report tests open the HTML reports in a real headless browser: Debian's chromium.
browser:
	@$(call debian,chromium,chromium,the browser tests of the reports)

# The Spark back end's tests (tests/test_match_spark.py) run Spark, which needs Java 17.
java:
	@$(call debian,java,openjdk-17-jre-headless,the Spark back end's tests)

# lint-imports first: the package's layers ([tool.importlinter] in pyproject.toml).
# Two pytest workers (pytest-xdist), each taking whole files so a module's fixtures are built once:
# half the suite waits on servers, budgets and subprocesses, so two keep a 2-core machine busy.
# `make test TEST_WORKERS=0` runs in one process.
TEST_WORKERS ?= 2
test: $(STAMP) browser java
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/automl.py
	$(BIN)/python benchmarks/fold_models.py
	$(BIN)/python benchmarks/tracking.py
	command -v wrk >/dev/null || apt-get install -y -qq wrk
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/batch.py
	$(BIN)/python benchmarks/ray_scaling.py
	$(BIN)/python benchmarks/mlp.py
	$(BIN)/python benchmarks/forecasting.py
	$(BIN)/python benchmarks/forecast_scale.py
	$(BIN)/python benchmarks/recommend.py
	$(BIN)/python benchmarks/recommend_serving.py
	$(BIN)/python benchmarks/matching.py
	$(BIN)/python benchmarks/matching_serving.py
	$(BIN)/python benchmarks/anomaly.py
	$(BIN)/python benchmarks/anomaly_synthetic.py
	$(BIN)/python benchmarks/anomaly_serving.py
	$(BIN)/python benchmarks/text.py

clean:
	rm -rf $(VENV) .labcoat build *.egg-info src/*.egg-info benchmarks/.venvs benchmarks/.work
