"""mba.smmap: smmap's sliding-window map manager, on mba's native windowed reader.

A drop-in for the ``smmap`` package (``from mba import smmap`` where you had ``import smmap``):
the same names and semantics (``SlidingWindowMapManager``, ``StaticWindowMapManager``,
``make_cursor``, ``WindowCursor.use_region/buffer/ofs_begin/ofs_end/size/includes_ofs/...``,
``SlidingWindowMapBuffer``, ``num_file_handles``, ``num_open_files``, ``mapped_memory_size``,
``collect``, ``MapWindow``, ``MapRegion``, ``MapRegionList``, ``align_to_mmap``...), with what
smmap's users asked for:

- **Budgets that hold.** ``max_memory_size`` and ``max_open_handles`` are hard limits at every
  moment (smmap treats them as soft and overshoots). Windows are unmapped least recently used
  first, among those nothing uses.
- **Counted borrows, deterministic release.** Each ``buffer()`` memoryview pins its window until
  the memoryview is released (or garbage): the manager never unmaps memory a view points into,
  and counts the views. ``cursor.close()``, ``manager.collect()`` and ``manager.close()``
  release at once, and cursors and managers work as context managers; nothing relies on
  ``__del__`` for correctness. ``manager.close()`` refuses (``BufferError``, as ``mmap.close``
  does) while views are alive.
- **Thread-safe.** The manager may be shared by any number of threads; each cursor (and buffer)
  is used by one thread at a time.
- **Growth seen.** ``file_size()`` re-reads the size, and reads past the known end re-check it.
- **Typed access.** ``make_cursor(path, dtype="f8")``, ``kind="npy"`` or ``kind="mba"``
  (``.npy`` files and mba arrays: the data after their header), ``cursor.read(start, count)``
  (a copy: numpy array, or bytes for byte cursors), ``cursor.view(start, count)`` (a zero-copy
  numpy view, counted like ``buffer()``), ``len(cursor)``, ``cursor.dtype``, ``cursor.shape``.
  Offsets and sizes of a typed cursor count elements; of the default byte cursor, bytes.
- **Reads never raise SIGBUS.** ``read()`` and ``SlidingWindowMapBuffer`` indexing use ``pread``
  for files another process could truncate (unless the manager is made with
  ``mapped_reads=True``); a truncated or deleted file gives an error. A ``buffer()`` is a
  mapping: the file's size is re-checked before it is made, and truncating the file while it
  is held makes touching the cut part raise SIGBUS, as with any mmap.

Differences from smmap that are deliberate (see ``docs/SMMAP.md``): a ``StaticWindowMapManager``
maps a file larger than ``max_memory_size`` in windows of that size instead of mapping it whole
over budget; ``num_file_handles()`` counts mapped windows (smmap: one descriptor per region,
as Python's mmap duplicates the descriptor; mba maps from one descriptor per file);
``buffer()`` is read-only.
"""

import ctypes
import mmap as _mmap
import operator
import os
import sys
import threading
import weakref

from . import _lib as _parent_lib  # noqa: F401  (the library mba found)
from . import Error as _Error

__all__ = [
    "StaticWindowMapManager", "SlidingWindowMapManager", "WindowCursor", "SlidingWindowMapBuffer",
    "MapWindow", "MapRegion", "MapRegionList", "align_to_mmap", "is_64_bit", "ALLOCATIONGRANULARITY",
]

_lib = _parent_lib
_p = ctypes.c_void_p
_u64 = ctypes.c_uint64
_u32 = ctypes.c_uint32
_status = ctypes.c_int32


class _Config(ctypes.Structure):
    _fields_ = [("struct_size", _u32), ("flags", _u32), ("window_size", _u64), ("max_mapped_bytes", _u64),
                ("max_open_files", _u64), ("max_windows", _u64)]


class _Stats(ctypes.Structure):
    _fields_ = [(n, _u64) for n in (
        "mapped_bytes", "mapped_file_bytes", "windows", "pinned_windows", "open_files", "files", "peak_mapped_bytes", "peak_windows",
        "peak_open_files", "maps", "unmaps", "evictions", "opens", "closes", "preads", "window_size",
        "max_mapped_bytes", "max_open_files", "max_windows")]


class _Info(ctypes.Structure):
    _fields_ = [("kind", _u32), ("dtype", _u32), ("itemsize", _u32), ("ndim", _u32), ("byteswapped", _u32),
                ("mapped_reads", _u32), ("data_offset", _u64), ("len", _u64), ("file_size", _u64),
                ("shape", _u64 * 8)]


class _Region(ctypes.Structure):
    _fields_ = [("id", _u64), ("offset", _u64), ("len", _u64), ("valid", _u64), ("pins", _u64)]


