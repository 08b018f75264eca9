/* http1.c - the inbound HTTP/1.1 request parser (http1.h): the strict policy of
 * ../shared/corpus/http/README.md in one incremental pass.
 *
 * Why not llhttp here: llhttp 8.1 only knows a fixed method list (the policy accepts any token
 * method: `MKCOLA`, `get`), rejects chunk-extension BWS (the policy must accept it), and is
 * lenient where the policy is strict (target characters, Host, TE lists, look-alike names).
 * Wrapping it would mean a second parser in front of it anyway, so this file is that parser:
 * the head is copied line by line into parser-owned bounded storage and every complete line is
 * checked at once (so errors do not depend on how input is split); bodies are passed through
 * without copying; the chunked decoder is a byte state machine.
 *
 * One parser per client connection, owned by the connection, used on its loop thread only. */
#include "server/http1.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/common.h"
#include "core/err.h"

#define REQLINE_SLACK 256   /* request-line bytes allowed beyond max_target (method, version) */
#define MAX_CHUNK_LINE 4096 /* chunk-size line with its extensions */
#define HBUF_MIN 1024
#define HEAD_HARD_MAX (256u * 1024 * 1024) /* cap on configured head limits */

/* Character classes (RFC 9110 tchar, field-value, RFC 3986 pchar/query, reg-name). */
enum {
    C_TCHAR = 1u << 0,
    C_VALUE = 1u << 1, /* HTAB SP VCHAR obs-text */
    C_PATH = 1u << 2,  /* pchar and '/', without '%' */
    C_QUERY = 1u << 3, /* C_PATH and '?' */
    C_HOST = 1u << 4,  /* reg-name without '%' and ',' (a list is not a host) */
    C_HEX = 1u << 5,
};

/* Generated from the RFC ABNF: bit values as in the enum above, one row per 16 bytes. */
static const unsigned char ctab[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  2,  0,  0,  0,  0,  0,  0,  /* 0x00 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x10 */
    2,  31, 2,  3,  31, 3,  31, 31, 30, 30, 31, 31, 14, 31, 31, 14, /* 0x20 */
    63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 14, 30, 2,  30, 2,  10, /* 0x30 */
    14, 63, 63, 63, 63, 63, 63, 31, 31, 31, 31, 31, 31, 31, 31, 31, /* 0x40 */
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 2,  2,  2,  3,  31, /* 0x50 */
    3,  63, 63, 63, 63, 63, 63, 31, 31, 31, 31, 31, 31, 31, 31, 31, /* 0x60 */
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 2,  3,  2,  31, 0,  /* 0x70 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0x80 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0x90 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xa0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xb0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xc0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xd0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xe0 */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xf0 */
};

#define IS(c, cls) ((ctab[(unsigned char)(c)] & (cls)) != 0)

enum state {
    S_START = 0, /* between messages: CRLFs are skipped */
    S_START_LF,  /* saw CR between messages */
    S_HEAD,      /* collecting head lines */
    S_BODY,      /* Content-Length body */
    S_CSIZE,     /* chunk-size digits */
    S_CSIZE_WS,  /* BWS after the size: only ';' may follow */
    S_CEXT_PRE,  /* after ';': BWS then ext-name */
    S_CEXT_NAME,
    S_CEXT_POSTNAME, /* BWS after the name: '=' ';' or CR */
    S_CEXT_PREVAL,   /* after '=': BWS then token or quoted-string */
    S_CEXT_TOKVAL,
    S_CEXT_QS,
    S_CEXT_QS_ESC,
    S_CEXT_POSTVAL,
    S_CSIZE_LF, /* CR seen at the end of the chunk-size line */
    S_CDATA,    /* chunk data */
    S_CDATA_CR, /* CRLF after chunk data */
    S_CDATA_LF,
    S_TR_START, /* start of a trailer line (or the final CRLF) */
    S_TR_NAME,
    S_TR_VALUE,
    S_TR_LF,
    S_TR_END_LF,
    S_CLOSED, /* a non-persistent request completed: later bytes are ignored */
    S_DEAD,   /* error: the connection must be closed */
};

struct field_off { /* offsets into hbuf, valid while it is reallocated */
    uint32_t name, name_len, value, value_len;
};

struct lx_http1_parser {
    struct lx_http1_limits lim;
    struct lx_http1_cbs cbs;
    void *ctx;
    enum state state;
    bool paused;
    int err_rc, err_status;
    const char *err_reason;

    /* head storage: the raw head bytes, the field offsets, and the header array handed out */
    char *hbuf;
    size_t hlen, hcap;
    size_t line_start;  /* offset of the line being collected */
    size_t reqline_len; /* 0 until the request-line is complete (then incl. CRLF) */
    struct field_off *foff;
    size_t nfields, foff_cap;
    struct lx_header *hdrs;
    size_t hdrs_cap;

