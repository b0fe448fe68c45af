"""Peak memory of array operations: mba.array against array.array on the same elements.

Each operation runs in a fresh process holding an array of N doubles (and, for comparisons, a
second equal one). The process's peak resident size is reset after the setup (writing 5 to
/proc/self/clear_refs) and read after the operation (VmHWM in /proc/self/status); the figure is
that peak less the resident size before the operation: what the operation itself needed at its
worst, Python objects, copies and new shared-memory pages alike.

Usage: python memory_table.py [N] [--markdown]   (N defaults to 10,000,000)
       python memory_table.py --one IMPL OP N    (one measurement, as JSON; what the table runs)
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# name: statement
OPS = {
    "x in a": "(-1.0 in a)",
    "a.count(x)": "a.count(0.5)",
    "a.index(x)": "a.index(last)",
    "a.remove(x)": "a.remove(last)",
    "repr(a)": "repr(a)",
    "a == b": "(a == b)",
    "a < b": "(a < b)",
    "for x in a": "for x in a: pass",
    "a[1:-1]": "a[1:-1]",
    "a[::2]": "a[::2]",
    "a[:1000]": "a[:1000]",
    "a.tobytes()": "a.tobytes()",
    "a.reverse()": "a.reverse()",
    "a.byteswap()": "a.byteswap()",
    "a * 2": "a * 2",
    "a.extend(b)": "a.extend(b)",
    "a *= 2": "a *= 2",
    "a *= 3": "a *= 3",
}
# Operations that need no copy of the array: their peak must stay under a fixed bound.
CHUNKED = ["x in a", "a.count(x)", "a.index(x)", "a.remove(x)", "a == b", "a < b", "for x in a", "a.reverse()",
           "a.byteswap()", "a[:1000]"]


def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def one(impl, op, n):
    import array
    import gc

    sys.path.insert(0, os.path.dirname(HERE))
    std = array.array("d", range(n))
    if impl == "mba":
        import mba

        a, b = mba.array("d"), mba.array("d")
        a.frombytes(std)
        b.frombytes(std)
    else:
        a, b = std, array.array("d", std)
    del std
    last = a[-1]  # noqa: F841 - used by the statements
    code = compile(OPS[op], op, "exec")
    gc.collect()
    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak resident size starts again from now
    exec(code, {"a": a, "b": b, "last": last})
    peak = status("VmHWM") - before
    print(json.dumps({"impl": impl, "op": op, "n": n, "peak": max(peak, 0)}))


def measure(op, n, impls=("array", "mba")):
    out = {}
    for impl in impls:
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", impl, op, str(n)],
                           capture_output=True, text=True, check=True)
        out[impl] = json.loads(r.stdout)["peak"]
    return out


def main():
    if sys.argv[1:2] == ["--one"]:
        one(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 10_000_000
    size = 8 * n
    print(f"Peak memory beyond the arrays themselves, {n:,} doubles ({size / 2**20:.0f} MiB per array)")
    print()
    print("| operation | array.array | mba.array | mba / array size |")
    print("|---|---:|---:|---:|")
    for op in OPS:
        m = measure(op, n)
        print(f"| `{op}` | {m['array'] / 2**20:.1f} MiB | {m['mba'] / 2**20:.1f} MiB | {m['mba'] / size:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
