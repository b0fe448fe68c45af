// native.cpp: mba against the native alternatives users would pick, measured in one run.
// Prints one JSON object per line: {"group", "impl", "median", "min", "max", "unit"}; every
// figure is the median of RUNS runs after one warm-up. Usage: native [N] [RUNS]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/interprocess/allocators/allocator.hpp>
#include <boost/interprocess/containers/vector.hpp>
#include <boost/interprocess/managed_shared_memory.hpp>

#include "mba.hpp"

namespace bip = boost::interprocess;
using shm_alloc = bip::allocator<uint32_t, bip::managed_shared_memory::segment_manager>;
using shm_vector = bip::vector<uint32_t, shm_alloc>;

static uint64_t N = 10000000;
static int RUNS = 5;
static volatile uint64_t sink;
static const char *MBA_URI = "shm://mba-compare";
static const char *RAW = "/mba-compare-raw";
static const char *BOOST = "mba-compare-boost";

static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct stat3 {
    double med, min, max;
};
static stat3 measure(const std::function<double()> &f) {
    f();
    std::vector<double> t;
    for (int i = 0; i < RUNS; i++) t.push_back(f());
    std::sort(t.begin(), t.end());
    return {t[RUNS / 2], t.front(), t.back()};
}
// scale: seconds -> unit (1e9 / N for ns per element, 1e6 for microseconds per operation).
static void emit(const char *group, const std::string &impl, stat3 s, double scale, const char *unit) {
    std::printf("{\"group\": \"%s\", \"impl\": \"%s\", \"median\": %.4f, \"min\": %.4f, \"max\": %.4f, \"unit\": \"%s\"}\n",
                group, impl.c_str(), s.med * scale, s.min * scale, s.max * scale, unit);
    std::fflush(stdout);
}
static void per_elem(const char *group, const std::string &impl, const std::function<double()> &f) {
    emit(group, impl, measure(f), 1e9 / (double)N, "ns/elem");
}

// Runs f in a forked child (a second process) and returns the seconds it reports.
static double in_child(const std::function<double()> &f) {
    int p[2];
    if (pipe(p) != 0) std::exit(3);
    pid_t pid = fork();
    if (pid == 0) {
        double t = f();
        if (write(p[1], &t, sizeof t) != sizeof t) _exit(4);
        _exit(0);
    }
    double t = -1;
    if (read(p[0], &t, sizeof t) != sizeof t) std::exit(5);
    waitpid(pid, nullptr, 0);
    close(p[0]);
    close(p[1]);
    return t;
}

// Runs this program anew (exec, not fork: no copy-on-write faults from the parent) as
// `native --attach KIND`, which times its first attach and prints the seconds.
static double in_new_process(const char *kind) {
    std::string cmd = std::string("/proc/") + std::to_string(getpid()) + "/exe --attach " + kind;
    FILE *f = popen(cmd.c_str(), "r");
    double t = -1;
    if (!f || std::fscanf(f, "%lf", &t) != 1) std::exit(7);
    pclose(f);
    return t;
}

static int attach_child(const std::string &kind) {
    double t = now();
    if (kind == "mba") {
        mba_array *h;
        if (mba_attach(MBA_URI, 0, &h) != MBA_OK) return 1;
        t = now() - t;
    } else if (kind == "raw") {
        int fd = shm_open(RAW, O_RDWR, 0);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) return 1;
        if (mmap(nullptr, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED) return 1;
        t = now() - t;
    } else {
        bip::managed_shared_memory seg(bip::open_only, BOOST);
        t = now() - t;
    }
    std::printf("%.9f\n", t);
    return 0;
}

// Ends a plain-C baseline: keeps its last element alive, unmaps, closes and unlinks.
static void raw_close(uint32_t *d, size_t bytes, int fd) {
    sink = d[N - 1];
    munmap(d, bytes);
    close(fd);
    shm_unlink(RAW);
}

// ---- append one at a time into a growing shared array ------------------------------------

