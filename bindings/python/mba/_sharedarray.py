"""SharedArray's API, by name, on mba arrays.

``import mba as sa`` in place of ``import SharedArray as sa``:

- ``create(name, shape, dtype=float)``: a zero-filled numpy array of ``shape`` in shared memory;
- ``attach(name, ro=False)`` (``readonly=`` too): the array again, with its shape and dtype, from
  any process (and any language that attaches the same mba array);
- ``delete(name)``: removes the name; attached arrays keep working;
- ``list()``: the arrays in /dev/shm, with ``name``, ``dtype`` and ``dims`` as SharedArray gives
  them, plus what mba knows besides (``uri``, ``len``, ``capacity``, ``bytes``, ``owner``,
  ``mode``, ``created``, ``creator_pid``, ``creator_alive``, ``status`` ...);
- the returned array's ``.base`` has ``msync(flags)``, ``mlock()``, ``munlock()``, ``name``
  (and ``madvise(advice)``, ``uri``);
- ``MS_ASYNC``, ``MS_SYNC``, ``MS_INVALIDATE`` for ``msync``.

Names without a scheme mean ``shm://NAME``; ``file://PATH`` names a file. The first axis of the
shape is the one mba arrays grow along (other processes may append rows); the returned numpy
array has the rows there were when it was made. Data is page-aligned, as SharedArray's.
"""

import ctypes
import os
import sys

from . import _lib  # the loaded libmba (ctypes.CDLL), owned by mba/__init__.py

__all__ = ["create", "attach", "delete", "list", "ArrayDesc", "MS_ASYNC", "MS_SYNC", "MS_INVALIDATE",
           "ADVICE_NORMAL", "ADVICE_SEQUENTIAL", "ADVICE_RANDOM", "ADVICE_WILLNEED", "ADVICE_DONTNEED",
           "ADVICE_HUGEPAGE"]

# msync flags, with SharedArray's names and mba's values (mba_msync: MBA_SYNC 1, MBA_ASYNC 2,
# MBA_INVALIDATE 4). Pass these names, not the numbers of mmap or msync(2).
MS_SYNC = 1
MS_ASYNC = 2
MS_INVALIDATE = 4

# madvise advice (MBA_ADVICE_*); base.madvise also takes the names "normal", "sequential" ...
ADVICE_NORMAL, ADVICE_SEQUENTIAL, ADVICE_RANDOM, ADVICE_WILLNEED, ADVICE_DONTNEED, ADVICE_HUGEPAGE = range(6)
_ADVICE = {"normal": 0, "sequential": 1, "random": 2, "willneed": 3, "dontneed": 4, "hugepage": 5}

_READ_ONLY = 1
_MAX_DIMS = 8
_p = ctypes.c_void_p
_u32 = ctypes.c_uint32
_u64 = ctypes.c_uint64
_status = ctypes.c_int32


class _Options(ctypes.Structure):
    _fields_ = [("struct_size", _u32), ("flags", _u32), ("dtype", _u32), ("mode", _u32), ("capacity", _u64),
                ("max_capacity", _u64), ("ndim", _u32), ("typecode", _u32), ("shape", _u64 * 8),
                ("timeout_ms", _u64)]


class _Entry(ctypes.Structure):
    _fields_ = [("uri", ctypes.c_char_p), ("path", ctypes.c_char_p), ("owner", ctypes.c_char_p),
                ("problem", ctypes.c_char_p), ("status", _status), ("dtype", _u32), ("itemsize", _u32),
                ("ndim", _u32), ("shape", _u64 * 8), ("len", _u64), ("capacity", _u64), ("size", _u64),
                ("bytes", _u64), ("uid", _u32), ("mode", _u32), ("created_ns", _u64), ("mtime_ns", _u64),
                ("creator_pid", _u64), ("creator_start", _u64), ("creator_alive", ctypes.c_int32),
                ("typecode", _u32), ("dev", _u64), ("ino", _u64), ("max_capacity", _u64), ("writers", _u32),
                ("reserved", _u32)]


