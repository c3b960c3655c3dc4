# The README's commands. Each sets up what it needs (venv, packages, Chromium) by itself.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BASE   := $(VENV)/.installed-base
TEST   := $(VENV)/.installed-test

.PHONY: demo test test-fast typecheck fuzz lint lab bench chromium clean

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

## make fuzz: the generated tests (git histories, kills anywhere) with random seeds for
## FUZZ_MINUTES (30 in all, shared by the tests); a failure stops the run, is saved in
## .hypothesis/ and replayed first next time; .hypothesis/fuzz.log counts stories and pulls
FUZZ_MINUTES ?= 30
FUZZ_TESTS ?= tests/test_git_generated.py \
  tests/test_git_kill_anywhere.py::test_killed_at_any_write_or_git_command_of_a_generated_update \
  tests/test_git_kill_anywhere.py::test_killed_at_a_random_moment_of_an_update_of_hundreds_of_files \
  tests/test_git_kill_anywhere.py::test_killed_at_a_random_moment_of_a_first_clone
fuzz: $(TEST)
	@for test in $(FUZZ_TESTS); do \
	  IPY_STORAGE_FUZZ=1 timeout --foreground $$(( $(FUZZ_MINUTES) * 60 / $(words $(FUZZ_TESTS)) )) \
	    $(PY) -m pytest -x -q --timeout=0 $$test; status=$$?; \
	  [ $$status -eq 0 ] || [ $$status -eq 124 ] || exit $$status; done; \
	  echo "no finding in $(FUZZ_MINUTES) minutes; all runs so far:"; \
	  awk '{n[$$1]++; p[$$1]+=$$2} END {for (t in n) print t, n[t], "examples,", p[t], "pulls"}' \
	    .hypothesis/fuzz.log

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

clean:
	rm -rf demo-workspace .pytest_cache
