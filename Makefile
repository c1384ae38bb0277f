# Every target creates or reuses .venv and installs the package into it first.
# The install is keyed on pyproject.toml, so a second run is a no-op.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
FCOV := $(VENV)/bin/fcov
STAMP := $(VENV)/.installed-stamp
CITY ?= demo

.PHONY: demo test bench report reports clean install browser-deps

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench]'
	@$(PY) -c "import coverage, sys; sys.exit(0 if getattr(coverage, '__facility_coverage__', False) else 'coverage.py shadows this package; run: $(PY) -m pip uninstall -y coverage pytest-cov')"
	@touch $(STAMP)

demo: $(STAMP)
	$(FCOV) demo

# pytest exits 5 when it collected no tests; make treats any non-zero exit as failure.
test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/run.py

report: $(STAMP)
	$(FCOV) report --config configs/$(CITY).toml --out reports/$(CITY)

# Every config in configs/ as one task on a Dask LocalCluster (`fcov report --all configs` runs them serially).
reports: $(STAMP)
	$(FCOV) batch configs --out reports

# Headless Chromium for the browser test (Debian packages; needs root and apt).
browser-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null)

clean:
	rm -rf $(VENV) maps/demo reports .fcov-cache build *.egg-info
