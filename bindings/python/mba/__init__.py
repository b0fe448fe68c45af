"""mba for Python: typed, growable arrays in shared memory, shared with zero copies.

Pure Python over the C library through ctypes; numpy is used when present (``.numpy()``,
the SharedArray-style functions) but not required.

``mba.array`` is a drop-in for the standard library's ``array.array``: the same typecodes,
constructor, methods, operators, exceptions and pickling, with the elements in an mba array
that other processes and languages can attach by name. Results that are new arrays (slices,
``+``, ``*``, copies) are new anonymous ``mba.array`` objects; in-place operations (``+=``,
``*=``, slice assignment, ``del``, ``insert``) change the shared array, each in one library
call where the library has one. The README beside this package lists every difference from
``array.array``.

The library is found through ``MBA_LIBRARY`` (a path, or ``system`` for the system's
libmba), then the ``libmba.so`` shipped inside this package, then the system's library path.
"""

import array as _stdarray
import collections.abc
import ctypes
import ctypes.util
import itertools
import operator
import os
import platform
import struct
import sys
import threading
import types
import warnings
import weakref

__all__ = ["array", "ArrayType", "typecodes", "Error", "create", "attach", "delete", "list", "open_raw", "open_npy",
           "claim", "wait_len"]

# ---------------------------------------------------------------------------------------------
# The library


def _load():
    tried = []
    beside = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libmba.so")
    env = os.environ.get("MBA_LIBRARY")
    if env and env != "system":
        try:
            return ctypes.CDLL(env)
        except OSError as e:
            raise ImportError(f"mba: cannot load libmba; tried MBA_LIBRARY={env} ({e})") from None
    if not env:
        tried.append("MBA_LIBRARY (not set)")
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
# The same library through PyDLL: these calls keep the GIL. Only calls that never wait are
# made this way (lengths, pointers, sizes): they cost less, and a handle cannot be freed by
# another thread while one of them runs.
_plib = ctypes.PyDLL(_lib._name, handle=_lib._handle)
# This module's own function objects: other modules of the package declare theirs on _lib.
_own = ctypes.CDLL(_lib._name, handle=_lib._handle)
_p = ctypes.c_void_p
_u64 = ctypes.c_uint64
_u32 = ctypes.c_uint32
_status = ctypes.c_int32


class _Options(ctypes.Structure):
    """mba_options (include/mba.h, format v2)."""

    _fields_ = [("struct_size", _u32), ("flags", _u32), ("dtype", _u32), ("mode", _u32), ("capacity", _u64),
                ("max_capacity", _u64), ("ndim", _u32), ("typecode", _u32), ("shape", _u64 * 8),
                ("timeout_ms", _u64),
                ("offset", _u64), ("length", _u64)]


def _missing(lib_path, name):
    """The ImportError of a library without a function this binding needs."""
    return ImportError(f"mba: the library {lib_path} has no {name}: it is older than this binding, which needs "
                       f"libmba with format v2 (mba_create_ex, mba_splice, mba_header_ptr...); set MBA_LIBRARY to "
                       f"a current libmba.so", name="mba", path=lib_path)


def _declare(lib, name, args, ret):
    """lib's function `name` with its C signature; ImportError naming the library and the
    function when the library lacks it (a library older than format v2: it could not open the
    arrays this binding makes anyway, so there is no fallback)."""
    try:
        f = getattr(lib, name)
    except AttributeError:
        raise _missing(lib._name, name) from None
    f.argtypes, f.restype = args, ret
    return f


_set = _declare(_own, "mba_set", [_p, _u64, ctypes.c_char_p], _status)
_msync = _declare(_own, "mba_msync", [_p, _u32], _status)
_free = _declare(_own, "mba_free", [_p], _status)
_delete = _declare(_own, "mba_delete", [ctypes.c_char_p], _status)
_len = _declare(_plib, "mba_len", [_p], _u64)
_capacity = _declare(_plib, "mba_capacity", [_p], _u64)
_max_capacity = _declare(_plib, "mba_max_capacity", [_p], _u64)
_dtype = _declare(_plib, "mba_dtype", [_p], _u32)
_itemsize = _declare(_plib, "mba_itemsize", [_p], _u32)
_data = _declare(_plib, "mba_data", [_p], _p)
_fd = _declare(_plib, "mba_fd", [_p], ctypes.c_int)
_last_error = _declare(_plib, "mba_last_error", [], ctypes.c_char_p)
_version = _declare(_plib, "mba_version", [], ctypes.c_char_p)
# Format v2 (include/mba.h): required, as everything above.
_options_init = _declare(_plib, "mba_options_init", [ctypes.POINTER(_Options)], None)
_create_ex = _declare(_own, "mba_create_ex", [ctypes.c_char_p, ctypes.POINTER(_Options), ctypes.POINTER(_p)],
                      _status)
_typecode_of = _declare(_plib, "mba_typecode", [_p], _u32)
_attach = _declare(_own, "mba_attach", [ctypes.c_char_p, _u32, ctypes.POINTER(_p)], _status)
_header_ptr = _declare(_plib, "mba_header_ptr", [_p], _p)
_set_timeout = _declare(_own, "mba_set_timeout", [_p, _u64], _status)

__version__ = _version().decode()


class _Calls:
    """The calls that change an array's length, declared on one library object."""

    __slots__ = ("append", "extend", "extend_bytes", "splice", "pop", "truncate")

    def __init__(self, lib):
        self.append = _declare(lib, "mba_append", [_p, ctypes.c_char_p], _status)
        self.extend = _declare(lib, "mba_extend", [_p, _p, _u64], _status)
        self.extend_bytes = _declare(type(lib)(lib._name, handle=lib._handle), "mba_extend",
                                     [_p, ctypes.c_char_p, _u64], _status)
        self.splice = _declare(lib, "mba_splice", [_p, _u64, _u64, _p, _p, _p, _u64], _status)
        self.pop = _declare(lib, "mba_pop", [_p, _p], _status)
        self.truncate = _declare(lib, "mba_truncate", [_p, _u64], _status)


# A handle without MBA_EXCLUSIVE may change the array from any number of threads at once: its
# calls release the GIL (they may wait for the append lock). An MBA_EXCLUSIVE handle's calls
# must not run in two threads at once and never wait: they keep the GIL, which serializes
# them, unless the interpreter has no GIL; then a lock per array does.
_GIL = getattr(sys, "_is_gil_enabled", lambda: True)()
_SHARED_CALLS = _Calls(ctypes.CDLL(_lib._name, handle=_lib._handle))
# The per-element call without ctypes (mba/_speedups.c), when it was built; MBA_NO_SPEEDUPS=1
# keeps to ctypes.
# Its BufferBase (built for Python 3.11+) is mba.array's base type: the buffer protocol in C,
# which a Python class can have only from 3.12 (__buffer__, the fallback below). Its Span
# (3.11+) covers the mapping, the header and each view without making a ctypes type per size.
_fast_append = None
_fast_info = None
_fast_attach = None
_fast_create = None
_Iter = None
_BufferBase = None
_Span = None
if not os.environ.get("MBA_NO_SPEEDUPS"):
    try:
        from . import _speedups
    except ImportError:
        pass
    else:
        _fast_append = _speedups.append
        _fast_info = getattr(_speedups, "info", None)
        _fast_attach = getattr(_speedups, "attach", None)
        _fast_create = getattr(_speedups, "create", None)
        # (a build for the 3.11 stable ABI may load on 3.10, which that ABI does not cover)
        _BufferBase = getattr(_speedups, "BufferBase", None) if sys.version_info >= (3, 11) else None
        _Span = getattr(_speedups, "Span", None) if sys.version_info >= (3, 11) else None
        _Iter = getattr(_speedups, "Iter", None) if sys.version_info >= (3, 11) else None
# Where memoryview(a), numpy.asarray(a), f.write(a)... come from: "C" (BufferBase), "__buffer__"
# (Python 3.12+ without BufferBase) or None (no buffer protocol: Python 3.11 without BufferBase).
# With a BufferBase that has them, len(a) and a[i] for an int i run in C (mba/_speedups.c).
_FAST_BASE = _BufferBase is not None and hasattr(_BufferBase, "_fast_set")
BUFFER_PROTOCOL = "C" if _BufferBase is not None else "__buffer__" if sys.version_info >= (3, 12) else None
_APPEND_ADDRESS = ctypes.cast(_own.mba_append, ctypes.c_void_p).value
_FREE_ADDRESS = ctypes.cast(_own.mba_free, ctypes.c_void_p).value
_CREATE_FUNCTIONS = (ctypes.cast(_plib.mba_options_init, ctypes.c_void_p).value,
                     ctypes.cast(_own.mba_create_ex, ctypes.c_void_p).value)
_ATTACH_ADDRESS = ctypes.cast(_own.mba_attach, ctypes.c_void_p).value
_GETTERS = tuple(ctypes.cast(getattr(_plib, name), ctypes.c_void_p).value
                 for name in ("mba_dtype", "mba_typecode", "mba_data", "mba_max_capacity", "mba_header_ptr", "mba_len"))


