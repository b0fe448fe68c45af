#!/usr/bin/env python3
"""watch.py: the reader of the README demo, in Python through ctypes, no copy.

Attaches read-only to the array the producer writes, then prints its length and last
element as the producer appends: the array grows under it, past the capacity it had at
attach time, and the data pointer stays where it was. Usage: watch.py URI COUNT
Finds libmba.so through MBA_LIBRARY, else target/release/ of this checkout.
"""
import ctypes
import os
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
lib = ctypes.CDLL(os.environ.get("MBA_LIBRARY") or os.path.join(here, "..", "..", "target", "release", "libmba.so"))
lib.mba_attach.argtypes = [ctypes.c_char_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_void_p)]
lib.mba_attach.restype = ctypes.c_int32
for name in ("mba_len", "mba_capacity"):
    getattr(lib, name).argtypes = [ctypes.c_void_p]
    getattr(lib, name).restype = ctypes.c_uint64
lib.mba_data.argtypes = [ctypes.c_void_p]
lib.mba_data.restype = ctypes.c_void_p
lib.mba_free.argtypes = [ctypes.c_void_p]
lib.mba_last_error.restype = ctypes.c_char_p
MBA_READ_ONLY, MBA_ERR_NOT_FOUND = 1, -5

uri, count = sys.argv[1].encode(), int(sys.argv[2])
handle = ctypes.c_void_p()
deadline = time.monotonic() + 10
while (status := lib.mba_attach(uri, MBA_READ_ONLY, ctypes.byref(handle))) == MBA_ERR_NOT_FOUND:
    if time.monotonic() > deadline:
        break
    time.sleep(0.01)  # the producer has not created it yet
if status != 0:
    sys.exit(f"watch: {lib.mba_last_error().decode()}")

start_ptr = lib.mba_data(handle)
data = ctypes.cast(start_ptr, ctypes.POINTER(ctypes.c_uint64))  # a view, not a copy
print(f"watch:    attached {uri.decode()} at length {lib.mba_len(handle)}, capacity {lib.mba_capacity(handle)}")
shown = 0
while shown < count:
    n = lib.mba_len(handle)  # published after the data it covers: data[0:n] is complete
    if n >= shown + 500 or n == count:
        print(f"watch:    length {n:5}  capacity {lib.mba_capacity(handle):5}  last {data[n - 1]:8} = {n - 1}^2")
        assert data[n - 1] == (n - 1) ** 2
        shown = n
    time.sleep(0.005)
assert lib.mba_data(handle) == start_ptr, "data pointer moved"
print(f"watch:    saw all {count} elements through one pointer that never moved; no copy, no re-attach")
lib.mba_free(handle)
