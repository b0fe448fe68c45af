/* plain_mmap.c: read an mba array with plain mmap and the mba_header struct alone; no
 * library call. Proves docs/FORMAT.md is enough to read an array from any language.
 * Usage: plain_mmap PATH  -> prints "len=N dtype=D sum=S" for a u32 or u64 array. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "mba.h"

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(mba_header)) return 3;
    const unsigned char *base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) return 4;
    const mba_header *h = (const mba_header *)base;
    if (memcmp(h->magic, "MBARRAY\0", 8) != 0 || h->version != MBA_FORMAT_VERSION || h->endian != MBA_ENDIAN_TAG ||
        h->header_size != MBA_HEADER_SIZE || sizeof(mba_header) != MBA_HEADER_SIZE || h->data_offset % MBA_DATA_ALIGN)
        return 5;
    /* len is published with release ordering after the data it covers: load it with acquire. */
    uint64_t len = __atomic_load_n(&h->len, __ATOMIC_ACQUIRE);
    if (h->data_offset + len * h->itemsize > (uint64_t)st.st_size) return 6; /* never trust a peer's length */
    const unsigned char *data = base + h->data_offset;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < len; i++) {
        if (h->dtype == MBA_U32) sum += ((const uint32_t *)data)[i];
        else if (h->dtype == MBA_U64) sum += ((const uint64_t *)data)[i];
        else return 7;
    }
    printf("len=%" PRIu64 " dtype=%" PRIu32 " sum=%" PRIu64 "\n", len, h->dtype, sum);
    return 0;
}
