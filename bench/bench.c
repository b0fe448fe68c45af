/* bench.c: mba through its C ABI against plain C, in one run, on 10,000,000 u32.
 * Every figure is the median of RUNS runs after one warm-up, with min and max; ratios are
 * taken between medians of the same run. Prints a Markdown table. Usage: bench [N] [RUNS] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "mba.h"

static uint64_t N = 10000000;
static int RUNS = 5;
static volatile uint64_t sink;
static const char *NAME = "shm://mba-bench";
static const char *PLAIN = "/mba-bench-plain";

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void check(mba_status s, const char *what) {
    if (s != MBA_OK) {
        fprintf(stderr, "%s: %s\n", what, mba_last_error());
        exit(1);
    }
}

/* ---- the workloads; each returns seconds ---- */

/* The plain-C baselines' store: a shm_open object of `bytes`, optionally allocated. */
static uint32_t *plain_open(int *fd, size_t bytes, int allocate) {
    shm_unlink(PLAIN);
    *fd = shm_open(PLAIN, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (*fd < 0 || (allocate ? posix_fallocate(*fd, 0, (off_t)bytes) : ftruncate(*fd, (off_t)bytes)) != 0) exit(2);
    uint32_t *d = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    if (d == MAP_FAILED) exit(2);
    return d;
}
static void plain_close(uint32_t *d, size_t bytes, int fd) {
    sink = d[N - 1];
    munmap(d, bytes);
    close(fd);
    shm_unlink(PLAIN);
}
/* Doubles the plain store until it holds `need` elements: ftruncate, then mremap. */
static uint32_t *plain_grow(uint32_t *d, size_t *cap, uint64_t need, int fd) {
    while (need > *cap) {
        size_t ncap = *cap * 2;
        if (ftruncate(fd, (off_t)(ncap * 4)) != 0) exit(2);
        d = mremap(d, *cap * 4, ncap * 4, MREMAP_MAYMOVE);
        if (d == MAP_FAILED) exit(2);
        *cap = ncap;
    }
    return d;
}

/* Plain C: a shm_open object grown by doubling with ftruncate + mremap. */
static double plain_append(void) {
    int fd;
    size_t cap = 4;
    uint32_t *d = plain_open(&fd, cap * 4, 0);
    double t = now();
    for (uint64_t i = 0; i < N; i++) {
        if (i == cap) d = plain_grow(d, &cap, i + 1, fd);
        d[i] = (uint32_t)i;
    }
    t = now() - t;
    plain_close(d, cap * 4, fd);
    return t;
}

/* Plain C: an shm object sized and allocated for all N elements up front, then filled. */
static double plain_presized(void) {
    int fd;
    uint32_t *d = plain_open(&fd, N * 4, 1);
    double t = now();
    for (uint64_t i = 0; i < N; i++) d[i] = (uint32_t)i;
    t = now() - t;
    plain_close(d, N * 4, fd);
    return t;
}

/* Plain C: the doubling object filled with memcpy in batches of 4096. */
static uint32_t batch[4096];
static double plain_memcpy(void) {
    int fd;
    size_t cap = 4096;
    uint32_t *d = plain_open(&fd, cap * 4, 0);
    double t = now();
    for (uint64_t i = 0; i < N; i += 4096) {
        uint64_t n = N - i < 4096 ? N - i : 4096;
        d = plain_grow(d, &cap, i + n, fd);
        memcpy(d + i, batch, n * 4);
    }
    t = now() - t;
    plain_close(d, cap * 4, fd);
    return t;
}

static mba_array *fresh(uint32_t flags) {
    mba_array *a;
    mba_delete(NAME);
    check(mba_create(NAME, MBA_U32, 4, flags, &a), "create");
    return a;
}

static double mba_append_with(uint32_t flags) {
    mba_array *a = fresh(flags);
    double t = now();
    for (uint32_t i = 0; i < N; i++) check(mba_append(a, &i), "append");
    t = now() - t;
    mba_free(a);
    return t;
}
static double mba_append_excl(void) { return mba_append_with(MBA_EXCLUSIVE); }
static double mba_append_presized(void) {
    mba_array *a = fresh(MBA_EXCLUSIVE);
    check(mba_reserve(a, N), "reserve");
    double t = now();
    for (uint32_t i = 0; i < N; i++) check(mba_append(a, &i), "append");
    t = now() - t;
    mba_free(a);
    return t;
}
static double mba_append_shared(void) { return mba_append_with(0); }

static double mba_extend_batches(void) {
    mba_array *a = fresh(MBA_EXCLUSIVE);
    double t = now();
    for (uint64_t i = 0; i < N; i += 4096) check(mba_extend(a, batch, N - i < 4096 ? N - i : 4096), "extend");
    t = now() - t;
    mba_free(a);
    return t;
}

/* ---- issue 14: claim/commit in batches of 4096 (the caller's loop writes into the array) ---- */
static double claim_batches(int reserve) {
    mba_array *a = fresh(MBA_EXCLUSIVE);
    if (reserve) check(mba_reserve(a, N), "reserve");
    double t = now();
    for (uint64_t i = 0; i < N;) {
        uint64_t k = N - i < 4096 ? N - i : 4096;
        void *p;
        check(mba_claim(a, k, &p), "claim");
        uint32_t *d = p;
        for (uint64_t j = 0; j < k; j++) d[j] = (uint32_t)(i + j);
        check(mba_commit(a, k), "commit");
        i += k;
    }
    t = now() - t;
    if (mba_len(a) != N) exit(3);
    mba_free(a);
    return t;
}
static double claim_presized(void) { return claim_batches(1); }
static double claim_growing(void) { return claim_batches(0); }

static mba_array *filled;
static double mba_get_each(void) {
    uint64_t s = 0;
    uint32_t v;
    double t = now();
    for (uint64_t i = 0; i < N; i++) {
        mba_get(filled, i, &v);
        s += v;
    }
    t = now() - t;
    sink = s;
    return t;
}

static uint64_t sum_u32(const uint32_t *d, uint64_t n) {
    uint64_t s = 0;
    for (uint64_t i = 0; i < n; i++) s += d[i];
    return s;
}
static uint64_t data_sum, plain_sum;
static double mba_data_sum(void) {
    double t = now();
    data_sum = sum_u32((const uint32_t *)mba_data(filled), mba_len(filled));
    return now() - t;
}
static uint32_t *heap;
static double plain_array_sum(void) {
    double t = now();
    plain_sum = sum_u32(heap, N);
    return now() - t;
}

/* ---- measurement ---- */

typedef struct { const char *name; double med, min, max; } result;

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static result measure(const char *name, double (*f)(void)) {
    double t[64];
    f(); /* warm-up */
    for (int i = 0; i < RUNS; i++) t[i] = f();
    qsort(t, (size_t)RUNS, sizeof t[0], cmp);
    result r = {name, t[RUNS / 2], t[0], t[RUNS - 1]};
    return r;
}
static void row(result r, const result *base, const char *target) {
    printf("| %s | %.2f | %.2f–%.2f |", r.name, r.med * 1e9 / (double)N, r.min * 1e9 / (double)N, r.max * 1e9 / (double)N);
    if (base) printf(" %.2f× %s |", r.med / base->med, base->name);
    else printf(" — |");
    printf(" %s |\n", target);
}

/* VmSize and VmRSS of this process, in KiB. */
static void vm_kib(uint64_t *size, uint64_t *rss) {
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    *size = *rss = 0;
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "VmSize: %" SCNu64, size);
        sscanf(line, "VmRSS: %" SCNu64, rss);
    }
    if (f) fclose(f);
}

