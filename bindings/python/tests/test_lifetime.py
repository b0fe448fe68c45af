"""close() in one thread while another is inside a call on the same array: the mapping and the
handle go only when no call uses them any more (issue: close() during an append, an extend, a
splice... freed the handle under the library call: SIGSEGV).

Each test runs in a subprocess (a crash fails it instead of the test runner) and closes the array
at a fixed point inside the window between a call's check that the array is open and the
library call itself, from a hook that stands in for the other thread: the result is then the
same on every run."""

import pytest

import mba
from conftest import isolated, need

# A subclass whose handle is taken (the array checked open), then the array closed, as another
# thread would between the check and the call: at the close_at-th check.
CLOSING = """
import sys, mba
class Closing(mba.array):
    close_at = 0
    def _closing(self, h):
        self.close_at -= 1
        if self.close_at == 0:
            self.close()
        return h
    def _resizable(self):
        return self._closing(mba.array._resizable(self))
    def _w(self):
        return self._closing(mba.array._w(self))
class Four:
    def __index__(self):
        return 4
a = Closing("q", range(10), uri=sys.argv[1])
peer = mba.array.attach(sys.argv[1])
a.close_at = CLOSE_AT
try:
    OP
    print("done", peer.tolist())
except ValueError as e:
    print("ValueError", e, peer.tolist())
"""

# What each operation runs, and at which check its handle is the one the library call gets (the
# operations that look at the length after taking it refuse a closed array there already).
OPS = {
    "extend": ("a.extend([7, 8])", 2),
    "frombytes": ("a.frombytes(bytes(8))", 2),
    "insert": ("a.insert(0, 5)", 1),
    "del a[0]": ("del a[0]", 1),
    "del a[1:3]": ("del a[1:3]", 1),
    "clear": ("a.clear()", 1),
    "a[i] = x": ("a[Four()] = 5", 1),
    "sync": ("a.sync()", 1),
}


@pytest.mark.parametrize("op", list(OPS))
def test_close_between_the_check_and_the_call(uri, op):
    code, close_at = OPS[op]
    code = CLOSING.replace("OP", code).replace("CLOSE_AT", str(close_at))
    out = isolated(code, uri)
    assert out.startswith("ValueError operation on a closed mba array"), out
    assert out.endswith("[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"), out  # nothing changed


def test_close_while_append_converts_its_element(uri):
    # append() takes the handle, then converts the element (Python code: __index__), then calls
    # the library: a close() from the conversion used to free the handle under the call. Now
    # the call holds the mapping: the element goes in (mba/_speedups' append, which holds it
    # from the start) or append raises ValueError and adds nothing (ctypes).
    out = isolated("""
import sys, mba
a = mba.array("q", [1, 2], uri=sys.argv[1])
peer = mba.array.attach(sys.argv[1])
class X:
    def __index__(self):
        a.close()
        return 7
try:
    a.append(X())
    print("appended", peer.tolist())
except ValueError:
    print("ValueError", peer.tolist())
""", uri)
    assert out in ("appended [1, 2, 7]\n", "ValueError [1, 2]\n")


def test_close_of_the_source_during_an_extend(uri):
    # b.extend(a) copies from a's mapping with the GIL released: a close() of a meanwhile (here
    # from b's room check, as another thread would) must not unmap it under the copy.
    out = isolated("""
import mba
a = mba.array("d", [float(i) for i in range(100000)])
class B(mba.array):
    def _room(self, more):
        a.close()
        return mba.array._room(self, more)
b = B("d")
b.extend(a)
print(a.closed, len(b), b[99999])
""")
    assert out == "True 100000 99999.0\n"


def test_close_of_the_source_during_a_slice():
    # a[i:j] copies from a's mapping; a close() from the slice's own index conversion used to
    # leave it copying from an unmapped one.
    out = isolated("""
import mba
a = mba.array("d", [float(i) for i in range(100000)])
class Start:
    def __index__(self):
        a.close()
        return 1
b = a[Start():100000]
print(a.closed, len(b), b[0], b[-1])
""")
    assert out == "True 99999 1.0 99999.0\n"


# A subclass that closes the array from inside the length taken for a view being made (a peer's
# append sends that length through _len_slow), where another thread could.
VIEW_DURING_CLOSE = """
import sys, mba
class S(mba.array):
    hook = None
    def _len_slow(self):
        n = mba.array._len_slow(self)
        if self.hook is not None:
            hook, self.hook = self.hook, None
            hook()
        return n
a = S("d", [1.0] * 100000, uri=sys.argv[1])
peer = mba.array.attach(sys.argv[1])
peer.append(2.0)
def close():
    try:
        a.close()
        print("closed")
    except BufferError:
        print("refused")
a.hook = close
try:
    v = MAKE
except ValueError:
    print("ValueError")
else:
    print(a.closed, float(sum(memoryview(v).cast("B").cast("d"))))
"""

VIEWS = {"memoryview(a)": "memoryview(a)", "a.memoryview()": "a.memoryview()", "a.numpy()": "a.numpy()"}


@pytest.mark.parametrize("make", list(VIEWS))
def test_close_while_a_view_is_being_made(uri, make):
    # Views are counted before the array is checked open and its length taken: a close() in the
    # meantime is refused and the view covers the mapping, which stays. (It used to succeed and
    # leave the view over an unmapped mapping: SIGSEGV on the first read.)
    if make == "memoryview(a)" and mba.BUFFER_PROTOCOL is None:
        pytest.skip("no buffer protocol on this Python without mba/_speedups")
    if make == "a.numpy()":
        need("numpy")
    out = isolated(VIEW_DURING_CLOSE.replace("MAKE", VIEWS[make]), uri)
    assert out == "refused\nFalse 100002.0\n"
