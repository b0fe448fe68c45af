"""The windowed reader from Python: mba.smmap against smmap at the same budget and window size,
over a file four times the memory budget. Prints JSON lines like native.cpp.

  window-py-random: random 4 KiB reads, through smmap's own API (SlidingWindowMapBuffer slices,
                    and use_region + bytes(buffer())) on both, and mba.smmap's typed read()
  window-py-scan:   a sequential typed scan (sum of every u32), window by window

Each figure is the median of RUNS runs after a warm-up; the implementations of a group take turns
within each run, so a load change on the machine hits them alike.
Usage: window_peers.py DIR [BUDGET_MIB] [RUNS]   (MBA_LIBRARY must point at libmba.so)"""

import json
import os
import random
import sys
import time

import numpy as np
import smmap

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bindings", "python"))
from mba import smmap as msm  # noqa: E402

DIR = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
BUDGET = (int(sys.argv[2]) if len(sys.argv) > 2 else 64) << 20
RUNS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
WINDOW = 1 << 20
SIZE = 4 * BUDGET
READS = int(sys.argv[4]) if len(sys.argv) > 4 else 20_000
PATH = os.path.join(DIR, f"mba-window-py-{os.getpid()}.bin")


def emit(group, impl, times, scale, unit):
    t = sorted(x * scale for x in times)
    print(json.dumps({"group": group, "impl": impl, "median": t[len(t) // 2], "min": t[0], "max": t[-1],
                      "unit": unit}), flush=True)


def interleaved(group, impls, scale, unit):
    """Warm-up, then RUNS rounds in which every implementation runs once, in turn."""
    for f in impls.values():
        f()
    times = {name: [] for name in impls}
    for _ in range(RUNS):
        for name, f in impls.items():
            times[name].append(f())
    for name in impls:
        emit(group, name, times[name], scale, unit)


def managers():
    return (smmap.SlidingWindowMapManager(window_size=WINDOW, max_memory_size=BUDGET),
            msm.SlidingWindowMapManager(window_size=WINDOW, max_memory_size=BUDGET))


def main():
    rng = random.Random(1)
    with open(PATH, "wb") as f:
        for _ in range(SIZE // (1 << 20)):
            f.write(rng.randbytes(1 << 20))
    offs = [rng.randrange(SIZE - 4096) for _ in range(READS)]
    try:
        theirs, ours = managers()

        def buffer_slices(man):
            buf = msm.SlidingWindowMapBuffer if isinstance(man, msm.StaticWindowMapManager) else smmap.SlidingWindowMapBuffer
            b = buf(man.make_cursor(PATH))

            def run():
                t = time.perf_counter()
                for o in offs:
                    b[o:o + 4096]
                return time.perf_counter() - t
            return run

        def cursor_reads(man):
            c = man.make_cursor(PATH)

            def run():
                t = time.perf_counter()
                for o in offs:
                    rem = 4096
                    while rem:  # a window may end inside the 4 KiB: the rest is in the next one
                        n = len(bytes(c.use_region(o, rem).buffer()))
                        o += n
                        rem -= n
                return time.perf_counter() - t
            return run

        typed = ours.make_cursor(PATH)

        def typed_reads():
            t = time.perf_counter()
            for o in offs:
                typed.read(o, 4096)
            return time.perf_counter() - t

        interleaved("window-py-random", {
            "smmap SlidingWindowMapBuffer[o:o+4096]": buffer_slices(theirs),
            "mba.smmap SlidingWindowMapBuffer[o:o+4096]": buffer_slices(ours),
            "smmap use_region + bytes(buffer())": cursor_reads(theirs),
            "mba.smmap use_region + bytes(buffer())": cursor_reads(ours),
            "mba.smmap cursor.read(o, 4096)": typed_reads,
        }, 1e9 / READS, "ns/read")
        assert ours.stats()["peak_mapped_bytes"] <= BUDGET

        theirs, ours = managers()
        n = SIZE // 4

        def scan_windows(man):
            c = man.make_cursor(PATH)

            def run():
                t = time.perf_counter()
                total, o = 0, 0
                while o < SIZE:
                    c.use_region(o, WINDOW)
                    total += int(np.frombuffer(c.buffer(), np.uint32).sum())
                    o += c.size()
                c.unuse_region()
                return time.perf_counter() - t
            return run

        t32 = ours.make_cursor(PATH, dtype="u4")

        def scan_read():
            t = time.perf_counter()
            total, step = 0, WINDOW // 4
            for i in range(0, n, step):
                total += int(t32.read(i, min(step, n - i)).sum())
            return time.perf_counter() - t

        def scan_view():
            t = time.perf_counter()
            total, i = 0, 0
            while i < n:
                v = t32.view(i)
                total += int(v.sum())
                i += len(v)
                del v
            return time.perf_counter() - t

        mm = np.memmap(PATH, dtype=np.uint32, mode="r")

        def scan_memmap():
            t = time.perf_counter()
            int(mm.sum())
            return time.perf_counter() - t

        interleaved("window-py-scan", {
            "numpy.memmap sum (whole file mapped, no budget)": scan_memmap,
            "smmap use_region + np.frombuffer(buffer()).sum()": scan_windows(theirs),
            "mba.smmap use_region + np.frombuffer(buffer()).sum()": scan_windows(ours),
            "mba.smmap cursor(dtype='u4').read(i, 256 Ki).sum()": scan_read,
            "mba.smmap cursor(dtype='u4').view(i).sum()": scan_view,
        }, 1e9 / n, "ns/elem")
        assert ours.stats()["peak_mapped_bytes"] <= BUDGET
        del mm
    finally:
        os.unlink(PATH)


if __name__ == "__main__":
    main()
