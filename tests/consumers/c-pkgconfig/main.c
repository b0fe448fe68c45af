/* An out-of-tree consumer that finds mba through pkg-config. */
#include <stdio.h>
#include <string.h>
#include <mba.h>

int main(int argc, char **argv) {
    mba_array *a = NULL;
    if (mba_create(argc > 1 ? argv[1] : "", MBA_I16, 0, MBA_OVERWRITE, &a) != MBA_OK) return 1;
    for (int16_t i = -5; i <= 5; i++) mba_append(a, &i);
    int16_t last = 0;
    mba_get(a, mba_len(a) - 1, &last);
    printf("pkg-config consumer: len=%llu last=%d version=%s\n", (unsigned long long)mba_len(a), last, mba_version());
    mba_free(a);
    if (argc > 1) mba_delete(argv[1]);
    return strcmp(mba_version(), MBA_VERSION) == 0 ? 0 : 2;
}
