/* vertex_auth.c - service-account key file, RS256 JWT, OAuth2 token request and answer for
 * Vertex AI (vertex_auth.h). Pure; OpenSSL's own allocations are freed before every return and
 * its error queue is cleared, so nothing leaks to the caller's thread. Owned by the Vertex
 * adapter; any thread. */
#include "providers/vertex_auth.h"

#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/buf.h"
#include "providers/wire.h"
#include "json/json.h"
#include "json/writer.h"

struct lx_str lx_vertex_b64url(struct lx_arena *a, const void *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *s = p;
    char *o;
    size_t k = 0, i = 0;

    if (n > ((size_t)1 << 30))
        return LX_STR_NULL;
    o = lx_arena_alloc(a, (n + 2) / 3 * 4 + 1);
    if (o == NULL)
        return LX_STR_NULL;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        o[k++] = tab[v >> 18 & 63];
        o[k++] = tab[v >> 12 & 63];
        o[k++] = tab[v >> 6 & 63];
        o[k++] = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        o[k++] = tab[v >> 18 & 63];
        o[k++] = tab[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        o[k++] = tab[v >> 18 & 63];
        o[k++] = tab[v >> 12 & 63];
        o[k++] = tab[v >> 6 & 63];
    }
    o[k] = '\0';
    return lx_str_make(o, k);
}

