# Quick start: `make demo` (crawl the bundled local mirror) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pywb, for the replay tests (tests/test_replay.py), in a venv of its own: installed into
# .venv its brotlipy replaces the Google brotli that Scrapy and warc/decoders.py decode `br`
# with (Decompressor.process: AttributeError), and it downgrades cryptography and pyOpenSSL
# (pip check reports neither).
PYWB_VERSION := 2.10.0
PYWB := $(VENV)/pywb
PYWB_STAMP := $(PYWB)/.installed-$(PYWB_VERSION)

.PHONY: install pywb demo test lint bench crawl clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "investcrawl needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

$(PYWB_STAMP):
	$(PYTHON) -m venv $(PYWB)
	$(PYWB)/bin/python -m pip install --quiet 'pywb==$(PYWB_VERSION)'
	@touch $(PYWB_STAMP)

pywb: $(PYWB_STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m investmirror.demo

test: $(STAMP) $(PYWB_STAMP)
	INVESTCRAWL_PYWB_BIN=$(abspath $(PYWB))/bin $(BIN)/python -m pytest

# Measures crawl, extraction, harvest, memory and search against reference points on
# loopback mirrors (about 20 minutes on 2 cores), then investcrawl at the section's size
# (bench.scale: a 50,000-article harvest, an archive of 300,000; about an hour more), and
# writes docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.scale

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The live site, politely (see README): writes data/archive.db.
crawl: $(STAMP)
	$(BIN)/scrapy crawl investchn

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
