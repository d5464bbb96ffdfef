"""Jinja rendering for every generated C file: one environment, one header, deterministic output.

Text from a model or its side files (tensor names, labels, the model directory's name) is
untrusted: it reaches C only through `c_string` (a string literal) or `c_comment` (inside a
comment), which cannot end the literal or the comment whatever the text holds.
"""
from __future__ import annotations

import functools

import jinja2
import numpy as np

from toolchain.resources import templates_dir


def c_string(value: str | bytes) -> str:
    """A C string literal for arbitrary bytes (octal escapes; safe for any byte, incl. NUL)."""
    data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else bytes(value)
    out = ['"']
    for index, byte in enumerate(data):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F and not (char == "?" and data[index + 1 : index + 2] == b"?"):
            # (the '??' check avoids trigraphs)
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    out.append('"')
    return "".join(out)


def c_comment(value: str) -> str:
    """Text for the inside of a comment (C, C++, CMake, Markdown), on one line: printable ASCII
    kept, every other character (and the backslash) as \\u{XXXX}; '*/' and '/*' are broken apart,
    and '??' (a trigraph lead) too."""
    out = []
    for char in str(value):
        code = ord(char)
        out.append(char if 0x20 <= code < 0x7F and char != "\\" else f"\\u{{{code:04X}}}")
    text = "".join(out)
    while "*/" in text or "/*" in text or "??" in text:
        text = text.replace("*/", "* /").replace("/*", "/ *").replace("??", "? ?")
    return text


def c_array_rows(values, per_row: int = 16, fmt: str = "{}") -> str:
    """Comma-separated values, `per_row` to a line, indented for an initializer."""
    flat = [fmt.format(v) for v in np.asarray(values).reshape(-1).tolist()]
    rows = [", ".join(flat[i : i + per_row]) for i in range(0, len(flat), per_row)]
    return ",\n".join("    " + row for row in rows)


def c_hex_bytes(data: bytes, per_row: int = 16) -> str:
    return c_array_rows(np.frombuffer(bytes(data), dtype=np.uint8), per_row, "0x{:02x}")


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["c_string"] = c_string
    env.filters["c_comment"] = c_comment
    env.filters["c_array_rows"] = c_array_rows
    env.filters["c_hex_bytes"] = c_hex_bytes
    return env


def render(template: str, source: str, **context) -> str:
    """Renders templates/<template>; `source` names what the file was generated from (header)."""
    return environment().get_template(template).render(generated_from=source, **context)
