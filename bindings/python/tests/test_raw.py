"""Raw files and .npy files as arrays: mba.array(typecode, mmap=m) as mmap_backed_array's
mmaparray, mba.open_raw and mba.open_npy against numpy, and the raw file a C program wrote,
read by Python and by a C program."""

import array as stdarray
import mmap
import os
import subprocess

import pytest

import mba
from conftest import need

np = need("numpy")


def _xorshift(n, seed=0x9E3779B97F4A7C15):
    out, s, mask = [], seed, (1 << 64) - 1
    for _ in range(n):
        s ^= s >> 12
        s = (s ^ (s << 25)) & mask
        s ^= s >> 27
        out.append((s * 0x2545F4914F6CDD1D) & mask)
    return out


def test_python_and_c_read_the_raw_file_a_c_program_wrote(tmp_path, c_program):
    prog = c_program("tests/c/raw.c")
    path = str(tmp_path / "random.u64")
    n = 20000
    assert subprocess.run([prog, "write", path, str(n)], check=True, capture_output=True).stdout == b"raw ok wrote 20000\n"
    want = _xorshift(n)
    a = mba.open_raw(path, "u8")
    assert a.dtype == np.uint64 and a.shape == (n,) and not a.flags.writeable
    assert a.tolist() == want
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        b = mba.array("Q", mmap=m)
        assert len(b) == n and b.tolist() == want
        with pytest.raises(mba.Error):
            b.append(1)
    del a, b
    out = subprocess.run([prog, "read", path, str(n)], check=True, capture_output=True).stdout
    assert out == b"raw ok read 20000\n"


def test_array_over_a_writable_mmap_shares_writes_and_has_a_fixed_length(tmp_path):
    path = str(tmp_path / "i.bin")
    stdarray.array("i", range(1000)).tofile(open(path, "wb"))
    with open(path, "r+b") as f:
        m = mmap.mmap(f.fileno(), 0)
        a = mba.array("i", mmap=m)
        assert len(a) == 1000 and a[999] == 999 and a[-1] == 999
        a[5] = -7
        assert int.from_bytes(m[20:24], "little", signed=True) == -7
        m[24:28] = (1234).to_bytes(4, "little")
        assert a[6] == 1234
        for change in (lambda: a.append(1), lambda: a.extend([1]), lambda: a.pop(), lambda: a.__delitem__(0)):
            with pytest.raises(mba.Error):
                change()
        assert len(a) == 1000
        with pytest.raises(TypeError):
            mba.array("i", [1, 2], mmap=m)
        # 3998 bytes are not a whole number of 4-byte elements.
        m2 = mmap.mmap(f.fileno(), 3998)
        with pytest.raises(mba.Error, match="whole number"):
            mba.array("i", mmap=m2)
        m2.close()
        del a
        m.close()
    with pytest.raises(ValueError):
        mba.array("i", mmap=mmap.mmap(-1, 4096))


def test_open_raw_offset_length_shape_round_down(tmp_path):
    path = str(tmp_path / "f.bin")
    data = np.random.default_rng(5).standard_normal(3000)
    data.tofile(path)
    a = mba.open_raw(path, np.float64, offset=8 * 1001, length=8 * 600, shape=(3,))
    assert a.shape == (200, 3) and np.array_equal(a, data[1001:1601].reshape(200, 3))
    with pytest.raises(mba.Error, match="whole number"):
        mba.open_raw(path, "f8", length=8 * 601, shape=(3,))
    b = mba.open_raw(path, "f8", length=8 * 601, shape=(3,), round_down=True)
    assert b.shape == (200, 3)
    with pytest.raises(mba.Error):
        mba.open_raw(path, "f8", offset=4)  # not aligned to the element
    w = mba.open_raw(path, "f8", readonly=False)
    w[10] = 42.0
    w.base.msync()
    assert np.fromfile(path)[10] == 42.0


@pytest.mark.parametrize("dtype", ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8", "c8", "c16", "?"])
@pytest.mark.parametrize("shape", [(17,), (4, 5), (3, 2, 4)])
def test_open_npy_round_trips_with_numpy(tmp_path, dtype, shape):
    path = str(tmp_path / "a.npy")
    x = (np.arange(int(np.prod(shape))) % 100 + 1).astype(dtype).reshape(shape)
    np.save(path, x)
    a = mba.open_npy(path)
    assert a.dtype == x.dtype and a.shape == shape and np.array_equal(a, x)
    w = mba.open_npy(path, readonly=False)
    w.flat[0] = x.flat[1]
    w.base.msync()
    assert np.load(path).flat[0] == x.flat[1]


def test_big_endian_npy_reads_right_read_only_and_fortran_is_refused(tmp_path):
    path = str(tmp_path / "be.npy")
    x = np.arange(500, dtype=">i4")
    np.save(path, x)
    a = mba.open_npy(path)
    assert a.dtype == np.dtype(">i4") and a.tolist() == list(range(500)) and not a.flags.writeable
    with pytest.raises(mba.Error, match="byte order"):
        mba.open_npy(path, readonly=False)
    f = str(tmp_path / "f.npy")
    np.save(f, np.asfortranarray(np.ones((3, 4))))
    with pytest.raises(mba.Error, match="Fortran"):
        mba.open_npy(f)
    o = str(tmp_path / "o.npy")
    np.save(o, np.array([1, "x"], dtype=object), allow_pickle=True)
    with pytest.raises(mba.Error, match="object"):
        mba.open_npy(o)


def test_array_over_an_mmap_made_with_an_offset_reads_from_that_offset(tmp_path):
    path = str(tmp_path / "q.bin")
    gran = mmap.ALLOCATIONGRANULARITY
    stdarray.array("q", range(3 * gran // 8)).tofile(open(path, "wb"))
    with open(path, "rb") as f, mmap.mmap(f.fileno(), gran, offset=gran, access=mmap.ACCESS_READ) as m:
        a = mba.array("q", mmap=m)
        assert len(a) == gran // 8 and a[0] == gran // 8 and a[-1] == 2 * gran // 8 - 1
        with pytest.raises(mba.Error, match="read-only"):
            a[0] = 1  # read-only, as the map
        del a
