/* Makes an array for the CLI tests, as a C user would:
 *   mkarray URI DTYPE N        creates URI of dtype code DTYPE holding 0, 1, ..., N-1 (as that type), exits
 *   mkarray URI DTYPE N hold   the same, then prints "ready" and keeps the handle until stdin closes */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mba.h"

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: mkarray URI DTYPE N [hold]\n");
        return 2;
    }
    uint32_t dtype = (uint32_t)strtoul(argv[2], NULL, 10);
    uint64_t n = strtoull(argv[3], NULL, 10);
    mba_array *a = NULL;
    if (mba_create(argv[1], dtype, n, MBA_OVERWRITE, &a) != MBA_OK) {
        fprintf(stderr, "%s\n", mba_last_error());
        return 1;
    }
    for (uint64_t i = 0; i < n; i++) {
        unsigned char e[16];
        memset(e, 0, sizeof e);
        int64_t s = (int64_t)i - (int64_t)(n / 2); /* negative values too */
        switch (dtype) {
        case MBA_I8: { int8_t v = (int8_t)s; memcpy(e, &v, sizeof v); break; }
        case MBA_U8: { uint8_t v = (uint8_t)i; memcpy(e, &v, sizeof v); break; }
        case MBA_I16: { int16_t v = (int16_t)s; memcpy(e, &v, sizeof v); break; }
        case MBA_U16: { uint16_t v = (uint16_t)i; memcpy(e, &v, sizeof v); break; }
        case MBA_I32: { int32_t v = (int32_t)s; memcpy(e, &v, sizeof v); break; }
        case MBA_U32: { uint32_t v = (uint32_t)i; memcpy(e, &v, sizeof v); break; }
        case MBA_I64: { int64_t v = s; memcpy(e, &v, sizeof v); break; }
        case MBA_U64: { uint64_t v = i; memcpy(e, &v, sizeof v); break; }
        case MBA_F32: { float v = (float)s / 4.0f; memcpy(e, &v, sizeof v); break; }
        case MBA_F64: { double v = (double)s / 3.0; memcpy(e, &v, sizeof v); break; }
        default: fprintf(stderr, "mkarray: dtype %u not handled\n", dtype); return 2;
        }
        if (mba_append(a, e) != MBA_OK) {
            fprintf(stderr, "%s\n", mba_last_error());
            return 1;
        }
    }
    if (argc > 4 && strcmp(argv[4], "hold") == 0) {
        printf("ready\n");
        fflush(stdout);
        while (getchar() != EOF) {
        }
    }
    mba_free(a);
    return 0;
}
