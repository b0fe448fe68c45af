/* resources.c: limits and untrusted stores (docs/GUARANTEES.md §4 and §10). Each mode prints
 * "ok ..." lines, or "FAIL ..." and exits non-zero. Usage:
 *   resources fsize DIR            under RLIMIT_FSIZE = 1 MiB, create a file array in DIR and append
 *                                  until MBA_ERR_NO_SPACE (never SIGXFSZ); check every element
 *   resources hole DIR             DIR is a small full tmpfs: a peer grows the store with ftruncate (a
 *                                  hole) and claims a large length; readers see only what is backed,
 *                                  loop over mba_data() to mba_len(), and get errors, never SIGBUS
 *   resources hole-tricks DIR      the same with a hole the file's block count cannot show: the peer
 *                                  allocates as many pages past the reservation, or past the end of
 *                                  the file (FALLOC_FL_KEEP_SIZE); new handles, read-only and
 *                                  read-write, read to mba_len() and get errors, never SIGBUS
 *   resources view-loop URI MS     attach read-only, print "ready", and for MS ms read all of
 *                                  mba_data()[0 .. mba_len()] while a peer scribbles the header
 *   resources mlockall URI         mlockall(MCL_CURRENT | MCL_FUTURE), then attach read-only and read
 *   resources nobody-mlockall URI  the same as user nobody (a small RLIMIT_MEMLOCK)
 *   resources nobody-symlink LINK TARGET   as nobody, plant a symbolic link LINK -> TARGET
 *   resources nobody-create URI    as nobody, create an array of mode 0666 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "mba.h"

static int fail(const char *what, mba_status s) {
    printf("FAIL %s: %s (%s)\n", what, mba_status_str(s), mba_last_error());
    return 1;
}
static double ms_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}
static int become_nobody(void) { return setgid(65534) == 0 && setuid(65534) == 0; }

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *mode = argv[1], *arg = argv[2];
    mba_array *a = NULL, *r = NULL;
    mba_status s;
    char uri[4096];
    setvbuf(stdout, NULL, _IONBF, 0);

    if (!strcmp(mode, "fsize")) {
        struct rlimit rl = {1 << 20, 1 << 20};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) return printf("FAIL setrlimit\n"), 1;
        snprintf(uri, sizeof uri, "file://%s/big.mba", arg);
        /* A create past the limit is refused up front. */
        if ((s = mba_create(uri, MBA_U32, 1 << 20, 0, &a)) != MBA_ERR_NO_SPACE) return fail("create past the limit", s);
        if (!strstr(mba_last_error(), "RLIMIT_FSIZE")) return fail("message names RLIMIT_FSIZE", s);
        if ((s = mba_create(uri, MBA_U32, 16, 0, &a)) != MBA_OK) return fail("create", s);
        uint32_t n = 0;
        while ((s = mba_append(a, &n)) == MBA_OK) n++;
        if (s != MBA_ERR_NO_SPACE) return fail("append past the limit", s);
        const uint32_t *d = mba_data(a);
        for (uint32_t i = 0; i < n; i++)
            if (d[i] != i) return printf("FAIL element %u\n", i), 1;
        if ((s = mba_reserve(a, 1 << 20)) != MBA_ERR_NO_SPACE) return fail("reserve past the limit", s);
        printf("ok fsize len=%u status=%s\n", n, mba_status_str(MBA_ERR_NO_SPACE));
    } else if (!strcmp(mode, "hole")) {
        snprintf(uri, sizeof uri, "file://%s/arr.mba", arg);
        char path[4096], filler[4096];
        snprintf(path, sizeof path, "%s/arr.mba", arg);
        snprintf(filler, sizeof filler, "%s/filler", arg);
        if ((s = mba_create(uri, MBA_U32, 16, 0, &a)) != MBA_OK) return fail("create", s);
        for (uint32_t i = 0; i < 16; i++)
            if ((s = mba_append(a, &i)) != MBA_OK) return fail("append", s);
        if ((s = mba_attach(uri, MBA_READ_ONLY, &r)) != MBA_OK) return fail("attach", s);
        /* Fill the file system. */
        int f = open(filler, O_WRONLY | O_CREAT, 0600);
        static char block[4096];
        while (write(f, block, sizeof block) == (ssize_t)sizeof block) {}
        close(f);
        /* The peer: grow the store by 1 MiB without allocating, and claim 200,000 elements. */
        int p = open(path, O_RDWR);
        if (p < 0 || ftruncate(p, 4096 + (1 << 20)) != 0) return printf("FAIL peer ftruncate\n"), 1;
        uint64_t claim = 200000;
        if (pwrite(p, &claim, 8, 64) != 8) return printf("FAIL peer pwrite\n"), 1;
        close(p);
        uint64_t n = mba_len(r), sum = 0;
        if (n >= claim) return printf("FAIL reader's len %" PRIu64 " covers the hole\n", n), 1;
        const volatile uint32_t *d = mba_data(r);
        for (uint64_t i = 0; i < n; i++) sum += d[i];
        uint32_t v;
        if ((s = mba_get(r, claim - 1, &v)) != MBA_ERR_CORRUPT) return fail("get in the hole", s);
        uint64_t wn = mba_len(a);
        if (wn >= claim) return printf("FAIL writer's len %" PRIu64 " covers the hole\n", wn), 1;
        const volatile uint32_t *wd = mba_data(a);
        for (uint64_t i = 0; i < wn; i++) sum += wd[i];
        s = mba_append(a, &v);
        if (s != MBA_ERR_CORRUPT && s != MBA_ERR_NO_SPACE) return fail("append past a hole", s);
        printf("ok hole reader_len=%" PRIu64 " writer_len=%" PRIu64 " append=%s sum=%" PRIu64 "\n", n, wn,
               mba_status_str(s), sum);
    } else if (!strcmp(mode, "hole-tricks")) {
        /* A u64 array of maximum capacity 2048 (its reservation: 4096 + 16 KiB), 16 elements. */
        for (int trick = 0; trick < 2; trick++) {
            char path[4096], filler[4096];
            snprintf(uri, sizeof uri, "file://%s/t%d.mba", arg, trick);
            snprintf(path, sizeof path, "%s/t%d.mba", arg, trick);
            snprintf(filler, sizeof filler, "%s/filler", arg);
            mba_options o;
            mba_options_init(&o);
            o.dtype = MBA_U64;
            o.capacity = 16;
            o.max_capacity = 2048;
            if ((s = mba_create_ex(uri, &o, &a)) != MBA_OK) return fail("create", s);
            for (uint64_t i = 0; i < 16; i++)
                if ((s = mba_append(a, &i)) != MBA_OK) return fail("append", s);
            mba_free(a);
            a = NULL;
            /* The peer leaves [8 KiB, end) a hole and allocates as many pages where no reader
             * looks: past the reservation (trick 0), or past the end of the file (trick 1). */
            int p = open(path, O_RDWR);
            int bad = trick == 0 ? (ftruncate(p, 192 << 10) || fallocate(p, 0, 128 << 10, 64 << 10))
                                 : (ftruncate(p, 64 << 10) || fallocate(p, FALLOC_FL_KEEP_SIZE, 64 << 10, 64 << 10));
            if (p < 0 || bad) return printf("FAIL peer: %s\n", strerror(errno)), 1;
            int f = open(filler, O_WRONLY | O_CREAT, 0600);
            static char block[4096];
            while (write(f, block, sizeof block) == (ssize_t)sizeof block) {}
            close(f);
            uint64_t claim = 2048, v = 0, sum = 0;
            if (pwrite(p, &claim, 8, 64) != 8) return printf("FAIL peer pwrite\n"), 1;
            close(p);
            for (int rw = 0; rw < 2; rw++) {
                if ((s = mba_attach(uri, rw ? 0 : MBA_READ_ONLY, &r)) != MBA_OK) return fail("attach", s);
                uint64_t n = mba_len(r);
                if (n >= claim) return printf("FAIL trick %d: len %" PRIu64 " covers the hole\n", trick, n), 1;
                const volatile uint64_t *d = mba_data(r);
                for (uint64_t i = 0; i < n; i++) sum += d[i];
                if ((s = mba_get(r, claim - 1, &v)) != MBA_ERR_CORRUPT) return fail("get in the hole", s);
                if (rw && (s = mba_set(r, claim - 1, &v)) != MBA_ERR_CORRUPT && s != MBA_ERR_OUT_OF_BOUNDS)
                    return fail("set in the hole", s);
                printf("ok hole-tricks trick=%d %s len=%" PRIu64 "\n", trick, rw ? "rw" : "ro", n);
                mba_free(r);
                r = NULL;
            }
            unlink(filler);
            unlink(path);
            if (sum != 2 * 120) return printf("FAIL sum %" PRIu64 "\n", sum), 1;
        }
    } else if (!strcmp(mode, "view-loop")) {
        double until = ms_now() + strtod(argv[3], NULL);
        if ((s = mba_attach(arg, MBA_READ_ONLY, &r)) != MBA_OK) return fail("attach", s);
        printf("ready\n");
        const volatile uint8_t *d = mba_data(r);
        uint64_t loops = 0, bytes = 0, sum = 0, itemsize = mba_itemsize(r);
        while (ms_now() < until) {
            uint64_t n = mba_len(r) * itemsize;
            for (uint64_t i = 0; i < n; i += 64) sum += d[i];
            if (n) sum += d[n - 1];
            bytes += n;
            loops++;
        }
        printf("ok view-loop loops=%" PRIu64 " bytes=%" PRIu64 " sum=%" PRIu64 "\n", loops, bytes, sum & 1);
    } else if (!strcmp(mode, "mlockall") || !strcmp(mode, "nobody-mlockall")) {
        if (mode[0] == 'n' && !become_nobody()) return printf("FAIL setuid\n"), 1;
        if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0) return printf("FAIL mlockall: %s\n", strerror(errno)), 1;
        s = mba_attach(arg, MBA_READ_ONLY, &r);
        if (s == MBA_OK) {
            uint64_t n = mba_len(r), sum = 0;
            const volatile uint32_t *d = mba_data(r);
            for (uint64_t i = 0; i < n; i++) sum += d[i];
            printf("ok attached len=%" PRIu64 " sum=%" PRIu64 "\n", n, sum);
        } else {
            printf("refused status=%s error=%s\n", mba_status_str(s), mba_last_error());
        }
    } else if (!strcmp(mode, "nobody-symlink")) {
        if (!become_nobody()) return printf("FAIL setuid\n"), 1;
        if (symlink(argv[3], arg) != 0) return printf("FAIL symlink: %s\n", strerror(errno)), 1;
        printf("ok planted\n");
    } else if (!strcmp(mode, "nobody-create")) {
        if (!become_nobody()) return printf("FAIL setuid\n"), 1;
        if ((s = mba_create_mode(arg, MBA_U32, 0, 0, 0666, &a)) != MBA_OK) return fail("create", s);
        printf("ok created\n");
    } else {
        return 2;
    }
    mba_free(r);
    mba_free(a);
    return 0;
}
