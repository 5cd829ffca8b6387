# Two entry points for a fresh clone: `make run` and `make test` (see README, Quick start).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/promsvc: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

.PHONY: setup run test bench
setup: $(BIN)/promsvc

run: setup
	$(BIN)/promsvc demo

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/bench_scoring.py
