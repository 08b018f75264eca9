/* test_providers_sigv4.c - SigV4 signer: the Bedrock worked example byte for byte, cases from
 * AWS's published test suite (expected values are AWS's, or from an independent Python
 * implementation that reproduces AWS's), input that must be refused, and secret hygiene. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"
#include "providers/sigv4.h"
#include "tests/unit/test.h"

#define EX_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define EX_BODY                                                                                    \
    "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Hello\"}]}],"                      \
    "\"inferenceConfig\":{\"maxTokens\":256}}"
#define EX_TIME 1736942400 /* 2025-01-15T12:00:00Z */
#define AWS_SUITE_TIME 1440938160 /* 2015-08-30T12:36:00Z */
#define TOKEN                                                                                      \
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfp"    \
    "SPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQ"    \
    "DYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+s"    \
    "cqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

static const struct lx_header bedrock_headers[] = {
    {LX_STR_INIT("Content-Type"), LX_STR_INIT("application/json")},
    {LX_STR_INIT("Accept"), LX_STR_INIT("application/json")},
};

/* The request of fixtures/bedrock/sigv4_example.txt. */
static struct lx_sigv4_input bedrock_example(void)
{
    return (struct lx_sigv4_input){
        .method = LX_STR("POST"),
        .host = LX_STR("bedrock-runtime.us-east-1.amazonaws.com"),
        .path = LX_STR("/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"),
        .headers = bedrock_headers,
        .n_headers = LX_ARRAY_SIZE(bedrock_headers),
        .payload = LX_STR(EX_BODY),
        .region = LX_STR("us-east-1"),
        .service = LX_STR("bedrock"),
        .access_key_id = LX_STR("AKIDEXAMPLE"),
        .secret_key = LX_STR(EX_SECRET),
        .time = EX_TIME,
    };
}

static struct lx_sigv4_input aws_suite(void)
{
    return (struct lx_sigv4_input){
        .method = LX_STR("GET"),
        .host = LX_STR("example.amazonaws.com"),
        .path = LX_STR("/"),
        .region = LX_STR("us-east-1"),
        .service = LX_STR("service"),
        .access_key_id = LX_STR("AKIDEXAMPLE"),
        .secret_key = LX_STR(EX_SECRET),
        .time = AWS_SUITE_TIME,
    };
}

/* The text between "=== <title> ===\n" and the next "\n===" (or the end) of the fixture. */
static struct lx_str fixture_section(const char *file, const char *title)
{
    char marker[64];
    const char *p, *end;

    snprintf(marker, sizeof(marker), "=== %s ===\n", title);
    p = strstr(file, marker);
    if (p == NULL)
        return LX_STR_NULL;
    p += strlen(marker);
    end = strstr(p, "\n===");
    if (end == NULL)
        end = p + strlen(p);
    while (end > p && end[-1] == '\n')
        end--;
    return lx_str_make(p, (size_t)(end - p));
}

static bool contains(const char *p, size_t n, const char *needle)
{
    size_t k = strlen(needle);

    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, needle, k) == 0)
            return true;
    return false;
}

static const struct lx_header *find(const struct lx_sigv4_result *res, const char *name)
{
    for (size_t i = 0; i < res->n; i++)
        if (lx_str_eq(res->headers[i].name, lx_str_cstr(name)))
            return &res->headers[i];
    return NULL;
}

/* Signs and returns the 64 hex digits after "Signature=" in sig (NUL-terminated). */
static int signature_of(const struct lx_sigv4_input *in, char sig[65])
{
    struct lx_buf out = LX_BUF_INIT(8192);
    struct lx_sigv4_result res;
    int rc = lx_sigv4_sign(in, &out, &res);
    const struct lx_header *auth = find(&res, "Authorization");

    sig[0] = '\0';
    if (rc == LX_OK && auth != NULL && auth->value.len > 64) {
        memcpy(sig, auth->value.ptr + auth->value.len - 64, 64);
        sig[64] = '\0';
    }
    lx_buf_release(&out);
    return rc;
}

