/* api_tour.c: every export, on its success and its error paths, from C. Built three ways by
 * the harness: plain, with -fsanitize=address,undefined, and run under valgrind.
 * Prints "tour ok" and, when built with AddressSanitizer, "asan" first. */
#include <stdio.h>
#include <string.h>
#include "mba.h"

#if defined(__SANITIZE_ADDRESS__)
#define BUILT_WITH_ASAN 1
#else
#define BUILT_WITH_ASAN 0
#endif

static int failures;
#define EXPECT(call, want)                                                                    \
    do {                                                                                      \
        mba_status got_ = (call);                                                             \
        if (got_ != (want)) {                                                                 \
            printf("line %d: %s gave %s, want %s (%s)\n", __LINE__, #call, mba_status_str(got_), \
                   mba_status_str(want), mba_last_error());                                   \
            failures++;                                                                       \
        }                                                                                     \
    } while (0)

int main(int argc, char **argv) {
    const char *uri = argc > 1 ? argv[1] : "shm://mba-api-tour";
    if (BUILT_WITH_ASAN) printf("asan\n");
    mba_array *a = NULL, *b = NULL, *c = NULL;
    uint64_t v = 42, out = 0, buf[8] = {1, 2, 3, 4, 5, 6, 7, 8};

    mba_delete(uri);
    EXPECT(mba_create(uri, MBA_U64, 2, 0, NULL), MBA_ERR_NULL_POINTER);
    EXPECT(mba_create(uri, 0, 2, 0, &a), MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_create(uri, 0xFFFFFFFFu, 2, 0, &a), MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_create(uri, MBA_U64, 2, 0x100, &a), MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_create("nope://x", MBA_U64, 2, 0, &a), MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_create_mode(uri, MBA_U64, 2, 0, 01777, &a), MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_create(uri, MBA_U64, 2, 0, &a), MBA_OK);
    EXPECT(mba_create(uri, MBA_U64, 2, 0, &b), MBA_ERR_EXISTS);
    EXPECT(mba_attach(uri, MBA_READ_ONLY, &b), MBA_OK);
    EXPECT(mba_attach(uri, MBA_READ_ONLY | MBA_EXCLUSIVE, &c), MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_attach("shm://mba-api-tour-missing", 0, &c), MBA_ERR_NOT_FOUND);
    EXPECT(mba_attach(NULL, 0, &c), MBA_ERR_NULL_POINTER);

    EXPECT(mba_append(a, &v), MBA_OK);
    EXPECT(mba_append(NULL, &v), MBA_ERR_NULL_POINTER);
    EXPECT(mba_append(a, NULL), MBA_ERR_NULL_POINTER);
    EXPECT(mba_extend(a, buf, 8), MBA_OK);
    EXPECT(mba_extend(a, NULL, 0), MBA_OK);
    EXPECT(mba_extend(a, buf, UINT64_MAX), MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba_get(b, 8, &out), MBA_OK);
    if (out != 8) printf("get gave %llu\n", (unsigned long long)out), failures++;
    EXPECT(mba_get(b, 9, &out), MBA_ERR_OUT_OF_BOUNDS);
    EXPECT(mba_get(b, UINT64_MAX, &out), MBA_ERR_OUT_OF_BOUNDS);
    EXPECT(mba_set(a, 0, &v), MBA_OK);
    EXPECT(mba_set(b, 0, &v), MBA_ERR_READ_ONLY);
    EXPECT(mba_read(b, 1, 8, buf), MBA_OK);
    EXPECT(mba_read(b, UINT64_MAX, 2, buf), MBA_ERR_OUT_OF_BOUNDS);
    EXPECT(mba_write(a, 1, 8, buf), MBA_OK);
    EXPECT(mba_write(a, 2, 8, buf), MBA_ERR_OUT_OF_BOUNDS);
    EXPECT(mba_pop(a, &out), MBA_OK);
    EXPECT(mba_pop(b, &out), MBA_ERR_READ_ONLY);
    EXPECT(mba_reserve(a, 1000), MBA_OK);
    EXPECT(mba_reserve(b, 1000), MBA_ERR_READ_ONLY);
    EXPECT(mba_msync(a, MBA_SYNC | MBA_INVALIDATE), MBA_OK);
    EXPECT(mba_msync(a, MBA_SYNC | MBA_ASYNC), MBA_ERR_INVALID_ARGUMENT);
    if (mba_len(a) != 8 || mba_len(b) != 8 || mba_len(NULL) != 0) printf("len\n"), failures++;
    if (mba_capacity(a) < 1000 || mba_max_capacity(a) < 1000 || mba_capacity(NULL) != 0) printf("capacity\n"), failures++;
    if (mba_dtype(a) != MBA_U64 || mba_itemsize(a) != 8 || mba_dtype(NULL) != 0) printf("dtype\n"), failures++;
    if (mba_data(a) == NULL || mba_data(NULL) != NULL || ((const uint64_t *)mba_data(b))[0] != 42) printf("data\n"), failures++;
    if (mba_fd(a) < 0 || mba_fd(NULL) != -1) printf("fd\n"), failures++;
    if (strcmp(mba_version(), MBA_VERSION) != 0) printf("version %s\n", mba_version()), failures++;
    if (strncmp(mba_status_str(MBA_ERR_BUSY), "MBA_ERR_BUSY", 12) != 0) printf("status_str\n"), failures++;

    /* The lease, and an anonymous array shared through its descriptor. */
    EXPECT(mba_attach(uri, MBA_EXCLUSIVE, &c), MBA_OK);
    EXPECT(mba_append(a, &v), MBA_ERR_BUSY);
    EXPECT(mba_append(c, &v), MBA_OK);
    EXPECT(mba_free(c), MBA_OK);
    EXPECT(mba_append(a, &v), MBA_OK);
    mba_array *anon = NULL, *anon2 = NULL;
    EXPECT(mba_create(NULL, MBA_F32, 0, 0, &anon), MBA_OK);
    EXPECT(mba_attach_fd(mba_fd(anon), 0, &anon2), MBA_OK);
    float f = 1.5f, g = 0;
    EXPECT(mba_append(anon2, &f), MBA_OK);
    EXPECT(mba_get(anon, 0, &g), MBA_OK);
    if (g != 1.5f) printf("anon\n"), failures++;
    EXPECT(mba_attach_fd(-1, 0, &c), MBA_ERR_INVALID_ARGUMENT);

    EXPECT(mba_free(anon2), MBA_OK);
    EXPECT(mba_free(anon), MBA_OK);
    EXPECT(mba_free(b), MBA_OK);
    EXPECT(mba_delete(uri), MBA_OK);
    EXPECT(mba_delete(uri), MBA_ERR_NOT_FOUND);
    EXPECT(mba_append(a, &v), MBA_OK); /* deleted names keep live handles working */
    EXPECT(mba_free(a), MBA_OK);
    EXPECT(mba_free(NULL), MBA_OK);
    if (failures) return 1;
    printf("tour ok\n");
    return 0;
}
