# Two entry points for a fresh machine: `make demo` (the main job) and `make test`.
# Each creates the virtual environment .venv and installs into it what it needs:
# the demo gdlab's runtime dependencies only; the tests add the test extra (torch
# CPU, adamp, ray, playwright, ...) and the Debian packages they use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SYSTEM_PACKAGES := dataset-fashion-mnist chromium
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: demo test lint system bench clean

system:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

$(BIN)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

$(BIN)/.installed: $(BIN)/.runtime
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

demo: $(BIN)/.runtime
	$(BIN)/gdlab compare --out runs/compare-digits

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: system lint
	$(BIN)/pytest

# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, where the machine sets them, force an old
# BLAS kernel: the benchmarks run without them (each prints the kernel it ran).
BENCH := env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python

bench: system $(BIN)/.installed
	$(BENCH) benchmarks/bench_step.py
	$(BENCH) benchmarks/bench_muon.py
	$(BENCH) benchmarks/bench_mlp.py
	$(BENCH) benchmarks/bench_surfaces.py
	$(BENCH) benchmarks/bench_sweep.py --ray

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
	find src -name '*.nbi' -delete -o -name '*.nbc' -delete
