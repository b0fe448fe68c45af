"""Runs every behaviour SharedArray's documentation describes against a module with its API and
prints what happened, one line per check, so that two modules can be compared line for line:

    python sharedarray_parity.py SharedArray PREFIX TMPDIR
    python sharedarray_parity.py mba PREFIX TMPDIR

PREFIX makes the names unique; TMPDIR holds the file:// arrays. Everything made is deleted.
Exceptions are shown by their first built-in class (FileNotFoundError), which both libraries share.
"""

import importlib
import os
import subprocess
import sys

import numpy as np

modname, p, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
sa = importlib.import_module(modname)


def cleanup():
    """Removes whatever this run left, even when a check failed half-way."""
    for d, pre in [("/dev/shm", p), (tmp, p)]:
        for f in os.listdir(d):
            if f.startswith(pre):
                os.remove(os.path.join(d, f))


import atexit  # noqa: E402

atexit.register(cleanup)


def show(*args):
    print(*args, flush=True)


def kind(e):
    return next(c.__name__ for c in type(e).__mro__ if c.__module__ == "builtins")


def outcome(f):
    try:
        r = f()
    except Exception as e:  # noqa: BLE001 - what is raised is the point
        return "raises " + kind(e)
    return "returns " + repr(r)


def mine():
    """The names of list() made by this run, with their dtype and dims."""
    return sorted((bytes(d.name)[len(p):], d.dtype.__name__, tuple(d.dims)) for d in sa.list()
                  if bytes(d.name).startswith(p.encode()))


# ---- The documentation's example, line by line.
a = sa.create(f"shm://{p}test", 10)
b = sa.attach(f"shm://{p}test")
a[0] = 42
show("example b[0]", b[0])
del a
show("example after del a", b[0])
show("example list", mine())
sa.delete(f"{p}test")
show("example after delete", b[0])
show("example list after delete", mine())

# ---- create(name, shape, dtype=float): numpy.zeros' shape and dtype, zero-filled.
for shape, dtype in [(10, float), ((3, 4), np.int32), ((2, 3, 4), "u1"), ((5,), np.float32), ((4, 2), np.complex64),
                     ((3,), np.complex128), ((6,), bool), ((2, 2), np.float16), ((7,), np.int64),
                     ((1, 1, 1, 2), np.uint16)]:
    name = f"{p}c-{np.dtype(dtype).name}"
    x = sa.create(name, shape, dtype=dtype)
    show("create", shape, np.dtype(dtype).name, x.shape, x.dtype, x.flags.writeable, bool((x == 0).all()),
         x.ctypes.data % 4096 == 0)
    x.flat[-1] = 1
    y = sa.attach(name)
    show("  attach", y.shape, y.dtype, y.flat[-1], np.array_equal(x, y))
    show("  base name", repr(x.base.name[len(p):]), repr(y.base.name[len(p):]))
    del x, y
    sa.delete(name)

# Default dtype is float64; shape as an int or a tuple.
x = sa.create(f"{p}default", 3)
show("default dtype", x.dtype, x.shape)
del x
show("bare name is shm", os.path.exists(f"/dev/shm/{p}default"))
sa.delete(f"shm://{p}default")
show("deleted", os.path.exists(f"/dev/shm/{p}default"))

# file:// arrays.
fname = f"file://{tmp}/{p}file"
x = sa.create(fname, (4, 2), dtype=np.float64)
x[:] = np.arange(8).reshape(4, 2)
show("file exists", os.path.exists(f"{tmp}/{p}file"))
y = sa.attach(fname)
show("file attach", y.tolist())
show("file msync", outcome(lambda: x.base.msync(sa.MS_SYNC)))
del x, y
sa.delete(fname)
show("file deleted", os.path.exists(f"{tmp}/{p}file"))

# Errors: an existing name, a missing one, a deleted one.
x = sa.create(f"{p}dup", 2)
show("create existing", outcome(lambda: sa.create(f"{p}dup", 2)))
show("attach missing", outcome(lambda: sa.attach(f"{p}missing")))
show("delete missing", outcome(lambda: sa.delete(f"{p}missing")))
sa.delete(f"{p}dup")
show("attach deleted", outcome(lambda: sa.attach(f"{p}dup")))
x[1] = 5
show("existing attachment after delete", x.tolist())
del x

# ---- attach(name): from another interpreter; many attachments at once.
x = sa.create(f"{p}shared", (3,), dtype=np.int64)
code = (f"import {modname} as sa\n"
        f"v = sa.attach('shm://{p}shared')\n"
        "print(v.tolist(), v.dtype, flush=True)\n"
        "v[1] = 99\n")
r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
show("other interpreter saw", r.stdout.strip())
show("this one sees its write", x.tolist())
views = [sa.attach(f"{p}shared") for _ in range(3)]
views[0][2] = 7
show("several attachments", [v.tolist() for v in views])
ro = sa.attach(f"{p}shared", ro=True)
show("ro attach", ro.flags.writeable, ro.tolist())
show("ro write", outcome(lambda: ro.__setitem__(0, 1)))
del views, ro

# ---- list(): name, dtype, dims of the arrays in /dev/shm.
y = sa.create(f"{p}grid", (2, 5), dtype=np.float32)
# (sorted: the documentation promises no order)
for d in sorted([d for d in sa.list() if bytes(d.name).startswith(p.encode())], key=lambda d: bytes(d.name)):
    show("list entry", type(d.name).__name__, bytes(d.name)[len(p):], d.dtype.__name__, d.dims,
         type(d.dims).__name__, d[0] == d.name, len(d))
del y
sa.delete(f"{p}grid")

# ---- Constants, and the base object: msync(flags), mlock(), munlock(), name.
show("constants distinct", len({sa.MS_ASYNC, sa.MS_SYNC, sa.MS_INVALIDATE}) == 3,
     all(isinstance(c, int) for c in (sa.MS_ASYNC, sa.MS_SYNC, sa.MS_INVALIDATE)))
for flags, what in [(sa.MS_SYNC, "MS_SYNC"), (sa.MS_ASYNC, "MS_ASYNC"),
                    (sa.MS_SYNC | sa.MS_INVALIDATE, "MS_SYNC|MS_INVALIDATE"),
                    (sa.MS_ASYNC | sa.MS_INVALIDATE, "MS_ASYNC|MS_INVALIDATE")]:
    show("msync", what, outcome(lambda: x.base.msync(flags)))
show("mlock", outcome(x.base.mlock))
show("munlock", outcome(x.base.munlock))
show("name", repr(x.base.name[len(p):]))
sa.delete(x.base.name)
show("delete by base name", outcome(lambda: sa.attach(f"{p}shared")))
del x
show("left behind", mine())