class _View(ctypes.Structure):
    _fields_ = [("data", _p), ("count", _u64), ("window_id", _u64), ("window_offset", _u64),
                ("window_len", _u64), ("window_valid", _u64)]


for _name, _args, _ret in [
    ("mba_window_config_init", [ctypes.POINTER(_Config)], None),
    ("mba_window_manager_new", [ctypes.POINTER(_Config), ctypes.POINTER(_p)], _status),
    ("mba_window_manager_free", [_p], _status),
    ("mba_window_manager_close", [_p], _status),
    ("mba_window_manager_collect", [_p, ctypes.POINTER(_u64)], _status),
    ("mba_window_manager_trim", [_p, _u64, ctypes.POINTER(_u64)], _status),
    ("mba_window_manager_stats", [_p, ctypes.POINTER(_Stats)], _status),
    ("mba_window_manager_region", [_p, _u64, ctypes.POINTER(_Region)], _status),
    ("mba_window_open", [_p, ctypes.c_char_p, _u32, _u32, _u64, ctypes.POINTER(_p)], _status),
    ("mba_window_open_fd", [_p, ctypes.c_int, _u32, _u32, _u64, ctypes.POINTER(_p)], _status),
    ("mba_window_cursor_clone", [_p, ctypes.POINTER(_p)], _status),
    ("mba_window_cursor_free", [_p], _status),
    ("mba_window_info", [_p, ctypes.POINTER(_Info)], _status),
    ("mba_window_len", [_p], _u64),
    ("mba_window_refresh", [_p, ctypes.POINTER(_u64)], _status),
    ("mba_window_read", [_p, _u64, _u64, _p], _status),
    ("mba_window_pin", [_p, _u64, _u64, ctypes.POINTER(_View)], _status),
    ("mba_window_unpin", [_p], _status),
    ("mba_window_current", [_p, ctypes.POINTER(_Region)], _status),
]:
    _f = getattr(_lib, _name)
    _f.argtypes, _f.restype = _args, _ret

_OUT_OF_BOUNDS, _NOT_FOUND, _BUSY = -3, -5, -9
_MAPPED_READS = 1
_KINDS = {"auto": 0, "raw": 1, "npy": 2, "mba": 3}
_KIND_NAMES = {v: k for k, v in _KINDS.items()}


def _error(status, what=None):
    message = _lib.mba_last_error().decode(errors="replace")
    pkg = sys.modules[__package__]  # the binding's error classes, where it has them
    cls = {_NOT_FOUND: getattr(pkg, "NotFoundError", None), _BUSY: getattr(pkg, "BusyError", None)}.get(status)
    cls = cls or _Error
    return cls(status, f"{what}: {message}" if what else message)


def _check(status):
    if status != 0:
        raise _error(status)


# ---- dtypes: mba codes, names, numpy type strings --------------------------------------------

_DTYPES = {  # code: (name, numpy kind + size, itemsize)
    1: ("int8", "i1", 1), 2: ("uint8", "u1", 1), 3: ("int16", "i2", 2), 4: ("uint16", "u2", 2),
    5: ("int32", "i4", 4), 6: ("uint32", "u4", 4), 7: ("int64", "i8", 8), 8: ("uint64", "u8", 8),
    9: ("float32", "f4", 4), 10: ("float64", "f8", 8), 11: ("bool", "b1", 1), 12: ("float16", "f2", 2),
    13: ("complex64", "c8", 8), 14: ("complex128", "c16", 16),
}
_CODE_OF = {}
for _c, (_n, _k, _s) in _DTYPES.items():
    for _alias in (_n, _k, "<" + _k, ">" + _k, "|" + _k, "=" + _k):
        _CODE_OF[_alias] = _c
_CODE_OF.update({"i": 5, "u": 6, "f": 9, "d": 10, "b": 1, "B": 2, "h": 3, "H": 4, "q": 7, "Q": 8, "?": 11,
                 "e": 12, "F": 13, "D": 14, "l": 7, "L": 8, "bool_": 11, "byte": 1, "ubyte": 2})
_NATIVE = "<" if sys.byteorder == "little" else ">"


def _np():
    try:
        import numpy
    except ImportError:
        return None
    return numpy


def _dtype_code(dtype):
    """The mba code of ``dtype``: None (bytes), a code, a name ('u4', 'float64'), or a numpy dtype."""
    if dtype is None:
        return 0
    if isinstance(dtype, int):
        if dtype in _DTYPES:
            return dtype
        raise ValueError(f"unknown mba dtype code {dtype}")
    np = _np()
    if np is not None and not isinstance(dtype, str) or (np is not None and dtype not in _CODE_OF):
        d = np.dtype(dtype)
        if d.byteorder not in ("=", "|", _NATIVE):
            raise ValueError(f"dtype {d.str} is not in this machine's byte order; raw files are read in "
                             "native order (a .npy file says its own order)")
        key = d.kind + str(d.itemsize)
        for c, (_, k, _) in _DTYPES.items():
            if k == key:
                return c
        raise ValueError(f"dtype {d} has no mba equivalent (object, structured and string dtypes are not numeric)")
    if dtype in _CODE_OF:
        return _CODE_OF[dtype]
    raise ValueError(f"unknown dtype {dtype!r} (use e.g. 'u1', 'i4', 'f8', 'c16', 'bool' or a numpy dtype)")


