"""mba for Python: typed, growable arrays in shared memory, shared with zero copies.

Pure Python over the C library through ctypes; numpy is used when present (``.numpy()``,
the SharedArray-style functions, fast bulk paths) but not required.

``mba.array`` is a drop-in for the standard library's ``array.array`` (and for
``mmap_backed_array.mmaparray``): the same typecodes, constructor, methods, operators and
exceptions, with the elements in an mba array that other processes and languages can attach
by name. Slices and arithmetic results are plain ``array.array`` copies; in-place operations
(``+=``, ``*=``, slice assignment, ``del``) change the shared array.

The library is found through ``MBA_LIBRARY`` (a path), then ``libmba.so`` next to this
package, then the system's library path.
"""

import array as _stdarray
import ctypes
import ctypes.util
import os
import sys
import weakref

__all__ = ["array", "attach", "create", "delete", "Error", "typecodes"]

# ---------------------------------------------------------------------------------------------
# The library


def _load():
    tried = []
    env = os.environ.get("MBA_LIBRARY")
    if env:
        try:
            return ctypes.CDLL(env)
        except OSError as e:
            tried.append(f"MBA_LIBRARY={env} ({e})")
    else:
        tried.append("MBA_LIBRARY (not set)")
    beside = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libmba.so")
    try:
        return ctypes.CDLL(beside)
    except OSError:
        tried.append(f"{beside} (not found)")
    found = ctypes.util.find_library("mba")
    try:
        return ctypes.CDLL(found or "libmba.so.0")
    except OSError:
        tried.append("the system library path (libmba.so.0 not found)")
    raise ImportError("mba: cannot load libmba; tried " + "; ".join(tried))


_lib = _load()
_p = ctypes.c_void_p
_u64 = ctypes.c_uint64
_u32 = ctypes.c_uint32
_status = ctypes.c_int32
for _name, _args, _ret in [
    ("mba_create", [ctypes.c_char_p, _u32, _u64, _u32, ctypes.POINTER(_p)], _status),
    ("mba_create_mode", [ctypes.c_char_p, _u32, _u64, _u32, _u32, ctypes.POINTER(_p)], _status),
    ("mba_attach", [ctypes.c_char_p, _u32, ctypes.POINTER(_p)], _status),
    ("mba_append", [_p, _p], _status),
    ("mba_extend", [_p, _p, _u64], _status),
    ("mba_get", [_p, _u64, _p], _status),
    ("mba_set", [_p, _u64, _p], _status),
    ("mba_read", [_p, _u64, _u64, _p], _status),
    ("mba_write", [_p, _u64, _u64, _p], _status),
    ("mba_pop", [_p, _p], _status),
    ("mba_truncate", [_p, _u64], _status),
    ("mba_reserve", [_p, _u64], _status),
    ("mba_msync", [_p, _u32], _status),
    ("mba_free", [_p], _status),
    ("mba_delete", [ctypes.c_char_p], _status),
    ("mba_len", [_p], _u64),
    ("mba_capacity", [_p], _u64),
    ("mba_dtype", [_p], _u32),
    ("mba_itemsize", [_p], _u32),
    ("mba_data", [_p], _p),
    ("mba_fd", [_p], ctypes.c_int),
    ("mba_last_error", [], ctypes.c_char_p),
    ("mba_status_str", [_status], ctypes.c_char_p),
    ("mba_version", [], ctypes.c_char_p),
]:
    _f = getattr(_lib, _name)
    _f.argtypes, _f.restype = _args, _ret

__version__ = _lib.mba_version().decode()

MBA_READ_ONLY, MBA_EXCLUSIVE, MBA_OVERWRITE = 1, 2, 4
MBA_SYNC, MBA_ASYNC = 1, 2


