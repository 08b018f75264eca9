/* sigv4.c - AWS Signature Version 4 header signing (Bedrock and other non-S3 services).
 * Pure computation: no I/O, no globals, no clock, never logs. Unlike the rest of providers/ it
 * includes OpenSSL, for SHA-256 and HMAC only (libcrypto hashing, never TLS or other I/O).
 * Scratch memory is a bounded lx_buf freed before return; key material on the stack is wiped
 * with OPENSSL_cleanse. Callable from any thread. Spec: PROTOCOLS.md section 4.2. */
#include "providers/sigv4.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/common.h"
#include "core/err.h"

#define SIGV4_ALGO "AWS4-HMAC-SHA256"
#define SIGV4_MAX_SCRATCH (256u * 1024u) /* canonical request or encoded query */
#define SIGV4_MAX_QUERY_PARAMS 64
#define SIGV4_MAX_ID 128 /* access key id, region, service */
#define SIGV4_MAX_TIME 253402300799LL /* 9999-12-31T23:59:59Z */

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

static void to_hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_lower[p[i] >> 4];
        out[2 * i + 1] = hex_lower[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Hex SHA-256 of s into out[65]. LX_OK or LX_ENOMEM (libcrypto failure). */
static int sha256_hex(struct lx_str s, char out[65])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;

    if (EVP_Digest(s.len ? s.ptr : "", s.len, md, &md_len, EVP_sha256(), NULL) != 1 ||
        md_len != 32)
        return LX_ENOMEM;
    to_hex(md, 32, out);
    return LX_OK;
}

static int hmac(const uint8_t *key, size_t key_len, struct lx_str data, uint8_t out[32])
{
    unsigned out_len = 0;

    if (HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)(data.len ? data.ptr : ""),
             data.len, out, &out_len) == NULL ||
        out_len != 32)
        return LX_ENOMEM;
    return LX_OK;
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

/* RFC 7230 tchar: the characters of a method or a header name. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_token(struct lx_str s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (!is_tchar((unsigned char)s.ptr[i]))
            return false;
    return true;
}

/* Access key ids, regions and services go into the Authorization header: letters, digits
 * and '-' only, so nothing can inject into it. */
static bool is_id(struct lx_str s)
{
    if (s.len == 0 || s.len > SIGV4_MAX_ID)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return true;
}

/* Header field values: no CR, LF, NUL or other controls except HTAB. */
static bool is_field_value(struct lx_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

static void append_encoded(struct lx_buf *b, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (is_unreserved(p[i])) {
            lx_buf_append_char(b, (char)p[i]);
        } else {
            char e[3] = {'%', hex_upper[p[i] >> 4], hex_upper[p[i] & 15]};
            lx_buf_append(b, e, 3);
        }
    }
}

static void append_lower(struct lx_buf *b, struct lx_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        lx_buf_append_char(b, c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c);
    }
}

