# waterfall: `make verify` (set-up + main job) and `make test` (set-up + full suite).
# Both create .venv from PyPI when it is missing or pyproject.toml / constraints.txt changed,
# with the exact pins of constraints.txt (pyproject.toml itself states compatible ranges).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup verify verify-deep test browser fuzz fuzz-campaign mutate mutate-proofs kit-mutate kit-coverage conform-bugs hostile bench docs clean

PIP    := $(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# the main job: stress scenarios x catalogue, then the audit report: every invariant proved on
# model.step itself over every operation and every valid venue of 2 accounts and 1 market
# (PROVE_ACCOUNTS / PROVE_MARKETS for more; docs/proofs.md, Speed), the small-scope search up
# to 4 accounts, a short fuzz run per mechanism; prints the matrix and the report's path. Exit 3
# from the report (a claimed invariant undecided or not honestly provable at this size: UNKNOWN,
# TIMEOUT, UNREACHED, TRIVIAL, shown in the report) is reported and accepted; 1 (a claimed
# invariant refuted, a vacuous case, a prover error) fails.
PROVE_ACCOUNTS ?= 2
PROVE_MARKETS ?= 1
MUTANTS ?= 30
verify: setup
	$(VENV)/bin/waterfall verify
	$(VENV)/bin/waterfall report --accounts $(PROVE_ACCOUNTS) --markets $(PROVE_MARKETS) --timeout 600 --jobs 2 \
		--out build/report || { rc=$$?; test $$rc -eq 3 && echo "make verify: some claimed invariants are undecided or not provable at this size (exit 3): see the report"; test $$rc -eq 3; }

# k = 3 accounts (every claim with a witness gate needs a third account: docs/proofs.md), m = 1
# and m = 2 (VERIFY_DEEP_MARKETS); far slower than `make verify` (docs/proofs.md, Speed)
VERIFY_DEEP_MARKETS ?= 1
verify-deep: setup
	$(VENV)/bin/waterfall report --accounts 3 --markets $(VERIFY_DEEP_MARKETS) --timeout 1800 --jobs 2 \
		--out build/report-deep || { rc=$$?; test $$rc -eq 3 && echo "make verify-deep: some claimed invariants are undecided (exit 3): see the report"; test $$rc -eq 3; }

# the suite on TEST_JOBS pytest-xdist workers (a test file per worker at a time, so a file's
# module fixtures are built once; tests/conftest.py starts the slowest files first); TEST_JOBS=0
# runs it in this one process
TEST_JOBS ?= 2
test: setup browser
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadfile

# Debian's chromium for the report's browser test (tests/report/test_report_browser.py); when it cannot
# be installed (no root, no apt) that test skips and says why
browser:
	@command -v chromium >/dev/null 2>&1 || apt-get install -y -q chromium >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1) \
		|| echo "chromium could not be installed: tests/report/test_report_browser.py will skip"

# long Hypothesis campaign (profile "fuzz" in proofs/fuzz/machines.py); CI runs the short "ci" profile.
# Found examples are kept in $(WATERFALL_FUZZ_DB) (default .waterfall/examples) and replayed
# first next time, by this, `waterfall fuzz` and the HypoFuzz campaign alike.
fuzz: setup
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest tests/proofs/test_fuzz.py

# a campaign over every core (HypoFuzz, extra 'fuzz'; its dashboard on localhost:9999) of one
# machine or several: give each the same WATERFALL_FUZZ_DB (a shared folder), or merge their
# .waterfall/examples folders with rsync; docs/fuzzing.md
FUZZ_CORES ?= $(shell nproc)
fuzz-campaign: setup
	$(PIP) -e '.[dev,fuzz]'
	HYPOTHESIS_PROFILE=fuzz $(VENV)/bin/hypothesis fuzz -n $(FUZZ_CORES) -- tests/fuzz_targets.py

# mutation testing of model/ (mutmut, unit tests + short Hypothesis profile "mutate");
# score, timing and every survivor with its reason: docs/mutation.md
mutate: setup
	$(PIP) -e '.[dev,mutate]'
	HYPOTHESIS_PROFILE=mutate $(VENV)/bin/mutmut run --max-children 2; $(VENV)/bin/mutmut results

# the prover measured by planted bugs (proofs/mutation/planted.py: one-line edits of model/, the issue's
# list), each judged by waterfall prove and by the fuzzer; the table is in docs/proofs.md
# the prover measured by mutation (R-PROVE-10, docs/proofs.md): the issue's planted bugs, then a
# seeded sample of mutmut's mutants of the waterfall's modules, each judged by prove and the fuzzer;
# `reach`: the bugs that need three accounts, refuted at k = 3 and missed at k = 2 (issue 17)
mutate-proofs: setup
	$(PIP) -e '.[mutate]'
	$(PY) -m waterfall.proofs.mutation.planted judge --timeout 300
	$(PY) -m waterfall.proofs.mutation.planted reach --timeout 600
	$(PY) -m waterfall.proofs.mutation.mutants run --count $(MUTANTS) --out build/proof-mutants.json

# strength of the conformance vectors (docs/conformance.md): mutants of model/ (mutmut's
# operators, one mutated copy imported as waterfall.model, model/ untouched) served through the
# reference adapter and judged by the runner; writes build/kit-mutation.json (KIT_SAMPLE=N: the
# first N mutants of a shuffle seeded by KIT_SEED, when every mutant would take too long)
KIT_SAMPLE ?= 0
KIT_SEED ?= 21
kit-mutate: setup
	$(PIP) -e '.[dev,mutate]'
	$(PY) -m waterfall.conformance.mutation run --jobs 2 --sample $(KIT_SAMPLE) --seed $(KIT_SEED) --out build/kit-mutation.json

# coverage of model/ (lines and branches) by the committed vectors: every step computed by the
# model through the reference adapter, as when the vectors were generated; uncovered lines listed
kit-coverage: setup
	$(PY) -m coverage run --branch --source=model --data-file=build/.coverage-kit -m waterfall.conformance.mutation replay
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
	$(PIP) -e '.[dev,docs]'
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site
	NO_MKDOCS_2_WARNING=1 $(PY) -m pytest tests/test_docs_site.py

clean:
	rm -rf $(VENV) site build *.egg-info .pytest_cache .hypothesis mutants  # .waterfall/ (found examples) is kept
