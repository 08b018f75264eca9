/* test_providers_vertex.c - Vertex AI: the service-account JWT (signed with a throwaway RSA key
 * made here, verified with its public half), token request and answers, key-file errors that
 * never show the key; the adapter's URLs, headers, bodies (Gemini and Claude), the recorded
 * stream replayed at every split point, errors and embeddings. Test code; main thread. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "core/arena.h"
#include "core/buf.h"
#include "providers/vertex_auth.h"
#include "tests/unit/provider_replay.h"
#include "tests/unit/test.h"
#include "json/json.h"
#include "json/writer.h"

/* The 32 KB Vertex stream is replayed at every offset; under ASan that takes ~40 s, so
 * sanitizer builds take every 7th offset (still every event boundary class). */
#if defined(__SANITIZE_ADDRESS__)
#define VT_SPLIT_STEP 7
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VT_SPLIT_STEP 7
#endif
#endif
#ifndef VT_SPLIT_STEP
#define VT_SPLIT_STEP 1
#endif

/* ---- a throwaway key and a key file around it ------------------------------------------ */

struct vt_key {
    EVP_PKEY *pkey;
    char *pem;     /* PKCS#8 PEM, malloc'ed */
    char *keyfile; /* the service-account JSON, malloc'ed */
    size_t keyfile_len;
};

static int vt_key_make(struct vt_key *k, const char *type, bool with_kid)
{
    BIO *bio;
    char *p;
    long n;
    struct lx_buf b = LX_BUF_INIT(1 << 20);
    struct lx_json_writer w;

    memset(k, 0, sizeof(*k));
    k->pkey = EVP_RSA_gen(2048);
    if (k->pkey == NULL)
        return -1;
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) != 1)
        return -1;
    n = BIO_get_mem_data(bio, &p);
    k->pem = malloc((size_t)n + 1);
    memcpy(k->pem, p, (size_t)n);
    k->pem[n] = '\0';
    BIO_free(bio);
    lx_json_writer_init(&w, &b);
    lx_json_write_object_begin(&w);
    lx_json_write_key(&w, LX_STR("type"));
    lx_json_write_str(&w, lx_str_cstr(type));
    lx_json_write_key(&w, LX_STR("project_id"));
    lx_json_write_str(&w, LX_STR("my-project"));
    if (with_kid) {
        lx_json_write_key(&w, LX_STR("private_key_id"));
        lx_json_write_str(&w, LX_STR("0123456789abcdef"));
    }
    lx_json_write_key(&w, LX_STR("private_key"));
    lx_json_write_str(&w, lx_str_cstr(k->pem));
    lx_json_write_key(&w, LX_STR("client_email"));
    lx_json_write_str(&w, LX_STR("gateway@my-project.iam.gserviceaccount.com"));
    lx_json_write_key(&w, LX_STR("token_uri"));
    lx_json_write_str(&w, LX_STR("https://oauth2.googleapis.com/token"));
    lx_json_write_object_end(&w);
    if (b.err != LX_OK)
        return -1;
    k->keyfile = malloc(b.len + 1);
    memcpy(k->keyfile, b.ptr, b.len + 1);
    k->keyfile_len = b.len;
    lx_buf_release(&b);
    return 0;
}

static void vt_key_free(struct vt_key *k)
{
    EVP_PKEY_free(k->pkey);
    free(k->pem);
    free(k->keyfile);
}

static int vt_b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* base64url (no padding) -> out; returns the length or -1. */
static long vt_b64url_decode(struct lx_str s, unsigned char *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;

    for (size_t i = 0; i < s.len; i++) {
        int v = vt_b64val(s.ptr[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap)
                return -1;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)n;
}

/* ---- vertex_auth ------------------------------------------------------------------------- */

LX_TEST(vertex_b64url_vectors)
{
    struct lx_arena *a = lx_arena_new(4096, 1 << 20);
    LX_ASSERT_STR(lx_vertex_b64url(a, "", 0), "");
    LX_ASSERT_STR(lx_vertex_b64url(a, "f", 1), "Zg");
    LX_ASSERT_STR(lx_vertex_b64url(a, "fo", 2), "Zm8");
    LX_ASSERT_STR(lx_vertex_b64url(a, "foo", 3), "Zm9v");
    LX_ASSERT_STR(lx_vertex_b64url(a, "foob", 4), "Zm9vYg");
    LX_ASSERT_STR(lx_vertex_b64url(a, "\xfb\xff\xbf", 3), "-_-_");
    lx_arena_free(a);
    return 0;
}

LX_TEST(vertex_jwt_signed_and_verified)
{
    struct vt_key k;
    struct lx_arena *a = lx_arena_new(16384, 4 << 20);
    struct lx_vertex_sa sa;
    struct lx_err err = {0};
    struct lx_str jwt, seg[3];
    unsigned char hdr[512], claims[1024], sig[1024];
    long hl, cl, sl;
    const char *dot1, *dot2;
    struct lx_json doc;
    int64_t v;
    EVP_MD_CTX *md;

    LX_ASSERT_EQ(vt_key_make(&k, "service_account", true), 0);
    LX_ASSERT_EQ(lx_vertex_sa_parse(lx_str_make(k.keyfile, k.keyfile_len), a, &sa, &err), LX_OK);
    LX_ASSERT_STR(sa.client_email, "gateway@my-project.iam.gserviceaccount.com");
    LX_ASSERT_STR(sa.project_id, "my-project");
    LX_ASSERT_STR(sa.private_key_id, "0123456789abcdef");
    LX_ASSERT_STR(sa.token_uri, "https://oauth2.googleapis.com/token");
    LX_ASSERT(lx_str_eq(sa.private_key, lx_str_cstr(k.pem))); /* "\n" escapes decoded */

    LX_ASSERT_EQ(lx_vertex_jwt(&sa, 1736942400, a, &jwt, &err), LX_OK);
    dot1 = memchr(jwt.ptr, '.', jwt.len);
    LX_ASSERT(dot1 != NULL);
    dot2 = memchr(dot1 + 1, '.', jwt.len - (size_t)(dot1 + 1 - jwt.ptr));
    LX_ASSERT(dot2 != NULL);
    seg[0] = lx_str_make(jwt.ptr, (size_t)(dot1 - jwt.ptr));
    seg[1] = lx_str_make(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    seg[2] = lx_str_make(dot2 + 1, jwt.len - (size_t)(dot2 + 1 - jwt.ptr));
    LX_ASSERT(memchr(jwt.ptr, '=', jwt.len) == NULL); /* no padding */
    hl = vt_b64url_decode(seg[0], hdr, sizeof(hdr));
    cl = vt_b64url_decode(seg[1], claims, sizeof(claims));
    sl = vt_b64url_decode(seg[2], sig, sizeof(sig));
    LX_ASSERT(hl > 0 && cl > 0);
    LX_ASSERT_EQ(sl, 256); /* RSA-2048 */
    LX_ASSERT(
        lx_str_eq(lx_str_make((char *)hdr, (size_t)hl),
                  LX_STR("{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"0123456789abcdef\"}")));

    /* the claims, as fixtures/vertex/jwt_claims.json holds them */
    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    LX_ASSERT_EQ(lx_json_parse(&doc, (char *)claims, (size_t)cl), LX_OK);
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, 0, LX_STR("iss")),
                             LX_STR("gateway@my-project.iam.gserviceaccount.com")));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, 0, LX_STR("scope")),
                             LX_STR("https://www.googleapis.com/auth/cloud-platform")));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, 0, LX_STR("aud")),
                             LX_STR("https://oauth2.googleapis.com/token")));
    LX_ASSERT_EQ(lx_json_int64(&doc, lx_json_get(&doc, 0, LX_STR("iat")), &v), LX_OK);
    LX_ASSERT_EQ(v, 1736942400);
    LX_ASSERT_EQ(lx_json_int64(&doc, lx_json_get(&doc, 0, LX_STR("exp")), &v), LX_OK);
    LX_ASSERT_EQ(v, 1736946000);
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("sub")) < 0);

    /* the signature verifies with the public key over "header.claims" ... */
    md = EVP_MD_CTX_new();
    LX_ASSERT(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k.pkey) == 1);
    LX_ASSERT(EVP_DigestVerify(md, sig, (size_t)sl, (const unsigned char *)jwt.ptr,
                               (size_t)(dot2 - jwt.ptr)) == 1);
    /* ... and not over anything else */
    LX_ASSERT(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k.pkey) == 1);
    LX_ASSERT(EVP_DigestVerify(md, sig, (size_t)sl, (const unsigned char *)jwt.ptr,
                               (size_t)(dot2 - jwt.ptr) - 1) != 1);
    EVP_MD_CTX_free(md);

    vt_key_free(&k);
    lx_arena_free(a);
    return 0;
}

