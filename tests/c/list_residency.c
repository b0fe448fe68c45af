/* Listing and memory residency from C, against the real header and library.
 *
 *   list_residency list DIR        prints one line per entry of mba_list_open(DIR):
 *                                  "uri status dtype ndim shape0 len creator_alive" (shape0 = rows)
 *   list_residency mlock URI LIMIT under RLIMIT_MEMLOCK = LIMIT bytes and without CAP_IPC_LOCK,
 *                                  mlock of URI; prints "status message" and the small-array check
 *   list_residency make URI        creates URI (u32, mode 0644) holding 0, 1, 2, and exits
 *   list_residency args            every bad argument is a status code; prints "args ok" */
#define _GNU_SOURCE
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mba.h"

#define CHECK(cond)                                                                                        \
    do {                                                                                                   \
        if (!(cond)) {                                                                                     \
            fprintf(stderr, "%s:%d: check failed: %s (%s)\n", __FILE__, __LINE__, #cond, mba_last_error()); \
            exit(1);                                                                                       \
        }                                                                                                  \
    } while (0)

static int do_list(const char *dir) {
    mba_list *l = NULL;
    CHECK(mba_list_open(dir, 0, &l) == MBA_OK);
    uint64_t n = mba_list_count(l);
    for (uint64_t i = 0; i < n; i++) {
        mba_list_entry e;
        CHECK(mba_list_get(l, i, &e, sizeof e) == MBA_OK);
        const char *alive = e.creator_alive == MBA_CREATOR_ALIVE  ? "alive"
                            : e.creator_alive == MBA_CREATOR_DEAD ? "dead"
                                                                  : "unknown";
        printf("%s %s %u %u %llu %llu %s\n", e.uri, e.status == MBA_OK ? "ok" : "corrupt", e.dtype, e.ndim,
               (unsigned long long)e.shape[0], (unsigned long long)e.len, alive);
        if (e.status != MBA_OK) CHECK(strlen(e.problem) > 0);
        else CHECK(e.problem[0] == '\0' && e.bytes > 0 && strlen(e.owner) > 0 && e.max_capacity >= e.capacity);
    }
    CHECK(mba_list_free(l) == MBA_OK);
    return 0;
}

/* Drops CAP_IPC_LOCK (which ignores RLIMIT_MEMLOCK) from this process, if it has it. */
static void drop_ipc_lock(void) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    CHECK(syscall(SYS_capget, &h, d) == 0);
    d[0].effective &= ~(1u << CAP_IPC_LOCK);
    d[0].permitted &= ~(1u << CAP_IPC_LOCK);
    d[0].inheritable &= ~(1u << CAP_IPC_LOCK);
    CHECK(syscall(SYS_capset, &h, d) == 0);
}

static int do_mlock(const char *uri, const char *limit) {
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = strtoull(limit, NULL, 10);
    CHECK(setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
    drop_ipc_lock();
    mba_array *a = NULL;
    CHECK(mba_attach(uri, MBA_READ_ONLY, &a) == MBA_OK);
    mba_status s = mba_mlock(a);
    printf("%d %s\n", s, s == MBA_OK ? "" : mba_last_error());
    CHECK(mba_munlock(a) == MBA_OK);
    mba_free(a);
    /* A small anonymous array fits under the limit. */
    mba_array *small = NULL;
    CHECK(mba_create(NULL, MBA_U8, 0, 0, &small) == MBA_OK);
    unsigned char page[4096] = {1};
    CHECK(mba_extend(small, page, sizeof page) == MBA_OK);
    CHECK(mba_mlock(small) == MBA_OK);
    /* Locked pages cannot be dropped: DONTNEED says so until they are unlocked. */
    CHECK(mba_madvise(small, MBA_ADVICE_DONTNEED) == MBA_ERR_INVALID_ARGUMENT);
    CHECK(strstr(mba_last_error(), "munlock first") != NULL);
    CHECK(mba_munlock(small) == MBA_OK);
    for (uint32_t adv = MBA_ADVICE_NORMAL; adv <= MBA_ADVICE_DONTNEED; adv++) CHECK(mba_madvise(small, adv) == MBA_OK);
    mba_free(small);
    printf("small ok\n");
    return 0;
}

static int do_args(void) {
    mba_list *l = (mba_list *)0x1;
    CHECK(mba_list_open("/nonexistent-mba-dir", 0, &l) == MBA_ERR_NOT_FOUND && l == (mba_list *)0x1);
    CHECK(mba_list_open(NULL, 0x80, &l) == MBA_ERR_INVALID_ARGUMENT && l == (mba_list *)0x1);
    CHECK(mba_list_open(NULL, 0, NULL) == MBA_ERR_NULL_POINTER);
    CHECK(mba_list_open(NULL, 0, &l) == MBA_OK);
    mba_list_entry e;
    CHECK(mba_list_get(l, UINT64_MAX, &e, sizeof e) == MBA_ERR_OUT_OF_BOUNDS);
    CHECK(mba_list_get(l, 0, &e, 8) == MBA_ERR_INVALID_ARGUMENT);
    CHECK(mba_list_get(NULL, 0, &e, sizeof e) == MBA_ERR_NULL_POINTER);
    CHECK(mba_list_count(NULL) == 0);
    CHECK(mba_list_free(l) == MBA_OK && mba_list_free(NULL) == MBA_OK);
    CHECK(mba_mlock(NULL) == MBA_ERR_NULL_POINTER && mba_munlock(NULL) == MBA_ERR_NULL_POINTER);
    mba_array *a = NULL;
    CHECK(mba_create(NULL, MBA_F64, 0, 0, &a) == MBA_OK);
    CHECK(mba_madvise(a, 99) == MBA_ERR_INVALID_ARGUMENT);
    CHECK(strstr(mba_last_error(), "unknown advice 99") != NULL);
    mba_free(a);
    printf("args ok\n");
    return 0;
}

static int do_make(const char *uri) {
    mba_array *a = NULL;
    CHECK(mba_create_mode(uri, MBA_U32, 0, 0, 0644, &a) == MBA_OK);
    for (uint32_t i = 0; i < 3; i++) CHECK(mba_append(a, &i) == MBA_OK);
    mba_free(a);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "make") == 0) return do_make(argv[2]);
    if (argc == 3 && strcmp(argv[1], "list") == 0) return do_list(argv[2]);
    if (argc == 4 && strcmp(argv[1], "mlock") == 0) return do_mlock(argv[2], argv[3]);
    if (argc == 2 && strcmp(argv[1], "args") == 0) return do_args();
    fprintf(stderr, "usage: list_residency list DIR | mlock URI LIMIT | make URI | args\n");
    return 2;
}
