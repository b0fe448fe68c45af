/* msync_spy.c: an LD_PRELOAD library that logs every msync(2) range to $MSYNC_LOG as
 * "ADDR LEN" lines, then calls the real one. Used to check what mba_msync flushes. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

int msync(void *addr, size_t len, int flags) {
    static int (*real)(void *, size_t, int);
    if (!real) real = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "msync");
    const char *path = getenv("MSYNC_LOG");
    FILE *log = path ? fopen(path, "a") : NULL;
    if (log) {
        fprintf(log, "%lu %lu\n", (unsigned long)addr, (unsigned long)len);
        fclose(log);
    }
    return real(addr, len, flags);
}