def _typestr(code):
    k = _DTYPES[code][1]
    return ("|" if k[1:] == "1" else _NATIVE) + k


# ---- smmap.util ----------------------------------------------------------------------------

ALLOCATIONGRANULARITY = _mmap.ALLOCATIONGRANULARITY


def align_to_mmap(num, round_up):
    """``num`` rounded down (or up, with ``round_up``) to a multiple of ALLOCATIONGRANULARITY."""
    g = ALLOCATIONGRANULARITY
    down = num - num % g
    return down + g if round_up and down != num else down


def is_64_bit():
    """Whether this Python is a 64-bit one."""
    return sys.maxsize > 2 ** 32


class MapWindow:
    """A byte range ``[ofs, ofs + size)`` of a file, with the arithmetic sliding windows use."""

    __slots__ = ("ofs", "size")

    def __init__(self, offset, size):
        self.ofs = offset
        self.size = size

    def __repr__(self):
        return f"MapWindow({self.ofs}, {self.size})"

    @classmethod
    def from_region(cls, region):
        return cls(region.ofs_begin(), region.size())

    def ofs_end(self):
        return self.ofs + self.size

    def align(self):
        """Starts at a multiple of ALLOCATIONGRANULARITY and spans whole granules, covering at
        least what it covered."""
        end = self.ofs_end()
        self.ofs = align_to_mmap(self.ofs, False)
        self.size = align_to_mmap(end - self.ofs, True)

    def extend_left_to(self, window, max_size):
        """Grows to the left, up to the end of ``window``, while at most ``max_size`` long."""
        end = self.ofs_end()
        start = min(self.ofs, max(window.ofs_end(), end - max_size))
        self.ofs, self.size = start, end - start

    def extend_right_to(self, window, max_size):
        """Grows to the right, up to the start of ``window``, while at most ``max_size`` long."""
        end = max(self.ofs_end(), min(window.ofs, self.ofs + max_size))
        self.size = end - self.ofs


def _file_size(path_or_fd):
    return os.fstat(path_or_fd).st_size if isinstance(path_or_fd, int) else os.stat(path_or_fd).st_size


class _Range:
    """The byte range ``[_b, _b + _size)`` of a file that a region covers, as smmap asks it."""

    __slots__ = ()

    def ofs_begin(self):
        return self._b

    def size(self):
        return self._size

    def ofs_end(self):
        return self._b + self._size

    def includes_ofs(self, ofs):
        return self._b <= ofs < self._b + self._size


class MapRegion(_Range):
    """A read-only mapping of ``size`` bytes of a file from ``ofs`` (clipped to the file).

    Made directly, it is a plain mapping of its own, outside any manager's budget (as in smmap).
    The regions a cursor reports (``cursor.region()``) are the manager's windows instead.
    """

    __slots__ = ("_b", "_size", "_mf", "_uc", "__weakref__")

    def __init__(self, path_or_fd, ofs, size, flags=0):
        self._b = ofs
        self._uc = 0
        fd = path_or_fd if isinstance(path_or_fd, int) else os.open(path_or_fd, os.O_RDONLY | flags)
        try:
            fsize = os.fstat(fd).st_size
            self._size = max(0, min(size, fsize - ofs))
            self._mf = _mmap.mmap(fd, self._size, offset=ofs, access=_mmap.ACCESS_READ) if self._size else b""
        finally:
            if fd is not path_or_fd:
                os.close(fd)
        self.increment_client_count()

    def __repr__(self):
        return f"MapRegion<{self._b}, {self._size}>"

    def buffer(self):
        return self._mf

    def map(self):
        return self._mf

    def client_count(self):
        return self._uc

    def increment_client_count(self, ofs=1):
        """Changes the count by ``ofs``; at 0 the mapping is released. True if it was."""
        self._uc += ofs
        if self._uc == 0:
            self.release()
            return True
        return False

    def release(self):
        if isinstance(self._mf, _mmap.mmap):
            self._mf.close()