/* Value trimmed at both ends, inner runs of SP/HTAB collapsed to one SP. */
static void append_trimmed(struct lx_buf *b, struct lx_str v)
{
    bool pending_space = false, started = false;

    for (size_t i = 0; i < v.len; i++) {
        char c = v.ptr[i];
        if (c == ' ' || c == '\t') {
            pending_space = started;
            continue;
        }
        if (pending_space)
            lx_buf_append_char(b, ' ');
        pending_space = false;
        started = true;
        lx_buf_append_char(b, c);
    }
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int lx_sigv4_amz_date(int64_t t, char out[LX_SIGV4_AMZ_DATE_LEN + 1])
{
    if (t < 0 || t > SIGV4_MAX_TIME)
        return LX_EINVAL;
    /* Days since 1970-01-01 to a proleptic Gregorian date, counting eras of 400 years
     * from 0000-03-01 so that the leap day falls at the end of each year. */
    int64_t secs = t % 86400, z = t / 86400 + 719468;
    int64_t era = z / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
    int64_t year = yoe + era * 400 + (month <= 2);
    int64_t fields[6] = {year, month, day, secs / 3600, secs / 60 % 60, secs % 60};
    static const int widths[6] = {4, 2, 2, 2, 2, 2};
    char *p = out;

    for (int f = 0; f < 6; f++) {
        int64_t v = fields[f];
        for (int w = widths[f] - 1; w >= 0; w--) {
            p[w] = (char)('0' + v % 10);
            v /= 10;
        }
        p += widths[f];
        if (f == 2)
            *p++ = 'T';
    }
    *p++ = 'Z';
    *p = '\0';
    return LX_OK;
}

int lx_sigv4_signing_key(struct lx_str secret, struct lx_str date, struct lx_str region,
                         struct lx_str service, uint8_t key[LX_SIGV4_KEY_LEN])
{
    uint8_t k0[4 + LX_SIGV4_MAX_SECRET], k1[32], k2[32], k3[32];
    int rc;

    if (secret.len == 0 || secret.len > LX_SIGV4_MAX_SECRET || date.len != 8 ||
        !is_id(region) || !is_id(service))
        return LX_EINVAL;
    for (size_t i = 0; i < 8; i++)
        if (date.ptr[i] < '0' || date.ptr[i] > '9')
            return LX_EINVAL;
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret.ptr, secret.len);
    rc = hmac(k0, 4 + secret.len, date, k1);
    if (rc == LX_OK)
        rc = hmac(k1, 32, region, k2);
    if (rc == LX_OK)
        rc = hmac(k2, 32, service, k3);
    if (rc == LX_OK)
        rc = hmac(k3, 32, LX_STR("aws4_request"), key);
    OPENSSL_cleanse(k0, sizeof(k0));
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k2, sizeof(k2));
    OPENSSL_cleanse(k3, sizeof(k3));
    if (rc != LX_OK)
        OPENSSL_cleanse(key, LX_SIGV4_KEY_LEN);
    return rc;
}

/* Path segments are encoded again ('%' becomes "%25"): non-S3 services double-encode. The
 * path must already be in wire form and need no normalization, or EINVAL: AWS would sign a
 * normalized form ("//", "." and ".." removed) that differs from what we send. */
static int append_canonical_uri(struct lx_buf *b, struct lx_str path)
{
    if (path.len == 0) {
        lx_buf_append_char(b, '/');
        return LX_OK;
    }
    if (path.ptr[0] != '/')
        return LX_EINVAL;
    size_t seg = 1;
    for (size_t i = 1; i <= path.len; i++) {
        if (i < path.len) {
            unsigned char c = (unsigned char)path.ptr[i];
            if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#')
                return LX_EINVAL;
            if (c != '/')
                continue;
        }
        struct lx_str s = lx_str_make(path.ptr + seg, i - seg);
        if ((s.len == 0 && i < path.len) || lx_str_eq(s, LX_STR(".")) ||
            lx_str_eq(s, LX_STR("..")))
            return LX_EINVAL;
        seg = i + 1;
    }
    lx_buf_append_char(b, '/');
    for (size_t i = 1; i < path.len; i++) {
        if (path.ptr[i] == '/')
            lx_buf_append_char(b, '/');
        else
            append_encoded(b, (const unsigned char *)path.ptr + i, 1);
    }
    return LX_OK;
}

/* Decodes one wire query component and appends it re-encoded the SigV4 way, so "%7e", "~"
 * and "%7E" all sign as "~". Raw '+' is refused: servers disagree on whether it means a
 * space, so the caller must send %20 or %2B. */
static int append_query_part(struct lx_buf *b, struct lx_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '%') {
            int hi = i + 2 < s.len ? hexval((unsigned char)s.ptr[i + 1]) : -1;
            int lo = hi >= 0 ? hexval((unsigned char)s.ptr[i + 2]) : -1;
            if (lo < 0)
                return LX_EINVAL;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else if (c <= 0x20 || c >= 0x7f || c == '+' || c == '#') {
            return LX_EINVAL;
        }
        append_encoded(b, &c, 1);
    }
    return LX_OK;
}

struct span {
    size_t name_off, name_len, val_off, val_len;
};

