/* worker.c: the other process of the multi-process tests. Each mode prints what it saw;
 * the Rust test asserts on it. Values are u64 unless said. Usage:
 *   worker append URI ID COUNT [excl]   append (ID<<32 | i) for i < COUNT, one by one
 *   worker extend URI ID COUNT          the same in batches of 1000 with mba_extend
 *   worker wait URI INDEX               attach read-only, wait until INDEX < len, print element INDEX
 *   worker lease URI                    attach exclusive, print "ready", append index values forever
 *   worker spin URI ID                  attach shared, print "ready", append (ID<<32 | i) forever
  *   worker fill URI                     create a u32 array, append until an error; check the data
  *   worker poke-ro URI                  attach read-only and write through mba_data(): must die of SIGSEGV
 *   worker nobody URI                   become user and group 65534 (nobody), then try to attach read-write
 *                                       and read-only; print both statuses */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mba.h"

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
    } else if (!strcmp(mode, "lease") || !strcmp(mode, "spin")) {
        int lease = !strcmp(mode, "lease");
        if ((s = mba_attach(uri, lease ? MBA_EXCLUSIVE : 0, &a)) != MBA_OK) return fail("attach", s);
        uint64_t id = lease ? 0 : strtoull(argv[3], NULL, 10);
        for (uint64_t i = 0;; i++) {
            uint64_t v = lease ? mba_len(a) : (id << 32 | i); /* the lease holder is the only appender */
            if ((s = mba_append(a, &v)) != MBA_OK) return fail("append", s);
            if (i == 1000) printf("ready\n");
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
