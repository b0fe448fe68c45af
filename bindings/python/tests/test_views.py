"""The buffer protocol (Python 3.12+), bytes() everywhere, and zero-copy views that a hostile
peer cannot make fault (issue 9, issue 12)."""

import array
import gc
import io
import os
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

import mba

PYTHONPATH = os.path.dirname(mba.__path__[0])
# mba.array has the buffer protocol through mba/_speedups' BufferBase (Python 3.11+), else
# through __buffer__ (3.12+); on 3.11 without _speedups it has none.
buffer_protocol = pytest.mark.skipif(mba.BUFFER_PROTOCOL is None, reason="no buffer protocol here")
c_buffer = pytest.mark.skipif(mba.BUFFER_PROTOCOL != "C", reason="mba/_speedups' BufferBase is not in use")


@pytest.mark.parametrize("tc", ["b", "H", "i", "q", "d", "f"])
def test_bytes_is_the_elements_bytes(tc):
    a = mba.array(tc, [1, 2, 3])
    assert bytes(a) == array.array(tc, [1, 2, 3]).tobytes() == a.tobytes()
    assert bytes(mba.array(tc)) == b""


@buffer_protocol
def test_the_buffer_protocol_is_zero_copy():
    a = mba.array("i", [1, 2, 3, 4])
    m = memoryview(a)
    assert m.format == "i" and m.itemsize == 4 and m.tolist() == [1, 2, 3, 4] and not m.readonly
    m[0] = 10
    assert a[0] == 10, "writes through the view reach the array"
    v = np.asarray(a)
    assert v.dtype == np.int32 and v.tolist() == [10, 2, 3, 4]
    v[1] = 20
    assert a[1] == 20
    struct.pack_into("i", a, 8, 30)
    assert a[2] == 30
    f = io.BytesIO()
    assert f.write(a) == 16 and f.getvalue() == a.tobytes()
    assert bytes(a) == a.tobytes()
    with pytest.raises(BufferError):
        a.append(5)  # array.array's rule: no resize while a buffer is exported
    with pytest.raises(BufferError):
        a.close()
    assert a.tolist() == [10, 20, 30, 4]
    m.release()
    del v
    gc.collect()
    a.append(5)
    a.close()


@buffer_protocol
def test_read_only_arrays_export_read_only_buffers(uri):
    mba.array("B", [1, 2], uri=uri)
    ro = mba.array.attach(uri, readonly=True)
    m = memoryview(ro)
    assert m.readonly and m.tolist() == [1, 2]
    with pytest.raises(TypeError):
        m[0] = 3
    with pytest.raises((BufferError, TypeError)):
        struct.pack_into("B", ro, 0, 1)
    m.release()


@pytest.mark.skipif(mba.BUFFER_PROTOCOL is not None, reason="only without the buffer protocol")
def test_without_the_protocol_the_error_says_so():
    a = mba.array("i", [1, 2])
    assert bytes(a) == array.array("i", [1, 2]).tobytes()
    with pytest.raises(TypeError, match="bytes-like"):
        memoryview(a)
    b = mba.array("i")
    b.frombytes(a)  # mba arrays are taken by frombytes without the protocol
    assert b == a
    m = a.memoryview()  # the explicit zero-copy view works on every version
    assert m.tolist() == [1, 2]


def test_the_buffer_protocol_is_there_when_it_can_be():
    # Built, mba/_speedups gives it from 3.11; without it (MBA_NO_SPEEDUPS=1) 3.12 still has
    # __buffer__. A test run must not quietly lose it.
    if os.environ.get("MBA_NO_SPEEDUPS") or mba._fast_append is None:
        assert mba.BUFFER_PROTOCOL == ("__buffer__" if sys.version_info >= (3, 12) else None)
    else:
        assert mba.BUFFER_PROTOCOL == "C"


@buffer_protocol
@pytest.mark.parametrize("tc", mba.typecodes)
def test_every_typecode_exports_what_array_array_exports(tc):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 'u' on 3.13
        std = array.array(tc, "abc" if tc in "uw" else [1, 2, 3])
        a = mba.array(tc, std)
    m, ms = memoryview(a), memoryview(std)
    if mba.BUFFER_PROTOCOL == "C":  # __buffer__ exports 'u'/'w' as 'I' (memoryview cannot make them)
        assert m.format == ms.format
    assert (m.itemsize, m.nbytes, m.shape, m.strides, m.tobytes()) == (
        ms.itemsize, ms.nbytes, ms.shape, ms.strides, ms.tobytes())
    m.release()
    a.append(std[0])  # the export is over


@c_buffer
def test_a_refused_export_is_not_counted(uri):
    mba.array("i", [1, 2], uri=uri)
    ro = mba.array.attach(uri, readonly=True)
    for _ in range(3):
        with pytest.raises((BufferError, TypeError)):  # struct says TypeError
            struct.pack_into("i", ro, 0, 5)  # a writable buffer of a read-only array
    ro.close()  # nothing left exported
    a = mba.array("i", [1, 2, 3])
    a.close()
    with pytest.raises(ValueError, match="closed"):
        memoryview(a)


