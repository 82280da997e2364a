# Quick start on a fresh machine: `make demo`, then `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ENV := source scripts/env.sh &&

.PHONY: help install odbc demo up run sandbox-order test bench order-faults lint check-config check-mapping order-ddl retry-order pools cluster cluster-stop cluster-check sandbox stop lock clean

help:
	@echo "make demo          run the demo source end to end against the Stock2Shop sandbox"
	@echo "make up            airflow standalone on http://localhost:8080 (AIRFLOW_PORT=<port> moves it) with every"
	@echo "                   configured source, the demo data and the sandbox"
	@echo "make run SOURCE=<id> [CONF='{\"full_sync\": true}']  one run of a source's DAG here, then what it did"
	@echo "make sandbox-order SOURCE=<id> SKU=<sku>[,<sku>] [QTY=n]  a test web order for a source, in the sandbox"
	@echo "make test          run the whole test suite (real ODBC to SQLite, PostgreSQL and MariaDB)"
	@echo "make bench         1M-variant benchmark against the OdbcHook/row-wise baseline (PostgreSQL + sandbox)"
	@echo "make order-faults  every order sink under injected faults, overlapping runs and a killed run: exactly once?"
	@echo "make cluster       the distributed deployment natively: Celery (2 workers), Redis, PostgreSQL; make cluster-stop"
	@echo "make cluster-check the demo sources on the cluster, a worker killed mid-upload: prints a CLUSTER line"
	@echo "make lint          ruff (with Airflow's AIR rules)"
	@echo "make check-config  validate every source config in include/sources"
	@echo "make check-mapping SOURCE=<id>  run a source's queries on a few rows: missing columns, types, a sample payload"
	@echo "make order-ddl SOURCE=<id> [DIALECT=sqlserver]  print the DDL of a source's order tables"
	@echo "make retry-order SOURCE=<id> ORDER=<order id>  raise a given-up order again on the next run"
	@echo "make pools         create each order-taking source's Airflow pool (after airflow db migrate)"
	@echo "make sandbox/stop  start/stop the local Stock2Shop sandbox"
	@echo "make lock          regenerate constraints.txt from a clean install"

odbc:
	@bash scripts/ensure_odbc.sh

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps --editable .
	@touch $(STAMP)

install: odbc $(STAMP)

demo: install
	@bash scripts/demo.sh

up: install
	@bash scripts/up.sh

run: install
	@test -n "$(SOURCE)" || { echo "usage: make run SOURCE=<source_id> [CONF='{\"full_sync\": true}']"; exit 2; }
	@bash scripts/run.sh $(SOURCE) '$(CONF)'

sandbox-order: install
	@test -n "$(SOURCE)" -a -n "$(SKU)" || { echo "usage: make sandbox-order SOURCE=<source_id> SKU=<sku>[,<sku>...] [QTY=n]"; exit 2; }
	@$(ENV) $(BIN)/python -m stock2shop_sync.cli sandbox-order $(SOURCE) --sku '$(SKU)' --qty $(or $(QTY),1) --sandbox "http://127.0.0.1:$$SANDBOX_PORT"

test: install
	@bash scripts/ensure_test_tools.sh
	@$(ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	@$(ENV) $(BIN)/python -m bench.run $(BENCH_ARGS)

order-faults: install
	@$(ENV) $(BIN)/python -m bench.order_faults $(ORDER_FAULTS_ARGS)

cluster: install
	@bash scripts/cluster.sh start

cluster-stop:
	@bash scripts/cluster.sh stop

cluster-check: install
	@$(ENV) $(BIN)/python scripts/cluster_check.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check-config: install
	@$(ENV) $(BIN)/python -m stock2shop_sync.cli check-config

order-ddl: install
	@test -n "$(SOURCE)" || { echo "usage: make order-ddl SOURCE=<source_id> [DIALECT=sqlserver|postgresql|mysql|sqlite|pervasive]"; exit 2; }
	@$(ENV) $(BIN)/python -m stock2shop_sync.cli order-ddl $(SOURCE) --dialect $(or $(DIALECT),sqlserver)

retry-order: install
	@test -n "$(SOURCE)" -a -n "$(ORDER)" || { echo "usage: make retry-order SOURCE=<source_id> ORDER=<order id>"; exit 2; }
	@$(ENV) $(BIN)/python -m stock2shop_sync.cli retry-order $(SOURCE) $(ORDER)

pools: install
	@$(ENV) $(BIN)/python -m stock2shop_sync.cli ensure-pools

check-mapping: install
	@test -n "$(SOURCE)" || { echo "usage: make check-mapping SOURCE=<source_id>"; exit 2; }
	@$(ENV) $(BIN)/python -m stock2shop_sync.cli check-mapping $(SOURCE) $(if $(LIMIT),--limit $(LIMIT))

sandbox: install
	@bash scripts/sandbox.sh start

stop:
	@bash scripts/sandbox.sh stop

lock:
	rm -rf /tmp/s2s-lock-venv && $(PYTHON) -m venv /tmp/s2s-lock-venv
	/tmp/s2s-lock-venv/bin/python -m pip install --quiet --upgrade pip
	/tmp/s2s-lock-venv/bin/python -m pip install --quiet -r requirements-dev.txt
	(echo "# The full resolved dependency set of requirements-dev.txt, from a clean install (make lock)."; \
	  /tmp/s2s-lock-venv/bin/python -m pip freeze --exclude-editable) > constraints.txt

clean: stop
	rm -rf .demo .staging .pytest_cache
