"""mba.smmap: smmap's own suite run against it, and what it adds: hard budgets, counted borrows,
deterministic release, real LRU, threads, growth, typed access, no SIGBUS on reads."""

import gc
import json
import os
import random
import subprocess
import sys
import threading

import pytest

import mba
from mba import smmap
from conftest import isolated, need

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = os.sysconf("SC_PAGE_SIZE")


def real_usage(directory):
    """Bytes this process really maps of files under `directory`, and descriptors it holds on them."""
    d = str(directory)
    mapped = 0
    with open("/proc/self/maps") as f:
        for line in f:
            if d in line:
                a, b = line.split()[0].split("-")
                mapped += int(b, 16) - int(a, 16)
    fds = 0
    for e in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{e}").startswith(d):
                fds += 1
        except OSError:
            pass
    return mapped, fds


def random_file(path, size, seed):
    data = random.Random(seed).randbytes(size)
    with open(path, "wb") as f:
        f.write(data)
    return data


def test_smmaps_own_suite_passes_against_mba_smmap():
    """The suite inside the installed smmap package, with `import smmap` redirected to mba.smmap:
    every test passes, except where a documented deliberate difference says otherwise."""
    need("smmap")  # its test suite ships inside the package
    out = subprocess.run([sys.executable, os.path.join(HERE, "smmap_suite.py"), "--json"], capture_output=True,
                         text=True, env=dict(os.environ), timeout=600)
    assert out.returncode in (0, 1), out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    bad = [r for r in result["tests"] if r["verdict"] not in ("pass", "deliberate difference")]
    assert not bad, json.dumps(bad, indent=1)
    assert result["ok"]
    passed = [r["test"] for r in result["tests"] if r["verdict"] == "pass"]
    assert len(passed) >= 9, passed
    differ = [r["test"] for r in result["tests"] if r["verdict"] == "deliberate difference"]
    assert differ == ["smmap.test.test_mman.TestMMan.test_memman_operation"], differ


