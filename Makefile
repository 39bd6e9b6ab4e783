# Two entry points for a fresh machine: `make demo` (the main job) and `make test`.
# Each creates the virtual environment .venv and installs into it what it needs:
# the demo gdlab's runtime dependencies only; the tests add the test extra (torch
# CPU, adamp, ray, playwright, ...) and the Debian packages they use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SYSTEM_PACKAGES := dataset-fashion-mnist chromium gettext fonts-nanum
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# Python keeps compiled modules in __pycache__ (ignored by git) even where the
# environment says not to: with PYTHONDONTWRITEBYTECODE set, every gdlab process
# compiled gdlab's modules again (0.5 s of a 4 s comparison) and every test worker
# rewrote the asserts of every test module (6 s of make test-fast's minute).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test test-fast lint system bench docs clean locale pot

system:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# The Korean catalogue: gdlab.po is the source, msgfmt (Debian's gettext) compiles
# the gdlab.mo that ships in the package; `make pot` re-extracts the messages of the
# course commands and merges them into the .po (tests/test_i18n.py checks all three
# are in step).
LOCALE := src/gdlab/locale
PO := $(LOCALE)/ko/LC_MESSAGES/gdlab.po
I18N_SOURCES = $$(grep -rl 'gettext as _' src/gdlab --include='*.py' | sort)

locale: system
	msgfmt --check --check-format -o $(LOCALE)/ko/LC_MESSAGES/gdlab.mo $(PO)

pot: system
	xgettext -L Python --from-code=UTF-8 --keyword=_ --keyword=_n --no-wrap \
		--sort-by-file --package-name=gdlab -o $(LOCALE)/gdlab.pot $(I18N_SOURCES)
	msgmerge --quiet --update --no-wrap --backup=none $(PO) $(LOCALE)/gdlab.pot

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
	$(BIN)/ruff check src tests benchmarks docs/conf.py docs/_ext
	$(BIN)/ruff format --check src tests benchmarks docs/conf.py docs/_ext
	$(BIN)/mypy

test: system locale lint
	$(BIN)/pytest --numprocesses=auto --dist=loadfile

# The quick check while working: every test not marked @pytest.mark.slow (the
# browser, the SIGKILL and kill-and-resume tests, whole commands on real data), on
# every core where pytest-xdist is installed; it lists the unmarked tests whose call
# took over 5 s, to be marked or made cheaper. CI's `make test` runs them all.
test-fast: $(BIN)/.installed
	$(BIN)/pytest -m "not slow" -q --slow-over 5 \
		$$($(BIN)/python -c 'import xdist' 2>/dev/null && echo --numprocesses=auto)

$(BIN)/.docs: $(BIN)/.runtime
	$(BIN)/python -m pip install -q -e '.[docs]'
	touch $@

# The site (API reference, README's sections, the tutorials) in docs/_build/html,
# rebuilt whole (-E: the API pages depend on more modules than Sphinx tracks) with
# warnings as errors; docs/_ext/gdlab_api.py fails it for an undescribed name.
docs: $(BIN)/.docs
	$(BIN)/sphinx-build -E -W --keep-going -q -b html docs docs/_build/html

# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, where the machine sets them, force an old
# BLAS kernel: the benchmarks run without them (each prints the kernel it ran).
BENCH := env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python

bench: system $(BIN)/.installed
	$(BENCH) benchmarks/bench_step.py
	$(BENCH) benchmarks/bench_muon.py
	$(BENCH) benchmarks/bench_mlp.py
	$(BENCH) benchmarks/bench_paths.py
	$(BENCH) benchmarks/bench_report.py
	$(BENCH) benchmarks/bench_surfaces.py
	$(BENCH) benchmarks/bench_sweep.py --ray
	$(BENCH) benchmarks/bench_compare_overhead.py
	$(BENCH) benchmarks/bench_populations.py
	$(BENCH) benchmarks/bench_playground.py
	$(BENCH) benchmarks/bench_torch_threads.py
	$(BENCH) benchmarks/bench_torch_cnn.py
	$(BENCH) benchmarks/bench_torch_cnn.py --torch-threads 1
	$(BENCH) benchmarks/bench_torch_cnn.py --model fmnist_2c2d --rows 2048 --epochs 3

clean:
	rm -rf $(VENV) build docs/_build docs/guide src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
	find src -name '*.nbi' -delete -o -name '*.nbc' -delete
