"""mba.array against the standard library's array.array, typecode by typecode: the same
operations must give the same results, contents and exception types."""

import array
import ctypes
import copy
import io
import operator
import os
import pickle
import re
import subprocess
import sys

import pytest

import mba
from conftest import isolated

VALUES = {
    "b": [-128, -1, 0, 1, 127], "B": [0, 1, 200, 255], "h": [-32768, -2, 0, 7, 32767], "H": [0, 9, 65535],
    "i": [-(2**31), -3, 0, 2**31 - 1], "I": [0, 5, 2**32 - 1], "l": [-(2**63), -4, 0, 2**63 - 1],
    "L": [0, 6, 2**64 - 1], "q": [-(2**63), 0, 2**63 - 1], "Q": [0, 7, 2**64 - 1],
    "f": [0.5, -1.25, 3.0, 1e10], "d": [0.1, -2.5, 1e300, 0.0],
    "u": ["a", "\u263a", "\x00", "\U0001f600"],
}
if "w" in array.typecodes:
    VALUES["w"] = ["z", "\u00e9", "\U0010ffff", "\x01"]
OUT_OF_RANGE = {
    "b": [128, -129], "B": [-1, 256], "h": [32768], "H": [-1, 65536], "i": [2**31], "I": [-1, 2**32],
    "l": [2**63], "L": [-1, 2**64], "q": [2**63], "Q": [-1, 2**64], "f": [], "d": [], "u": [1, "ab"],
    "w": [1, "ab"],
}
TYPECODES = list(VALUES)
assert sorted(TYPECODES) == sorted(array.typecodes), "every typecode of this interpreter is tested"


def outcome(f, x):
    try:
        r = f(x)
    except Exception as e:  # the exception type is what must match
        return ("raised", type(e))
    if isinstance(r, (array.array, mba.array)):
        r = ("array", r.typecode, r.tolist())
    elif r is x:
        r = "self"
    return ("returned", r)


def same_everywhere(tc, init, ops):
    std = array.array(tc, init)
    ours = mba.array(tc, init)
    for i, op in enumerate(ops):
        assert outcome(op, ours) == outcome(op, std), f"op {i} of {tc}"
        assert ours.tolist() == std.tolist(), f"contents after op {i} of {tc}"
        assert ours == std and repr(ours) == repr(std) and len(ours) == len(std)


@pytest.mark.parametrize("tc", TYPECODES)
def test_constructor_repr_and_attributes(tc):
    v = VALUES[tc]
    for init in [(), v, array.array(tc, v), iter(v), array.array(tc, v).tobytes()]:
        ours, std = mba.array(tc, init), array.array(tc, init if not hasattr(init, "__next__") else v)
        assert ours.tolist() == std.tolist()
        assert repr(ours) == repr(std)
        assert ours.typecode == std.typecode and ours.itemsize == std.itemsize
    assert repr(mba.array(tc)) == f"array('{tc}')"
    if tc in "uw":
        assert mba.array(tc, "abc").tounicode() == "abc"
        return
    with pytest.raises(TypeError):
        mba.array(tc, "abc")
    with pytest.raises(ValueError):
        mba.array("z")


@pytest.mark.parametrize("tc", TYPECODES)
def test_append_extend_insert_pop_remove(tc):
    v = VALUES[tc]
    ops = [
        lambda a: a.append(v[0]),
        lambda a: a.extend(v),
        lambda a: a.extend(array.array(tc, v)),
        lambda a: a.insert(0, v[-1]),
        lambda a: a.insert(-2, v[1]),
        lambda a: a.insert(100, v[1]),
        lambda a: a.insert(-100, v[0]),
        lambda a: a.pop(),
        lambda a: a.pop(0),
        lambda a: a.pop(-2),
        lambda a: a.pop(100),
        lambda a: a.pop(2**100),  # OverflowError, as array.array's index-sized argument
        lambda a: a.pop(-2**100),
        lambda a: a.insert(2**100, v[0]),
        lambda a: a.insert(-2**100, v[0]),
        lambda a: a.remove(v[1]),
        lambda a: a.remove(v[0] if tc in "fd" else 99 if tc != "b" else 100),
        lambda a: a.index(v[-1]),
        lambda a: a.index(v[-1], 2),
        lambda a: a.index(v[-1], 0, 1),
        lambda a: a.count(v[0]),
        lambda a: a.extend([1, 2] if tc not in "fd" else [1.5]),
        lambda a: a.extend(array.array("d" if tc != "d" else "f", [1])),
        lambda a: a.fromlist(list(v)),
        lambda a: a.fromlist(tuple(v)),
        lambda a: a.reverse(),
        lambda a: a.byteswap() if tc not in "uw" else None,  # swapped code points are not characters
        lambda a: a.byteswap() if tc not in "uw" else None,
        lambda a: v[0] in a,
        lambda a: 12345 in a,
        lambda a: list(a),
        lambda a: list(reversed(a)),
        lambda a: a.buffer_info()[1],
        lambda a: a.tounicode(),
        lambda a: a.fromunicode("x"),
    ]
    ops += [lambda a, x=x: a.append(x) for x in OUT_OF_RANGE[tc]]
    ops += [lambda a: a.append("x"), lambda a: a.append(None)]
    same_everywhere(tc, v, ops)
    empty = mba.array(tc)
    with pytest.raises(IndexError):
        empty.pop()


