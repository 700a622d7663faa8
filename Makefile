# The two commands of the README: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint fuzz-api clean

$(BIN)/noetl: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/noetl

setup: $(BIN)/noetl

demo: setup
	$(BIN)/noetl validate examples/
	$(BIN)/noetl run examples/hello.yaml

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src/noetl
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

# Minutes of generated API requests against a live server (not part of `make test`).
fuzz-api: setup
	$(BIN)/python tests/fuzz/fuzz_api.py

clean:
	rm -rf $(VENV) .noetl .pytest_cache .mypy_cache .ruff_cache
