# Embedded stack: Airflow (SQLite, .airflow/), MLflow (SQLite, .mlflow/), Spark local[*].
# Point MLFLOW_TRACKING_URI, SPARK_MASTER or AIRFLOW__DATABASE__SQL_ALCHEMY_CONN elsewhere to use real engines.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
AIRFLOW_PORT ?= 8080
MLFLOW_PORT ?= 5000
export AIRFLOW_PORT MLFLOW_PORT

export PATH := $(BIN):$(PATH)
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN ?= sqlite:///$(AIRFLOW_HOME)/airflow.db
export AIRFLOW__CORE__PARALLELISM ?= 2
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL ?= 30
export AIRFLOW__API__PORT := $(AIRFLOW_PORT)
# RLlib samples a family's learners in the order of a Python set of their names, which the per-process string
# hash salt changes: two-learner PPO families trained differently from run to run (jobs/market/rllib.py). A fixed
# salt for everything make starts (Airflow, the CLI, the tests); the online service keeps a random one (serve).
export PYTHONHASHSEED ?= 0
export GX_ANALYTICS_ENABLED := false
export MLFLOW_DISABLE_TELEMETRY := true
export MLFLOW_UI_URL ?= http://127.0.0.1:$(MLFLOW_PORT)

.PHONY: help venv init demo market-demo doctor stack stack-status stack-down stack-env serve notebooks test test-fast lint ui stop bench full-data lock clean
help:
	@echo "make demo   - install, init the embedded stack, run avazu_ctr, pricing_models, budget_bandits, banner_bandit_eval (demo)"
	@echo "make test   - install what is missing, lint, run the integration tests, then the rest in TEST_WORKERS (2) processes"
	@echo "make test-fast - the edit loop: no Spark, no Airflow subprocess, no RLlib (under 3 minutes)"
	@echo "make ui     - start the Airflow UI (:$(AIRFLOW_PORT)) and the MLflow UI (:$(MLFLOW_PORT)); 'make stop' ends them"
	@echo "make stack  - production mode on this machine: Postgres, Redis, MLflow server, Airflow with Celery workers,"
	@echo "              a Spark cluster with Spark Connect, Ray (stack-status, stack-down; eval \"\$$(make stack-env)\")"
	@echo "make serve  - the online service on 127.0.0.1:8000 (prices, banners, CTR; needs Postgres and Redis: make stack)"
	@echo "make notebooks - execute notebooks/ (smoke; NOTEBOOK_PROFILE=demo) into data/notebooks/ and MLflow"
	@echo "make doctor - after killed tasks: close their MLflow runs, finish or undo a promotion, remove half-written files"
	@echo "make bench  - measure sampling, features, training and quality; JSON in bench/results/"
	@echo "make full-data - the 40.4M-row Avazu-schema fixture (CSV + gzip, ~7.7 GB) for the full-scale bench"

$(BIN)/.installed: pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 is required"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

venv: $(BIN)/.installed

$(AIRFLOW_HOME)/.migrated: $(BIN)/.installed
	@mkdir -p $(AIRFLOW_HOME) $(CURDIR)/.mlflow
	airflow db migrate > $(AIRFLOW_HOME)/migrate.log 2>&1 || { tail -20 $(AIRFLOW_HOME)/migrate.log; exit 1; }
	@touch $@

init: $(AIRFLOW_HOME)/.migrated

DEMO_DAGS := avazu_ctr pricing_models budget_bandits banner_bandit_eval mmm market_rl_training market_nightly
demo: init
	@for dag in $(DEMO_DAGS); do \
	  echo "airflow dags test $$dag (demo profile), log in $(AIRFLOW_HOME)/demo-$$dag.log"; \
	  airflow dags test $$dag -c '{"profile": "demo"}' > $(AIRFLOW_HOME)/demo-$$dag.log 2>&1 \
	    || { grep -E "ERROR|Error|error:" $(AIRFLOW_HOME)/demo-$$dag.log | tail -30; echo "demo failed: full log in $(AIRFLOW_HOME)/demo-$$dag.log"; exit 1; }; \
	done
	$(BIN)/python -m jobs.report $(DEMO_DAGS)

market-demo: venv
	$(BIN)/python -m jobs market_demo

doctor: venv
	$(BIN)/python -m jobs doctor

# Production mode: Postgres, Redis, MLflow server, Airflow (CeleryExecutor), Spark cluster + Connect, Ray head,
# each a process on 127.0.0.1 (settings in stack.env, state and logs in .stack/).
stack: venv
	$(BIN)/python -m stack up

stack-status: venv
	@$(BIN)/python -m stack status

stack-down: venv
	$(BIN)/python -m stack down

stack-env: venv
	@$(BIN)/python -m stack env

# The online service: SERVING_* settings (serving/config.py); Redis and Postgres default to make stack's.
serve: venv
	PYTHONHASHSEED=random $(BIN)/python -m serving

# Executes notebooks/ in order on the smoke profile (NOTEBOOK_PROFILE=demo for real figures); executed copies
# under data/notebooks/ and in MLflow (experiment notebooks).
NOTEBOOK_PROFILE ?= smoke
notebooks: venv
	$(BIN)/python -m jobs.notebooks --profile $(NOTEBOOK_PROFILE)

lint: venv
	$(BIN)/ruff check .

# The production-mode integration tests first, alone (their stack takes the machine); then the rest in
# TEST_WORKERS processes, a test file per process (module fixtures run once), both reported before failing.
TEST_WORKERS ?= 2
test: lint
	@rc=0; \
	$(BIN)/python -m pytest tests/integration --durations=10 || rc=1; \
	$(BIN)/python -m pytest --ignore=tests/integration -n $(TEST_WORKERS) --dist loadfile --durations=20 || rc=1; \
	exit $$rc

test-fast: lint
	$(BIN)/python -m pytest -m "not slow" --durations=10

ui: init
	@bash scripts/ui.sh start

stop:
	@bash scripts/ui.sh stop

bench: venv
	$(BIN)/python bench/run_all.py

full-data: venv
	cd bench && $(BIN)/python full_data.py

lock: venv
	$(BIN)/python -m pip freeze --exclude-editable > constraints.txt

clean:
	rm -rf .airflow .mlflow data