LX_TEST(sigv4_bedrock_fixture_byte_for_byte)
{
    size_t flen;
    char *file = lx_test_read_file(lx_test_shared("protocols/fixtures/bedrock/sigv4_example.txt"),
                                   &flen);
    struct lx_sigv4_input in = bedrock_example();
    struct lx_buf cr = LX_BUF_INIT(8192), sts = LX_BUF_INIT(8192), out = LX_BUF_INIT(8192);
    struct lx_sigv4_result res;
    struct lx_str want_cr, want_sts, want_sig;
    int rc = 1;

    if (file == NULL)
        LX_FAIL("cannot read the fixture");
    want_cr = fixture_section(file, "CanonicalRequest");
    want_sts = fixture_section(file, "StringToSign");
    want_sig = fixture_section(file, "Signature");
    if (want_cr.len == 0 || want_sts.len == 0 || want_sig.len != 64) {
        free(file);
        LX_FAIL("fixture sections missing");
    }
    if (lx_sigv4_canonical_request(&in, &cr) != LX_OK ||
        lx_sigv4_string_to_sign(&in, lx_buf_str(&cr), &sts) != LX_OK ||
        lx_sigv4_sign(&in, &out, &res) != LX_OK || find(&res, "Authorization") == NULL) {
        fprintf(stderr, "signing failed\n");
    } else if (!lx_str_eq(lx_buf_str(&cr), want_cr)) {
        fprintf(stderr, "canonical request:\n%s\nwant:\n%.*s\n", cr.ptr, LX_STR_FMT(want_cr));
    } else if (!lx_str_eq(lx_buf_str(&sts), want_sts)) {
        fprintf(stderr, "string to sign:\n%s\nwant:\n%.*s\n", sts.ptr, LX_STR_FMT(want_sts));
    } else if (!lx_str_ends_with(find(&res, "Authorization")->value, want_sig)) {
        fprintf(stderr, "authorization %.*s\n", LX_STR_FMT(find(&res, "Authorization")->value));
    } else {
        rc = 0;
    }
    free(file);
    lx_buf_release(&cr);
    lx_buf_release(&sts);
    if (rc != 0) {
        lx_buf_release(&out);
        LX_FAIL("Bedrock example differs from the fixture");
    }
    LX_ASSERT_EQ(2, res.n);
    LX_ASSERT_STR(res.headers[0].name, "X-Amz-Date");
    LX_ASSERT_STR(res.headers[0].value, "20250115T120000Z");
    LX_ASSERT_STR(res.headers[1].name, "Authorization");
    LX_ASSERT_STR(res.headers[1].value,
                  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250115/us-east-1/bedrock/"
                  "aws4_request, SignedHeaders=accept;content-type;host;x-amz-date, "
                  "Signature=bfec81028ac063ed194a6cb5eefefa0add7c1c384d9a4e8b1b7e47a927089fa5");
    lx_buf_release(&out);
    return 0;
}

