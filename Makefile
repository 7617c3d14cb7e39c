# Everything a fresh machine needs, in two targets: `make book` and `make test`.
PYTHON ?= python3
PROFILE ?= standard
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup browser book test clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

## Build the book with $(PROFILE) (trains both models on first use, then reuses artifacts/).
## Training runs first, outside the notebooks, so its progress bars show in the terminal.
book: setup
	$(BIN)/python -m cae_lib.train_all --profile $(PROFILE)
	CAE_PROFILE=$(PROFILE) $(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "The book: $(CURDIR)/_build/html/index.html"

## The browser test drives Debian's headless Chromium; install it once (root or sudo).
browser:
	@test -x /usr/bin/chromium || { SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; }

## Lint, unit tests, every chapter under papermill (smoke), pairing checks, a smoke book build,
## and the built site in a headless browser.
test: setup browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

clean:
	rm -rf _build
