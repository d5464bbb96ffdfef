# Entry points; each sets up what it needs first (idempotent: a second run takes seconds).
#   make build  - the whole pipeline on the default task (teacher -> student -> INT8 -> C), then the
#                 firmware's libraries exported from the models (firmware/lib, firmware/models)
#   make test   - every test: pytest, then `pio test` in native and the QEMU envs
#   make lint   - ruff and clang-format, as CI runs them
PYTHON := .venv/bin/python
TEXTCLF := $(PYTHON) -m toolchain
export PLATFORMIO_CORE_DIR := $(CURDIR)/.pio-core

.PHONY: setup build firmware test lint

setup:
	@./scripts/setup.sh

build: setup
	$(TEXTCLF) build
	$(MAKE) firmware

# The firmware is the first user of the exported libraries: the default model for every env (it
# fits the micro:bit's 256 KB flash and 16 KB RAM too), on both backends.
firmware: setup
	$(TEXTCLF) export --model models/default --prefix classifier --out firmware/models/default --runtime-out firmware/lib
	$(TEXTCLF) export --model models/default --prefix classifier --out firmware/models/default_tflm --runtime-out firmware/lib --backend tflm

test: setup
	$(PYTHON) scripts/run_tests.py

lint: setup
	$(PYTHON) -m ruff check toolchain tests benchmarks scripts
	$(PYTHON) scripts/clang_format.py --check
