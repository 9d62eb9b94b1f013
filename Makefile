# buergerid — the two commands are `make run` and `make test`; the rest is for developers.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_WORKERS ?= 2

.PHONY: run test bench fuzz lint demo constraints screenshots clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt pip setuptools wheel
	$(PY) -m pip install --quiet --disable-pip-version-check --no-build-isolation -c constraints.txt -e '.[server,dev]'
	touch $(STAMP)

## run: create the environment, then serve the issuer and wallet APIs on the embedded SQLite default
run: $(STAMP)
	$(PY) -m wallet_api

## test: create the environment, then run every test (PostgreSQL tests need Debian's postgresql)
test: $(STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS) -p no:cacheprovider --durations=15

## bench: the benchmarks of bench/ (ratios taken in one run)
bench: $(STAMP)
	$(PY) bench/formats.py
	$(PY) bench/verify.py
	$(PY) bench/issue.py
	$(PY) bench/wallet.py
	$(PY) bench/relying_party.py
	$(PY) bench/portal.py
	$(PY) bench/handheld.py

## fuzz: atheris over every parser, a bounded number of runs each (FUZZ_RUNS)
fuzz: $(STAMP)
	$(PY) fuzz/run_all.py --runs $${FUZZ_RUNS:-200000}

## demo: with `make run` serving, the whole story from issuing to a revoked verdict
demo: $(STAMP)
	$(PY) -m mobile_sdk_stub.demo
	$(PY) -m mobile_sdk_stub.portal_demo

## lint: ruff check, ruff format --check, mypy (strict on verifier/ and keys/)
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy verifier keys issuer wallet_api mobile_sdk_stub

## screenshots: run the browser tests and keep what they show in docs/img/
screenshots: $(STAMP)
	BUERGERID_UPDATE_SCREENSHOTS=1 $(PY) -m pytest -p no:cacheprovider -q tests/e2e/test_handheld_app.py tests/e2e/test_swagger_ui.py \
		tests/issuer/test_windscreen.py tests/e2e/test_relying_party_pages.py
	BUERGERID_UPDATE_SCREENSHOTS=1 $(PY) -m pytest -p no:cacheprovider -q tests/e2e/test_portal_browser.py -k 'in_the_browser and sqlite'

## constraints: re-pin every dependency after changing pyproject.toml
constraints: $(STAMP)
	{ echo '# Exact pins for every direct and transitive dependency (runtime, tests, tools).'; \
	  echo '# Regenerate: make constraints'; \
	  $(PY) -m pip freeze --all --exclude-editable | sort -f; } > constraints.txt

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
