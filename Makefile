# The README's commands. Each sets up what it needs (venv, packages, Chromium) by itself.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BASE   := $(VENV)/.installed-base
TEST   := $(VENV)/.installed-test

.PHONY: demo test test-fast test-min typecheck fuzz lint lab bench chromium backends clean

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
test: lint typecheck chromium backends
	$(PY) -m pytest

## make test-fast: the suite without kernels, browsers, servers, Prefect or kill loops (under a
## minute); tests/conftest.py marks tests by the fixtures they use
FAST := not (kernel or browser or server or s3 or prefect or slow)
test-fast: $(TEST)
	$(PY) -m pytest -m "$(FAST)"

## make test-min: make test-fast in its own venv on the lowest versions pyproject.toml declares
## (.ci/floors.py pins each dependency to its floor; uv resolves the rest, as pip backtracks for
## long over boto3 once fsspec and s3fs are pinned)
MIN_VENV := .venv-min
test-min:
	test -x $(MIN_VENV)/bin/python || $(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install -q uv
	$(PYTHON) .ci/floors.py > $(MIN_VENV)/constraints.txt
	$(MIN_VENV)/bin/uv pip install -q --python $(MIN_VENV)/bin/python \
	  -c $(MIN_VENV)/constraints.txt -e '.[test]'
	touch $(MIN_VENV)/.installed-base $(MIN_VENV)/.installed-test
	$(MAKE) test-fast VENV=$(MIN_VENV)

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
bench: $(TEST) backends
	$(PY) benchmarks/bench_git.py
	$(PY) benchmarks/bench_remote.py
	$(PY) benchmarks/bench_links.py
	$(PY) benchmarks/bench_backends.py
	$(PY) benchmarks/bench_merge.py

## make fuzz: the generated (Hypothesis) tests, random and long (fixed-seed and short in make test)
fuzz: $(TEST)
	IPY_STORAGE_FUZZ=1 $(PY) -m pytest tests/test_merging.py -k generated

## make backends: the servers of the back-end matrix that PyPI does not bring (tests start them):
## Azurite from npm (3.35.0: later ones need Node >= 21) and OpenSSH's sshd unpacked from Debian's
## package (never installed as a service; the tests run it unprivileged on a free port)
BACKENDS := .backends
AZURITE  := $(BACKENDS)/node_modules/.bin/azurite-blob
SSHD     := $(BACKENDS)/openssh/usr/sbin/sshd
SSHD_DEBS := openssh-server libwrap0

backends: $(AZURITE) $(SSHD)

$(AZURITE):
	mkdir -p $(BACKENDS)
	npm install --prefix $(BACKENDS) --no-audit --no-fund --silent azurite@3.35.0

$(SSHD):
	mkdir -p $(BACKENDS)/deb
	cd $(BACKENDS)/deb && { apt-get download $(SSHD_DEBS) 2>/dev/null || \
	  { apt-get update -q && apt-get download $(SSHD_DEBS); }; }
	for deb in $(BACKENDS)/deb/*.deb; do dpkg -x $$deb $(BACKENDS)/openssh; done
	test -x $@

clean:
	rm -rf demo-workspace .pytest_cache .mypy_cache