def test_budgets_hold_after_every_call_over_four_times_the_budget(tmp_path):
    budget = 48 * PAGE
    files = [random_file(tmp_path / f"f{i}", budget * 2 // 3 + i * 1000, i) for i in range(6)]
    paths = [str(tmp_path / f"f{i}") for i in range(6)]
    rng = random.Random(7)
    with smmap.SlidingWindowMapManager(window_size=4 * PAGE, max_memory_size=budget, max_open_handles=3) as man:
        cursors = [man.make_cursor(p) for p in paths]
        for call in range(20_000):
            i = rng.randrange(6)
            c, data = cursors[i], files[i]
            ofs = rng.randrange(len(data))
            n = rng.randrange(1, 3 * PAGE)
            if call % 3 == 0:
                assert c.use_region(ofs, n).is_valid()
                assert c.buffer() == data[ofs:ofs + c.size()]
                assert c.includes_ofs(ofs) and not c.includes_ofs(ofs + c.size())
                c.unuse_region()  # six cursors could otherwise pin more windows than the three allowed
            else:
                assert c.read(ofs, min(n, len(data) - ofs)) == data[ofs:ofs + n]
            s = man.stats()
            assert s["mapped_bytes"] <= budget and s["windows"] <= 3 and s["open_files"] <= 3, (call, s)
            assert man.mapped_memory_size() <= man.max_mapped_memory_size()
            assert man.num_file_handles() <= man.max_file_handles()
            if call % 500 == 0:
                mapped, fds = real_usage(tmp_path)
                assert mapped <= budget and fds <= 3, (call, mapped, fds)
        s = man.stats()
        assert s["peak_mapped_bytes"] <= budget and s["peak_open_files"] <= 3 and s["peak_windows"] <= 3
        assert s["evictions"] > 100 and s["closes"] > 100, s
        for c in cursors:
            c.close()
    assert real_usage(tmp_path) == (0, 0), "leaving the with block released everything"


def test_buffers_are_counted_borrows(tmp_path):
    data = random_file(tmp_path / "b", 16 * PAGE, 1)
    man = smmap.SlidingWindowMapManager(window_size=PAGE, max_memory_size=2 * PAGE, max_open_handles=10)
    c = man.make_cursor(str(tmp_path / "b"))
    b0 = c.use_region(0, 10).buffer()
    b1 = c.use_region(PAGE, 10).buffer()
    assert man.num_borrows() == 2 and man.stats()["pinned_windows"] == 2
    # Both windows are borrowed: a third cannot be mapped in the budget, and the manager says so
    # instead of unmapping memory the views point into (smmap would over-allocate).
    with pytest.raises(mba.BusyError):
        c.use_region(5 * PAGE, 10)
    assert man.collect() == 0, "collect never unmaps a borrowed window"
    assert bytes(b0) == data[:10] and bytes(b1) == data[PAGE:PAGE + 10]
    with pytest.raises(BufferError):
        man.close()
    del b0
    assert man.num_borrows() == 1
    assert c.use_region(5 * PAGE, 10).buffer() == data[5 * PAGE:5 * PAGE + 10]
    b1.release()
    gc.collect()
    c.close()
    man.close()
    assert real_usage(tmp_path) == (0, 0)
    with pytest.raises(ValueError):
        man.make_cursor(str(tmp_path / "b"))


def test_lru_evicts_the_least_recently_used_unused_window(tmp_path):
    random_file(tmp_path / "l", 8 * PAGE, 2)
    man = smmap.SlidingWindowMapManager(window_size=PAGE, max_memory_size=3 * PAGE, max_open_handles=10)
    c = man.make_cursor(str(tmp_path / "l"))
    regions = {}
    for w in (0, 1, 2, 0):
        regions[w] = c.use_region(w * PAGE, 1).region()
    c.unuse_region()
    assert [r.client_count() for r in (regions[0], regions[1], regions[2])] == [1, 1, 1]
    c.use_region(5 * PAGE, 1)
    # Window 1 was the least recently used: it alone is gone.
    assert [regions[w].client_count() for w in (0, 1, 2)] == [1, 0, 1]
    assert c.region().client_count() == 2
    c.close()
    man.close()


def test_threads_share_one_manager(tmp_path):
    budget = 32 * PAGE
    files = [random_file(tmp_path / f"t{i}", 2 * budget, 10 + i) for i in range(3)]
    # Eight threads each pin at most one window at a time: ten windows (and descriptors) suffice.
    man = smmap.SlidingWindowMapManager(window_size=2 * PAGE, max_memory_size=budget, max_open_handles=10)
    errors = []

    def work(seed):
        try:
            rng = random.Random(seed)
            cursors = [man.make_cursor(str(tmp_path / f"t{i}")) for i in range(3)]
            for _ in range(2000):
                i = rng.randrange(3)
                ofs = rng.randrange(len(files[i]) - 10)
                c = cursors[i]
                if rng.random() < 0.5:
                    assert c.use_region(ofs, 10).is_valid()
                    assert bytes(c.buffer()) == files[i][ofs:ofs + c.size()]
                    c.unuse_region()
                else:
                    assert c.read(ofs, 10) == files[i][ofs:ofs + 10]
                s = man.stats()
                assert s["mapped_bytes"] <= budget and s["open_files"] <= 10 and s["windows"] <= 10, s
            for c in cursors:
                c.close()
        except BaseException as e:  # noqa: B036 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert man.stats()["peak_mapped_bytes"] <= budget
    man.close()


def test_growth_is_seen(tmp_path):
    p = tmp_path / "g"
    p.write_bytes(b"a" * 100)
    man = smmap.SlidingWindowMapManager()
    c = man.make_cursor(str(p))
    assert c.file_size() == 100
    assert not c.use_region(150, 10).is_valid()
    with open(p, "ab") as f:
        f.write(b"b" * 100)
    assert c.file_size() == 200
    assert c.use_region(150, 10).is_valid() and bytes(c.buffer()) == b"b" * 10
    assert c.read(195, 5) == b"b" * 5
    buf = smmap.SlidingWindowMapBuffer(c)
    assert len(buf) == 200 and buf[-1] == ord("b") and buf[98:102] == b"aabb"
    buf.end_access()
    c.close()
    man.close()


def test_typed_access_to_raw_npy_and_mba_files(tmp_path):
    np = need("numpy")
    man = smmap.SlidingWindowMapManager(window_size=PAGE, max_memory_size=4 * PAGE)
    raw = np.arange(10_000, dtype=np.float64) * 1.5
    raw.tofile(tmp_path / "r.f8")
    c = man.make_cursor(str(tmp_path / "r.f8"), dtype="f8")
    assert len(c) == 10_000 and c.dtype == np.float64
    assert np.array_equal(c.read(), raw)  # 80 KB through a 16 KiB budget
    assert np.array_equal(c.read(1234, 100), raw[1234:1334])
    v = c.view(500, 100)
    assert 1 <= len(v) <= 100 and np.array_equal(v, raw[500:500 + len(v)])
    assert man.num_borrows() == 1
    del v
    assert man.num_borrows() == 0
    for dtype in ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8", "c8", "c16", "?"]:
        for shape in [(7,), (3, 5), (2, 3, 4)]:
            a = (np.arange(np.prod(shape)) % 100).astype(dtype).reshape(shape)
            np.save(tmp_path / "a.npy", a)
            c = man.make_cursor(str(tmp_path / "a.npy"), kind="auto")
            assert c.info()["kind"] == "npy" and c.shape == shape and c.dtype == a.dtype, (dtype, shape)
            assert np.array_equal(c.read().reshape(shape), a), (dtype, shape)
            c.close()
    big = np.arange(1000, dtype=">u4")
    np.save(tmp_path / "be.npy", big)
    c = man.make_cursor(str(tmp_path / "be.npy"), kind="npy")
    assert c.info()["byteswapped"]
    assert np.array_equal(c.read(), big) and c.read().dtype == np.dtype("<u4")
    assert np.array_equal(c.view(10, 5), big[10:15])
    c.close()
    np.save(tmp_path / "f.npy", np.asfortranarray(np.ones((3, 4))))
    with pytest.raises(mba.Error, match="Fortran order"):
        man.make_cursor(str(tmp_path / "f.npy"), kind="npy")
    np.save(tmp_path / "o.npy", np.array([1, "x"], dtype=object), allow_pickle=True)
    with pytest.raises(mba.Error, match="object dtype"):
        man.make_cursor(str(tmp_path / "o.npy"), kind="npy")
    np.save(tmp_path / "s.npy", np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")]))
    with pytest.raises(mba.Error, match="structured"):
        man.make_cursor(str(tmp_path / "s.npy"), kind="npy")
    man.close()


def test_mba_arrays_are_read_at_their_live_length(uri):
    a = mba.array("I", range(1000), uri=uri)
    path = "/dev/shm/" + uri[len("shm://"):]
    with smmap.SlidingWindowMapManager() as man:
        c = man.make_cursor(path, kind="mba")
        assert len(c) == 1000 and list(c.read(990, 10)) == list(range(990, 1000))
        a.extend(range(1000, 5000))
        assert list(c.read(4990, 10)) == list(range(4990, 5000))
        c.close()
    a.close()


def test_a_file_deleted_or_truncated_under_a_live_cursor_raises_errors_not_sigbus(tmp_path):
    p = tmp_path / "d"
    data = random_file(p, 8 * PAGE, 3)
    man = smmap.SlidingWindowMapManager(window_size=PAGE, max_memory_size=4 * PAGE, max_open_handles=2)
    c = man.make_cursor(str(p))
    assert c.read(0, 10) == data[:10]
    view = c.use_region(PAGE, 100).buffer()
    os.remove(p)
    assert c.read(5 * PAGE, 10) == data[5 * PAGE:5 * PAGE + 10], "deleting cuts nothing"
    assert bytes(view) == data[PAGE:PAGE + 100]
    del view
    c.unuse_region()
    man.collect()
    with pytest.raises(mba.NotFoundError, match="deleted"):
        c.read(0, 1)
    c.close()

    t = tmp_path / "t"
    data = random_file(t, 8 * PAGE, 4)
    c = man.make_cursor(str(t))
    assert c.read(7 * PAGE, 1) == data[7 * PAGE:7 * PAGE + 1]
    os.truncate(t, PAGE)
    with pytest.raises(mba.Error):
        c.read(7 * PAGE, 1)
    assert not c.use_region(6 * PAGE, 1).is_valid(), "a borrow re-checks the size first"
    buf = smmap.SlidingWindowMapBuffer(c)
    assert len(buf) == PAGE and buf[PAGE - 1] == data[PAGE - 1]
    buf.end_access()
    c.close()
    man.close()


def test_cursors_and_managers_release_deterministically(tmp_path):
    random_file(tmp_path / "x", 4 * PAGE, 5)
    man = smmap.SlidingWindowMapManager(window_size=PAGE)
    with man.make_cursor(str(tmp_path / "x")) as c:
        c.use_region(0, 10)
        assert real_usage(tmp_path) == (PAGE, 1)
    assert man.stats()["pinned_windows"] == 0
    man.collect()
    assert real_usage(tmp_path) == (0, 0)
    fd = os.open(tmp_path / "x", os.O_RDONLY)
    c = man.make_cursor(fd)
    assert c.use_region(0, 10).is_valid() and c.fd() == fd
    with pytest.raises(ValueError):
        c.path()
    c.close()
    man.close()
    os.fstat(fd)  # the caller's descriptor is still open: mba used its own duplicate
    os.close(fd)


# A manager whose handle is taken (the manager checked open), then the manager closed, as
# another thread would between that check and the library call it is passed to.
CLOSING_MANAGER = """
import sys
from mba import smmap
path = sys.argv[1]
class Closing(smmap.SlidingWindowMapManager):
    armed = False
    def _handle(self):
        h = super()._handle()
        if self.armed:
            self.armed = False
            self.close()
        return h
m = Closing(window_size=65536)
keep = m.make_cursor(path)
keep.use_region(0, 10)  # a cursor keeps the native manager alive, as in real use
m.armed = True
try:
    r = OP
    print("result", r)
except Exception as e:
    print(type(e).__name__, e)
print("closed", m._h is None)
"""


@pytest.mark.parametrize("op", ["m.collect()", "m.num_open_files()", "m._collect_lru_region(0)",
                                "m.make_cursor(path).use_region(0, 1).is_valid()"])
def test_a_manager_closed_during_a_call_frees_its_handle_after_it(tmp_path, op):
    # manager.close() freed the native handle (mba_window_manager_free) while a call in another
    # thread had it: SIGSEGV (exit -11) for each of these, before the handle was freed with its
    # last holder. Now the call runs on the closed manager: a result, or the library's error.
    random_file(tmp_path / "m", 4 * 65536, 7)
    out = isolated(CLOSING_MANAGER.replace("OP", op), str(tmp_path / "m"))
    assert out.endswith("closed True\n"), out
    if "make_cursor" in op:
        assert out.startswith("Error mba_window_open: the window manager was closed"), out
    else:
        assert out.startswith("result 0"), out


@pytest.mark.parametrize("release", ["c.close()", "c.unuse_region()"])
def test_a_buffer_made_after_the_manager_closed_outlives_its_cursor(tmp_path, release):
    # The manager closed while c pinned a window (allowed: BUSY, the window stays while
    # pinned), then c.buffer(). Letting go of c's window gave the live buffer a pin of its own
    # by cloning c, which a closed manager refuses: c.close() or c.unuse_region() raised, and
    # forgot the buffer, so the next c.close() freed c, unmapped the window under the buffer,
    # and reading it died of SIGSEGV.
    # Now the buffer takes c's own native cursor, and its pin, with it.
    data = random_file(tmp_path / "w", 4 * 65536, 8)
    out = isolated(f"""
import sys
from mba import smmap
m = smmap.SlidingWindowMapManager(window_size=65536)
c = m.make_cursor(sys.argv[1])
c.use_region(100, 1000)
m.close()
b = c.buffer()
try:
    {release}
except Exception as e:
    print(type(e).__name__, e)
c.close()
print(bytes(b[:8]).hex(), len(b), m.num_borrows())
b.release()
print("borrows", m.num_borrows())
""", str(tmp_path / "w"))
    assert out == f"{data[100:108].hex()} 1000 1\nborrows 0\n", out


def test_a_read_sizes_its_buffer_from_the_count_itself(tmp_path):
    # read(start, count) sized a byte cursor's buffer with count * itemsize, which an int
    # subclass can answer as it likes, while the library wrote count bytes: a heap overflow
    # (SIGSEGV, exit -11). Now start and count are exact ints (operator.index) first.
    data = random_file(tmp_path / "r", 1 << 20, 9)
    out = isolated("""
import sys
from mba import smmap
class N(int):
    def __mul__(self, other):
        return 1
    def __lt__(self, other):
        return False
c = smmap.SlidingWindowMapManager().make_cursor(sys.argv[1])
b = c.read(N(10), N((1 << 20) - 10))
print(len(b), b[:4].hex())
try:
    c.read(N(-1), 1)
except ValueError as e:
    print("ValueError", e)
""", str(tmp_path / "r"))
    assert out == f"{(1 << 20) - 10} {data[10:14].hex()}\nValueError start and count must be non-negative\n", out


def test_a_buffer_index_is_an_exact_int_before_it_is_bounded(tmp_path):
    # An int subclass whose comparisons lie passed the bounds check and reached read() with an
    # offset past the file: ValueError, where every out-of-range index gives IndexError. Floats
    # and other non-integers are TypeError, as for bytes.
    data = random_file(tmp_path / "b", 1 << 16, 11)
    out = isolated("""
import sys
from mba import smmap
class Liar(int):
    def __lt__(self, other):
        return False
    def __ge__(self, other):
        return True
m = smmap.SlidingWindowMapManager()
b = smmap.SlidingWindowMapBuffer(m.make_cursor(sys.argv[1]))
for i in (Liar(1 << 20), Liar(-(1 << 20)), 1 << 20, 1.0):
    try:
        print(b[i])
    except (IndexError, TypeError) as e:
        print(type(e).__name__)
print(b[Liar(5)], b[-1])
b.end_access()
""", str(tmp_path / "b"))
    assert out == f"IndexError\nIndexError\nIndexError\nTypeError\n{data[5]} {data[-1]}\n", out
