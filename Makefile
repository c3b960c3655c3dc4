# The README's commands. Each sets up what it needs (venv, packages, Chromium) by itself.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BASE   := $(VENV)/.installed-base
TEST   := $(VENV)/.installed-test

.PHONY: demo test test-fast typecheck lint lab bench fuzz chromium clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(BASE): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(TEST): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test]'
	touch $@ $(BASE)

## make demo: pull the embedded demo sources (offline) and print what was pulled where, what
## changed, and the pull: section of prefect.yaml; then the next step
demo: $(BASE)
	$(PY) -m ipy_storage demo --workspace demo-workspace

## make test: lint and typecheck, then the whole suite against real servers, a real kernel and a
## real browser
test: lint typecheck chromium
	$(PY) -m pytest

## make test-fast: the suite without kernels, browsers, servers, Prefect or kill loops (under a
## minute); tests/conftest.py marks tests by the fixtures they use
FAST := not (kernel or browser or server or s3 or prefect or slow)
test-fast: $(TEST)
	$(PY) -m pytest -m "$(FAST)"

## make typecheck: mypy on the package (configured in pyproject.toml)
typecheck: $(TEST)
	$(PY) -m mypy

lint: $(TEST)
	$(PY) -m ruff check ipy_storage tests benchmarks
	$(PY) -m ruff format --check ipy_storage tests benchmarks

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }

## make lab: JupyterLab with notebooks/quickstart.ipynb open (--allow-root: containers run as root)
lab: $(TEST)
	$(VENV)/bin/jupyter lab --allow-root notebooks/quickstart.ipynb

## make bench: ratios against Prefect, nbgitpuller and the raw tools (writes benchmarks/RESULTS.md numbers to stdout)
bench: $(TEST)
	$(PY) benchmarks/bench_git.py
	$(PY) benchmarks/bench_remote.py
	$(PY) benchmarks/bench_links.py
	$(PY) benchmarks/bench_merge.py

## make fuzz: the generated (Hypothesis) tests with many more examples than make test runs
fuzz: $(TEST)
	IPY_STORAGE_FUZZ_EXAMPLES=2000 $(PY) -m pytest tests/test_merging.py -k generated

clean:
	rm -rf demo-workspace .pytest_cache
