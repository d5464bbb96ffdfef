"""Where the package's own data lives: Jinja templates and the C sources of the device side.

Everything `export` and `validate` need ships inside the package (`importlib.resources`), so an
installed `textclf` works from any directory; nothing refers to a source checkout.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path


def package_path(*parts: str) -> Path:
    """A directory or file of the installed package, as a real path (wheels install unzipped)."""
    path = Path(str(resources.files("toolchain").joinpath(*parts)))
    if not path.exists():
        raise FileNotFoundError(f"package data missing: {path}")
    return path


def templates_dir() -> Path:
    return package_path("templates")


def runtime_dir() -> Path:
    """The C runtime library: textclf.h, the tokenizer, the int8 kernels (no model)."""
    return package_path("device", "runtime")


def device_dir() -> Path:
    """The device side: the runtime, the firmware application, PlatformIO platforms and boards."""
    return package_path("device")
