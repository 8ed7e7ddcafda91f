# Two commands do all the set-up on a fresh machine:
#   make example   -> installs everything into .venv and renders the bundled example to out/example.mp4
#   make test      -> installs everything into .venv and runs the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export NUMBA_THREADING_LAYER ?= workqueue

.PHONY: install browser example test bench bench-batch bench-dub clean

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

# The web page's end-to-end tests drive Debian's Chromium (never a downloaded browser). As root with
# apt available it is installed here; otherwise those tests skip and say why.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| echo "chromium could not be installed: browser tests will skip"; \
	fi

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

# jobs/min of `talkingface batch` (1 and 2 workers, local Ray) against `talkingface render` in a row
bench-batch: $(STAMP)
	$(BIN)/python benchmarks/bench_batch.py

# visual dubbing on the dev-data videos (skips without them): self-dub lips beside self-reenactment,
# PSNR outside the lower face, cross-dub, 720p speed; --sheet docs/dub_sheet.jpg for the contact sheet
bench-dub: $(STAMP)
	$(BIN)/python benchmarks/dub_bench.py

clean:
	rm -rf $(VENV) out build src/*.egg-info