/* Never prompts for a passphrase on a terminal: an encrypted key simply fails to load. */
static int vtxa_no_pass(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

/* The PEM -> an RSA EVP_PKEY, or NULL (error queue cleared). */
static EVP_PKEY *vtxa_load_key(struct lx_str pem)
{
    BIO *bio;
    EVP_PKEY *k;

    if (pem.len == 0 || pem.len > LX_VERTEX_MAX_KEYFILE)
        return NULL;
    bio = BIO_new_mem_buf(pem.ptr, (int)pem.len);
    if (bio == NULL)
        return NULL;
    k = PEM_read_bio_PrivateKey(bio, NULL, vtxa_no_pass, NULL);
    BIO_free(bio);
    if (k != NULL && EVP_PKEY_base_id(k) != EVP_PKEY_RSA) {
        EVP_PKEY_free(k);
        k = NULL;
    }
    ERR_clear_error();
    return k;
}

static int vtxa_field(const struct lx_json *doc, const char *name, bool required,
                      struct lx_arena *a, struct lx_str *out, struct lx_err *err)
{
    int i = lx_json_get(doc, 0, lx_str_cstr(name));

    *out = LX_STR(""); /* absent: empty, never a NULL pointer (callers memcpy it) */
    if (i < 0) {
        if (!required)
            return LX_OK;
        lx_err_set(err, LX_EINVAL, 400, "service-account key file: \"%s\" is missing", name);
        return LX_EINVAL;
    }
    if (lx_json_type(doc, i) != LX_JSON_STRING) {
        lx_err_set(err, LX_EINVAL, 400, "service-account key file: \"%s\" is not a string", name);
        return LX_EINVAL;
    }
    if (lx_json_str(doc, i, a, out) != LX_OK) {
        lx_err_set(err, LX_ENOMEM, 500, "service-account key file: out of memory");
        return LX_ENOMEM;
    }
    if (required && out->len == 0) {
        lx_err_set(err, LX_EINVAL, 400, "service-account key file: \"%s\" is empty", name);
        return LX_EINVAL;
    }
    return LX_OK;
}

static bool vtxa_prefix(struct lx_str s, const char *p)
{
    size_t n = strlen(p);

    return s.len > n && memcmp(s.ptr, p, n) == 0;
}

/* https anywhere; plain http only to this machine (a test token endpoint): the JWT would
 * otherwise travel in clear. */
static bool vtxa_token_uri_ok(struct lx_str u)
{
    for (size_t i = 0; i < u.len; i++)
        if ((unsigned char)u.ptr[i] <= 0x20 || u.ptr[i] == 0x7f)
            return false;
    if (vtxa_prefix(u, "https://"))
        return true;
    return vtxa_prefix(u, "http://127.0.0.1:") || vtxa_prefix(u, "http://127.0.0.1/") ||
           vtxa_prefix(u, "http://localhost:") || vtxa_prefix(u, "http://localhost/") ||
           vtxa_prefix(u, "http://[::1]:") || vtxa_prefix(u, "http://[::1]/");
}

int lx_vertex_sa_parse(struct lx_str json, struct lx_arena *a, struct lx_vertex_sa *out,
                       struct lx_err *err)
{
    struct lx_json doc;
    struct lx_str type;
    EVP_PKEY *k;
    int rc, t;

    memset(out, 0, sizeof(*out));
    if (json.len > LX_VERTEX_MAX_KEYFILE) {
        lx_err_set(err, LX_EINVAL, 400, "service-account key file: larger than %u bytes",
                   LX_VERTEX_MAX_KEYFILE);
        return LX_EINVAL;
    }
    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    /* the offset only: a message quoting the file could quote the key */
    if (lx_json_parse(&doc, json.ptr, json.len) != LX_OK ||
        lx_json_type(&doc, 0) != LX_JSON_OBJECT) {
        lx_err_set(err, LX_EINVAL, 400, "service-account key file: not a JSON object (byte %zu)",
                   doc.err_off);
        return LX_EINVAL;
    }
    t = lx_json_get(&doc, 0, LX_STR("type"));
    if (t < 0 || !lx_json_str_eq(&doc, t, LX_STR("service_account"))) {
        if ((rc = vtxa_field(&doc, "type", false, a, &type, err)) != LX_OK)
            return rc;
        if (type.len > 0 && type.len <= 40)
            lx_err_set(err, LX_EINVAL, 400,
                       "service-account key file: type is \"%.*s\", not \"service_account\" "
                       "(user credentials and external accounts are not supported)",
                       LX_STR_FMT(type));
        else
            lx_err_set(err, LX_EINVAL, 400,
                       "service-account key file: \"type\": \"service_account\" is missing");
        return LX_EINVAL;
    }
    if ((rc = vtxa_field(&doc, "client_email", true, a, &out->client_email, err)) != LX_OK ||
        (rc = vtxa_field(&doc, "private_key", true, a, &out->private_key, err)) != LX_OK ||
        (rc = vtxa_field(&doc, "private_key_id", false, a, &out->private_key_id, err)) != LX_OK ||
        (rc = vtxa_field(&doc, "token_uri", false, a, &out->token_uri, err)) != LX_OK ||
        (rc = vtxa_field(&doc, "project_id", false, a, &out->project_id, err)) != LX_OK)
        return rc;
    if (out->token_uri.len == 0)
        out->token_uri = LX_STR(LX_VERTEX_TOKEN_URI);
    else if (!vtxa_token_uri_ok(out->token_uri)) {
        lx_err_set(err, LX_EINVAL, 400,
                   "service-account key file: token_uri is not https (http only on loopback)");
        return LX_EINVAL;
    }
    k = vtxa_load_key(out->private_key);
    if (k == NULL) {
        lx_err_set(err, LX_EINVAL, 400,
                   "service-account key file: private_key is not an unencrypted PEM RSA key");
        return LX_EINVAL;
    }
    EVP_PKEY_free(k);
    return LX_OK;
}

/* RS256 = RSASSA-PKCS1-v1_5 with SHA-256 over msg. */
static int vtxa_sign(struct lx_str pem, struct lx_str msg, struct lx_arena *a,
                     struct lx_str *sig_b64, struct lx_err *err)
{
    EVP_PKEY *k = vtxa_load_key(pem);
    EVP_MD_CTX *md;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    int rc = LX_OK;

    if (k == NULL) {
        lx_err_set(err, LX_EINVAL, 400, "Vertex credentials: the private key cannot be loaded");
        return LX_EINVAL;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 ||
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)msg.ptr, msg.len) != 1 ||
        siglen == 0 || siglen > 2048 || (sig = lx_arena_alloc(a, siglen)) == NULL ||
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)msg.ptr, msg.len) != 1) {
        lx_err_set(err, LX_EINVAL, 500, "Vertex credentials: RS256 signing failed");
        rc = LX_EINVAL;
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    ERR_clear_error();
    if (rc != LX_OK)
        return rc;
    *sig_b64 = lx_vertex_b64url(a, sig, siglen);
    if (sig_b64->ptr == NULL) {
        lx_err_set(err, LX_ENOMEM, 500, "out of memory");
        return LX_ENOMEM;
    }
    return LX_OK;
}

int lx_vertex_jwt(const struct lx_vertex_sa *sa, int64_t now_s, struct lx_arena *a,
                  struct lx_str *out, struct lx_err *err)
{
    struct lx_buf hb = LX_BUF_INIT(4096), cb = LX_BUF_INIT(4096);
    struct lx_json_writer w;
    struct lx_str parts[5], input, sig;
    int rc;

