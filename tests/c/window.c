/* The windowed reader from C: random typed reads and borrows over files of random data four
 * times the memory budget, checked against the files' bytes, with the budgets checked after
 * every call; growth; a file deleted and one truncated under live cursors.
 * Usage: window DIR MAPPED_READS(0|1) CALLS       Prints "window ok ..." and exits 0. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mba.h"

#define NFILES 5
#define CHECK(call)                                                                                  \
    do {                                                                                             \
        mba_status s_ = (call);                                                                      \
        if (s_ != MBA_OK) {                                                                          \
            fprintf(stderr, "%s:%d: %s: %s (%s)\n", __FILE__, __LINE__, #call, mba_status_str(s_),   \
                    mba_last_error());                                                               \
            exit(1);                                                                                 \
        }                                                                                            \
    } while (0)
#define FAIL(...)                                                                                    \
    do {                                                                                             \
        fprintf(stderr, __VA_ARGS__);                                                                \
        exit(1);                                                                                     \
    } while (0)

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

static unsigned char *write_random(const char *path, size_t size) {
    unsigned char *b = malloc(size);
    for (size_t i = 0; i < size; i++) b[i] = (unsigned char)next();
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, size, f) != size || fclose(f) != 0) FAIL("cannot write %s\n", path);
    return b;
}

static void check_budget(const mba_window_manager *m, const mba_window_config *cfg, uint64_t call) {
    mba_window_stats s;
    CHECK(mba_window_manager_stats(m, &s));
    if (s.mapped_bytes > cfg->max_mapped_bytes || s.open_files > cfg->max_open_files ||
        (cfg->max_windows && s.windows > cfg->max_windows))
        FAIL("call %" PRIu64 ": over budget: %" PRIu64 " bytes, %" PRIu64 " files, %" PRIu64 " windows\n", call,
             s.mapped_bytes, s.open_files, s.windows);
}

int main(int argc, char **argv) {
    if (argc != 4) FAIL("usage: window DIR MAPPED_READS CALLS\n");
    const char *dir = argv[1];
    int mapped = atoi(argv[2]);
    uint64_t calls = strtoull(argv[3], NULL, 10);
    long page = sysconf(_SC_PAGESIZE);

    mba_window_config cfg;
    mba_window_config_init(&cfg);
    if (cfg.struct_size != sizeof cfg) FAIL("struct_size\n");
    cfg.flags = mapped ? MBA_WINDOW_MAPPED_READS : 0;
    cfg.window_size = 4 * (uint64_t)page;
    cfg.max_mapped_bytes = 64 * (uint64_t)page;
    cfg.max_open_files = 3;
    cfg.max_windows = 10;
    mba_window_manager *m;
    CHECK(mba_window_manager_new(&cfg, &m));

    /* Files totalling four times the budget; u8, u16 at an odd offset, u32, f64, complex128. */
    const uint32_t dtypes[NFILES] = {MBA_U8, MBA_U16, MBA_U32, MBA_F64, 14};
    const uint64_t sizes[NFILES] = {1, 2, 4, 8, 16}, offsets[NFILES] = {0, 1, 0, 8, 0};
    char path[NFILES][4096];
    unsigned char *data[NFILES];
    size_t len[NFILES];
    mba_window_cursor *c[NFILES];
    for (int i = 0; i < NFILES; i++) {
        snprintf(path[i], sizeof path[i], "%s/w%d.bin", dir, i);
        len[i] = 4 * cfg.max_mapped_bytes / NFILES + next() % (size_t)(3 * page);
        data[i] = write_random(path[i], len[i]);
        CHECK(mba_window_open(m, path[i], MBA_WINDOW_RAW, dtypes[i], offsets[i], &c[i]));
        mba_window_cursor_info info;
        CHECK(mba_window_info(c[i], &info));
        if (info.len != (len[i] - offsets[i]) / sizes[i] || info.itemsize != sizes[i] || info.kind != MBA_WINDOW_RAW)
            FAIL("info of %s\n", path[i]);
    }
    unsigned char *buf = malloc(4 * (size_t)page * 16);
    uint64_t reads = 0, borrows = 0;
    for (uint64_t call = 0; call < calls; call++) {
        int f = (int)(next() % NFILES);
        uint64_t n = (len[f] - offsets[f]) / sizes[f];
        uint64_t count = 1 + next() % (n < 3 * (uint64_t)page / sizes[f] ? n : 3 * (uint64_t)page / sizes[f]);
        uint64_t index = next() % (n - count + 1);
        const unsigned char *want = data[f] + offsets[f] + index * sizes[f];
        if (next() % 4 == 0) {
            mba_window_view v;
            CHECK(mba_window_pin(c[f], index, count, &v));
            if (v.count < 1 || v.count > count || memcmp(v.data, want, v.count * sizes[f]) != 0)
                FAIL("call %" PRIu64 ": borrow of %" PRIu64 " at %" PRIu64 " in %s\n", call, count, index, path[f]);
            borrows++;
        } else {
            CHECK(mba_window_read(c[f], index, count, buf));
            if (memcmp(buf, want, count * sizes[f]) != 0)
                FAIL("call %" PRIu64 ": read of %" PRIu64 " at %" PRIu64 " in %s\n", call, count, index, path[f]);
            reads++;
        }
        check_budget(m, &cfg, call);
    }
    mba_window_stats s;
    CHECK(mba_window_manager_stats(m, &s));
    if (s.peak_mapped_bytes > cfg.max_mapped_bytes || s.peak_open_files > 3 || s.peak_windows > 10)
        FAIL("peaks over budget\n");
    if (s.evictions == 0 || s.closes == 0) FAIL("the budgets were not exercised\n");

    /* Errors, not crashes: bad arguments and ranges. */
    if (mba_window_read(c[0], len[0], 1, buf) != MBA_ERR_OUT_OF_BOUNDS) FAIL("read past the end\n");
    if (mba_window_read(c[0], UINT64_MAX, 2, buf) != MBA_ERR_INVALID_ARGUMENT) FAIL("overflow\n");
    if (mba_window_read(NULL, 0, 1, buf) != MBA_ERR_NULL_POINTER) FAIL("NULL cursor\n");
    if (mba_window_open(m, path[0], 9, 0, 0, &c[0]) != MBA_ERR_INVALID_ARGUMENT) FAIL("kind\n");
    if (mba_window_manager_new(NULL, NULL) != MBA_ERR_NULL_POINTER) FAIL("NULL out\n");
    mba_window_config bad = cfg;
    bad.struct_size = 3;
    mba_window_manager *m2 = NULL;
    if (mba_window_manager_new(&bad, &m2) != MBA_ERR_INVALID_ARGUMENT || m2) FAIL("struct_size\n");

    /* Growth: appended bytes are read at once. */
    FILE *g = fopen(path[0], "ab");
    unsigned char more[100];
    for (int i = 0; i < 100; i++) more[i] = (unsigned char)(i * 7);
    fwrite(more, 1, 100, g);
    fclose(g);
    CHECK(mba_window_read(c[0], len[0] + 50, 50, buf));
    if (memcmp(buf, more + 50, 50) != 0) FAIL("growth\n");

    /* Deleted under a live cursor: still read through the open descriptor. */
    CHECK(mba_window_read(c[1], 0, 1, buf));
    unlink(path[1]);
    CHECK(mba_window_read(c[1], 10, 4, buf));
    if (memcmp(buf, data[1] + 1 + 20, 8) != 0) FAIL("deleted file read\n");
    /* Truncated under a live cursor: an error, not SIGBUS (with mapped reads off). */
    if (!mapped) {
        int fd = open(path[2], O_WRONLY);
        if (fd < 0 || ftruncate(fd, page) != 0) FAIL("truncate\n");
        close(fd);
        mba_status st = mba_window_read(c[2], (uint64_t)(3 * page) / 4, 4, buf);
        if (st != MBA_ERR_OUT_OF_BOUNDS) FAIL("read of a truncated file gave %d\n", st);
    }

    uint64_t released = 0;
    for (int i = 0; i < NFILES; i++) CHECK(mba_window_cursor_free(c[i]));
    CHECK(mba_window_manager_collect(m, &released));
    CHECK(mba_window_manager_stats(m, &s));
    if (s.mapped_bytes || s.windows || s.open_files) FAIL("collect left something\n");
    CHECK(mba_window_manager_close(m));
    CHECK(mba_window_manager_free(m));
    CHECK(mba_window_cursor_free(NULL));
    CHECK(mba_window_manager_free(NULL));
    printf("window ok reads=%" PRIu64 " borrows=%" PRIu64 " evictions=%" PRIu64 " maps=%" PRIu64 " preads=%" PRIu64 "\n",
           reads, borrows, s.evictions, s.maps, s.preads);
    for (int i = 0; i < NFILES; i++) {
        unlink(path[i]);
        free(data[i]);
    }
    free(buf);
    return 0;
}
