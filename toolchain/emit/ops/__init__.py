"""One module per operator (or per TFLM kernel file that serves several): its params dataclass,
its lowering (`lower(node) -> KernelCall`, computing what TFLM's Prepare computes) and the names it
registers (`OPERATORS`, and `INPUT_COUNTS` where TFLM's Prepare insists on a number of inputs).
Shared helpers live in `common`. Adding an operator is one module here,
one kernel file in the runtime and one test case: the registry finds the module by itself.
"""
from __future__ import annotations

import importlib
import pkgutil

from toolchain.emit.ops.common import KernelCall, Node
from toolchain.errors import ToolchainError


def _registry() -> tuple[dict, dict]:
    lowerings, input_counts = {}, {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "common":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for operator in module.OPERATORS:
            if operator in lowerings:
                raise RuntimeError(f"operator {operator} is lowered by two modules")
            lowerings[operator] = module.lower
        input_counts.update(getattr(module, "INPUT_COUNTS", {}))
    return lowerings, input_counts


# Operators without INPUT_COUNTS take what their lowering reads; TFLM ignores the rest as this does.
LOWERINGS, INPUT_COUNTS = _registry()


def lower(node: Node) -> KernelCall:
    lowering = LOWERINGS.get(node.op_name)
    if lowering is None:
        raise ToolchainError(f"compiled backend: unsupported operator {node.op_name} (node {node.index})")
    counts = INPUT_COUNTS.get(node.op_name)
    if counts is not None and len(node.inputs) not in counts:
        raise node.error(f"{len(node.inputs)} inputs; TFLM's {node.op_name} takes "
                         f"{' or '.join(map(str, counts))}")
    return lowering(node)