/* Many arrays in one process: 10,000 handles over shm, file and memfd arrays of one element,
 * each with the default maximum capacity (1,000 in a short run, N below 1,000,000, which only
 * checks that the benchmark works). Prints what one handle costs. */
static void many_arrays(void) {
    enum { KMAX = 10000 };
    const int K = N >= 1000000 ? KMAX : 1000;
    static mba_array *h[KMAX];
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)K + 64) {
        printf("\n(many arrays: skipped in this run, the descriptor limit is %" PRIu64 ")\n", (uint64_t)rl.rlim_cur);
        return;
    }
    char dir[] = "/tmp/mba-bench-many-XXXXXX", uri[256];
    if (!mkdtemp(dir)) exit(2);
    uint64_t size0, rss0, size1, rss1;
    vm_kib(&size0, &rss0);
    double t = now();
    for (int i = 0; i < K; i++) {
        if (i % 3 == 0) snprintf(uri, sizeof uri, "shm://mba-bench-many-%d-%d", (int)getpid(), i);
        else if (i % 3 == 1) snprintf(uri, sizeof uri, "file://%s/%d", dir, i);
        else uri[0] = 0;
        check(mba_create(uri, MBA_U32, 1, 0, &h[i]), "create (many)");
    }
    t = now() - t;
    vm_kib(&size1, &rss1);
    uint64_t max = mba_max_capacity(h[0]);
    void *big = malloc((size_t)1 << 30);
    int big_ok = big != NULL;
    free(big);
    double ta = now();
    for (int i = 0; i < K; i += 3) {
        mba_array *b;
        snprintf(uri, sizeof uri, "shm://mba-bench-many-%d-%d", (int)getpid(), i);
        check(mba_attach(uri, 0, &b), "attach (many)");
        mba_free(b);
    }
    ta = now() - ta;
    for (int i = 0; i < K; i++) {
        mba_free(h[i]);
        if (i % 3 == 0) {
            snprintf(uri, sizeof uri, "shm://mba-bench-many-%d-%d", (int)getpid(), i);
            mba_delete(uri);
        } else if (i % 3 == 1) {
            snprintf(uri, sizeof uri, "%s/%d", dir, i);
            unlink(uri);
        }
    }
    rmdir(dir);
    printf("\n**%d,%03d arrays in one process** (a third each shm, file and memfd; u32, capacity 1, the "
           "default maximum of %" PRIu64 " elements):\n\n", K / 1000, K % 1000, max);
    printf("| per handle | value |\n|---|---|\n");
    printf("| create, mixed stores | %.1f µs |\n", t * 1e6 / K);
    printf("| attach + free of an shm array | %.1f µs |\n", ta * 1e6 / ((K + 2) / 3));
    printf("| address space reserved | %.2f GiB (%.1f TiB for all %d; a 47-bit space holds 128 TiB) |\n",
           (double)(size1 - size0) / K / 1048576.0, (double)(size1 - size0) / 1073741824.0, K);
    printf("| memory (resident) | %.1f KiB |\n", (double)(rss1 - rss0) / K);
    printf("| malloc(1 GiB) afterwards | %s |\n", big_ok ? "succeeds" : "FAILS");
}