static int span_cmp(const char *base, const struct span *a, const struct span *b)
{
    size_t n = LX_MIN(a->name_len, b->name_len);
    int c = memcmp(base + a->name_off, base + b->name_off, n);

    if (c != 0 || a->name_len != b->name_len)
        return c != 0 ? c : (a->name_len < b->name_len ? -1 : 1);
    n = LX_MIN(a->val_len, b->val_len);
    c = memcmp(base + a->val_off, base + b->val_off, n);
    if (c != 0 || a->val_len == b->val_len)
        return c;
    return a->val_len < b->val_len ? -1 : 1;
}

/* name=value pairs, each encoded, sorted by encoded name then encoded value, joined by '&'. */
static int append_canonical_query(struct lx_buf *b, struct lx_str q)
{
    struct span spans[SIGV4_MAX_QUERY_PARAMS];
    struct lx_buf enc = LX_BUF_INIT(SIGV4_MAX_SCRATCH);
    size_t n = 0, start = 0;
    int rc = LX_OK;

    if (q.len == 0)
        return LX_OK;
    for (size_t i = 0; i <= q.len && rc == LX_OK; i++) {
        if (i < q.len && q.ptr[i] != '&')
            continue;
        struct lx_str pair = lx_str_make(q.ptr + start, i - start);
        long eq = lx_str_find_char(pair, '=');
        size_t name_len = eq < 0 ? pair.len : (size_t)eq;
        start = i + 1;
        if (name_len == 0) {
            rc = LX_EINVAL; /* "&&", a trailing '&' or "=v": no AWS-defined form */
            break;
        }
        if (n == SIGV4_MAX_QUERY_PARAMS) {
            rc = LX_ETOOBIG;
            break;
        }
        spans[n].name_off = enc.len;
        rc = append_query_part(&enc, lx_str_make(pair.ptr, name_len));
        spans[n].name_len = enc.len - spans[n].name_off;
        spans[n].val_off = enc.len;
        if (rc == LX_OK && eq >= 0)
            rc = append_query_part(&enc, lx_str_sub(pair, name_len + 1, pair.len));
        spans[n].val_len = enc.len - spans[n].val_off;
        n++;
    }
    if (rc == LX_OK)
        rc = enc.err;
    if (rc != LX_OK)
        goto out;
    for (size_t i = 1; i < n; i++) { /* insertion sort: n is small and qsort has no context */
        struct span key = spans[i];
        size_t j = i;
        while (j > 0 && span_cmp(enc.ptr, &spans[j - 1], &key) > 0) {
            spans[j] = spans[j - 1];
            j--;
        }
        spans[j] = key;
    }
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            lx_buf_append_char(b, '&');
        lx_buf_append(b, enc.ptr + spans[i].name_off, spans[i].name_len);
        lx_buf_append_char(b, '=');
        lx_buf_append(b, enc.ptr + spans[i].val_off, spans[i].val_len);
    }
out:
    lx_buf_release(&enc);
    return rc;
}

static int name_cmp(struct lx_str a, struct lx_str b)
{
    size_t n = LX_MIN(a.len, b.len);

    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a.ptr[i], y = (unsigned char)b.ptr[i];
        x = x >= 'A' && x <= 'Z' ? (unsigned char)(x + 32) : x;
        y = y >= 'A' && y <= 'Z' ? (unsigned char)(y + 32) : y;
        if (x != y)
            return x < y ? -1 : 1;
    }
    return a.len == b.len ? 0 : (a.len < b.len ? -1 : 1);
}

/* The headers we add ourselves; a caller passing one of them (or Authorization) has made a
 * mistake that would otherwise produce a header sent twice. */
static bool is_reserved(struct lx_str name)
{
    static const struct lx_str reserved[] = {
        LX_STR_INIT("host"), LX_STR_INIT("x-amz-date"), LX_STR_INIT("x-amz-security-token"),
        LX_STR_INIT("x-amz-content-sha256"), LX_STR_INIT("authorization"),
    };
    for (size_t i = 0; i < LX_ARRAY_SIZE(reserved); i++)
        if (lx_str_eq_nocase(name, reserved[i]))
            return true;
    return false;
}