    /* per-message facts gathered from the fields */
    struct lx_http1_head head;
    size_t target_off, method_len, target_len;
    bool host_seen, cl_seen, te_seen, te_chunked_last, te_chunked_seen, te_other;
    bool conn_close, conn_keep_alive, expect_other, abs_form;
    size_t host_off, host_len; /* Host field value */

    /* body */
    uint64_t remaining; /* CL body bytes or chunk bytes left */
    uint64_t body_total;
    uint64_t chunk_size;
    size_t chunk_line; /* bytes of the current chunk-size line */
    size_t ext_total;  /* chunk-extension bytes in this message */
    size_t tr_bytes, tr_fields;
    char tr_norm[24]; /* trailer name, lower case, without '-', '_', '.' */
    size_t tr_norm_len;
};

void lx_http1_limits_default(struct lx_http1_limits *l)
{
    l->max_header_bytes = 16 * 1024;
    l->max_header_fields = 100;
    l->max_target = 8 * 1024;
    l->max_body = 32u * 1024 * 1024;
}

struct lx_http1_parser *lx_http1_new(const struct lx_http1_limits *limits,
                                     const struct lx_http1_cbs *cbs, void *ctx)
{
    struct lx_http1_parser *p = lx_calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    if (limits != NULL)
        p->lim = *limits;
    else
        lx_http1_limits_default(&p->lim);
    /* field offsets are 32-bit: keep the head storage far below 4 GiB whatever is configured */
    p->lim.max_header_bytes = LX_MIN(p->lim.max_header_bytes, (size_t)HEAD_HARD_MAX);
    p->lim.max_target = LX_MIN(p->lim.max_target, (size_t)HEAD_HARD_MAX);
    p->cbs = *cbs;
    p->ctx = ctx;
    p->state = S_START;
    return p;
}

void lx_http1_free(struct lx_http1_parser *p)
{
    if (p == NULL)
        return;
    free(p->hbuf);
    free(p->foff);
    free(p->hdrs);
    free(p);
}

static int fail(struct lx_http1_parser *p, int status, const char *reason)
{
    p->state = S_DEAD;
    p->err_rc = (status == 413 || status == 414 || status == 431) ? LX_ETOOBIG : LX_EPARSE;
    p->err_status = status;
    p->err_reason = reason;
    return p->err_rc;
}

static int fail_cb(struct lx_http1_parser *p, int rc)
{
    p->state = S_DEAD;
    p->err_rc = rc;
    p->err_status = 0;
    p->err_reason = "aborted";
    return rc;
}

static void reset_message(struct lx_http1_parser *p)
{
    p->hlen = 0;
    p->line_start = 0;
    p->reqline_len = 0;
    p->nfields = 0;
    memset(&p->head, 0, sizeof(p->head));
    p->host_seen = p->cl_seen = p->te_seen = false;
    p->te_chunked_last = p->te_chunked_seen = p->te_other = false;
    p->conn_close = p->conn_keep_alive = p->expect_other = p->abs_form = false;
    p->remaining = p->body_total = p->chunk_size = 0;
    p->chunk_line = p->ext_total = p->tr_bytes = p->tr_fields = 0;
    if (p->hcap > 8192) { /* a rare big head: do not keep its storage for the connection */
        free(p->hbuf);
        p->hbuf = NULL;
        p->hcap = 0;
    }
}

static inline bool is_hex(char c) { return IS(c, C_HEX); }

static inline unsigned hex_val(char c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/* Host value (field or absolute-form authority): uri-host [":" port], RFC 3986 / 9112 §3.2.
 * reg-name without ',' so a list is refused; IP-literal must be bracketed. */
static bool valid_host(const char *s, size_t n)
{
    size_t i = 0;

    if (n == 0)
        return false;
    if (s[0] == '[') {
        for (i = 1; i < n && s[i] != ']'; i++)
            if (!is_hex(s[i]) && s[i] != ':' && s[i] != '.')
                return false;
        if (i >= n || i == 1)
            return false;
        i++;
    } else {
        for (; i < n && s[i] != ':'; i++) {
            if (s[i] == '%') {
                if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
                    return false;
                i += 2;
            } else if (!IS(s[i], C_HOST)) {
                return false;
            }
        }
        if (i == 0)
            return false;
    }
    if (i == n)
        return true;
    if (s[i] != ':')
        return false;
    for (i++; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Path and query of an origin-form target from `s` (starting at '/'), RFC 3986. */
static bool valid_path_query(const char *s, size_t n, size_t *path_len)
{
    unsigned cls = C_PATH;

    *path_len = n;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c == '%') {
            if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
                return false;
            i += 2;
        } else if (!IS(c, cls)) {
            if (c == '?' && cls == C_PATH) {
                *path_len = i;
                cls = C_QUERY;
            } else {
                return false;
            }
        }
    }
    return true;
}

/* ASCII case-insensitive equality with a lower-case literal (hot: every field name). */
static inline bool nocase_eq(const char *s, size_t n, const char *lit, size_t litn)
{
    if (n != litn)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((unsigned char)(c - 'A') < 26u)
            c |= 0x20;
        if (c != (unsigned char)lit[i])
            return false;
    }
    return true;
}

