/* limits.c: an array with a shape, a maximum capacity and a lock timeout (mba_options), and a
 * splice that inserts a row at the front in one step. Removes what it creates, so it runs twice. */
#include <inttypes.h>
#include <stdio.h>
#include "mba.h"

int main(void) {
    mba_options o;
    mba_options_init(&o);
    o.dtype = MBA_F64;
    o.max_capacity = 1000000; /* elements, ever: 8 MB of address space per handle */
    o.ndim = 2;
    o.shape[1] = 3;           /* rows of 3: appends add whole rows */
    o.timeout_ms = 50;        /* no lock wait of this handle lasts longer */
    o.flags = MBA_OVERWRITE;
    mba_array *a;
    if (mba_create_ex("shm://limits-demo", &o, &a) != MBA_OK) {
        fprintf(stderr, "%s\n", mba_last_error());
        return 1;
    }
    double row[3] = {1, 2, 3}, first[3] = {0, 0, 0};
    if (mba_extend(a, row, 3) != MBA_OK || mba_splice(a, 0, 0, NULL, NULL, first, 3) != MBA_OK ||
        mba_extend(a, row, 2) != MBA_ERR_INVALID_ARGUMENT) { /* not a whole row */
        fprintf(stderr, "%s\n", mba_last_error());
        return 1;
    }
    uint64_t shape[MBA_MAX_DIMS];
    mba_shape(a, shape);
    printf("shape (%" PRIu64 ", %" PRIu64 "), at most %" PRIu64 " elements\n", shape[0], shape[1],
           mba_max_capacity(a));
    mba_free(a);
    return mba_delete("shm://limits-demo") == MBA_OK ? 0 : 1;
}
