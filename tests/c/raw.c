/* Raw files and .npy files as mba_array handles, from C.
 * Usage: raw write PATH N        writes N random uint64 (xorshift64*, seed below) with write(2)
 *        raw read PATH N         maps PATH with raw:// and with mba_attach_raw_fd, checks every
 *                                value, a sub-range at an unaligned-to-the-page offset, writes
 *                                through a writable handle, and that length changes are refused
 *        raw npy PATH            maps a .npy file of int32 0..n-1 with npy:// and checks it
 * Prints "raw ok ..." and exits 0. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mba.h"

#define CHECK(call)                                                                                  \
    do {                                                                                             \
        mba_status s_ = (call);                                                                      \
        if (s_ != MBA_OK) {                                                                          \
            fprintf(stderr, "%s:%d: %s: %s (%s)\n", __FILE__, __LINE__, #call, mba_status_str(s_),   \
                    mba_last_error());                                                               \
            exit(1);                                                                                 \
        }                                                                                            \
    } while (0)
#define EXPECT(call, code)                                                                           \
    do {                                                                                             \
        mba_status s_ = (call);                                                                      \
        if (s_ != (code)) {                                                                          \
            fprintf(stderr, "%s:%d: %s gave %d, not %d (%s)\n", __FILE__, __LINE__, #call, s_, code, \
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

static void check_all(mba_array *a, uint64_t n) {
    if (mba_len(a) != n || mba_capacity(a) != n || mba_max_capacity(a) != n) FAIL("len %" PRIu64 "\n", mba_len(a));
    if (mba_kind(a) != MBA_KIND_RAW || mba_byte_order(a) != 0 || mba_dtype(a) != MBA_U64) FAIL("kind\n");
    const mba_header *h = mba_header_ptr(a);
    if (__atomic_load_n(&h->len, __ATOMIC_ACQUIRE) != n) FAIL("header len\n");
    rng = 0x9E3779B97F4A7C15ull;
    const uint64_t *d = mba_data(a);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t want = next(), got = 0;
        CHECK(mba_get(a, i, &got));
        if (got != want || d[i] != want) FAIL("element %" PRIu64 ": %" PRIx64 " != %" PRIx64 "\n", i, got, want);
    }
    uint64_t v = 0;
    EXPECT(mba_get(a, n, &v), MBA_ERR_OUT_OF_BOUNDS);
    EXPECT(mba_append(a, &v), MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_extend(a, &v, 1), MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_pop(a, &v), MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_truncate(a, 0), MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_reserve(a, n + 1), MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_splice(a, 0, 1, NULL, NULL, NULL, 0), MBA_ERR_INVALID_ARGUMENT);
}

int main(int argc, char **argv) {
    if (argc < 3) FAIL("usage\n");
    const char *path = argv[2];
    if (!strcmp(argv[1], "write")) {
        uint64_t n = strtoull(argv[3], NULL, 10);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0) FAIL("open\n");
        for (uint64_t i = 0; i < n; i++) {
            uint64_t v = next();
            if (write(fd, &v, 8) != 8) FAIL("write\n");
        }
        close(fd);
        printf("raw ok wrote %" PRIu64 "\n", n);
        return 0;
    }
    if (!strcmp(argv[1], "read")) {
        uint64_t n = strtoull(argv[3], NULL, 10);
        char uri[4200];
        snprintf(uri, sizeof uri, "raw://%s", path);
        mba_options o;
        mba_options_init(&o);
        o.flags = MBA_READ_ONLY;
        mba_array *a = NULL;
        EXPECT(mba_attach_ex(uri, &o, &a), MBA_ERR_INVALID_ARGUMENT); /* no dtype */
        EXPECT(mba_attach(uri, MBA_READ_ONLY, &a), MBA_ERR_INVALID_ARGUMENT);
        o.dtype = MBA_U64;
        CHECK(mba_attach_ex(uri, &o, &a));
        check_all(a, n);
        uint64_t v = 1;
        EXPECT(mba_set(a, 0, &v), MBA_ERR_READ_ONLY);
        CHECK(mba_msync(a, MBA_SYNC));
        CHECK(mba_free(a));

        /* The same through a descriptor, read-write: a write is seen by a second handle. */
        int fd = open(path, O_RDWR);
        o.flags = 0;
        mba_array *w = NULL, *r = NULL;
        CHECK(mba_attach_raw_fd(fd, &o, &w));
        close(fd);
        check_all(w, n);
        o.flags = MBA_READ_ONLY;
        /* A sub-range at byte 4096 + 8 (not page-aligned), 10 elements, as rows of 2. */
        o.offset = 4096 + 8;
        o.length = 80;
        o.ndim = 2;
        o.shape[1] = 2;
        CHECK(mba_attach_ex(uri, &o, &r));
        uint64_t shape[2];
        CHECK(mba_shape(r, shape));
        if (mba_len(r) != 10 || shape[0] != 5 || shape[1] != 2) FAIL("sub-range shape\n");
        uint64_t got = 0, want = 0;
        CHECK(mba_get(w, 513, &want));
        CHECK(mba_get(r, 0, &got));
        if (got != want) FAIL("sub-range element 0\n");
        v = 0x1234;
        CHECK(mba_set(w, 514, &v));
        CHECK(mba_msync(w, MBA_SYNC));
        CHECK(mba_get(r, 1, &got));
        if (got != 0x1234) FAIL("write not seen\n");
        CHECK(mba_free(r));
        /* A length that is not a whole number of rows; then rounded down. */
        o.length = 88;
        EXPECT(mba_attach_ex(uri, &o, &r), MBA_ERR_INVALID_ARGUMENT);
        o.flags |= MBA_ROUND_DOWN;
        CHECK(mba_attach_ex(uri, &o, &r));
        if (mba_len(r) != 10) FAIL("round down\n");
        CHECK(mba_free(r));
        /* Misaligned offset; a range past the end of the file. */
        o.offset = 4;
        EXPECT(mba_attach_ex(uri, &o, &r), MBA_ERR_INVALID_ARGUMENT);
        o.offset = 8 * n;
        o.length = 16;
        EXPECT(mba_attach_ex(uri, &o, &r), MBA_ERR_INVALID_ARGUMENT);
        CHECK(mba_free(w));
        printf("raw ok read %" PRIu64 "\n", n);
        return 0;
    }
    if (!strcmp(argv[1], "npy")) {
        char uri[4200];
        snprintf(uri, sizeof uri, "npy://%s", path);
        mba_array *a = NULL;
        CHECK(mba_attach(uri, MBA_READ_ONLY, &a));
        if (mba_kind(a) != MBA_KIND_NPY || mba_dtype(a) != MBA_I32) FAIL("npy kind\n");
        for (uint64_t i = 0; i < mba_len(a); i++) {
            int32_t x;
            CHECK(mba_get(a, i, &x));
            if (x != (int32_t)i) FAIL("npy element %" PRIu64 "\n", i);
        }
        printf("raw ok npy %" PRIu64 "\n", mba_len(a));
        CHECK(mba_free(a));
        return 0;
    }
    FAIL("usage\n");
}
