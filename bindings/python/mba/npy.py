"""mba.npy: ``.npy`` files that grow by rows, readable by numpy after every sync.

    from mba import npy
    with npy.NpyWriter("rows.npy", "f8", trailing=(3,)) as w:   # shape (0, 3), room to grow
        w.append(numpy.ones((10, 3)))
        w.sync()                                  # numpy.load("rows.npy") now has 10 rows
    w = npy.NpyWriter.open("rows.npy")            # append more later (cuts unsynced rows)

The header is written with room for the row count to reach any 64-bit number, and ``sync()``
makes the rows durable before the header describes them. Read the file while it grows with
``mba.smmap`` (``make_cursor(path, kind="npy")``): its length follows the header.
One writer per file at a time. A writer may be shared by threads: its calls take turns, and
``close()`` waits for a call in progress.
"""

import ctypes
import os
import sys
import threading

from . import _lib
from . import Error as _Error

__all__ = ["NpyWriter"]

_p = ctypes.c_void_p
for _name, _args in [
    ("mba_npy_create", [ctypes.c_char_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint64),
                        ctypes.c_uint32, ctypes.POINTER(_p)]),
    ("mba_npy_open", [ctypes.c_char_p, ctypes.POINTER(_p)]),
    ("mba_npy_append", [_p, _p, ctypes.c_uint64]),
    ("mba_npy_sync", [_p]),
    ("mba_npy_rows", [_p, ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_uint64)]),
    ("mba_npy_close", [_p]),
]:
    _f = getattr(_lib, _name)
    _f.argtypes, _f.restype = _args, ctypes.c_int32
_lib.mba_npy_row_bytes.argtypes, _lib.mba_npy_row_bytes.restype = [_p], ctypes.c_uint64

_MBA_OVERWRITE = 4


def _check(status):
    if status != 0:
        message = _lib.mba_last_error().decode(errors="replace")
        pkg = sys.modules[__package__]
        cls = {-6: getattr(pkg, "ExistsError", None), -5: getattr(pkg, "NotFoundError", None)}.get(status)
        raise (cls or _Error)(status, message)


def _code(dtype):
    from .smmap import _dtype_code  # one table of dtype names for the binding's modules
    code = _dtype_code(dtype)
    if code == 0:
        raise ValueError("a dtype is required")
    return code


class NpyWriter:
    """A ``.npy`` file of rows of ``trailing``-shaped elements of ``dtype``, appended to."""

    def __init__(self, path, dtype, trailing=(), *, overwrite=False):
        self._h = None
        # Held across every library call on the handle (which release the GIL): the writer is
        # for one thread at a time (mba_npy_*), and close() must not free it under a call.
        self._lock = threading.Lock()
        n = len(trailing)
        extents = (ctypes.c_uint64 * max(n, 1))(*trailing)
        h = _p()
        _check(_lib.mba_npy_create(os.fsencode(path), _code(dtype), n + 1, extents,
                                   _MBA_OVERWRITE if overwrite else 0, ctypes.byref(h)))
        self._h = h
        self.path = path

    @classmethod
    def open(cls, path):
        """Reopens a ``.npy`` file (native byte order, C order) to append to it."""
        self = cls.__new__(cls)
        self._h = None
        self._lock = threading.Lock()
        h = _p()
        _check(_lib.mba_npy_open(os.fsencode(path), ctypes.byref(h)))
        self._h = h
        self.path = path
        return self

    def _handle(self):
        if self._h is None:
            raise ValueError("operation on a closed NpyWriter")
        return self._h

    def append(self, rows):
        """Appends whole rows: a numpy array (or anything with the buffer protocol) whose bytes
        are rows of the file's dtype and trailing shape, in this machine's byte order."""
        mv = memoryview(rows)
        if not mv.c_contiguous:
            raise ValueError("rows must be C-contiguous")
        n = mv.nbytes
        with self._lock:
            h = self._handle()
            row_bytes = _lib.mba_npy_row_bytes(h)
            if n % row_bytes:
                raise ValueError(f"{n} bytes are not whole rows of {row_bytes} bytes")
            if n == 0:
                return
            mv = mv.cast("B")
            buf = (ctypes.c_char * n).from_buffer_copy(mv) if mv.readonly else (ctypes.c_char * n).from_buffer(mv)
            _check(_lib.mba_npy_append(h, ctypes.addressof(buf), n // row_bytes))

    def sync(self):
        """Makes every appended row durable, then records them in the header."""
        with self._lock:
            _check(_lib.mba_npy_sync(self._handle()))

    @property
    def rows(self):
        """(rows appended, rows the header describes)."""
        a, s = ctypes.c_uint64(), ctypes.c_uint64()
        with self._lock:
            _check(_lib.mba_npy_rows(self._handle(), ctypes.byref(a), ctypes.byref(s)))
        return a.value, s.value

    def close(self):
        """Syncs and closes, after a call in progress in another thread. Closing twice is allowed."""
        with self._lock:
            h, self._h = self._h, None
            if h is not None:
                _check(_lib.mba_npy_close(h))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        h, self._h = getattr(self, "_h", None), None
        if h is not None and _lib is not None:
            _lib.mba_npy_close(h)
