"""Every read of an array's memory is bounded by the length the array holds, never by what Python
code says: a subclass's __len__ (of mba.array, or of an array.array being copied from), its
buffer_info or typecode, or an index object's comparisons. They used to bound reads of the
mapping (whose reservation goes far past the elements: SIGBUS) or of an array.array's heap
buffer (SIGSEGV, or heap bytes copied in silently).

The operations run in a subprocess (a crash fails the test, not the runner), each on an mba.array
and on an array.array, whose results must be the same."""

import json


from conftest import isolated


def assert_agree(script):
    """Runs script, which prints {name: [mba.array's result, array.array's]}, and checks each
    pair is the same."""
    for name, (got, want) in json.loads(isolated(script)).items():
        assert got == want, name

LYING_SELF = """
import array, json, pickle, mba
class M(mba.array):
    def __len__(self):
        return 1 << 20
class S(array.array):
    def __len__(self):
        return 1 << 20
OPS = {
    "tobytes": lambda x: x.tobytes().hex(),
    "tolist": lambda x: x.tolist(),
    "count": lambda x: x.count(0.0),
    "index": lambda x: x.index(2.0),
    "in": lambda x: 0.0 in x,
    "repr": lambda x: repr(x).split("(", 1)[1],
    "==": lambda x: x == array.array("d", [1.0, 2.0]),
    "<": lambda x: x < array.array("d", [1.0, 2.0, 3.0]),
    "iter": lambda x: list(x),
    "reversed": lambda x: list(reversed(x)),
    "slice": lambda x: list(x[:]),
    "+": lambda x: list(x + x),
    "*": lambda x: list(x * 2),
    "buffer_info": lambda x: x.buffer_info()[1],
    "pickle": lambda x: pickle.loads(pickle.dumps(x)).tolist(),
    "sizeof": lambda x: x.__sizeof__() - type(x)("d").__sizeof__(),
    "copy into": lambda x: mba.array("d", x).tolist(),
}
if mba.BUFFER_PROTOCOL is not None:
    OPS["memoryview(a)"] = lambda x: memoryview(x).tolist()
out = {}
for name, op in OPS.items():
    out[name] = [op(M("d", [1.0, 2.0])), op(S("d", [1.0, 2.0]))]
a = M("d", [1.0, 2.0])
out["a.memoryview()"] = [a.memoryview().tolist(), [1.0, 2.0]]
try:
    import numpy
except ImportError:
    pass
else:
    out["a.numpy()"] = [a.numpy().tolist(), [1.0, 2.0]]
print(json.dumps(out))
"""


def test_a_subclass_len_does_not_bound_the_reads():
    # An mba.array subclass whose __len__ says 2**20 holds 2 elements: every operation sees 2, as
    # array.array's do for the same subclass (it used to read 2**20 elements' worth of the
    # reservation: SIGBUS).
    assert_agree(LYING_SELF)


LYING_SOURCE = """
import array, json, mba
class Std(array.array):
    typecode = "d"  # not what it holds, which is 'b' for the second one
    def __len__(self):
        return 1 << 22
    def buffer_info(self):
        return (16, 1 << 22)
def std():
    return Std("d", [1.0, 2.0])
def run(op, kind):
    try:
        return op(kind("d", [3.0]))
    except Exception as e:
        return type(e).__name__
def extend(a):
    a.extend(std()); return a.tolist()
def iadd(a):
    a += std(); return a.tolist()
def add(a):
    return (a + std()).tolist()
def splice(a):
    a[0:0] = std(); return a.tolist()
def replace(a):
    a[0:1] = std(); return a.tolist()
def extended(a):
    a.extend([4.0]); a[::1] = std(); return a.tolist()
def construct(a):
    return type(a)("d", std()).tolist()
def eq(a):
    return [a == std(), std() == a, a < std(), a[:0] + std() == std()]
def wrong_kind(a):
    a.extend(Std("b", [1, 2])); return a.tolist()
out = {}
for op in (extend, iadd, add, splice, replace, extended, construct, eq, wrong_kind):
    out[op.__name__] = [run(op, mba.array), run(op, array.array)]
print(json.dumps(out))
"""


def test_a_source_array_len_does_not_bound_the_copy():
    # An array.array subclass whose __len__ says 2**22 (and buffer_info and typecode lie too)
    # holds 2 elements: extend, +=, +, slice assignment and the constructor copy those 2, as
    # array.array does (mba used to copy 2**22 elements from its heap buffer: SIGSEGV).
    assert_agree(LYING_SOURCE)


CRAFTED_INDEX = """
import array, json, mba
class Liar:
    # An index whose comparisons all say yes, whatever it converts to.
    def __init__(self, v):
        self.v = v
    def __index__(self):
        return self.v
    __ge__ = __le__ = __lt__ = __gt__ = lambda self, other: True
class NotAnInt:
    def __index__(self):
        return 1.5
def run(op, kind):
    a = kind("d", [1.0, 2.0, 3.0])
    try:
        r = op(a)
    except Exception as e:
        return type(e).__name__
    return [r, a.tolist()]
def setitem(i):
    def op(a):
        a[i] = 9.0
    return op
def delitem(i):
    def op(a):
        del a[i]
    return op
KEYS = {"10": Liar(10), "1": Liar(1), "-1": Liar(-1), "-4": Liar(-4), "10**8": Liar(10**8), "-10**8": Liar(-10**8),
        "1.5": NotAnInt(), "2**100": 2**100, "-2**100": -2**100, "True": True}
out = {}
for name, key in KEYS.items():
    for what, op in (("a[i]", lambda a, key=key: a[key]), ("a[i] = x", setitem(key)), ("del a[i]", delitem(key)),
                     ("pop", lambda a, key=key: a.pop(key))):
        out[f"{what} {name}"] = [run(op, mba.array), run(op, array.array)]
print(json.dumps(out))
"""


def test_a_crafted_index_is_converted_before_it_is_compared():
    # a[i] compared the key object itself with the length, then indexed the view of the whole
    # reservation with it: an index whose comparisons lie read past the elements (0.0 for
    # Liar(10), SIGBUS for Liar(10**8)). Every index is now converted first, as array.array does.
    assert_agree(CRAFTED_INDEX)