#define NOCASE_EQ(s, n, lit) nocase_eq((s), (n), "" lit, sizeof(lit) - 1)

/* Target forms (RFC 9112 §3.2). Sets head path, query, and the authority for absolute-form. */
static int parse_target(struct lx_http1_parser *p)
{
    const char *t = p->hbuf + p->target_off;
    size_t n = p->target_len, plen, skip;

    if (t[0] == '/') {
        if (!valid_path_query(t, n, &plen))
            return fail(p, 400, "invalid request-target");
        p->head.path = lx_str_make(t, plen);
        p->head.query = plen < n ? lx_str_make(t + plen + 1, n - plen - 1) : lx_str_make(t + n, 0);
        return LX_OK;
    }
    if (n == 1 && t[0] == '*') {
        if (p->method_len != 7 || memcmp(p->head.method.ptr, "OPTIONS", 7) != 0)
            return fail(p, 400, "asterisk-form only for OPTIONS");
        p->head.path = lx_str_make(t, 1);
        p->head.query = lx_str_make(t + 1, 0);
        return LX_OK;
    }
    if (n > 7 && NOCASE_EQ(t, 7, "http://"))
        skip = 7;
    else if (n > 8 && NOCASE_EQ(t, 8, "https://"))
        skip = 8;
    else
        return fail(p, 400, "invalid request-target");
    size_t a = skip, e = a;
    while (e < n && t[e] != '/' && t[e] != '?')
        e++;
    if (!valid_host(t + a, e - a))
        return fail(p, 400, "invalid authority");
    p->abs_form = true;
    p->head.host = lx_str_make(t + a, e - a);
    if (e == n) {
        p->head.path = LX_STR("/");
        p->head.query = lx_str_make(t + n, 0);
        return LX_OK;
    }
    if (t[e] == '?') {
        size_t dummy;

        if (!valid_path_query(t + e + 1, n - e - 1, &dummy) || dummy != n - e - 1)
            return fail(p, 400, "invalid request-target");
        p->head.path = LX_STR("/");
        p->head.query = lx_str_make(t + e + 1, n - e - 1);
        return LX_OK;
    }
    if (!valid_path_query(t + e, n - e, &plen))
        return fail(p, 400, "invalid request-target");
    p->head.path = lx_str_make(t + e, plen);
    p->head.query =
        plen < n - e ? lx_str_make(t + e + plen + 1, n - e - plen - 1) : lx_str_make(t + n, 0);
    return LX_OK;
}

/* request-line = method SP request-target SP HTTP-version (RFC 9112 §3), line without CRLF. */
static int parse_request_line(struct lx_http1_parser *p, size_t off, size_t n)
{
    const char *l = p->hbuf + off;
    size_t i = 0, sp2;

    while (i < n && IS(l[i], C_TCHAR))
        i++;
    if (i == 0 || i == n || l[i] != ' ')
        return fail(p, 400, "invalid method");
    p->method_len = i;
    p->target_off = off + i + 1;
    for (sp2 = i + 1; sp2 < n && l[sp2] != ' '; sp2++)
        ;
    p->target_len = sp2 - i - 1;
    if (p->target_len > p->lim.max_target)
        return fail(p, 414, "request-target too long");
    if (p->target_len == 0 || sp2 == n)
        return fail(p, 400, "invalid request-line");
    const char *v = l + sp2 + 1;
    size_t vn = n - sp2 - 1;
    if (vn != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9')
        return fail(p, 400, "invalid HTTP version");
    p->head.method = lx_str_make(l, i);
    p->head.target = lx_str_make(p->hbuf + p->target_off, p->target_len);
    if (i == 7 && memcmp(l, "CONNECT", 7) == 0)
        return fail(p, 501, "CONNECT not supported");
    int rc = parse_target(p);
    if (rc != LX_OK)
        return rc;
    if (v[5] != '1')
        return fail(p, 505, "HTTP version not supported");
    p->head.version_minor = v[7] == '0' ? 0 : 1;
    return LX_OK;
}

/* Transfer-Encoding list elements; repeated lines combine (RFC 9110 §5.3). */
static int parse_te(struct lx_http1_parser *p, const char *s, size_t n)
{
    size_t i = 0;

    p->te_seen = true;
    for (;;) {
        size_t b, e;

        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        b = i;
        while (i < n && IS(s[i], C_TCHAR))
            i++;
        e = i;
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (b == e || (i < n && s[i] != ','))
            return fail(p, 400, "invalid Transfer-Encoding");
        if (NOCASE_EQ(s + b, e - b, "chunked")) {
            if (p->te_chunked_seen)
                return fail(p, 400, "chunked applied twice");
            p->te_chunked_seen = true;
            p->te_chunked_last = true;
        } else {
            p->te_chunked_last = false;
            p->te_other = true;
        }
        if (i == n)
            return LX_OK;
        i++; /* ',' */
    }
}

static void parse_connection(struct lx_http1_parser *p, const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t b, e;

        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        b = i;
        while (i < n && s[i] != ',')
            i++;
        e = i;
        while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
            e--;
        if (NOCASE_EQ(s + b, e - b, "close"))
            p->conn_close = true;
        else if (NOCASE_EQ(s + b, e - b, "keep-alive"))
            p->conn_keep_alive = true;
    }
}

