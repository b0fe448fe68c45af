"""Raw files and ``.npy`` files as arrays, zero-copy (issue 11 items 1 and 2).

- ``mba.array(typecode, mmap=m)``: as ``mmap_backed_array``'s ``mmaparray(typecode, mmap=m)``,
  an ``mba.array`` over the same file bytes as ``m``, an ``mmap.mmap`` of a file (not an
  anonymous map; found, with its offset, in /proc/self/maps, since Python's mmap tells neither),
  all ``len(m)`` of them. Read-write unless ``m`` is ``ACCESS_READ``;
  the file is shared (``MAP_SHARED``), so other processes, in any language, see the writes
  (an ``ACCESS_COPY`` map's private copies are not what this array reads). Its length is fixed:
  ``append``, ``extend``, ``pop``, ``del`` and other length changes raise ``mba.Error``.
- ``open_raw(path, dtype, offset=0, length=0, readonly=True, shape=None, round_down=False)``:
  a numpy array over the headerless file ``path`` (or the bytes ``offset .. offset + length``,
  0 meaning to the end), of ``dtype`` (a numpy dtype or an ``array`` typecode), rows of
  ``shape`` (the extents after the first axis). A length that is not a whole number of rows
  raises ``mba.Error`` unless ``round_down``.
- ``open_npy(path, readonly=True)``: a numpy array over the data of the ``.npy`` file ``path``
  (versions 1.0 to 3.0, C order), with its dtype and shape; a file in the other byte order is
  read-only and comes with the swapped dtype (``'>i4'``), so the values are right.

numpy arrays are returned by ``open_raw`` and ``open_npy`` (shapes and byte orders that
``mba.array`` cannot express); their ``.base`` owns the mba handle (``msync()`` and the rest of
SharedArray's base methods), freed when the last view is gone.
"""

import ctypes
import os

from . import _lib
from ._sharedarray import ArrayBase, _Options, _check, _code_of, _np

__all__ = ["open_raw", "open_npy", "KIND_ARRAY", "KIND_RAW", "KIND_NPY"]

KIND_ARRAY, KIND_RAW, KIND_NPY = 1, 2, 3
_READ_ONLY = 1
_ROUND_DOWN = 32
_MAX_DIMS = 8
_p = ctypes.c_void_p
_u64 = ctypes.c_uint64

for _name, _args, _ret in [
    ("mba_attach_raw_fd", [ctypes.c_int, ctypes.POINTER(_Options), ctypes.POINTER(_p)], ctypes.c_int32),
    ("mba_kind", [_p], ctypes.c_uint32),
    ("mba_byte_order", [_p], ctypes.c_int32),
]:
    _f = getattr(_lib, _name)
    _f.argtypes, _f.restype = _args, _ret


def _options(code, offset, length, readonly, shape, round_down):
    o = _Options()
    _lib.mba_options_init(ctypes.byref(o))
    shape = () if shape is None else tuple(int(d) for d in shape)
    if len(shape) >= _MAX_DIMS:
        raise ValueError(f"shape {shape}: at most {_MAX_DIMS - 1} extents after the first axis")
    if int(offset) < 0 or int(length) < 0:
        raise ValueError("offset and length must not be negative")
    o.flags = (_READ_ONLY if readonly else 0) | (_ROUND_DOWN if round_down else 0)
    o.dtype, o.offset, o.length, o.ndim = code, int(offset), int(length), len(shape) + 1
    for i, d in enumerate(shape):
        if d <= 0:
            raise ValueError(f"shape {shape}: every extent must be at least 1")
        o.shape[i + 1] = d
    return o


def _path(path):
    p = os.fsdecode(path)
    if "\0" in p:
        raise ValueError("embedded null byte in path")
    return p


def _numpy_of(h, name, uri, readonly):
    """The numpy array over handle ``h`` (freed with the array's base)."""
    np = _np()
    try:
        ndim = _lib.mba_ndim(h)
        dims = (_u64 * _MAX_DIMS)()
        _check(_lib.mba_shape(h, dims))
        shape = tuple(dims[:ndim])
        base = ArrayBase(h, name, uri, shape, readonly)
    except BaseException:
        _lib.mba_free(h)
        raise
    if _lib.mba_byte_order(h) == 1:
        typestr = np.dtype(base.__array_interface__["typestr"]).newbyteorder().str
        base.__array_interface__ = dict(base.__array_interface__, typestr=typestr)
    a = np.asarray(base)
    assert a.base is base
    return a


