# Vein clinic assistant. `make run` and `make test` are the two commands;
# both do all the set-up they need and are safe to run again.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Rasa 3.6 needs Python 3.10: take python3.10 from PATH, else pyenv's.
PYTHON310 ?= $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && echo $$p && break; done)
# Optional local settings (see README, Configuration): KEY=value lines.
ifneq (,$(wildcard .env))
include .env
export $(shell sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' .env)
endif

VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
INSTALLED := $(VENV)/.installed
# The test tools (pytest, Playwright, ruff, py-spy) on top, for make test/bench/soak only.
TEST_INSTALLED := $(VENV)/.installed-test
SPACY_PIPELINE := var/spacy/vein_pipeline
MODEL := models/vein-assistant.tar.gz
# Retrain when the data or the config changes (components are code, loaded at run time).
TRAINING_INPUTS := config.yml \
	$(shell find domain data -type f \( -name '*.yml' -o -name '*.jsonl' \) 2>/dev/null)
# Quieter TensorFlow and Rasa in logs; tests read var/logs/ for detail.
export TF_CPP_MIN_LOG_LEVEL := 2
# No telemetry or error reports leave the machine.
export RASA_TELEMETRY_ENABLED := false
export LOG_LEVEL ?= INFO
export PYTHONPATH := $(CURDIR)

.PHONY: help setup setup-test run test test-unit test-e2e validate evaluate train clean bench soak staff-user

help:
	@echo "make run    set up, train if needed, start everything (Ctrl-C stops)"
	@echo "make test   set up, train if needed, run every check"
	@echo "make staff-user EMAIL=you@clinic.example ROLE=staff|admin   a staff console account"

$(INSTALLED): pyproject.toml constraints.txt
	@test -n "$(PYTHON310)" || { echo "Python 3.10 not found (Rasa 3.6 needs it)"; exit 1; }
	test -d $(VENV) || $(PYTHON310) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check pip==24.0
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -c constraints.txt -e .
	touch $@

$(TEST_INSTALLED): $(INSTALLED)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

$(SPACY_PIPELINE)/meta.json: $(INSTALLED) spacy/config.cfg data/spacy/patterns.jsonl
	rm -rf $(SPACY_PIPELINE)
	$(PY) -m spacy assemble spacy/config.cfg $(SPACY_PIPELINE) > /dev/null
	@echo "spaCy pipeline assembled in $(SPACY_PIPELINE)"

$(MODEL): $(SPACY_PIPELINE)/meta.json $(TRAINING_INPUTS)
	@echo "Training the Rasa model (under a minute on 2 cores) ..."
	$(RASA) train --domain domain --quiet --fixed-model-name vein-assistant --out models 2>&1 \
		| grep -vE "it/s\]|s/it\]|Epochs:|Warning|^\s|^$$|declare_namespace|tensorflow|TensorRT" || true
	@test -f $@ || { echo "training failed"; exit 1; }
	@touch $@

setup: $(INSTALLED) $(SPACY_PIPELINE)/meta.json $(MODEL)
	@# The widget's npm packages; a no-op once installed. Nothing here is for tests only.
	bash ops/setup_widget.sh
	@# The red-flag screen's learned model, fitted once on the labelled messages (a no-op
	@# when they have not changed), so that no server start waits for it.
	$(PY) -m clinic.red_flags

# What only the tests need on top: the test tools, and Debian's Chromium for the browser tests.
setup-test: setup $(TEST_INSTALLED)
	bash tools/setup_browser.sh

train: $(MODEL)

run: setup
	$(PY) -m ops.stack

# A staff console account, created or updated; the password from STAFF_PASSWORD or asked for.
staff-user: $(INSTALLED)
	@test -n "$(EMAIL)" -a -n "$(ROLE)" || { echo "usage: make staff-user EMAIL=you@clinic.example ROLE=staff|admin"; exit 2; }
	$(PY) -m staff.console.users "$(EMAIL)" "$(ROLE)"

validate: setup-test
	bash tools/validate.sh

test-unit: setup-test
	$(PY) -m pytest tests/unit -q

test-e2e: setup-test
	$(PY) -m pytest tests/e2e -q

evaluate: setup $(TEST_INSTALLED)
	$(PY) -m tools.evaluate_nlu
	$(PY) -m tools.evaluate_red_flags
	$(PY) -m tools.evaluate_faq_set --data tests/nlu/blind_2026_12.yml
	$(PY) -m tools.evaluate_faq_set --data tests/nlu/blind_es_2026_12.yml
	$(PY) -m tools.evaluate_faq_set --data tests/nlu/blind2_en_2026_12.yml
	$(PY) -m tools.evaluate_faq_set --data tests/nlu/blind2_es_2026_12.yml
	$(PY) -m tools.evaluate_language tests/data/language/blind_2026_12.yml

test: setup-test validate
	@# Unit tests first: the browser tests' Playwright loop would block asyncio.run() in them.
	$(PY) -m pytest -q tests/unit tests/e2e tests/browser
	$(PY) -m tools.evaluate_nlu

# Not part of `make test`. Reports in benchmarks/ (options: python -m benchmarks.bench --help).
bench: setup $(TEST_INSTALLED)
	bash benchmarks/setup_bench.sh
	$(PY) -m benchmarks.bench --profile

soak: setup $(TEST_INSTALLED)
	$(PY) -m benchmarks.soak

clean:
	rm -rf models results var/spacy
