"""Turns the JSON lines of native.cpp, python_peers.py and the Go benchmark into
docs/BENCHMARKS.md (tables, targets met or missed, machine, date, versions) and
docs/benchmarks.png. Usage: report.py RESULTS.jsonl C_ABI_TABLE.md OUT.md OUT.png HEADER.md"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results_path, cabi_path, out_md, out_png, header_path = sys.argv[1:6]
rows = [json.loads(l) for l in open(results_path) if l.startswith("{")]
by = {(r["group"], r["impl"]): r for r in rows}


def med(group, impl):
    return by[(group, impl)]["median"]


BASELINE = {
    "append": ("append", "plain C (shm_open + ftruncate + mremap)"),
    "py-append": ("py-append", "array.array.append"),
    "py-getitem": ("py-getitem", "array.array a[i]"),
    "py-len": ("py-len", "array.array len(a)"),
    "py-iter": ("py-iter", "array.array iteration"),
    "fill": ("fill", "plain C fill (shm_open + ftruncate + mmap + memcpy)"),
    "read": ("read", "sum over a plain in-process array"),
    "create": ("create", "raw shm_open + mmap 4 KiB"),
    "attach": ("attach", "raw shm_open + mmap 4 KiB"),
    "pingpong": ("pingpong", "pipe: write, read by the other process, answered"),
    "window-random": ("window-random", "plain mmap + memcpy (whole file mapped, no budget)"),
    "window-fit": ("window-fit", "plain mmap + memcpy (whole file mapped, no budget)"),
    "window-scan": ("window-scan", "plain mmap, sum of every u32 (whole file mapped, no budget)"),
    "window-py-random": ("window-py-random", "smmap SlidingWindowMapBuffer[o:o+4096]"),
    "window-py-scan": ("window-py-scan", "smmap use_region + np.frombuffer(buffer()).sum()"),
}
TITLES = {
    "append": "Append one at a time into a growing shared array (u32)",
    "py-append": "Python: append one at a time",
    "py-getitem": "Python: a[i] in a loop over 1,000,000 indices",
    "py-len": "Python: len(a) in a loop",
    "py-iter": "Python: iteration over 1,000,000 elements",
    "fill": "Bulk fill (u32)",
    "read": "Read",
    "create": "Create (µs)",
    "attach": "Attach, timed inside a second process (µs)",
    "pingpong": "Growth seen by a reader: append in one process, seen and answered by another",
    "window-random": "Windowed reader, C: random 4 KiB reads over a file 4× the memory budget (1 MiB windows)",
    "window-fit": "Windowed reader, C: random 4 KiB reads in a working set that fits the budget",
    "window-scan": "Windowed reader, C: sequential typed scan (sum of every u32) of a file 4× the budget",
    "window-py-random": "Windowed reader, Python: random 4 KiB reads over a file 4× the budget, mba.smmap and smmap",
    "window-py-scan": "Windowed reader, Python: sequential typed scan (sum of every u32), mba.smmap and smmap",
}

out = [open(header_path).read().rstrip(), "", "## mba through its C ABI", "", open(cabi_path).read().strip(), ""]
out += ["## mba against the alternatives", "",
        "Each figure is the median of the runs after a warm-up, with min–max; ratios are against the row "
        "named in the heading, measured in the same run.", ""]
for group in ["append", "py-append", "py-getitem", "py-len", "py-iter", "fill", "read", "create", "attach", "pingpong",
              "window-random", "window-fit", "window-scan", "window-py-random", "window-py-scan"]:
    members = [r for r in rows if r["group"] == group]
    if not members:
        continue
    base = by.get(BASELINE[group])
    out += [f"### {TITLES[group]}", "", f"| implementation | median | min–max | unit | × {base['impl'] if base else ''} |",
            "|---|---|---|---|---|"]
    for r in members:
        ratio = f"{r['median'] / base['median']:.2f}" if base and base["median"] > 0 else "—"
        out.append(f"| {r['impl']} | {r['median']:.3g} | {r['min']:.3g}–{r['max']:.3g} | {r['unit']} | {ratio} |")
    out.append("")

# ---- targets ----
targets = []


def target(text, ok, figures):
    targets.append((text, ok, figures))


excl = med("append", "mba C, exclusive")
boost = med("append", "Boost.Interprocess vector push_back")
vec = med("append", "std::vector push_back")
plain = med("append", "plain C (shm_open + ftruncate + mremap)")
target("mba C exclusive append faster than Boost.Interprocess push_back", excl < boost, f"{excl:.2f} vs {boost:.2f} ns")
target("mba C exclusive append faster than std::vector push_back without reserve", excl < vec, f"{excl:.2f} vs {vec:.2f} ns")
target("mba C exclusive append within 1.5× the plain C loop", excl <= 1.5 * plain, f"{excl / plain:.2f}×")
fill = med("fill", "plain C fill (shm_open + ftruncate + mmap + memcpy)")
safill = med("fill", "SharedArray create + fill")
for impl in ["mba_extend", "Python mba.array.extend(numpy)"]:
    v = med("fill", impl)
    target(f"{impl} within 1.1× the plain C fill", v <= 1.1 * fill, f"{v / fill:.2f}×")
    target(f"{impl} at least as fast as SharedArray's fill", v <= safill, f"{v:.2f} vs {safill:.2f} ns")
for impl, base in [("sum through mba_data()", "sum over a plain in-process array"),
                   ("Python sum through mba .numpy()", "Python sum over a plain numpy array"),
                   ("Go sum over the mba View", "Go sum over a plain slice")]:
    if ("read", impl) in by:
        r = med("read", impl) / med("read", base)
        target(f"{impl} equal to a plain in-process array's sum (within 10%)", 0.9 <= r <= 1.1, f"{r:.2f}×")
att, raw = med("attach", "mba 4 KiB"), med("attach", "raw shm_open + mmap 4 KiB")
target("mba attach of 4 KiB at most 2× raw shm_open + mmap", att <= 2 * raw, f"{att:.1f} vs {raw:.1f} µs = {att / raw:.2f}×")
patt, saatt = med("attach", "Python mba 4 KiB"), med("attach", "SharedArray 4 KiB")
target("mba attach of 4 KiB no slower than SharedArray's (both from Python)", patt <= saatt, f"{patt:.1f} vs {saatt:.1f} µs")
for size in [s for s in ["4 KiB", "1 GiB"] if ("create", f"Python mba {s}") in by]:
    pc, sc = med("create", f"Python mba {size}"), med("create", f"SharedArray {size}")
    target(f"mba create of {size} no slower than SharedArray's (both from Python)", pc <= sc, f"{pc:.1f} vs {sc:.1f} µs")
pa, ma = med("py-append", "mba.array.append"), med("py-append", "mmap_backed_array append")
target("Python mba.array.append at least 10× faster than mmap_backed_array's", ma >= 10 * pa, f"{ma / pa:.1f}× faster")
sa = med("py-append", "array.array.append")
target("Python mba.array.append within 8× array.array's", pa <= 8 * sa, f"{pa / sa:.2f}×")
for group, what, bound in [("py-getitem", "a[i]", 4), ("py-len", "len(a)", 4), ("py-iter", "iteration", 3)]:
    if (group, f"mba.array {what}") in by:
        m, s_, mm = (med(group, f"{impl} {what}") for impl in ("mba.array", "array.array", "mmap_backed_array"))
        target(f"Python mba.array {what} within {bound}× array.array's", m <= bound * s_, f"{m / s_:.2f}×")
        alone = by.get((group, "the loop alone (for i in range(n): pass)"))
        floor = f"; 10× would be {mm / 10:.1f} ns a turn, the empty loop takes {alone['median']:.1f}" if alone else ""
        target(f"Python mba.array {what} at least 10× faster than mmap_backed_array's", mm >= 10 * m,
               f"{mm / m:.1f}× faster{floor}")

if ("window-py-random", "smmap SlidingWindowMapBuffer[o:o+4096]") in by:
    theirs = med("window-py-random", "smmap SlidingWindowMapBuffer[o:o+4096]")
    for impl in ["mba.smmap SlidingWindowMapBuffer[o:o+4096]", "mba.smmap cursor.read(o, 4096)"]:
        ours = med("window-py-random", impl)
        target(f"{impl} at least 5× faster than smmap's SlidingWindowMapBuffer (random 4 KiB reads)",
               theirs >= 5 * ours, f"{theirs / ours:.1f}× faster")
    cur_t = med("window-py-random", "smmap use_region + bytes(buffer())")
    cur_o = med("window-py-random", "mba.smmap use_region + bytes(buffer())")
    target("mba.smmap use_region + buffer() at least 5× faster than smmap's (random 4 KiB reads)", cur_t >= 5 * cur_o,
           f"{cur_t / cur_o:.1f}× faster (both map a window per miss)")
if ("window-fit", "mba_window_read, mapped reads") in by:
    w, p = med("window-fit", "mba_window_read, mapped reads"), med("window-fit", BASELINE["window-fit"][1])
    target("C windowed reader (mapped reads) within 1.5× plain mmap + memcpy when the working set fits the budget",
           w <= 1.5 * p, f"{w:.0f} vs {p:.0f} ns = {w / p:.2f}×")

# ---- issue 14: claim/commit, batching appenders, readers that sleep, create and attach ----
def issue14_section():
    """The tables of the groups issue 14 added, and every target of the issue, met or not."""
    lines = []
    for group, base_impl, title in [
        ("claim", "plain C loop into a pre-allocated shm object",
         "Claim and commit: the caller's loop writes into the array (u32)"),
        ("wake", "bare futex wake between two processes",
         "Readers that sleep: one-way wake-up latency of a sleeping reader in another process, and its CPU time"),
    ]:
        members = [r for r in rows if r["group"] == group]
        if not members:
            continue
        base = by.get((group, base_impl))
        lines += [f"### {title}", "", f"| implementation | median | min–max | unit | × {base_impl} |",
                  "|---|---|---|---|---|"]
        for r in members:
            ratio = f"{r['median'] / base['median']:.2f}" if base and r["unit"] == base["unit"] else "—"
            lines.append(f"| {r['impl']} | {r['median']:.3g} | {r['min']:.3g}–{r['max']:.3g} | {r['unit']} | {ratio} |")
        lines.append("")

    t14 = []

    def have(*keys):
        return all(k in by for k in keys)

    def check(text, keys, ok, figures):
        if have(*keys):
            t14.append((text, ok(), figures()))
        else:
            t14.append((text, False, "not measured in this run"))

    k = (("claim", "mba claim/commit, batches of 4096, after mba_reserve(N)"),
         ("claim", "plain C loop into a pre-allocated shm object"))
    check("10,000,000 u32 through claim/commit in batches of 4096 within 1.1× the plain C loop into a "
          "pre-allocated shm object", k, lambda: by[k[0]]["median"] <= 1.1 * by[k[1]]["median"],
          lambda: f"{by[k[0]]['median']:.2f} vs {by[k[1]]['median']:.2f} ns = {by[k[0]]['median'] / by[k[1]]['median']:.2f}×")
    app = ("append", "mba C++ appender push_back (claim/commit, batches of 4096)")
    for other in ["Boost.Interprocess vector push_back", "std::vector push_back"]:
        k = (app, ("append", other))
        check(f"C++ mba::appender push_back faster than {other}"
              + (" (no reserve)" if other.startswith("std") else ""), k,
              lambda k=k: by[k[0]]["median"] < by[k[1]]["median"],
              lambda k=k: f"{by[k[0]]['median']:.2f} vs {by[k[1]]['median']:.2f} ns")
    k = (("append", "mba Go Appender (claim/commit, batches of 4096)"), ("append", "Go slice append (growing)"))
    check("Go Appender within 3× appending to a Go slice", k, lambda: by[k[0]]["median"] <= 3 * by[k[1]]["median"],
          lambda: f"{by[k[0]]['median']:.2f} vs {by[k[1]]['median']:.2f} ns = {by[k[0]]['median'] / by[k[1]]['median']:.2f}×")
    k = (("append", "mba C, exclusive"), ("append", "plain C (shm_open + ftruncate + mremap)"))
    check("per-element exclusive mba_append within 1.5× the plain C doubling loop", k,
          lambda: by[k[0]]["median"] <= 1.5 * by[k[1]]["median"],
          lambda: f"{by[k[0]]['median']:.2f} vs {by[k[1]]['median']:.2f} ns = {by[k[0]]['median'] / by[k[1]]['median']:.2f}×")
    k = (("read", "mba_get per element"),)
    check("mba_get within 2 ns per element", k, lambda: by[k[0]]["median"] <= 2.0, lambda: f"{by[k[0]]['median']:.2f} ns")
    k = (("wake", "mba_wait_len woken by an mba_append in another process"), ("wake", "bare futex wake between two processes"))
    check("an append seen by a reader sleeping in mba_wait_len in another process within 2× a bare futex wake", k,
          lambda: by[k[0]]["median"] <= 2 * by[k[1]]["median"],
          lambda: f"{by[k[0]]['median']:.1f} vs {by[k[1]]['median']:.1f} µs = {by[k[0]]['median'] / by[k[1]]['median']:.2f}×")
    k = (("wake", "mba_wait_len woken by an mba_append in another process"),
         ("pingpong", "pipe: write, read by the other process, answered"))
    check("... and at most a fifth of a pipe round trip", k,
          lambda: by[k[0]]["median"] <= by[k[1]]["median"] / 5,
          lambda: f"{by[k[0]]['median']:.1f} µs vs a fifth of {by[k[1]]['median']:.1f} µs")
    k = (("pingpong", "mba: append, seen by mba_wait_len in the other process, answered"),
         ("pingpong", "pipe: write, read by the other process, answered"))
    check("(for comparison) a round trip of two processes answering each other through mba_wait_len, at most a "
          "fifth of a pipe round trip", k, lambda: by[k[0]]["median"] <= by[k[1]]["median"] / 5,
          lambda: f"{by[k[0]]['median']:.2f} vs {by[k[1]]['median']:.2f} µs = {by[k[0]]['median'] / by[k[1]]['median']:.2f}×")
    k = (("wake", "CPU time of a reader sleeping in mba_wait_len (read-write handle)"),)
    check("a reader sleeping in mba_wait_len uses no CPU (at most 0.1% of one: 1 ms per second)", k,
          lambda: by[k[0]]["median"] <= 1000, lambda: f"{by[k[0]]['median']:.0f} µs CPU per second asleep")
    k = (("create", "mba 4 KiB"), ("create", "Boost.Interprocess 4 KiB"))
    check("create of 4 KiB no slower than Boost.Interprocess's", k, lambda: by[k[0]]["median"] <= by[k[1]]["median"],
          lambda: f"{by[k[0]]['median']:.1f} vs {by[k[1]]['median']:.1f} µs = {by[k[0]]['median'] / by[k[1]]['median']:.2f}×")
    k = (("attach", "mba 4 KiB"), ("attach", "raw shm_open + mmap 4 KiB"))
    check("attach of 4 KiB within 2× raw shm_open + mmap", k, lambda: by[k[0]]["median"] <= 2 * by[k[1]]["median"],
          lambda: f"{by[k[0]]['median']:.1f} vs {by[k[1]]['median']:.1f} µs = {by[k[0]]['median'] / by[k[1]]['median']:.2f}×")
    for what in ["create", "attach"]:
        k = ((what, "Python mba 4 KiB"), (what, "SharedArray 4 KiB"))
        check(f"Python {what} of 4 KiB within 1.5× SharedArray's", k,
              lambda k=k: by[k[0]]["median"] <= 1.5 * by[k[1]]["median"],
              lambda k=k: f"{by[k[0]]['median']:.1f} vs {by[k[1]]['median']:.1f} µs = {by[k[0]]['median'] / by[k[1]]['median']:.2f}×")
    k = (("read", "Go sum over the mba View"), ("read", "Go sum over a plain slice"))
    check("Go sum over a View within 1.1× a plain slice", k, lambda: by[k[0]]["median"] <= 1.1 * by[k[1]]["median"],
          lambda: f"{by[k[0]]['median'] / by[k[1]]['median']:.2f}×")
    lines += ["## Targets of issue 14 (claim/commit, batching appenders, readers that sleep, create and attach)", "",
              "| target | met | figures |", "|---|---|---|"]
    lines += [f"| {t} | {'yes' if ok else '**no**'} | {f} |" for t, ok, f in t14]
    lines += ["", f"{sum(ok for _, ok, _ in t14)} of {len(t14)} issue-14 targets met in this run.", ""]
    return lines


out += issue14_section()

out += ["## Targets", "", "| target | met | figures |", "|---|---|---|"]
out += [f"| {t} | {'yes' if ok else '**no**'} | {f} |" for t, ok, f in targets]
out += ["", f"{sum(ok for _, ok, _ in targets)} of {len(targets)} targets met in this run. "
        "Why the others are missed, and what was done about them, is below.", "",
        "![benchmarks](benchmarks.png)", ""]
open(out_md, "w").write("\n".join(out) + "\n")

# ---- plot ----
groups = ["append", "fill", "read", "attach"]
fig, axes = plt.subplots(len(groups), 1, figsize=(10, 13))
for ax, group in zip(axes, groups):
    members = [r for r in rows if r["group"] == group and (group != "attach" or "4 KiB" in r["impl"])]
    names = [r["impl"] for r in members]
    values = [r["median"] for r in members]
    errs = [[r["median"] - r["min"] for r in members], [r["max"] - r["median"] for r in members]]
    colors = ["#d62728" if "mba" in n.lower() else "#7f7f7f" for n in names]
    ax.barh(names, values, xerr=errs, color=colors)
    ax.invert_yaxis()
    ax.set_xlabel(members[0]["unit"] + (", log scale" if group == "attach" else "") if members else "")
    if group == "attach":
        ax.set_xscale("log")
    ax.set_title(TITLES[group] + (" — 4 KiB" if group == "attach" else ""), fontsize=10)
    ax.tick_params(axis="y", labelsize=7)
fig.suptitle("mba (red) against the alternatives, median with min–max", fontsize=12)
fig.tight_layout()
fig.savefig(out_png, dpi=90)
