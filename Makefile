# The README's quick start: `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck golden bench schema clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# The real kustomize for the tests (sigs.k8s.io/kustomize/api v0.21.3 in a cffi wheel). The wheel claims
	# Python >= 3.14, which pip's resolver would refuse in the dev extra; its bindings run on 3.11.
	$(BIN)/pip install --quiet --no-deps --ignore-requires-python 'pykustomize==0.1.4'
	touch $(STAMP)

demo: $(STAMP)
	bash scripts/demo.sh

test: $(STAMP)
	$(BIN)/ruff check compiler targets tests scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2

golden: $(STAMP)
	$(BIN)/python -m pytest -q tests --update-golden

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

schema: $(STAMP)
	$(BIN)/mlspec schema -o docs/mlspec-v1.schema.json

clean:
	rm -rf $(VENV) out demo .bench
