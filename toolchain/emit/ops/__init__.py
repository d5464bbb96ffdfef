"""One module per operator (or per TFLM kernel file that serves several): its params dataclass,
its lowering (`lower(node) -> KernelCall`, computing what TFLM's Prepare computes) and the names it
registers (`OPERATORS`). Shared helpers live in `common`. Adding an operator is one module here,
one kernel file in the runtime and one test case: the registry finds the module by itself.
"""
from __future__ import annotations

import importlib
import pkgutil

from toolchain.emit.ops.common import KernelCall, Node
from toolchain.errors import ToolchainError


def _registry() -> dict:
    lowerings = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "common":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for operator in module.OPERATORS:
            if operator in lowerings:
                raise RuntimeError(f"operator {operator} is lowered by two modules")
            lowerings[operator] = module.lower
    return lowerings


LOWERINGS = _registry()

# The input counts TFLM's Prepare insists on (TF_LITE_ENSURE_EQ(NumInputs(node), n); reduce_common.cc
# checks inputs->size == 2; RESHAPE takes 1 or 2). A count counts absent optional inputs (-1) too.
# Operators missing here take what their lowering reads, and TFLM ignores the rest as this does.
INPUT_COUNTS = {
    "MUL": (2,), "SQUARED_DIFFERENCE": (2,), "GATHER": (2,), "SOFTMAX": (1,), "STRIDED_SLICE": (4,),
    "BATCH_MATMUL": (2,), "TRANSPOSE": (2,), "RESHAPE": (1, 2), "SQUEEZE": (1,), "EXPAND_DIMS": (2,),
    "TANH": (1,), "RSQRT": (1,), "QUANTIZE": (1,), "MEAN": (2,), "SUM": (2,), "REDUCE_MAX": (2,),
}


def lower(node: Node) -> KernelCall:
    lowering = LOWERINGS.get(node.op_name)
    if lowering is None:
        raise ToolchainError(f"compiled backend: unsupported operator {node.op_name} (node {node.index})")
    counts = INPUT_COUNTS.get(node.op_name)
    if counts is not None and len(node.inputs) not in counts:
        raise node.error(f"{len(node.inputs)} inputs; TFLM's {node.op_name} takes "
                         f"{' or '.join(map(str, counts))}")
    return lowering(node)