    *out = LX_STR_NULL;
    if (sa == NULL || sa->client_email.len == 0 || sa->private_key.len == 0) {
        lx_err_set(err, LX_EINVAL, 500, "Vertex credentials: no service account");
        return LX_EINVAL;
    }
    lx_json_writer_init(&w, &hb);
    lx_json_write_object_begin(&w);
    lx_json_write_key(&w, LX_STR("alg"));
    lx_json_write_str(&w, LX_STR("RS256"));
    lx_json_write_key(&w, LX_STR("typ"));
    lx_json_write_str(&w, LX_STR("JWT"));
    if (sa->private_key_id.len > 0) {
        lx_json_write_key(&w, LX_STR("kid"));
        lx_json_write_str(&w, sa->private_key_id);
    }
    lx_json_write_object_end(&w);
    lx_json_writer_init(&w, &cb);
    lx_json_write_object_begin(&w);
    lx_json_write_key(&w, LX_STR("iss"));
    lx_json_write_str(&w, sa->client_email);
    lx_json_write_key(&w, LX_STR("scope"));
    lx_json_write_str(&w, LX_STR(LX_VERTEX_SCOPE));
    lx_json_write_key(&w, LX_STR("aud"));
    lx_json_write_str(&w, sa->token_uri.len > 0 ? sa->token_uri : LX_STR(LX_VERTEX_TOKEN_URI));
    lx_json_write_key(&w, LX_STR("iat"));
    lx_json_write_int(&w, now_s);
    lx_json_write_key(&w, LX_STR("exp"));
    lx_json_write_int(&w, now_s + LX_VERTEX_JWT_LIFETIME);
    lx_json_write_object_end(&w);
    if (hb.err != LX_OK || cb.err != LX_OK) {
        rc = hb.err != LX_OK ? hb.err : cb.err;
        lx_buf_release(&hb);
        lx_buf_release(&cb);
        lx_err_set(err, rc, 500, "Vertex credentials: JWT too large");
        return rc;
    }
    parts[0] = lx_vertex_b64url(a, hb.ptr, hb.len);
    parts[1] = LX_STR(".");
    parts[2] = lx_vertex_b64url(a, cb.ptr, cb.len);
    lx_buf_release(&hb);
    lx_buf_release(&cb);
    if (parts[0].ptr == NULL || parts[2].ptr == NULL ||
        (input = lx_wire_concat(a, parts, 3)).ptr == NULL) {
        lx_err_set(err, LX_ENOMEM, 500, "out of memory");
        return LX_ENOMEM;
    }
    if ((rc = vtxa_sign(sa->private_key, input, a, &sig, err)) != LX_OK)
        return rc;
    parts[0] = input;
    parts[1] = LX_STR(".");
    parts[2] = sig;
    *out = lx_wire_concat(a, parts, 3);
    if (out->ptr == NULL) {
        lx_err_set(err, LX_ENOMEM, 500, "out of memory");
        return LX_ENOMEM;
    }
    return LX_OK;
}

int lx_vertex_token_request(const struct lx_vertex_sa *sa, int64_t now_s, struct lx_arena *a,
                            struct lx_upstream_req *out, struct lx_err *err)
{
    struct lx_str jwt, parts[2];
    struct lx_header *h;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = lx_vertex_jwt(sa, now_s, a, &jwt, err)) != LX_OK)
        return rc;
    /* base64url and '.' are unreserved in a form: the JWT needs no escaping */
    parts[0] = LX_STR("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                      "&assertion=");
    parts[1] = jwt;
    h = lx_arena_zalloc(a, 2 * sizeof(*h));
    out->body = lx_wire_concat(a, parts, 2);
    if (h == NULL || out->body.ptr == NULL) {
        lx_err_set(err, LX_ENOMEM, 500, "out of memory");
        return LX_ENOMEM;
    }
    h[0] = (struct lx_header){LX_STR("Content-Type"), LX_STR("application/x-www-form-urlencoded")};
    h[1] = (struct lx_header){LX_STR("Accept"), LX_STR("application/json")};
    out->method = LX_STR("POST");
    out->url = sa->token_uri.len > 0 ? sa->token_uri : LX_STR(LX_VERTEX_TOKEN_URI);
    out->headers = h;
    out->n_headers = 2;
    return LX_OK;
}

/* Keeps a provider's text short and printable for a message (never the token: only error
 * fields are shown). */
