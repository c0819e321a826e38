# exq: `make run` opens the dashboard on a demo database (first time: prints the admin sign-in);
# `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DB ?= data/exq.duckdb
PORT ?= 8501

.PHONY: setup run test test-fast bench demo clean

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

# Every test on DuckDB; then the integration, page and browser tests again on PostgreSQL, on a private
# cluster the test session starts and stops itself (tests/pg_cluster.py).
test: setup
	$(PY) -m pytest
	@if $(PY) -m tests.pg_cluster available; then \
		$(PY) -m pytest --backend postgresql tests/integration tests/views tests/e2e tests/test_bench.py; \
	else \
		echo; echo "!!! PostgreSQL is not installed: the PostgreSQL half of the tests did NOT run."; \
		echo "!!! Install it (Debian: apt-get install postgresql) and run make test again."; echo; \
	fi

# Unit and integration tests without the slow ones: the loop while you work (under two minutes).
test-fast: setup
	$(PY) -m pytest tests/unit tests/integration -m "not slow" -q -n auto

bench: setup
	$(PY) -m bench.run

demo: setup
	$(PY) -m exq_core demo --db $(DB) --force

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache
