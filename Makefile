# Two entry points: `make run` starts the app on the shipped weights, `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench campaign

run: $(VENV)/.installed
	$(BIN)/streamlit run app.py

test: $(VENV)/.train-installed
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .

bench: $(VENV)/.train-installed
	$(BIN)/python -m benchmarks.bench

campaign: $(VENV)/.train-installed
	$(BIN)/python -m training.campaign

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.train-installed: $(VENV)/.installed requirements-train.txt
	$(BIN)/pip install --quiet -r requirements-train.txt
	touch $@
