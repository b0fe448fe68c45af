"""mba.npy: .npy files written by mba that numpy reads (every dtype, 1-3 dimensions), rows
appended and seen by numpy after each sync, and read while they grow by mba.smmap."""

import os

import pytest
from conftest import isolated, need

np = need("numpy")

import mba  # noqa: E402
from mba import npy, smmap  # noqa: E402

DTYPES = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8", "c8", "c16", "?"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trailing", [(), (3,), (2, 5)])
def test_numpy_loads_every_dtype_and_shape_mba_wrote(tmp_path, dtype, trailing):
    path = str(tmp_path / "a.npy")
    rows = (np.arange(7 * int(np.prod(trailing))) % 120).astype(dtype).reshape((7,) + trailing)
    with npy.NpyWriter(path, dtype, trailing) as w:
        w.append(rows[:3])
        w.sync()
        assert np.array_equal(np.load(path), rows[:3])
        w.append(rows[3:])
    # close() synced
    assert np.array_equal(np.load(path), rows)
    m = np.load(path, mmap_mode="r")
    assert m.dtype == np.dtype(dtype) and m.shape == rows.shape and np.array_equal(m, rows)


def test_rows_appended_are_seen_by_numpy_after_every_sync_and_by_a_cursor_while_growing(tmp_path):
    path = str(tmp_path / "g.npy")
    w = npy.NpyWriter(path, "f8", (4,))
    with smmap.SlidingWindowMapManager(window_size=4096, max_memory_size=4 * 4096) as man:
        c = man.make_cursor(path, kind="npy")
        assert len(c) == 0
        for i in range(200):
            w.append(np.full((1, 4), float(i)))
            assert w.rows == (i + 1, i)
            w.sync()
            assert np.load(path, mmap_mode="r").shape == (i + 1, 4)
            assert len(c) == 4 * (i + 1) and c.read(4 * i, 4).tolist() == [float(i)] * 4
        c.close()
    w.append(np.zeros((5, 4)))  # never synced
    del w  # closing syncs
    assert np.load(path).shape == (205, 4)


def test_reopen_cuts_unsynced_rows_and_a_file_without_room_says_so(tmp_path):
    path = str(tmp_path / "r.npy")
    w = npy.NpyWriter(path, "u4", ())
    w.append(np.arange(10, dtype="u4"))
    w.sync()
    w.append(np.arange(5, dtype="u4"))
    w._h, h = None, w._h  # drop the writer without its final sync, as a crash would
    w2 = npy.NpyWriter.open(path)
    assert w2.rows == (10, 10)
    assert os.path.getsize(path) == np.load(path, mmap_mode="r").offset + 40
    w2.append(np.arange(3, dtype="u4"))
    w2.close()
    assert np.load(path).tolist() == list(range(10)) + [0, 1, 2]
    with pytest.raises(mba.Error):
        npy.NpyWriter(path, "u4")  # exists
    with pytest.raises(ValueError):
        npy.NpyWriter.open(path).append(np.zeros(3, dtype="u1"))  # not whole rows

    # numpy's own header has little room: appending works until the shape no longer fits.
    np.save(tmp_path / "n.npy", np.arange(3, dtype="u8"))
    w = npy.NpyWriter.open(str(tmp_path / "n.npy"))
    w.append(np.arange(10**6, dtype="u8"))
    try:
        w.sync()
        assert np.load(tmp_path / "n.npy").shape == (10**6 + 3,)
    except mba.Error as e:
        assert "does not fit" in str(e)
    np.save(tmp_path / "be.npy", np.arange(3, dtype=">u4"))
    with pytest.raises(mba.Error, match="byte order"):
        npy.NpyWriter.open(str(tmp_path / "be.npy"))


def test_close_in_another_thread_waits_for_an_append(tmp_path):
    # close() freed the writer (mba_npy_close) while an append in another thread had taken
    # its handle: the append then ran on freed memory (here "Bad file descriptor"; a reused
    # descriptor would take the rows into another file). Now the calls take turns on a lock.
    # The hook stands in for the other thread at the moment the append holds the handle: it
    # starts close() in a thread and goes on when that close() has ended or is waiting for the
    # lock (the lock is a spy that says so): no timing.
    p = str(tmp_path / "c.npy")
    out = isolated("""
import sys, threading, numpy as np
from mba import npy
moved = threading.Event()  # the close() ended, or waits for the lock
class Spy:
    def __init__(self):
        self.inner = threading.Lock()
    def __enter__(self):
        if not self.inner.acquire(blocking=False):
            moved.set()
            self.inner.acquire()
    def __exit__(self, *exc):
        self.inner.release()
class Hooked(npy.NpyWriter):
    closer = None
    def _handle(self):
        h = super()._handle()
        if self.closer is None:
            self.closer = threading.Thread(target=lambda: (self.close(), moved.set()))
            self.closer.start()
            moved.wait()
        return h
w = Hooked(sys.argv[1], "f8", trailing=(3,))
w._lock = Spy()
try:
    w.append(np.arange(12.0).reshape(4, 3))
    print("appended")
except Exception as e:
    print(type(e).__name__, e)
w.closer.join()
print(np.load(sys.argv[1]).sum(), w._h is None)
""", p)
    assert out == "appended\n66.0 True\n", out