static int vtxa_shown_len(struct lx_str s)
{
    size_t n = 0;

    while (n < s.len && n < 120 && (unsigned char)s.ptr[n] >= 0x20 && s.ptr[n] != 0x7f)
        n++;
    return (int)n;
}

int lx_vertex_token_parse(int status, struct lx_str body, int64_t now_s, struct lx_arena *a,
                          struct lx_vertex_token *out, struct lx_err *err)
{
    struct lx_json doc;
    struct lx_str code = LX_STR_NULL, desc = LX_STR_NULL;
    int i, e;
    int64_t expires_in = -1;

    memset(out, 0, sizeof(*out));
    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    if (lx_json_parse(&doc, body.ptr, body.len) != LX_OK ||
        lx_json_type(&doc, 0) != LX_JSON_OBJECT) {
        if (status >= 200 && status < 300) {
            lx_err_set(err, LX_EPARSE, 502, "Google token endpoint: the answer is not JSON");
            return LX_EPARSE;
        }
        lx_err_set(err, LX_EUPSTREAM, status == 429 || status >= 500 ? status : 401,
                   "Google token endpoint: HTTP %d", status);
        err->retryable = status == 429 || status >= 500;
        return LX_EUPSTREAM;
    }
    e = lx_json_get(&doc, 0, LX_STR("error"));
    if (e >= 0 || status < 200 || status >= 300) {
        int st;

        if (e >= 0 && lx_json_type(&doc, e) == LX_JSON_STRING)
            (void)lx_json_str(&doc, e, a, &code);
        else if (e >= 0 && lx_json_type(&doc, e) == LX_JSON_OBJECT) {
            int m = lx_json_get(&doc, e, LX_STR("message"));
            int s = lx_json_get(&doc, e, LX_STR("status"));
            if (s >= 0 && lx_json_type(&doc, s) == LX_JSON_STRING)
                (void)lx_json_str(&doc, s, a, &code);
            if (m >= 0 && lx_json_type(&doc, m) == LX_JSON_STRING)
                (void)lx_json_str(&doc, m, a, &desc);
        }
        i = lx_json_get(&doc, 0, LX_STR("error_description"));
        if (i >= 0 && lx_json_type(&doc, i) == LX_JSON_STRING)
            (void)lx_json_str(&doc, i, a, &desc);
        st = status == 429 || status >= 500 ? status : 401;
        if (status >= 200 && status < 300)
            st = 401;
        lx_err_set(err, LX_EUPSTREAM, st, "Google token endpoint: %.*s%s%.*s",
                   code.len ? vtxa_shown_len(code) : 5, code.len ? code.ptr : "error",
                   desc.len ? ": " : "", vtxa_shown_len(desc), desc.ptr ? desc.ptr : "");
        err->retryable = st != 401;
        return LX_EUPSTREAM;
    }
    i = lx_json_get(&doc, 0, LX_STR("access_token"));
    if (i < 0 || lx_json_type(&doc, i) != LX_JSON_STRING ||
        lx_json_str(&doc, i, a, &out->access_token) != LX_OK || out->access_token.len == 0) {
        lx_err_set(err, LX_EPARSE, 502, "Google token endpoint: no access_token in the answer");
        return LX_EPARSE;
    }
    i = lx_json_get(&doc, 0, LX_STR("expires_in"));
    if (i < 0 || lx_json_int64(&doc, i, &expires_in) != LX_OK || expires_in <= 0 ||
        expires_in > 86400 * 7) {
        memset(out, 0, sizeof(*out));
        lx_err_set(err, LX_EPARSE, 502, "Google token endpoint: bad or missing expires_in");
        return LX_EPARSE;
    }
    i = lx_json_get(&doc, 0, LX_STR("token_type"));
    if (i >= 0 && lx_json_type(&doc, i) == LX_JSON_STRING)
        (void)lx_json_str(&doc, i, a, &out->token_type);
    if (out->token_type.len == 0)
        out->token_type = LX_STR("Bearer");
    else if (!lx_str_eq_nocase(out->token_type, LX_STR("Bearer"))) {
        memset(out, 0, sizeof(*out));
        lx_err_set(err, LX_EPARSE, 502, "Google token endpoint: token_type is not Bearer");
        return LX_EPARSE;
    }
    out->expires_at = now_s + expires_in;
    return LX_OK;
}

bool lx_vertex_token_fresh(const struct lx_vertex_token *t, int64_t now_s)
{
    return t != NULL && t->access_token.len > 0 && t->expires_at - LX_VERTEX_TOKEN_MARGIN > now_s;
}
