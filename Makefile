# Two entry points; each sets up what it needs first (idempotent: a second run takes seconds).
#   make build  - the whole pipeline on the default task (teacher -> student -> INT8 -> C)
#   make test   - every test: pytest, then `pio test` in native and the three QEMU Cortex-M envs
PYTHON := .venv/bin/python
export PLATFORMIO_CORE_DIR := $(CURDIR)/.pio-core

.PHONY: setup build test

setup:
	@./scripts/setup.sh

build: setup
	$(PYTHON) -m toolchain build

test: setup
	$(PYTHON) scripts/run_tests.py