def open_raw(path, dtype, offset=0, length=0, readonly=True, shape=None, round_down=False):
    """A numpy array over the raw file ``path`` (see the module's doc)."""
    p = _path(path)
    o = _options(_code_of(dtype), offset, length, readonly, shape, round_down)
    h = _p()
    _check(_lib.mba_attach_ex(("raw://" + p).encode(), ctypes.byref(o), ctypes.byref(h)))
    return _numpy_of(h, p, "raw://" + p, bool(readonly))


def open_npy(path, readonly=True):
    """A numpy array over the data of the ``.npy`` file ``path`` (see the module's doc)."""
    p = _path(path)
    o = _Options()
    _lib.mba_options_init(ctypes.byref(o))
    o.flags = _READ_ONLY if readonly else 0
    h = _p()
    _check(_lib.mba_attach_ex(("npy://" + p).encode(), ctypes.byref(o), ctypes.byref(h)))
    return _numpy_of(h, p, "npy://" + p, bool(readonly))


class _PyBuffer(ctypes.Structure):
    _fields_ = [("buf", _p), ("obj", _p), ("len", ctypes.c_ssize_t), ("itemsize", ctypes.c_ssize_t),
                ("readonly", ctypes.c_int), ("ndim", ctypes.c_int), ("format", _p), ("shape", _p),
                ("strides", _p), ("suboffsets", _p), ("internal", _p)]


_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes, _get_buffer.restype = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int], ctypes.c_int
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes, _release_buffer.restype = [ctypes.POINTER(_PyBuffer)], None


def _file_of_map(m):
    """(path, file offset, read-only) of the file region an ``mmap.mmap`` maps, from
    /proc/self/maps (Python's mmap tells neither its descriptor nor its offset)."""
    b = _PyBuffer()
    if _get_buffer(m, ctypes.byref(b), 0) != 0:
        raise TypeError("mmap= needs an mmap.mmap")
    try:
        addr, readonly = b.buf, bool(b.readonly)
    finally:
        _release_buffer(ctypes.byref(b))
    with open("/proc/self/maps", "rb") as f:
        for line in f:
            parts = line.split(None, 5)
            lo, hi = (int(x, 16) for x in parts[0].split(b"-"))
            if lo <= addr < hi:
                break
        else:
            raise ValueError("mmap= : its mapping is not in /proc/self/maps")
    dev, ino = parts[3], int(parts[4])
    path = parts[5].strip() if len(parts) > 5 else b""
    if ino == 0 or not path.startswith(b"/") or path.endswith(b" (deleted)"):
        raise ValueError("mmap= needs an mmap.mmap of a file that still has a name, not an anonymous map")
    return os.fsdecode(path), int(parts[2], 16) + (addr - lo), readonly, (dev, ino)


def array_over_mmap(cls, typecode, initializer, kwargs):
    """``mba.array(typecode, mmap=m)`` (called by ``mba.array``)."""
    from . import _DTYPE, _open

    m = kwargs["mmap"]
    extra = set(kwargs) - {"mmap"}
    if extra:
        raise TypeError(f"array() with mmap= takes no {', '.join(sorted(extra))}")
    if initializer is not _no_arg():
        raise TypeError("array() with mmap= takes no initializer: the file's bytes are the elements")
    if len(m) == 0:
        raise ValueError("mmap= needs a map of at least one byte")
    path, offset, readonly, (dev, ino) = _file_of_map(m)
    fd = os.open(path, (os.O_RDONLY if readonly else os.O_RDWR) | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        major, minor = (int(x, 16) for x in dev.split(b":"))
        if st.st_ino != ino or (os.major(st.st_dev), os.minor(st.st_dev)) != (major, minor):
            raise ValueError(f"mmap= : the file {path!r} was replaced since it was mapped")
        o = _options(_DTYPE[typecode], offset, len(m), readonly, None, False)
        o.typecode = ord(typecode)
        h = _p()
        _check(_lib.mba_attach_raw_fd(fd, ctypes.byref(o), ctypes.byref(h)))
    finally:
        os.close(fd)
    self = object.__new__(cls)
    self._setup(_open(h, typecode, None, readonly, False))
    return self


def _no_arg():
    from . import _NOARG

    return _NOARG