def _info(h):
    """(dtype, stored typecode, data address or 0, max capacity, header address or 0, length)
    of handle h: one call through mba/_speedups, six through ctypes."""
    if _fast_info is not None:
        return _fast_info(_GETTERS, h.value)
    return (_dtype(h), _typecode_of(h), _data(h) or 0, _max_capacity(h), _header_ptr(h) or 0, _len(h))
_EXCLUSIVE_CALLS = _Calls(ctypes.PyDLL(_lib._name, handle=_lib._handle) if _GIL else
                          ctypes.CDLL(_lib._name, handle=_lib._handle))

MBA_READ_ONLY, MBA_EXCLUSIVE, MBA_OVERWRITE = 1, 2, 4
MBA_SYNC, MBA_ASYNC = 1, 2
# The header's length is read straight from memory (no library call) where a plain 8-byte load
# is ordered before the element loads that follow it (x86-64's memory model); elsewhere every
# length goes through mba_len().
_FAST_LEN = platform.machine() in ("x86_64", "AMD64")


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


class NoSpaceError(Error, MemoryError):
    """The array cannot grow that far (its maximum capacity, the file system, or memory)."""


class CorruptError(Error):
    pass


class WrongProcessError(Error):
    """The handle was inherited across fork(): attach the array again in this process to change it."""


_ERRORS = {-5: NotFoundError, -6: ExistsError, -11: PermissionDenied, -9: BusyError, -8: NoSpaceError,
           -7: CorruptError, -14: WrongProcessError}


def _raise(status):
    message = _last_error().decode(errors="replace")
    raise _ERRORS.get(status, Error)(status, message)


def _check(status):
    if status != 0:
        _raise(status)


_FS_ENCODING, _FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()


def _uri(uri):
    """The URI as the bytes the library takes; None is an anonymous array. A NUL byte would
    silently cut the name in C, so it is refused."""
    if uri is None:
        return b""
    b = uri.encode(_FS_ENCODING, _FS_ERRORS) if type(uri) is str else os.fsencode(uri)
    if b"\0" in b:
        raise ValueError("embedded null byte in mba uri")
    return b


# ---------------------------------------------------------------------------------------------
# Types

typecodes = _stdarray.typecodes  # exactly this interpreter's: 'w' from Python 3.13
_UNICODE = "uw"
# The standard-library typecode used for conversions: 'w' where it exists (same as 'u' on
# Linux, where wchar_t has 4 bytes, without 3.13's deprecation warning for 'u').
_STD_TC = {tc: tc for tc in typecodes}
if "w" in typecodes:
    _STD_TC["u"] = "w"
_ITEMSIZE = {tc: _stdarray.array(_STD_TC[tc]).itemsize for tc in typecodes}
# mba dtype codes by (signed, size) for integers, and for the two float sizes.
_INT = {(True, 1): 1, (False, 1): 2, (True, 2): 3, (False, 2): 4, (True, 4): 5, (False, 4): 6, (True, 8): 7,
        (False, 8): 8}


def _dtype_code(tc):
    if tc == "f":
        return 9
    if tc == "d":
        return 10
    if tc in _UNICODE:
        return _INT[(False, _ITEMSIZE[tc])]  # code points, as unsigned integers
    return _INT[(tc.islower(), _ITEMSIZE[tc])]


_DTYPE = {tc: _dtype_code(tc) for tc in typecodes}
_TYPECODE_OF_DTYPE = {1: "b", 2: "B", 3: "h", 4: "H", 5: "i", 6: "I", 7: "q", 8: "Q", 9: "f", 10: "d"}
# memoryview formats of the element views: the typecode, or unsigned integers for characters.
_FORMAT = {tc: ("I" if _ITEMSIZE[tc] == 4 else "H") if tc in _UNICODE else tc for tc in typecodes}
_DEPRECATED_U = sys.version_info >= (3, 13)


def _check_typecode(typecode):
    if not isinstance(typecode, str) or len(typecode) != 1:
        raise TypeError(f"array() argument 1 must be a unicode character, not {type(typecode).__name__}")
    if typecode not in _DTYPE:
        raise ValueError("bad typecode (must be " + ", ".join(typecodes[:-1]) + " or " + typecodes[-1] + ")")


def _np():
    try:
        import numpy
    except ImportError:
        return None
    return numpy


_NUMPY_DTYPE = {tc: ("<" if sys.byteorder == "little" else ">")
                + ("U1" if tc in _UNICODE else ("f" if tc in "fd" else "i" if tc.islower() else "u") + str(_ITEMSIZE[tc]))
                for tc in typecodes}

_CHUNK = 1 << 16  # elements per step of the operations that work in chunks
_REMOVE_TRIES = 64  # remove(x): searches before BusyError when other processes keep moving elements
_IMUL_COPY = 16 << 20  # a *= n copies up to this many bytes to add them in one extend
_MAXSIZE = sys.maxsize
# The header's length field as a view whose value is never trusted: every length then goes
# through mba_len() (other architectures, closed arrays).
_UNTRUSTED_HEADER = memoryview(_stdarray.array("Q", [0] * 8 + [2**64 - 1]))
_EMPTY = memoryview(b"")


def _make_pack(tc):
    """x -> the bytes of one element, with exactly array.array's conversions and exceptions."""
    stc = _STD_TC[tc]
    if tc in _UNICODE:
        def pack(x):
            return _stdarray.array(stc, (x,)).tobytes()
        return pack
    fast = struct.Struct(tc).pack

    def pack(x):
        try:
            return fast(x)
        except (struct.error, OverflowError, TypeError):
            return _stdarray.array(stc, (x,)).tobytes()  # raises what array.array raises
    return pack


_PACK = {tc: _make_pack(tc) for tc in typecodes}


def _no_fast_pack(x):
    raise TypeError("characters are converted by array.array")


def _standard(tc):
    """struct's standard-size code of the same size and signedness: packs twice as fast as its
    native mode ('l' is 'q' where a C long has 8 bytes)."""
    for code in (tc, {"l": "q", "L": "Q"}.get(tc, tc)):
        if struct.calcsize("=" + code) == _ITEMSIZE[tc]:
            return "=" + code
    return tc


# struct's packing where it agrees with array.array's (append tries it first, then _PACK)
_FAST_PACK = {tc: _no_fast_pack if tc in _UNICODE else struct.Struct(_standard(tc)).pack for tc in typecodes}


class _CharView:
    """The elements of a 'u'/'w' array as characters, over a view of their code points."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __getitem__(self, i):
        if isinstance(i, slice):
            return _CharView(self.v[i])
        return chr(self.v[i])

    def __setitem__(self, i, x):
        raise TypeError("characters are stored through the slow path")

    def __iter__(self):
        return map(chr, self.v)

    def __len__(self):
        return len(self.v)

    def toreadonly(self):
        return _CharView(self.v.toreadonly())


# ---------------------------------------------------------------------------------------------
# Handles and mappings


class _Keeper:
    """What the finalizer of a mapping needs (without mba/_speedups): the handle. It never
    refers to the mapping, which it outlives."""

    __slots__ = ("h",)


def _release(k):
    """Frees a handle once nothing uses its mapping: no library call on it can be running then,
    since every caller holds the array's state, which holds the mapping. In a forked child this
    releases nothing of the parent's (format v2 libraries refuse mutators of inherited handles
    and free them without touching the parent's locks)."""
    _free(k.h)


class _State:
    """Everything about an open array except what the per-element paths read (those are the
    slots of the array object itself)."""

    __slots__ = ("tc", "stc", "isz", "fmt", "uri", "ro", "pid", "h", "wh", "data", "maxn", "base", "raw", "cv",
                 "pack", "spack", "calls", "serial", "fast", "exports", "views", "closed", "inherited", "pickle", "hdr", "known0", "hdr_addr",
                 "__weakref__")


# Open arrays of this process, for the fork handler: weak references, by their id, each removed
# by its own callback when its array goes. (Cheaper than a WeakValueDictionary, whose entries
# are made by Python code, on every create and attach.)
_LIVE = {}


def _forget(ref, _pop=_LIVE.pop):
    _pop(id(ref), None)


_PID = [os.getpid()]  # this process's, kept by _after_fork_in_child (a system call less per array)
# The lock of every array's view and export counts: their critical sections are a few
# instructions, so one lock serves all arrays, and a create makes none. Reentrant: a garbage
# collection inside one may release another view in the same thread. Always read from here
# (not kept by each array): the fork handler replaces it, for arrays it no longer lists too
# (a state kept alive by a view or an iterator after its array went).
_VIEWS_LOCK = [threading.RLock()]


def _after_fork_in_child():
    """In a forked child every inherited array stays readable; changing it needs a new attach
    (the library refuses mutators of an inherited handle). Locks are new: a thread of the
    parent that held one does not exist here."""
    _PID[0] = os.getpid()
    _VIEWS_LOCK[0] = threading.RLock()
    for ref in list(_LIVE.values()):
        a = ref()
        if a is None:
            continue
        s = a._s
        if s.serial is not None:
            s.serial = threading.Lock()
        if s.closed:
            continue
        if not s.inherited:
            s.inherited = s.pid
        s.wh = None
        if not s.ro:
            s.raw = s.raw.toreadonly()
            s.cv = s.cv.toreadonly()
            a._mv = _CharView(s.cv) if s.tc in _UNICODE else s.cv


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


