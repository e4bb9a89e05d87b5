# Heyat — the same targets for a newcomer, a developer and CI.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint fmt bench setup vendor migrate demo clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is needed ($(PY) not found)"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

vendor: package.json
	bash scripts/vendor.sh

setup: $(STAMP) vendor

migrate: setup
	$(BIN)/heyat db upgrade

demo: migrate
	$(BIN)/heyat pki init
	$(BIN)/heyat demo

## make run — set up, migrate, seed the demo and serve on http://127.0.0.1:5000
run: demo
	@echo "Heyat on http://$(HOST):$(PORT) — demo people: $(BIN)/heyat demo --json"
	$(BIN)/heyat serve --host $(HOST) --port $(PORT)

## make test — set up and run the whole suite (SQLite and PostgreSQL; Redis, browser when present)
test: setup
	bash scripts/test.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy hearing_server rulings

fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b | tail -n 1; done

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache .mypy_cache .ruff_cache
