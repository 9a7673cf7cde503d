# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv (Python 3.10, with Lava) when it is missing or stale and install the
# package once; `make test` also creates .venv-modern (the newest CPython here, numpy 2,
# current torch, no Lava) and runs the Lava-free tests there.
VENV    ?= .venv
PYTHON  := $(VENV)/bin/python
STAMP   := $(VENV)/.loihi-snn-installed
MODERN  ?= .venv-modern
MODERN_STAMP := $(MODERN)/.loihi-snn-installed
PYTEST_ARGS ?=

.PHONY: demo test test-modern lint venv venv-modern bench bench-runtime clean help

help:
	@echo "make demo   - set up .venv if needed, then run the end-to-end demo (prints a report)"
	@echo "make test   - set up .venv and .venv-modern if needed, check the import layers, run the"
	@echo "              whole test suite (Python 3.10, Lava), then its Lava-free part on .venv-modern"
	@echo "make test-modern - only the Lava-free tests on .venv-modern (newest CPython, numpy 2)"
	@echo "make lint   - only check the import layers (import-linter, pyproject.toml)"
	@echo "make bench  - speed of emulator / float simulators / Lava side by side -> results/bench/"
	@echo "make bench-runtime - per-layer vs fused Lava vs emulator on three networks, training step"
	@echo "make venv   - only create/refresh .venv (make venv-modern: .venv-modern)"

venv: $(STAMP)

venv-modern: $(MODERN_STAMP)

$(STAMP): pyproject.toml tools/bootstrap-venv.sh
	@VENV=$(VENV) bash tools/bootstrap-venv.sh
	@touch $(STAMP)

$(MODERN_STAMP): pyproject.toml tools/bootstrap-venv-modern.sh tools/constraints-modern.txt
	@VENV=$(MODERN) bash tools/bootstrap-venv-modern.sh
	@touch $(MODERN_STAMP)

demo: $(STAMP)
	$(PYTHON) -m loihi_snn.app.demo --out demo_out

test: $(STAMP) $(MODERN_STAMP)
	$(VENV)/bin/lint-imports
	$(PYTHON) -m pytest -q -ra $(PYTEST_ARGS)
	$(MODERN_PYTEST)

# the Lava-free tests on .venv-modern; a PYTEST_ARGS selection with only Lava tests in it
# leaves none to run there (pytest's status 5), which is no failure
MODERN_PYTEST = $(MODERN)/bin/python -m pytest -q -ra -m "not lava" $(PYTEST_ARGS) || [ $$? -eq 5 ]

test-modern: $(MODERN_STAMP)
	$(MODERN_PYTEST)

lint: $(STAMP)
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PYTHON) bench/bench_speed.py

bench-runtime: $(STAMP)
	$(PYTHON) bench/bench_runtime.py

clean:
	rm -rf demo_out .pytest_cache .hypothesis
