# Heyat — the same targets for a newcomer, a developer and CI.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
# Translations (docs/i18n.md): code and templates -> messages.pot -> messages.po (Persian,
# committed) -> messages.mo (compiled by setup, git-ignored).
LOCALES_DIR := hearing_server/translations
POT := $(LOCALES_DIR)/messages.pot
PO := $(LOCALES_DIR)/fa/LC_MESSAGES/messages.po
MO := $(PO:.po=.mo)

.PHONY: run test lint fmt bench setup vendor media-packages migrate demo clean \
	messages messages-extract messages-update messages-compile

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "Python 3.11 is needed ($(PY) not found)"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

vendor: package.json
	bash scripts/vendor.sh

## Janus, janus-tools, coturn, ffmpeg from Debian (audio/video; README: Audio and video)
media-packages:
	bash scripts/media-packages.sh

setup: $(STAMP) vendor media-packages $(MO)

## make messages — extract the msgids and add the new ones to messages.po; translate those
## (empty or fuzzy), then make messages-compile. tests/test_i18n.py checks both steps.
messages: messages-update

messages-extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --no-wrap \
		--project Heyat --version 0.1 -o $(POT) .

messages-update: messages-extract
	$(BIN)/pybabel update -D messages -i $(POT) -d $(LOCALES_DIR) --no-wrap \
		--ignore-pot-creation-date --previous

messages-compile $(MO): $(PO) $(STAMP)
	$(BIN)/pybabel compile -D messages -d $(LOCALES_DIR) --statistics

migrate: setup
	$(BIN)/heyat db upgrade

demo: migrate
	$(BIN)/heyat pki init --ca-passphrase ""  # demo: the CA key is not kept
	$(BIN)/heyat demo

## make run — set up, migrate, seed the demo and serve on http://127.0.0.1:5000, with Janus and
## coturn started beside it (configs in var/media/) and stopped with it
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
	$(BIN)/lint-imports

fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b | tail -n 1; done

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache .mypy_cache .ruff_cache
