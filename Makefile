# MobiFace-TF tasks. `make demo` sets up and runs the main job; `make test` runs the tests.
# Paths are variables: `make train DATA=/path/to/data WORK=/path/to/outputs`.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
DATA   ?= $(abspath ../shared/data)
WORK   ?= work
export MOBIFACE_DATA := $(DATA)
export MOBIFACE_WORK := $(abspath $(WORK))
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install demo profile test test-python test-java

# The virtual environment is rebuilt only when the package metadata changes.
install: $(VENV)/.installed
$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# The main job: everything a new user should see working on this machine's default data.
demo: install profile

profile: install
	$(BIN)/mobiface-profile

test: install test-python

test-python: install
	$(BIN)/pytest -q
