"""RESHAPE, EXPAND_DIMS, SQUEEZE: no code; the output shares the input's bytes."""
from __future__ import annotations

from toolchain.emit.ops.common import INT8, INT32, KernelCall, Node

OPERATORS = ("RESHAPE", "EXPAND_DIMS", "SQUEEZE")


def lower(node: Node) -> KernelCall:
    source = node.input(0, dtypes=(INT8, INT32), constant=False)
    output = node.output(dtypes=(INT8, INT32))
    if node.dtype(source) != node.dtype(output) or node.count(source) != node.count(output):
        raise node.error("input and output differ in type or size")
    return KernelCall(kernel=None)
