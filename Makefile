# Two commands do all the set-up on a fresh machine:
#   make example   -> installs everything into .venv and renders the bundled example to out/example.mp4
#   make test      -> installs everything into .venv and runs the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export NUMBA_THREADING_LAYER ?= workqueue

.PHONY: install example test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

example: $(STAMP)
	mkdir -p out
	$(BIN)/talkingface render examples/astronaut.jpg examples/speech.ogg \
		--transcript examples/speech.txt -o out/example.mp4

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) out build src/*.egg-info