static int canonical_request(const struct lx_sigv4_input *in, const char *amz_date,
                             const char *payload_hex, struct lx_buf *out)
{
    struct lx_header h[LX_SIGV4_MAX_HEADERS];
    size_t n = 0;
    int rc;

    if (!is_token(in->method) || in->host.len == 0 || !is_field_value(in->host) ||
        !is_field_value(in->session_token))
        return LX_EINVAL;
    if (in->n_headers > 0 && in->headers == NULL)
        return LX_EINVAL;
    if (in->n_headers > LX_SIGV4_MAX_HEADERS - 4)
        return LX_ETOOBIG;
    for (size_t i = 0; i < in->n_headers; i++) {
        const struct lx_header *src = &in->headers[i];
        if (!is_token(src->name) || !is_field_value(src->value) || is_reserved(src->name))
            return LX_EINVAL;
        h[n++] = *src;
    }
    h[n++] = (struct lx_header){LX_STR("host"), in->host};
    h[n++] = (struct lx_header){LX_STR("x-amz-date"), lx_str_make(amz_date, 16)};
    if (in->content_sha256)
        h[n++] = (struct lx_header){LX_STR("x-amz-content-sha256"), lx_str_cstr(payload_hex)};
    if (in->session_token.len > 0)
        h[n++] = (struct lx_header){LX_STR("x-amz-security-token"), in->session_token};
    for (size_t i = 1; i < n; i++) {
        struct lx_header key = h[i];
        size_t j = i;
        while (j > 0 && name_cmp(h[j - 1].name, key.name) > 0) {
            h[j] = h[j - 1];
            j--;
        }
        h[j] = key;
    }
    for (size_t i = 1; i < n; i++)
        if (name_cmp(h[i - 1].name, h[i].name) == 0)
            return LX_EINVAL; /* AWS would join them with ','; we never send duplicates */

    lx_buf_append_str(out, in->method);
    lx_buf_append_char(out, '\n');
    rc = append_canonical_uri(out, in->path);
    if (rc != LX_OK)
        return rc;
    lx_buf_append_char(out, '\n');
    rc = append_canonical_query(out, in->query);
    if (rc != LX_OK)
        return rc;
    lx_buf_append_char(out, '\n');
    for (size_t i = 0; i < n; i++) {
        append_lower(out, h[i].name);
        lx_buf_append_char(out, ':');
        append_trimmed(out, h[i].value);
        lx_buf_append_char(out, '\n');
    }
    lx_buf_append_char(out, '\n');
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            lx_buf_append_char(out, ';');
        append_lower(out, h[i].name);
    }
    lx_buf_append_char(out, '\n');
    lx_buf_append(out, payload_hex, 64);
    return out->err;
}

int lx_sigv4_canonical_request(const struct lx_sigv4_input *in, struct lx_buf *out)
{
    char amz_date[LX_SIGV4_AMZ_DATE_LEN + 1], payload_hex[65];
    int rc = lx_sigv4_amz_date(in->time, amz_date);

    if (rc == LX_OK)
        rc = sha256_hex(in->payload, payload_hex);
    if (rc == LX_OK)
        rc = canonical_request(in, amz_date, payload_hex, out);
    return rc;
}

int lx_sigv4_string_to_sign(const struct lx_sigv4_input *in, struct lx_str canonical_request,
                            struct lx_buf *out)
{
    char amz_date[LX_SIGV4_AMZ_DATE_LEN + 1], cr_hex[65];
    int rc = lx_sigv4_amz_date(in->time, amz_date);

    if (rc != LX_OK)
        return rc;
    if (!is_id(in->region) || !is_id(in->service))
        return LX_EINVAL;
    rc = sha256_hex(canonical_request, cr_hex);
    if (rc != LX_OK)
        return rc;
    lx_buf_appendf(out, SIGV4_ALGO "\n%s\n%.8s/%.*s/%.*s/aws4_request\n%s", amz_date, amz_date,
                   LX_STR_FMT(in->region), LX_STR_FMT(in->service), cr_hex);
    return out->err;
}

/* The SignedHeaders list is the second-to-last line of the canonical request. */
static struct lx_str signed_headers_of(struct lx_str cr)
{
    size_t end = cr.len, start;

