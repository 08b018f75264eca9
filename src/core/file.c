/* file.c - whole-file reads into bounded buffers (file.h). */
#include "core/file.h"

#include <stdio.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"

char *lx_file_read(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct lx_buf b = LX_BUF_INIT(max);
    char tmp[65536];
    size_t n;

    if (f == NULL)
        return NULL;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        lx_buf_append(&b, tmp, n);
    if (ferror(f))
        b.err = LX_ESYS;
    fclose(f);
    if (b.err != LX_OK) {
        lx_buf_release(&b);
        return NULL;
    }
    if (b.len == 0) {
        *len = 0;
        return lx_xstrndup("", 0);
    }
    return lx_buf_detach(&b, len);
}
