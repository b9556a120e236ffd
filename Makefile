# Two entry points: `make demo` and `make test`.  Both bootstrap .venv with
# only python3 and git on the machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-demo: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed-demo
	$(BIN)/migmerge demo

test: $(VENV)/.installed-test
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -n 2 -q

# The formatters, linters and migmerge's own hooks (.pre-commit-config.yaml);
# the hooks' environments come from PyPI on first use.
lint: $(VENV)/.installed-test
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pre-commit run --all-files --show-diff-on-failure

typecheck: $(VENV)/.installed-test
	$(BIN)/python -m mypy

clean:
	rm -rf $(VENV) build *.egg-info