/* Look-alikes of the framing names: `Content_Length`, `Transfer---Encoding` (policy 7).
 * Returns 1 for content-length, 2 for transfer-encoding, 0 otherwise. */
static int framing_name(const char *s, size_t n, bool *exact)
{
    char norm[24];
    size_t k = 0;

    *exact = false;
    if (n < 13) /* no length cap: any number of separators may hide the name */
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c == '-' || c == '_' || c == '.')
            continue;
        if (k == sizeof(norm))
            return 0;
        norm[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    if (k == 13 && memcmp(norm, "contentlength", 13) == 0) {
        *exact = NOCASE_EQ(s, n, "content-length");
        return 1;
    }
    if (k == 16 && memcmp(norm, "transferencoding", 16) == 0) {
        *exact = NOCASE_EQ(s, n, "transfer-encoding");
        return 2;
    }
    return 0;
}

/* field-value characters (RFC 9110 §5.5): HTAB, SP, VCHAR, obs-text. Eight bytes at a time
 * while none is below 0x20 or DEL (the common case: long tokens, no HTAB). */
static bool valid_value(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t x, del;

        memcpy(&x, s + i, 8);
        del = x ^ (ones * 0x7f);
        if ((((x - ones * 0x20) & ~x) | ((del - ones) & ~del)) & highs) {
            for (size_t j = i; j < i + 8; j++)
                if (!IS(s[j], C_VALUE))
                    return false;
        }
    }
    for (; i < n; i++)
        if (!IS(s[i], C_VALUE))
            return false;
    return true;
}

