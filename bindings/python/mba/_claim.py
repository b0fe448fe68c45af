"""Claim and commit, and waiting for the length (mba_claim, mba_commit, mba_abort, mba_wait_len).

Two functions, re-exported by the package as ``mba.claim`` and ``mba.wait_len``:

``claim(a, n)``
    A context manager over room for ``n`` elements past the published length of the
    ``mba.array`` ``a``, in the shared array itself: its ``with`` block receives a writable numpy
    view of the room (a memoryview without numpy). Fill it; when the block ends, the elements are
    published all at once, or only the first ``k`` if ``commit(k)`` was called; an exception in
    the block publishes nothing::

        with mba.claim(a, 4096) as room:    # room for 4096 elements, no copy
            room[:] = np.arange(4096)       # readers see nothing yet
        # now readers see all 4096

        c = mba.claim(a, 4096)
        with c as room:
            k = fill(room)
            c.commit(k)                     # publish only the first k

    While the block is open the array holds the right to append (mba_claim): other writers, in
    this process and others, wait for it; ``a``'s own length-changing calls made from the block
    raise ``BusyError``. Do not keep the view after the block. How many elements to claim is
    yours to choose: a few thousand (``DEFAULT_BATCH``, 4096) make the calls' cost vanish per
    element and let readers see progress often.

``wait_len(a, n, timeout=None)``
    Sleeps until ``len(a) >= n`` or ``timeout`` seconds pass (None: no limit) and returns the
    length then (at least ``n`` unless the time ran out). Appenders in any process wake it. The
    GIL is released while it sleeps, and Ctrl-C is noticed within a tenth of a second. An array
    attached read-write is woken at once; a read-only one looks again after an eighth of the
    time it has waited (10 ms at most).
"""

import ctypes
import math
import operator
import time

from . import _EXCLUSIVE_CALLS, _add_view, _check, _lib, _mapping, _np, _NUMPY_DTYPE

_p, _u64, _status = ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int32


def _declare(lib):
    fns = {}
    for name, args in [
        ("mba_claim", [_p, _u64, ctypes.POINTER(_p)]),
        ("mba_commit", [_p, _u64]),
        ("mba_abort", [_p]),
        ("mba_wait_len", [_p, _u64, _u64, ctypes.POINTER(_u64)]),
    ]:
        f = getattr(lib, name)
        f.argtypes, f.restype = args, _status
        fns[name] = f
    return fns


# Handles without MBA_EXCLUSIVE may wait for the append lock: their calls release the GIL.
# Exclusive handles never wait, and keep the GIL, which serializes their calls (as the package's
# own calls do); in an interpreter without a GIL the array's own lock does.
_RELEASING = _declare(ctypes.CDLL(_lib._name, handle=_lib._handle))
_HOLDING = _declare(ctypes.PyDLL(_lib._name, handle=_lib._handle))

#: How many elements the batching appenders of the other bindings claim at a time (MBA_DEFAULT_BATCH).
DEFAULT_BATCH = 4096
_WAIT_FOREVER = 2**64 - 1
#: The longest one call into the library sleeps, so that signals (Ctrl-C) are handled in time.
_WAIT_SLICE = 0.1


_VIEW_TYPES = {}


def _view_type(nbytes):
    """A hashable ctypes array type of nbytes (at least 1), for the set of live views."""
    kind = _VIEW_TYPES.get(nbytes)
    if kind is None:
        if len(_VIEW_TYPES) > 64:
            _VIEW_TYPES.clear()
        kind = _VIEW_TYPES[nbytes] = type("mba_claimed", (ctypes.c_ubyte * max(nbytes, 1),),
                                          {"__hash__": object.__hash__})
    return kind


def _call(a, name, *args):
    base = _mapping(a._s)  # noqa: F841  (the mapping, and so the handle, live until the call returns)
    s = a._s
    if s.calls is not _EXCLUSIVE_CALLS:
        return _RELEASING[name](*args)
    if s.serial is None:
        return _HOLDING[name](*args)
    with s.serial:
        return _HOLDING[name](*args)


class Claim:
    """Room claimed past the end of an ``mba.array``; see ``mba.claim``."""

    def __init__(self, a, n):
        # An exact int: the view's size is computed from it, and an int subclass's own
        # arithmetic or comparisons must not make the view larger than the room claimed.
        if not isinstance(n, int) or operator.index(n) < 0:
            raise ValueError("claim needs a count of at least 0 elements")
        self._a = a
        self._n = operator.index(n)
        self._h = None
        self.view = None

    def __enter__(self):
        a = self._a
        h = a._resizable()  # a closed or inherited array says why; a read-only one, the library
        base = _mapping(a._s)  # the handle lives through the call, the mapping as long as the view
        ptr = _p()
        _check(_call(a, "mba_claim", h, self._n, ctypes.byref(ptr)))
        self._h = h
        try:
            s = a._s
            nbytes = self._n * s.isz
            keeper = _view_type(nbytes).from_address(ptr.value)
            keeper.mapping = base
            _add_view(s, keeper)  # close() refuses while the view exists
            raw = memoryview(keeper).cast("B")[:nbytes]
            np = _np()
            self.view = np.frombuffer(raw, dtype=_NUMPY_DTYPE[s.tc]) if np is not None else raw.cast(s.fmt)
        except BaseException:
            self.abort()
            raise
        return self.view

    def commit(self, k=None):
        """Publishes the first ``k`` claimed elements (all of them if None) and ends the claim."""
        if self._h is None:
            raise ValueError("no claim is open (it was committed or aborted)")
        k = self._n if k is None else k
        if not isinstance(k, int) or not 0 <= operator.index(k) <= self._n:
            raise ValueError(f"commit count {k!r} must be 0 to {self._n}")
        _check(_call(self._a, "mba_commit", self._h, operator.index(k)))
        self._h = self.view = None

    def abort(self):
        """Ends the claim without publishing anything."""
        if self._h is None:
            raise ValueError("no claim is open (it was committed or aborted)")
        _check(_call(self._a, "mba_abort", self._h))
        self._h = self.view = None

    def __exit__(self, exc_type, exc, tb):
        if self._h is not None:
            if exc_type is None:
                self.commit()
            else:
                self.abort()
        return False


def claim(a, n):
    """Room for ``n`` elements past the end of the mba.array ``a``, as a context manager (see mba._claim)."""
    return Claim(a, n)


def wait_len(a, n, timeout=None):
    """Sleeps until ``len(a) >= n`` or ``timeout`` seconds pass; returns the length then."""
    if not isinstance(n, int) or n < 0:
        raise ValueError("wait_len needs a length of at least 0")
    n = min(n, 2**64 - 1)
    s = a._s
    base = s.base  # noqa: F841  (the mapping, and so the handle, live while this sleeps)
    if s.closed or base is None:
        raise ValueError("operation on a closed mba array")
    out = _u64()
    limit = None if timeout is None else max(0.0, float(timeout))
    start = time.monotonic()
    while True:
        left = None if limit is None else limit - (time.monotonic() - start)
        step = _WAIT_SLICE if left is None else max(0.0, min(left, _WAIT_SLICE))
        _check(_RELEASING["mba_wait_len"](s.h, n, math.ceil(step * 1000), ctypes.byref(out)))
        if out.value >= n or (left is not None and left <= _WAIT_SLICE):
            return out.value
