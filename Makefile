# make demo: set up .venv and build the demo corpus.  make test: set up and run the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.irdata-installed
# torch is pinned: on these machines torch==2.13.0 resolves to a local CPU build.
TORCH  ?= torch==2.13.0

.PHONY: install demo test clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[train,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/irdata demo $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache irdata-demo-*