for _name, _args, _ret in [
    ("mba_options_init", [ctypes.POINTER(_Options)], None),
    ("mba_create_ex", [ctypes.c_char_p, ctypes.POINTER(_Options), ctypes.POINTER(_p)], _status),
    ("mba_attach_ex", [ctypes.c_char_p, ctypes.POINTER(_Options), ctypes.POINTER(_p)], _status),
    ("mba_extend", [_p, _p, _u64], _status),
    ("mba_msync", [_p, _u32], _status),
    ("mba_mlock", [_p], _status),
    ("mba_munlock", [_p], _status),
    ("mba_madvise", [_p, _u32], _status),
    ("mba_free", [_p], _status),
    ("mba_delete", [ctypes.c_char_p], _status),
    ("mba_len", [_p], _u64),
    ("mba_dtype", [_p], _u32),
    ("mba_itemsize", [_p], _u32),
    ("mba_ndim", [_p], _u32),
    ("mba_row_size", [_p], _u64),
    ("mba_shape", [_p, ctypes.POINTER(_u64)], _status),
    ("mba_data", [_p], _p),
    ("mba_list_open", [ctypes.c_char_p, _u32, ctypes.POINTER(_p)], _status),
    ("mba_list_count", [_p], _u64),
    ("mba_list_get", [_p, _u64, ctypes.POINTER(_Entry), ctypes.c_size_t], _status),
    ("mba_list_free", [_p], _status),
    ("mba_last_error", [], ctypes.c_char_p),
]:
    _f = getattr(_lib, _name)
    _f.argtypes, _f.restype = _args, _ret


def _check(status):
    if status == 0:
        return
    message = _lib.mba_last_error().decode(errors="replace")
    pkg = sys.modules.get(__package__)
    errors = getattr(pkg, "_ERRORS", {})
    base = getattr(pkg, "Error", None)
    cls = errors.get(status, base)
    if cls is None:
        raise OSError(message)
    raise cls(status, message)


def _np():
    try:
        import numpy
    except ImportError:
        raise ImportError("mba's SharedArray functions need numpy") from None
    return numpy


def _uri(name):
    """A name as SharedArray reads it: ``file://`` and ``shm://`` as they are, anything else ``shm://``."""
    name = os.fsdecode(name)
    if "\0" in name:
        raise ValueError("embedded null byte in mba name")  # C would cut the name there
    return name if "://" in name else "shm://" + name


# numpy (kind, itemsize) <-> mba dtype code.
_CODE = {("i", 1): 1, ("u", 1): 2, ("i", 2): 3, ("u", 2): 4, ("i", 4): 5, ("u", 4): 6, ("i", 8): 7, ("u", 8): 8,
         ("f", 4): 9, ("f", 8): 10, ("b", 1): 11, ("f", 2): 12, ("c", 8): 13, ("c", 16): 14}
_NUMPY = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "i8", 8: "u8", 9: "f4", 10: "f8", 11: "?",
          12: "f2", 13: "c8", 14: "c16"}


def _code_of(dtype):
    np = _np()
    dt = np.dtype(dtype)
    code = _CODE.get((dt.kind, dt.itemsize))
    if code is None or dt.fields is not None or dt.subdtype is not None:
        raise TypeError(f"mba has no element type for numpy dtype {dt}")
    if not dt.isnative:
        raise TypeError(f"numpy dtype {dt} is not in this machine's byte order")
    return code


def _dtype_of(code):
    return _np().dtype(_NUMPY[code])


