"""Threads on one mba.array, forked children, other processes splicing and appending at once,
and pickles that travel through multiprocessing (issue 8, issue 12)."""

import array
import gc
import multiprocessing
import os
import pickle
import random
import subprocess
import sys
import threading
import time

import pytest

import mba
from conftest import isolated

PYTHONPATH = os.path.dirname(mba.__path__[0])
MARK = 2**64 - 1  # never appended by a writer


def expected(writers, per_writer):
    return sorted(w << 32 | i for w in range(writers) for i in range(per_writer))


def check_writers_order(values, writers):
    """Each writer's values appear exactly once, in the order it wrote them."""
    last = [-1] * writers
    for v in values:
        w, i = v >> 32, v & 0xFFFFFFFF
        assert w < writers and i == last[w] + 1, f"value {w}:{i} after {last[w]}"
        last[w] = i
    return last


@pytest.mark.parametrize("exclusive", [False, True], ids=["shared", "exclusive"])
def test_threads_append_and_read_one_array(uri, exclusive):
    a = mba.array("Q", uri=uri, exclusive=exclusive)
    writers, per_writer = 6, 4000
    done = threading.Event()
    errors = []

    def writer(w):
        try:
            for i in range(0, per_writer, 4):
                if i % 8:
                    a.append(w << 32 | i)
                    a.append(w << 32 | i + 1)
                    a.append(w << 32 | i + 2)
                    a.append(w << 32 | i + 3)
                else:  # extend from a buffer, and from a list
                    a.extend(array.array("Q", [w << 32 | i, w << 32 | i + 1]))
                    a.extend([w << 32 | i + 2, w << 32 | i + 3])
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    def reader():
        rng = random.Random(os.getpid())
        reads = 0
        try:
            while not done.is_set() or reads < 1000:
                n = len(a)
                if not n:
                    continue
                for i in (rng.randrange(n), n - 1, -1):
                    v = a[i]
                    assert v >> 32 < writers and v & 0xFFFFFFFF < per_writer, f"wrong read {v:#x} at {i} of {n}"
                reads += 1
                if reads % 200 == 0:
                    for v in a[: min(n, 512)]:
                        assert v >> 32 < writers, f"wrong read {v:#x} in a slice"
                    view = a.memoryview()
                    assert all(v >> 32 < writers for v in view[-64:])
                    del view
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    threads += [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads[:writers]:
        t.join()
    done.set()
    for t in threads[writers:]:
        t.join()
    assert not errors, errors
    values = a.tolist()
    assert sorted(values) == expected(writers, per_writer), "every value exactly once"
    check_writers_order(values, writers)


@pytest.mark.parametrize("exclusive", [False, True], ids=["shared", "exclusive"])
def test_threads_append_while_another_splices(uri, exclusive):
    a = mba.array("Q", uri=uri, exclusive=exclusive)
    writers, per_writer = 4, 3000
    errors = []

    def writer(w):
        try:
            for i in range(per_writer):
                a.append(w << 32 | i)
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    def splicer():
        try:
            for k in range(300):
                a.insert(0, MARK)
                a.insert(len(a) // 2, MARK)
                a[1:1] = array.array("Q", [MARK, MARK])
                while MARK in a:
                    a.remove(MARK)
                if k % 10 == 0 and len(a) > 4:
                    first = a[0]
                    del a[0]
                    a.insert(0, first)
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)] + [threading.Thread(target=splicer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert MARK not in a
    assert sorted(a.tolist()) == expected(writers, per_writer)


def test_closing_while_other_threads_read(uri):
    # Closing frees nothing another thread is still reading through: the mapping goes with the
    # last view of it, so readers get values or ValueError, never a crash.
    for _ in range(20):
        a = mba.array("d", [float(i) for i in range(20000)])
        seen = []

        def reader():
            try:
                for x in a:
                    seen.append(x)
                while True:
                    a[len(a) - 1]
            except ValueError:
                pass

        t = threading.Thread(target=reader)
        t.start()
        time.sleep(0.001)
        while True:
            try:
                a.close()
                break
            except BufferError:  # pragma: no cover - a view of the reader exists for a moment
                time.sleep(0.001)
        t.join()
        assert seen == [float(i) for i in range(len(seen))]


# ---- fork ----------------------------------------------------------------------------------


def _child_after_fork(a, uri, parent, q):
    try:
        out = {"read": a[:3].tolist(), "len": len(a)}
        try:
            a.append(99)
            out["append"] = "appended"
        except mba.WrongProcessError as e:
            out["append"] = str(e)
        try:
            a[0] = 7
            out["set"] = "set"
        except mba.WrongProcessError:
            out["set"] = "refused"
        again = mba.array.attach(uri)  # re-attached in this process: a writer of its own
        try:
            again.extend([100, 101])
            out["again"] = len(again)
        except mba.BusyError:
            out["again"] = "busy"  # the parent holds MBA_EXCLUSIVE
        del a, again
        gc.collect()
        q.put(out)
    except BaseException as e:  # pragma: no cover
        q.put(repr(e))


@pytest.mark.parametrize("exclusive", [False, True], ids=["shared", "exclusive"])
def test_multiprocessing_fork_children_are_safe_by_default(uri, exclusive):
    a = mba.array("q", [1, 2, 3], uri=uri, exclusive=exclusive)
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_after_fork, args=(a, uri, os.getpid(), q))
    p.start()
    out = q.get(timeout=60)
    p.join(60)
    assert p.exitcode == 0, out
    assert isinstance(out, dict), out
    assert out["read"] == [1, 2, 3] and out["len"] == 3, "reads of an inherited array keep working"
    assert str(os.getpid()) in out["append"] and "attach" in out["append"], out["append"]
    assert out["set"] == "refused"
    a.append(4)  # the child's exit and finalizers released nothing of the parent's
    if exclusive:
        assert out["again"] == "busy", "the parent's lease holds in the child too"
        with pytest.raises(mba.BusyError):
            mba.array.attach(uri, exclusive=True)
        assert a.tolist() == [1, 2, 3, 4]
    else:
        assert out["again"] == 5, "a re-attached handle appends in the child"
        assert a.tolist() == [1, 2, 3, 100, 101, 4]


FORKED_VIEWS = """
import os, sys, mba
a = mba.array("d", [1.0, 2.0], uri=sys.argv[1])
pid = os.fork()
if pid == 0:
    out = []
    views = {"a.memoryview()": lambda: a.memoryview()}
    if mba.BUFFER_PROTOCOL is not None:
        views["memoryview(a)"] = lambda: memoryview(a)
    try:
        import numpy
        views["a.numpy()"] = lambda: a.numpy()
    except ImportError:
        pass
    for name, make in views.items():
        v = make()
        try:
            v[0] = 9.0
            out.append(name + " written")
        except (TypeError, ValueError):
            out.append(name + " read-only")
        del v
    print(" ".join(out), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
print(a.tolist())
"""


def test_a_forked_childs_views_are_read_only(uri):
    # A forked child cannot change an inherited array through a[i] = x (WrongProcessError), so
    # its views cannot either: a.memoryview() and a.numpy() used to be writable there.
    out = isolated(FORKED_VIEWS, uri).split("\n")
    assert "written" not in out[0] and "a.memoryview() read-only" in out[0], out
    assert out[1] == "[1.0, 2.0]"


def _fork_and_drop(a):
    pid = os.fork()
    if pid == 0:  # the child drops and collects its copy, then exits normally
        try:
            a.close()
            del a
            gc.collect()
        finally:
            os._exit(0)
    return pid


@pytest.mark.skipif(sys.platform != "linux", reason="fork")
def test_a_forked_child_dropping_its_copy_releases_nothing(uri):
    a = mba.array("i", [5], uri=uri, exclusive=True)
    for _ in range(20):
        pid = _fork_and_drop(a)
        assert os.waitpid(pid, 0)[1] == 0
        a.append(6)  # still the only appender
        with pytest.raises(mba.BusyError):
            mba.array.attach(uri, exclusive=True)
    assert len(a) == 21


@pytest.mark.skipif(sys.platform != "linux", reason="fork")
def test_a_fork_while_another_thread_holds_the_view_lock_leaves_the_child_free(uri):
    # Views and buffer exports count themselves under one lock for all arrays. A thread of the
    # parent holding it at fork() does not exist in the child: the child must get a new lock,
    # or its first view would wait forever.
    import warnings

    a = mba.array("i", [1, 2, 3], uri=uri)
    orphan = a[:]._s  # a state whose array is gone, kept alive here
    held, done = threading.Event(), threading.Event()

    def hold():
        with mba._VIEWS_LOCK[0]:
            held.set()
            done.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    assert held.wait(10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads (3.12+)
        pid = os.fork()
    if pid == 0:
        code = 3
        try:
            v = a.memoryview()  # counted under the lock
            n = len(v)
            v.release()
            with mba._VIEWS_LOCK[0]:  # what every array's counts use, orphans' too
                pass
            code = 0 if n == 3 and orphan.exports == 0 else 1
        finally:
            os._exit(code)
    done.set()
    t.join()
    deadline = time.monotonic() + 20
    while True:
        got, status = os.waitpid(pid, os.WNOHANG)
        if got:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the child waited for a lock held by a thread of its parent")
        time.sleep(0.01)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status


# ---- other processes splicing and appending ---------------------------------------------

APPENDER = """
import sys, mba
uri, w, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
a = mba.array.attach(uri)
for i in range(n):
    a.append(w << 32 | i)
"""


def test_a_splice_racing_appenders_in_other_processes(uri):
    a = mba.array("Q", uri=uri)
    writers, per_writer = 3, 3000
    env = dict(os.environ, PYTHONPATH=PYTHONPATH)
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, uri, str(w), str(per_writer)], env=env)
             for w in range(writers)]
    rounds = 0
    while any(p.poll() is None for p in procs) or rounds < 50:
        a.insert(0, MARK)  # every one of these is one mba_splice: the length changes once
        a[1:1] = array.array("Q", [MARK] * 3)
        del a[0]
        n = len(a)
        a.insert(n // 2, MARK)
        while MARK in a:
            a.remove(MARK)
        rounds += 1
    assert all(p.wait() == 0 for p in procs)
    values = a.tolist()
    assert MARK not in values
    assert sorted(values) == expected(writers, per_writer), "no append lost or duplicated"
    check_writers_order(values, writers)


def test_pop_at_an_index_racing_appenders_in_other_processes(uri):
    # pop(i) is one mba_splice that hands back what it removed: what it returns is the element
    # it took out, and other processes' appends (which move nothing) are neither lost nor taken.
    a = mba.array("Q", uri=uri)
    writers, per_writer = 3, 3000
    env = dict(os.environ, PYTHONPATH=PYTHONPATH)
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, uri, str(w), str(per_writer)], env=env)
             for w in range(writers)]
    rng = random.Random(os.getpid())
    rounds = 0
    while any(p.poll() is None for p in procs) or rounds < 200:
        j = rng.randrange(len(a) + 1)
        a.insert(j, MARK - rounds)
        assert a.pop(j) == MARK - rounds, f"round {rounds}: pop({j}) returned another element"
        if len(a) > 1:
            k = rng.randrange(len(a) - 1)  # an appended value, put back where it was
            v = a.pop(k)
            assert v >> 32 < writers, f"pop({k}) returned {v:#x}"
            a.insert(k, v)
        rounds += 1
    assert all(p.wait() == 0 for p in procs)
    values = a.tolist()
    assert sorted(values) == expected(writers, per_writer), "no append lost or duplicated"
    check_writers_order(values, writers)


