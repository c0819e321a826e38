# exq: `make run` opens the dashboard on a demo database (first time: prints the admin sign-in);
# `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DB ?= data/exq.duckdb
PORT ?= 8501

.PHONY: setup run test bench demo clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

setup: $(VENV)/.installed

$(DB): | $(VENV)/.installed
	$(PY) -m exq_core demo --db $(DB)

run: setup $(DB)
	$(PY) -m exq_core user first-run --db $(DB)
	EXQ_DB=$(DB) $(VENV)/bin/streamlit run server.py --server.port $(PORT)

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) -m bench.run

demo: setup
	$(PY) -m exq_core demo --db $(DB) --force

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache
