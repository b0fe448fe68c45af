/* quickstart.c: create a named array, append to it, read it back. The README's example.
 * Build: cc -Iinclude c-examples/quickstart.c -Ltarget/release -lmba -o quickstart */
#include <inttypes.h>
#include <stdio.h>
#include "mba.h"

int main(int argc, char **argv) {
    const char *uri = argc > 1 ? argv[1] : "shm://mba-quickstart";
    mba_array *a = NULL;
    mba_status s = mba_create(uri, MBA_U32, 4, MBA_OVERWRITE, &a);
    if (s != MBA_OK) {
        fprintf(stderr, "%s\n", mba_last_error());
        return 1;
    }
    for (uint32_t i = 0; i < 1000000; i++) {
        if ((s = mba_append(a, &i)) != MBA_OK) {  /* grows past capacity 4 as needed */
            fprintf(stderr, "%s\n", mba_last_error());
            return 1;
        }
    }
    const uint32_t *data = (const uint32_t *)mba_data(a);  /* never moves while `a` lives */
    uint64_t sum = 0;
    for (uint64_t i = 0; i < mba_len(a); i++) sum += data[i];
    uint32_t last;
    mba_get(a, mba_len(a) - 1, &last);
    printf("len=%" PRIu64 " last=%" PRIu32 " sum=%" PRIu64 "\n", mba_len(a), last, sum);
    mba_free(a);
    return mba_delete(uri) == MBA_OK ? 0 : 1;
}
