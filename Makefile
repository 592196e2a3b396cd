# Two commands for a fresh machine with Python 3.11 and pip:
#   make run   builds .venv from requirements.lock, makes the default data if absent,
#              then runs the full training pipeline
#   make test  builds .venv the same way, then runs the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RAW_DATA := data/01_raw/impc_abr_synthetic.csv
export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1

.PHONY: install run data test lint bench bench-scaling bench-quality bench-variants bench-genes \
  bench-stability \
  docs viz mlflow-ui

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $@

data: install
	test -f $(RAW_DATA) || $(BIN)/kedro run --pipeline synthetic_data

run: data
	$(BIN)/kedro run --pipeline full_training

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# Each bench* target writes its JSON under data/08_reporting/ and renders it as a table under
# docs/benchmarks/ (--docs; benchmarks/render.py). `make docs` renders every JSON present again.
bench: install
	$(BIN)/python benchmarks/full_training.py --docs

# The stop rules are off here (all 50 + 150 epochs at every size): see full_training.py.
bench-scaling: install
	$(BIN)/python benchmarks/full_training.py --scaling 15000 60000 240000 --seeds 42 \
		--params '{"pretraining": {"early_stopping_patience": 1000}, "joint_training": {"early_stopping_patience": 1000, "assignment_change_tolerance": 0}}' \
		--output data/08_reporting/benchmark_scaling.json --docs

# Honest scores over data seeds 1-3 (60,000 mice): the model under conf/base and under the
# seed_guide environment beside every baseline, median and worst, and the gene calls beside
# line_test with issue 32's targets (see quality.py).
bench-quality: install
	$(BIN)/python benchmarks/quality.py --docs

# The gene calls and line_test alone (no training) over data seeds 1-3 at 60,000 mice, with
# issue 32's targets: a few minutes. `make bench-quality` shows them after each training too.
bench-genes: install
	$(BIN)/python benchmarks/gene_calls.py --docs

# The default beside each named variant of it (benchmarks/variants.py) over data seeds 1-3:
# 3 runs per variant, two at a time (33 minutes for all thirteen on 2 cores). Pick some with
# `make bench-variants VARIANTS="kl_warmup free_centres"`.
VARIANTS ?= all
bench-variants: install
	$(BIN)/python benchmarks/quality.py --configurations default --variants $(VARIANTS) \
		--output data/08_reporting/benchmark_quality_variants.json --docs

# Seeds 1-5 of the stability pipeline on a 2-worker LocalCluster (60,000 mice) against one
# full_training (and on 1 worker, for the speedup): wall time, memory per worker, agreement
# and the consensus (see stability.py).
bench-stability: install
	$(BIN)/python benchmarks/stability.py --serial --docs

docs: install
	$(BIN)/python benchmarks/render.py

# The supervisor stops kedro-viz's server child with it (SIGTERM, Ctrl-C): see supervise.py.
viz: install
	$(BIN)/python -m audiometric_clustering.supervise $(BIN)/kedro viz run --host 127.0.0.1 --port 4141

mlflow-ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1