@c_buffer
def test_an_empty_array_exports_an_empty_buffer():
    a = mba.array("d")
    m = memoryview(a)
    assert m.nbytes == 0 and m.shape == (0,) and m.format == "d"
    with pytest.raises(BufferError):
        a.append(1.0)
    m.release()
    a.append(1.0)
    assert np.asarray(a).tolist() == [1.0]


@buffer_protocol
def test_the_buffer_survives_the_array_object_and_the_export_holds_the_mapping(uri):
    a = mba.array("q", range(1000), uri=uri)
    m = memoryview(a)
    del a
    gc.collect()
    assert m[999] == 999 and len(m) == 1000
    b = mba.array.attach(uri)
    b.append(1000)  # another handle grows the shared array: the export covers what it covered
    assert len(m) == 1000
    m.release()


def test_a_numpy_view_alone_makes_close_refuse_and_is_read_only_on_a_read_only_handle(uri):
    # numpy() views are counted for close() (with mba/_speedups, as exports of the mapping's
    # Span; else through their keepers), with no memoryview or other view beside them.
    a = mba.array("I", range(10), uri=uri)
    v = a.numpy()
    with pytest.raises(BufferError):
        a.close()
    del v
    gc.collect()
    a.close()
    ro = mba.array.attach(uri, readonly=True)
    w = ro.numpy()
    assert not w.flags.writeable and w.tolist() == list(range(10))
    with pytest.raises(ValueError):
        w[0] = 1
    with pytest.raises(BufferError):
        ro.close()
    del w
    gc.collect()
    ro.close()


def test_views_of_the_methods_do_not_block_appends(uri):
    a = mba.array("Q", range(10), uri=uri)
    v, m = a.numpy(), a.memoryview()
    a.extend(range(10, 100_000))
    assert v.ctypes.data == a.numpy().ctypes.data and len(v) == 10 and len(a.numpy()) == 100_000
    with pytest.raises(BufferError):
        a.close()
    del v, m
    gc.collect()
    a.close()


# ---- a peer scribbling the header --------------------------------------------------------

SCRIBBLER = """
import mmap, os, random, struct, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
fd = os.open(path, os.O_RDWR)
m = mmap.mmap(fd, 4096)
real = struct.unpack_from("<Q", m, 64)[0]
rng = random.Random(1)
end = time.monotonic() + seconds
writes = 0
while time.monotonic() < end:
    for value in (2**64 - 1, 2**63, 1 << 40, real * 1000, rng.getrandbits(64), rng.randrange(real + 1),
                  real + 4096, 0, real):
        struct.pack_into("<Q", m, 64, value)
        writes += 1
struct.pack_into("<Q", m, 64, real)
print(writes)
"""

READER = """
import sys, time, mba
uri, seconds = sys.argv[1], float(sys.argv[2])
a = mba.array.attach(uri, readonly=True)
end = time.monotonic() + seconds
loops = total = 0
while time.monotonic() < end:
    v = a.numpy()
    total += int(v.sum())                  # every element of the numpy view, dereferenced
    m = a.memoryview()
    total += sum(m[::97]) + (m[-1] if len(m) else 0)   # and of the memoryview
    del v, m
    n = len(a)
    try:  # the length may shrink (the peer writes 0) between len() and the reads
        total += a[n - 1] + a[-1] + a[n // 2]
    except IndexError:
        pass
    for x in a[:: max(n // 50, 1)]:
        total += x
    for i, x in enumerate(a):
        if i > 2000:
            break
    loops += 1
print(loops, total >= 0)
"""


def test_a_peer_scribbling_the_length_never_makes_a_view_fault(uri):
    # The header's length is a peer's to write. Views and reads rest on mba_len(), which the
    # library clamps to what is mapped and backed: whatever the peer writes, the reader gets
    # values, never a signal. Both processes run for a second and a half (each reader loop takes
    # a few milliseconds, and the peer writes a new length about every microsecond).
    n = 300_000
    mba.array("Q", range(n), uri=uri)
    path = "/dev/shm/" + uri[len("shm://"):]
    env = dict(os.environ, PYTHONPATH=PYTHONPATH)
    seconds = "1.5"
    scribbler = subprocess.Popen([sys.executable, "-c", SCRIBBLER, path, seconds], stdout=subprocess.PIPE,
                                 text=True)
    time.sleep(0.2)
    reader = subprocess.run([sys.executable, "-c", READER, uri, seconds], env=env, capture_output=True, text=True)
    out, _ = scribbler.communicate()
    assert scribbler.returncode == 0 and int(out) > 1000, "the peer wrote the length many times"
    assert reader.returncode == 0, f"reader died (signal {-reader.returncode}): {reader.stderr}"
    loops, ok = reader.stdout.split()
    assert int(loops) > 0 and ok == "True"
