# The README's two commands: `make demo` (set up + run the main job) and `make test`
# (set up + run the whole test suite). Both create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test lint bench fixtures clean docs

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e ".[dev]"
	touch $@

demo: setup
	$(BIN)/metareview report examples/ketamine-crps

lint: setup
	$(BIN)/ruff check src tests bench docs examples/gallery
	$(BIN)/ruff format --check src tests bench docs examples/gallery
	$(BIN)/mypy  # the statistics layer, configured in pyproject.toml [tool.mypy]

test: lint
	$(BIN)/pytest

# The documentation site (Sphinx, numpydoc, sphinx-gallery, pydata theme: the `docs` extra) in
# docs/_build/html, warnings as errors. It runs the gallery scripts (examples/gallery/) and the
# reference tests behind the validation page (docs/_validation.py).
docs: $(VENV)/.installed-docs
	$(BIN)/sphinx-build -W --keep-going -E -q -b html docs docs/_build/html
	@echo "docs: open docs/_build/html/index.html"

$(VENV)/.installed-docs: $(VENV)/.installed
	$(BIN)/pip install -e ".[dev,docs]"
	touch $@

bench: setup
	$(BIN)/pip install -e ".[dev,bench]"
	$(BIN)/python bench/bench_rma_batch.py
	$(BIN)/python bench/bench_scale.py

# Regenerate the metafor reference values (needs Debian's r-base-core r-cran-metafor
# r-cran-metadat r-cran-jsonlite); CI never runs this, the JSON files are committed.
fixtures:
	Rscript tests/fixtures/make_fixtures.R
	Rscript tests/fixtures/make_bias_fixtures.R
	Rscript tests/fixtures/make_casestudy_fixtures.R
	Rscript tests/fixtures/make_agreement_fixtures.R
	Rscript tests/fixtures/make_escalc_frame_fixtures.R
	Rscript tests/fixtures/make_results_fixtures.R
	Rscript tests/fixtures/make_mv_fixtures.R
	Rscript tests/fixtures/make_mv_struct_fixtures.R
	Rscript tests/fixtures/make_mv_forest_fixtures.R
	Rscript tests/fixtures/make_nma_fixtures.R
	Rscript tests/fixtures/make_nma_published_fixtures.R
	Rscript tests/fixtures/make_glmm_conditional_fixtures.R

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache out
	rm -rf docs/_build docs/auto_examples docs/api/generated docs/validation.rst docs/sg_execution_times.rst
