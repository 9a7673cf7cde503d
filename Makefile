# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv (Python 3.10) when it is missing or stale and install the package once.
VENV    ?= .venv
PYTHON  := $(VENV)/bin/python
STAMP   := $(VENV)/.loihi-snn-installed
PYTEST_ARGS ?=

.PHONY: demo test lint venv bench bench-runtime clean help

help:
	@echo "make demo   - set up .venv if needed, then run the end-to-end demo (prints a report)"
	@echo "make test   - set up .venv if needed, check the import layers, run the whole test suite"
	@echo "make lint   - only check the import layers (import-linter, pyproject.toml)"
	@echo "make bench  - speed of emulator / float simulators / Lava side by side -> results/bench/"
	@echo "make bench-runtime - per-layer vs fused Lava vs emulator on three networks, training step"
	@echo "make venv   - only create/refresh .venv"

venv: $(STAMP)

$(STAMP): pyproject.toml tools/bootstrap-venv.sh
	@VENV=$(VENV) bash tools/bootstrap-venv.sh
	@touch $(STAMP)

demo: $(STAMP)
	$(PYTHON) -m loihi_snn.app.demo --out demo_out

test: $(STAMP)
	$(VENV)/bin/lint-imports
	$(PYTHON) -m pytest -q -ra $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PYTHON) bench/bench_speed.py

bench-runtime: $(STAMP)
	$(PYTHON) bench/bench_runtime.py

clean:
	rm -rf demo_out .pytest_cache .hypothesis
