# waterfall: `make verify` (set-up + main job) and `make test` (set-up + full suite).
# Both create .venv from PyPI when it is missing or pyproject.toml changed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup verify test browser fuzz mutate kit-mutate kit-coverage conform-bugs hostile bench docs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# the main job: stress scenarios x catalogue, then the audit report: Z3 matrix (N = 8), all-N
# proofs, a short fuzz run per mechanism; prints the matrix and the report's path
verify: setup
	$(VENV)/bin/waterfall verify
	$(VENV)/bin/waterfall report --accounts 8 --jobs 2 --out build/report

test: setup browser
	$(PY) -m pytest

# Debian's chromium for the report's browser test (tests/test_report_browser.py); when it cannot
# be installed (no root, no apt) that test skips and says why
browser:
	@command -v chromium >/dev/null 2>&1 || apt-get install -y -q chromium >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1) \
		|| echo "chromium could not be installed: tests/test_report_browser.py will skip"

# long Hypothesis campaign (profile "fuzz" in proofs/fuzz.py); CI runs the short "ci" profile
fuzz: setup
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest tests/test_fuzz.py

# mutation testing of model/ (mutmut, unit tests + short Hypothesis profile "mutate");
# score, timing and every survivor with its reason: docs/mutation.md
mutate: setup
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,mutate]'
	HYPOTHESIS_PROFILE=mutate $(VENV)/bin/mutmut run --max-children 2; $(VENV)/bin/mutmut results

# strength of the conformance vectors (docs/conformance.md): mutants of model/ (mutmut's
# operators, one mutated copy imported as waterfall.model, model/ untouched) served through the
# reference adapter and judged by the runner; writes build/kit-mutation.json
kit-mutate: setup
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,mutate]'
	$(PY) -m waterfall.proofs.kit_mutation run --jobs 2 --out build/kit-mutation.json

# coverage of model/ (lines and branches) by the committed vectors: every step computed by the
# model through the reference adapter, as when the vectors were generated; uncovered lines listed
kit-coverage: setup
	$(PY) -m coverage run --branch --source=model --data-file=build/.coverage-kit -m waterfall.proofs.kit_mutation replay
	$(PY) -m coverage report -m --data-file=build/.coverage-kit

# the realistic engine bugs of tests/engine_bugs.py: caught by the vectors? found by
# `conform --fuzz` within 60 s? (bench/results/conform-bugs.json)
conform-bugs: setup
	$(PY) bench/conform_bugs.py --seconds 60

# every hostile input through every command that reads it (tests/hostile.py), with totals
hostile: setup
	$(PY) tests/hostile.py

bench: setup
	$(PY) bench/allocation.py
	$(PY) bench/fuzz.py
	$(PY) bench/prove.py
	$(PY) bench/conform.py

# the documentation site (mkdocs.yml, pages laid out by docs/hooks.py), built offline into
# site/ with --strict (a broken link fails), then the site tests (tests/test_docs_site.py:
# builds into a temporary directory, no external fonts or scripts, registry page complete)
docs: setup
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,docs]'
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site
	NO_MKDOCS_2_WARNING=1 $(PY) -m pytest tests/test_docs_site.py

clean:
	rm -rf $(VENV) site build *.egg-info .pytest_cache .hypothesis mutants