LX_TEST(sigv4_aws_suite_vanilla_and_query_order)
{
    struct lx_sigv4_input in = aws_suite();
    char sig[65];

    /* get-vanilla */
    LX_ASSERT_EQ(LX_OK, signature_of(&in, sig));
    LX_ASSERT_STREQ(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    /* get-vanilla-query-order-key-case: sorted before signing, in either wire order */
    in.query = LX_STR("Param2=value2&Param1=value1");
    LX_ASSERT_EQ(LX_OK, signature_of(&in, sig));
    LX_ASSERT_STREQ(sig, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    in.query = LX_STR("Param1=value1&Param2=value2");
    LX_ASSERT_EQ(LX_OK, signature_of(&in, sig));
    LX_ASSERT_STREQ(sig, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    /* an empty path signs as "/" */
    in = aws_suite();
    in.path = LX_STR_NULL;
    LX_ASSERT_EQ(LX_OK, signature_of(&in, sig));
    LX_ASSERT_STREQ(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    return 0;
}

LX_TEST(sigv4_aws_suite_header_value_trim)
{
    static const struct lx_header h[] = {
        {LX_STR_INIT("My-Header1"), LX_STR_INIT(" value1")},
        {LX_STR_INIT("My-Header2"), LX_STR_INIT(" \"a   b   c\"")},
    };
    struct lx_sigv4_input in = aws_suite();
    struct lx_buf cr = LX_BUF_INIT(4096);
    char sig[65];

    in.headers = h;
    in.n_headers = LX_ARRAY_SIZE(h);
    LX_ASSERT_EQ(LX_OK, lx_sigv4_canonical_request(&in, &cr));
    LX_ASSERT(strstr(cr.ptr, "\nmy-header1:value1\nmy-header2:\"a b c\"\n") != NULL);
    LX_ASSERT(strstr(cr.ptr, "\nhost;my-header1;my-header2;x-amz-date\n") != NULL);
    lx_buf_release(&cr);
    /* get-header-value-trim */
    LX_ASSERT_EQ(LX_OK, signature_of(&in, sig));
    LX_ASSERT_STREQ(sig, "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
    return 0;
}

LX_TEST(sigv4_query_encoding_and_sorting)
{
    struct lx_sigv4_input in = aws_suite();
    struct lx_buf cr = LX_BUF_INIT(4096);

    /* same name sorts by value; %7e/~ normalize to ~; '/' and ':' are encoded; a name
     * without '=' gets an empty value; upper case sorts before lower case (byte order) */
    in.query = LX_STR("b=2&a=z&a=%2Fx:y&flag&A=%7e&c=%7E~");
    LX_ASSERT_EQ(LX_OK, lx_sigv4_canonical_request(&in, &cr));
    LX_ASSERT_STR(lx_str_make(cr.ptr, LX_MIN(cr.len, 45)),
                  "GET\n/\nA=~&a=%2Fx%3Ay&a=z&b=2&c=~~&flag=\nhost:");
    /* non-ASCII bytes: hex digits are upper case whatever the wire used */
    lx_buf_reset(&cr);
    in.query = LX_STR("q=%c3%a9t%C3%A9%20%2b");
    LX_ASSERT_EQ(LX_OK, lx_sigv4_canonical_request(&in, &cr));
    LX_ASSERT(strncmp(cr.ptr, "GET\n/\nq=%C3%A9t%C3%A9%20%2B\n", 28) == 0);
    lx_buf_release(&cr);
    return 0;
}

LX_TEST(sigv4_model_id_colon_double_encoded)
{
    struct lx_sigv4_input in = bedrock_example();
    struct lx_buf cr = LX_BUF_INIT(4096);

    /* the wire path carries %3A; the canonical URI encodes it again */
    in.path = LX_STR("/model/us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream");
    LX_ASSERT_EQ(LX_OK, lx_sigv4_canonical_request(&in, &cr));
    LX_ASSERT(strncmp(cr.ptr,
                      "POST\n/model/us.anthropic.claude-3-5-sonnet-20240620-v1%253A0/"
                      "converse-stream\n\n",
                      strlen("POST\n/model/us.anthropic.claude-3-5-sonnet-20240620-v1%253A0/"
                             "converse-stream\n\n")) == 0);
    /* an ARN with an encoded '/' stays one segment */
    lx_buf_reset(&cr);
    in.path = LX_STR("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Aprofile%2Fp/invoke");
    LX_ASSERT_EQ(LX_OK, lx_sigv4_canonical_request(&in, &cr));
    LX_ASSERT(strstr(cr.ptr, "\n/model/arn%253Aaws%253Abedrock%253Aus-east-1%253A1%253Aprofile"
                             "%252Fp/invoke\n") != NULL);
    /* a raw ':' in the wire path is encoded once */
    lx_buf_reset(&cr);
    in.path = LX_STR("/model/m-v1:0/converse");
    LX_ASSERT_EQ(LX_OK, lx_sigv4_canonical_request(&in, &cr));
    LX_ASSERT(strstr(cr.ptr, "\n/model/m-v1%3A0/converse\n") != NULL);
    lx_buf_release(&cr);
    return 0;
}

LX_TEST(sigv4_session_token_signed)
{
    struct lx_sigv4_input in = bedrock_example();
    struct lx_buf out = LX_BUF_INIT(8192);
    struct lx_sigv4_result res;
    const struct lx_header *tok, *auth;

    in.access_key_id = LX_STR("ASIAEXAMPLE");
    in.session_token = LX_STR(TOKEN);
    LX_ASSERT_EQ(LX_OK, lx_sigv4_sign(&in, &out, &res));
    LX_ASSERT_EQ(3, res.n);
    tok = find(&res, "X-Amz-Security-Token");
    auth = find(&res, "Authorization");
    LX_ASSERT(tok != NULL && auth != NULL);
    LX_ASSERT_STR(tok->value, TOKEN);
    LX_ASSERT_STR(auth->value,
                  "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20250115/us-east-1/bedrock/"
                  "aws4_request, SignedHeaders=accept;content-type;host;x-amz-date;"
                  "x-amz-security-token, "
                  "Signature=09f3b8d3949c70745bca989ce18be54e6c1b1d566955005fb316a11c7bc28479");
    lx_buf_release(&out);
    return 0;
}

LX_TEST(sigv4_content_sha256_header)
{
    struct lx_sigv4_input in = bedrock_example();
    struct lx_buf out = LX_BUF_INIT(8192);
    struct lx_sigv4_result res;

    in.content_sha256 = true;
    LX_ASSERT_EQ(LX_OK, lx_sigv4_sign(&in, &out, &res));
    LX_ASSERT_EQ(3, res.n);
    LX_ASSERT_STR(res.headers[1].name, "X-Amz-Content-Sha256");
    LX_ASSERT_STR(res.headers[1].value,
                  "d8695502972bd4d482308b656a524b7a7efcebba591a06801fadba6b39700dd1");
    LX_ASSERT(strstr(res.headers[2].value.ptr,
                     "SignedHeaders=accept;content-type;host;x-amz-content-sha256;x-amz-date,") !=
              NULL);
    lx_buf_release(&out);
    return 0;
}

LX_TEST(sigv4_signing_key_and_cached_key)
{
    /* AWS documentation's key derivation example (IAM, 2012-02-15) */
    static const char want[] = "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d";
    uint8_t key[LX_SIGV4_KEY_LEN];
    char hex[65];
    struct lx_sigv4_input in = bedrock_example();
    struct lx_buf a = LX_BUF_INIT(4096), b = LX_BUF_INIT(4096);
    struct lx_sigv4_result ra, rb;

    LX_ASSERT_EQ(LX_OK, lx_sigv4_signing_key(LX_STR(EX_SECRET), LX_STR("20120215"),
                                             LX_STR("us-east-1"), LX_STR("iam"), key));
    for (size_t i = 0; i < sizeof(key); i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    LX_ASSERT_STREQ(hex, want);
    LX_ASSERT_EQ(LX_EINVAL, lx_sigv4_signing_key(LX_STR(EX_SECRET), LX_STR("2012021"),
                                                 LX_STR("us-east-1"), LX_STR("iam"), key));
    LX_ASSERT_EQ(LX_EINVAL, lx_sigv4_signing_key(LX_STR_NULL, LX_STR("20120215"),
                                                 LX_STR("us-east-1"), LX_STR("iam"), key));
    /* a cached key gives the same headers as deriving it; the secret is then not needed */
    LX_ASSERT_EQ(LX_OK, lx_sigv4_signing_key(LX_STR(EX_SECRET), LX_STR("20250115"),
                                             LX_STR("us-east-1"), LX_STR("bedrock"), key));
    LX_ASSERT_EQ(LX_OK, lx_sigv4_sign(&in, &a, &ra));
    in.secret_key = LX_STR_NULL;
    LX_ASSERT_EQ(LX_OK, lx_sigv4_sign_with_key(&in, key, &b, &rb));
    LX_ASSERT_EQ(LX_EINVAL, lx_sigv4_sign(&in, &b, &rb)); /* no secret, no key */
    LX_ASSERT_EQ(0, rb.n);
    LX_ASSERT(a.len > 0 && lx_str_eq(lx_buf_str(&a), lx_str_make(b.ptr, a.len)));
    lx_buf_release(&a);
    lx_buf_release(&b);
    return 0;
}

LX_TEST(sigv4_amz_date)
{
    static const struct {
        int64_t t;
        const char *want;
    } cases[] = {
        {0, "19700101T000000Z"},          {951782400, "20000229T000000Z"},
        {1709251199, "20240229T235959Z"}, {AWS_SUITE_TIME, "20150830T123600Z"},
        {253402300799LL, "99991231T235959Z"},
    };
    char out[LX_SIGV4_AMZ_DATE_LEN + 1];

    for (size_t i = 0; i < LX_ARRAY_SIZE(cases); i++) {
        LX_ASSERT_EQ(LX_OK, lx_sigv4_amz_date(cases[i].t, out));
        LX_ASSERT_STREQ(out, cases[i].want);
    }
    LX_ASSERT_EQ(LX_EINVAL, lx_sigv4_amz_date(-1, out));
    LX_ASSERT_EQ(LX_EINVAL, lx_sigv4_amz_date(253402300800LL, out));
    return 0;
}

/* Everything the signer refuses rather than sign something ambiguous or injectable. */
LX_TEST(sigv4_refuses_bad_input)
{
    static const struct lx_header reserved[] = {{LX_STR_INIT("HOST"), LX_STR_INIT("x")}};
    static const struct lx_header dup[] = {{LX_STR_INIT("Accept"), LX_STR_INIT("a")},
                                           {LX_STR_INIT("accept"), LX_STR_INIT("b")}};
    static const struct lx_header crlf[] = {
        {LX_STR_INIT("Accept"), LX_STR_INIT("a\r\nX-Evil: 1")}};
    static const struct lx_header badname[] = {{LX_STR_INIT("Acc ept"), LX_STR_INIT("a")}};
    static const char *const bad_paths[] = {"model", "/a//b", "/a/./b", "/a/../b", "/a b",
                                            "/a?b", "/a\xc3\xa9"};
    static const char *const bad_queries[] = {"a=1&&b=2", "a=1&", "=v", "a=%4", "a=%zz",
                                              "a=b+c", "a=b c"};
    struct lx_header many[LX_SIGV4_MAX_HEADERS];
    struct lx_sigv4_input in;
    struct lx_buf out = LX_BUF_INIT(8192);
    struct lx_sigv4_result res;

    for (size_t i = 0; i < LX_ARRAY_SIZE(bad_paths); i++) {
        in = bedrock_example();
        in.path = lx_str_cstr(bad_paths[i]);
        if (lx_sigv4_sign(&in, &out, &res) != LX_EINVAL)
            LX_FAIL("path %s was signed", bad_paths[i]);
        LX_ASSERT_EQ(0, res.n);
    }
    for (size_t i = 0; i < LX_ARRAY_SIZE(bad_queries); i++) {
        in = bedrock_example();
        in.query = lx_str_cstr(bad_queries[i]);
        if (lx_sigv4_sign(&in, &out, &res) != LX_EINVAL)
            LX_FAIL("query %s was signed", bad_queries[i]);
    }
    in = bedrock_example();
    in.headers = reserved;
    in.n_headers = 1;
    LX_ASSERT_EQ(LX_EINVAL, lx_sigv4_sign(&in, &out, &res));
    in.headers = dup;
    in.n_headers = 2;
    LX_ASSERT_EQ(LX_EINVAL, lx_sigv4_sign(&in, &out, &res));
    in.headers = crlf;
    in.n_headers = 1;
    LX_ASSERT_EQ(LX_EINVAL, lx_sigv4_sign(&in, &out, &res));
    in.headers = badname;
    LX_ASSERT_EQ(LX_EINVAL, lx_sigv4_sign(&in, &out, &res));
    for (size_t i = 0; i < LX_ARRAY_SIZE(many); i++)
        many[i] = (struct lx_header){LX_STR("x-a"), LX_STR("v")};
    in.headers = many;
    in.n_headers = LX_ARRAY_SIZE(many);
    LX_ASSERT_EQ(LX_ETOOBIG, lx_sigv4_sign(&in, &out, &res));
    in = bedrock_example();
    in.session_token = LX_STR("tok\nen");
    LX_ASSERT_EQ(LX_EINVAL, lx_sigv4_sign(&in, &out, &res));
    in = bedrock_example();
    in.region = LX_STR("us-east-1\r\nX: y");
    LX_ASSERT_EQ(LX_EINVAL, lx_sigv4_sign(&in, &out, &res));
    in = bedrock_example();
    in.access_key_id = LX_STR("AKID/EXAMPLE");
    LX_ASSERT_EQ(LX_EINVAL, lx_sigv4_sign(&in, &out, &res));
    in = bedrock_example();
    in.method = LX_STR_NULL;
    LX_ASSERT_EQ(LX_EINVAL, lx_sigv4_sign(&in, &out, &res));
    in = bedrock_example();
    in.time = -5;
    LX_ASSERT_EQ(LX_EINVAL, lx_sigv4_sign(&in, &out, &res));
    LX_ASSERT_EQ(0, out.len); /* nothing half-written for refused input */
    lx_buf_release(&out);
    return 0;
}

LX_TEST(sigv4_bounded_output)
{
    struct lx_sigv4_input in = bedrock_example();
    struct lx_buf out = LX_BUF_INIT(100); /* the Authorization value alone is ~200 bytes */
    struct lx_sigv4_result res;

    LX_ASSERT_EQ(LX_ETOOBIG, lx_sigv4_sign(&in, &out, &res));
    LX_ASSERT_EQ(0, res.n);
    lx_buf_release(&out);
    return 0;
}

/* Canary: the secret, and the "AWS4"+secret key, never appear in anything we output; only the
 * signature depends on them. */
LX_TEST(sigv4_secret_never_output)
{
    struct lx_sigv4_input in = bedrock_example();
    struct lx_buf out = LX_BUF_INIT(8192), cr = LX_BUF_INIT(8192), sts = LX_BUF_INIT(8192);
    struct lx_sigv4_result res;
    char sig_a[65], sig_b[65];

    in.secret_key = LX_STR("CANARYsecretDoNotLeak0123456789abcdefXYZ");
    in.session_token = LX_STR(TOKEN);
    in.content_sha256 = true;
    in.query = LX_STR("x=1");
    LX_ASSERT_EQ(LX_OK, lx_sigv4_sign(&in, &out, &res));
    LX_ASSERT_EQ(LX_OK, lx_sigv4_canonical_request(&in, &cr));
    LX_ASSERT_EQ(LX_OK, lx_sigv4_string_to_sign(&in, lx_buf_str(&cr), &sts));
    LX_ASSERT(!contains(out.ptr, out.len, "CANARY"));
    LX_ASSERT(!contains(out.ptr, out.len, "DoNotLeak"));
    LX_ASSERT(!contains(cr.ptr, cr.len, "CANARY"));
    LX_ASSERT(!contains(sts.ptr, sts.len, "CANARY"));
    for (size_t i = 0; i < res.n; i++)
        LX_ASSERT(!contains(res.headers[i].value.ptr, res.headers[i].value.len, "CANARY"));
    /* and the secret does matter: a different one gives a different signature */
    LX_ASSERT_EQ(LX_OK, signature_of(&in, sig_a));
    in.secret_key = LX_STR("CANARYsecretDoNotLeak0123456789abcdefXYz");
    LX_ASSERT_EQ(LX_OK, signature_of(&in, sig_b));
    LX_ASSERT(strlen(sig_a) == 64 && strcmp(sig_a, sig_b) != 0);
    lx_buf_release(&out);
    lx_buf_release(&cr);
    lx_buf_release(&sts);
    return 0;
}

/* Signing appends after whatever the caller's buffer already holds. */
LX_TEST(sigv4_appends_to_caller_buffer)
{
    struct lx_sigv4_input in = bedrock_example();
    struct lx_buf out = LX_BUF_INIT(8192);
    struct lx_sigv4_result res;

    lx_buf_append_cstr(&out, "prefix");
    LX_ASSERT_EQ(LX_OK, lx_sigv4_sign(&in, &out, &res));
    LX_ASSERT(strncmp(out.ptr, "prefix20250115T120000Z", 22) == 0);
    LX_ASSERT_STR(res.headers[0].value, "20250115T120000Z");
    LX_ASSERT(lx_str_starts_with(res.headers[1].value, LX_STR("AWS4-HMAC-SHA256 Credential=")));
    lx_buf_release(&out);
    return 0;
}

/* Fail the 1st, 2nd, ... fallible allocation (output and scratch buffers) in turn: each must
 * come back as LX_ENOMEM with nothing returned, and no leak under ASan. */
LX_TEST(sigv4_oom_each_allocation)
{
    struct lx_sigv4_input in = bedrock_example();
    int n;

    in.session_token = LX_STR(TOKEN);
    in.query = LX_STR("b=2&a=1");
    for (n = 0; n < 100; n++) {
        struct lx_buf out = LX_BUF_INIT(8192);
        struct lx_sigv4_result res;
        int rc;

        lx_alloc_fail_after(n);
        rc = lx_sigv4_sign(&in, &out, &res);
        lx_alloc_fail_after(-1);
        lx_buf_release(&out);
        if (rc == LX_OK)
            break;
        LX_ASSERT_EQ(LX_ENOMEM, rc);
        LX_ASSERT_EQ(0, res.n);
    }
    LX_ASSERT(n >= 3 && n < 100); /* output, canonical request, query, string to sign */
    return 0;
}
