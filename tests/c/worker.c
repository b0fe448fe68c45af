/* worker.c: the other process of the multi-process tests. Each mode prints what it saw;
 * the Rust test asserts on it. Values are u64 unless said. Usage:
 *   worker append URI ID COUNT [excl]   append (ID<<32 | i) for i < COUNT, one by one
 *   worker extend URI ID COUNT          the same in batches of 1000 with mba_extend
 *   worker wait URI INDEX               attach read-only, wait until INDEX < len, print element INDEX
  *   worker lease URI                    attach exclusive, print "ready", append index values forever
 *   worker lease-extend URI             the same with mba_extend in batches of 1 to 512
 *   worker spin URI ID                  attach shared, print "ready", append (ID<<32 | i) forever
  *   worker fill URI                     create a u32 array, append until an error; check the data
  *   worker poke-ro URI                  attach read-only and write through mba_data(): must die of SIGSEGV
  *   worker nobody URI                   become user and group 65534 (nobody), then try to attach read-write
 *                                       and read-only; print both statuses
 *   worker stress URI ID OPS SEED [claims]  OPS random operations on (ID<<32 | seq) values: shared appends,
 *                                       shared extends, and lease sessions that append, extend and pop; with
 *                                       "claims", also shared claims committed in part or aborted, and a claim
 *                                       in each lease session
 *   worker claim URI                    attach shared, print "ready", then forever: claim 1 to 512 elements,
 *                                       write their indices slowly (POISON past what will be committed), and
 *                                       commit a random prefix or abort
 *   worker claim-lease URI              the same through an exclusive handle
 *   worker check URI WRITERS MS [STOP]  for MS milliseconds, or until the file STOP exists, read snapshots and
 *                                       check every writer's values are contiguous (0, 1, 2, ...) in each
 *   worker chaos URI MS FLAGS           call every API in a loop for MS ms against a store a peer scribbles on;
 *                                       any status is fine, a crash is not
 *   worker create-loop URI              create (overwrite) and free an 8 MiB array forever
 *   worker read-loop URI                read the whole array forever
 *   worker fill-paths                   on a small /dev/shm: create, append, extend, reserve until full */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "mba.h"

