# The README's whole set-up: `make demo` and `make test`. Each creates .venv on a fresh
# machine and installs what it needs; a stamp file re-installs only when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: demo figures test test-thorough bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-core: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

$(VENV)/.installed-bench: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test,bench]"
	touch $@

## Regenerate every registered paper figure into figures/ at demo sizes (the built-in default scenario).
demo: $(VENV)/.installed-core
	$(PY) -m papers --quick

## The paper's figures at full size (much longer: see the README).
figures: $(VENV)/.installed-core
	$(PY) -m papers

## The test suite (hypothesis profile `ci`): under 10 minutes on 2 CPU cores.
test: $(VENV)/.installed-test
	$(PY) -m pytest -q -n auto

## Longer hypothesis runs and tests marked slow.
test-thorough: $(VENV)/.installed-test
	NASHGRID_PROFILE=thorough $(PY) -m pytest -q -n auto

## Side-by-side timings against peer libraries; writes benchmarks/RESULTS.md.
bench: $(VENV)/.installed-bench
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) figures .pytest_cache .hypothesis