LX_TEST(vertex_jwt_without_kid_and_default_token_uri)
{
    struct lx_arena *a = lx_arena_new(16384, 4 << 20);
    struct vt_key k;
    struct lx_vertex_sa sa;
    struct lx_err err = {0};
    struct lx_str jwt;
    unsigned char hdr[256];
    long hl;
    const char *dot;

    LX_ASSERT_EQ(vt_key_make(&k, "service_account", false), 0);
    LX_ASSERT_EQ(lx_vertex_sa_parse(lx_str_make(k.keyfile, k.keyfile_len), a, &sa, &err), LX_OK);
    LX_ASSERT_EQ(sa.private_key_id.len, 0);
    sa.token_uri = LX_STR_NULL;
    LX_ASSERT_EQ(lx_vertex_jwt(&sa, 100, a, &jwt, &err), LX_OK);
    dot = memchr(jwt.ptr, '.', jwt.len);
    LX_ASSERT(dot != NULL);
    hl = vt_b64url_decode(lx_str_make(jwt.ptr, (size_t)(dot - jwt.ptr)), hdr, sizeof(hdr));
    LX_ASSERT(lx_str_eq(lx_str_make((char *)hdr, (size_t)hl),
                        LX_STR("{\"alg\":\"RS256\",\"typ\":\"JWT\"}")));
    vt_key_free(&k);
    lx_arena_free(a);
    return 0;
}

LX_TEST(vertex_token_request_form)
{
    struct lx_arena *a = lx_arena_new(16384, 4 << 20);
    struct vt_key k;
    struct lx_vertex_sa sa;
    struct lx_err err = {0};
    struct lx_upstream_req r;
    static const char pre[] =
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";

    LX_ASSERT_EQ(vt_key_make(&k, "service_account", true), 0);
    LX_ASSERT_EQ(lx_vertex_sa_parse(lx_str_make(k.keyfile, k.keyfile_len), a, &sa, &err), LX_OK);
    LX_ASSERT_EQ(lx_vertex_token_request(&sa, 1736942400, a, &r, &err), LX_OK);
    LX_ASSERT_STR(r.method, "POST");
    LX_ASSERT_STR(r.url, "https://oauth2.googleapis.com/token");
    LX_ASSERT_EQ(r.n_headers, 2);
    LX_ASSERT_STR(r.headers[0].name, "Content-Type");
    LX_ASSERT_STR(r.headers[0].value, "application/x-www-form-urlencoded");
    LX_ASSERT(r.body.len > sizeof(pre) + 100);
    LX_ASSERT(memcmp(r.body.ptr, pre, sizeof(pre) - 1) == 0);
    /* the assertion is three base64url segments: nothing to escape in a form */
    for (size_t i = sizeof(pre) - 1; i < r.body.len; i++)
        LX_ASSERT(r.body.ptr[i] == '.' || vt_b64val(r.body.ptr[i]) >= 0);
    vt_key_free(&k);
    lx_arena_free(a);
    return 0;
}

LX_TEST(vertex_token_answer_fixture)
{
    struct lx_arena *a = lx_arena_new(16384, 1 << 20);
    struct lx_vertex_token t;
    struct lx_err err = {0};
    size_t len;
    char *body =
        lx_test_read_file(lx_test_shared("protocols/fixtures/vertex/token_response.json"), &len);

    LX_ASSERT(body != NULL);
    LX_ASSERT_EQ(lx_vertex_token_parse(200, lx_str_make(body, len), 1000, a, &t, &err), LX_OK);
    LX_ASSERT_STR(t.access_token, "ya29.c.c0ASRK0Gb...redacted...");
    LX_ASSERT_STR(t.token_type, "Bearer");
    LX_ASSERT_EQ(t.expires_at, 1000 + 3599);
    /* cached until 5 minutes before expiry */
    LX_ASSERT(lx_vertex_token_fresh(&t, 1000));
    LX_ASSERT(lx_vertex_token_fresh(&t, 1000 + 3599 - 301));
    LX_ASSERT(!lx_vertex_token_fresh(&t, 1000 + 3599 - 300));
    LX_ASSERT(!lx_vertex_token_fresh(&t, 1000 + 4000));
    LX_ASSERT(!lx_vertex_token_fresh(NULL, 0));
    free(body);
    lx_arena_free(a);
    return 0;
}

