"""Peak memory of mba.array's operations against array.array's (tests/memory_table.py): the
searches, comparisons, iteration and in-place rewrites work in chunks, never on a copy of the
whole array; results (slices, bytes, repr, products) cost about what array.array's do."""

import os

import pytest

import memory_table

N = 2_000_000  # 16 MiB per array: a whole copy would stand out against the chunk bound
CHUNK_BOUND = 6 << 20


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs /proc/self/clear_refs")
@pytest.mark.parametrize("op", list(memory_table.OPS))
def test_peak_memory_is_bounded(op):
    # A chunked operation is held to a fixed bound: array.array's figure is not needed.
    m = memory_table.measure(op, N, ("mba",) if op in memory_table.CHUNKED else ("array", "mba"))
    size = 8 * N
    if op in memory_table.CHUNKED:
        assert m["mba"] <= CHUNK_BOUND, f"{op}: {m['mba'] / 2**20:.1f} MiB, a copy of the array is {size / 2**20:.0f}"
    else:
        assert m["mba"] <= 1.25 * m["array"] + (2 << 20), f"{op}: mba {m['mba']}, array.array {m['array']}"
