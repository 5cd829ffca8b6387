# Two entry points for a fresh clone: `make run` and `make test` (see README, Quick start).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

# PYTHONWARNINGS: setuptools notes every editable install of a flat layout ("Editable installation.
# Please be careful with folders …"), which is information, not a problem; kept off the screen.
$(BIN)/promsvc: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	PYTHONWARNINGS='ignore:Editable installation:UserWarning' $(BIN)/pip install --quiet -e '.[test]'
	touch $@

.PHONY: setup run test bench
setup: $(BIN)/promsvc

# `make run PORT=8123 HOST=0.0.0.0` to serve elsewhere than 127.0.0.1:8000
PORT ?= 8000
HOST ?= 127.0.0.1

run: setup
	$(BIN)/promsvc demo --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/ruff check
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n auto --dist loadfile --cov --cov-report=term

bench: setup
	$(BIN)/python bench/bench_scoring.py
