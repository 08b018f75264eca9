/* err.h - the one table of error codes, and the error a client is shown.
 * Action functions return LX_OK (0) or a negative LX_E* code (libuv style). struct lx_err is
 * embedded by its owner (usually a request); it never holds keys or prompt text. */
#ifndef LX_ERR_H
#define LX_ERR_H

#include <stdbool.h>

#define LX_ERRNO_MAP(XX)                                                                          \
    XX(ENOMEM, "out of memory")                                                                   \
    XX(EINVAL, "invalid argument")                                                                \
    XX(ETOOBIG, "size limit exceeded")                                                            \
    XX(EPARSE, "malformed input")                                                                 \
    XX(EDEPTH, "nesting too deep")                                                                \
    XX(EDUPKEY, "duplicate object key")                                                           \
    XX(EUTF8, "invalid UTF-8")                                                                    \
    XX(EAGAIN, "need more input")                                                                 \
    XX(ETIMEDOUT, "timed out")                                                                    \
    XX(ECANCELED, "canceled")                                                                     \
    XX(ECONNRESET, "connection reset")                                                            \
    XX(ECONNREFUSED, "connection refused")                                                        \
    XX(EDNS, "name resolution failed")                                                            \
    XX(ETLS, "TLS failure")                                                                       \
    XX(EPROTO, "protocol violation")                                                              \
    XX(ETRUNCATED, "truncated message")                                                           \
    XX(EUPSTREAM, "upstream error")                                                               \
    XX(ESTORE, "storage error")                                                                   \
    XX(ENOTFOUND, "not found")                                                                    \
    XX(ESYS, "system call failed")                                                                \
    XX(ECLOSED, "connection closed")                                                              \
    XX(ESHUTDOWN, "shutting down")                                                                \
    XX(EPAUSE, "paused for back-pressure")

enum lx_rc {
    LX_OK = 0,
    LX__ERR_FIRST = -1000, /* not a code: makes the codes below negative */
#define XX(code, msg) LX_##code,
    LX_ERRNO_MAP(XX)
#undef XX
        LX__ERR_LAST
};

const char *lx_strerror(int rc); /* "out of memory"; "unknown error" for anything else */
const char *lx_err_name(int rc); /* "ENOMEM", for logs */

struct lx_err {            /* what the client sees, and whether to retry */
    int rc;                /* LX_E* */
    int http_status;       /* 400, 401, 429, 502, 504 ... */
    bool retryable;        /* router may try the next key or provider */
    char msg[160];         /* for humans; never keys or prompts */
};

void lx_err_set(struct lx_err *err, int rc, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void lx_err_clear(struct lx_err *err);

#endif /* LX_ERR_H */
