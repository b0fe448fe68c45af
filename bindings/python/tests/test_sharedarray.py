"""SharedArray's API on mba (mba/_sharedarray.py): every example and statement of SharedArray's
documentation as a test, and the same script run against SharedArray itself and against mba
with the outputs compared line for line."""

import itertools
import os
import resource
import subprocess
import sys

import pytest
from conftest import need

np = need("numpy")

import mba  # noqa: E402
from mba import _sharedarray as sa  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
_n = itertools.count()


@pytest.fixture
def name():
    """A unique bare name (shm://), deleted afterwards."""
    n = f"mba-pytest-sa-{os.getpid()}-{next(_n)}"
    yield n
    try:
        os.remove(f"/dev/shm/{n}")
    except FileNotFoundError:
        pass


def test_documentation_example_line_by_line(name):
    # Create an array in shared memory.
    a = sa.create(f"shm://{name}", 10)
    # Attach it as a different array.
    b = sa.attach(f"shm://{name}")
    # See how they are actually sharing the same memory.
    a[0] = 42
    assert b[0] == 42.0
    # Destroying a does not affect b.
    del a
    assert b[0] == 42.0
    # See how "test" is still present in shared memory even though we destroyed the array a.
    listed = [d for d in sa.list() if d.name == name.encode()]
    assert [(d.name, d.dtype, d.dims) for d in listed] == [(name.encode(), np.float64, (10,))]
    # Now destroy the array "test" from memory.
    sa.delete(name)
    # The array b is still there.
    assert b[0] == 42.0
    assert not [d for d in sa.list() if d.name == name.encode()]


@pytest.mark.parametrize("shape, dtype", [(10, float), ((3, 4), np.int32), ((2, 3, 4), "u1"), ((5,), np.float16),
                                          ((2, 2), np.complex64), ((3,), np.complex128), ((6,), bool),
                                          ((1, 2, 1, 2, 1, 2, 1, 2), np.int8)])
def test_create_takes_numpy_zeros_shape_and_dtype_and_returns_zeros(name, shape, dtype):
    a = sa.create(name, shape, dtype=dtype)
    want = np.zeros(shape, dtype=dtype)
    assert (a.shape, a.dtype) == (want.shape, want.dtype)
    assert np.array_equal(a, want) and a.flags.writeable
    # Page-aligned, for SIMD libraries such as FFTW.
    assert a.ctypes.data % 4096 == 0
    # The content lives in shared memory and survives the numpy array.
    a.flat[-1] = 1
    del a
    b = sa.attach(name)
    assert (b.shape, b.dtype, b.flat[-1]) == (want.shape, want.dtype, 1)


def test_create_with_file_prefix_uses_a_file_and_shm_is_the_default(name, tmp_path):
    path = tmp_path / "data"
    a = sa.create(f"file://{path}", (2, 3))
    assert path.exists() and not os.path.exists(f"/dev/shm/{path.name}")
    a[1] = [1, 2, 3]
    assert sa.attach(f"file://{path}").tolist() == [[0, 0, 0], [1, 2, 3]]
    sa.delete(f"file://{path}")
    assert not path.exists()
    sa.create(name, 1)
    assert os.path.exists(f"/dev/shm/{name}")  # no prefix: shm://
    with pytest.raises(FileExistsError):
        sa.create(f"shm://{name}", 1)


def test_attach_from_another_interpreter_and_many_at_once(name):
    a = sa.create(name, (4,), dtype=np.int64)
    code = ("from mba import _sharedarray as sa\n"
            f"v = sa.attach({name!r})\n"
            "v[2] = 7\n"
            "print(v.tolist())\n")
    env = dict(os.environ, PYTHONPATH=PKG)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[0, 0, 7, 0]"
    assert a.tolist() == [0, 0, 7, 0]
    views = [sa.attach(name) for _ in range(5)]
    views[3][0] = -1
    assert all(v[0] == -1 for v in views) and a[0] == -1


def test_attach_read_only_by_ro_and_readonly(name):
    sa.create(name, 3)
    for ro in (sa.attach(name, ro=True), sa.attach(name, readonly=True), sa.attach(name, True)):
        assert not ro.flags.writeable
        with pytest.raises(ValueError):
            ro[0] = 1
    assert sa.attach(name, ro=False).flags.writeable


def test_attach_and_delete_of_a_missing_name_raise_file_not_found(name):
    with pytest.raises(FileNotFoundError):
        sa.attach(name)
    with pytest.raises(FileNotFoundError):
        sa.delete(name)


def test_after_delete_no_attach_but_existing_attachments_stay_valid(name):
    a = sa.create(name, 2)
    sa.delete(name)
    with pytest.raises(FileNotFoundError):
        sa.attach(name)
    a[1] = 3.5
    assert a.tolist() == [0.0, 3.5]