static double plain_append() {
    shm_unlink(RAW);
    int fd = shm_open(RAW, O_CREAT | O_EXCL | O_RDWR, 0600);
    size_t cap = 4;
    if (fd < 0 || ftruncate(fd, (off_t)(cap * 4)) != 0) std::exit(2);
    auto *d = (uint32_t *)mmap(nullptr, cap * 4, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    double t = now();
    for (uint64_t i = 0; i < N; i++) {
        if (i == cap) {
            if (ftruncate(fd, (off_t)(cap * 8)) != 0) std::exit(2);
            d = (uint32_t *)mremap(d, cap * 4, cap * 8, MREMAP_MAYMOVE);
            cap *= 2;
        }
        d[i] = (uint32_t)i;
    }
    t = now() - t;
    raw_close(d, cap * 4, fd);
    return t;
}

static double mba_c_append(uint32_t flags) {
    mba_delete(MBA_URI);
    mba_array *a;
    if (mba_create(MBA_URI, MBA_U32, 4, flags, &a) != MBA_OK) std::exit(2);
    double t = now();
    for (uint32_t i = 0; i < N; i++) mba_append(a, &i);
    t = now() - t;
    mba_free(a);
    mba_delete(MBA_URI);
    return t;
}

static double mba_cpp_push_back() {
    mba_delete(MBA_URI);
    auto a = mba::array<uint32_t>::create(MBA_URI, 4, mba::exclusive);
    double t = now();
    for (uint32_t i = 0; i < N; i++) a.push_back(i);
    t = now() - t;
    mba_delete(MBA_URI);
    return t;
}

static double vector_push_back(bool reserve) {
    std::vector<uint32_t> v;
    if (reserve) v.reserve(N);
    double t = now();
    for (uint32_t i = 0; i < N; i++) v.push_back(i);
    t = now() - t;
    sink = v.back();
    return t;
}

static double boost_push_back() {
    bip::shared_memory_object::remove(BOOST);
    // A Boost segment has a fixed size: room for the vector's reallocations.
    bip::managed_shared_memory seg(bip::create_only, BOOST, N * 4 * 3 + (1 << 20));
    auto *v = seg.construct<shm_vector>("v")(shm_alloc(seg.get_segment_manager()));
    double t = now();
    for (uint32_t i = 0; i < N; i++) v->push_back(i);
    t = now() - t;
    sink = v->back();
    bip::shared_memory_object::remove(BOOST);
    return t;
}

// ---- bulk fill ----------------------------------------------------------------------------

static std::vector<uint32_t> source;

static double memcpy_fill() {
    std::vector<uint32_t> dst(N);
    double t = now();
    std::memcpy(dst.data(), source.data(), N * 4);
    t = now() - t;
    sink = dst[N - 1];
    return t;
}

static double plain_shm_fill() {
    shm_unlink(RAW);
    int fd = shm_open(RAW, O_CREAT | O_EXCL | O_RDWR, 0600);
    double t = now();
    if (fd < 0 || ftruncate(fd, (off_t)(N * 4)) != 0) std::exit(2);
    auto *d = (uint32_t *)mmap(nullptr, N * 4, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    std::memcpy(d, source.data(), N * 4);
    t = now() - t;
    raw_close(d, N * 4, fd);
    return t;
}

static double mba_extend_fill() {
    mba_delete(MBA_URI);
    mba_array *a;
    if (mba_create(MBA_URI, MBA_U32, 4, MBA_EXCLUSIVE, &a) != MBA_OK) std::exit(2);
    double t = now();
    if (mba_extend(a, source.data(), N) != MBA_OK) std::exit(2);
    t = now() - t;
    mba_free(a);
    mba_delete(MBA_URI);
    return t;
}

// ---- read ---------------------------------------------------------------------------------

static uint64_t sum_u32(const uint32_t *d, uint64_t n) {
    uint64_t s = 0;
    for (uint64_t i = 0; i < n; i++) s += d[i];
    return s;
}

// ---- create and attach latency -------------------------------------------------------------

static double mba_create_size(size_t bytes) {
    mba_delete(MBA_URI);
    mba_array *a;
    double t = now();
    if (mba_create(MBA_URI, MBA_U8, bytes, 0, &a) != MBA_OK) std::exit(2);
    t = now() - t;
    mba_free(a);
    return t;
}
static double raw_create_size(size_t bytes) {
    shm_unlink(RAW);
    double t = now();
    int fd = shm_open(RAW, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)bytes) != 0) std::exit(2);
    void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    t = now() - t;
    munmap(p, bytes);
    close(fd);
    return t;
}
static double boost_create_size(size_t bytes) {
    bip::shared_memory_object::remove(BOOST);
    double t = now();
    bip::managed_shared_memory seg(bip::create_only, BOOST, bytes);
    t = now() - t;
    return t;
}