class MapRegionList(list):
    """The regions of one file (in smmap, its mapped regions; here, an empty list kept for
    compatibility: the manager tracks the windows natively)."""

    __slots__ = ("_path_or_fd",)

    def __init__(self, path_or_fd, *args):
        super().__init__(*args)
        self._path_or_fd = path_or_fd

    def path_or_fd(self):
        return self._path_or_fd

    def file_size(self):
        """The file's size now (re-read on each call, so growth is seen)."""
        return _file_size(self._path_or_fd)


# ---- manager -------------------------------------------------------------------------------

class _Borrow:
    """Keeps a window pinned (through a cursor of its own) while a view of it lives."""

    __slots__ = ("_c", "_man")

    def __init__(self, c, man):
        self._c = c
        self._man = man
        with man._lock:
            man._borrows += 1

    def __del__(self):
        c, self._c = self._c, None
        if c is not None and _lib is not None:
            _lib.mba_window_cursor_free(c)
            with self._man._lock:
                self._man._borrows -= 1


class _WindowRegion(_Range):
    """A manager's window as smmap's MapRegion shows it: offset, size, client count (the
    manager plus the cursors and views pinning it). Compared by window id."""

    __slots__ = ("_man", "_id", "_b", "_size", "_cursor")

    def __init__(self, man, wid, ofs, size, cursor):
        self._man, self._id, self._b, self._size, self._cursor = man, wid, ofs, size, cursor

    def __eq__(self, other):
        return isinstance(other, _WindowRegion) and other._man is self._man and other._id == self._id

    def __hash__(self):
        return hash((id(self._man), self._id))

    def __repr__(self):
        return f"MapRegion<window {self._id}: {self._b}, {self._size}>"

    def client_count(self):
        """1 (the manager) plus the pins now; 0 once the window is unmapped."""
        r = _Region()
        if _lib.mba_window_manager_region(self._man._h, self._id, ctypes.byref(r)) != 0:
            return 0
        return 1 + r.pins

    def buffer(self):
        """A counted, read-only memoryview of the whole window (while a cursor pins it)."""
        c = self._cursor
        if c is None or not c.is_valid() or c._vw.window_id != self._id:
            raise ValueError("the window is no longer pinned by the cursor that reported it")
        return c.map()

    map = buffer


class _ManagerHandle(ctypes.c_void_p):
    """The native manager's handle, given back (mba_window_manager_free) when its last holder
    lets go of it: the manager until close(), and each library call it is passed to, since ctypes
    holds a call's arguments until the call returns. So a close() in another thread while a call
    uses the handle (mba.h: "no other call may be using this manager handle") frees it only once
    that call is over."""

    def __del__(self):
        h, self.value = self.value, None
        if h is not None and _lib is not None:
            _lib.mba_window_manager_free(h)


