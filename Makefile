# The README's quick start: `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The real yaml-language-server, for the editor test (npm; pinned, rebuilt from the registry on a fresh clone).
YAML_LS_VERSION := 1.25.0
# The real Mermaid, rendering the model card's diagrams in headless Chromium.
MERMAID_VERSION := 11.17.2
NODE_STAMP := .cache/node/.installed-$(YAML_LS_VERSION)-$(MERMAID_VERSION)

.PHONY: demo test lint typecheck golden bench schema clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# The real kustomize for the tests (sigs.k8s.io/kustomize/api v0.21.3 in a cffi wheel). The wheel claims
	# Python >= 3.14, which pip's resolver would refuse in the dev extra; its bindings run on 3.11.
	$(BIN)/pip install --quiet --no-deps --ignore-requires-python 'pykustomize==0.1.4'
	touch $(STAMP)

$(NODE_STAMP):
	@if command -v npm >/dev/null 2>&1; then \
		npm install --silent --no-audit --no-fund --no-save --prefix .cache/node yaml-language-server@$(YAML_LS_VERSION) \
		mermaid@$(MERMAID_VERSION) \
		&& touch $(NODE_STAMP); \
	else echo "npm not found: the editor and diagram tests will skip (and fail in CI)"; fi

demo: $(STAMP)
	bash scripts/demo.sh

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check compiler targets tests scripts
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n 2

golden: $(STAMP)
	$(BIN)/python -m pytest -q tests --update-golden

bench: $(STAMP)
	$(BIN)/python scripts/bench.py

schema: $(STAMP)
	$(BIN)/mlspec schema -o docs/mlspec-v1.schema.json
	$(BIN)/mlspec schema --project -o docs/mlspec-project-v1.schema.json

clean:
	rm -rf $(VENV) out demo .bench
