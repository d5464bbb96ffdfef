"""The Python <-> C contract of the compiled backend, each fact defined once.

Constants are defined in the runtime's C headers (package data) and read from there: the limits
of the kernels (TC_MAX_DIMS, ...), the tokenizer's layout (special ids, character classes, mapping
kinds, TC_MAX_WORD_CHARS, ...) and the runtime's interface version.

Params structs: one frozen dataclass per C struct of textclf_kernels.h (subclasses of `CStruct`),
fields in C order with types that name their C type (`int` is int32_t, `Array(n)` an int32_t[n],
`ConstArray` a `const int32_t *` to an emitted array, `Pointer(T)` a `const T *` to one, a
`CStruct` the nested struct).
tests/test_contract.py holds every dataclass against the struct clang parses from the header,
field by field; a value is range-checked when the dataclass is built, so a number that cannot be
the C field's value never reaches generated C.
"""
from __future__ import annotations

import dataclasses
import functools
import re
import typing
from dataclasses import dataclass
from typing import Annotated, ClassVar

import numpy as np

from toolchain.errors import ToolchainError
from toolchain.resources import runtime_dir

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
C_RANGES = {
    "int8_t": (-(1 << 7), (1 << 7) - 1),
    "uint8_t": (0, (1 << 8) - 1),
    "int16_t": (-(1 << 15), (1 << 15) - 1),
    "uint16_t": (0, (1 << 16) - 1),
    "int32_t": (INT32_MIN, INT32_MAX),
    "uint32_t": (0, (1 << 32) - 1),
}
_DEFINE = re.compile(r"^#define\s+(TC_\w+|TEXTCLF_\w+)\s+(-?\d+)\s*(?:/\*.*)?$", re.M)


@functools.cache
def c_defines(header: str) -> dict[str, int]:
    """The integer `#define`s of a runtime header (`textclf_kernels.h`, ...)."""
    text = (runtime_dir() / header).read_text(encoding="utf-8").replace("\\\n", " ")
    return {name: int(value) for name, value in _DEFINE.findall(text)}


def c_define(header: str, name: str) -> int:
    return c_defines(header)[name]


MAX_DIMS = c_define("textclf_kernels.h", "TC_MAX_DIMS")
MAX_CONCAT_INPUTS = c_define("textclf_kernels.h", "TC_MAX_CONCAT_INPUTS")
MAX_LABELS = c_define("textclf.h", "TEXTCLF_MAX_LABELS")
ABI_VERSION = c_define("textclf.h", "TEXTCLF_ABI_VERSION")


def check_range(value: int, c_type: str, what: str) -> int:
    """`value` as a Python int, if it fits the C type; else a ToolchainError naming `what`."""
    low, high = C_RANGES[c_type]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ToolchainError(f"{what}: {value!r} is not an integer")
    if not low <= int(value) <= high:
        raise ToolchainError(f"{what}: {int(value)} does not fit {c_type}")
    return int(value)


@dataclass(frozen=True)
class Array:
    """Marks a fixed-length int32_t array field: Annotated[tuple[int, ...], Array(length)]."""

    length: int


@dataclass(frozen=True)
class Pointer:
    """Marks a `const T *` field of another type than int32_t:
    Annotated[ConstArray, Pointer("uint8_t")]; the ConstArray must hold that type."""

    c_type: str


Dims = Annotated[tuple, Array(MAX_DIMS)]
Dims3 = Annotated[tuple, Array(3)]
Dims4 = Annotated[tuple, Array(4)]
ConcatSizes = Annotated[tuple, Array(MAX_CONCAT_INPUTS)]


@dataclass(frozen=True)
class ConstArray:
    """A `static const` array the generated C defines and a struct field or argument points to."""

    name: str
    c_type: str
    values: np.ndarray

    def __post_init__(self):
        values = np.asarray(self.values).reshape(-1)
        if values.size:
            low, high = C_RANGES[self.c_type]
            if int(values.min()) < low or int(values.max()) > high:
                raise ToolchainError(f"{self.name}: values do not fit {self.c_type}")
        object.__setattr__(self, "values", values)

    @property
    def nbytes(self) -> int:
        return int(self.values.size) * np.dtype(self.c_type.replace("_t", "")).itemsize


class CStruct:
    """Base of the params dataclasses: C_NAME is the struct's typedef name in textclf_kernels.h."""

    C_NAME: ClassVar[str]

    def __post_init__(self):
        for name, kind in type(self).field_kinds():
            value = getattr(self, name)
            what = f"{self.C_NAME}.{name}"
            if kind == "int32_t":
                check_range(value, "int32_t", what)
            elif isinstance(kind, Array):
                if not isinstance(value, (tuple, list)) or len(value) != kind.length:
                    raise ToolchainError(f"{what}: expected {kind.length} values, got {value!r}")
                object.__setattr__(self, name, tuple(check_range(v, "int32_t", what) for v in value))
            elif kind is ConstArray:
                if not isinstance(value, ConstArray):
                    raise TypeError(f"{what} must be a ConstArray")
            elif isinstance(kind, Pointer):
                if not isinstance(value, ConstArray) or value.c_type != kind.c_type:
                    raise TypeError(f"{what} must be a ConstArray of {kind.c_type}")
            elif not isinstance(value, kind):
                raise TypeError(f"{what} must be a {kind.__name__}")

    @classmethod
    @functools.cache
    def field_kinds(cls) -> tuple[tuple[str, object], ...]:
        """(field name, kind) in C order; kind is "int32_t", an Array, ConstArray, a Pointer or a
        CStruct type."""
        hints = typing.get_type_hints(cls, include_extras=True)
        kinds = []
        for f in dataclasses.fields(cls):
            hint = hints[f.name]
            if typing.get_origin(hint) is Annotated:
                kinds.append((f.name, typing.get_args(hint)[1]))
            elif hint is int:
                kinds.append((f.name, "int32_t"))
            else:
                kinds.append((f.name, hint))
        return tuple(kinds)

    @classmethod
    def c_field_types(cls) -> list[tuple[str, str]]:
        """The C declaration each field stands for, e.g. ("shape", "int32_t[6]")."""
        result = []
        for name, kind in cls.field_kinds():
            if kind == "int32_t":
                result.append((name, "int32_t"))
            elif isinstance(kind, Array):
                result.append((name, f"int32_t[{kind.length}]"))
            elif kind is ConstArray:
                result.append((name, "const int32_t *"))
            elif isinstance(kind, Pointer):
                result.append((name, f"const {kind.c_type} *"))
            else:
                result.append((name, kind.C_NAME))
        return result

    def arrays(self) -> list[ConstArray]:
        """Every ConstArray this struct (and the structs in it) points to, in field order."""
        found = []
        for name, kind in self.field_kinds():
            value = getattr(self, name)
            if kind is ConstArray or isinstance(kind, Pointer):
                found.append(value)
            elif isinstance(value, CStruct):
                found += value.arrays()
        return found