LX_TEST(vertex_token_errors)
{
    struct lx_arena *a = lx_arena_new(16384, 1 << 20);
    struct lx_vertex_token t;
    struct lx_err err = {0};
    size_t len;
    char *body = lx_test_read_file(
        lx_test_shared("protocols/fixtures/vertex/token_error_invalid_grant.json"), &len);

    LX_ASSERT(body != NULL);
    LX_ASSERT_EQ(lx_vertex_token_parse(400, lx_str_make(body, len), 0, a, &t, &err), LX_EUPSTREAM);
    LX_ASSERT_EQ(err.http_status, 401);
    LX_ASSERT(!err.retryable);
    LX_ASSERT_STREQ(err.msg, "Google token endpoint: invalid_grant: Invalid JWT Signature.");
    LX_ASSERT_EQ(t.access_token.len, 0);
    LX_ASSERT(!lx_vertex_token_fresh(&t, 0));
    free(body);

    /* Google-style error object, 503: retryable */
    LX_ASSERT_EQ(lx_vertex_token_parse(503,
                                       LX_STR("{\"error\":{\"code\":503,\"message\":\"busy\","
                                              "\"status\":\"UNAVAILABLE\"}}"),
                                       0, a, &t, &err),
                 LX_EUPSTREAM);
    LX_ASSERT_EQ(err.http_status, 503);
    LX_ASSERT(err.retryable);
    LX_ASSERT_STREQ(err.msg, "Google token endpoint: UNAVAILABLE: busy");
    /* an HTML 502 page */
    LX_ASSERT_EQ(lx_vertex_token_parse(502, LX_STR("<html>bad gateway</html>"), 0, a, &t, &err),
                 LX_EUPSTREAM);
    LX_ASSERT(err.retryable);
    /* 200 that is not the protocol */
    LX_ASSERT_EQ(lx_vertex_token_parse(200, LX_STR("{\"token\":\"x\"}"), 0, a, &t, &err),
                 LX_EPARSE);
    LX_ASSERT_EQ(lx_vertex_token_parse(200, LX_STR("not json"), 0, a, &t, &err), LX_EPARSE);
    LX_ASSERT_EQ(lx_vertex_token_parse(200, LX_STR("{\"access_token\":\"x\"}"), 0, a, &t, &err),
                 LX_EPARSE);
    LX_ASSERT_EQ(lx_vertex_token_parse(200, LX_STR("{\"access_token\":\"x\",\"expires_in\":-5}"), 0,
                                       a, &t, &err),
                 LX_EPARSE);
    LX_ASSERT_EQ(lx_vertex_token_parse(200,
                                       LX_STR("{\"access_token\":\"x\",\"expires_in\":60,"
                                              "\"token_type\":\"MAC\"}"),
                                       0, a, &t, &err),
                 LX_EPARSE);
    LX_ASSERT_EQ(t.access_token.len, 0);
    lx_arena_free(a);
    return 0;
}

/* Bad key files: each rejected with a message naming the problem, never the key. */
LX_TEST(vertex_keyfile_rejected)
{
    struct lx_arena *a = lx_arena_new(16384, 4 << 20);
    struct vt_key k;
    struct lx_vertex_sa sa;
    struct lx_err err = {0};
    struct lx_buf b = LX_BUF_INIT(1 << 20);
    char *p;

    LX_ASSERT_EQ(vt_key_make(&k, "authorized_user", true), 0);
    LX_ASSERT_EQ(lx_vertex_sa_parse(lx_str_make(k.keyfile, k.keyfile_len), a, &sa, &err),
                 LX_EINVAL);
    LX_ASSERT(strstr(err.msg, "authorized_user") != NULL);
    LX_ASSERT(strstr(err.msg, "PRIVATE") == NULL && strstr(err.msg, "MII") == NULL);
    vt_key_free(&k);

    LX_ASSERT_EQ(lx_vertex_sa_parse(LX_STR("nope"), a, &sa, &err), LX_EINVAL);
    LX_ASSERT(strstr(err.msg, "not a JSON object") != NULL);
    LX_ASSERT_EQ(lx_vertex_sa_parse(LX_STR("{\"type\":\"service_account\"}"), a, &sa, &err),
                 LX_EINVAL);
    LX_ASSERT(strstr(err.msg, "client_email") != NULL);
    LX_ASSERT_EQ(lx_vertex_sa_parse(LX_STR("{\"type\":\"service_account\",\"client_email\":"
                                           "\"x@y\",\"private_key\":7}"),
                                    a, &sa, &err),
                 LX_EINVAL);
    LX_ASSERT(strstr(err.msg, "private_key") != NULL);

    /* a PEM that is garbage: the message does not echo it */
    LX_ASSERT_EQ(vt_key_make(&k, "service_account", true), 0);
    p = strstr(k.keyfile, "MII");
    LX_ASSERT(p != NULL);
    memcpy(p, "SECRETSECRET", 12);
    LX_ASSERT_EQ(lx_vertex_sa_parse(lx_str_make(k.keyfile, k.keyfile_len), a, &sa, &err),
                 LX_EINVAL);
    LX_ASSERT(strstr(err.msg, "not an unencrypted PEM RSA key") != NULL);
    LX_ASSERT(strstr(err.msg, "SECRET") == NULL);
    vt_key_free(&k);

    /* http token_uri refused (the JWT would travel in clear) */
    LX_ASSERT_EQ(vt_key_make(&k, "service_account", true), 0);
    p = strstr(k.keyfile, "https://oauth2");
    memcpy(p, "http:/", 6);
    LX_ASSERT_EQ(lx_vertex_sa_parse(lx_str_make(k.keyfile, k.keyfile_len), a, &sa, &err),
                 LX_EINVAL);
    LX_ASSERT(strstr(err.msg, "token_uri") != NULL);
    vt_key_free(&k);
    /* ... except to this machine (a test token endpoint) */
    LX_ASSERT_EQ(vt_key_make(&k, "service_account", true), 0);
    {
        struct lx_buf kb = LX_BUF_INIT(1 << 20);
        const char *at = strstr(k.keyfile, "https://oauth2.googleapis.com/token");

        lx_buf_append(&kb, k.keyfile, (size_t)(at - k.keyfile));
        lx_buf_append_cstr(&kb, "http://127.0.0.1:8123/token");
        lx_buf_append_cstr(&kb, at + strlen("https://oauth2.googleapis.com/token"));
        LX_ASSERT_EQ(lx_vertex_sa_parse(lx_str_make(kb.ptr, kb.len), a, &sa, &err), LX_OK);
        LX_ASSERT_STR(sa.token_uri, "http://127.0.0.1:8123/token");
        lx_buf_release(&kb);
    }
    vt_key_free(&k);

    /* an EC key is not RS256 */
    {
        EVP_PKEY *ec = EVP_EC_gen("P-256");
        BIO *bio = BIO_new(BIO_s_mem());
        struct lx_json_writer w;
        char *pem;
        long n;

        LX_ASSERT(ec != NULL && bio != NULL);
        LX_ASSERT(PEM_write_bio_PrivateKey(bio, ec, NULL, NULL, 0, NULL, NULL) == 1);
        n = BIO_get_mem_data(bio, &pem);
        lx_json_writer_init(&w, &b);
        lx_json_write_object_begin(&w);
        lx_json_write_key(&w, LX_STR("type"));
        lx_json_write_str(&w, LX_STR("service_account"));
        lx_json_write_key(&w, LX_STR("client_email"));
        lx_json_write_str(&w, LX_STR("x@y"));
        lx_json_write_key(&w, LX_STR("private_key"));
        lx_json_write_str(&w, lx_str_make(pem, (size_t)n));
        lx_json_write_object_end(&w);
        LX_ASSERT_EQ(lx_vertex_sa_parse(lx_str_make(b.ptr, b.len), a, &sa, &err), LX_EINVAL);
        LX_ASSERT(strstr(err.msg, "RSA") != NULL);
        BIO_free(bio);
        EVP_PKEY_free(ec);
        lx_buf_release(&b);
    }
    lx_arena_free(a);
    return 0;
}

