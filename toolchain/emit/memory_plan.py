"""Static memory plan of the compiled backend: every activation gets a fixed offset in one arena.

A buffer is live from the operator that writes it to the last operator that reads it (graph inputs
from before the first operator, graph outputs until after the last). Buffers whose lifetimes overlap
get disjoint byte ranges; the others may share bytes. Placement is greedy, largest buffer first,
each at the lowest 16-byte-aligned offset that fits among the live ones already placed (the strategy
of TFLM's GreedyMemoryPlanner, without its per-tensor bookkeeping in the arena).
"""
from __future__ import annotations

from dataclasses import dataclass

ALIGNMENT = 16


def align(value: int, alignment: int = ALIGNMENT) -> int:
    return (value + alignment - 1) // alignment * alignment


@dataclass(frozen=True)
class Buffer:
    """One arena buffer: `key` identifies it, `first`..`last` are operator indices (inclusive)."""

    key: int
    size: int
    first: int
    last: int

    def overlaps_in_time(self, other: Buffer) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class MemoryPlan:
    offsets: dict[int, int]  # buffer key -> byte offset
    buffers: tuple[Buffer, ...]
    arena_bytes: int


def plan_memory(buffers: list[Buffer]) -> MemoryPlan:
    placed: list[tuple[Buffer, int]] = []
    # Deterministic order: size (largest first), then earliest start, then key.
    for buffer in sorted(buffers, key=lambda b: (-align(b.size), b.first, b.key)):
        size = align(buffer.size)
        live = sorted(
            ((offset, align(other.size)) for other, offset in placed if other.overlaps_in_time(buffer)),
        )
        offset = 0
        for other_offset, other_size in live:
            if offset + size <= other_offset:
                break
            offset = max(offset, other_offset + other_size)
        placed.append((buffer, offset))
    offsets = {buffer.key: offset for buffer, offset in placed}
    arena = max((offset + align(buffer.size) for buffer, offset in placed), default=0)
    return MemoryPlan(offsets=offsets, buffers=tuple(buffers), arena_bytes=arena)
