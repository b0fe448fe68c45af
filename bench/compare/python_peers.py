"""The Python side of the comparison: mba against array.array, mmap_backed_array, SharedArray,
numpy.memmap and multiprocessing.shared_memory. Prints JSON lines like native.cpp.
Usage: python_peers.py N RUNS   (MBA_LIBRARY must point at libmba.so; mba is imported from bindings/python)"""

import array
import json
import os
import subprocess
import sys
import tempfile
import time
from multiprocessing import shared_memory

import numpy as np
import SharedArray as sa
from mmap_backed_array import mmaparray

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bindings", "python"))
import mba  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
URI, SA = "shm://mba-compare-py", "shm://mba-compare-sa"
SMALL = min(N, 1_000_000)  # enough for the slowest appenders


def measure(f):
    f()
    t = sorted(f() for _ in range(RUNS))
    return t[len(t) // 2], t[0], t[-1]


def emit(group, impl, stats, scale, unit):
    med, lo, hi = (x * scale for x in stats)
    print(json.dumps({"group": group, "impl": impl, "median": med, "min": lo, "max": hi, "unit": unit}), flush=True)


def per_elem(group, impl, f, n=N):
    emit(group, impl, measure(f), 1e9 / n, "ns/elem")


def clean():
    for u in (URI,):
        try:
            mba.delete(u)
        except mba.Error:
            pass
    try:
        sa.delete(SA)
    except Exception:
        pass


def timed(f):
    def run():
        clean()
        t = time.perf_counter()
        f()
        return time.perf_counter() - t
    return run


# ---- append one at a time ----
def mba_append(n):
    a = mba.array("I", uri=URI, capacity=4, exclusive=True)
    ap = a.append
    for i in range(n):
        ap(i)
    a.close()


def std_append(n):
    a = array.array("I")
    ap = a.append
    for i in range(n):
        ap(i)


def mmap_append(n):
    a = mmaparray("I")  # its own growable mmap
    ap = a.append
    for i in range(n):
        ap(i)


per_elem("py-append", "mba.array.append", timed(lambda: mba_append(N)))
per_elem("py-append", "array.array.append", timed(lambda: std_append(N)))
per_elem("py-append", "mmap_backed_array append", timed(lambda: mmap_append(SMALL)), SMALL)

# ---- per-call reads: a[i], len(a), iteration (the same loop around each) ----
READS = min(N, 1_000_000)
read_src = array.array("I", range(READS))
clean()
read_mba = mba.array("I", uri=URI, capacity=READS)
read_mba.extend(read_src)
read_mmap = mmaparray("I", read_src)


def loop_getitem(a, n):
    def run():
        t = time.perf_counter()
        for i in range(n):
            a[i]
        return time.perf_counter() - t
    return run


def loop_len(a, n):
    def run():
        t = time.perf_counter()
        for _ in range(n):
            len(a)
        return time.perf_counter() - t
    return run


def loop_alone(n):
    """The Python loop of loop_getitem and loop_len with nothing in its body: what no a[i] or
    len(a) can go below."""
    def run():
        t = time.perf_counter()
        for i in range(n):
            pass
        return time.perf_counter() - t
    return run


def loop_iter(a):
    def run():
        t = time.perf_counter()
        for _ in a:
            pass
        return time.perf_counter() - t
    return run


for impl, obj in [("mba.array", read_mba), ("array.array", read_src), ("mmap_backed_array", read_mmap)]:
    per_elem("py-getitem", f"{impl} a[i]", loop_getitem(obj, READS), READS)
per_elem("py-getitem", "the loop alone (for i in range(n): pass)", loop_alone(READS), READS)
for impl, obj in [("mba.array", read_mba), ("array.array", read_src), ("mmap_backed_array", read_mmap)]:
    per_elem("py-len", f"{impl} len(a)", loop_len(obj, READS), READS)
per_elem("py-len", "the loop alone (for i in range(n): pass)", loop_alone(READS), READS)
for impl, obj in [("mba.array", read_mba), ("array.array", read_src), ("mmap_backed_array", read_mmap)]:
    per_elem("py-iter", f"{impl} iteration", loop_iter(obj), READS)
read_mba.close()
del read_mmap
clean()

# ---- bulk fill ----
src_np = np.arange(N, dtype=np.uint32)
src_arr = array.array("I", src_np.tobytes())
per_elem("fill", "Python mba.array.extend(array.array)", timed(lambda: mba.array("I", uri=URI, capacity=4).extend(src_arr)))
per_elem("fill", "Python mba.array.extend(numpy)", timed(lambda: mba.array("I", uri=URI, capacity=4).extend(src_np)))


def sa_fill():
    x = sa.create(SA, N, dtype=np.uint32)
    x[:] = src_np


per_elem("fill", "SharedArray create + fill", timed(sa_fill))


def mba_claim_fill():  # issue 14: numpy writes straight into claimed room, one commit
    from mba._claim import claim  # (mba.claim once the package re-exports it)
    a = mba.array("I", uri=URI, capacity=4)
    with claim(a, N) as room:
        room[:] = src_np


per_elem("fill", "Python mba.array.claim + numpy copy", timed(mba_claim_fill))


def memmap_fill():
    with tempfile.NamedTemporaryFile(dir="/dev/shm") as f:
        m = np.memmap(f.name, dtype=np.uint32, mode="w+", shape=(N,))
        m[:] = src_np
        del m


per_elem("fill", "numpy.memmap create + fill (file in /dev/shm)", timed(memmap_fill))


def mp_fill():
    s = shared_memory.SharedMemory(create=True, size=N * 4)
    np.ndarray((N,), dtype=np.uint32, buffer=s.buf)[:] = src_np
    s.close()
    s.unlink()


per_elem("fill", "multiprocessing.shared_memory create + fill", timed(mp_fill))

# ---- read ----
clean()
a = mba.array("I", uri=URI, capacity=N)
a.extend(src_np)
want = int(src_np.sum(dtype=np.uint64))


def numpy_sum():
    t = time.perf_counter()
    s = int(a.numpy().sum(dtype=np.uint64))
    t = time.perf_counter() - t
    assert s == want
    return t


def plain_sum():
    t = time.perf_counter()
    s = int(src_np.sum(dtype=np.uint64))
    t = time.perf_counter() - t
    assert s == want
    return t


per_elem("read", "Python sum through mba .numpy()", numpy_sum)
per_elem("read", "Python sum over a plain numpy array", plain_sum)
x = sa.create(SA, N, dtype=np.uint32)
x[:] = src_np
del x

CHILD = """
import os, sys, time, numpy as np
sys.path.insert(0, {path!r})
import SharedArray as sa, mba
from multiprocessing import shared_memory
from multiprocessing import resource_tracker
kind, name = sys.argv[1], sys.argv[2]
kept = []


def attach():
    if kind == "mba":
        return mba.array.attach(name).numpy()
    if kind == "sa":
        return sa.attach(name)
    s = shared_memory.SharedMemory(name=name)
    kept.append(s)
    return np.ndarray((s.size // 4,), dtype=np.uint32, buffer=s.buf)


t = time.perf_counter()
v = attach()
attached = time.perf_counter() - t
total = int(v.sum(dtype=np.uint64))
summed = time.perf_counter() - t
t = time.perf_counter()
w = attach()  # the same attach again, warm: code paged in, first calls done
again = time.perf_counter() - t
for s in kept:  # an attaching process's resource tracker would unlink the segment at exit (a known bug)
    resource_tracker.unregister(s._name, "shared_memory")
print(attached, summed, total, again)
"""
child_src = CHILD.format(path=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bindings", "python"))


def in_child(kind, name, which):
    def run():
        out = subprocess.run([sys.executable, "-c", child_src, kind, name], capture_output=True, text=True, check=True)
        attached, summed, total, again = out.stdout.split()
        assert which != "sum" or kind == "mp" or int(total) == want, (kind, total)
        return float({"attach": attached, "sum": summed, "again": again}[which])
    return run


per_elem("read", "mba sum in a second Python process (attach + numpy sum)", in_child("mba", URI, "sum"))
per_elem("read", "SharedArray sum in a second process (attach + sum)", in_child("sa", SA, "sum"))
a.close()
clean()

# ---- create and attach latency (attach timed inside a second process) ----
# The 1 GiB rows only in a real run: a short one (N below 1,000,000) only checks that this works.
for n_bytes, label in [(4096, "4 KiB")] + ([(1 << 30, "1 GiB")] if N >= 1_000_000 else []):
    n = n_bytes // 4

    def mba_create():
        clean()
        t = time.perf_counter()
        a = mba.array("I", uri=URI, capacity=n)
        t = time.perf_counter() - t
        a.close()
        return t

    def sa_create():
        clean()
        t = time.perf_counter()
        sa.create(SA, n, dtype=np.uint32)
        return time.perf_counter() - t

    def mp_create():
        t = time.perf_counter()
        s = shared_memory.SharedMemory(create=True, size=n_bytes)
        t = time.perf_counter() - t
        s.close()
        s.unlink()
        return t

    emit("create", f"Python mba {label}", measure(mba_create), 1e6, "us")
    emit("create", f"SharedArray {label}", measure(sa_create), 1e6, "us")
    emit("create", f"multiprocessing.shared_memory {label}", measure(mp_create), 1e6, "us")
    clean()
    a = mba.array("I", uri=URI, capacity=n)
    a.frombytes(bytes(n_bytes))
    sa.create(SA, n, dtype=np.uint32)
    s = shared_memory.SharedMemory(create=True, size=n_bytes)
    emit("attach", f"Python mba {label}", measure(in_child("mba", URI, "attach")), 1e6, "us")
    emit("attach", f"SharedArray {label}", measure(in_child("sa", SA, "attach")), 1e6, "us")
    emit("attach", f"multiprocessing.shared_memory {label}", measure(in_child("mp", s.name, "attach")), 1e6, "us")
    if label == "4 KiB":
        emit("attach", f"Python mba {label}, again in the same process", measure(in_child("mba", URI, "again")), 1e6, "us")
        emit("attach", f"SharedArray {label}, again in the same process", measure(in_child("sa", SA, "again")), 1e6, "us")
    a.close()
    s.close()
    s.unlink()
    clean()