/* One field line (without CRLF) at hbuf[off, off+n). */
static int parse_field(struct lx_http1_parser *p, size_t off, size_t n)
{
    const char *l = p->hbuf + off;
    size_t i = 0, vb, ve;

    while (i < n && IS(l[i], C_TCHAR))
        i++;
    if (i == 0 || i == n || l[i] != ':') {
        if (n > 0 && (l[0] == ' ' || l[0] == '\t'))
            return fail(p, 400, "obs-fold or whitespace-led line");
        return fail(p, 400, "invalid field name");
    }
    vb = i + 1;
    if (!valid_value(l + vb, n - vb))
        return fail(p, 400, "invalid character in field value");
    while (vb < n && (l[vb] == ' ' || l[vb] == '\t'))
        vb++;
    ve = n;
    while (ve > vb && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
        ve--;
    if (p->nfields == p->lim.max_header_fields)
        return fail(p, 431, "too many header fields");
    if (p->nfields == p->foff_cap) {
        size_t cap = p->foff_cap ? p->foff_cap * 2 : 16;
        struct field_off *f = lx_realloc(p->foff, cap * sizeof(*f));

        if (f == NULL)
            return fail_cb(p, LX_ENOMEM);
        p->foff = f;
        p->foff_cap = cap;
    }
    p->foff[p->nfields++] =
        (struct field_off){(uint32_t)off, (uint32_t)i, (uint32_t)(off + vb), (uint32_t)(ve - vb)};

    const char *v = l + vb;
    size_t vn = ve - vb;
    bool exact;
    int fn;

    switch (i) {
    case 4:
        if (NOCASE_EQ(l, 4, "host")) {
            if (p->host_seen)
                return fail(p, 400, "more than one Host");
            if (!valid_host(v, vn))
                return fail(p, 400, "invalid Host");
            p->host_seen = true;
            p->host_off = off + vb;
            p->host_len = vn;
        }
        return LX_OK;
    case 6:
        if (NOCASE_EQ(l, 6, "expect")) {
            if (NOCASE_EQ(v, vn, "100-continue"))
                p->head.expect_continue = true;
            else
                p->expect_other = true;
        }
        return LX_OK;
    case 10:
        if (NOCASE_EQ(l, 10, "connection"))
            parse_connection(p, v, vn);
        return LX_OK;
    default:
        break;
    }
    fn = framing_name(l, i, &exact);
    if (fn == 0)
        return LX_OK;
    if (!exact)
        return fail(p, 400, "look-alike framing field name");
    if (fn == 2)
        return parse_te(p, v, vn);
    if (p->cl_seen)
        return fail(p, 400, "more than one Content-Length");
    p->cl_seen = true;
    if (lx_str_to_u64(lx_str_make(v, vn), &p->head.content_length) != LX_OK)
        return fail(p, 400, "invalid Content-Length");
    return LX_OK;
}

/* The empty line ended the head: framing decisions (policy 1-6, 15, 18, 21). */
static int end_of_head(struct lx_http1_parser *p)
{
    struct lx_http1_head *h = &p->head;

    if (h->version_minor == 1 && !p->host_seen)
        return fail(p, 400, "missing Host");
    if (!p->abs_form)
        h->host = p->host_seen ? lx_str_make(p->hbuf + p->host_off, p->host_len) : LX_STR_NULL;
    if (p->te_seen) {
        if (p->cl_seen)
            return fail(p, 400, "both Transfer-Encoding and Content-Length");
        if (h->version_minor == 0)
            return fail(p, 400, "Transfer-Encoding in HTTP/1.0");
        if (!p->te_chunked_last)
            return fail(p, 400, "chunked is not the final coding");
        if (p->te_other)
            return fail(p, 501, "transfer coding not supported");
        h->chunked = true;
    }
    bool get_head = (h->method.len == 3 && memcmp(h->method.ptr, "GET", 3) == 0) ||
                    (h->method.len == 4 && memcmp(h->method.ptr, "HEAD", 4) == 0);
    if (get_head && (h->chunked || h->content_length > 0))
        return fail(p, 400, "GET or HEAD with a body");
    if (h->version_minor == 0) {
        h->expect_continue = false; /* RFC 9110 §10.1.1: ignored in HTTP/1.0 */
        h->keep_alive = p->conn_keep_alive && !p->conn_close;
    } else {
        if (p->expect_other)
            return fail(p, 417, "unsupported expectation");
        h->keep_alive = !p->conn_close;
    }
    if (!h->chunked && h->content_length > p->lim.max_body)
        return fail(p, 413, "body too large");

    /* the head is final: turn offsets into slices */
    if (p->nfields > p->hdrs_cap) {
        struct lx_header *a = lx_realloc(p->hdrs, p->nfields * sizeof(*a));

        if (a == NULL)
            return fail_cb(p, LX_ENOMEM);
        p->hdrs = a;
        p->hdrs_cap = p->nfields;
    }
    for (size_t k = 0; k < p->nfields; k++) {
        p->hdrs[k].name = lx_str_make(p->hbuf + p->foff[k].name, p->foff[k].name_len);
        p->hdrs[k].value = lx_str_make(p->hbuf + p->foff[k].value, p->foff[k].value_len);
    }
    h->headers = p->hdrs;
    h->n_headers = p->nfields;
    return LX_OK;
}

/* Fixes the slices of the request-line after hbuf moved from `old` (compared as integers:
 * the old block is gone). Slices to static strings ("/" for a bare authority) stay. */
static void rebase(struct lx_http1_parser *p, uintptr_t old)
{
    struct lx_http1_head *h = &p->head;
    struct lx_str *s[] = {&h->method, &h->target, &h->path, &h->query, &h->host};

    for (size_t k = 0; k < LX_ARRAY_SIZE(s); k++) {
        uintptr_t at = (uintptr_t)s[k]->ptr;

        if (s[k]->ptr != NULL && at >= old && at <= old + p->hlen)
            s[k]->ptr = p->hbuf + (at - old);
    }
}

static int hbuf_append(struct lx_http1_parser *p, const char *d, size_t n)
{
    if (p->hlen + n > p->hcap) {
        size_t cap = p->hcap ? p->hcap : HBUF_MIN;
        uintptr_t old = (uintptr_t)p->hbuf;
        char *nb;

        while (cap < p->hlen + n)
            cap *= 2;
        nb = lx_realloc(p->hbuf, cap);
        if (nb == NULL)
            return fail_cb(p, LX_ENOMEM);
        p->hbuf = nb;
        p->hcap = cap;
        if (old != 0 && (uintptr_t)nb != old)
            rebase(p, old);
    }
    memcpy(p->hbuf + p->hlen, d, n);
    p->hlen += n;
    return LX_OK;
}

/* Most bytes hbuf may hold before the head is refused. */
static size_t head_limit(const struct lx_http1_parser *p)
{
    if (p->reqline_len == 0)
        return p->lim.max_target + REQLINE_SLACK;
    return p->reqline_len + p->lim.max_header_bytes;
}

/* Limits while a line is still incomplete: the header section never ending gives 431. */
static int check_head_size(struct lx_http1_parser *p)
{
    if (p->reqline_len == 0) {
        if (p->hlen > head_limit(p)) {
            const char *sp = memchr(p->hbuf, ' ', LX_MIN(p->hlen, (size_t)REQLINE_SLACK));

            if (sp == NULL)
                return fail(p, 400, "method too long");
            return fail(p, 414, "request-target too long");
        }
        return LX_OK;
    }
    if (p->hlen - p->reqline_len > p->lim.max_header_bytes)
        return fail(p, 431, "header section too large");
    return LX_OK;
}

/* A CR in the head must be followed by LF (RFC 9112 §2.2): caught as soon as the next byte
 * is there, so a head cut after a bare CR still gets its 400. `n` bytes were just added. */
static int check_bare_cr(struct lx_http1_parser *p, size_t n)
{
    size_t from = p->hlen - n > p->line_start ? p->hlen - n - 1 : p->line_start;
    const char *s = p->hbuf + from, *end = p->hbuf + p->hlen - 1;

    while (s < end && (s = memchr(s, '\r', (size_t)(end - s))) != NULL) {
        if (s[1] != '\n')
            return fail(p, 400, "bare CR");
        s += 2;
    }
    return LX_OK;
}

static int complete_message(struct lx_http1_parser *p);
static int head_done(struct lx_http1_parser *p);

/* A complete line ending in LF is at hbuf[line_start, hlen). */
static int head_line(struct lx_http1_parser *p)
{
    size_t off = p->line_start, n = p->hlen - off;
    int rc;

    if (n < 2 || p->hbuf[p->hlen - 2] != '\r')
        return fail(p, 400, "bare LF");
    n -= 2;
    p->line_start = p->hlen;
    if (p->reqline_len == 0) {
        rc = parse_request_line(p, off, n);
        p->reqline_len = p->hlen;
        return rc;
    }
    if (n == 0)
        return head_done(p);
    return parse_field(p, off, n);
}

static int head_done(struct lx_http1_parser *p)
{
    int rc = end_of_head(p);

    if (rc != LX_OK)
        return rc;
    if (p->cbs.on_head != NULL && (rc = p->cbs.on_head(p->ctx, &p->head)) != LX_OK)
        return fail_cb(p, rc);
    if (p->head.chunked) {
        p->state = S_CSIZE;
        return LX_OK;
    }
    if (p->head.content_length > 0) {
        p->remaining = p->head.content_length;
        p->state = S_BODY;
        return LX_OK;
    }
    return complete_message(p);
}

/* Calls on_complete; returns LX_OK, LX_EPAUSE, or an error. */
static int complete_message(struct lx_http1_parser *p)
{
    int rc = LX_OK;
    bool keep = p->head.keep_alive;

    if (p->cbs.on_complete != NULL)
        rc = p->cbs.on_complete(p->ctx, &p->head);
    if (rc != LX_OK && rc != LX_EPAUSE)
        return fail_cb(p, rc);
    reset_message(p);
    p->state = keep ? S_START : S_CLOSED;
    if (rc == LX_EPAUSE)
        p->paused = true;
    return rc;
}

static int body_piece(struct lx_http1_parser *p, const char *d, size_t n)
{
    int rc;

    if (n == 0 || p->cbs.on_body == NULL)
        return LX_OK;
    rc = p->cbs.on_body(p->ctx, lx_str_make(d, n));
    return rc == LX_OK ? LX_OK : fail_cb(p, rc);
}

/* Trailer field name byte: keeps a normalized copy to spot framing names (policy 8). */
static void tr_name_char(struct lx_http1_parser *p, char c)
{
    if (c == '-' || c == '_' || c == '.')
        return;
    if (p->tr_norm_len < sizeof(p->tr_norm))
        p->tr_norm[p->tr_norm_len] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    p->tr_norm_len++;
}

static bool tr_name_is_framing(const struct lx_http1_parser *p)
{
    return (p->tr_norm_len == 13 && memcmp(p->tr_norm, "contentlength", 13) == 0) ||
           (p->tr_norm_len == 16 && memcmp(p->tr_norm, "transferencoding", 16) == 0);
}

static inline bool is_ws(char c) { return c == ' ' || c == '\t'; }

/* One byte of the chunked framing (everything but chunk data). */
static int chunk_byte(struct lx_http1_parser *p, char c)
{
    if (p->state < S_CDATA) {
        if (++p->chunk_line > MAX_CHUNK_LINE)
            return fail(p, 400, "chunk line too long");
        /* extensions are ignored, so their total per message is bounded too: many small
         * chunks with large extensions would otherwise cost work with no body to show */
        if (p->state > S_CSIZE && p->state < S_CSIZE_LF && ++p->ext_total > p->lim.max_header_bytes)
            return fail(p, 400, "chunk extensions too large");
    }
    switch (p->state) {
    case S_CSIZE:
        if (is_hex(c)) {
            if (p->chunk_size > (UINT64_MAX >> 4))
                return fail(p, 400, "chunk size overflow");
            p->chunk_size = (p->chunk_size << 4) | hex_val(c);
            return LX_OK;
        }
        if (p->chunk_line == 1)
            return fail(p, 400, "invalid chunk size");
        if (c == '\r')
            p->state = S_CSIZE_LF;
        else if (c == ';')
            p->state = S_CEXT_PRE;
        else if (is_ws(c))
            p->state = S_CSIZE_WS;
        else
            return fail(p, 400, "invalid chunk size");
        return LX_OK;
    case S_CSIZE_WS:
        if (c == ';')
            p->state = S_CEXT_PRE;
        else if (!is_ws(c))
            return fail(p, 400, "invalid chunk size");
        return LX_OK;
    case S_CEXT_PRE:
        if (IS(c, C_TCHAR))
            p->state = S_CEXT_NAME;
        else if (!is_ws(c))
            return fail(p, 400, "invalid chunk extension");
        return LX_OK;
    case S_CEXT_NAME:
    case S_CEXT_POSTNAME:
    case S_CEXT_TOKVAL:
    case S_CEXT_POSTVAL:
        if (IS(c, C_TCHAR) && (p->state == S_CEXT_NAME || p->state == S_CEXT_TOKVAL))
            return LX_OK;
        if (is_ws(c))
            p->state = p->state == S_CEXT_NAME     ? S_CEXT_POSTNAME
                       : p->state == S_CEXT_TOKVAL ? S_CEXT_POSTVAL
                                                   : p->state;
        else if (c == ';')
            p->state = S_CEXT_PRE;
        else if (c == '\r')
            p->state = S_CSIZE_LF;
        else if (c == '=' && (p->state == S_CEXT_NAME || p->state == S_CEXT_POSTNAME))
            p->state = S_CEXT_PREVAL;
        else
            return fail(p, 400, "invalid chunk extension");
        return LX_OK;
    case S_CEXT_PREVAL:
        if (c == '"')
            p->state = S_CEXT_QS;
        else if (IS(c, C_TCHAR))
            p->state = S_CEXT_TOKVAL;
        else if (!is_ws(c))
            return fail(p, 400, "invalid chunk extension");
        return LX_OK;
    case S_CEXT_QS:
        if (c == '"')
            p->state = S_CEXT_POSTVAL;
        else if (c == '\\')
            p->state = S_CEXT_QS_ESC;
        else if (!IS(c, C_VALUE))
            return fail(p, 400, "invalid chunk extension");
        return LX_OK;
    case S_CEXT_QS_ESC:
        if (!IS(c, C_VALUE))
            return fail(p, 400, "invalid chunk extension");
        p->state = S_CEXT_QS;
        return LX_OK;
    case S_CSIZE_LF:
        if (c != '\n')
            return fail(p, 400, "bare CR in chunk line");
        p->chunk_line = 0;
        if (p->chunk_size == 0) {
            p->state = S_TR_START;
            return LX_OK;
        }
        if (p->chunk_size > p->lim.max_body - p->body_total)
            return fail(p, 413, "body too large");
        p->body_total += p->chunk_size;
        p->remaining = p->chunk_size;
        p->chunk_size = 0;
        p->state = S_CDATA;
        return LX_OK;
    case S_CDATA_CR:
        if (c != '\r')
            return fail(p, 400, "chunk data not followed by CRLF");
        p->state = S_CDATA_LF;
        return LX_OK;
    case S_CDATA_LF:
        if (c != '\n')
            return fail(p, 400, "chunk data not followed by CRLF");
        p->state = S_CSIZE;
        return LX_OK;
    default:
        break;
    }
    /* trailer section */
    if (++p->tr_bytes > p->lim.max_header_bytes)
        return fail(p, 431, "trailer section too large");
    switch (p->state) {
    case S_TR_START:
        if (c == '\r') {
            p->state = S_TR_END_LF;
        } else if (IS(c, C_TCHAR)) {
            if (++p->tr_fields > p->lim.max_header_fields)
                return fail(p, 431, "too many trailer fields");
            p->tr_norm_len = 0;
            tr_name_char(p, c);
            p->state = S_TR_NAME;
        } else if (is_ws(c)) {
            return fail(p, 400, "obs-fold in trailer");
        } else {
            return fail(p, 400, "invalid trailer field");
        }
        return LX_OK;
    case S_TR_NAME:
        if (IS(c, C_TCHAR)) {
            tr_name_char(p, c);
        } else if (c == ':') {
            if (tr_name_is_framing(p))
                return fail(p, 400, "framing field in trailer");
            p->state = S_TR_VALUE;
        } else {
            return fail(p, 400, "invalid trailer field name");
        }
        return LX_OK;
    case S_TR_VALUE:
        if (c == '\r')
            p->state = S_TR_LF;
        else if (!IS(c, C_VALUE))
            return fail(p, 400, "invalid trailer field value");
        return LX_OK;
    case S_TR_LF:
        if (c != '\n')
            return fail(p, 400, "bare CR in trailer");
        p->state = S_TR_START;
        return LX_OK;
    case S_TR_END_LF:
        if (c != '\n')
            return fail(p, 400, "bare CR in trailer");
        return complete_message(p);
    default:
        return fail(p, 400, "internal state");
    }
}

int lx_http1_feed(struct lx_http1_parser *p, const char *data, size_t len, size_t *consumed)
{
    size_t i = 0;
    int rc = LX_OK;

    if (p->state == S_DEAD) {
        *consumed = 0;
        return p->err_rc;
    }
    if (p->paused) {
        *consumed = 0;
        return LX_EPAUSE;
    }
    while (i < len && rc == LX_OK) {
        switch (p->state) {
        case S_START:
            if (data[i] == '\r') {
                p->state = S_START_LF;
                i++;
            } else if (data[i] == '\n') {
                rc = fail(p, 400, "bare LF");
            } else {
                p->state = S_HEAD;
            }
            break;
        case S_START_LF:
            if (data[i] != '\n') {
                rc = fail(p, 400, "bare CR");
                break;
            }
            p->state = S_START;
            i++;
            break;
        case S_HEAD: {
            /* never take more than one byte past the limit, so the first error seen (bare CR
             * or size) is the same however the input is split */
            size_t room = head_limit(p) + 1 - p->hlen;
            size_t avail = LX_MIN(len - i, room);
            const char *nl = memchr(data + i, '\n', avail);
            size_t n = nl != NULL ? (size_t)(nl - (data + i)) + 1 : avail;

            rc = hbuf_append(p, data + i, n);
            i += n;
            /* a complete field line within the limit needs no bare-CR scan: parse_field
             * refuses any CR inside it with the same 400. Past the limit the scan decides
             * which error came first, as it would have byte by byte. */
            if (rc == LX_OK && (nl == NULL || p->reqline_len == 0 || p->hlen > head_limit(p)))
                rc = check_bare_cr(p, n);
            if (rc == LX_OK)
                rc = check_head_size(p);
            if (rc == LX_OK && nl != NULL)
                rc = head_line(p);
            break;
        }
        case S_BODY: {
            size_t n = (size_t)LX_MIN((uint64_t)(len - i), p->remaining);

            rc = body_piece(p, data + i, n);
            i += n;
            p->remaining -= n;
            if (rc == LX_OK && p->remaining == 0)
                rc = complete_message(p);
            break;
        }
        case S_CDATA: {
            size_t n = (size_t)LX_MIN((uint64_t)(len - i), p->remaining);

            rc = body_piece(p, data + i, n);
            i += n;
            p->remaining -= n;
            if (p->remaining == 0)
                p->state = S_CDATA_CR;
            break;
        }
        case S_CLOSED:
            i = len; /* RFC 9112 §9.6: bytes after a closing request are ignored */
            break;
        case S_DEAD:
            rc = p->err_rc;
            break;
        default:
            rc = chunk_byte(p, data[i]);
            i++;
            break;
        }
    }
    *consumed = i;
    return rc;
}

int lx_http1_finish(struct lx_http1_parser *p)
{
    if (p->state == S_DEAD)
        return p->err_rc;
    if (p->state == S_START || p->state == S_CLOSED)
        return LX_OK;
    p->state = S_DEAD;
    p->err_rc = LX_ETRUNCATED;
    p->err_status = 0;
    p->err_reason = "truncated message";
    return LX_ETRUNCATED;
}

void lx_http1_resume(struct lx_http1_parser *p) { p->paused = false; }

int lx_http1_error_status(const struct lx_http1_parser *p)
{
    return p->state == S_DEAD ? p->err_status : 0;
}

const char *lx_http1_error_reason(const struct lx_http1_parser *p)
{
    return p->state == S_DEAD ? p->err_reason : NULL;
}

bool lx_http1_in_message(const struct lx_http1_parser *p)
{
    return p->state != S_START && p->state != S_CLOSED && p->state != S_DEAD;
}