/* ---- the adapter ------------------------------------------------------------------------- */

static struct lx_config_provider vt_conf(const char *base_url, const char *project,
                                         const char *region)
{
    static struct lx_header extra[1] = {
        {LX_STR_INIT("x-goog-user-project"), LX_STR_INIT("billing-proj")}};
    struct lx_config_provider c = {.name = "vx",
                                   .type = "vertex",
                                   .proto = LX_CONFIG_PROTO_VERTEX,
                                   .base_url = base_url,
                                   .project = project,
                                   .region = region,
                                   .headers = extra,
                                   .n_headers = 1,
                                   .enabled = true};
    return c;
}

/* A small IR: system, user, an assistant tool call, its result, one tool. */
static void vt_req(struct lx_chat_req *req, struct lx_msg *m, struct lx_part *p, struct lx_tool *t)
{
    lx_chat_req_init(req);
    req->model = LX_STR("gemini-2.5-flash");
    p[0] = (struct lx_part){.type = LX_PART_TEXT, .text = LX_STR("Be brief.")};
    p[1] = (struct lx_part){.type = LX_PART_TEXT, .text = LX_STR("Weather in Paris?")};
    p[2] = (struct lx_part){.type = LX_PART_TOOL_CALL,
                            .id = LX_STR("toolu_01"),
                            .name = LX_STR("weather"),
                            .args = LX_STR("{\"city\":\"Paris\"}")};
    p[3] = (struct lx_part){.type = LX_PART_TOOL_RESULT,
                            .id = LX_STR("toolu_01"),
                            .name = LX_STR("weather"),
                            .text = LX_STR("sunny")};
    m[0] = (struct lx_msg){.role = LX_ROLE_SYSTEM, .parts = &p[0], .n_parts = 1};
    m[1] = (struct lx_msg){.role = LX_ROLE_USER, .parts = &p[1], .n_parts = 1};
    m[2] = (struct lx_msg){.role = LX_ROLE_ASSISTANT, .parts = &p[2], .n_parts = 1};
    m[3] = (struct lx_msg){.role = LX_ROLE_TOOL, .parts = &p[3], .n_parts = 1};
    req->msgs = m;
    req->n_msgs = 4;
    t[0] = (struct lx_tool){.name = LX_STR("weather"),
                            .description = LX_STR("Get weather"),
                            .parameters = LX_STR("{\"type\":\"object\",\"properties\":{\"city\":"
                                                 "{\"type\":\"string\"}}}")};
    req->tools = t;
    req->n_tools = 1;
    req->max_tokens = 100;
}

static bool vt_has(struct lx_str s, const char *needle)
{
    size_t m = strlen(needle);

    for (size_t i = 0; i + m <= s.len; i++)
        if (memcmp(s.ptr + i, needle, m) == 0)
            return true;
    return false;
}

static const struct lx_header *vt_hdr(const struct lx_upstream_req *r, const char *name)
{
    return lx_header_find(r->headers, r->n_headers, lx_str_cstr(name));
}

LX_TEST(vertex_gemini_request)
{
    struct lx_arena *a = lx_arena_new(16384, 8 << 20);
    struct lx_config_provider conf = vt_conf(NULL, "my-project", "us-central1");
    struct lx_provider_call call = {.conf = &conf,
                                    .model = LX_STR("gemini-2.5-flash"),
                                    .key = LX_STR("ya29.token"),
                                    .endpoint = LX_EP_CHAT};
    struct lx_chat_req req;
    struct lx_msg m[4];
    struct lx_part p[4];
    struct lx_tool t[1];
    struct lx_upstream_req r;
    struct lx_err err = {0};
    struct lx_json doc;
    int contents, c, fc;

    vt_req(&req, m, p, t);
    if (lx_provider_vertex.build_request(&call, &req, a, &r, &err) != LX_OK)
        fprintf(stderr, "  build_request: %s\n", err.msg);
    LX_ASSERT_EQ(lx_provider_vertex.build_request(&call, &req, a, &r, &err), LX_OK);
    LX_ASSERT_STR(r.method, "POST");
    LX_ASSERT_STR(r.url, "https://us-central1-aiplatform.googleapis.com/v1/projects/my-project/"
                         "locations/us-central1/publishers/google/models/gemini-2.5-flash:"
                         "generateContent");
    LX_ASSERT_STR(vt_hdr(&r, "Authorization")->value, "Bearer ya29.token");
    LX_ASSERT_STR(vt_hdr(&r, "Content-Type")->value, "application/json");
    LX_ASSERT_STR(vt_hdr(&r, "Accept")->value, "application/json");
    LX_ASSERT_STR(vt_hdr(&r, "x-goog-user-project")->value, "billing-proj");
    LX_ASSERT(vt_hdr(&r, "x-goog-api-key") == NULL);
    LX_ASSERT(!vt_has(r.url, "key=")); /* never a key in the URL */

    /* the body is Gemini's: contents with roles on every entry, systemInstruction, tools */
    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    LX_ASSERT_EQ(lx_json_parse(&doc, r.body.ptr, r.body.len), LX_OK);
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("model")) < 0);
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("systemInstruction")) >= 0);
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("tools")) >= 0);
    contents = lx_json_get(&doc, 0, LX_STR("contents"));
    LX_ASSERT_EQ(lx_json_count(&doc, contents), 3);
    for (c = lx_json_first(&doc, contents); c >= 0; c = lx_json_sibling(&doc, contents, c))
        LX_ASSERT(lx_json_get(&doc, c, LX_STR("role")) >= 0); /* Vertex requires it */
    c = lx_json_sibling(&doc, contents, lx_json_first(&doc, contents));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, c, LX_STR("role")), LX_STR("model")));
    fc = lx_json_get(&doc, lx_json_first(&doc, lx_json_get(&doc, c, LX_STR("parts"))),
                     LX_STR("functionCall"));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, fc, LX_STR("name")), LX_STR("weather")));
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, fc, LX_STR("args"))), "{\"city\":\"Paris\"}");

    /* streaming: the SSE verb; region global: the global host */
    conf = vt_conf(NULL, "my-project", "global");
    call.stream = true;
    LX_ASSERT_EQ(lx_provider_vertex.build_request(&call, &req, a, &r, &err), LX_OK);
    LX_ASSERT_STR(r.url, "https://aiplatform.googleapis.com/v1/projects/my-project/locations/"
                         "global/publishers/google/models/gemini-2.5-flash:"
                         "streamGenerateContent?alt=sse");
    LX_ASSERT_STR(vt_hdr(&r, "Accept")->value, "text/event-stream");
    /* no region: global */
    conf = vt_conf(NULL, "my-project", NULL);
    LX_ASSERT_EQ(lx_provider_vertex.build_request(&call, &req, a, &r, &err), LX_OK);
    LX_ASSERT(vt_has(r.url, "/locations/global/"));
    /* a mock base URL */
    conf = vt_conf("http://127.0.0.1:9999", "p1", "us-east5");
    call.stream = false;
    LX_ASSERT_EQ(lx_provider_vertex.build_request(&call, &req, a, &r, &err), LX_OK);
    LX_ASSERT_STR(r.url, "http://127.0.0.1:9999/v1/projects/p1/locations/us-east5/publishers/"
                         "google/models/gemini-2.5-flash:generateContent");
    /* a full prefix as base URL */
    conf = vt_conf("http://127.0.0.1:9999/v1beta1/projects/p2/locations/europe-west4", NULL, NULL);
    LX_ASSERT_EQ(lx_provider_vertex.build_request(&call, &req, a, &r, &err), LX_OK);
    LX_ASSERT_STR(r.url, "http://127.0.0.1:9999/v1beta1/projects/p2/locations/europe-west4/"
                         "publishers/google/models/gemini-2.5-flash:generateContent");
    /* count tokens: :countTokens with {"contents":...} */
    conf = vt_conf(NULL, "my-project", "us-central1");
    call.endpoint = LX_EP_COUNT_TOKENS;
    LX_ASSERT_EQ(lx_provider_vertex.build_request(&call, &req, a, &r, &err), LX_OK);
    LX_ASSERT(r.url.len > 12 && memcmp(r.url.ptr + r.url.len - 12, ":countTokens", 12) == 0);
    LX_ASSERT_EQ(lx_json_parse(&doc, r.body.ptr, r.body.len), LX_OK);
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("contents")) >= 0);
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("generateContentRequest")) < 0);
    lx_arena_free(a);
    return 0;
}

LX_TEST(vertex_request_refusals)
{
    struct lx_arena *a = lx_arena_new(16384, 8 << 20);
    struct lx_config_provider conf = vt_conf(NULL, NULL, "us-central1");
    struct lx_provider_call call = {.conf = &conf,
                                    .model = LX_STR("gemini-2.5-flash"),
                                    .key = LX_STR("ya29.token"),
                                    .endpoint = LX_EP_CHAT};
    struct lx_chat_req req;
    struct lx_msg m[4];
    struct lx_part p[4];
    struct lx_tool t[1];
    struct lx_upstream_req r;
    struct lx_err err = {0};

    vt_req(&req, m, p, t);
    LX_ASSERT_EQ(lx_provider_vertex.build_request(&call, &req, a, &r, &err), LX_EINVAL);
    LX_ASSERT_EQ(err.http_status, 400);
    LX_ASSERT(strstr(err.msg, "project") != NULL);
    LX_ASSERT(strstr(err.msg, "ya29") == NULL);
    conf = vt_conf(NULL, "my-project", "us/../x");
    LX_ASSERT_EQ(lx_provider_vertex.build_request(&call, &req, a, &r, &err), LX_EINVAL);
    conf = vt_conf(NULL, "my-project", "us-central1");
    call.model = LX_STR("gemini?x=1");
    LX_ASSERT_EQ(lx_provider_vertex.build_request(&call, &req, a, &r, &err), LX_EINVAL);
    call.model = LX_STR("claude-sonnet-4-5");
    call.endpoint = LX_EP_COUNT_TOKENS;
    LX_ASSERT_EQ(lx_provider_vertex.build_request(&call, &req, a, &r, &err), LX_EINVAL);
    LX_ASSERT_EQ(err.http_status, 400);
    lx_arena_free(a);
    return 0;
}

LX_TEST(vertex_claude_request)
{
    struct lx_arena *a = lx_arena_new(16384, 8 << 20);
    struct lx_config_provider conf = vt_conf(NULL, "my-project", "us-east5");
    struct lx_provider_call call = {.conf = &conf,
                                    .model = LX_STR("claude-sonnet-4-5@20250929"),
                                    .key = LX_STR("ya29.token"),
                                    .endpoint = LX_EP_CHAT};
    struct lx_chat_req req;
    struct lx_msg m[4];
    struct lx_part p[4];
    struct lx_tool t[1];
    struct lx_upstream_req r;
    struct lx_err err = {0};
    struct lx_json doc;
    int msgs, mm, blk;

    vt_req(&req, m, p, t);
    req.model = call.model;
    LX_ASSERT_EQ(lx_provider_vertex.build_request(&call, &req, a, &r, &err), LX_OK);
    LX_ASSERT_STR(r.url, "https://us-east5-aiplatform.googleapis.com/v1/projects/my-project/"
                         "locations/us-east5/publishers/anthropic/models/"
                         "claude-sonnet-4-5@20250929:rawPredict");
    LX_ASSERT_STR(vt_hdr(&r, "Authorization")->value, "Bearer ya29.token");
    LX_ASSERT(vt_hdr(&r, "x-api-key") == NULL);
    LX_ASSERT(vt_hdr(&r, "anthropic-version") == NULL);
    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    LX_ASSERT_EQ(lx_json_parse(&doc, r.body.ptr, r.body.len), LX_OK);
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("model")) < 0); /* the model is in the URL */
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, 0, LX_STR("anthropic_version")),
                             LX_STR("vertex-2023-10-16")));
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("stream")) < 0 ||
              lx_json_type(&doc, lx_json_get(&doc, 0, LX_STR("stream"))) == LX_JSON_FALSE);
    LX_ASSERT(lx_json_get(&doc, 0, LX_STR("system")) >= 0);
    msgs = lx_json_get(&doc, 0, LX_STR("messages"));
    LX_ASSERT_EQ(lx_json_count(&doc, msgs), 3);
    mm = lx_json_sibling(&doc, msgs, lx_json_first(&doc, msgs)); /* the assistant turn */
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, mm, LX_STR("role")), LX_STR("assistant")));
    blk = lx_json_first(&doc, lx_json_get(&doc, mm, LX_STR("content")));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, blk, LX_STR("type")), LX_STR("tool_use")));
    LX_ASSERT(lx_json_str_eq(&doc, lx_json_get(&doc, blk, LX_STR("id")), LX_STR("toolu_01")));
    LX_ASSERT_STR(lx_json_raw(&doc, lx_json_get(&doc, blk, LX_STR("input"))),
                  "{\"city\":\"Paris\"}");
    mm = lx_json_sibling(&doc, msgs, mm); /* the tool result, as a user turn */
    blk = lx_json_first(&doc, lx_json_get(&doc, mm, LX_STR("content")));
    LX_ASSERT(
        lx_json_str_eq(&doc, lx_json_get(&doc, blk, LX_STR("tool_use_id")), LX_STR("toolu_01")));

    call.stream = true;
    LX_ASSERT_EQ(lx_provider_vertex.build_request(&call, &req, a, &r, &err), LX_OK);
    LX_ASSERT(r.url.len > 17 && memcmp(r.url.ptr + r.url.len - 17, ":streamRawPredict", 17) == 0);
    LX_ASSERT_EQ(lx_json_parse(&doc, r.body.ptr, r.body.len), LX_OK);
    LX_ASSERT_EQ(lx_json_type(&doc, lx_json_get(&doc, 0, LX_STR("stream"))), LX_JSON_TRUE);
    lx_arena_free(a);
    return 0;
}

static char *vt_fixture(const char *rel, size_t *len)
{
    char path[256];

    snprintf(path, sizeof(path), "protocols/fixtures/%s", rel);
    return lx_test_read_file(lx_test_shared(path), len);
}

/* The recorded Vertex stream (gemini-3.1-pro, streamFunctionCallArguments), at every split. */
LX_TEST(vertex_stream_fixture_every_split)
{
    struct lx_config_provider conf = vt_conf(NULL, "my-project", "global");
    struct lx_provider_call call = {.conf = &conf,
                                    .model = LX_STR("gemini-3.1-pro-preview"),
                                    .key = LX_STR("ya29.token"),
                                    .endpoint = LX_EP_CHAT,
                                    .stream = true};
    struct lx_pt_summary s;
    size_t len;
    char *bytes = vt_fixture("vertex/stream_tool_call_partial_args.sse", &len);
    int rc;

    LX_ASSERT(bytes != NULL);
    lx_pt_summary_init(&s);
    rc = lx_pt_replay_all_splits(&lx_provider_vertex, &call, lx_str_make(bytes, len), VT_SPLIT_STEP,
                                 &s);
    if (rc != 0 || getenv("LX_VT_SHOW") != NULL)
        fprintf(stderr, "%s", lx_pt_lines(&s));
    LX_ASSERT_EQ(rc, 0);
    LX_ASSERT(strstr(lx_pt_lines(&s), "START id=\"tjXVaYaxFISTq8YP_MWiyAo\"") != NULL);
    LX_ASSERT_EQ(s.n_start, 1);
    LX_ASSERT_EQ(s.n_error, 0);
    LX_ASSERT_EQ(s.n_tools, 1);
    LX_ASSERT_STREQ(s.tools[0].name, "cookRecipe");
    LX_ASSERT(s.tools[0].signature.len > 100); /* the thoughtSignature rides on the call */
    {
        /* the pieces folded into one argument object */
        struct lx_json doc;
        int recipe, ingr, steps;

        lx_json_init(&doc, NULL);
        LX_ASSERT_EQ(lx_json_parse(&doc, s.tools[0].args.ptr, s.tools[0].args.len), LX_OK);
        recipe = lx_json_get(&doc, 0, LX_STR("recipe"));
        LX_ASSERT(
            lx_json_str_eq(&doc, lx_json_get(&doc, recipe, LX_STR("name")), LX_STR("Lasagna")));
        ingr = lx_json_get(&doc, recipe, LX_STR("ingredients"));
        LX_ASSERT_EQ(lx_json_count(&doc, ingr), 10);
        LX_ASSERT(lx_json_str_eq(
            &doc, lx_json_get(&doc, lx_json_first(&doc, ingr), LX_STR("amount")), LX_STR("16 oz")));
        steps = lx_json_get(&doc, recipe, LX_STR("steps"));
        LX_ASSERT_EQ(lx_json_count(&doc, steps), 10);
        /* "…set aside" + "." arrived in two pieces */
        LX_ASSERT(lx_json_str_eq(&doc, lx_json_sibling(&doc, steps, lx_json_first(&doc, steps)),
                                 LX_STR("Cook lasagna noodles according to package directions, "
                                        "drain and set aside.")));
        lx_json_release(&doc);
    }
    LX_ASSERT_EQ(s.finish, LX_FINISH_TOOL_CALLS);
    LX_ASSERT_EQ(s.usage.input, 31);
    LX_ASSERT_EQ(s.usage.output, 684 + 1026); /* thoughts are part of output in the IR */
    LX_ASSERT_EQ(s.usage.reasoning, 1026);
    LX_ASSERT_EQ(s.usage.total, 1741);
    LX_ASSERT(strstr(lx_pt_lines(&s), "END rc=OK") != NULL);
    lx_pt_summary_release(&s);
    free(bytes);
    return 0;
}

