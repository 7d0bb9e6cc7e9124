# The two commands:  `make demo` (set up, index sample_docs/, ask a question) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.kbcli-installed

.PHONY: install demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch is pinned in pyproject.toml (CPU build); one resolve installs everything.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/kbcli index sample_docs --name demo
	$(BIN)/kbcli query demo "What was Northwind's revenue in 2023?" --top-k 3

test: install
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
