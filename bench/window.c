/* window.c: the windowed reader (mba_window_*) against plain mmap + memcpy and plain pread,
 * over a file four times the memory budget. Prints JSON lines like native.cpp:
 * {"group", "impl", "median", "min", "max", "unit"}; median of RUNS runs after one warm-up.
 *
 *   window-random: random 4 KiB reads anywhere in the file (4x the budget)
 *   window-fit:    random 4 KiB reads inside a working set of 3/4 of the budget
 *   window-scan:   a sequential typed scan (sum of every u32 of the file)
 *
 * Usage: window_bench DIR [BUDGET_MIB] [RUNS] [READS]   (defaults 64 MiB, 5, 200000; window 1 MiB, file 4x
 * budget) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mba.h"

#define READ 4096
#define CHUNK (256 * 1024)

static int RUNS = 5, READS = 200000;
static uint64_t BUDGET, FILE_SIZE;
static const char *PATH;
static volatile uint64_t sink;
static unsigned char buf[CHUNK];
static uint64_t *offs_all, *offs_fit;

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

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

typedef double (*workload)(void *);
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
struct impl {
    const char *name;
    workload f;
    void *arg;
};
/* Each implementation of a group once as a warm-up, then RUNS rounds in which they take turns
 * (so a load change on the machine hits them alike); median, min and max, scaled from seconds. */
static void group(const char *g, struct impl *impls, int n, double scale, const char *unit) {
    static double t[16][64];
    for (int i = 0; i < n; i++) impls[i].f(impls[i].arg);
    for (int r = 0; r < RUNS; r++)
        for (int i = 0; i < n; i++) t[i][r] = impls[i].f(impls[i].arg);
    for (int i = 0; i < n; i++) {
        qsort(t[i], (size_t)RUNS, sizeof t[i][0], cmp);
        printf("{\"group\": \"%s\", \"impl\": \"%s\", \"median\": %.4f, \"min\": %.4f, \"max\": %.4f, \"unit\": \"%s\"}\n",
               g, impls[i].name, t[i][RUNS / 2] * scale, t[i][0] * scale, t[i][RUNS - 1] * scale, unit);
    }
    fflush(stdout);
}

/* ---- plain baselines ---- */
struct plain {
    int fd;
    const unsigned char *map;
    const uint64_t *offs;
};
static double plain_mmap_random(void *p) {
    struct plain *pl = p;
    double t = now();
    for (int i = 0; i < READS; i++) {
        memcpy(buf, pl->map + pl->offs[i], READ);
        sink += buf[READ - 1];
    }
    return now() - t;
}
static double plain_pread_random(void *p) {
    struct plain *pl = p;
    double t = now();
    for (int i = 0; i < READS; i++) {
        if (pread(pl->fd, buf, READ, (off_t)pl->offs[i]) != READ) exit(3);
        sink += buf[READ - 1];
    }
    return now() - t;
}
static double plain_mmap_scan(void *p) {
    struct plain *pl = p;
    const uint32_t *d = (const uint32_t *)pl->map;
    uint64_t s = 0, n = FILE_SIZE / 4;
    double t = now();
    for (uint64_t i = 0; i < n; i++) s += d[i];
    sink += s;
    return now() - t;
}