/* Claude on Vertex streams Anthropic's SSE: the Anthropic decoder, through the Vertex ops. */
LX_TEST(vertex_claude_stream_every_split)
{
    struct lx_config_provider conf = vt_conf(NULL, "my-project", "us-east5");
    struct lx_provider_call call = {.conf = &conf,
                                    .model = LX_STR("claude-sonnet-4-5"),
                                    .key = LX_STR("ya29.token"),
                                    .endpoint = LX_EP_CHAT,
                                    .stream = true};
    struct lx_pt_summary s, t;
    size_t len;
    char *bytes = vt_fixture("anthropic/messages_stream_tool_use.sse", &len);

    LX_ASSERT(bytes != NULL);
    lx_pt_summary_init(&s);
    LX_ASSERT_EQ(
        lx_pt_replay_all_splits(&lx_provider_vertex, &call, lx_str_make(bytes, len), 1, &s), 0);
    /* exactly what the Anthropic adapter says about the same bytes */
    lx_pt_summary_init(&t);
    lx_pt_replay(&lx_provider_anthropic, &call, lx_str_make(bytes, len), LX_PT_NO_SPLIT, &t);
    LX_ASSERT_STREQ(lx_pt_lines(&s), lx_pt_lines(&t));
    LX_ASSERT(s.n_tools >= 1);
    LX_ASSERT_EQ(s.finish, LX_FINISH_TOOL_CALLS);
    lx_pt_summary_release(&s);
    lx_pt_summary_release(&t);
    free(bytes);
    return 0;
}

LX_TEST(vertex_parse_response_delegates)
{
    struct lx_arena *a = lx_arena_new(16384, 8 << 20);
    struct lx_config_provider conf = vt_conf(NULL, "my-project", "global");
    struct lx_provider_call call = {
        .conf = &conf, .model = LX_STR("gemini-2.5-flash"), .endpoint = LX_EP_CHAT};
    struct lx_chat_resp resp;
    struct lx_err err = {0};
    size_t len;
    char *body = vt_fixture("gemini/generate_response_tool_call.json", &len);

    LX_ASSERT(body != NULL);
    LX_ASSERT_EQ(lx_provider_vertex.parse_response(&call, lx_str_make(body, len), a, &resp, &err),
                 LX_OK);
    LX_ASSERT_EQ(resp.n_choices, 1);
    LX_ASSERT_EQ(resp.choices[0].message.parts[0].type, LX_PART_TOOL_CALL);
    free(body);
    body = vt_fixture("anthropic/messages_response_text.json", &len);
    call.model = LX_STR("claude-sonnet-4-5");
    LX_ASSERT_EQ(lx_provider_vertex.parse_response(&call, lx_str_make(body, len), a, &resp, &err),
                 LX_OK);
    LX_ASSERT_EQ(resp.choices[0].message.parts[0].type, LX_PART_TEXT);
    /* not the protocol */
    LX_ASSERT_EQ(lx_provider_vertex.parse_response(&call, LX_STR("{\"x\":1}"), a, &resp, &err),
                 LX_EPARSE);
    free(body);
    lx_arena_free(a);
    return 0;
}

LX_TEST(vertex_errors_mapped)
{
    struct lx_arena *a = lx_arena_new(16384, 8 << 20);
    struct lx_config_provider conf = vt_conf(NULL, "my-project", "us-central1");
    struct lx_provider_call call = {
        .conf = &conf, .model = LX_STR("gemini-2.5-flash"), .endpoint = LX_EP_CHAT};
    struct lx_upstream_error e;
    size_t len;
    char *body = vt_fixture("vertex/error_403_permission_denied.json", &len);

    LX_ASSERT(body != NULL);
    lx_provider_vertex.map_error(&call, 403, NULL, 0, lx_str_make(body, len), a, &e);
    LX_ASSERT_EQ(e.status, 403);
    LX_ASSERT_EQ(e.type, LX_ERRT_PERMISSION);
    LX_ASSERT_EQ(e.key_action, LX_KEY_DISABLE);
    LX_ASSERT_STR(e.code, "PERMISSION_DENIED");
    LX_ASSERT(e.message.len > 0);
    /* the same platform error for a Claude model: still Google's format */
    call.model = LX_STR("claude-sonnet-4-5");
    lx_provider_vertex.map_error(&call, 403, NULL, 0, lx_str_make(body, len), a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_PERMISSION);
    LX_ASSERT_STR(e.code, "PERMISSION_DENIED");
    free(body);

    body = vt_fixture("vertex/error_429_resource_exhausted.json", &len);
    call.model = LX_STR("gemini-2.5-flash");
    lx_provider_vertex.map_error(&call, 429, NULL, 0, lx_str_make(body, len), a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_RATE_LIMIT);
    LX_ASSERT(e.retryable);
    LX_ASSERT_EQ(e.key_action, LX_KEY_COOLDOWN);
    LX_ASSERT_STR(e.code, "RESOURCE_EXHAUSTED");
    free(body);

    /* Claude's own error body: Anthropic's mapping */
    body = vt_fixture("anthropic/error_529_overloaded.json", &len);
    call.model = LX_STR("claude-sonnet-4-5");
    lx_provider_vertex.map_error(&call, 529, NULL, 0, lx_str_make(body, len), a, &e);
    LX_ASSERT_EQ(e.type, LX_ERRT_OVERLOADED);
    LX_ASSERT(e.retryable);
    LX_ASSERT_STR(e.code, "overloaded_error");
    free(body);
    lx_arena_free(a);
    return 0;
}

