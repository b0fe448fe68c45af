/* quickstart.c: create a named array, append a million numbers, read them back, remove it. */
#include <inttypes.h>
#include <stdio.h>
#include "mba.h"

int main(int argc, char **argv) {
    const char *uri = argc > 1 ? argv[1] : "shm://sensor";
    mba_array *a;
    if (mba_create(uri, MBA_U32, 4, MBA_EXCLUSIVE, &a) != MBA_OK) {
        fprintf(stderr, "%s\n", mba_last_error());  /* e.g. "mba_create: create shm://sensor: ... File exists" */
        return 1;
    }
    for (uint32_t i = 0; i < 1000000; i++) {
        if (mba_append(a, &i) != MBA_OK) {            /* grows past capacity 4 as needed */
            fprintf(stderr, "%s\n", mba_last_error());
            return 1;
        }
    }
    const uint32_t *data = (const uint32_t *)mba_data(a);  /* never moves while `a` lives */
    uint64_t sum = 0;
    for (uint64_t i = 0; i < mba_len(a); i++) sum += data[i];
    printf("len=%" PRIu64 " last=%" PRIu32 " sum=%" PRIu64 "\n", mba_len(a), data[mba_len(a) - 1], sum);
    mba_free(a);
    return mba_delete(uri) == MBA_OK ? 0 : 1;      /* the name outlives the process until deleted */
}
