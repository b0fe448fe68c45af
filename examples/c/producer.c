/* producer.c: the writer of the README demo (examples/demo.sh). Creates a u64 array of capacity 4 under the
 * name given, appends COUNT squares, one every millisecond, holding the writer lease, then
 * removes the name (attached readers keep the array). Usage: producer URI COUNT */
#define _DEFAULT_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "mba.h"

int main(int argc, char **argv) {
    const char *uri = argc > 1 ? argv[1] : "shm://mba-demo";
    uint64_t count = argc > 2 ? strtoull(argv[2], NULL, 10) : 300;
    mba_array *a = NULL;
    if (mba_create(uri, MBA_U64, 4, MBA_EXCLUSIVE | MBA_OVERWRITE, &a) != MBA_OK) {
        fprintf(stderr, "producer: %s\n", mba_last_error());
        return 1;
    }
    printf("producer: created %s with capacity %" PRIu64 "\n", uri, mba_capacity(a));
    fflush(stdout);
    for (uint64_t i = 0; i < count; i++) {
        uint64_t v = i * i;
        if (mba_append(a, &v) != MBA_OK) {
            fprintf(stderr, "producer: %s\n", mba_last_error());
            return 1;
        }
        usleep(1000);
    }
    printf("producer: appended %" PRIu64 " elements, capacity now %" PRIu64 "\n", mba_len(a), mba_capacity(a));
    sleep(1); /* let the watcher attach, if it is slow to start, before the name goes */
    mba_delete(uri);
    return mba_free(a) == MBA_OK ? 0 : 1;
}