@pytest.mark.parametrize("tc", TYPECODES)
def test_indexing_and_slicing(tc):
    v = VALUES[tc] * 3
    other = "d" if tc != "d" else "f"
    ops = [lambda a, i=i: a[i] for i in range(-len(v) - 1, len(v) + 1)]
    ops += [lambda a, s=s: a[s] for s in [slice(None), slice(1, 4), slice(-3, None), slice(None, None, 2),
                                         slice(5, 1, -1), slice(100, 200), slice(4, 2)]]
    ops += [
        lambda a: a.__setitem__(0, v[1]),
        lambda a: a.__setitem__(-1, v[0]),
        lambda a: a.__setitem__(len(a), v[0]),
        lambda a: a.__setitem__(1, "x"),
        lambda a: a.__setitem__(slice(1, 3), array.array(tc, v[:2])),
        lambda a: a.__setitem__(slice(1, 3), array.array(tc, v[:5])),
        lambda a: a.__setitem__(slice(0, 4), array.array(tc)),
        lambda a: a.__setitem__(slice(None, None, 2), array.array(tc, v[: (len(a) + 1) // 2])),
        lambda a: a.__setitem__(slice(None, None, 2), array.array(tc, v[:1])),
        lambda a: a.__setitem__(slice(0, 2), list(v[:2])),
        lambda a: a.__setitem__(slice(0, 2), array.array(other, [1, 2])),
        lambda a: a.__delitem__(0),
        lambda a: a.__delitem__(-1),
        lambda a: a.__delitem__(len(a)),
        lambda a: a.__delitem__(slice(1, 3)),
        lambda a: a.__delitem__(slice(None, None, 3)),
        lambda a: a.__delitem__(slice(100, 200)),
        lambda a: a["x"],
        lambda a: a[1.0],
    ]
    same_everywhere(tc, v, ops)


@pytest.mark.parametrize("tc", TYPECODES)
def test_operators_and_comparisons(tc):
    v = VALUES[tc]
    other = "d" if tc != "d" else "f"
    ops = [
        lambda a: a + array.array(tc, v),
        lambda a: a + [1],
        lambda a: a + array.array(other, [1]),
        lambda a: operator.iadd(a, array.array(tc, v)),
        lambda a: operator.iadd(a, [1]),
        lambda a: a * 2,
        lambda a: 2 * a,
        lambda a: a * 0,
        lambda a: operator.imul(a, 2),
        lambda a: operator.imul(a, 1),
        lambda a: a == array.array(tc, v * 2),
        lambda a: a != array.array(tc, v),
        lambda a: a < array.array(tc, v * 3),
        lambda a: a >= array.array(tc),
        lambda a: a == list(a),
        lambda a: copy.copy(a),
        lambda a: copy.deepcopy(a),
        lambda a: operator.imul(a, 0),
        lambda a: a.tobytes(),
    ]
    same_everywhere(tc, v, ops)
    with pytest.raises(TypeError):
        hash(mba.array(tc))


@pytest.mark.parametrize("tc", TYPECODES)
def test_bytes_lists_and_files(tc, tmp_path):
    v = VALUES[tc]
    std, ours = array.array(tc, v), mba.array(tc, v)
    assert ours.tobytes() == std.tobytes()
    ours.frombytes(std.tobytes())
    std.frombytes(std.tobytes()[: len(v) * std.itemsize])
    assert ours.tolist() == std.tolist()
    if std.itemsize > 1:
        with pytest.raises(ValueError):
            ours.frombytes(b"\0" * (std.itemsize + 1))
    with pytest.raises(TypeError):
        ours.fromlist(tuple(v))
    path = tmp_path / "a.bin"
    with open(path, "wb") as f:
        ours.tofile(f)
    back = mba.array(tc)
    with open(path, "rb") as f:
        back.fromfile(f, len(ours))
    assert back == ours
    short = mba.array(tc)
    with open(path, "rb") as f:
        with pytest.raises(EOFError):
            short.fromfile(f, len(ours) + 3)
    assert short == ours, "fromfile keeps what it read before EOFError, like array.array"
    if std.itemsize > 1:  # a read that ends inside an item: ValueError, nothing of it appended
        data = path.read_bytes()
        for kind in (array.array, mba.array):
            partial = kind(tc, v[:1])
            with pytest.raises(ValueError):
                partial.fromfile(io.BytesIO(data[: std.itemsize + 1]), 2)
            assert partial.tolist() == v[:1], kind


@pytest.mark.parametrize("tc", ["B", "q", "d"])
def test_mba_arrays_are_accepted_where_arrays_are(tc):
    # array.array itself does not know mba.array, so this cannot be compared with it.
    v = VALUES[tc]
    a = mba.array(tc, v)
    assert (a + mba.array(tc, v)).tolist() == v + v
    a[0:2] = mba.array(tc, v[1:3])
    assert a.tolist()[:2] == v[1:3]
    a += mba.array(tc, v)
    assert len(a) == 2 * len(v)
    assert a == mba.array(tc, a.tolist())


def test_shared_array_is_seen_through_its_name(uri):
    a = mba.array("d", [1.5, 2.5], uri=uri)
    b = mba.array.attach(uri)
    assert b.typecode == "d" and b.uri == uri and b.tolist() == [1.5, 2.5]
    a.append(3.5)
    assert b[2] == 3.5
    with pytest.raises(mba.ExistsError):
        mba.array("d", uri=uri)
    assert mba.array("I", uri=uri, overwrite=True).typecode == "I"


def test_errors_carry_the_library_message(uri):
    with pytest.raises(FileNotFoundError) as e:
        mba.array.attach(uri)
    assert isinstance(e.value, mba.Error) and e.value.status == -5
    assert uri in str(e.value) and "No such file or directory" in str(e.value)
    mba.array("B", uri=uri)
    ro = mba.array.attach(uri, readonly=True)
    with pytest.raises(mba.Error) as e:
        ro.append(1)
    assert e.value.status == -4 and "read-only" in str(e.value)
    with pytest.raises(mba.Error):
        mba.array("B", uri="nope://x")


def test_exclusive_lease_and_close(uri):
    owner = mba.array("i", uri=uri, exclusive=True)
    other = mba.array.attach(uri)
    with pytest.raises(mba.BusyError):
        other.append(1)
    owner.append(1)
    owner.close()
    owner.close()  # twice is fine
    with pytest.raises(ValueError):
        len(owner)
    other.append(2)
    with mba.array.attach(uri) as third:
        assert third.tolist() == [1, 2]


@pytest.mark.parametrize("tc", TYPECODES)
def test_anonymous_arrays_pickle_by_value(tc):
    v = VALUES[tc]
    a = mba.array(tc, v)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        b = pickle.loads(pickle.dumps(a, protocol))
        assert type(b) is mba.array and b.typecode == tc and b == a and b.tolist() == a.tolist()
        assert b.uri is None and b.buffer_info()[0] != a.buffer_info()[0], "a copy, not the same memory"
    assert a.pickle_by == "value"
    with pytest.raises(ValueError):
        a.pickle_by = "name"


def test_named_arrays_pickle_by_name_unless_told(uri):
    a = mba.array("q", [1, 2, 3], uri=uri)
    assert a.pickle_by == "name"
    b = pickle.loads(pickle.dumps(a))
    assert b.uri == uri and b.tolist() == [1, 2, 3]
    b.append(4)
    assert a.tolist() == [1, 2, 3, 4], "the same shared array"
    a.pickle_by = "value"
    c = pickle.loads(pickle.dumps(a))
    c.append(5)
    assert c.uri is None and a.tolist() == [1, 2, 3, 4], "a copy"
    ro = mba.array.attach(uri, readonly=True)
    assert pickle.loads(pickle.dumps(ro)).readonly


def test_every_typecode_survives_an_attach_in_another_process(uri):
    # 'l' and 'q' (and 'L', 'Q') have the same storage; 'u' is stored as code points: the
    # typecode comes back from the header, in another process.
    script = "import sys, mba; a = mba.array.attach(sys.argv[1]); print(a.typecode, repr(a.tolist()))"
    for tc in TYPECODES:
        a = mba.array(tc, VALUES[tc], uri=uri, overwrite=True)
        r = subprocess.run([sys.executable, "-c", script, uri], capture_output=True, text=True, check=True,
                           env=dict(os.environ, PYTHONPATH=os.path.dirname(mba.__path__[0])))
        assert r.stdout.strip() == f"{tc} {VALUES[tc]!r}", (tc, r.stdout, r.stderr)
        a.close()
    with pytest.raises(TypeError):
        mba.array.attach(uri, typecode="d")  # the array holds 'w'/'u' code points, not doubles
    assert mba.array.attach(uri, typecode="I").typecode == "I"


OPTIONS = """
import mba
for kw in ({"max_capacity": 2**64 + 3}, {"capacity": 2**64 + 5}, {"mode": 2**32 + 0o600}, {"capacity": -1},
           {"mode": -1}, {"max_capacity": -1}, {"capacity": 1.5}, {"mode": "x"}, {"mode": 0o640}):
    try:
        a = mba.array("d", **kw)
        print(kw, "created")
        a.close()
    except Exception as e:
        print(kw, type(e).__name__, e)
"""


def test_options_are_checked_the_same_on_both_paths():
    # ctypes wrapped out-of-range options silently (max_capacity=2**64 + 3 made an array of at
    # most 3 elements; mode=2**32 + 0o600 was taken as 0o600), while mba/_speedups raised
    # OverflowError, or ValueError "a NULL function, or a field past 32 bits". Both now raise
    # the same exception, naming the option.
    ctypes_only = isolated(OPTIONS, env={"MBA_NO_SPEEDUPS": "1"})
    assert isolated(OPTIONS, env={"MBA_NO_SPEEDUPS": ""}) == ctypes_only
    lines = ctypes_only.splitlines()
    assert lines[:6] == [
        "{'max_capacity': 18446744073709551619} ValueError mba.array: max_capacity must be 0 to 2**64 - 1, not "
        "18446744073709551619",
        "{'capacity': 18446744073709551621} ValueError mba.array: capacity must be 0 to 2**64 - 1, not "
        "18446744073709551621",
        "{'mode': 4294967680} ValueError mba.array: mode must be 0 to 2**32 - 1, not 4294967680",
        "{'capacity': -1} ValueError mba.array: capacity must be 0 to 2**64 - 1, not -1",
        "{'mode': -1} ValueError mba.array: mode must be 0 to 2**32 - 1, not -1",
        "{'max_capacity': -1} ValueError mba.array: max_capacity must be 0 to 2**64 - 1, not -1",
    ]
    assert lines[6:] == ["{'capacity': 1.5} TypeError mba.array: capacity must be an integer, not float",
                         "{'mode': 'x'} TypeError mba.array: mode must be an integer, not str",
                         "{'mode': 416} created"]


def test_nul_bytes_in_uris_are_refused():
    for call in [lambda: mba.array("b", uri="shm://a\0b"), lambda: mba.array.attach("shm://a\0b"),
                 lambda: mba.delete("shm://a\0b"), lambda: mba.array.attach(b"file:///tmp/x\0y")]:
        with pytest.raises(ValueError, match="null byte"):
            call()


def test_sizes_are_computed_before_anything_grows():
    a = mba.array("d", [-1.0] * 65536)
    with pytest.raises(MemoryError):
        a *= sys.maxsize // 65536 + 1  # CPython's test_alloc_overflow: no loop, no growth
    assert len(a) == 65536
    with pytest.raises(MemoryError):
        mba.array("d", [1.0, 2.0, 3.0]) * (sys.maxsize // 3 + 1)
    with pytest.raises(OverflowError):
        a * 2**100
    with pytest.raises(MemoryError):
        a *= a.max_capacity  # would fit in an index, not in the array
    assert len(a) == 65536

    class Huge:
        def __len__(self):
            return 2**62

        def __iter__(self):
            raise AssertionError("never iterated: the size is refused first")

    class HugeFile:
        def read(self, n):
            raise AssertionError("never read: the size is refused first")

    with pytest.raises(MemoryError):
        a.fromfile(HugeFile(), sys.maxsize // 8 + 1)
    with pytest.raises(MemoryError):
        a.fromfile(HugeFile(), a.max_capacity)
    assert len(a) == 65536


def test_library_is_found_where_asked(tmp_path):
    env = {"MBA_LIBRARY": str(tmp_path / "missing.so"), "PATH": "/usr/bin:/bin", "PYTHONPATH": mba.__path__[0] + "/.."}
    r = subprocess.run([sys.executable, "-c", "import mba"], env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "ImportError" in r.stderr and "missing.so" in r.stderr, "no silent fallback"
    # Not told where: the copy inside the package, then the system's library path.
    empty = tmp_path / "pkg"
    (empty / "mba").mkdir(parents=True)
    for f in os.listdir(mba.__path__[0]):  # the package's Python files, without any library
        if f.endswith(".py"):
            (empty / "mba" / f).write_text(open(os.path.join(mba.__path__[0], f)).read())
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(empty), "LD_LIBRARY_PATH": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", "import mba"], env=env, capture_output=True, text=True)
    for place in ["MBA_LIBRARY (not set)", "libmba.so (not found)", "system library path"]:
        assert place in r.stderr, r.stderr
    # MBA_LIBRARY=system: the system's library path, here LD_LIBRARY_PATH.
    lib = os.environ["MBA_LIBRARY"]
    os.symlink(os.path.abspath(lib), tmp_path / "libmba.so.0")
    env["MBA_LIBRARY"] = "system"
    r = subprocess.run([sys.executable, "-c", "import mba; print(mba._lib._name)"], env=env, capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stdout.strip() == "libmba.so.0", r.stderr


class _MisleadingSearch(mba.array):
    """Its searches find a wrong element `lies` times, and the read of that element just before
    the removal sees an x there: what another process's change in the instant between the read
    and the removal looks like. Then the right one."""

    __slots__ = ("lies",)

    def _find(self, x):
        if self.lies:
            return next(i for i, v in enumerate(self) if v != x)
        return super()._find(x)

    def _read_element(self, k, buf):
        if self.lies:
            self.lies -= 1
            ctypes.memmove(buf, array.array(self.typecode, [2]).tobytes(), self.itemsize)
            return
        super()._read_element(k, buf)


def test_remove_never_removes_an_element_that_changed_under_it_and_searches_again():
    a = _MisleadingSearch("i", [1, 2, 3, 2, 1])
    a.lies = 3
    a.remove(2)  # three compare-and-splices refused (MBA_ERR_CHANGED), then the first 2
    assert a.tolist() == [1, 3, 2, 1], "the first 2 went, and nothing else moved"
    a.lies = mba._REMOVE_TRIES
    with pytest.raises(mba.BusyError, match="changed the array"):
        a.remove(2)
    assert a.tolist() == [1, 3, 2, 1], "a remove that gives up leaves the array as it was"


class _ChangedWhileDeleting(mba.array):
    """Runs `peer_change` (another handle's change) after each of the next `times` reads of a
    range: where another process could change the array between del a[::k]'s read and its
    splice."""

    times = 0
    peer_change = None

    def _chunk(self, start, stop):
        out = super()._chunk(start, stop)
        if self.times:
            self.times -= 1
            self.peer_change()
        return out


@pytest.mark.parametrize("change, result", [
    # An insert before the range: the range moved, so del a[::2] starts again on the new array
    # (the insert, then the deletion).
    ("insert", [0, 2, 4, 6, 8]),
    # A write inside the range: read again, so the element written stays (the write, then the
    # deletion).
    ("write", [1, 50, 5, 7, 9]),
    # An append moves nothing: no retry, and the appended element stays (the deletion, then the
    # append).
    ("append", [1, 3, 5, 7, 9, 100]),
])
def test_deleting_an_extended_slice_never_puts_back_stale_elements(uri, change, result):
    # del a[::k] reads the range, deletes every k-th element of its copy and splices the copy
    # back: it used to do that blindly, so a change another process made in between was undone
    # (after an insert at 0: [1, 3, 5, 7, 8, 9], the 100 lost and the 9 gone in place of an
    # even). Now the splice is a compare-and-splice with the elements read.
    a = _ChangedWhileDeleting("i", range(10), uri=uri)
    peer = mba.array.attach(uri)
    a.peer_change = {"insert": lambda: peer.insert(0, 100), "write": lambda: peer.__setitem__(3, 50),
                     "append": lambda: peer.append(100)}[change]
    a.times = 1
    del a[::2]
    assert a.tolist() == result
    a.close()
    peer.close()


def test_deleting_an_extended_slice_gives_up_if_the_array_never_stops_changing(uri):
    a = _ChangedWhileDeleting("i", range(10), uri=uri)
    peer = mba.array.attach(uri)
    a.peer_change = lambda: peer.__setitem__(0, peer[0] + 1)
    a.times = mba._REMOVE_TRIES
    with pytest.raises(mba.BusyError, match="changed the array"):
        del a[::3]
    assert a.tolist() == [mba._REMOVE_TRIES] + list(range(1, 10)), "nothing deleted"
    a.times = 0
    del a[::-3]  # the same positions from the other end
    assert a.tolist() == [1, 2, 4, 5, 7, 8]
    a.close()
    peer.close()


def test_pop_at_an_index_returns_what_it_removed():
    for tc in mba.typecodes:
        std = array.array(tc, "abcde" if tc in "uw" else [1, 2, 3, 4, 5])
        a = mba.array(tc, std)
        for i in (1, -2, 0, -1):
            assert a.pop(i) == std.pop(i)
        assert a == std
        with pytest.raises(IndexError):
            a.pop(5)


def _stub_library(tmp_path, without):
    """A shared library with every function the binding declares, except `without`."""
    names = set()
    for f in ("__init__.py", "_sharedarray.py"):
        names |= set(re.findall(r'"(mba_[a-z_0-9]+)"', open(os.path.join(mba.__path__[0], f)).read()))
    assert without in names
    names.discard(without)
    src = tmp_path / "stub.c"
    src.write_text("".join(f"void {n}(void) {{}}\n" for n in sorted(names) if n != "mba_version")
                   + 'const char *mba_version(void) { return "stub"; }\n')
    lib = tmp_path / f"libmba-without-{without}.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    return lib


@pytest.mark.parametrize("symbol", ["mba_splice", "mba_header_ptr", "mba_create_ex", "mba_shape"])
def test_a_library_without_a_v2_function_fails_at_import_naming_both(tmp_path, symbol):
    lib = _stub_library(tmp_path, symbol)
    env = {"MBA_LIBRARY": str(lib), "PATH": "/usr/bin:/bin", "PYTHONPATH": os.path.dirname(mba.__path__[0])}
    r = subprocess.run([sys.executable, "-c", "import mba"], env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "ImportError" in r.stderr, r.stderr
    assert str(lib) in r.stderr and f"has no {symbol}" in r.stderr, r.stderr


PURE = """
import threading, mba
assert mba._fast_append is None
for exclusive in (False, True):
    a = mba.array("Q", exclusive=exclusive)
    ts = [threading.Thread(target=lambda w=w: [a.append(w << 32 | i) for i in range(3000)]) for w in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert sorted(a) == sorted(w << 32 | i for w in range(4) for i in range(3000))
    a.append(2**64 - 1)
    try:
        a.append(-1)
    except OverflowError:
        pass
    assert a[-1] == 2**64 - 1 and len(a) == 12001
print("ok")
"""


def test_without_speedups_everything_goes_through_ctypes():
    # mba/_speedups is optional: with MBA_NO_SPEEDUPS (or without a compiler at install) appends
    # take the ctypes path, with the same results from any number of threads.
    env = dict(os.environ, MBA_NO_SPEEDUPS="1", PYTHONPATH=os.path.dirname(mba.__path__[0]))
    r = subprocess.run([sys.executable, "-c", PURE], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    built = [f for f in os.listdir(mba.__path__[0]) if f.startswith("_speedups") and f.endswith(".so")]
    assert (mba._fast_append is not None) == bool(built and not os.environ.get("MBA_NO_SPEEDUPS"))
