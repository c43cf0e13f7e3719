# The whole set-up is `make serve` or `make test`: both create .venv from requirements.lock
# the first time (and again only when the lock or pyproject.toml changes), then fetch the corpus
# once into .cache/.

PYTHON ?= python3
export NO_MKDOCS_2_WARNING := 1
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup data serve build test clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "Python 3.11 or newer is needed; point make at one: make PYTHON=python3.11 $(MAKECMDGOALS)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

data: $(STAMP)
	$(PY) -m llm_evolution.data fetch

serve: setup data
	$(VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:8000

build: setup data
	$(VENV)/bin/mkdocs build --strict

# Unit tests, every page's examples, every snippet and the guards; then the strict site build;
# then the browser test of the built site. Sockets are blocked except loopback (pyproject.toml).
test: setup data
	$(PY) -m pytest --ignore=tests/site
	$(VENV)/bin/mkdocs build --strict
	$(PY) -m pytest tests/site

clean:
	rm -rf site .cache/figures .cache/mkdocs-jupyter .cache/site-notebooks
