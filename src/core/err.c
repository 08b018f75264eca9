/* err.c - names and messages for the error table in err.h. Pure; any thread. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *lx_strerror(int rc)
{
    switch (rc) {
    case LX_OK:
        return "ok";
#define XX(code, msg)                                                                              \
    case LX_##code:                                                                                \
        return msg;
        LX_ERRNO_MAP(XX)
#undef XX
    default:
        return "unknown error";
    }
}

const char *lx_err_name(int rc)
{
    switch (rc) {
    case LX_OK:
        return "OK";
#define XX(code, msg)                                                                              \
    case LX_##code:                                                                                \
        return #code;
        LX_ERRNO_MAP(XX)
#undef XX
    default:
        return "EUNKNOWN";
    }
}

void lx_err_set(struct lx_err *err, int rc, int status, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    err->rc = rc;
    err->http_status = status;
    err->retryable = false;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

void lx_err_clear(struct lx_err *err)
{
    memset(err, 0, sizeof(*err));
}