static uint64_t rng_state;
static uint64_t rnd(void) { /* xorshift64 */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static double ms_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

#define POISON 0xDEADDEADDEADDEADull

static int fail(const char *what, mba_status s) {
    printf("FAIL %s: %s (%s)\n", what, mba_status_str(s), mba_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *mode = argv[1], *uri = argv[2];
    mba_array *a = NULL;
    mba_status s;
    setvbuf(stdout, NULL, _IONBF, 0);

    if (!strcmp(mode, "append") || !strcmp(mode, "extend")) {
        uint64_t id = strtoull(argv[3], NULL, 10), count = strtoull(argv[4], NULL, 10);
        uint32_t flags = (argc > 5 && !strcmp(argv[5], "excl")) ? MBA_EXCLUSIVE : 0;
        if ((s = mba_attach(uri, flags, &a)) != MBA_OK) return fail("attach", s);
        if (!strcmp(mode, "append")) {
            for (uint64_t i = 0; i < count; i++) {
                uint64_t v = id << 32 | i;
                if ((s = mba_append(a, &v)) != MBA_OK) return fail("append", s);
            }
        } else {
            uint64_t batch[1000];
            for (uint64_t i = 0; i < count;) {
                uint64_t n = count - i < 1000 ? count - i : 1000;
                for (uint64_t j = 0; j < n; j++) batch[j] = id << 32 | (i + j);
                if ((s = mba_extend(a, batch, n)) != MBA_OK) return fail("extend", s);
                i += n;
            }
        }
        printf("done %" PRIu64 "\n", count);
    } else if (!strcmp(mode, "wait")) {
        uint64_t index = strtoull(argv[3], NULL, 10), v = 0;
        if ((s = mba_attach(uri, MBA_READ_ONLY, &a)) != MBA_OK) return fail("attach", s);
        printf("attached capacity=%" PRIu64 "\n", mba_capacity(a));
        const void *data = mba_data(a);
        for (int waited = 0; mba_len(a) <= index; waited++) {
            if (waited > 600000) return fail("wait (60 s)", MBA_ERR_BUSY); /* never outlive a failed test */
            usleep(100);
        }
        if ((s = mba_get(a, index, &v)) != MBA_OK) return fail("get", s);
        uint64_t direct = ((const uint64_t *)data)[index];
        printf("value=%" PRIu64 " direct=%" PRIu64 " moved=%d\n", v, direct, data != mba_data(a));
        } else if (!strcmp(mode, "lease-extend")) {
        uint64_t batch[512];
        rng_state = (uint64_t)getpid() * 2654435761u + 1;
        if ((s = mba_attach(uri, MBA_EXCLUSIVE, &a)) != MBA_OK) return fail("attach", s);
        for (uint64_t i = 0;; i++) {
            uint64_t len = mba_len(a), k = 1 + rnd() % 512;
            for (uint64_t j = 0; j < k; j++) batch[j] = len + j;
            if ((s = mba_extend(a, batch, k)) != MBA_OK) return fail("extend", s);
            if (i == 20) printf("ready\n");
        }
    } else if (!strcmp(mode, "lease") || !strcmp(mode, "spin")) {
        int lease = !strcmp(mode, "lease");
        if ((s = mba_attach(uri, lease ? MBA_EXCLUSIVE : 0, &a)) != MBA_OK) return fail("attach", s);
        uint64_t id = lease ? 0 : strtoull(argv[3], NULL, 10);
        for (uint64_t i = 0;; i++) {
            uint64_t v = lease ? mba_len(a) : (id << 32 | i); /* the lease holder is the only appender */
            if ((s = mba_append(a, &v)) != MBA_OK) return fail("append", s);
            if (i == 1000) printf("ready\n");
        }
    } else if (!strcmp(mode, "claim") || !strcmp(mode, "claim-lease")) {
        int lease = !strcmp(mode, "claim-lease");
        rng_state = (uint64_t)getpid() * 2654435761u + 1;
        if ((s = mba_attach(uri, lease ? MBA_EXCLUSIVE : 0, &a)) != MBA_OK) return fail("attach", s);
        for (uint64_t i = 0;; i++) {
            uint64_t k = 1 + rnd() % 512, m = rnd() % (k + 1), *p;
            int abort_ = rnd() % 8 == 0;
            if ((s = mba_claim(a, k, (void **)&p)) != MBA_OK) return fail("claim", s);
            uint64_t at = (uint64_t)(p - (uint64_t *)mba_data(a));
            for (uint64_t j = 0; j < k; j++) {
                p[j] = j < m && !abort_ ? at + j : POISON;
                for (volatile int d = 0; d < 100; d++) {
                } /* slowly: most kills land between claim and commit */
            }
            if ((s = abort_ ? mba_abort(a) : mba_commit(a, m)) != MBA_OK) return fail("commit", s);
            if (i == 20) printf("ready\n");
        }
    } else if (!strcmp(mode, "fill")) {
        if ((s = mba_create(uri, MBA_U32, 16, 0, &a)) != MBA_OK) return fail("create", s);
        uint32_t n = 0;
        while ((s = mba_append(a, &n)) == MBA_OK) n++;
        printf("stopped status=%s len=%" PRIu64 "\n", mba_status_str(s), mba_len(a));
        printf("error=%s\n", mba_last_error());
        for (uint32_t i = 0; i < n; i++) {
            uint32_t v;
            if (mba_get(a, i, &v) != MBA_OK || v != i) return fail("read back", MBA_ERR_CORRUPT);
        }
        /* Still usable: in-place writes and pops work, and so do appends after a pop. */
        uint32_t last;
        if ((s = mba_pop(a, &last)) != MBA_OK || last != n - 1) return fail("pop", s);
        if ((s = mba_append(a, &last)) != MBA_OK) return fail("append after pop", s);
        printf("intact %" PRIu32 "\n", n);
            } else if (!strcmp(mode, "nobody")) {
        if (setgid(65534) != 0 || setuid(65534) != 0) return fail("setuid", MBA_ERR_PERMISSION);
        s = mba_attach(uri, 0, &a);
        printf("rw=%s\n", mba_status_str(s));
        if (s != MBA_OK) printf("error=%s\n", mba_last_error());
        mba_free(a);
        a = NULL;
        s = mba_attach(uri, MBA_READ_ONLY, &a);
        printf("ro=%s\n", mba_status_str(s));
        } else if (!strcmp(mode, "stress")) {
        uint64_t id = strtoull(argv[3], NULL, 10), ops = strtoull(argv[4], NULL, 10), seq = 0;
        uint64_t appends = 0, extends = 0, sessions = 0, pops = 0, busy = 0, claims = 0, batch[64];
        int with_claims = argc > 6 && !strcmp(argv[6], "claims");
        rng_state = strtoull(argv[5], NULL, 10) * 2654435761u + 1;
        if ((s = mba_attach(uri, 0, &a)) != MBA_OK) return fail("attach", s);
        for (uint64_t op = 0; op < ops; op++) {
            uint64_t r = rnd() % 100;
            if (with_claims && r < 30) {
                /* A shared claim: committed in part, or (1 in 8) aborted; the rest is never seen. */
                uint64_t k = 1 + rnd() % 64, m = rnd() % (k + 1), *p;
                int abort_ = rnd() % 8 == 0;
                s = mba_claim(a, k, (void **)&p);
                if (s == MBA_OK) {
                    for (uint64_t j = 0; j < k; j++) p[j] = j < m && !abort_ ? id << 32 | (seq + j) : POISON;
                    if ((s = abort_ ? mba_abort(a) : mba_commit(a, m)) != MBA_OK) return fail("commit", s);
                    if (!abort_) seq += m;
                    claims++;
                }
            } else if (r < 60) {
                uint64_t v = id << 32 | seq;
                s = mba_append(a, &v);
                if (s == MBA_OK) seq++, appends++;
            } else if (r < 90) {
                uint64_t k = 1 + rnd() % 64;
                for (uint64_t j = 0; j < k; j++) batch[j] = id << 32 | (seq + j);
                s = mba_extend(a, batch, k);
                if (s == MBA_OK) seq += k, extends++;
            } else {
                mba_array *l = NULL;
                s = mba_attach(uri, MBA_EXCLUSIVE, &l);
                if (s == MBA_OK) {
                    uint64_t m = 1 + rnd() % 100;
                    for (uint64_t j = 0; j < m; j++) {
                        uint64_t v = id << 32 | seq;
                        if ((s = mba_append(l, &v)) != MBA_OK) return fail("lease append", s);
                        seq++;
                    }
                    for (uint64_t j = 0; j < 8; j++) batch[j] = id << 32 | (seq + j);
                    if ((s = mba_extend(l, batch, 8)) != MBA_OK) return fail("lease extend", s);
                    seq += 8;
                    if (with_claims) {
                        uint64_t *p;
                        if ((s = mba_claim(l, 16, (void **)&p)) != MBA_OK) return fail("lease claim", s);
                        for (uint64_t j = 0; j < 16; j++) p[j] = j < 10 ? id << 32 | (seq + j) : POISON;
                        if ((s = mba_commit(l, 10)) != MBA_OK) return fail("lease commit", s);
                        seq += 10, claims++;
                    }
                    uint64_t back;
                    if ((s = mba_pop(l, &back)) != MBA_OK) return fail("lease pop", s);
                    if (back != (id << 32 | (seq - 1))) return fail("pop returned another writer's element", MBA_ERR_CORRUPT);
                    seq--, pops++, sessions++;
                    mba_free(l);
                }
            }
            if (s == MBA_ERR_BUSY) busy++;
            else if (s != MBA_OK) return fail("stress op", s);
        }
        printf("done seq=%" PRIu64 " appends=%" PRIu64 " extends=%" PRIu64 " sessions=%" PRIu64 " pops=%" PRIu64
               " busy=%" PRIu64 " claims=%" PRIu64 "\n", seq, appends, extends, sessions, pops, busy, claims);
    } else if (!strcmp(mode, "check")) {
        uint64_t writers = strtoull(argv[3], NULL, 10), snapshots = 0, checked = 0, max_len = 0;
        double until = ms_now() + strtod(argv[4], NULL);
        const char *stop = argc > 5 ? argv[5] : NULL; /* the writers are done: one more snapshot, then stop */
        int last = 0;
        if ((s = mba_attach(uri, MBA_READ_ONLY, &a)) != MBA_OK) return fail("attach", s);
        uint64_t *buf = NULL, *prev = NULL, cap = 0, prev_len = 0, next[64];
        while (!last && ms_now() < until) {
            last = stop && access(stop, F_OK) == 0;
            uint64_t len = mba_len(a);
            if (len > cap) {
                cap = len * 2;
                buf = realloc(buf, cap * 8);
                prev = realloc(prev, cap * 8);
            }
            s = mba_read(a, 0, len, buf);
            if (s == MBA_ERR_OUT_OF_BOUNDS) continue; /* a pop shrank it meanwhile */
            if (s != MBA_OK) return fail("read", s);
            /* The last element may be a popped slot being rewritten: check all before it. */
            memset(next, 0, sizeof next);
            for (uint64_t i = 0; i + 1 < len; i++) {
                uint64_t w = buf[i] >> 32, q = buf[i] & 0xFFFFFFFFu;
                if (w >= writers || q != next[w]) {
                    printf("FAIL snapshot of %" PRIu64 ": element %" PRIu64 " = %#" PRIx64 ", writer %" PRIu64
                           " expected seq %" PRIu64 "\n", len, i, buf[i], w, w < writers ? next[w] : 0);
                    return 1;
                }
                next[w]++;
            }
            /* The prefix only grows: the previous snapshot, less the one slot a pop may free, is
             * still there unchanged (no pop takes more than the last element of a lease session). */
            uint64_t stable = prev_len > 1 ? prev_len - 1 : 0;
            if (len + 1 < prev_len || memcmp(buf, prev, (stable < len ? stable : len) * 8) != 0) {
                printf("FAIL prefix shrank or changed: %" PRIu64 " elements after %" PRIu64 "\n", len, prev_len);
                return 1;
            }
            uint64_t *t = prev;
            prev = buf, buf = t, prev_len = len;
            snapshots++;
            checked += len ? len - 1 : 0;
            if (len > max_len) max_len = len;
        }
        printf("checked snapshots=%" PRIu64 " elements=%" PRIu64 " max_len=%" PRIu64 "\n", snapshots, checked, max_len);
        free(buf);
        free(prev);
    } else if (!strcmp(mode, "chaos")) {
        double until = ms_now() + strtod(argv[3], NULL);
        uint32_t flags = (uint32_t)strtoul(argv[4], NULL, 10);
        uint64_t calls = 0, errors = 0, v = 1, buf[256];
        rng_state = (uint64_t)getpid() * 2654435761u + 1;
                if ((s = mba_attach(uri, flags, &a)) != MBA_OK) return fail("attach", s);
        printf("ready\n");
        while (ms_now() < until) {
            uint64_t len = mba_len(a), i = len ? rnd() % (len + 2) : rnd() % 4, n = rnd() % 256;
            mba_status r[12];
            r[0] = mba_get(a, i, &v);
            r[1] = mba_set(a, i, &v);
            r[2] = mba_read(a, i, n, buf);
            r[3] = mba_write(a, i, n, buf);
            r[4] = mba_append(a, &v);
            r[5] = mba_extend(a, buf, n);
            r[6] = mba_pop(a, &v);
                        r[7] = mba_reserve(a, rnd() % 100000); /* never from the (scribbled) header: no gigabytes */
            r[8] = mba_msync(a, MBA_ASYNC);
            r[9] = mba_get(a, UINT64_MAX, &v);
            r[10] = mba_read(a, UINT64_MAX - 1, 3, buf);
            r[11] = mba_dtype(a) == MBA_U64 && mba_itemsize(a) == 8 ? MBA_OK : MBA_ERR_CORRUPT;
            for (int k = 0; k < 12; k++) errors += r[k] != MBA_OK;
            calls += 12;
            const volatile uint64_t *d = mba_data(a);
            uint64_t l = mba_len(a);
            (void)d;
            (void)l;
        }
        printf("chaos calls=%" PRIu64 " errors=%" PRIu64 "\n", calls, errors);
    } else if (!strcmp(mode, "create-loop")) {
        printf("ready\n");
        for (;;) {
            if ((s = mba_create(uri, MBA_U64, 1 << 20, MBA_OVERWRITE, &a)) != MBA_OK) return fail("create", s);
            mba_free(a);
        }
    } else if (!strcmp(mode, "read-loop")) {
        if ((s = mba_attach(uri, MBA_READ_ONLY, &a)) != MBA_OK) return fail("attach", s);
        uint64_t *buf = malloc(mba_len(a) * 8 + 8);
        printf("ready\n");
        for (;;)
            if ((s = mba_read(a, 0, mba_len(a), buf)) != MBA_OK) return fail("read", s);
    } else if (!strcmp(mode, "fill-paths")) {
        /* Run where /dev/shm is a small tmpfs (see tests/storage.rs). */
        mba_array *ballast = NULL, *big = NULL;
        if ((s = mba_create("shm://ballast", MBA_U8, 64 << 10, 0, &ballast)) != MBA_OK) return fail("ballast", s);
        s = mba_create("shm://too-big", MBA_U64, 1 << 20, 0, &big);
        printf("create-too-big=%s\n", mba_status_str(s));
        s = mba_attach("shm://too-big", 0, &big);
        printf("attach-too-big=%s\n", mba_status_str(s));
        if ((s = mba_create(uri, MBA_U64, 16, 0, &a)) != MBA_OK) return fail("create", s);
        uint64_t n = 0;
        while ((s = mba_append(a, &n)) == MBA_OK) n++;
        printf("append=%s len=%" PRIu64 "\n", mba_status_str(s), mba_len(a));
        uint64_t batch[4096] = {0};
        s = mba_extend(a, batch, 4096);
        printf("extend=%s len=%" PRIu64 "\n", mba_status_str(s), mba_len(a));
        s = mba_reserve(a, mba_len(a) + 100000);
        printf("reserve=%s len=%" PRIu64 "\n", mba_status_str(s), mba_len(a));
        for (uint64_t i = 0; i < n; i++) {
            uint64_t v;
            if (mba_get(a, i, &v) != MBA_OK || v != i) return fail("data after NO_SPACE", MBA_ERR_CORRUPT);
        }
        /* Free space, and growth works again. */
        mba_free(ballast);
        if ((s = mba_delete("shm://ballast")) != MBA_OK) return fail("delete ballast", s);
        uint64_t more = 0;
        for (; more < 4096; more++) {
            uint64_t v = n + more;
            if ((s = mba_append(a, &v)) != MBA_OK) break;
        }
        printf("after-free appended=%" PRIu64 " len=%" PRIu64 "\n", more, mba_len(a));
        for (uint64_t i = 0; i < mba_len(a); i++) {
            uint64_t v;
            if (mba_get(a, i, &v) != MBA_OK || v != i) return fail("data after regrowth", MBA_ERR_CORRUPT);
        }
        printf("intact\n");
    } else if (!strcmp(mode, "poke-ro")) {
        if ((s = mba_attach(uri, MBA_READ_ONLY, &a)) != MBA_OK) return fail("attach", s);
        printf("writing\n");
        *(volatile uint8_t *)mba_data(a) = 1; /* the pages are mapped PROT_READ: this faults */
        printf("wrote through a read-only handle\n");
    } else {
        return 2;
    }
    return mba_free(a) == MBA_OK ? 0 : 1;
}
