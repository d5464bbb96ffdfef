"""Jinja rendering for every generated C file: one environment, one header, deterministic output."""
from __future__ import annotations

from pathlib import Path

import jinja2
import numpy as np

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"


def c_string(value: str | bytes) -> str:
    """A C string literal for arbitrary bytes (octal escapes; safe for any byte, incl. NUL)."""
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
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


def c_array_rows(values, per_row: int = 16, fmt: str = "{}") -> str:
    """Comma-separated values, `per_row` to a line, indented for an initializer."""
    flat = [fmt.format(v) for v in np.asarray(values).reshape(-1).tolist()]
    rows = [", ".join(flat[i : i + per_row]) for i in range(0, len(flat), per_row)]
    return ",\n".join("    " + row for row in rows)


def c_hex_bytes(data: bytes, per_row: int = 16) -> str:
    return c_array_rows(np.frombuffer(bytes(data), dtype=np.uint8), per_row, "0x{:02x}")


def c_identifier(text: str) -> str:
    ident = "".join(c if c.isalnum() else "_" for c in text)
    return ident if ident and not ident[0].isdigit() else "_" + ident


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["c_string"] = c_string
    env.filters["c_array_rows"] = c_array_rows
    env.filters["c_hex_bytes"] = c_hex_bytes
    env.filters["c_identifier"] = c_identifier
    return env


def render(template: str, source: str, **context) -> str:
    """Renders templates/<template>; `source` names what the file was generated from (header)."""
    return environment().get_template(template).render(generated_from=source, **context)