/* ---- mba ---- */
struct win {
    mba_window_manager *m;
    mba_window_cursor *c;
    const uint64_t *offs;
};
static struct win win_open(uint32_t flags, uint32_t dtype) {
    struct win w = {0};
    mba_window_config cfg;
    mba_window_config_init(&cfg);
    cfg.flags = flags;
    cfg.window_size = 1 << 20;
    cfg.max_mapped_bytes = BUDGET;
    cfg.max_open_files = 8;
    check(mba_window_manager_new(&cfg, &w.m), "manager");
    check(mba_window_open(w.m, PATH, MBA_WINDOW_RAW, dtype, 0, &w.c), "open");
    return w;
}
static void win_close(struct win *w) {
    mba_window_stats s;
    check(mba_window_manager_stats(w->m, &s), "stats");
    if (s.peak_mapped_bytes > BUDGET) {
        fprintf(stderr, "over budget: %" PRIu64 "\n", s.peak_mapped_bytes);
        exit(4);
    }
    mba_window_cursor_free(w->c);
    mba_window_manager_close(w->m);
    mba_window_manager_free(w->m);
}
static double mba_read_random(void *p) {
    struct win *w = p;
    double t = now();
    for (int i = 0; i < READS; i++) {
        mba_window_read(w->c, w->offs[i], READ, buf);
        sink += buf[READ - 1];
    }
    return now() - t;
}
static double mba_pin_random(void *p) {
    struct win *w = p;
    double t = now();
    for (int i = 0; i < READS; i++) {
        mba_window_view v;
        check(mba_window_pin(w->c, w->offs[i], READ, &v), "pin");
        memcpy(buf, v.data, v.count); /* a window may end before 4 KiB: the rest is the next pin's */
        if (v.count < READ) {
            check(mba_window_pin(w->c, w->offs[i] + v.count, READ - v.count, &v), "pin");
            memcpy(buf + READ - v.count, v.data, v.count);
        }
        sink += buf[READ - 1];
    }
    return now() - t;
}
static double mba_read_scan(void *p) {
    struct win *w = p;
    uint64_t n = FILE_SIZE / 4, s = 0;
    double t = now();
    for (uint64_t i = 0; i < n; i += CHUNK / 4) {
        uint64_t k = n - i < CHUNK / 4 ? n - i : CHUNK / 4;
        check(mba_window_read(w->c, i, k, buf), "read");
        const uint32_t *d = (const uint32_t *)buf;
        for (uint64_t j = 0; j < k; j++) s += d[j];
    }
    sink += s;
    return now() - t;
}
static double mba_pin_scan(void *p) {
    struct win *w = p;
    uint64_t n = FILE_SIZE / 4, s = 0;
    double t = now();
    for (uint64_t i = 0; i < n;) {
        mba_window_view v;
        check(mba_window_pin(w->c, i, 0, &v), "pin");
        const uint32_t *d = v.data;
        for (uint64_t j = 0; j < v.count; j++) s += d[j];
        i += v.count;
    }
    sink += s;
    return now() - t;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: window_bench DIR [BUDGET_MIB] [RUNS] [READS]\n");
        return 2;
    }
    BUDGET = (argc > 2 ? strtoull(argv[2], NULL, 10) : 64) << 20;
    RUNS = argc > 3 ? atoi(argv[3]) : 5;
    if (RUNS < 1 || RUNS > 64) return 2;
    READS = argc > 4 ? atoi(argv[4]) : 200000;
    if (READS < 1) return 2;
    FILE_SIZE = 4 * BUDGET;
    static char path[4096];
    snprintf(path, sizeof path, "%s/mba-window-bench-%d.bin", argv[1], (int)getpid());
    PATH = path;
    int fd = open(PATH, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return 2;
    for (uint64_t o = 0; o < FILE_SIZE; o += CHUNK) {
        for (int i = 0; i < CHUNK; i += 8) {
            uint64_t x = next();
            memcpy(buf + i, &x, 8);
        }
        if (pwrite(fd, buf, CHUNK, (off_t)o) != CHUNK) return 2;
    }
    fsync(fd);
    offs_all = malloc(READS * sizeof *offs_all);
    offs_fit = malloc(READS * sizeof *offs_fit);
    uint64_t fit = BUDGET / 4 * 3;
    for (int i = 0; i < READS; i++) {
        offs_all[i] = next() % (FILE_SIZE - READ);
        offs_fit[i] = next() % (fit - READ);
    }
    const unsigned char *map = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) return 2;
    struct plain pl = {fd, map, offs_all};
    double per_read = 1e9 / READS, per_elem = 1e9 / (double)(FILE_SIZE / 4);

    struct plain fit_pl = {fd, map, offs_fit};
    struct win safe = win_open(0, MBA_U8), mapped = win_open(MBA_WINDOW_MAPPED_READS, MBA_U8);
    struct win safe_fit = win_open(0, MBA_U8), mapped_fit = win_open(MBA_WINDOW_MAPPED_READS, MBA_U8);
    safe.offs = mapped.offs = offs_all;
    safe_fit.offs = mapped_fit.offs = offs_fit;
    struct impl random_reads[] = {
        {"plain mmap + memcpy (whole file mapped, no budget)", plain_mmap_random, &pl},
        {"plain pread", plain_pread_random, &pl},
        {"mba_window_read", mba_read_random, &safe},
        {"mba_window_read, mapped reads", mba_read_random, &mapped},
        {"mba_window_pin + memcpy", mba_pin_random, &safe},
    };
    group("window-random", random_reads, 5, per_read, "ns/read");
    struct impl fit_reads[] = {
        {"plain mmap + memcpy (whole file mapped, no budget)", plain_mmap_random, &fit_pl},
        {"plain pread", plain_pread_random, &fit_pl},
        {"mba_window_read", mba_read_random, &safe_fit},
        {"mba_window_read, mapped reads", mba_read_random, &mapped_fit},
        {"mba_window_pin + memcpy", mba_pin_random, &safe_fit},
    };
    group("window-fit", fit_reads, 5, per_read, "ns/read");
    win_close(&safe);
    win_close(&mapped);
    win_close(&safe_fit);
    win_close(&mapped_fit);

    struct win scan = win_open(0, MBA_U32), scan_mapped = win_open(MBA_WINDOW_MAPPED_READS, MBA_U32);
    struct impl scans[] = {
        {"plain mmap, sum of every u32 (whole file mapped, no budget)", plain_mmap_scan, &pl},
        {"mba_window_read 256 KiB chunks, sum", mba_read_scan, &scan},
        {"mba_window_read 256 KiB chunks, mapped reads, sum", mba_read_scan, &scan_mapped},
        {"mba_window_pin each window, sum in place", mba_pin_scan, &scan},
    };
    group("window-scan", scans, 4, per_elem, "ns/elem");
    win_close(&scan);
    win_close(&scan_mapped);

    munmap((void *)map, FILE_SIZE);
    close(fd);
    unlink(PATH);
    return 0;
}