class Error(OSError):
    """A failed mba call: ``.status`` is the mba status code, the message the library's."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class NotFoundError(Error, FileNotFoundError):
    pass


class ExistsError(Error, FileExistsError):
    pass


class PermissionDenied(Error, PermissionError):
    pass


class BusyError(Error):
    pass


class NoSpaceError(Error):
    pass


class CorruptError(Error):
    pass


_ERRORS = {-5: NotFoundError, -6: ExistsError, -11: PermissionDenied, -9: BusyError, -8: NoSpaceError, -7: CorruptError}


def _raise(status):
    message = _lib.mba_last_error().decode(errors="replace")
    raise _ERRORS.get(status, Error)(status, message)


def _check(status):
    if status != 0:
        _raise(status)


def _uri(uri):
    return os.fsencode(uri) if uri is not None else b""


# ---------------------------------------------------------------------------------------------
# Types

typecodes = "bBhHiIlLqQfd"
_ctype_of = {
    "b": ctypes.c_int8, "B": ctypes.c_uint8, "h": ctypes.c_int16, "H": ctypes.c_uint16,
    "i": ctypes.c_int, "I": ctypes.c_uint, "l": ctypes.c_long, "L": ctypes.c_ulong,
    "q": ctypes.c_int64, "Q": ctypes.c_uint64, "f": ctypes.c_float, "d": ctypes.c_double,
}
# mba dtype codes by (signed, size) for integers, and for the two float sizes.
_INT = {(True, 1): 1, (False, 1): 2, (True, 2): 3, (False, 2): 4, (True, 4): 5, (False, 4): 6, (True, 8): 7, (False, 8): 8}
_TYPECODE_OF_DTYPE = {1: "b", 2: "B", 3: "h", 4: "H", 5: "i", 6: "I", 7: "q", 8: "Q", 9: "f", 10: "d"}


def _dtype_code(typecode):
    if typecode in "fd":
        return 9 if typecode == "f" else 10
    return _INT[(typecode.islower(), _stdarray.array(typecode).itemsize)]


# Per typecode, computed once: (mba dtype code, item size).
_INFO = {tc: (_dtype_code(tc), _stdarray.array(tc).itemsize) for tc in typecodes}


def _dtype_of(typecode):
    if not isinstance(typecode, str) or typecode not in _INFO:
        raise ValueError("bad typecode (must be b, B, h, H, i, I, l, L, q, Q, f or d)")
    return _INFO[typecode][0]


def _np():
    try:
        import numpy
    except ImportError:
        return None
    return numpy


# numpy's type strings ('<u4'), for views through __array_interface__.
_TYPESTR = {
    tc: ("<" if sys.byteorder == "little" else ">") + ("f" if tc in "fd" else "i" if tc.islower() else "u")
    + str(_INFO[tc][1])
    for tc in typecodes
}


class _NumpyView:
    """What numpy views of an mba array are made from (and keep alive): the address, length
    and type of the elements, and the array that owns the mapping."""

    __slots__ = ("__array_interface__", "owner", "__weakref__")

    def __init__(self, owner, address, n, typecode, readonly):
        self.owner = owner
        self.__array_interface__ = {"data": (address, readonly), "shape": (n,),
                                    "typestr": _TYPESTR[typecode], "version": 3}


# ---------------------------------------------------------------------------------------------
# array


class array:
    """array(typecode, initializer=(), *, uri=None, capacity=0, exclusive=False, overwrite=False, mode=None)

    A typed array in shared memory, with the interface of ``array.array``. ``uri`` is
    ``"shm://NAME"``, ``"file://PATH"``, or None for an anonymous array private to this process.
    """

    def __init__(self, typecode, initializer=(), *, uri=None, capacity=0, exclusive=False, overwrite=False,
                 mode=None):
        dtype = _dtype_of(typecode)
        h = _p()
        flags = (MBA_EXCLUSIVE if exclusive else 0) | (MBA_OVERWRITE if overwrite else 0)
        if mode is None:
            _check(_lib.mba_create(_uri(uri), dtype, capacity, flags, ctypes.byref(h)))
        else:
            _check(_lib.mba_create_mode(_uri(uri), dtype, capacity, flags, mode, ctypes.byref(h)))
        self._setup(h, typecode, uri, False)
        if initializer == ():
            pass
        elif isinstance(initializer, (bytes, bytearray)):
            self.frombytes(initializer)
        elif isinstance(initializer, str):
            raise TypeError(f"cannot use a str to initialize an array with typecode '{typecode}'")
        elif initializer is not None:
            self.extend(initializer)

    @classmethod
    def attach(cls, uri, readonly=False, exclusive=False):
        """Attaches to the existing array named ``uri``; its typecode comes from its dtype."""
        h = _p()
        flags = (MBA_READ_ONLY if readonly else 0) | (MBA_EXCLUSIVE if exclusive else 0)
        _check(_lib.mba_attach(_uri(uri), flags, ctypes.byref(h)))
        self = cls.__new__(cls)
        self._setup(h, _TYPECODE_OF_DTYPE[_lib.mba_dtype(h)], uri, readonly)
        return self

    def _setup(self, h, typecode, uri, readonly):
        self._h = h
        self._tc = typecode
        self._uri = uri
        self._ro = readonly
        self._isz = _INFO[typecode][1]
        self._one = _stdarray.array(typecode, [0])  # validates and packs one element
        self._view_type = (0, None)  # the ctypes type of the last view, and its length
        self._one_addr = self._one.buffer_info()[0]
        self._views = weakref.WeakSet()

    # -- lifetime --------------------------------------------------------------------------

    def _handle(self):
        if self._h is None:
            raise ValueError("operation on a closed mba array")
        return self._h

    def close(self):
        """Unmaps the array (the shared array itself stays). Fails while numpy or memoryview
        views of it exist, as mmap does, since they would point at unmapped memory."""
        if self._h is None:
            return
        if len(self._views):
            raise BufferError(f"cannot close: {len(self._views)} exported views of the array exist")
        _lib.mba_free(self._h)
        self._h = None

    def __del__(self):
        h = getattr(self, "_h", None)
        if h is not None and _lib is not None:
            _lib.mba_free(h)  # views hold a reference to self, so none is left

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- properties ------------------------------------------------------------------------

    @property
    def typecode(self):
        return self._tc

    @property
    def itemsize(self):
        return self._isz

    @property
    def uri(self):
        return self._uri

    @property
    def readonly(self):
        return self._ro

    @property
    def capacity(self):
        return _lib.mba_capacity(self._handle())

    def buffer_info(self):
        """(address, length): the address never moves while the array is open."""
        h = self._handle()
        return (_lib.mba_data(h), _lib.mba_len(h))

    def __len__(self):
        return _lib.mba_len(self._handle())

    # -- zero-copy views ---------------------------------------------------------------------

    def _buffer(self, n=None):
        h = self._handle()
        n = _lib.mba_len(h) if n is None else n
        if self._view_type[0] != n or self._view_type[1] is None:
            kind = type("mba_view", (_ctype_of[self._tc] * n,), {"__hash__": object.__hash__})
            self._view_type = (n, kind)
        kind = self._view_type[1]
        buf = kind.from_address(_lib.mba_data(h)) if n else kind()
        buf.owner = self  # the mapping lives as long as any view of it
        self._views.add(buf)
        return buf

    def memoryview(self):
        """A zero-copy memoryview of the elements published now (read-only if the array is)."""
        m = memoryview(self._buffer()).cast("B").cast(self._tc)
        return m.toreadonly() if self._ro else m

    def numpy(self):
        """A zero-copy numpy view of the elements published now. Other processes' appends
        appear in later views (the data does not move); writes go to the shared array."""
        np = _np()
        if np is None:
            raise ImportError("numpy is not installed")
        h = self._handle()
        view = _NumpyView(self, _lib.mba_data(h), _lib.mba_len(h), self._tc, self._ro)
        self._views.add(view)
        return np.asarray(view)

    # -- copies ------------------------------------------------------------------------------

    def _read(self, start, count):
        out = _stdarray.array(self._tc, bytes(count * self._isz))
        if count:
            _check(_lib.mba_read(self._handle(), start, count, out.buffer_info()[0]))
        return out

    def _snapshot(self):
        return self._read(0, len(self))

    def tolist(self):
        return self._snapshot().tolist()

    def tobytes(self):
        return self._snapshot().tobytes()

    def tofile(self, f):
        f.write(self.tobytes())

    def tounicode(self):
        raise ValueError("tounicode() may only be called on unicode type arrays")

    def fromunicode(self, s):
        raise ValueError("fromunicode() may only be called on unicode type arrays")

    # -- adding ------------------------------------------------------------------------------

    def append(self, x):
        self._one[0] = x  # TypeError / OverflowError exactly as array.array
        _check(_lib.mba_append(self._handle(), self._one_addr))

    def _extend_raw(self, address, count):
        if count:
            _check(_lib.mba_extend(self._handle(), address, count))

    def extend(self, iterable):
        if isinstance(iterable, (_stdarray.array, array)):
            if iterable.typecode != self._tc:
                raise TypeError("can only extend with array of same kind")
            src = iterable if isinstance(iterable, _stdarray.array) else iterable._snapshot()
            self._extend_raw(src.buffer_info()[0], len(src))
            return
        np = _np()
        if np is not None and isinstance(iterable, np.ndarray):
            want = np.dtype(_ctype_of[self._tc])
            if iterable.dtype == want and iterable.ndim == 1 and iterable.flags.c_contiguous:
                self._extend_raw(iterable.ctypes.data, iterable.size)  # straight from numpy's memory
                return
        src = _stdarray.array(self._tc, iterable)
        self._extend_raw(src.buffer_info()[0], len(src))

    def frombytes(self, buffer):
        data = memoryview(buffer).cast("B")
        if len(data) % self._isz:
            raise ValueError("bytes length not a multiple of item size")
        if len(data):
            holder = (ctypes.c_char * len(data)).from_buffer_copy(data) if data.readonly else \
                (ctypes.c_char * len(data)).from_buffer(data)
            self._extend_raw(ctypes.addressof(holder), len(data) // self._isz)

    def fromlist(self, items):
        if not isinstance(items, list):
            raise TypeError("arg must be list")
        self.extend(_stdarray.array(self._tc, items))

    def fromfile(self, f, n):
        if not isinstance(n, int):
            raise TypeError("an integer is required")
        if n < 0:
            raise ValueError("negative count")
        data = f.read(n * self._isz)
        whole = len(data) - len(data) % self._isz
        self.frombytes(data[:whole])
        if len(data) < n * self._isz:
            raise EOFError("read() didn't return enough bytes")

    def insert(self, i, x):
        n = len(self)
        if i < 0:
            i = max(i + n, 0)
        i = min(i, n)
        self._one[0] = x
        tail = self._read(i, n - i)
        _check(_lib.mba_truncate(self._handle(), i))
        self.append(x)
        self.extend(tail)

    # -- removing ----------------------------------------------------------------------------

    def pop(self, i=-1):
        n = len(self)
        if n == 0:
            raise IndexError("pop from empty array")
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("pop index out of range")
        if i == n - 1:
            _check(_lib.mba_pop(self._handle(), self._one_addr))
            return self._one[0]
        value = self[i]
        del self[i]
        return value

    def remove(self, x):
        del self[self.index(x)]

    def __delitem__(self, key):
        n = len(self)
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step == 1 or (step > 0 and start >= stop):
                stop = max(start, stop)
                tail = self._read(stop, n - stop)
                _check(_lib.mba_truncate(self._handle(), start))
                self.extend(tail)
                return
            kept = self._snapshot()
            del kept[key]
            self._rewrite(kept)
            return
        i = self._index(key, n)
        tail = self._read(i + 1, n - i - 1)
        _check(_lib.mba_truncate(self._handle(), i))
        self.extend(tail)

    def _rewrite(self, values):
        _check(_lib.mba_truncate(self._handle(), 0))
        self.extend(values)

    # -- searching ---------------------------------------------------------------------------

    def index(self, x, start=0, stop=sys.maxsize):
        try:
            return self._snapshot().index(x, start, stop)
        except ValueError:
            raise ValueError("array.index(x): x not in array") from None

    def count(self, x):
        return self._snapshot().count(x)

    def __contains__(self, x):
        return x in self._snapshot()

    # -- in place --------------------------------------------------------------------------

    def reverse(self):
        a = self._snapshot()
        a.reverse()
        self._write(0, a)

    def byteswap(self):
        a = self._snapshot()
        a.byteswap()
        self._write(0, a)

    def _write(self, start, values):
        if len(values):
            _check(_lib.mba_write(self._handle(), start, len(values), values.buffer_info()[0]))

    # -- indexing --------------------------------------------------------------------------

    @staticmethod
    def _index(i, n):
        if not hasattr(i, "__index__"):
            raise TypeError("array indices must be integers")
        i = i.__index__()
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("array index out of range")
        return i

    def __getitem__(self, key):
        h = self._handle()
        if isinstance(key, slice):
            start, stop, step = key.indices(_lib.mba_len(h))
            if step == 1:
                return self._read(start, max(stop - start, 0))
            return self._snapshot()[key]
        i = self._index(key, _lib.mba_len(h))
        if _lib.mba_get(h, i, self._one_addr) != 0:
            raise IndexError("array index out of range")
        return self._one[0]

    def __setitem__(self, key, value):
        h = self._handle()
        if isinstance(key, slice):
            if not isinstance(value, (_stdarray.array, array)):
                raise TypeError(f'can only assign array (not "{type(value).__name__}") to array slice')
            if value.typecode != self._tc:
                raise TypeError("bad argument type for built-in operation")
            values = value if isinstance(value, _stdarray.array) else value._snapshot()
            n = _lib.mba_len(h)
            start, stop, step = key.indices(n)
            if step == 1:
                stop = max(start, stop)
                if stop - start == len(values):
                    self._write(start, values)
                else:
                    tail = self._read(stop, n - stop)
                    _check(_lib.mba_truncate(h, start))
                    self.extend(values)
                    self.extend(tail)
                return
            whole = self._snapshot()
            whole[key] = values  # raises ValueError on a size mismatch, as array.array does
            self._write(0, whole)
            return
        i = self._index(key, _lib.mba_len(h))
        self._one[0] = value
        _check(_lib.mba_set(h, i, self._one_addr))

    def __iter__(self):
        i = 0
        while True:
            chunk = self._read(i, min(4096, max(len(self) - i, 0)))
            if not chunk:
                return
            yield from chunk
            i += len(chunk)

    # -- operators ---------------------------------------------------------------------------

    def _other(self, other, what):
        if isinstance(other, array):
            other = other._snapshot()
        if not isinstance(other, _stdarray.array):
            raise TypeError(f'can only {what} array (not "{type(other).__name__}") to array')
        if other.typecode != self._tc:
            raise TypeError("bad argument type for built-in operation")
        return other

    def __add__(self, other):
        return self._snapshot() + self._other(other, "append")

    def __iadd__(self, other):
        self.extend(self._other(other, "extend"))
        return self

    def __mul__(self, n):
        return self._snapshot() * n

    __rmul__ = __mul__

    def __imul__(self, n):
        if not hasattr(n, "__index__"):
            return NotImplemented
        n = n.__index__()
        data = self._snapshot()
        if n <= 0:
            _check(_lib.mba_truncate(self._handle(), 0))
        for _ in range(n - 1):
            self.extend(data)
        return self

    def _cmp(self, other):
        if isinstance(other, array):
            return other._snapshot()
        if isinstance(other, _stdarray.array):
            return other
        return None

    def __eq__(self, other):
        o = self._cmp(other)
        return NotImplemented if o is None else self._snapshot() == o

    def __ne__(self, other):
        o = self._cmp(other)
        return NotImplemented if o is None else self._snapshot() != o

    def __lt__(self, other):
        o = self._cmp(other)
        return NotImplemented if o is None else self._snapshot() < o

    def __le__(self, other):
        o = self._cmp(other)
        return NotImplemented if o is None else self._snapshot() <= o

    def __gt__(self, other):
        o = self._cmp(other)
        return NotImplemented if o is None else self._snapshot() > o

    def __ge__(self, other):
        o = self._cmp(other)
        return NotImplemented if o is None else self._snapshot() >= o

    __hash__ = None

    def __repr__(self):
        return repr(self._snapshot())

    def __copy__(self):
        return self._snapshot()

    def __deepcopy__(self, memo):
        return self._snapshot()

    def __reduce__(self):
        raise TypeError("an mba.array is shared memory: pickle its uri and attach instead")

    def sync(self, wait=True):
        """Writes the array back to its store (msync): data first, then the length."""
        _check(_lib.mba_msync(self._handle(), MBA_SYNC if wait else MBA_ASYNC))


# ---------------------------------------------------------------------------------------------
# SharedArray-style functions: numpy arrays backed by shared memory


def _typecode_of_numpy(dtype):
    np = _np()
    dt = np.dtype(dtype)
    for tc in "bBhHiIqQfd":
        if np.dtype(_ctype_of[tc]) == dt:
            return tc
    raise TypeError(f"mba has no element type for numpy dtype {dt}")


def create(uri, shape, dtype=float):
    """Creates a zero-filled array of ``shape`` (the product of its dimensions elements; mba
    stores it flat) at ``uri`` and returns a numpy view of it, like SharedArray.create."""
    np = _np()
    if np is None:
        raise ImportError("numpy is not installed")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    n = 1
    for d in shape:
        n *= d
    a = array(_typecode_of_numpy(dtype), uri=uri, capacity=max(n, 1))
    zeros = bytes(min(n, 1 << 18) * a.itemsize)
    while len(a) < n:
        a.frombytes(zeros[: (n - len(a)) * a.itemsize])
    return a.numpy().reshape(shape)


def attach(uri, readonly=False):
    """Attaches to the array at ``uri`` and returns a numpy view of it (flat), like SharedArray.attach."""
    return array.attach(uri, readonly=readonly).numpy()


def delete(uri):
    """Removes the name ``uri``; attached arrays and views keep working."""
    _check(_lib.mba_delete(_uri(uri)))
