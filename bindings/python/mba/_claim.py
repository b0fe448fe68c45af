"""Claim and commit, and waiting for the length (mba_claim, mba_commit, mba_abort, mba_wait_len).

Importing this module adds two methods to ``mba.array``:

``array.claim(n)``
    A context manager: its ``with`` block receives a writable numpy view (a memoryview without
    numpy) of room for ``n`` elements past the published length, in the shared array itself.
    Fill it; when the block ends, the elements are published all at once, or the first ``k`` of
    them if ``commit(k)`` was called; an exception in the block publishes nothing::

        with a.claim(4096) as room:       # room for 4096 elements, no copy
            room[:] = np.arange(4096)      # readers see nothing yet
        # now readers see all 4096

        c = a.claim(4096)
        with c as room:
            k = fill(room)
            c.commit(k)                    # publish only the first k

    While the block is open the array holds the right to append (mba_claim): other writers, in
    this process and others, wait for it; the block's own thread gets ``BusyError`` from
    ``append``, ``extend`` and other length-changing calls. Do not keep the view after the block.
    How many elements to claim is yours to choose: a few thousand (``DEFAULT_BATCH``, 4096) make
    the calls' cost vanish per element and let readers see progress often.

``array.wait_len(n, timeout=None)``
    Sleeps until ``len(a) >= n`` or ``timeout`` seconds pass (None: no limit) and returns the
    length then (at least ``n`` unless the time ran out). Appenders in any process wake it. The
    GIL is released while it sleeps, and Ctrl-C is noticed within a tenth of a second. An array
    attached read-write is woken at once; a read-only one looks again at least every 2 ms.
"""

import ctypes
import math
import time

from . import _NumpyView, _check, _ctype_of, _lib, _np, array

_p, _u64, _status = ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int32
for _name, _args in [
    ("mba_claim", [_p, _u64, ctypes.POINTER(_p)]),
    ("mba_commit", [_p, _u64]),
    ("mba_abort", [_p]),
    ("mba_wait_len", [_p, _u64, _u64, ctypes.POINTER(_u64)]),
]:
    _f = getattr(_lib, _name)
    _f.argtypes, _f.restype = _args, _status

#: How many elements the batching appenders of the other bindings claim at a time (MBA_DEFAULT_BATCH).
DEFAULT_BATCH = 4096
_WAIT_FOREVER = 2**64 - 1
#: The longest one call into the library sleeps, so that signals (Ctrl-C) are handled in time.
_WAIT_SLICE = 0.1


class Claim:
    """Room claimed past the end of an ``mba.array``; see ``array.claim``."""

    def __init__(self, owner, n):
        if not isinstance(n, int) or n < 0:
            raise ValueError("claim needs a count of at least 0 elements")
        self._a = owner
        self._n = n
        self._open = False
        self.view = None

    def __enter__(self):
        a = self._a
        ptr = _p()
        _check(_lib.mba_claim(a._handle(), self._n, ctypes.byref(ptr)))
        self._open = True
        np = _np()
        if np is not None:
            holder = _NumpyView(a, ptr.value, self._n, a._tc, False)
            a._views.add(holder)
            self.view = np.asarray(holder)
        else:
            buf = (_ctype_of[a._tc] * self._n).from_address(ptr.value)
            buf.owner = a
            a._views.add(buf)
            self.view = memoryview(buf).cast("B").cast(a._tc)
        return self.view

    def commit(self, k=None):
        """Publishes the first ``k`` claimed elements (all of them if None) and ends the claim."""
        if not self._open:
            raise ValueError("no claim is open (it was committed or aborted)")
        k = self._n if k is None else k
        if not isinstance(k, int) or not 0 <= k <= self._n:
            raise ValueError(f"commit count {k!r} must be 0 to {self._n}")
        _check(_lib.mba_commit(self._a._handle(), k))
        self._end()

    def abort(self):
        """Ends the claim without publishing anything."""
        if not self._open:
            raise ValueError("no claim is open (it was committed or aborted)")
        _check(_lib.mba_abort(self._a._handle()))
        self._end()

    def _end(self):
        self._open = False
        self.view = None

    def __exit__(self, exc_type, exc, tb):
        if self._open:
            if exc_type is None:
                self.commit()
            else:
                self.abort()
        return False


def _claim(self, n):
    """claim(n): room for n elements past the end, as a context manager (see mba._claim)."""
    return Claim(self, n)


def _wait_len(self, n, timeout=None):
    """wait_len(n, timeout=None): sleeps until len(self) >= n or timeout seconds pass; returns the length."""
    if not isinstance(n, int) or n < 0:
        raise ValueError("wait_len needs a length of at least 0")
    n = min(n, 2**64 - 1)
    out = _u64()
    h = self._handle()
    deadline = None if timeout is None else max(0.0, float(timeout))
    start = time.monotonic()
    while True:
        left = None if deadline is None else deadline - (time.monotonic() - start)
        step = _WAIT_SLICE if left is None else max(0.0, min(left, _WAIT_SLICE))
        _check(_lib.mba_wait_len(h, n, math.ceil(step * 1000), ctypes.byref(out)))
        if out.value >= n or (left is not None and left <= _WAIT_SLICE):
            return out.value


array.claim = _claim
array.wait_len = _wait_len
