# make demo: set up, fetch MNIST, train the seed CNN, write metrics, plots and graphs to runs/
# make test: set up, run the whole test suite (slow tests included)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RUN ?= runs/mnist

.PHONY: demo test test-fast bench lint setup graphviz clean

setup: $(VENV)/.installed graphviz

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# The graphviz `dot` binary renders graphs; installed with apt-get when missing and we are root.
graphviz:
	@if command -v dot >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing graphviz (dot) with apt-get"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz; }; \
	else \
		echo "warning: graphviz 'dot' is missing; install it (e.g. sudo apt-get install graphviz)" \
		     "to render graphs; rendering tests will be skipped"; \
	fi

test: setup
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not slow"

demo: setup
	$(PY) examples/mnist/train.py --out $(RUN)
	$(PY) examples/mnist/export.py --checkpoint $(RUN)/checkpoint.npz --out $(RUN)

# make bench BENCH_ARGS="--pairs 11 --only step micrograd": see benchmarks/harness.py --help
bench: setup
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/harness.py $(BENCH_ARGS)

lint: setup
	$(PY) -m ruff check tinygrad_cnn tests examples benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache
