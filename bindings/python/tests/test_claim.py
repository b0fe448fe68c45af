"""Claim and commit (mba.claim) and mba.wait_len, from mba/_claim.py."""

import os
import subprocess
import sys
import threading
import time

import pytest

import mba
from mba._claim import claim, wait_len  # (mba.claim and mba.wait_len once __init__ re-exports them)
from conftest import isolated, need

np = need("numpy")


def test_a_claim_is_published_when_its_block_ends(uri):
    a = mba.array("I", uri=uri, capacity=4)
    r = mba.array.attach(uri, readonly=True)
    a.append(7)
    with claim(a, 10000) as room:
        assert isinstance(room, np.ndarray) and room.shape == (10000,) and room.dtype == np.uint32
        room[:] = np.arange(10000)
        assert len(r) == 1, "nothing is published before the block ends"
    assert len(r) == 10001
    assert r.numpy()[1:].tolist() == list(range(10000))
    assert r.numpy()[0] == 7
    c = claim(a, 5)
    with c as room:
        room[:] = [1, 2, 3, 4, 5]
        c.commit(2)
        assert len(r) == 10003
    assert r[-2:].tolist() == [1, 2]
    with pytest.raises(ValueError):
        c.commit()
    with claim(a, 3) as room:
        room[:] = 5
    assert len(r) == 10006


def test_an_exception_in_the_block_publishes_nothing(uri):
    a = mba.array("d", uri=uri)
    with pytest.raises(RuntimeError):
        with claim(a, 3) as room:
            room[:] = 1.5
            raise RuntimeError("boom")
    assert len(a) == 0
    a.append(2.0)  # the right to append was given back
    assert a.tolist() == [2.0]


def test_calls_that_change_the_length_inside_the_block_are_busy(uri):
    a = mba.array("q", uri=uri)
    c = claim(a, 4)
    with c as room:
        room[:] = 9
        with pytest.raises(mba.BusyError):
            a.append(1)
        with pytest.raises(mba.BusyError):
            a.extend([1, 2])
        with pytest.raises(ValueError):
            c.commit(5)
        assert len(a) == 0 and a.numpy().size == 0  # reads go on
    assert a.tolist() == [9, 9, 9, 9]
    with pytest.raises(mba.Error) as e:
        with claim(mba.array.attach(uri, readonly=True), 1):
            pass
    assert e.value.status == -4


def test_wait_len_sleeps_until_an_append_or_its_timeout(uri):
    a = mba.array("I", uri=uri, exclusive=True)
    r = mba.array.attach(uri)
    assert wait_len(r, 0) == 0
    assert wait_len(r, 1, timeout=0) == 0
    t = time.monotonic()
    assert wait_len(r, 1, timeout=0.05) == 0
    assert time.monotonic() - t >= 0.05
    got = []
    w = threading.Thread(target=lambda: got.append(wait_len(r, 1000)))
    w.start()
    for _ in range(10):
        with claim(a, 100) as room:
            room[:] = 1
    w.join()
    assert got and got[0] >= 1000


def test_wait_len_releases_the_gil(uri):
    a = mba.array("I", uri=uri)
    ticks = []
    w = threading.Thread(target=lambda: wait_len(a, 1, timeout=0.3))
    w.start()
    end = time.monotonic() + 0.2
    while time.monotonic() < end:  # this thread runs Python while the other sleeps in C
        ticks.append(1)
    w.join()
    assert len(ticks) > 1000


def test_a_reader_in_another_process_is_woken_by_a_claim(uri):
    a = mba.array("I", uri=uri)
    code = (
        "import sys, mba\n"
        "from mba._claim import wait_len\n"
        "r = mba.array.attach(sys.argv[1], readonly=True)\n"
        "print(wait_len(r, 500, timeout=60))\n"
    )
    here = os.path.dirname(os.path.dirname(os.path.abspath(mba.__file__)))
    env = dict(os.environ, PYTHONPATH=here + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen([sys.executable, "-c", code, uri], stdout=subprocess.PIPE, text=True, env=env)
    time.sleep(0.05)
    with claim(a, 500) as room:
        room[:] = np.arange(500)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0 and int(out) == 500


def test_the_room_is_sized_by_the_count_itself(uri):
    # Claim sized its view as n * itemsize, which an int subclass answers with its own __mul__:
    # mba.claim(a, N(4)) lent a view of 2**37 elements over 4 claimed, and touching its end
    # died of SIGBUS (exit -7; SIGSEGV where the view passes the reserved range); an N(-1)
    # whose __lt__ lies passed the check. Now n and
    # commit's k are exact ints (operator.index) first.
    out = isolated("""
import sys, mba
class N(int):
    def __mul__(self, other):
        return 1 << 40
    def __lt__(self, other):
        return False
    def __le__(self, other):
        return True
    def __ge__(self, other):
        return True
a = mba.array("q", [1, 2, 3], uri=sys.argv[1])
with mba.claim(a, N(4)) as room:
    print(len(room))
    room[-1] = 9
for n in (N(-1),):
    try:
        mba.claim(a, n)
    except ValueError as e:
        print("ValueError", e)
c = mba.claim(a, 2)
with c as room:
    try:
        c.commit(N(5))
    except ValueError as e:
        print("ValueError", e)
print(a.tolist())
""", uri)
    assert out == ("4\nValueError claim needs a count of at least 0 elements\n"
                   "ValueError commit count 5 must be 0 to 2\n[1, 2, 3, 0, 0, 0, 9, 0, 0]\n"), out