int main(int argc, char **argv) {
    if (argc > 1) N = strtoull(argv[1], NULL, 10);
    if (argc > 2) RUNS = atoi(argv[2]);
    if (RUNS < 1 || RUNS > 64) RUNS = 5;
    for (int i = 0; i < 4096; i++) batch[i] = (uint32_t)i;

    result plain = measure("plain C append (shm_open + ftruncate + mremap)", plain_append);
    result pmem = measure("plain C memcpy fill, batches of 4096", plain_memcpy);
    result excl = measure("mba_append, MBA_EXCLUSIVE", mba_append_excl);
    result ppre = measure("plain C append into a pre-allocated shm object", plain_presized);
    result epre = measure("mba_append, MBA_EXCLUSIVE, after mba_reserve(N)", mba_append_presized);
    result shared = measure("mba_append, shared (append lock)", mba_append_shared);
    result ext = measure("mba_extend, batches of 4096", mba_extend_batches);
    result cpre = measure("mba_claim/mba_commit, batches of 4096, after mba_reserve(N)", claim_presized);
    result cgrow = measure("mba_claim/mba_commit, batches of 4096, growing from capacity 4", claim_growing);

    filled = fresh(MBA_EXCLUSIVE);
    heap = malloc(N * 4);
    for (uint32_t i = 0; i < N; i++) {
        check(mba_append(filled, &i), "append");
        heap[i] = i;
    }
    result get = measure("mba_get per element", mba_get_each);
    result dsum = measure("sum through mba_data()", mba_data_sum);
    result hsum = measure("sum over a plain malloc'd array", plain_array_sum);
    mba_free(filled);
    mba_delete(NAME);

    printf("%" PRIu64 " u32 elements, median of %d runs after a warm-up; times in ns per element.\n\n", N, RUNS);
    printf("| workload | median ns/elem | min–max | ratio | target |\n|---|---|---|---|---|\n");
    row(plain, NULL, "baseline");
    row(pmem, NULL, "baseline");
    row(excl, &plain, "≤ 1.5×");
    row(ppre, NULL, "baseline");
    row(epre, &ppre, "(call overhead alone)");
    row(shared, &excl, "≤ 5×");
    row(ext, &plain, "≤ 1.1× (also vs memcpy below)");
    row(ext, &pmem, "");
    row(cpre, &ppre, "≤ 1.1×");
    row(cgrow, &plain, "(growth included)");
    row(get, NULL, "≤ 2 ns");
    row(dsum, &hsum, "equal");
    row(hsum, NULL, "baseline");
    printf("\nsums: mba_data() %" PRIu64 ", plain array %" PRIu64 " (%s)\n", data_sum, plain_sum,
           data_sum == plain_sum ? "equal" : "DIFFERENT");
    many_arrays();
    return data_sum == plain_sum ? 0 : 1;
}