_KEEPER_TYPES = {}
_HEADER_T = ctypes.c_ubyte * 256


def _add_view(s, k):
    """Counts k, an object a view rests on, among the live views that make close() refuse."""
    with _VIEWS_LOCK[0]:
        if s.views is None:
            s.views = weakref.WeakSet()
        s.views.add(k)


def _mapping(s):
    """What keeps s's mapping, and so its handle, alive: a caller that holds it across a use of
    either (a library call that releases the GIL, a copy from the mapping) is safe from a close()
    in another thread meanwhile, which frees them only when the last holder lets go. ValueError
    once the array is closed."""
    base = s.base
    if base is None:
        raise ValueError("operation on a closed mba array")
    return base


def _numpy_views(s):
    """How many numpy views made straight from the mapping's Span (numpy()) are alive: the
    Span's exports less the one of the array's own memoryview of it."""
    return s.base.exports - 1 if _Span is not None and isinstance(s.base, _Span) else 0


def _keeper(s, base):
    """A new object over the whole of the mapping whose owner is base (s.base, which the caller
    holds: a closed array has none) that keeps it alive; memoryviews and numpy arrays made from
    it keep it alive in turn. It is made before the length is known, so that it is counted
    before anything else can happen (close() in the meantime then refuses). With
    mba/_speedups, a Span; else a ctypes array, of one type per mapping size."""
    size = s.maxn * s.isz
    if _Span is not None:
        return _Span(s.data or 0, size, base)
    kind = _KEEPER_TYPES.get(max(size, 1))
    if kind is None:  # hashable, for the set of live views
        kind = _KEEPER_TYPES[max(size, 1)] = type("mba_view", (ctypes.c_ubyte * max(size, 1),),
                                                  {"__hash__": object.__hash__})
    k = kind.from_address(s.data) if size else kind()
    k.mapping = base
    return k


def _open(h, tc, uri, ro, exclusive, info=None):
    """State for a new handle h (whose _info() is info, if known); h is freed with the mapping,
    when nothing uses either."""
    _, _, data, maxn, hp, s_len = info if info is not None else _info(h)
    s = _State()
    s.tc, s.stc, s.isz, s.fmt = tc, _STD_TC[tc], _ITEMSIZE[tc], _FORMAT[tc]
    s.uri, s.ro = uri, ro
    s.h = h
    s.pid = _PID[0]  # the process that opened h
    s.data = data or None
    s.maxn = maxn
    s.known0 = s_len
    nbytes = s.maxn * s.isz
    if s.data is None or nbytes == 0:  # nothing addressable: views stay empty
        s.maxn = nbytes = 0
    if _Span is not None:
        # The mapping's Span frees h itself when it goes (mba/_speedups.c).
        base = _Span(s.data or 0, nbytes, None, _FREE_ADDRESS, h.value, ro)
        raw = memoryview(base)  # bytes ("B")
    else:
        base = (ctypes.c_ubyte * nbytes).from_address(s.data) if nbytes else (ctypes.c_ubyte * 1)()
        k = _Keeper()
        k.h = h
        weakref.finalize(base, _release, k)
        raw = memoryview(base).cast("B")[:nbytes]
    s.base = base
    s.raw = raw.toreadonly() if ro else raw
    s.cv = s.raw.cast(s.fmt)
    s.pack = _PACK[tc]
    s.spack = _FAST_PACK[tc]
    s.calls = _EXCLUSIVE_CALLS if exclusive else _SHARED_CALLS
    s.serial = threading.Lock() if exclusive and not _GIL else None
    # (function, handle, item size, release the GIL, the mapping): shared handles release it,
    # exclusive ones keep it, which serializes their calls. The mapping in the tuple keeps the
    # handle alive through a call made with it, whatever close() does meanwhile.
    s.fast = (_APPEND_ADDRESS, h.value, s.isz, not exclusive, base) if _fast_append and s.serial is None else None
    s.exports = 0
    s.views = None  # a WeakSet of the live views made by _export, from the first (_add_view)
    s.closed = False
    s.inherited = 0
    s.pickle = "value" if uri is None else "name"
    s.hdr = _UNTRUSTED_HEADER
    s.hdr_addr = hp if _FAST_LEN else 0
    # A view of the header for __len__ in Python; mba.array's C base reads the length word
    # itself (_fast_set) and needs none.
    if s.hdr_addr and not _FAST_BASE:
        if _Span is not None:
            s.hdr = memoryview(_Span(hp, 256, base)).cast("Q")
        else:
            hk = _HEADER_T.from_address(hp)
            hk.mapping = base
            s.hdr = memoryview(hk).cast("B").cast("Q")
    return s


def _field(name, value, bits):
    """value as an unsigned field of `bits` bits of mba_options: TypeError or ValueError, naming
    the option, when it is not an integer of that range (ctypes would wrap it silently, and
    mba/_speedups word it otherwise)."""
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"mba.array: {name} must be an integer, not {type(value).__name__}") from None
    if v < 0 or v >> bits:
        raise ValueError(f"mba.array: {name} must be 0 to 2**{bits} - 1, not {v}")
    return v


def _new_handle(uri, dtype, capacity, flags, mode, typecode, max_capacity):
    """A new handle (and its _info(), or None if not known yet)."""
    capacity, max_capacity = _field("capacity", capacity, 64), _field("max_capacity", max_capacity, 64)
    mode = _field("mode", mode or 0, 32)
    if _fast_create is not None:
        status, address, info = _fast_create(_CREATE_FUNCTIONS, _uri(uri), flags, dtype, mode, capacity,
                                             max_capacity, ord(typecode), _GETTERS)
        _check(status)
        return _p(address), info
    h = _p()
    o = _Options()
    _options_init(ctypes.byref(o))
    o.flags, o.dtype, o.mode, o.capacity = flags, dtype, mode, capacity
    o.max_capacity, o.typecode = max_capacity, ord(typecode)
    _check(_create_ex(_uri(uri), ctypes.byref(o), ctypes.byref(h)))
    return h, None


def _attach_handle(uri, flags):
    """A handle attached to uri (and its _info(), or None if not known yet)."""
    if _fast_attach is not None:
        status, address, info = _fast_attach(_ATTACH_ADDRESS, _uri(uri), flags, _GETTERS)
        _check(status)
        return _p(address), info
    h = _p()
    _check(_attach(_uri(uri), flags, ctypes.byref(h)))
    return h, None


def _typecode_of_handle(dtype, stored, wanted=None):
    """The typecode of a handle of `dtype` whose header stores typecode `stored`."""
    if wanted is not None:
        if _DTYPE.get(wanted) != dtype:
            raise TypeError(f"the array holds dtype {dtype}, which typecode '{wanted}' does not read")
        return wanted
    tc = chr(stored) if 0 < stored < 128 else ""
    if tc in _DTYPE and _DTYPE[tc] == dtype:
        return tc
    if dtype not in _TYPECODE_OF_DTYPE:
        raise TypeError(f"mba.array has no typecode for dtype code {dtype}; use mba.attach() for a numpy view")
    return _TYPECODE_OF_DTYPE[dtype]


# ---------------------------------------------------------------------------------------------
# array


class _ImmutableType(type):
    """mba.array, like array.array, is an immutable type; its subclasses are not."""

    def __setattr__(cls, name, value):
        if cls is array:
            raise TypeError(f"cannot set {name!r} attribute of immutable type 'mba.array'")
        super().__setattr__(name, value)

    def __delattr__(cls, name):
        if cls is array:
            raise TypeError(f"cannot delete {name!r} attribute of immutable type 'mba.array'")
        super().__delattr__(name)


_OPTIONS = ("uri", "capacity", "max_capacity", "exclusive", "overwrite", "mode")
_NOARG = object()