// ===== Issue 14: claim/commit, the C++ appender, and readers that sleep ===================

// Appends through mba::appender (claim/commit in blocks of 4096; push_back is an inline store).
static double mba_cpp_appender() {
    mba_delete(MBA_URI);
    auto a = mba::array<uint32_t>::create(MBA_URI, 4, mba::exclusive);
    double t = now();
    {
        mba::appender<uint32_t> out(a);
        for (uint32_t i = 0; i < N; i++) out.push_back(i);
        out.flush();
    }
    t = now() - t;
    if (a.size() != N) std::exit(8);
    mba_delete(MBA_URI);
    return t;
}

// The plain C loop into a shm object sized and allocated (posix_fallocate) for all N beforehand.
static double plain_presized_loop() {
    shm_unlink(RAW);
    int fd = shm_open(RAW, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0 || posix_fallocate(fd, 0, (off_t)(N * 4)) != 0) std::exit(2);
    auto *d = (uint32_t *)mmap(nullptr, N * 4, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    double t = now();
    for (uint64_t i = 0; i < N; i++) d[i] = (uint32_t)i;
    t = now() - t;
    raw_close(d, N * 4, fd);
    return t;
}

// mba_claim / fill / mba_commit in batches of 4096; `reserve`: the store allocated for N first,
// as the plain loop's is.
static double mba_claim_batches(bool reserve) {
    mba_delete(MBA_URI);
    mba_array *a;
    if (mba_create(MBA_URI, MBA_U32, 4, MBA_EXCLUSIVE, &a) != MBA_OK) std::exit(2);
    if (reserve && mba_reserve(a, N) != MBA_OK) std::exit(2);
    double t = now();
    for (uint64_t i = 0; i < N;) {
        uint64_t k = N - i < 4096 ? N - i : 4096;
        void *p;
        if (mba_claim(a, k, &p) != MBA_OK) std::exit(2);
        auto *d = static_cast<uint32_t *>(p);
        for (uint64_t j = 0; j < k; j++) d[j] = (uint32_t)(i + j);
        if (mba_commit(a, k) != MBA_OK) std::exit(2);
        i += k;
    }
    t = now() - t;
    if (mba_len(a) != N) std::exit(8);
    mba_free(a);
    mba_delete(MBA_URI);
    return t;
}

static uint64_t mono_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static long futex(std::atomic<uint32_t> *w, int op, uint32_t v) {
    return syscall(SYS_futex, reinterpret_cast<uint32_t *>(w), op, v, nullptr, nullptr, 0);
}

// One-way wake-up latency of a sleeping reader in another process: each round the writer
// pauses 1 ms (the reader is asleep by then), stamps the time and wakes it, by a bare futex wake,
// an mba append (the reader in mba_wait_len, attached read-write), or a byte through a pipe; the
// reader stamps the time it returns. Returns the median latency of WAKE_ROUNDS rounds, in seconds.
static const int WAKE_ROUNDS = 100;
struct wake_shared {
    std::atomic<uint32_t> word, ack;
    std::atomic<uint64_t> t0;
    uint64_t lat[WAKE_ROUNDS];
};
static double wake_latency(const std::string &kind) {
    auto *sh = static_cast<wake_shared *>(
        mmap(nullptr, sizeof(wake_shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    new (sh) wake_shared{};
    int pp[2];
    if (pipe(pp) != 0) std::exit(3);
    mba_array *w = nullptr;
    if (kind == "mba") {
        mba_delete(MBA_URI);
        if (mba_create(MBA_URI, MBA_U64, 4, MBA_EXCLUSIVE, &w) != MBA_OK) std::exit(2);
    }
    pid_t pid = fork();
    if (pid == 0) {
        mba_array *r = nullptr;
        if (kind == "mba" && mba_attach(MBA_URI, 0, &r) != MBA_OK) _exit(2);
        char c;
        for (uint32_t k = 0; k < (uint32_t)WAKE_ROUNDS; k++) {
            sh->ack.store(k, std::memory_order_release);
            if (kind == "futex") {
                while (sh->word.load(std::memory_order_acquire) == k) futex(&sh->word, FUTEX_WAIT, k);
            } else if (kind == "mba") {
                uint64_t n;
                if (mba_wait_len(r, k + 1, MBA_WAIT_FOREVER, &n) != MBA_OK) _exit(3);
            } else if (read(pp[0], &c, 1) != 1) {
                _exit(4);
            }
            sh->lat[k] = mono_ns() - sh->t0.load(std::memory_order_acquire);
        }
        _exit(0);
    }
    for (uint32_t k = 0; k < (uint32_t)WAKE_ROUNDS; k++) {
        while (sh->ack.load(std::memory_order_acquire) != k) usleep(100);
        usleep(1000);
        sh->t0.store(mono_ns(), std::memory_order_release);
        if (kind == "futex") {
            sh->word.store(k + 1, std::memory_order_release);
            futex(&sh->word, FUTEX_WAKE, 1);
        } else if (kind == "mba") {
            uint64_t v = k;
            if (mba_append(w, &v) != MBA_OK) std::exit(2);
        } else if (write(pp[1], "x", 1) != 1) {
            std::exit(3);
        }
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) std::exit(9);
    std::vector<uint64_t> v(sh->lat, sh->lat + WAKE_ROUNDS);
    std::sort(v.begin(), v.end());
    double med = (double)v[WAKE_ROUNDS / 2] * 1e-9;
    close(pp[0]);
    close(pp[1]);
    if (w) {
        mba_free(w);
        mba_delete(MBA_URI);
    }
    munmap(sh, sizeof(wake_shared));
    return med;
}

// The CPU time (user + system) a reader spends in mba_wait_len while it sleeps for a second
// before the append it waits for arrives; in seconds per second of waiting.
static double sleeping_reader_cpu(uint32_t flags) {
    mba_delete(MBA_URI);
    mba_array *w;
    if (mba_create(MBA_URI, MBA_U64, 4, MBA_EXCLUSIVE, &w) != MBA_OK) std::exit(2);
    int p[2];
    if (pipe(p) != 0) std::exit(3);
    pid_t pid = fork();
    if (pid == 0) {
        mba_array *r = nullptr;
        if (mba_attach(MBA_URI, flags, &r) != MBA_OK) _exit(2);
        rusage a, b;
        getrusage(RUSAGE_SELF, &a);
        double t = now();
        uint64_t n;
        if (mba_wait_len(r, 1, MBA_WAIT_FOREVER, &n) != MBA_OK || n != 1) _exit(3);
        t = now() - t;
        getrusage(RUSAGE_SELF, &b);
        auto sec = [](const timeval &x) { return (double)x.tv_sec + (double)x.tv_usec * 1e-6; };
        double cpu = sec(b.ru_utime) - sec(a.ru_utime) + sec(b.ru_stime) - sec(a.ru_stime);
        double per_s = cpu / t;
        if (write(p[1], &per_s, sizeof per_s) != sizeof per_s) _exit(4);
        _exit(0);
    }
    usleep(1000000);
    uint64_t v = 1;
    if (mba_append(w, &v) != MBA_OK) std::exit(2);
    double per_s = -1;
    if (read(p[0], &per_s, sizeof per_s) != sizeof per_s) std::exit(5);
    waitpid(pid, nullptr, 0);
    close(p[0]);
    close(p[1]);
    mba_free(w);
    mba_delete(MBA_URI);
    return per_s;
}

// A ping-pong over the array where each side sleeps in mba_wait_len until the other's append.
static double mba_wait_pingpong(int rounds) {
    mba_delete(MBA_URI);
    auto p = mba::array<uint64_t>::create(MBA_URI, 4);
    pid_t pid = fork();
    if (pid == 0) {
        auto c = mba::array<uint64_t>::attach(MBA_URI);
        for (uint64_t k = 0; k < (uint64_t)rounds; k++) {
            mba::wait_len(c, 2 * k + 1);
            c.push_back(2 * k + 1);
        }
        _exit(0);
    }
    double t = now();
    for (uint64_t k = 0; k < (uint64_t)rounds; k++) {
        p.push_back(2 * k);
        mba::wait_len(p, 2 * k + 2);
    }
    t = now() - t;
    waitpid(pid, nullptr, 0);
    mba_delete(MBA_URI);
    return t;
}

static void issue14() {
    per_elem("append", "mba C++ appender push_back (claim/commit, batches of 4096)", mba_cpp_appender);
    per_elem("claim", "plain C loop into a pre-allocated shm object", plain_presized_loop);
    per_elem("claim", "mba claim/commit, batches of 4096, after mba_reserve(N)", [] { return mba_claim_batches(true); });
    per_elem("claim", "mba claim/commit, batches of 4096, growing from capacity 4", [] { return mba_claim_batches(false); });
    for (const char *k : {"futex", "mba", "pipe"}) {
        std::string name = std::string(k) == "futex" ? "bare futex wake between two processes"
                           : std::string(k) == "mba" ? "mba_wait_len woken by an mba_append in another process"
                                                     : "pipe: a blocked read woken by a write in another process";
        emit("wake", name, measure([k] { return wake_latency(k); }), 1e6, "us");
    }
    auto cpu = [](uint32_t flags) {
        RUNS = std::max(1, RUNS / 2); // each run waits a second
        stat3 s = measure([flags] { return sleeping_reader_cpu(flags); });
        return s;
    };
    int runs = RUNS;
    emit("wake", "CPU time of a reader sleeping in mba_wait_len (read-write handle)", cpu(0), 1e6, "us per s");
    RUNS = runs;
    emit("wake", "CPU time of a reader sleeping in mba_wait_len (read-only handle)", cpu(MBA_READ_ONLY), 1e6, "us per s");
    RUNS = runs;
    const int ROUNDS = 20000;
    emit("pingpong", "mba: append, seen by mba_wait_len in the other process, answered",
         measure([] { return mba_wait_pingpong(ROUNDS); }), 1e6 / ROUNDS, "us/round trip");
}
// ===== end of issue 14 =====================================================================

int main(int argc, char **argv) {
    if (argc > 2 && std::string(argv[1]) == "--attach") return attach_child(argv[2]);
    if (argc > 1) N = std::strtoull(argv[1], nullptr, 10);
    if (argc > 2) RUNS = std::max(1, std::atoi(argv[2]));
    source.resize(N);
    for (uint64_t i = 0; i < N; i++) source[i] = (uint32_t)i;

    per_elem("append", "plain C (shm_open + ftruncate + mremap)", plain_append);
    per_elem("append", "mba C, exclusive", [] { return mba_c_append(MBA_EXCLUSIVE); });
    per_elem("append", "mba C, shared", [] { return mba_c_append(0); });
    per_elem("append", "mba C++ push_back", mba_cpp_push_back);
    per_elem("append", "std::vector push_back", [] { return vector_push_back(false); });
    per_elem("append", "std::vector push_back, reserved", [] { return vector_push_back(true); });
    per_elem("append", "Boost.Interprocess vector push_back", boost_push_back);

    issue14();

    per_elem("fill", "memcpy (private memory)", memcpy_fill);
    per_elem("fill", "plain C fill (shm_open + ftruncate + mmap + memcpy)", plain_shm_fill);
    per_elem("fill", "mba_extend", mba_extend_fill);

    // Reads, over arrays filled once.
    mba_delete(MBA_URI);
    auto a = mba::array<uint32_t>::create(MBA_URI, N, mba::exclusive);
    a.append(source.data(), N);
    uint64_t want = sum_u32(source.data(), N);
    per_elem("read", "mba_get per element", [&] {
        uint64_t s = 0;
        uint32_t v;
        double t = now();
        for (uint64_t i = 0; i < N; i++) {
            mba_get(a.handle(), i, &v);
            s += v;
        }
        t = now() - t;
        if (s != want) std::exit(6);
        return t;
    });
    per_elem("read", "sum through mba_data()", [&] {
        double t = now();
        uint64_t s = sum_u32(a.data(), a.size());
        t = now() - t;
        if (s != want) std::exit(6);
        return t;
    });
    per_elem("read", "sum over a plain in-process array", [&] {
        double t = now();
        uint64_t s = sum_u32(source.data(), N);
        t = now() - t;
        if (s != want) std::exit(6);
        return t;
    });
    per_elem("read", "mba sum in a second process (attach + sum)", [&] {
        return in_child([&] {
            double t = now();
            auto r = mba::array<uint32_t>::attach(MBA_URI, mba::read_only);
            uint64_t s = sum_u32(r.data(), r.size());
            t = now() - t;
            return s == want ? t : -1.0;
        });
    });
    {
        bip::shared_memory_object::remove(BOOST);
        bip::managed_shared_memory seg(bip::create_only, BOOST, N * 4 + (1 << 20));
        auto *v = seg.construct<shm_vector>("v")(shm_alloc(seg.get_segment_manager()));
        v->assign(source.begin(), source.end());
        per_elem("read", "Boost.Interprocess sum in a second process (attach + sum)", [&] {
            return in_child([&] {
                double t = now();
                bip::managed_shared_memory s2(bip::open_only, BOOST);
                auto *w = s2.find<shm_vector>("v").first;
                uint64_t s = sum_u32(w->data(), w->size());
                t = now() - t;
                return s == want ? t : -1.0;
            });
        });
        bip::shared_memory_object::remove(BOOST);
    }

    // Create, and attach timed inside a second process.
    for (size_t bytes : {size_t(4096), size_t(1) << 30}) {
        std::string sz = bytes == 4096 ? "4 KiB" : "1 GiB";
        emit("create", "mba " + sz, measure([&] { return mba_create_size(bytes); }), 1e6, "us");
        emit("attach", "mba " + sz, measure([] { return in_new_process("mba"); }), 1e6, "us");
        mba_delete(MBA_URI);
        emit("create", "raw shm_open + mmap " + sz, measure([&] { return raw_create_size(bytes); }), 1e6, "us");
        emit("attach", "raw shm_open + mmap " + sz, measure([] { return in_new_process("raw"); }), 1e6, "us");
        shm_unlink(RAW);
        emit("create", "Boost.Interprocess " + sz, measure([&] { return boost_create_size(bytes); }), 1e6, "us");
        emit("attach", "Boost.Interprocess " + sz, measure([] { return in_new_process("boost"); }), 1e6, "us");
        bip::shared_memory_object::remove(BOOST);
    }

    // Growth seen by a reader: a ping-pong over the array itself, against a pipe.
    const int ROUNDS = 20000;
    emit("pingpong", "mba: append, seen by the other process, answered", measure([&] {
             mba_delete(MBA_URI);
             auto p = mba::array<uint64_t>::create(MBA_URI, 4);
             pid_t pid = fork();
             if (pid == 0) {
                 auto c = mba::array<uint64_t>::attach(MBA_URI);
                 for (uint64_t k = 0; k < (uint64_t)ROUNDS; k++) {
                     while (c.size() < 2 * k + 1) {
                     }
                     c.push_back(2 * k + 1);
                 }
                 _exit(0);
             }
             double t = now();
             for (uint64_t k = 0; k < (uint64_t)ROUNDS; k++) {
                 p.push_back(2 * k);
                 while (p.size() < 2 * k + 2) {
                 }
             }
             t = now() - t;
             waitpid(pid, nullptr, 0);
             mba_delete(MBA_URI);
             return t;
         }), 1e6 / ROUNDS, "us/round trip");
    emit("pingpong", "pipe: write, read by the other process, answered", measure([&] {
             int ab[2], ba[2];
             if (pipe(ab) || pipe(ba)) std::exit(3);
             pid_t pid = fork();
             char c = 0;
             if (pid == 0) {
                 for (int k = 0; k < ROUNDS; k++)
                     if (read(ab[0], &c, 1) != 1 || write(ba[1], &c, 1) != 1) _exit(1);
                 _exit(0);
             }
             double t = now();
             for (int k = 0; k < ROUNDS; k++)
                 if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1) std::exit(3);
             t = now() - t;
             waitpid(pid, nullptr, 0);
             for (int fd : {ab[0], ab[1], ba[0], ba[1]}) close(fd);
             return t;
         }), 1e6 / ROUNDS, "us/round trip");
    return 0;
}
