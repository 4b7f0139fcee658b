# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export TIERWISE_DATABASE_URL ?= sqlite+aiosqlite:///var/tierwise.db
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_MEMBERS ?= 20000
DEMO_DAYS ?= 180

.PHONY: run test venv lint

venv: $(VENV)/.installed

# Python 3.12+: the first python3.12/python3.13 that runs, pyenv's versions included.
$(VENV)/.installed: pyproject.toml
	@set -e; py=""; \
	for c in python3.12 python3.13 $$HOME/.pyenv/versions/3.12*/bin/python3 $$HOME/.pyenv/versions/3.13*/bin/python3 /root/.pyenv/versions/3.12*/bin/python3; do \
	  if [ -x "$$(command -v $$c 2>/dev/null)" ] && $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then py=$$(command -v $$c); break; fi; \
	done; \
	if [ -z "$$py" ]; then echo "tierwise needs Python >= 3.12 (pyenv install 3.12)" >&2; exit 1; fi; \
	echo "creating $(VENV) with $$py"; \
	[ -x $(BIN)/python ] || $$py -m venv $(VENV); \
	$(BIN)/python -m pip install -q --upgrade pip; \
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

run: venv
	@mkdir -p var
	$(BIN)/tierwise migrate
	$(BIN)/tierwise seed-demo --if-empty --members $(DEMO_MEMBERS) --days $(DEMO_DAYS) --seed 7
	$(BIN)/tierwise lifecycle refresh
	$(BIN)/tierwise churn score
	@echo "admin token (send as 'Authorization: Bearer <token>'):"
	@$(BIN)/tierwise create-token --role admin --label "make run" | tail -n 1
	$(BIN)/tierwise serve --host $(HOST) --port $(PORT)

# Starts a throwaway PostgreSQL 15 server, runs the whole suite on SQLite and on it, removes it.
test: venv
	$(BIN)/python -m scripts.pg_temp -- $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
