/* header_check.c: mba.h included twice (include guard), and its layout constants agree
 * with the mba_header struct as the C compiler lays it out. */
#include <stddef.h>
#include <stdio.h>
#include "mba.h"
#include "mba.h"

#define CHECK(c) do { if (!(c)) { printf("failed: %s\n", #c); return 1; } } while (0)

int main(void) {
    CHECK(sizeof(mba_header) == MBA_HEADER_SIZE);
    CHECK(offsetof(mba_header, dtype) == 20);
    CHECK(offsetof(mba_header, data_offset) == 32);
    CHECK(offsetof(mba_header, len) == 64);
    CHECK(offsetof(mba_header, capacity) == 72);
    CHECK(offsetof(mba_header, lock) == 80);
    CHECK(offsetof(mba_header, lease) == 88);
    CHECK(offsetof(mba_header, lock_seq) == 96);
    CHECK(offsetof(mba_header, created_ns) == 128);
    CHECK(MBA_DATA_OFFSET % MBA_DATA_ALIGN == 0);
    CHECK(MBA_VERSION_NUMBER == MBA_VERSION_MAJOR * 10000 + MBA_VERSION_MINOR * 100 + MBA_VERSION_PATCH);
    CHECK(MBA_OK == 0 && MBA_ERR_PANIC == -13);
    printf("header ok\n");
    return 0;
}