def test_list_gives_name_dtype_dims_and_more(name, tmp_path):
    a = sa.create(name, (2, 5), dtype=np.float32)
    (d,) = [d for d in sa.list() if d.name == name.encode()]
    assert d == (name.encode(), np.float32, (2, 5))
    assert repr(d) == f"ArrayDesc(name={name.encode()!r}, dtype=<class 'numpy.float32'>, dims=(2, 5))"
    assert (d.uri, d.status, d.len, d.creator_pid, d.creator_alive) == (f"shm://{name}", "ok", 10, os.getpid(), True)
    assert d.mode == 0o600 and d.bytes >= 4096 + 40 and d.owner and d.created > 0
    # A directory of file:// arrays; a file that is not an array is left out.
    sa.create(f"file://{tmp_path}/x", 3, dtype=np.uint8)
    (tmp_path / "notes").write_text("not an array")
    (e,) = sa.list(tmp_path)
    assert (e.name, e.dtype, e.dims) == (f"file://{tmp_path}/x".encode(), np.uint8, (3,))
    assert sa.attach(e.name).shape == (3,)
    del a


def test_constants_and_the_base_object(name, tmp_path):
    assert (sa.MS_SYNC, sa.MS_ASYNC, sa.MS_INVALIDATE) == (mba.MBA_SYNC, mba.MBA_ASYNC, 4)
    a = sa.create(f"file://{tmp_path}/f", (3,), dtype=np.int32)
    a[:] = [7, 8, 9]
    for flags in (sa.MS_SYNC, sa.MS_ASYNC, sa.MS_SYNC | sa.MS_INVALIDATE, sa.MS_INVALIDATE):
        assert a.base.msync(flags) is None
    # msync wrote the data back to the file: read it without mba.
    raw = (tmp_path / "f").read_bytes()
    assert np.frombuffer(raw[4096:4096 + 12], dtype=np.int32).tolist() == [7, 8, 9]
    assert a.base.mlock() is None and a.base.munlock() is None
    for advice in ("normal", "sequential", "random", "willneed", "dontneed", sa.ADVICE_NORMAL):
        a.base.madvise(advice)
    assert a.tolist() == [7, 8, 9], "dontneed keeps the data"
    with pytest.raises(ValueError):
        a.base.madvise("later")
    assert a.base.name == f"file://{tmp_path}/f"
    b = sa.create(name, 1)
    assert b.base.name == name and sa.attach(name).base.name == name
    sa.delete(b.base.name)


def test_mlock_beyond_rlimit_memlock_names_the_limit(name):
    sa.create(name, (1 << 20,), dtype=np.uint8)
    code = ("from mba import _sharedarray as sa\n"
            f"a = sa.attach({name!r}, ro=True)\n"
            "try:\n    a.base.mlock()\nexcept PermissionError as e:\n    print(e)\n")

    def limit():
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (65536, 65536))
        if os.geteuid() == 0:  # drop CAP_IPC_LOCK (14), which ignores the limit, from what exec gives
            import ctypes
            assert ctypes.CDLL(None, use_errno=True).prctl(24, 14, 0, 0, 0) == 0  # PR_CAPBSET_DROP

    env = dict(os.environ, PYTHONPATH=PKG)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, preexec_fn=limit)
    assert out.returncode == 0, out.stderr
    assert "exceeds RLIMIT_MEMLOCK (soft limit 65536 bytes" in out.stdout, out.stdout


def test_dtypes_mba_lacks_and_bad_shapes_are_refused(name):
    with pytest.raises(TypeError):
        sa.create(name, 3, dtype=object)
    with pytest.raises(TypeError):
        sa.create(name, 3, dtype=">f8")
    with pytest.raises(ValueError):
        sa.create(name, (2, 0))
    with pytest.raises(ValueError):
        sa.create(name, (1,) * 9)
    assert not os.path.exists(f"/dev/shm/{name}")


def _run_parity(module, prefix, tmp):
    env = dict(os.environ, PYTHONPATH=PKG)
    r = subprocess.run([sys.executable, os.path.join(HERE, "sharedarray_parity.py"), module, prefix, str(tmp)],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, f"{module}:\n{r.stdout}\n{r.stderr}"
    return r.stdout.splitlines()


def test_parity_script_against_mba(tmp_path):
    out = _run_parity("mba._sharedarray", f"mba-pytest-par-{os.getpid()}-", tmp_path)
    assert out[0] == "example b[0] 42.0" and out[-1] == "left behind []"
    assert len(out) == 64


def test_parity_with_sharedarray_itself(tmp_path):
    need("SharedArray")
    theirs = _run_parity("SharedArray", f"sa-pytest-par-{os.getpid()}-", tmp_path)
    ours = _run_parity("mba._sharedarray", f"mba-pytest-par-{os.getpid()}-", tmp_path)
    assert len(theirs) == 64
    assert ours == theirs


def test_import_mba_as_sa():
    if not hasattr(mba, "MS_SYNC"):
        pytest.skip("mba/__init__.py does not re-export mba._sharedarray yet")
    for n in ("create", "attach", "delete", "list", "MS_ASYNC", "MS_SYNC", "MS_INVALIDATE"):
        assert getattr(mba, n) is getattr(sa, n), n