class StaticWindowMapManager:
    """Maps whole files (up to ``max_memory_size`` each), unmapping the least recently used
    unused ones when a budget would be exceeded.

    ``window_size`` 0 maps whole files; ``max_memory_size`` 0 is 8 GiB on 64-bit Pythons (1 GiB
    on 32-bit), a hard limit; ``max_open_handles`` bounds both the descriptors held and the
    windows mapped (``sys.maxsize``: no limit). ``mapped_reads=True`` makes ``read()`` and
    buffer indexing copy from the mappings rather than ``pread`` (faster, but a file truncated
    by another process while it is read then raises SIGBUS).
    """

    _MB_in_bytes = 1024 * 1024

    def __init__(self, window_size=0, max_memory_size=0, max_open_handles=sys.maxsize, *, mapped_reads=False):
        if window_size < 0:
            window_size = (1024 if is_64_bit() else 64) * self._MB_in_bytes
        if max_memory_size == 0:
            max_memory_size = (8192 if is_64_bit() else 1024) * self._MB_in_bytes
        self._window_size = window_size
        self._max_memory_size = max_memory_size
        self._max_handle_count = max_open_handles
        self._lock = threading.RLock()  # re-entrant: a _Borrow may be finalized while this thread holds it
        self._borrows = 0
        self._cursors = weakref.WeakSet()
        self._h = None
        cfg = _Config()
        _lib.mba_window_config_init(ctypes.byref(cfg))
        cfg.flags = _MAPPED_READS if mapped_reads else 0
        page = _mmap.PAGESIZE
        # A window larger than the memory budget could never be mapped: it is the budget then.
        cfg.window_size = min(window_size, max_memory_size // page * page) if window_size else 0
        cfg.max_mapped_bytes = max_memory_size
        limit = min(max_open_handles, 2 ** 63)
        cfg.max_open_files = limit
        cfg.max_windows = 0 if max_open_handles >= sys.maxsize else limit
        h = _ManagerHandle()
        _check(_lib.mba_window_manager_new(ctypes.byref(cfg), ctypes.byref(h)))
        self._h = h  # freed with the last holder (_ManagerHandle); its cursors keep the native manager alive
        self._stats = _Stats()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _handle(self):
        if self._h is None:
            raise ValueError("operation on a closed window manager")
        return self._h

    # -- smmap's interface ---------------------------------------------------------------------

    def make_cursor(self, path_or_fd, dtype=None, *, kind="raw", offset=0):
        """A cursor over the file at ``path_or_fd`` (a path, or a descriptor the caller keeps
        open). ``dtype`` (default: bytes), ``kind`` ('raw', 'npy', 'mba' or 'auto') and
        ``offset`` (where a raw file's elements start) make it a typed cursor."""
        return WindowCursor(self, MapRegionList(path_or_fd), dtype=dtype, kind=kind, offset=offset)

    def collect(self):
        """Unmaps every window nothing uses and closes idle descriptors; returns how many
        windows were unmapped."""
        n = _u64()
        _check(_lib.mba_window_manager_collect(self._handle(), ctypes.byref(n)))
        return n.value

    def _collect_lru_region(self, size):
        """Unmaps least recently used unused windows until ``size`` more bytes fit (0: all of
        them); returns how many were unmapped."""
        n = _u64()
        _check(_lib.mba_window_manager_trim(self._handle(), min(size, 2 ** 64 - 1), ctypes.byref(n)))
        return n.value

    def stats(self):
        """Every figure of the native manager, as a dict (mapped_bytes, windows, pinned_windows,
        open_files, peaks, maps, evictions, preads, budgets...), plus the live borrows."""
        s = self._stats
        _check(_lib.mba_window_manager_stats(self._handle(), ctypes.byref(s)))
        d = {name: getattr(s, name) for name, _ in _Stats._fields_}
        d["borrows"] = self.num_borrows()
        return d

    def _stat(self, field):
        s = self._stats
        _lib.mba_window_manager_stats(self._handle(), ctypes.byref(s))
        return getattr(s, field)

    def num_file_handles(self):
        """Windows mapped now (smmap counts one descriptor per mapped region; mba maps them all
        from one descriptor per file, and bounds both with ``max_open_handles``)."""
        return self._stat("windows")

    def num_open_files(self):
        """Descriptors open now."""
        return self._stat("open_files")

    def num_borrows(self):
        """Windows that live ``buffer()``, ``map()`` and ``view()`` results keep pinned now (the
        buffers of one window from one cursor count once)."""
        with self._lock:  # cursors of other threads join the set meanwhile
            cursors = list(self._cursors)
        held = sum(1 for c in cursors if c._warr is not None and c._warr() is not None)
        return self._borrows + held

    def window_size(self):
        return self._window_size

    def mapped_memory_size(self):
        """Bytes of files mapped now (smmap's measure). The budget bounds the whole pages mapped
        (``stats()['mapped_bytes']``, at most one page more per window), so this is never above
        ``max_mapped_memory_size()`` either."""
        return self._stat("mapped_file_bytes")

    def max_file_handles(self):
        return self._max_handle_count

    def max_mapped_memory_size(self):
        return self._max_memory_size

    def close(self):
        """Releases every window and descriptor now; cursors fail afterwards. Raises
        ``BufferError`` while ``buffer()``/``view()`` results are alive (release them first),
        as ``mmap.close`` does. Closing twice is allowed."""
        h = self._h
        if h is None:
            return
        if self.num_borrows():
            raise BufferError(f"cannot close: buffers or views of {self.num_borrows()} windows are alive")
        status = _lib.mba_window_manager_close(h)
        if status not in (0, _BUSY):  # BUSY: cursors still pinned windows; they let go as they go
            raise _error(status)
        # The handle is freed when the last call that holds it (in another thread) returns.
        self._h = None

    def force_map_handle_removal_win(self, base_path):
        """smmap's Windows-only hook; mba runs on Linux only, where it does nothing."""
        return None


class SlidingWindowMapManager(StaticWindowMapManager):
    """Maps windows of ``window_size`` bytes (-1: 1 GiB on 64-bit) of any number of files,
    inside ``max_memory_size`` bytes and ``max_open_handles`` descriptors and windows, unmapping
    the least recently used unused windows first. Thread-safe."""

    def __init__(self, window_size=-1, max_memory_size=0, max_open_handles=sys.maxsize, *, mapped_reads=False):
        super().__init__(window_size, max_memory_size, max_open_handles, mapped_reads=mapped_reads)


# ---- cursor --------------------------------------------------------------------------------

class WindowCursor:
    """A position in one file: ``use_region`` pins a window, ``buffer()`` lends it out.

    One thread at a time per cursor. ``close()`` (or ``with``) releases it at once."""

    __slots__ = ("_manager", "_rlist", "_c", "_vw", "_vwp", "_valid", "_ofs", "_size", "_isz", "_code",
                 "_kind", "_offset", "_data_off", "_warr", "_warr_id", "__weakref__")

    def __init__(self, manager=None, regions=None, *, dtype=None, kind="raw", offset=0):
        self._manager = manager
        self._rlist = regions
        self._c = None
        self._vw = _View()
        self._vwp = ctypes.pointer(self._vw)
        self._valid = False
        self._ofs = 0
        self._size = 0
        self._code = _dtype_code(dtype)
        self._isz = _DTYPES[self._code][2] if self._code else 1
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {sorted(_KINDS)}, not {kind!r}")
        self._kind = kind
        self._offset = offset
        self._data_off = offset
        # The ctypes array over the window the cursor pins that its buffer()s export (a weak
        # reference: it lives while they do). While it is the cursor's window, the cursor's own
        # pin holds the window; before the cursor lets go of it, _detach gives the live buffers
        # a pin of their own.
        self._warr = None
        self._warr_id = 0
        if manager is not None:
            with manager._lock:
                manager._cursors.add(self)
        if manager is not None and regions is not None:
            self._native()

    def _native(self):
        c = self._c
        if c is None:
            if self._rlist is None or self._manager is None:
                raise ValueError("the cursor is not associated with a file")
            h = _p()
            target = self._rlist.path_or_fd()
            kind = _KINDS[self._kind]
            if isinstance(target, int):
                status = _lib.mba_window_open_fd(self._manager._handle(), target, kind, self._code, self._offset,
                                                 ctypes.byref(h))
            else:
                status = _lib.mba_window_open(self._manager._handle(), os.fsencode(target), kind, self._code,
                                              self._offset, ctypes.byref(h))
            _check(status)
            c = self._c = h
            if self._kind != "raw":
                info = _Info()
                _lib.mba_window_info(c, ctypes.byref(info))
                self._code, self._isz, self._data_off = info.dtype, info.itemsize, info.data_offset
        return c

    def __del__(self):
        self._destroy()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._destroy()

    def _destroy(self):
        """Releases the native cursor (and its window) now; the cursor stays associated and
        reopens on its next use."""
        if getattr(self, "_warr", None) is not None and _lib is not None:
            self._detach()
        c, self._c = getattr(self, "_c", None), None
        self._valid = False
        if c is not None and _lib is not None:
            _lib.mba_window_cursor_free(c)

    close = _destroy

    def _copy_from(self, rhs):
        self._manager, self._rlist = rhs._manager, rhs._rlist
        self._code, self._isz, self._kind, self._offset = rhs._code, rhs._isz, rhs._kind, rhs._offset
        self._data_off = rhs._data_off
        self._ofs, self._size, self._valid = rhs._ofs, rhs._size, False
        if rhs._c is not None:
            h = _p()
            _check(_lib.mba_window_cursor_clone(rhs._c, ctypes.byref(h)))
            self._c = h
            if rhs._valid:
                ctypes.memmove(self._vwp, rhs._vwp, ctypes.sizeof(_View))
                self._valid = True

    def __copy__(self):
        cpy = type(self)()
        cpy._copy_from(self)
        return cpy

    def assign(self, rhs):
        """Makes this cursor a copy of ``rhs`` (same file, same window pinned)."""
        self._destroy()
        self._copy_from(rhs)

    def use_region(self, offset=0, size=0, flags=0):
        """Pins the window holding ``offset`` and points at up to ``size`` bytes (elements, for a
        typed cursor) from it (0: as many as the window holds). Returns self; query
        ``is_valid()``: False when ``offset`` is at or past the end of the file. ``flags`` is
        accepted for compatibility and ignored."""
        if offset < 0:
            self.unuse_region()
            return self
        if self._warr is not None:
            self._detach()  # first: it may hand the native cursor over to the live buffers
        c = self._c or self._native()
        status = _lib.mba_window_pin(c, offset, size if size > 0 else 0, self._vwp)
        if status == 0:
            self._valid = True
            self._ofs = offset
            self._size = self._vw.count
        else:
            self._valid = False
            if status == _OUT_OF_BOUNDS:
                _lib.mba_window_unpin(c)
            else:
                raise _error(status, "use_region")
        return self

    def unuse_region(self):
        """Lets go of the window (it stays mapped until the manager needs the room)."""
        if self._warr is not None:
            self._detach()
        if self._valid:
            self._valid = False
            if self._c is not None:
                _lib.mba_window_unpin(self._c)

    def _borrow(self, address, nbytes):
        """A read-only memoryview of ``nbytes`` at ``address`` in the pinned window, pinning
        that window (through a clone of this cursor) as long as the memoryview lives."""
        h = _p()
        _check(_lib.mba_window_cursor_clone(self._c, ctypes.byref(h)))
        arr = (ctypes.c_ubyte * nbytes).from_address(address) if nbytes else (ctypes.c_ubyte * 0)()
        arr._mba_borrow = _Borrow(h, self._manager)
        return memoryview(arr).cast("B").toreadonly()

    def _detach(self):
        """Before the cursor lets go of its window: buffers of it that are still alive get a pin
        of their own (a clone of the cursor, freed with the last of them)."""
        ref, self._warr = self._warr, None
        arr = ref() if ref is not None else None
        if arr is not None and self._valid and self._c is not None and self._vw.window_id == self._warr_id:
            h = _p()
            if _lib.mba_window_cursor_clone(self._c, ctypes.byref(h)) != 0:
                # The manager was closed (its cursors cannot be cloned): the buffers take the
                # cursor's own native cursor, and its pin, with them. The cursor has no window
                # now and reopens on its next use (which fails: the manager is closed).
                h, self._c, self._valid = self._c, None, False
            arr._mba_borrow = _Borrow(h, self._manager)

    def _window_view(self):
        """A read-only memoryview of the whole pinned window, and the address of its first byte."""
        vw = self._vw
        start = vw.data - (self._data_off + self._ofs * self._isz - vw.window_offset)
        arr = self._warr() if self._warr is not None and self._warr_id == vw.window_id else None
        if arr is None or len(arr) < vw.window_valid:
            if self._warr is not None:
                self._detach()
                if not self._valid:
                    raise ValueError("the cursor has no region in use (call use_region first)")
            arr = (ctypes.c_ubyte * vw.window_valid).from_address(start)
            self._warr = weakref.ref(arr)
            self._warr_id = vw.window_id
        return memoryview(arr).cast("B").toreadonly(), start

    def buffer(self):
        """A read-only memoryview of the bytes the cursor points at. It pins the window while it
        lives (the manager counts it and never unmaps under it); release it or drop it to let go.
        Only while ``is_valid()``."""
        if not self._valid:
            raise ValueError("the cursor has no region in use (call use_region first)")
        whole, start = self._window_view()
        off = self._vw.data - start
        return whole[off:off + self._size * self._isz]

    def map(self):
        """A read-only memoryview of the whole pinned window, counted like ``buffer()`` (smmap
        returns its mmap object)."""
        if not self._valid:
            raise ValueError("the cursor has no region in use (call use_region first)")
        return self._window_view()[0]

    def is_valid(self):
        """Whether a window is pinned (``use_region`` succeeded and was not undone)."""
        return self._valid

    def is_associated(self):
        """Whether the cursor knows its file."""
        return self._rlist is not None

    def ofs_begin(self):
        """Offset of the first byte (element) the cursor points at."""
        return self._ofs

    def ofs_end(self):
        """One past the last byte (element) the cursor points at."""
        return self._ofs + self._size

    def size(self):
        """Bytes (elements) the cursor points at."""
        return self._size

    def region(self):
        """The pinned window, as a region (``ofs_begin``, ``size``, ``client_count``...), or None."""
        if not self._valid:
            return None
        vw = self._vw
        return _WindowRegion(self._manager, vw.window_id, vw.window_offset, vw.window_valid, self)

    def includes_ofs(self, ofs):
        """Whether ``ofs`` lies in what the cursor points at."""
        return self._ofs <= ofs < self._ofs + self._size

    def file_size(self):
        """The file's size in bytes, re-read now (growth is seen)."""
        c = self._native()
        _check(_lib.mba_window_refresh(c, None))
        info = _Info()
        _check(_lib.mba_window_info(c, ctypes.byref(info)))
        return info.file_size

    def path_or_fd(self):
        return self._rlist.path_or_fd()

    def path(self):
        """The path of the file; ValueError for a cursor made from a descriptor."""
        if isinstance(self._rlist.path_or_fd(), int):
            raise ValueError("Path queried although mapping was applied to a file descriptor")
        return self._rlist.path_or_fd()

    def fd(self):
        """The descriptor the cursor was made from; ValueError for one made from a path."""
        if isinstance(self._rlist.path_or_fd(), str):
            raise ValueError("File descriptor queried although mapping was generated from path")
        return self._rlist.path_or_fd()

    # -- typed access (mba's additions) --------------------------------------------------------

    def info(self):
        """kind, dtype (numpy type string), itemsize, shape, len, data_offset, file_size,
        byteswapped and mapped_reads of the file, as a dict."""
        info = _Info()
        _check(_lib.mba_window_info(self._native(), ctypes.byref(info)))
        return {"kind": _KIND_NAMES[info.kind], "dtype": _typestr(info.dtype), "itemsize": info.itemsize,
                "shape": tuple(info.shape[:max(info.ndim, 1)]), "len": info.len, "data_offset": info.data_offset,
                "file_size": info.file_size, "byteswapped": bool(info.byteswapped),
                "mapped_reads": bool(info.mapped_reads)}

    @property
    def dtype(self):
        """The elements' numpy dtype (a type string such as '<f8' without numpy)."""
        self._native()
        ts = _typestr(self._code or 2)
        np = _np()
        return np.dtype(ts) if np is not None else ts

    @property
    def itemsize(self):
        self._native()
        return self._isz

    @property
    def shape(self):
        return self.info()["shape"]

    def __len__(self):
        """Elements visible now (re-read from the file)."""
        n = _u64()
        _check(_lib.mba_window_refresh(self._native(), ctypes.byref(n)))
        return n.value

    def read(self, start=0, count=None):
        """A copy of elements ``[start, start + count)`` (``count`` None: to the end), across
        windows: bytes for a byte cursor (made without a dtype), else a numpy array (bytes
        without numpy). In this machine's byte order. Never SIGBUS: see the module docs."""
        c = self._native()
        # Exact ints: the buffer is sized by count * isz below and the library fills what count
        # says, so neither may come from an int subclass's own arithmetic or comparisons.
        start = operator.index(start)
        count = max(0, len(self) - start) if count is None else operator.index(count)
        if start < 0 or count < 0:
            raise ValueError("start and count must be non-negative")
        isz = self._isz
        if self._code == 0 or _np() is None:
            buf = ctypes.create_string_buffer(count * isz)
            status = _lib.mba_window_read(c, start, count, buf)
            if status != 0:
                raise _error(status, "read")
            return buf.raw
        np = _np()
        out = np.empty(count, dtype=_typestr(self._code))
        status = _lib.mba_window_read(c, start, count, out.ctypes.data)
        if status != 0:
            raise _error(status, "read")
        return out

    def view(self, start=0, count=0):
        """A zero-copy, read-only numpy view (a memoryview without numpy) of up to ``count``
        elements from ``start`` (0: as many as the window holds), in the file's byte order. It
        pins its window while it lives, like ``buffer()``. May hold fewer elements than asked:
        check its length."""
        if self._warr is not None:
            self._detach()  # first: it may hand the native cursor over to the live buffers
        c = self._native()
        vw = _View()
        status = _lib.mba_window_pin(c, start, count, ctypes.byref(vw))
        if status != 0:
            raise _error(status, "view")
        self._valid = True
        self._ofs, self._size = start, vw.count
        ctypes.memmove(self._vwp, ctypes.byref(vw), ctypes.sizeof(_View))
        mv = self._borrow(vw.data, vw.count * self._isz)
        np = _np()
        if np is None:
            return mv
        info = self.info()
        return np.frombuffer(mv, dtype=np.dtype(_typestr(self._code)).newbyteorder(
            "S" if info["byteswapped"] else "="))


# ---- buffer --------------------------------------------------------------------------------

class SlidingWindowMapBuffer:
    """A file (from ``offset``, ``size`` bytes) indexed and sliced like one bytes object, through
    a cursor, whatever the windows. Indexing gives ints, slicing gives bytes."""

    __slots__ = ("_c", "_size")

    def __init__(self, cursor=None, offset=0, size=sys.maxsize, flags=0):
        self._c = cursor
        self._size = 0
        if cursor is not None and not self.begin_access(cursor, offset, size, flags):
            raise ValueError("Failed to allocate the buffer - probably the given offset is out of bounds")

    def __del__(self):
        self.end_access()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.end_access()

    def __len__(self):
        return self._size

    def __getitem__(self, i):
        c = self._c
        if isinstance(i, slice):
            start, stop, step = i.indices(self._size)
            if step != 1:
                return bytes(self[start:stop])[::step] if stop > start else b""
            if stop <= start:
                return b""
            return c.read(c._ofs + start, stop - start)
        i = operator.index(i)  # an exact int: an int subclass's comparisons may lie
        if i < 0:
            i += self._size
        if not 0 <= i < self._size:
            raise IndexError("buffer index out of range")
        return c.read(c._ofs + i, 1)[0]

    def begin_access(self, cursor=None, offset=0, size=sys.maxsize, flags=0):
        """(Re)starts access through ``cursor`` (default: the current one) at ``offset`` for up to
        ``size`` bytes. Returns whether the cursor could pin a window there."""
        if cursor is not None:
            self._c = cursor
        c = self._c
        if c is None or not c.is_associated():
            return False
        ok = c.use_region(offset, 1).is_valid()
        if ok:
            self._size = max(0, min(size, c.file_size() - offset))
        return ok

    def end_access(self):
        """Lets go of the cursor's window. Allowed at any time, any number of times."""
        self._size = 0
        c = getattr(self, "_c", None)
        if c is not None:
            c.unuse_region()

    def cursor(self):
        return self._c
