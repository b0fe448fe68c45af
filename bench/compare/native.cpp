// native.cpp: mba against the native alternatives users would pick, measured in one run.
// Prints one JSON object per line: {"group", "impl", "median", "min", "max", "unit"}; every
// figure is the median of RUNS runs after one warm-up. Usage: native [N] [RUNS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
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