LX_TEST(vertex_embeddings)
{
    struct lx_arena *a = lx_arena_new(16384, 8 << 20);
    struct lx_config_provider conf = vt_conf(NULL, "my-project", "us-central1");
    struct lx_provider_call call = {.conf = &conf,
                                    .model = LX_STR("text-embedding-005"),
                                    .key = LX_STR("ya29.token"),
                                    .endpoint = LX_EP_EMBEDDINGS};
    struct lx_str inputs[2] = {LX_STR("hello"), LX_STR("wor\"ld")};
    struct lx_embed_req req = {.model = LX_STR("text-embedding-005"),
                               .inputs = inputs,
                               .n_inputs = 2,
                               .dimensions = 256,
                               .input_type = LX_STR("RETRIEVAL_QUERY")};
    struct lx_upstream_req r;
    struct lx_embed_resp resp;
    struct lx_err err = {0};

    LX_ASSERT(lx_provider_vertex.caps & LX_CAP_EMBEDDINGS);
    LX_ASSERT_EQ(lx_provider_vertex.build_embeddings(&call, &req, a, &r, &err), LX_OK);
    LX_ASSERT_STR(r.url, "https://us-central1-aiplatform.googleapis.com/v1/projects/my-project/"
                         "locations/us-central1/publishers/google/models/text-embedding-005:"
                         "predict");
    LX_ASSERT_STR(r.body, "{\"instances\":[{\"content\":\"hello\",\"task_type\":"
                          "\"RETRIEVAL_QUERY\"},{\"content\":\"wor\\\"ld\",\"task_type\":"
                          "\"RETRIEVAL_QUERY\"}],\"parameters\":{\"outputDimensionality\":256}}");
    LX_ASSERT_STR(vt_hdr(&r, "Authorization")->value, "Bearer ya29.token");

    LX_ASSERT_EQ(lx_provider_vertex.parse_embeddings(
                     &call,
                     LX_STR("{\"predictions\":[{\"embeddings\":{\"values\":[0.1,-0.2],"
                            "\"statistics\":{\"token_count\":1,\"truncated\":false}}},"
                            "{\"embeddings\":{\"values\":[0.3, 4e-2],\"statistics\":"
                            "{\"token_count\":3}}}],\"metadata\":{\"billableCharacterCount\":9}}"),
                     a, &resp, &err),
                 LX_OK);
    LX_ASSERT_EQ(resp.n_vectors, 2);
    LX_ASSERT_STR(resp.vectors[0], "[0.1,-0.2]");
    LX_ASSERT_STR(resp.vectors[1], "[0.3, 4e-2]");
    LX_ASSERT_EQ(resp.usage.input, 4);
    /* not the protocol */
    LX_ASSERT_EQ(
        lx_provider_vertex.parse_embeddings(&call, LX_STR("{\"predictions\":[]}"), a, &resp, &err),
        LX_EPARSE);
    LX_ASSERT_EQ(lx_provider_vertex.parse_embeddings(
                     &call, LX_STR("{\"predictions\":[{\"embeddings\":{\"values\":[\"x\"]}}]}"), a,
                     &resp, &err),
                 LX_EPARSE);
    LX_ASSERT_EQ(lx_provider_vertex.parse_embeddings(&call, LX_STR("[1]"), a, &resp, &err),
                 LX_EPARSE);
    lx_arena_free(a);
    return 0;
}

/* Streamed call pieces that do not fit together: the stream is broken (LX_EPARSE), no crash. */
LX_TEST(vertex_stream_bad_pieces)
{
    struct lx_config_provider conf = vt_conf(NULL, "my-project", "global");
    struct lx_provider_call call = {.conf = &conf,
                                    .model = LX_STR("gemini-3.1-pro-preview"),
                                    .endpoint = LX_EP_CHAT,
                                    .stream = true};
    static const char *const bad[] = {
        /* a piece of no call */
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":"
        "{\"partialArgs\":[{\"jsonPath\":\"$.a\",\"stringValue\":\"x\"}],\"willContinue\":true}}]}}"
        "]}\n\n",
        /* a bad path */
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":"
        "{\"name\":\"f\",\"willContinue\":true}}]}}]}\n\n"
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":"
        "{\"partialArgs\":[{\"jsonPath\":\"a.b\",\"stringValue\":\"x\"}],\"willContinue\":true}}]}}"
        "]}\n\n",
        /* an object then an array at the same place */
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":"
        "{\"name\":\"f\",\"willContinue\":true}}]}}]}\n\n"
        "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":"
        "{\"partialArgs\":[{\"jsonPath\":\"$.a.b\",\"numberValue\":1},{\"jsonPath\":\"$.a[0]\","
        "\"numberValue\":2}],\"willContinue\":true}}]}}]}\n\n",
    };
    struct lx_pt_summary s;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        lx_pt_summary_init(&s);
        LX_ASSERT_EQ(
            lx_pt_replay(&lx_provider_vertex, &call, lx_str_cstr(bad[i]), LX_PT_NO_SPLIT, &s),
            LX_EPARSE);
        lx_pt_summary_release(&s);
    }
    /* numbers, booleans, null and a bracketed key come out as JSON values */
    lx_pt_summary_init(&s);
    LX_ASSERT_EQ(
        lx_pt_replay(&lx_provider_vertex, &call,
                     LX_STR("data: {\"candidates\":[{\"content\":{\"role\":\"model\","
                            "\"parts\":[{\"functionCall\":{\"name\":\"f\",\"willContinue\":"
                            "true}}]}}],\"responseId\":\"r1\"}\n\n"
                            "data: {\"candidates\":[{\"content\":{\"role\":\"model\","
                            "\"parts\":[{\"functionCall\":{\"partialArgs\":[{\"jsonPath\":"
                            "\"$.n\",\"numberValue\":2.5},{\"jsonPath\":\"$.b\",\"boolValue\":"
                            "true},{\"jsonPath\":\"$.z\",\"nullValue\":null},{\"jsonPath\":"
                            "\"$['x.y']\",\"stringValue\":\"q\\\"\"}],\"willContinue\":true}}]}}]}"
                            "\n\n"
                            "data: {\"candidates\":[{\"content\":{\"role\":\"model\","
                            "\"parts\":[{\"functionCall\":{}}]},\"finishReason\":\"STOP\"}]}"
                            "\n\n"),
                     LX_PT_NO_SPLIT, &s),
        LX_OK);
    LX_ASSERT_EQ(s.n_tools, 1);
    LX_ASSERT_STR(lx_str_make(s.tools[0].args.ptr, s.tools[0].args.len),
                  "{\"n\":2.5,\"b\":true,\"z\":null,\"x.y\":\"q\\\"\"}");
    lx_pt_summary_release(&s);
    return 0;
}