class array(*((_BufferBase,) if _BufferBase is not None else ()), metaclass=_ImmutableType):
    """array(typecode[, initializer], *, uri=None, capacity=0, max_capacity=0, exclusive=False, overwrite=False, mode=None)

    A typed array in shared memory, with the interface of ``array.array``. ``uri`` is
    ``"shm://NAME"``, ``"file://PATH"``, or None for an anonymous array private to this process
    (shared only by passing its descriptor). ``capacity`` is room to reserve at once,
    ``max_capacity`` the most elements the array may ever hold (0: the library's default),
    ``exclusive`` makes this handle the array's only appender, ``overwrite`` replaces an existing
    array of that name, ``mode`` its permission bits (0600 by default).
    """

    # __sizeof__ reports array.array's object size whatever these add (see _SIZE_ADJUST).
    __slots__ = ("_mv", "_hdr", "_s", "__weakref__") + (() if _FAST_BASE else ("_known",))

    def __new__(cls, *args, **kwargs):
        if not args:
            raise TypeError("array() takes at least 1 argument (0 given)")
        if len(args) > 2:
            raise TypeError(f"array() takes at most 2 arguments ({len(args)} given)")
        typecode = args[0]
        initializer = args[1] if len(args) > 1 else _NOARG
        for key in kwargs:
            if key not in _OPTIONS and cls is array and key != "mmap":
                raise TypeError(f"array() got an unexpected keyword argument '{key}'")
        _check_typecode(typecode)
        if "mmap" in kwargs and cls is array:  # mmap_backed_array's mmaparray(typecode, mmap=m)
            return _raw.array_over_mmap(cls, typecode, initializer, kwargs)
        if typecode == "u" and _DEPRECATED_U:
            warnings.warn("The 'u' type code is deprecated and will be removed in Python 3.16",
                          DeprecationWarning, stacklevel=2)
        if initializer is not _NOARG:
            _check_initializer(typecode, initializer)
        flags = (MBA_EXCLUSIVE if kwargs.get("exclusive") else 0) | (MBA_OVERWRITE if kwargs.get("overwrite") else 0)
        uri = kwargs.get("uri")
        capacity = kwargs.get("capacity", 0)
        if capacity == 0 and isinstance(initializer, (_stdarray.array, array)):
            capacity = _true_len(initializer)
        elif capacity == 0 and isinstance(initializer, (str, list, tuple)):
            capacity = len(initializer)
        elif capacity == 0 and isinstance(initializer, (bytes, bytearray)):
            capacity = len(initializer) // _ITEMSIZE[typecode]
        self = object.__new__(cls)
        h, info = _new_handle(uri, _DTYPE[typecode], capacity, flags, kwargs.get("mode"), typecode,
                              kwargs.get("max_capacity", 0))
        self._setup(_open(h, typecode, uri, False, bool(flags & MBA_EXCLUSIVE), info))
        if initializer is not _NOARG:
            self._initialize(initializer)
        return self

    def __init__(self, *args, **kwargs):
        pass  # everything happens in __new__, as in array.array (subclasses may skip this)

    @classmethod
    def attach(cls, uri, readonly=False, exclusive=False, typecode=None):
        """Attaches to the existing array named ``uri``. Its typecode is the one it was created
        with (format v2 stores it), else the one of its element type; ``typecode`` picks
        another of the same storage ('l' for 'q', say)."""
        flags = (MBA_READ_ONLY if readonly else 0) | (MBA_EXCLUSIVE if exclusive else 0)
        h, info = _attach_handle(uri, flags)
        try:
            if info is None:
                info = _info(h)
            tc = _typecode_of_handle(info[0], info[1], typecode)
        except BaseException:
            _free(h)
            raise
        self = object.__new__(cls)
        self._setup(_open(h, tc, uri, readonly, exclusive, info))
        return self

    @classmethod
    def _anonymous(cls, typecode, capacity):
        """A new anonymous array.array-typed result (slices, +, *, copies)."""
        self = object.__new__(array)
        # Results bigger than the library's default maximum get room to double.
        big = capacity * _ITEMSIZE[typecode] >= (1 << 30)
        h, info = _new_handle(None, _DTYPE[typecode], capacity, 0, None, typecode, 2 * capacity if big else 0)
        self._setup(_open(h, typecode, None, False, False, info))
        return self

    def _setup(self, s):
        self._s = s
        s.wh = s.h  # read-only handles too: the library refuses their changes with its own message
        self._mv = _CharView(s.cv) if s.tc in _UNICODE else s.cv
        self._hdr = s.hdr
        self._known = s.known0
        if _FAST_BASE and s.hdr_addr:
            self._fast_set(s.hdr_addr + 64, s.data or 0, s.isz, ord(s.tc))  # 64: the length word
        ref = weakref.ref(self, _forget)
        _LIVE[id(ref)] = ref

    def _initialize(self, init):
        tc = self._s.tc
        if isinstance(init, (bytes, bytearray)):
            self.frombytes(init)
        elif isinstance(init, str):
            self.fromunicode(init)
        elif isinstance(init, (_stdarray.array, array)) and _kind(init) == tc:
            self.extend(init)
        else:
            self._extend_iterable(init)

    # -- lifetime --------------------------------------------------------------------------

    def _dead(self):
        """Raises why this handle cannot change the array."""
        s = self._s
        if s.closed:
            raise ValueError("operation on a closed mba array")
        if s.inherited:
            raise WrongProcessError(-14, f"mba: this handle belongs to process {s.inherited} (inherited across "
                                         f"fork()); attach the array again in process {os.getpid()} to change it")
        raise Error(-4, "mba: the array was attached read-only")

    def _w(self):
        """The handle for a change, or the reason there is none."""
        s = self._s
        h = s.wh
        if h is None or s.ro:
            self._dead()
        return h

    def _resizable(self):
        s = self._s
        h = s.wh
        if h is None:
            self._dead()
        if s.exports:
            raise BufferError("cannot resize an array that is exporting buffers")
        return h

    def close(self):
        """Unmaps the array (the shared array itself stays). Refuses (BufferError) while
        buffers, memoryviews or numpy views of it exist, as mmap does; an unfinished iterator
        keeps the mapping until it is dropped."""
        s = self._s
        if s.closed:
            return
        with _VIEWS_LOCK[0]:
            if s.closed:
                return
            live = s.exports + (len(s.views) if s.views is not None else 0) + _numpy_views(s)
            if live:
                raise BufferError(f"cannot close: {live} exported views of the array exist")
            # Under the lock: a view or buffer being made counts itself under it first, then
            # looks at `closed`; so either this close() sees it, or it sees the array closed.
            s.closed = True
        s.wh = None
        s.fast = None
        self._hdr = _UNTRUSTED_HEADER
        self._known = -1
        if _FAST_BASE:
            self._fast_set(0, 0, 0, 0)
        self._mv = _EMPTY
        s.raw = s.cv = _EMPTY
        s.hdr = _UNTRUSTED_HEADER
        s.base = None  # the mapping and the handle go when the last internal view of them does

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- properties ------------------------------------------------------------------------

    @property
    def typecode(self):
        return self._s.tc

    @property
    def itemsize(self):
        return self._s.isz

    @property
    def uri(self):
        return self._s.uri

    @property
    def readonly(self):
        return self._s.ro

    @property
    def closed(self):
        return self._s.closed

    @property
    def capacity(self):
        s = self._s
        base = _mapping(s)  # noqa: F841  (the handle lives through the call)
        return _capacity(s.h)

    @property
    def max_capacity(self):
        """The most elements this array can ever hold through this handle."""
        self._len_slow()
        return self._s.maxn

    @property
    def pickle_by(self):
        """How pickle sends this array: "name" (the receiver attaches the same shared array;
        the default for named arrays) or "value" (a copy; the only choice for anonymous arrays)."""
        return self._s.pickle

    @pickle_by.setter
    def pickle_by(self, how):
        if how not in ("name", "value"):
            raise ValueError('pickle_by is "name" or "value"')
        if how == "name" and self._s.uri is None:
            raise ValueError("an anonymous array has no name to pickle by")
        self._s.pickle = how

    def fileno(self):
        """The descriptor of the store (owned by the array; do not close it)."""
        s = self._s
        base = _mapping(s)  # noqa: F841  (the handle lives through the call)
        return _fd(s.h)

    def buffer_info(self):
        """(address, length): the address never moves while the array is open."""
        n = _array_len(self)
        return (self._s.data, n)

    # -- length --------------------------------------------------------------------------------

    def _len_slow(self):
        s = self._s
        base = _mapping(s)  # noqa: F841  (the handle lives through the call)
        if s.closed:
            raise ValueError("operation on a closed mba array")
        n = _len(s.h)
        self._known = n
        return n

    if not _FAST_BASE:  # else BufferBase's, in C, which does the same
        def __len__(self):
            # The header's length, read from the mapping, is trusted up to the last length the
            # library returned (which never exceeds what this handle has mapped); beyond that
            # the library checks it again.
            n = self._hdr[8]
            if n <= self._known:
                return n
            return self._len_slow()

    # -- zero-copy views ---------------------------------------------------------------------

    def _export(self):
        """A byte view of the elements published now, over a keeper of the mapping that counts
        among the live views (close() refuses while it exists): counted first, then the
        array checked open, then the length taken."""
        s = self._s
        with _VIEWS_LOCK[0]:
            if s.closed:
                raise ValueError("operation on a closed mba array")
            k = _keeper(s, _mapping(s))
            _add_view(s, k)
        m = memoryview(k).cast("B")[:_array_len(self) * s.isz]
        return m.toreadonly() if s.ro or s.inherited else m  # inherited: as a[i] = x, refused

    def memoryview(self):
        """A zero-copy memoryview of the elements published now (read-only if the array is;
        code points as unsigned integers for 'u' and 'w'). It does not block appends; close()
        refuses while it exists."""
        return self._export().cast(self._s.fmt)

    def numpy(self):
        """A zero-copy numpy view of the elements published now. Other processes' appends
        appear in later views (the data does not move); writes go to the shared array."""
        np = _np()
        if np is None:
            raise ImportError("numpy is not installed")
        s = self._s
        if _Span is None or s.inherited:
            return np.frombuffer(self._export(), dtype=_NUMPY_DTYPE[s.tc])
        # Straight from the mapping's Span, which counts the view for close(): counted first
        # (the memoryview), then the array checked open, then the length taken.
        with _VIEWS_LOCK[0]:
            if s.closed:
                raise ValueError("operation on a closed mba array")
            whole = memoryview(_mapping(s))
        return np.frombuffer(whole, dtype=_NUMPY_DTYPE[s.tc], count=_array_len(self))

    def _acquire_buffer(self, writable):
        """For BufferBase's bf_getbuffer (mba/_speedups.c): counts one more export (close() and
        resizes refuse until _release_buffer) and says what the buffer covers: (address, count,
        itemsize, format, readonly), the elements published now, a length the library vouched
        for, inside this handle's mapping. Inherited handles export read-only buffers."""
        s = self._s
        readonly = bool(s.ro or s.inherited)
        if readonly and writable:
            raise BufferError("the mba array is read-only")
        self._count_export()  # first: from here on close() refuses
        try:
            n = _array_len(self)
        except BaseException:
            self._release_buffer()
            raise
        # The format array.array exports: the typecode, but 'w' (UCS-4) for 'u' where wchar_t has
        # four bytes (Linux), as PEP 3118 and numpy read it.
        fmt = "w" if s.tc in _UNICODE and s.isz == 4 else s.tc
        return (s.data if n else None, n, s.isz, fmt, readonly)

    def _count_export(self):
        """Counts one more buffer export of the open array (ValueError if it is closed)."""
        s = self._s
        with _VIEWS_LOCK[0]:
            if s.closed:
                raise ValueError("operation on a closed mba array")
            s.exports += 1

    def _release_buffer(self):
        s = self._s
        with _VIEWS_LOCK[0]:
            s.exports -= 1

    if sys.version_info >= (3, 12) and _BufferBase is None:
        def __buffer__(self, flags):
            s = self._s
            if (s.ro or s.inherited) and flags & 1:  # PyBUF_WRITABLE
                raise BufferError("the mba array is read-only")
            self._count_export()  # first: from here on close() refuses
            try:
                k = _keeper(s, _mapping(s))
                m = memoryview(k).cast("B")[:_array_len(self) * s.isz].cast(s.fmt)
            except BaseException:
                self._release_buffer()
                raise
            return m.toreadonly() if s.ro or s.inherited else m

        def __release_buffer__(self, view):
            s = self._s
            with _VIEWS_LOCK[0]:
                s.exports -= 1
            view.release()

    def __bytes__(self):
        return self.tobytes()

    # -- copies ------------------------------------------------------------------------------

    def _chunk(self, start, stop):
        """A standard-library array.array copy of elements [start, stop)."""
        s = self._s
        out = _stdarray.array(s.stc)
        out.frombytes(s.raw[start * s.isz:stop * s.isz])
        return out

    def _chunks(self, start=0, stop=None):
        n = _array_len(self)
        stop = n if stop is None else min(stop, n)
        i = start
        while i < stop:
            j = min(i + _CHUNK, stop)
            yield i, self._chunk(i, j)
            i = j

    def tolist(self):
        n = _array_len(self)
        if self._s.tc in _UNICODE:
            return list(self._mv[:n])
        return self._mv[:n].tolist()

    def tobytes(self):
        s = self._s
        return s.raw[:_array_len(self) * s.isz].tobytes()

    def tofile(self, f):
        """Writes the elements to the file object f in blocks (its write method)."""
        s = self._s
        n = _array_len(self) * s.isz
        block = 64 * 1024
        for i in range(0, n, block):
            f.write(s.raw[i:min(i + block, n)].tobytes())

    def tounicode(self):
        s = self._s
        if s.tc not in _UNICODE:
            raise ValueError("tounicode() may only be called on unicode type arrays" +
                             (" ('u' or 'w')" if "w" in typecodes else ""))
        return self.tobytes().decode("utf-32-le" if sys.byteorder == "little" else "utf-32-be", "surrogatepass")

    # -- adding ------------------------------------------------------------------------------

    def append(self, x):
        s = self._s
        fast = s.fast  # first: it holds the mapping, so the handle read next outlives the call
        h = s.wh
        if h is None or s.exports:
            self._resizable()
        try:
            b = s.spack(x)
        except (struct.error, OverflowError, TypeError):
            b = s.pack(x)  # array.array's conversion, or its exception
        if fast is not None:
            st = _fast_append(fast, b)
        elif s.serial is None:  # ctypes: _call_status inline, a method call less per element
            base = s.base  # noqa: F841  (the handle lives through the call)
            if base is None:
                self._dead()
            st = s.calls.append(h, b)
        else:
            st = self._call_status(s.calls.append, h, b)
        if st:
            _raise(st)

    def _call_status(self, fn, *args):
        """One length-changing library call on this handle (serialized where it must be): its
        status. The mapping is held through the call: a close() in another thread since the
        handle was taken raises ValueError here, and one during the call frees nothing until
        it returns."""
        s = self._s
        base = _mapping(s)  # noqa: F841
        if s.serial is None:
            return fn(*args)
        with s.serial:
            return fn(*args)

    def _call(self, fn, *args):
        """The same, raising the library's error."""
        st = self._call_status(fn, *args)
        if st:
            _raise(st)

    def _extend_address(self, address, count):
        if count:
            h = self._resizable()
            self._call(self._s.calls.extend, h, address, count)

    def _extend_bytes(self, data, count):
        if count:
            h = self._resizable()
            self._call(self._s.calls.extend_bytes, h, data, count)

    def _room(self, more):
        """MemoryError (as array.array raises it) when `more` elements cannot be added."""
        s = self._s
        n = _array_len(self)
        if more > _MAXSIZE // s.isz - n or (s.maxn and n + more > s.maxn):
            raise NoSpaceError(-8, f"mba: {n} + {more} elements do not fit: the array holds at most "
                                   f"{s.maxn} elements of {s.isz} bytes")

    def _extend_array(self, other):
        """Appends the elements of an array of the same typecode in one library call."""
        if isinstance(other, array):
            o = other._s
            base = _mapping(o)  # noqa: F841  (the other mapping lives through the call)
            n = _array_len(other)
            self._room(n)
            self._extend_address(o.data, n)
        else:
            other = _plain(other)
            with memoryview(other):  # resizing it (another thread) raises BufferError meanwhile
                address, n = other.buffer_info()
                self._room(n)
                self._extend_address(address, n)

    def extend(self, iterable):
        """Appends the elements of iterable: one library call for arrays, numpy arrays of the
        same type and sized sequences; iterators in chunks (what was converted before a bad
        element stays, as in array.array)."""
        if isinstance(iterable, (_stdarray.array, array)):
            if _kind(iterable) != self._s.tc:
                raise TypeError("can only extend with array of same kind")
            self._resizable()
            self._extend_array(iterable)
            return
        np = _np() if type(iterable).__module__ == "numpy" else None
        if np is not None and isinstance(iterable, np.ndarray):
            if (iterable.dtype == np.dtype(_NUMPY_DTYPE[self._s.tc]) and iterable.ndim == 1
                    and iterable.flags.c_contiguous and self._s.tc not in _UNICODE):
                self._resizable()
                self._room(iterable.size)
                self._extend_address(iterable.ctypes.data, iterable.size)
                return
        self._resizable()
        self._extend_iterable(iterable)

    def _extend_iterable(self, iterable):
        stc = self._s.stc
        if isinstance(iterable, (list, tuple)):
            self._room(len(iterable))
            buf = _stdarray.array(stc)
            try:
                buf.extend(iterable)
            finally:  # what converted before an error is appended, as array.array does
                self._extend_array(buf)
            return
        it = iter(iterable)
        while True:
            buf = _stdarray.array(stc)
            try:
                buf.extend(itertools.islice(it, _CHUNK))
            finally:
                self._extend_array(buf)
            if len(buf) < _CHUNK:
                return

    def frombytes(self, buffer):
        """Appends the machine values in a bytes-like object, in one library call."""
        s = self._s
        if isinstance(buffer, array):
            buffer = buffer.tobytes()  # without the buffer protocol (Python < 3.12)
        if isinstance(buffer, str):
            raise TypeError("a bytes-like object is required, not 'str'")
        try:
            data = memoryview(buffer)
        except TypeError:
            raise TypeError(f"a bytes-like object is required, not '{type(buffer).__name__}'") from None
        with data:
            data = data.cast("B") if data.c_contiguous else memoryview(data.tobytes())
            if len(data) % s.isz:
                raise ValueError("bytes length not a multiple of item size")
            count = len(data) // s.isz
            if not count:
                return
            self._resizable()
            self._room(count)
            if isinstance(buffer, bytes):
                self._extend_bytes(buffer, count)
            elif data.readonly:
                self._extend_bytes(data.tobytes(), count)
            else:
                holder = (ctypes.c_char * len(data)).from_buffer(data)
                try:
                    self._extend_address(ctypes.addressof(holder), count)
                finally:
                    del holder

    def fromlist(self, items):
        if not isinstance(items, list):
            raise TypeError("arg must be list")
        self._resizable()
        self._room(len(items))
        self._extend_array(_stdarray.array(self._s.stc, items))  # all or nothing, as array.array

    def fromunicode(self, s):
        st = self._s
        if st.tc not in _UNICODE:
            raise ValueError("fromunicode() may only be called on unicode type arrays" +
                             (" ('u' or 'w')" if "w" in typecodes else ""))
        if not isinstance(s, str):
            raise TypeError(f"fromunicode() argument must be str, not {type(s).__name__}")
        self.frombytes(s.encode("utf-32-le" if sys.byteorder == "little" else "utf-32-be", "surrogatepass"))

    def fromfile(self, f, n):
        """Reads n items from the file object f and appends them, as array.array does: a short
        read of whole items appends them and raises EOFError; one that ends inside an item
        raises ValueError and appends nothing of that read. (Reads of more than 64 MiB are
        made in 16 MiB pieces, each appended when it is read.)"""
        if not isinstance(n, int):
            raise TypeError(f"'{type(n).__name__}' object cannot be interpreted as an integer")
        if n < 0:
            raise ValueError("negative count")
        s = self._s
        if n > _MAXSIZE // s.isz:
            raise MemoryError()
        self._resizable()
        self._room(n)
        want = n * s.isz
        step = want if want <= (64 << 20) else (16 << 20)  # big reads in 16 MiB pieces
        got = 0
        while True:
            ask = min(step, want - got)
            data = f.read(ask)
            if not isinstance(data, bytes):
                raise TypeError("read() didn't return bytes")
            self.frombytes(data)  # ValueError if it ends inside an item
            got += len(data)
            if len(data) < ask:
                raise EOFError("read() didn't return enough bytes")
            if got >= want:
                return

    # -- changing the length in one step -------------------------------------------------------

    def _splice(self, index, delete, src, expected=None):
        """Replaces elements [index, index + delete) with those of src (a standard array of
        this typecode, or None): one library call (mba_splice). Given expected (a standard
        array of the `delete` elements as they were read), a compare-and-splice: False, and
        nothing changed, if those elements are not those any more (or the array got shorter)."""
        h = self._resizable()
        calls = self._s.calls
        exp = expected.buffer_info()[0] if expected is not None else None
        if src is None:
            st = self._call_status(calls.splice, h, index, delete, exp, None, None, 0)
        else:
            with memoryview(src):  # resizing it (another thread) raises BufferError meanwhile
                address, count = src.buffer_info()
                st = self._call_status(calls.splice, h, index, delete, exp, None, address if count else None, count)
        if expected is not None and st in (-3, -15):  # shorter, or changed (MBA_ERR_CHANGED)
            return False
        if st:
            _raise(st)
        return True

    def insert(self, i, x):
        i = _ssize(i)
        b = self._s.pack(x)
        n = _array_len(self)
        if i < 0:
            i = max(i + n, 0)
        i = min(i, n)
        src = _stdarray.array(self._s.stc)
        src.frombytes(b)
        self._splice(i, 0, src)

    def _element(self, raw):
        """The element whose bytes are raw, as array.array returns it."""
        v = _stdarray.array(self._s.stc)
        v.frombytes(raw)
        return v[0]

    def pop(self, i=-1):
        """Removes and returns element i. pop() and pop(-1) remove the last element of the shared
        array at the moment of the call (mba_pop), even if another process appended after this
        one looked; any other index is one mba_splice that hands back the element it removed,
        so what is returned is what was removed, whatever other processes did meanwhile."""
        i = _ssize(i)
        last = i == -1
        h = self._resizable()
        n = _array_len(self)
        if n == 0:
            raise IndexError("pop from empty array")
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("pop index out of range")
        s = self._s
        out = ctypes.create_string_buffer(s.isz)
        if last:
            self._call(s.calls.pop, h, out)
        else:
            st = self._call_status(s.calls.splice, h, i, 1, None, out, None, 0)
            if st == -3:  # another process shortened the array meanwhile
                raise IndexError("pop index out of range")
            if st:
                _raise(st)
        return self._element(out.raw)

    def _find(self, x):
        for start, chunk in self._chunks():
            try:
                return start + chunk.index(x)
            except ValueError:
                continue
        return None

    def remove(self, x):
        """Removes the first element equal to x. Finding x and removing it are two steps, and
        other processes may insert or remove elements before it in between; so the removal is
        a compare-and-splice (mba_splice with `expected`): it removes element k only if k still
        holds, byte for byte, the element the search found there, and otherwise changes nothing
        (MBA_ERR_CHANGED), and the search starts again, at most _REMOVE_TRIES times (then
        BusyError, the array as it was). So the element removed is always the x that was found,
        and no other element is ever moved or lost. Appends by other processes never cause a
        retry (they move no element)."""
        h = self._resizable()
        s = self._s
        base = _mapping(s)  # noqa: F841  (the mapping lives through the search, the read and the call)
        found = ctypes.create_string_buffer(s.isz)
        for _ in range(_REMOVE_TRIES):
            k = self._find(x)
            if k is None:
                raise ValueError("array.remove(x): x not in array")
            if k >= _array_len(self):
                continue  # the array shrank under the search: search again
            self._read_element(k, found)
            if not self._holds_bytes(found.raw, x):
                continue  # moved since the search: search again, nothing removed
            st = self._call_status(s.calls.splice, h, k, 1, found, None, None, 0)
            if st in (-3, -15):  # shrank, or element k changed meanwhile: search again
                continue
            if st:
                _raise(st)
            return
        raise BusyError(-9, f"mba: remove(x): other processes changed the array between finding x and removing "
                            f"it {_REMOVE_TRIES} times in a row")

    def _read_element(self, k, buf):
        """Copies element k (below len(self), so mapped) into buf."""
        ctypes.memmove(buf, self._s.data + k * self._s.isz, self._s.isz)

    def _holds_bytes(self, raw, x):
        """Whether the element whose bytes are raw is an x."""
        v = self._element(raw)
        return v is x or v == x

    def clear(self):
        h = self._resizable()
        self._call(self._s.calls.truncate, h, 0)

    def __delitem__(self, key):
        n = _array_len(self)
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step == 1 or (step > 0 and start >= stop) or (step < 0 and start <= stop):
                if step == 1 and stop > start:
                    self._splice(start, stop - start, None)
                else:
                    self._w()  # nothing to delete
                return
            self._delete_extended(key)
            return
        i = self._index(key, n)
        self._splice(i, 1, None)

    def _delete_extended(self, key):
        """del a[i:j:k] for |k| > 1: the range from the first position to the last is read,
        the positions are deleted from that copy, and the copy put back in one compare-and-splice
        (the read elements as `expected`): if another process changed the range meanwhile
        (an insert or a deletion before or in it, a write in it), nothing is changed and it
        starts again from the new length, at most _REMOVE_TRIES times (then BusyError, the
        array as it was). So the elements put back are never stale copies. Appends by other
        processes never cause a retry."""
        for _ in range(_REMOVE_TRIES):
            start, stop, step = key.indices(_array_len(self))
            count = len(range(start, stop, step))
            if not count:
                self._w()  # it shrank meanwhile: nothing to delete
                return
            if step < 0:  # the same positions, ascending
                start, step = start + (count - 1) * step, -step
            last = start + (count - 1) * step
            old = self._chunk(start, last + 1)
            kept = old[:]
            del kept[::step]
            if self._splice(start, last + 1 - start, kept, old):
                return
        raise BusyError(-9, f"mba: del a[{key.start}:{key.stop}:{key.step}]: other processes changed the "
                            f"array between reading and deleting {_REMOVE_TRIES} times in a row")

    # -- searching ---------------------------------------------------------------------------

    def index(self, x, start=0, stop=_MAXSIZE):
        start, stop = operator.index(start), operator.index(stop)
        n = _array_len(self)
        if start < 0:
            start = max(start + n, 0)
        if stop < 0:
            stop += n
        for first, chunk in self._chunks(start, stop):
            try:
                return first + chunk.index(x)
            except ValueError:
                pass
        raise ValueError("array.index(x): x not in array")

    def count(self, x):
        return sum(chunk.count(x) for _, chunk in self._chunks())

    def __contains__(self, x):
        return any(x in chunk for _, chunk in self._chunks())

    # -- in place --------------------------------------------------------------------------

    def _writable_raw(self):
        self._w()
        return self._s.raw

    def reverse(self):
        """Reverses the elements in place, a chunk from each end at a time (in bounded memory,
        as array.array does). Not one step for other processes: an insert or a deletion by
        another process while it runs moves elements between its reads and its writes, and
        can leave some duplicated and others lost (appends are safe: they move nothing). A
        compare-and-splice of the whole array, as del a[::k] does, would hold two private
        copies of it."""
        raw = self._writable_raw()
        isz = self._s.isz
        i, j = 0, _array_len(self)
        while j - i > 1:
            c = min(_CHUNK, (j - i) // 2)
            left, right = self._chunk(i, i + c), self._chunk(j - c, j)
            left.reverse()
            right.reverse()
            raw[i * isz:(i + c) * isz] = memoryview(right).cast("B")
            raw[(j - c) * isz:j * isz] = memoryview(left).cast("B")
            i, j = i + c, j - c

    def byteswap(self):
        """Swaps the bytes of every element in place, a chunk at a time: not one step for other
        processes, as reverse()."""
        raw = self._writable_raw()
        isz = self._s.isz
        for start, chunk in self._chunks():
            chunk.byteswap()
            raw[start * isz:(start + len(chunk)) * isz] = memoryview(chunk).cast("B")

    # -- indexing --------------------------------------------------------------------------

    @staticmethod
    def _index(i, n):
        if not hasattr(i, "__index__"):
            raise TypeError("array indices must be integers")
        i = operator.index(i)  # an int, whatever the object's own comparisons say
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("array index out of range")
        return i

    def _getitem(self, i):
        """a[i]: BufferBase's __getitem__ answers ints below a vouched length in C, and
        everything else through this."""
        n = _array_len(self)  # the header's length, checked again by the library past a vouched one
        if i.__class__ is int:  # straight from the mapping, below a length the library vouched for
            if 0 <= i < n:
                return self._mv[i]
            if -n <= i < 0:
                return self._mv[i + n]
            raise IndexError("array index out of range")
        if isinstance(i, slice):
            return self._slice(i)
        # Anything else is converted first (operator.index): its own comparisons are not asked.
        return self._mv[self._index(i, n)]

    if not _FAST_BASE:
        __getitem__ = _getitem

    def _slice(self, key):
        s = self._s
        base = _mapping(s)  # noqa: F841  (the mapping lives through the copy)
        start, stop, step = key.indices(_array_len(self))
        count = len(range(start, stop, step))
        out = array._anonymous(s.tc, count)
        if not count:
            return out
        if step == 1:
            out._extend_address(s.data + start * s.isz, count)  # s keeps the mapping alive
            return out
        # Extended slices: in chunks of the result, through strided views of the mapping.
        done = 0
        while done < count:
            c = min(_CHUNK, count - done)
            first = start + done * step
            end = first + c * step
            out.frombytes(s.cv[first:(end if end >= 0 else None):step].tobytes())
            done += c
        return out

    def __setitem__(self, key, value):
        if key.__class__ is int:
            n = _array_len(self)
            i = key + n if key < 0 else key
            if not 0 <= i < n:
                raise IndexError("array assignment index out of range")
            try:
                self._mv[i] = value  # read-only for read-only, inherited and closed handles
                return
            except (TypeError, ValueError, OverflowError):
                pass
            self._set_slow(i, value)
            return
        if isinstance(key, slice):
            self._assign_slice(key, value)
            return
        i = self._index(key, _array_len(self))
        self._set_slow(i, value)

    def _set_slow(self, i, value):
        s = self._s
        b = s.pack(value)  # array.array's exception for a bad value
        h = self._w()
        base = _mapping(s)  # noqa: F841  (the handle lives through the call)
        st = _set(h, i, b)
        if st:
            if st == -3:
                raise IndexError("array assignment index out of range")
            _raise(st)

    def _values(self, value):
        """The elements of an array assigned to a slice, as a standard array copy."""
        s = self._s
        if not isinstance(value, (_stdarray.array, array)):
            raise TypeError(f'can only assign array (not "{type(value).__name__}") to array slice')
        if _kind(value) != s.tc:
            raise TypeError("bad argument type for built-in operation")
        if isinstance(value, array):
            return value._chunk(0, _array_len(value))
        value = _plain(value)
        if value.typecode != s.stc:
            copy = _stdarray.array(s.stc)
            copy.frombytes(value.tobytes())
            return copy
        return value

    def _assign_slice(self, key, value):
        s = self._s
        values = self._values(value)
        n = _array_len(self)
        start, stop, step = key.indices(n)
        if step == 1:
            stop = max(start, stop)
            if stop - start == len(values):
                raw = self._writable_raw()
                if values:
                    raw[start * s.isz:stop * s.isz] = memoryview(values).cast("B")
                return
            self._splice(start, stop - start, values)
            return
        # An extended slice is written in place, element by element, as a[i] = x for each: an
        # insert or deletion by another process meanwhile moves the positions under the writes.
        count = len(range(start, stop, step))
        if count != len(values):
            raise ValueError(f"attempt to assign array of size {len(values)} to extended slice of size {count}")
        if not count:
            return
        self._writable_raw()
        src = memoryview(values).cast("B").cast(s.fmt)
        end = start + count * step
        s.cv[start:(end if end >= 0 else None):step] = src

    def __iter__(self):
        return _restore_iterator(self, 0)

    # -- operators ---------------------------------------------------------------------------

    def _same_kind(self, other, what):
        if not isinstance(other, (_stdarray.array, array)):
            raise TypeError(f'can only {what} array (not "{type(other).__name__}") to array')
        if _kind(other) != self._s.tc:
            raise TypeError("bad argument type for built-in operation")

    def __add__(self, other):
        self._same_kind(other, "append")
        n, m = _array_len(self), _true_len(other)
        out = array._anonymous(self._s.tc, n + m)
        out._extend_array(self)
        out._extend_array(other)
        return out

    def __iadd__(self, other):
        if not isinstance(other, (_stdarray.array, array)):
            raise TypeError(f'can only extend array with array (not "{type(other).__name__}")')
        self.extend(other)
        return self

    @staticmethod
    def _count(n):
        if not hasattr(n, "__index__"):
            raise TypeError(f"can't multiply sequence by non-int of type '{type(n).__name__}'")
        n = n.__index__()
        if n > _MAXSIZE:
            raise OverflowError("cannot fit 'int' into an index-sized integer")
        return n

    def __mul__(self, n):
        n = self._count(n)
        s = self._s
        base = _mapping(s)  # noqa: F841  (the mapping lives through the copies)
        size = _array_len(self)
        if n <= 0 or size == 0:
            return array._anonymous(s.tc, 0)
        if size > _MAXSIZE // s.isz // n:
            raise MemoryError()
        out = array._anonymous(s.tc, size * n)
        out._room(size * n)
        out._extend_address(s.data, size)
        done = size
        while done < size * n:  # doubling, from the result's own mapping: no other copy
            c = min(done, size * n - done)
            out._extend_address(out._s.data, c)
            done += c
        return out

    __rmul__ = __mul__

    def __imul__(self, n):
        n = self._count(n)
        self._resizable()
        s = self._s
        size = _array_len(self)
        if n <= 0:
            self.clear()
            return self
        if n == 1 or size == 0:
            return self
        if size > _MAXSIZE // s.isz // n:
            raise MemoryError()
        self._room(size * (n - 1))
        if n == 2 or size * (n - 1) * s.isz > _IMUL_COPY:
            # From the array's own mapping (the data never moves): no copy; for more than two
            # copies of a large array, doubling, in a few extends.
            done = size
            while done < size * n:
                c = min(done, size * n - done)
                self._extend_address(s.data, c)
                done += c
            return self
        # One extend with the n - 1 copies: other processes see the array at its old size or its
        # new one, never in between.
        self._extend_array(self._chunk(0, size) * (n - 1))
        return self

    def _richcmp(self, other, op):
        if not isinstance(other, (array, _stdarray.array)):
            return NotImplemented
        if not isinstance(other, array):
            other = _plain(other)
        na, nb = _array_len(self), _true_len(other)
        if na != nb and op in (operator.eq, operator.ne):
            return op is operator.ne
        # The first position where the elements differ, a chunk at a time.
        a_views = _cmp_view(self)
        b_views = _cmp_view(other)
        k = None
        n = min(na, nb)
        for i in range(0, n, _CHUNK):
            j = min(i + _CHUNK, n)
            if a_views is not None and b_views is not None and a_views[i:j] == b_views[i:j]:
                continue
            xs, ys = self._chunk(i, j).tolist(), _chunk_of(other, i, j).tolist()
            for t, (x, y) in enumerate(zip(xs, ys)):
                if not (x is y or x == y):
                    k = i + t
                    a_k, b_k = x, y
                    break
            if k is not None:
                break
        if k is None:
            return op(na, nb)
        if op is operator.eq:
            return False
        if op is operator.ne:
            return True
        return op(a_k, b_k)

    def __eq__(self, other):
        return self._richcmp(other, operator.eq)

    def __ne__(self, other):
        return self._richcmp(other, operator.ne)

    def __lt__(self, other):
        return self._richcmp(other, operator.lt)

    def __le__(self, other):
        return self._richcmp(other, operator.le)

    def __gt__(self, other):
        return self._richcmp(other, operator.gt)

    def __ge__(self, other):
        return self._richcmp(other, operator.ge)

    __hash__ = None

    def __repr__(self):
        s = self._s
        name = type(self).__name__
        n = _array_len(self)
        if n == 0:
            return f"{name}('{s.tc}')"
        if s.tc in _UNICODE:
            return f"{name}('{s.tc}', {self.tounicode()!r})"
        parts = [repr(chunk.tolist())[1:-1] for _, chunk in self._chunks()]
        return f"{name}('{s.tc}', [" + ", ".join(parts) + "])"

    def __copy__(self):
        return self[:]

    def __deepcopy__(self, memo):
        return self[:]

    def __sizeof__(self):
        # The object (as large as an array.array object) and the bytes of its elements, which
        # live in the shared mapping: every handle of one array counts them.
        s = getattr(self, "_s", None)  # (None only in the instance _SIZE_ADJUST is measured on)
        n = 0 if s is None or s.closed else _array_len(self) * s.isz
        return object.__sizeof__(self) - _SIZE_ADJUST + n

    __class_getitem__ = classmethod(types.GenericAlias)

    # -- pickling ----------------------------------------------------------------------------

    def __reduce_ex__(self, protocol):
        s = self._s
        state = getattr(self, "__dict__", None)
        if s.pickle == "name":
            return (_attach_pickled, (type(self), s.uri, s.ro, s.tc), state)
        if protocol < 3:
            return (type(self), (s.tc, self.tolist()), state)
        return (_array_reconstructor, (type(self), s.tc, _MFORMAT[s.tc], self.tobytes()), state)

    def __reduce__(self):
        return self.__reduce_ex__(2)

    def sync(self, wait=True):
        """Writes the array back to its store (msync): data first, then the length."""
        h = self._w()
        base = _mapping(self._s)  # noqa: F841  (the handle lives through the call)
        _check(_msync(h, MBA_SYNC if wait else MBA_ASYNC))




# What __sizeof__ takes off object.__sizeof__, so that sys.getsizeof() of an mba.array is what
# it is for an array.array of as many elements, whatever mba.array's own layout (BufferBase's C
# fields, the slots above) and pre-header (which sys.getsizeof adds: from 3.12 it holds the
# weak-reference pointer) are.
_SIZE_ADJUST = 0
_SIZE_ADJUST = (lambda o: object.__sizeof__(o) + (sys.getsizeof(o) - object.__sizeof__(o))
                - sys.getsizeof(_stdarray.array("b")))(object.__new__(array))

ArrayType = array
# mba.array's own len() (the C base's, or the Python method), whatever a subclass overrides:
# what the Python paths of a[i] and a[i] = v take the length from.
_array_len = array.__len__
collections.abc.MutableSequence.register(array)
# A standard array's own typecode, length and elements, whatever a subclass of array.array
# overrides (typecode, __len__, buffer_info, __getitem__, __buffer__): what the copies from its
# memory are bounded by.
_std_typecode = _stdarray.array.typecode.__get__
_std_len = _stdarray.array.__len__
_std_getitem = _stdarray.array.__getitem__
_ALL = slice(None)


def _kind(a):
    """The typecode of an mba.array or a standard array, as stored."""
    return a._s.tc if isinstance(a, array) else _std_typecode(a)


def _true_len(a):
    """The length of an mba.array or a standard array, as stored."""
    return _array_len(a) if isinstance(a, array) else _std_len(a)


def _plain(a):
    """A standard array as a plain array.array: itself, or a copy of a subclass's elements."""
    return a if type(a) is _stdarray.array else _std_getitem(a, _ALL)


def _ssize(i):
    """i as array.array's "n" argument takes it: an index-sized integer, else OverflowError."""
    i = operator.index(i)
    if not -_MAXSIZE - 1 <= i <= _MAXSIZE:
        raise OverflowError("Python int too large to convert to C ssize_t")
    return i


def _check_initializer(tc, init):
    if isinstance(init, str) and tc not in _UNICODE:
        raise TypeError(f"cannot use a str to initialize an array with typecode '{tc}'")
    if isinstance(init, (_stdarray.array, array)) and _kind(init) in _UNICODE and tc not in _UNICODE:
        raise TypeError(f"cannot use a unicode array to initialize an array with typecode '{tc}'")
    if not isinstance(init, (bytes, bytearray, str, list, tuple, _stdarray.array, array)):
        try:
            iter(init)
        except TypeError:
            raise TypeError(f"'{type(init).__name__}' object is not iterable") from None


def _cmp_view(a):
    """A memoryview that compares elements by value in C, or None for characters."""
    if isinstance(a, array):
        return None if a._s.tc in _UNICODE else a._s.cv
    if a.typecode in _UNICODE:
        return None
    return memoryview(a)


def _chunk_of(a, i, j):
    if isinstance(a, array):
        return a._chunk(i, j)
    return a[i:j]


# The standard library's machine format code of each typecode on this machine, for pickles.
_MFORMAT = {tc: _stdarray.array(_STD_TC[tc]).__reduce_ex__(3)[1][2] for tc in typecodes}


def _array_reconstructor(arraytype, typecode, mformat_code, items):
    """Unpickles an array by value: the counterpart of the standard library's
    array._array_reconstructor, for mba.array and its subclasses."""
    if not isinstance(arraytype, type):
        raise TypeError(f"first argument must be a type object, not {type(arraytype).__name__}")
    if not issubclass(arraytype, array):
        raise TypeError(f"{arraytype.__name__} is not a subtype of mba.array")
    if not isinstance(typecode, str) or len(typecode) != 1:
        raise TypeError(f"_array_reconstructor() argument 2 must be a unicode character, not "
                        f"{type(typecode).__name__}")
    if typecode not in _DTYPE:
        raise ValueError("second argument must be a valid type code")
    std = _stdarray._array_reconstructor(_stdarray.array, _STD_TC[typecode], mformat_code, items)
    if std.typecode != _STD_TC[typecode]:  # decoded through another machine type: convert the values
        std = _stdarray.array(_STD_TC[typecode], std.tolist())
    out = object.__new__(arraytype)
    h, info = _new_handle(None, _DTYPE[typecode], len(std), 0, None, typecode, 0)
    out._setup(_open(h, typecode, None, False, False, info))
    out._extend_array(std)
    return out


def _attach_pickled(cls, uri, readonly, typecode):
    """Unpickles an array sent by name: attaches the same shared array (never exclusively)."""
    return cls.attach(uri, readonly=readonly, typecode=typecode)


# ---------------------------------------------------------------------------------------------
# Iteration


class _IterState:
    __slots__ = ("arr", "pos", "cur", "end")


def _iter_chunks(st):
    """Iterators over consecutive pieces of the array, read as the iteration reaches them (so
    appends made meanwhile are seen); views of the mapping, not copies."""
    while True:
        a = st.arr
        if a is None:
            return
        n = _array_len(a)
        pos = st.pos
        if pos >= n:
            st.arr = st.cur = None  # exhausted for good, and the array is let go
            return
        end = min(n, pos + _CHUNK)
        it = iter(a._mv[pos:end])
        st.cur, st.end, st.pos = it, end, end
        del a
        yield it
        st.cur = None


class _IteratorRules:
    """What both kinds of mba.array iterator share with array.array's: no direct construction,
    no copy, pickling through __reduce__ (each kind's own)."""

    __slots__ = ()

    def __new__(cls, *args, **kwargs):
        raise TypeError(f"cannot create '{cls.__module__}.{cls.__name__}' instances")

    def __reduce_ex__(self, protocol):
        return self.__reduce__()

    def __copy__(self):
        raise TypeError("cannot copy an mba.array iterator")


if _Iter is not None and _FAST_BASE:
    class arrayiterator(_IteratorRules, _Iter):
        """The iterator of an mba.array, in C (mba/_speedups.c): each step reads the length as
        len(a) does and the element as a[i] does, so appends made meanwhile are seen; it pickles
        as (array, position) like array.array's iterator."""

        __slots__ = ()

        def __reduce__(self):
            return (_restore_iterator, self._state)

    def _restore_iterator(arr, pos):
        return _Iter.__new__(arrayiterator, arr, pos)

else:
    class arrayiterator(_IteratorRules, itertools.chain):
        """The iterator of an mba.array: elements are read from the mapping chunk by chunk in C;
        it pickles as (array, position) like array.array's iterator."""

        __slots__ = ("_st",)

        def __reduce__(self):
            st = self._st
            if st.cur is not None:  # where in the current piece: count what is left of it
                rest = sum(1 for _ in st.cur)
                st.pos, st.cur = st.end - rest, None  # and read the rest again from there
            return (_restore_iterator, (st.arr, st.pos))

    def _restore_iterator(arr, pos):
        st = _IterState()
        st.arr, st.pos, st.cur, st.end = arr, pos, None, 0
        it = arrayiterator.from_iterable(_iter_chunks(st))
        it._st = st
        return it


# ---------------------------------------------------------------------------------------------
# SharedArray's API (mba/_sharedarray.py): numpy arrays of any shape in shared memory.
# `import mba as sa` works in place of `import SharedArray as sa`.

from . import _sharedarray  # noqa: E402  (it uses _lib above)
from ._sharedarray import (  # noqa: E402
    ADVICE_DONTNEED, ADVICE_HUGEPAGE, ADVICE_NORMAL, ADVICE_RANDOM, ADVICE_SEQUENTIAL, ADVICE_WILLNEED,
    MS_ASYNC, MS_INVALIDATE, MS_SYNC, ArrayDesc, attach, create, delete)
from . import _raw  # noqa: E402
from ._raw import open_npy, open_raw  # noqa: E402


def __getattr__(name):
    """``mba.list`` (SharedArray's list(); not a global here, where list is the builtin), and the
    submodules other parts of the package add, loaded on first use."""
    if name == "list":
        return _sharedarray.list
    import importlib

    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module 'mba' has no attribute '{name}'") from None


from ._claim import claim, wait_len  # noqa: E402,F401  (batching appends, readers that sleep)