class ArrayBase:
    """The ``.base`` of the numpy arrays ``create`` and ``attach`` return: it owns the mba handle
    (freed when the last numpy array made from it is gone) and offers SharedArray's methods."""

    def __init__(self, handle, name, uri, shape, readonly):
        self._h = handle
        self.name = name
        self.uri = uri
        code = _lib.mba_dtype(handle)
        self.addr = _lib.mba_data(handle)
        self.size = _lib.mba_itemsize(handle)
        for d in shape:
            self.size *= d
        self.__array_interface__ = {"data": (self.addr, readonly), "shape": tuple(shape),
                                    "typestr": _dtype_of(code).str, "version": 3}

    def _handle(self):
        if self._h is None:
            raise ValueError("operation on a closed array")
        return self._h

    def msync(self, flags=MS_SYNC):
        """Writes the array back to its store (msync(2)): MS_SYNC waits, MS_ASYNC schedules;
        MS_INVALIDATE may be added. Useful for file:// arrays."""
        flags = int(flags)
        if not flags & (MS_SYNC | MS_ASYNC):
            flags |= MS_ASYNC
        _check(_lib.mba_msync(self._handle(), flags))

    def mlock(self):
        """Locks the array's pages into RAM (mlock(2)). An RLIMIT_MEMLOCK refusal raises an error
        naming the limit and its value."""
        _check(_lib.mba_mlock(self._handle()))

    def munlock(self):
        """Unlocks the array's pages (munlock(2))."""
        _check(_lib.mba_munlock(self._handle()))

    def madvise(self, advice):
        """Advises the system how the array will be read (madvise(2)): ADVICE_NORMAL, _SEQUENTIAL,
        _RANDOM, _WILLNEED, _DONTNEED, _HUGEPAGE, or their names ("sequential" ...)."""
        if isinstance(advice, str):
            if advice.lower() not in _ADVICE:
                raise ValueError(f"unknown advice {advice!r}; one of {', '.join(_ADVICE)}")
            advice = _ADVICE[advice.lower()]
        _check(_lib.mba_madvise(self._handle(), int(advice)))

    def __del__(self):
        h = getattr(self, "_h", None)
        if h is not None and _lib is not None:
            self._h = None
            _lib.mba_free(h)

    def __repr__(self):
        return f"<mba array base {self.name!r} at {self.addr:#x}>"


def _array_of(handle, name, uri, readonly, shape=None):
    np = _np()
    if shape is None:
        ndim = _lib.mba_ndim(handle)
        dims = (_u64 * _MAX_DIMS)()
        _check(_lib.mba_shape(handle, dims))
        shape = tuple(dims[:ndim])
    base = ArrayBase(handle, name, uri, shape, readonly)
    a = np.asarray(base)
    assert a.base is base
    return a


