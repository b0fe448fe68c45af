"""Zero-copy views, other processes, other languages, and the SharedArray-style functions."""

import multiprocessing
import os
import subprocess

import numpy as np
import pytest

import mba


def _child_appends(uri, start, count):
    a = mba.array.attach(uri)
    a.extend(np.arange(start, start + count, dtype=np.uint64))
    a.close()


def test_numpy_views_see_appends_made_by_another_process(uri):
    a = mba.array("Q", range(10), uri=uri)
    first = a.numpy()
    assert first.tolist() == list(range(10))
    p = multiprocessing.get_context("spawn").Process(target=_child_appends, args=(uri, 10, 100_000))
    p.start()
    p.join()
    assert p.exitcode == 0
    later = a.numpy()
    assert len(later) == 100_010 and later[-1] == 100_009
    assert later.ctypes.data == first.ctypes.data, "the data never moved: the views share it"
    later[0] = 42
    assert first[0] == 42 and mba.array.attach(uri)[0] == 42, "writes go to the shared array"


def test_memoryview_and_readonly_views(uri):
    a = mba.array("h", [1, 2, 3], uri=uri)
    m = a.memoryview()
    assert m.format == "h" and m.tolist() == [1, 2, 3] and not m.readonly
    m[0] = 7
    assert a[0] == 7
    ro = mba.array.attach(uri, readonly=True)
    assert ro.memoryview().readonly
    v = ro.numpy()
    assert not v.flags.writeable
    with pytest.raises(ValueError):
        v[0] = 1
    with pytest.raises(BufferError):
        ro.close()  # views still exist
    del v
    import gc

    gc.collect()
    ro.close()


def test_bulk_paths_take_numpy_and_array_buffers(uri):
    a = mba.array("f", uri=uri)
    a.extend(np.linspace(0, 1, 1000, dtype=np.float32))
    a.extend(np.arange(3, dtype=np.float64))  # another dtype: converted, not reinterpreted
    assert len(a) == 1003 and a[-1] == 2.0 and a[999] == 1.0
    assert a[1:4] == __import__("array").array("f", np.linspace(0, 1, 1000, dtype=np.float32)[1:4])


def test_python_reads_what_a_c_program_wrote(uri, c_program):
    worker = c_program("tests/c/worker.c")
    a = mba.array("Q", uri=uri, capacity=4)
    r = subprocess.run([worker, "append", uri, "3", "5000"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
    assert a.tolist() == [3 << 32 | i for i in range(5000)]


def test_a_c_program_reads_what_python_wrote(uri, c_program):
    reader = c_program("tests/c/plain_mmap.c")
    a = mba.array("I", range(100_000), uri=uri)
    path = "/dev/shm/" + uri[len("shm://"):]
    r = subprocess.run([reader, path], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == f"len=100000 dtype=6 sum={sum(range(100_000))}"
    assert len(a) == 100_000


def _child_attaches_numpy(uri, q):
    v = mba.attach(uri)
    q.put((v.shape, float(v[1, 0]), str(v.dtype)))


def test_sharedarray_style_functions(uri):
    x = mba.create(uri, (4, 5), dtype=np.float64)
    assert x.shape == (4, 5) and x.dtype == np.float64 and not x.any()
    x[1, 0] = 3.25
    q = multiprocessing.get_context("spawn").Queue()
    p = multiprocessing.get_context("spawn").Process(target=_child_attaches_numpy, args=(uri, q))
    p.start()
    got = q.get(timeout=60)
    p.join()
    assert got == ((4, 5), 3.25, "float64")
    assert any(d.name == uri[len("shm://"):].encode() for d in mba.list())
    mba.delete(uri)
    assert x[1, 0] == 3.25, "a deleted name leaves live views working"
    with pytest.raises(FileNotFoundError):
        mba.attach(uri)
    with pytest.raises(ValueError):
        mba.create(uri + "\0x", 3)