REMOVER = """
import random, sys, mba
uri, r, removers, per_remover = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
a = mba.array.attach(uri)
mine = [2**64 - 1 - (j * removers + r) for j in range(per_remover)]
random.Random(r).shuffle(mine)
busy = 0
for x in mine:
    while True:
        try:
            a.remove(x)  # ValueError (exit 1) if another process removed it
            break
        except mba.BusyError:  # the others moved it 64 times in a row; the array is as it was
            busy += 1
print("removed", len(mine), "busy", busy)
"""


def test_remove_racing_removers_and_appenders_in_other_processes(uri):
    # Processes remove their own markers from one array at once while others append: a search
    # and a removal are two steps, so an index found may hold another process's marker by the
    # time it is removed. remove(x) removes element k only if it still holds what the search
    # found there, and otherwise searches again: every process removes exactly its markers, and
    # no appended value goes. After 64 searches in a row overtaken by the others it gives
    # BusyError with the array as it was (under load, with removers this busy, it can), and the
    # remover tries again.
    removers, per_remover, writers, per_writer = 3, 700, 2, 3000
    markers = [2**64 - 1 - (j * removers + r) for j in range(per_remover) for r in range(removers)]
    a = mba.array("Q", markers, uri=uri)
    env = dict(os.environ, PYTHONPATH=PYTHONPATH)
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, uri, str(w), str(per_writer)], env=env)
             for w in range(writers)]
    rem = [subprocess.Popen([sys.executable, "-c", REMOVER, uri, str(r), str(removers), str(per_remover)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(removers)]
    for p in rem:
        out, err = p.communicate()
        assert p.returncode == 0 and out.startswith(f"removed {per_remover} busy "), err[-2000:]
    assert all(p.wait() == 0 for p in procs)
    values = a.tolist()
    assert sorted(values) == expected(writers, per_writer), "every marker removed once, no append lost"


# ---- pickles through multiprocessing ------------------------------------------------------


def _echo(a):
    """Runs in a pool worker: returns what it got, after changing it."""
    before = a.tolist()
    a.append(1000)
    return before, a.uri, a.tolist()


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_arrays_travel_through_multiprocessing(uri, method):
    ctx = multiprocessing.get_context(method)
    anonymous = mba.array("d", [0.5, 1.5])
    named = mba.array("l", [1, 2, 3], uri=uri)
    copied = mba.array.attach(uri)
    copied.pickle_by = "value"
    with ctx.Pool(1) as pool:
        got_anonymous = pool.apply(_echo, (anonymous,))
        got_named = pool.apply(_echo, (named,))
        got_copied = pool.apply(_echo, (copied,))
    assert got_anonymous == ([0.5, 1.5], None, [0.5, 1.5, 1000.0])
    assert anonymous.tolist() == [0.5, 1.5], "by value: the worker changed its own copy"
    assert got_named == ([1, 2, 3], uri, [1, 2, 3, 1000])
    assert named.tolist() == [1, 2, 3, 1000], "by name: the worker attached the same array"
    assert got_copied == ([1, 2, 3, 1000], None, [1, 2, 3, 1000, 1000])
    assert named.tolist() == [1, 2, 3, 1000]


def test_iterators_pickle_with_their_array():
    a = mba.array("i", range(10))
    it = iter(a)
    next(it), next(it)
    it2, a2 = pickle.loads(pickle.dumps((it, a)))
    a2.append(10)
    assert list(it2) == list(range(2, 11)) and list(it) == list(range(2, 10))
