/* claim.c: claim/commit and mba_wait_len through the C ABI. Prints "ok MODE ..." on success.
 *   claim fork-excl URI     exclusive handle: claim 500, fork; the child can neither commit, abort, claim
 *                           nor append through the inherited handle and sees nothing of the claim;
 *                           the parent then commits (len 1000)
 *   claim fork-shared URI   the same with a shared handle; the child's own handle finds the append lock
 *                           still held by the parent's claim (MBA_ERR_BUSY)
 *   claim api URI           NULL and bad arguments, commit/abort rules, messages, mba_wait_len */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "mba.h"

static int fail(const char *what, mba_status s) {
    printf("FAIL %s: %s (%s)\n", what, mba_status_str(s), mba_last_error());
    return 1;
}
#define EXPECT(call, want)                                                   \
    do {                                                                     \
        mba_status s_ = (call);                                              \
        if (s_ != (want)) return fail(#call " (want " #want ")", s_);         \
    } while (0)

static int fork_claim(const char *uri, int exclusive) {
    mba_array *a = NULL;
    EXPECT(mba_create(uri, MBA_U64, 4, exclusive ? MBA_EXCLUSIVE : 0, &a), MBA_OK);
    for (uint64_t i = 0; i < 500; i++) EXPECT(mba_append(a, &i), MBA_OK);
    void *p = NULL;
    EXPECT(mba_claim(a, 500, &p), MBA_OK);
    for (uint64_t i = 0; i < 500; i++) ((uint64_t *)p)[i] = 500 + i;
    pid_t pid = fork();
    if (pid == 0) {
        uint64_t v = 1;
        void *q = NULL;
        if (mba_commit(a, 500) != MBA_ERR_WRONG_PROCESS) _exit(10);
        if (mba_abort(a) != MBA_ERR_WRONG_PROCESS) _exit(11);
        if (mba_claim(a, 1, &q) != MBA_ERR_WRONG_PROCESS || q) _exit(12);
        if (mba_append(a, &v) != MBA_ERR_WRONG_PROCESS) _exit(13);
        if (mba_len(a) != 500) _exit(14);
        mba_array *b = NULL;
        if (mba_attach(uri, 0, &b) != MBA_OK) _exit(15);
        if (mba_len(b) != 500) _exit(16);
        if (!exclusive) {
            /* The parent's claim still holds the append lock: this process is not its owner. */
            if (mba_set_timeout(b, 50) != MBA_OK || mba_append(b, &v) != MBA_ERR_BUSY) _exit(17);
        } else if (mba_append(b, &v) != MBA_ERR_BUSY) {
            _exit(18); /* the parent holds the lease */
        }
        if (mba_free(b) != MBA_OK || mba_free(a) != MBA_OK) _exit(19);
        _exit(0);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) return fail("fork", MBA_ERR_IO);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        printf("FAIL child exited with %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return 1;
    }
    EXPECT(mba_commit(a, 500), MBA_OK);
    for (uint64_t i = 0; i < 1000; i++) {
        uint64_t v;
        EXPECT(mba_get(a, i, &v), MBA_OK);
        if (v != i) return fail("element", MBA_ERR_CORRUPT);
    }
    printf("ok %s len=%" PRIu64 "\n", exclusive ? "fork-excl" : "fork-shared", mba_len(a));
    return mba_free(a) == MBA_OK ? 0 : 1;
}

static int api(const char *uri) {
    mba_array *a = NULL;
    void *p = (void *)&p;
    uint64_t n = 77;
    if (MBA_WAIT_FOREVER != UINT64_MAX || MBA_DEFAULT_BATCH != 4096) return fail("constants", MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_claim(NULL, 1, &p), MBA_ERR_NULL_POINTER);
    EXPECT(mba_commit(NULL, 1), MBA_ERR_NULL_POINTER);
    EXPECT(mba_abort(NULL), MBA_ERR_NULL_POINTER);
    EXPECT(mba_wait_len(NULL, 1, 0, &n), MBA_ERR_NULL_POINTER);
    EXPECT(mba_create(uri, MBA_U32, 0, 0, &a), MBA_OK);
    EXPECT(mba_claim(a, 1, NULL), MBA_ERR_NULL_POINTER);
    EXPECT(mba_wait_len(a, 1, 0, NULL), MBA_ERR_NULL_POINTER);
    if (n != 77) return fail("outputs only on success", MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_commit(a, 0), MBA_ERR_INVALID_ARGUMENT);
    if (!strstr(mba_last_error(), "mba_commit") || !strstr(mba_last_error(), "no claim is open"))
        return fail("message names the export and the cause", MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_claim(a, UINT64_MAX, &p), MBA_ERR_INVALID_ARGUMENT);
    if (p != (void *)&p) return fail("outputs only on success", MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_claim(a, 100000, &p), MBA_OK);
    if (p != mba_data(a) || ((uintptr_t)p & 63)) return fail("room at the end, aligned", MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_claim(a, 1, &p), MBA_ERR_BUSY); /* one claim at a time, and no waiting for oneself */
    uint32_t v = 5;
    EXPECT(mba_append(a, &v), MBA_ERR_BUSY);
    EXPECT(mba_msync(a, MBA_ASYNC), MBA_OK);
    uint32_t *room = mba_data(a);
    for (uint32_t i = 0; i < 100000; i++) room[i] = i;
    EXPECT(mba_commit(a, 100001), MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_commit(a, 99999), MBA_OK);
    EXPECT(mba_commit(a, 0), MBA_ERR_INVALID_ARGUMENT);
    if (mba_len(a) != 99999 || mba_capacity(a) < 100000) return fail("len after commit", MBA_ERR_CORRUPT);
    EXPECT(mba_claim(a, 10, &p), MBA_OK);
    EXPECT(mba_abort(a), MBA_OK);
    EXPECT(mba_abort(a), MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_append(a, &v), MBA_OK);
    if (mba_len(a) != 100000) return fail("append after abort", MBA_ERR_CORRUPT);

    /* mba_wait_len: a reached length returns at once; 0 ms never sleeps; a child appends later. */
    EXPECT(mba_wait_len(a, 100000, MBA_WAIT_FOREVER, &n), MBA_OK);
    if (n != 100000) return fail("wait for a reached length", MBA_ERR_CORRUPT);
    EXPECT(mba_wait_len(a, 100001, 0, &n), MBA_OK);
    if (n != 100000) return fail("wait with timeout 0", MBA_ERR_CORRUPT);
    EXPECT(mba_wait_len(a, 100001, 20, &n), MBA_OK);
    if (n != 100000) return fail("wait that times out", MBA_ERR_CORRUPT);
    pid_t pid = fork();
    if (pid == 0) {
        mba_array *b = NULL;
        usleep(20000);
        if (mba_attach(uri, 0, &b) != MBA_OK) _exit(2);
        void *q;
        if (mba_claim(b, 3, &q) != MBA_OK) _exit(3);
        ((uint32_t *)q)[0] = ((uint32_t *)q)[1] = ((uint32_t *)q)[2] = 1;
        _exit(mba_commit(b, 3) == MBA_OK ? 0 : 4);
    }
    mba_array *r = NULL;
    EXPECT(mba_attach(uri, MBA_READ_ONLY, &r), MBA_OK);
    EXPECT(mba_wait_len(r, 100003, MBA_WAIT_FOREVER, &n), MBA_OK);
    if (n != 100003) return fail("woken by the child's commit", MBA_ERR_CORRUPT);
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return fail("child", MBA_ERR_IO);
    EXPECT(mba_claim(r, 1, &p), MBA_ERR_READ_ONLY);
    EXPECT(mba_free(r), MBA_OK);
    /* Freeing with a claim open aborts it. */
    EXPECT(mba_claim(a, 5, &p), MBA_OK);
    EXPECT(mba_free(a), MBA_OK);
    EXPECT(mba_attach(uri, 0, &a), MBA_OK);
    EXPECT(mba_set_timeout(a, 100), MBA_OK);
    EXPECT(mba_append(a, &v), MBA_OK);
    if (mba_len(a) != 100004) return fail("len after free with a claim open", MBA_ERR_CORRUPT);
    printf("ok api\n");
    return mba_free(a) == MBA_OK ? 0 : 1;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 3) return 2;
    if (!strcmp(argv[1], "fork-excl")) return fork_claim(argv[2], 1);
    if (!strcmp(argv[1], "fork-shared")) return fork_claim(argv[2], 0);
    if (!strcmp(argv[1], "api")) return api(argv[2]);
    return 2;
}