    while (end > 0 && cr.ptr[end - 1] != '\n')
        end--;
    end = end > 0 ? end - 1 : 0;
    start = end;
    while (start > 0 && cr.ptr[start - 1] != '\n')
        start--;
    return lx_str_make(cr.ptr + start, end - start);
}

static void wipe_release(struct lx_buf *b)
{
    if (b->cap > 0)
        OPENSSL_cleanse(b->ptr, b->cap);
    lx_buf_release(b);
}

int lx_sigv4_sign_with_key(const struct lx_sigv4_input *in, const uint8_t key[LX_SIGV4_KEY_LEN],
                           struct lx_buf *out, struct lx_sigv4_result *res)
{
    struct lx_buf cr = LX_BUF_INIT(SIGV4_MAX_SCRATCH), sts = LX_BUF_INIT(SIGV4_MAX_SCRATCH);
    char amz_date[LX_SIGV4_AMZ_DATE_LEN + 1], payload_hex[65], sig_hex[65];
    uint8_t sig[32];
    size_t off[4], len[4];
    const char *names[4];
    size_t n = 0;
    int rc;

    res->n = 0;
    rc = lx_sigv4_amz_date(in->time, amz_date);
    if (rc != LX_OK)
        goto out;
    if (!is_id(in->access_key_id) || !is_id(in->region) || !is_id(in->service)) {
        rc = LX_EINVAL;
        goto out;
    }
    rc = sha256_hex(in->payload, payload_hex);
    if (rc == LX_OK)
        rc = canonical_request(in, amz_date, payload_hex, &cr);
    if (rc == LX_OK)
        rc = lx_sigv4_string_to_sign(in, lx_buf_str(&cr), &sts);
    if (rc == LX_OK)
        rc = hmac(key, LX_SIGV4_KEY_LEN, lx_buf_str(&sts), sig);
    if (rc != LX_OK)
        goto out;
    to_hex(sig, 32, sig_hex);

#define EMIT(name, ...)                                                                            \
    do {                                                                                           \
        names[n] = (name);                                                                         \
        off[n] = out->len;                                                                         \
        __VA_ARGS__;                                                                               \
        len[n] = out->len - off[n];                                                                \
        n++;                                                                                       \
    } while (0)
    EMIT("X-Amz-Date", lx_buf_append(out, amz_date, 16));
    if (in->content_sha256)
        EMIT("X-Amz-Content-Sha256", lx_buf_append(out, payload_hex, 64));
    if (in->session_token.len > 0)
        EMIT("X-Amz-Security-Token", append_trimmed(out, in->session_token));
    EMIT("Authorization",
         lx_buf_appendf(out,
                        SIGV4_ALGO " Credential=%.*s/%.8s/%.*s/%.*s/aws4_request, "
                                   "SignedHeaders=%.*s, Signature=%s",
                        LX_STR_FMT(in->access_key_id), amz_date, LX_STR_FMT(in->region),
                        LX_STR_FMT(in->service), LX_STR_FMT(signed_headers_of(lx_buf_str(&cr))),
                        sig_hex));
#undef EMIT
    rc = out->err;
    if (rc != LX_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        res->headers[i].name = lx_str_cstr(names[i]);
        res->headers[i].value = lx_str_make(out->ptr + off[i], len[i]);
    }
    res->n = n;
out:
    wipe_release(&cr);
    wipe_release(&sts);
    OPENSSL_cleanse(sig, sizeof(sig));
    return rc;
}

int lx_sigv4_sign(const struct lx_sigv4_input *in, struct lx_buf *out,
                  struct lx_sigv4_result *res)
{
    char amz_date[LX_SIGV4_AMZ_DATE_LEN + 1];
    uint8_t key[LX_SIGV4_KEY_LEN];
    int rc;

    res->n = 0;
    rc = lx_sigv4_amz_date(in->time, amz_date);
    if (rc == LX_OK)
        rc = lx_sigv4_signing_key(in->secret_key, lx_str_make(amz_date, 8), in->region,
                                  in->service, key);
    if (rc == LX_OK)
        rc = lx_sigv4_sign_with_key(in, key, out, res);
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}
