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
	$(PY) -m pip install -q -e '.[test,integration]'
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
## minute, on every core: pytest-xdist); tests/conftest.py marks tests by the fixtures they use
FAST := not (kernel or browser or server or s3 or backends or prefect or slow)
test-fast: $(TEST)
	$(PY) -m pytest -n auto -m "$(FAST)"

## make fuzz: every generated test (git histories, kills anywhere, notebook merges, buckets,
## secret settings) with random seeds for FUZZ_MINUTES (30 in all, shared by the tests); a
## failure stops the run, is saved in .hypothesis/ and replayed first next time;
## .hypothesis/fuzz.log counts examples and pulls
FUZZ_MINUTES ?= 30
KILLS := tests/test_git_kill_anywhere.py::test_killed_at
# one run per back end: a random run never ends by itself, so each gets its own share of time
BUCKETS := tests/test_backends.py::test_generated_buckets_are_mirrored_exactly_version_after_version
FUZZ_TESTS ?= tests/test_git_generated.py \
  $(KILLS)_any_write_or_git_command_of_a_generated_update \
  $(KILLS)_a_random_moment_of_an_update_of_hundreds_of_files \
  $(KILLS)_a_random_moment_of_a_first_clone \
  tests/test_merging.py::test_generated_merges_keep_the_users_work_and_take_upstreams \
  $(foreach backend,memory file azure gcs sftp http,$(BUCKETS)[$(backend)]) \
  tests/test_secret_settings.py::test_generated_settings_render_only_placeholders_or_are_refused
fuzz: $(TEST)
	@for test in $(FUZZ_TESTS); do \
	  IPY_STORAGE_FUZZ=1 timeout --foreground $$(( $(FUZZ_MINUTES) * 60 / $(words $(FUZZ_TESTS)) )) \
	    $(PY) -m pytest -x -q --timeout=0 "$$test"; status=$$?; \
	  [ $$status -eq 0 ] || [ $$status -eq 124 ] || exit $$status; done; \
	  echo "no finding in $(FUZZ_MINUTES) minutes; the git runs counted so far:"; \
	  mkdir -p .hypothesis; touch .hypothesis/fuzz.log; \
	  awk '{n[$$1]++; p[$$1]+=$$2} END {for (t in n) print t, n[t], "examples,", p[t], "pulls"}' \
	    .hypothesis/fuzz.log

## make test-min: make test-fast in its own venv on the lowest versions pyproject.toml declares
## (.ci/floors.py pins each dependency to its floor; uv resolves the rest). Only the test extra:
## the integration extra's clients need a newer fsspec than ours (adlfs 2024.4 needs 2023.12)
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