def create(name, shape, dtype=float):
    """Creates a zero-filled array of ``shape`` and ``dtype`` (as ``numpy.zeros`` takes them) named
    ``name`` and returns it as a numpy array. Raises FileExistsError if the name is taken."""
    np = _np()
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(d) for d in shape)
    if any(d < 0 for d in shape):
        raise ValueError(f"negative dimensions are not allowed: {shape}")
    if len(shape) > _MAX_DIMS:
        raise ValueError(f"mba arrays have at most {_MAX_DIMS} dimensions, not {len(shape)}")
    # A 0-d array is stored as one element (shape (1,) when attached).
    stored = shape if shape else (1,)
    if 0 in stored[1:]:
        raise ValueError(f"shape {shape}: only the first axis may have extent 0 in an mba array")
    code = _code_of(dtype)
    n = 1
    for d in stored:
        n *= d
    o = _Options()
    _lib.mba_options_init(ctypes.byref(o))
    o.dtype, o.capacity, o.ndim = code, n, len(stored)
    for i, d in enumerate(stored):
        o.shape[i] = d if i else 0
    uri = _uri(name)
    h = _p()
    _check(_lib.mba_create_ex(uri.encode(), ctypes.byref(o), ctypes.byref(h)))
    try:
        # The new store reads as zeros: publish them in whole rows, at most 1 MiB at a time.
        row = _lib.mba_row_size(h)
        step = max(1, (1 << 20) // max(1, row * _np().dtype(_NUMPY[code]).itemsize)) * row
        zeros = ctypes.create_string_buffer(min(step, n) * _np().dtype(_NUMPY[code]).itemsize)
        done = 0
        while done < n:
            k = min(step, n - done)
            _check(_lib.mba_extend(h, ctypes.addressof(zeros), k))
            done += k
    except BaseException:
        _lib.mba_free(h)
        _lib.mba_delete(uri.encode())
        raise
    a = _array_of(h, os.fsdecode(name), uri, False, stored)
    return a.reshape(()) if not shape else a


def attach(name, ro=False, readonly=None):
    """Attaches the array named ``name`` and returns it as a numpy array of its shape and dtype
    (read-only with ``ro=True``, or ``readonly=True``). Raises FileNotFoundError if there is none."""
    if readonly is not None:
        ro = readonly
    uri = _uri(name)
    o = _Options()
    _lib.mba_options_init(ctypes.byref(o))
    o.flags = _READ_ONLY if ro else 0
    h = _p()
    _check(_lib.mba_attach_ex(uri.encode(), ctypes.byref(o), ctypes.byref(h)))
    return _array_of(h, os.fsdecode(name), uri, bool(ro))


def delete(name):
    """Removes the name; arrays already attached keep working until they are gone."""
    _check(_lib.mba_delete(_uri(name).encode()))


class ArrayDesc(tuple):
    """One array of ``list()``: ``(name, dtype, dims)`` as SharedArray gives them (``name`` in
    bytes, ``dtype`` a numpy scalar type, ``dims`` a tuple), and more as attributes: ``uri``,
    ``path``, ``status`` ("ok" or "corrupt"), ``problem``, ``len``, ``capacity``,
    ``max_capacity``, ``bytes``, ``size``, ``owner``, ``uid``, ``mode``, ``created`` (seconds
    since the epoch), ``created_ns``, ``creator_pid``, ``creator_alive`` (True, False or None
    when it cannot be told) and ``writers``."""

    def __new__(cls, name, dtype, dims, **extra):
        self = super().__new__(cls, (name, dtype, dims))
        self.__dict__.update(extra)
        return self

    name = property(lambda self: self[0])
    dtype = property(lambda self: self[1])
    dims = property(lambda self: self[2])

    def __repr__(self):
        return f"ArrayDesc(name={self[0]!r}, dtype={self[1]!r}, dims={self[2]!r})"


def list(directory=None):
    """The mba arrays in /dev/shm (or in ``directory``, as file:// arrays), as a tuple of
    ``ArrayDesc``. Files that are not mba arrays are left out; corrupt arrays are listed with
    ``status == "corrupt"``, ``dtype`` None and ``dims`` ()."""
    np = _np()
    lst = _p()
    _check(_lib.mba_list_open(None if directory is None else os.fsencode(directory), 0, ctypes.byref(lst)))
    try:
        out = []
        for i in range(_lib.mba_list_count(lst)):
            e = _Entry()
            _check(_lib.mba_list_get(lst, i, ctypes.byref(e), ctypes.sizeof(e)))
            ok = e.status == 0
            uri = e.uri.decode(errors="surrogateescape")
            # SharedArray's name: the shm name, in bytes; a file array's is its URI, so that
            # attach(desc.name) works for both.
            name = os.path.basename(e.path) if directory is None else e.uri
            dtype = np.dtype(_NUMPY[e.dtype]).type if ok else None
            out.append(ArrayDesc(
                name, dtype, tuple(e.shape[:e.ndim]) if ok else (),
                uri=uri, path=os.fsdecode(e.path), status="ok" if ok else "corrupt",
                problem=e.problem.decode(errors="replace") or None, len=e.len, capacity=e.capacity,
                max_capacity=e.max_capacity, bytes=e.bytes, size=e.size, owner=e.owner.decode(errors="replace"),
                uid=e.uid, mode=e.mode, created=e.created_ns / 1e9, created_ns=e.created_ns,
                creator_pid=e.creator_pid, creator_alive={1: True, 0: False}.get(e.creator_alive),
                writers=e.writers, typecode=chr(e.typecode) if 0 < e.typecode < 128 else None))
        return tuple(out)
    finally:
        _lib.mba_list_free(lst)
