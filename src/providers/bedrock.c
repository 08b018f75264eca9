/* bedrock.c - the AWS Bedrock Runtime provider adapter (lx_provider_bedrock, PROTOCOLS.md
 * section 4): IR -> Converse / ConverseStream requests (or, for providers of type
 * "bedrock-invoke" and Anthropic model ids, InvokeModel with the Anthropic Messages body), signed
 * with SigV4 (sigv4.h) or sent with a Bedrock API key as a Bearer token; Converse answers,
 * ConverseStream event-stream frames (already framed by the gateway, sse/eventstream.h), AWS
 * error answers and Titan / Cohere embeddings -> IR.
 *
 * Pure translator (STYLE.md 3.6): no I/O, no globals, no clock (call->now_s signs), memory from
 * the arenas given (request bodies are written into a bounded lx_buf, copied into the arena and
 * released before return, as openai.c and sigv4.c do). Any thread. Owned by the Bedrock adapter;
 * mapping tables and traps: docs/internals/bedrock.md. */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/str.h"
#include "providers/provider.h"
#include "providers/sigv4.h"
#include "providers/wire.h"
#include "json/json.h"
#include "json/writer.h"

#if defined(__has_include) && !defined(BD_NO_ANTHROPIC)
#if __has_include("providers/anthropic.h")
#include "providers/anthropic.h"
#define BD_HAVE_ANTHROPIC 1
#endif
#endif
#ifndef BD_HAVE_ANTHROPIC
#define BD_HAVE_ANTHROPIC 0
#endif

#define BD_MAX_BODY ((size_t)64 << 20)   /* a request body we are willing to build */
#define BD_MAX_BLOCKS 1024u              /* contentBlockIndex values in one stream */
#define BD_MAX_MSG 512u                  /* bytes of a non-JSON error body kept as message */
#define BD_SIG_BUF 16384u                /* the signed header values */
#define BD_JSON_TOOL "llmux_json_output" /* the forced tool that carries JSON mode answers */

/* ---- small helpers ---------------------------------------------------------------------- */

/* InvokeModel with the Anthropic body: only when configured so, and only for Anthropic ids
 * ("anthropic.claude-…", "us.anthropic.claude-…", ARNs of Anthropic inference profiles). */
static bool bd_invoke_mode(const struct lx_provider_call *call)
{
    return lx_wire_type_is(call, "bedrock-invoke") &&
           lx_wire_contains(call->model, LX_STR("anthropic."));
}

static bool bd_is_claude(struct lx_str model)
{
    return lx_wire_contains(model, LX_STR("anthropic.")) ||
           lx_wire_contains(model, LX_STR("claude"));
}

static int bd_parse(struct lx_json *doc, struct lx_arena *a, struct lx_str s)
{
    lx_json_init(doc, NULL);
    lx_json_use_arena(doc, a);
    return lx_json_parse(doc, s.ptr != NULL ? s.ptr : "", s.len);
}

/* Decoded string value of key in obj, or an empty slice (absent, not a string, no memory). */
static struct lx_str bd_get_str(const struct lx_json *doc, int obj, const char *key,
                                struct lx_arena *a)
{
    struct lx_str s = LX_STR_NULL;
    int v = lx_json_get(doc, obj, lx_str_cstr(key));

    if (lx_json_type(doc, v) != LX_JSON_STRING || lx_json_str(doc, v, a, &s) != LX_OK)
        return LX_STR_NULL;
    return s;
}

/* Compact JSON text of token i, in a (whitespace dropped). LX_STR_NULL on failure. */
static struct lx_str bd_compact(const struct lx_json *doc, int i, struct lx_arena *a)
{
    struct lx_buf b = LX_BUF_INIT(doc->len + 16);
    struct lx_json_writer w;
    struct lx_str out = LX_STR_NULL;

    lx_json_writer_init(&w, &b);
    if (lx_json_write_copy(&w, doc, i) == LX_OK && lx_json_writer_finish(&w) == LX_OK)
        out = lx_arena_dup(a, lx_buf_str(&b));
    lx_buf_release(&b);
    return out;
}

/* Standard base64 (with or without padding) -> bytes in a. LX_EPARSE on other characters. */
static int bd_base64_decode(struct lx_str in, struct lx_arena *a, struct lx_str *out)
{
    char *p = lx_arena_alloc(a, in.len / 4 * 3 + 4);
    uint32_t acc = 0;
    size_t n = 0, bits = 0, pad = 0;

    if (p == NULL)
        return LX_ENOMEM;
    for (size_t i = 0; i < in.len; i++) {
        char c = in.ptr[i];
        uint32_t v;

        if (c >= 'A' && c <= 'Z')
            v = (uint32_t)(c - 'A');
        else if (c >= 'a' && c <= 'z')
            v = (uint32_t)(c - 'a' + 26);
        else if (c >= '0' && c <= '9')
            v = (uint32_t)(c - '0' + 52);
        else if (c == '+')
            v = 62;
        else if (c == '/')
            v = 63;
        else if (c == '=') {
            pad++;
            continue;
        } else
            return LX_EPARSE;
        if (pad > 0)
            return LX_EPARSE; /* data after padding */
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            p[n++] = (char)((acc >> bits) & 0xFF);
        }
    }
    if (pad > 2 || bits >= 6)
        return LX_EPARSE;
    p[n] = '\0';
    *out = lx_str_make(p, n);
    return LX_OK;
}

/* ---- errors ----------------------------------------------------------------------------- */

/* AWS exception names (x-amzn-ErrorType, :exception-type; compared ignoring case, so the
 * stream's "throttlingException" matches) -> status and type. */
static const struct bd_exc {
    const char *name;
    int status;
    enum lx_err_type type;
} bd_excs[] = {
    {"ThrottlingException", 429, LX_ERRT_RATE_LIMIT},
    {"ModelNotReadyException", 429, LX_ERRT_OVERLOADED},
    {"ServiceUnavailableException", 503, LX_ERRT_OVERLOADED},
    {"AccessDeniedException", 403, LX_ERRT_PERMISSION},
    {"UnrecognizedClientException", 403, LX_ERRT_AUTHENTICATION},
    {"InvalidSignatureException", 403, LX_ERRT_AUTHENTICATION},
    {"IncompleteSignatureException", 403, LX_ERRT_AUTHENTICATION},
    {"ExpiredTokenException", 403, LX_ERRT_AUTHENTICATION},
    {"MissingAuthenticationTokenException", 403, LX_ERRT_AUTHENTICATION},
    {"ValidationException", 400, LX_ERRT_INVALID_REQUEST},
    {"ResourceNotFoundException", 404, LX_ERRT_NOT_FOUND},
    {"ModelTimeoutException", 408, LX_ERRT_TIMEOUT},
    {"ModelErrorException", 424, LX_ERRT_SERVER},
    {"ModelStreamErrorException", 424, LX_ERRT_SERVER},
    {"ServiceQuotaExceededException", 400, LX_ERRT_QUOTA},
    {"InternalServerException", 500, LX_ERRT_SERVER},
};

static const struct bd_exc *bd_exc_find(struct lx_str name)
{
    for (size_t i = 0; i < sizeof(bd_excs) / sizeof(bd_excs[0]); i++)
        if (lx_str_eq_nocase(name, lx_str_cstr(bd_excs[i].name)))
            return &bd_excs[i];
    return NULL;
}

static bool bd_context_overflow(struct lx_str msg)
{
    return lx_wire_contains_nocase(msg, "input is too long") ||
           lx_wire_contains_nocase(msg, "too many input tokens") ||
           lx_wire_contains_nocase(msg, "prompt is too long") ||
           lx_wire_contains_nocase(msg, "maximum context length") ||
           lx_wire_contains_nocase(msg, "context window");
}

/* True when msg quotes a piece (8+ bytes) of the credential: AWS signature errors can echo the
 * canonical request, which holds the session token. */
static bool bd_quotes_key(struct lx_str msg, struct lx_str key)
{
    size_t start = 0;

    for (size_t i = 0; i <= key.len; i++) {
        if (i == key.len || key.ptr[i] == ':') {
            if (i - start >= 8 && lx_wire_contains(msg, lx_str_make(key.ptr + start, i - start)))
                return true;
            start = i + 1;
        }
    }
    return false;
}

/* Classifies an AWS error: name (exception type, may be empty), message, the HTTP status the
 * answer came with (0: take the table's). */
static void bd_classify(struct lx_upstream_error *out, struct lx_str name, struct lx_str msg,
                        int status, struct lx_str key)
{
    const struct bd_exc *x = bd_exc_find(name);

    if (bd_quotes_key(msg, key))
        msg = LX_STR("(the provider's message quoted a credential and was withheld)");
    out->status = status > 0 ? status : x != NULL ? x->status : 500;
    out->type = x != NULL ? x->type : lx_err_type_from_status(out->status);
    out->code = name;
    if (out->type == LX_ERRT_INVALID_REQUEST && bd_context_overflow(msg))
        out->type = LX_ERRT_CONTEXT_LENGTH;
    if (out->status == 403 &&
        (lx_wire_contains_nocase(msg, "signature") ||
         lx_wire_contains_nocase(msg, "security token") || lx_wire_contains_nocase(msg, "api key")))
        out->type = LX_ERRT_AUTHENTICATION;
    if (out->type == LX_ERRT_AUTHENTICATION) {
        /* keep the first line: the rest is the canonical request AWS expected */
        long nl = lx_str_find_char(msg, '\n');

        if (nl >= 0)
            msg = lx_str_sub(msg, 0, (size_t)nl);
    }
    out->message = msg;
    lx_upstream_error_defaults(out);
}

static void bd_map_error(const struct lx_provider_call *call, int status,
                         const struct lx_header *headers, size_t n_headers, struct lx_str body,
                         struct lx_arena *a, struct lx_upstream_error *out)
{
    const struct lx_header *h;
    struct lx_str name = LX_STR_NULL, msg = LX_STR_NULL;
    struct lx_json doc;
    struct lx_str key = call != NULL ? call->key : LX_STR_NULL;

    lx_upstream_error_init(out);
    h = lx_header_find(headers, n_headers, LX_STR("x-amzn-ErrorType"));
    if (h != NULL) {
        long colon = lx_str_find_char(h->value, ':');

        name = lx_str_trim(colon >= 0 ? lx_str_sub(h->value, 0, (size_t)colon) : h->value);
    }
    if (bd_parse(&doc, a, body) == LX_OK && lx_json_type(&doc, 0) == LX_JSON_OBJECT) {
        msg = bd_get_str(&doc, 0, "message", a);
        if (msg.len == 0)
            msg = bd_get_str(&doc, 0, "Message", a);
        if (name.len == 0) {
            /* "__type": "com.amazon.bedrock#ValidationException" or the bare name */
            struct lx_str t = bd_get_str(&doc, 0, "__type", a);
            long hash = -1;

            for (size_t i = 0; i < t.len; i++)
                if (t.ptr[i] == '#')
                    hash = (long)i;
            name = hash >= 0 ? lx_str_sub(t, (size_t)hash + 1, t.len) : t;
        }
    } else if (body.len > 0) {
        msg = lx_str_sub(body, 0, BD_MAX_MSG);
    }
    bd_classify(out, name, msg, status, key);
    h = lx_header_find(headers, n_headers, LX_STR("Retry-After"));
    if (h != NULL)
        out->retry_after_ms = lx_retry_after_ms(h->value, call != NULL ? call->now_s : 0);
}

/* ---- request: target, headers, signature ------------------------------------------------- */

/* "bedrock-runtime[-fips].{region}.amazonaws.com" (or a VPC endpoint "…bedrock-runtime.{region}.
 * vpce.amazonaws.com"): the label after the bedrock-runtime label. */
static struct lx_str bd_region_from_host(struct lx_str host)
{
    size_t i = 0;

    while (i < host.len) {
        size_t j = i;

        while (j < host.len && host.ptr[j] != '.')
            j++;
        struct lx_str label = lx_str_sub(host, i, j - i);
        if ((lx_str_eq_nocase(label, LX_STR("bedrock-runtime")) ||
             lx_str_eq_nocase(label, LX_STR("bedrock-runtime-fips"))) &&
            j < host.len) {
            size_t k = j + 1;

            while (k < host.len && host.ptr[k] != '.')
                k++;
            return k > j + 1 ? lx_str_sub(host, j + 1, k - j - 1) : LX_STR_NULL;
        }
        i = j + 1;
    }
    return LX_STR_NULL;
}

struct bd_url {
    struct lx_str url;      /* base + path */
    struct lx_str hostport; /* the Host header as the upstream module sends it */
    struct lx_str host;
    struct lx_str path; /* the wire path (base URL path prefix included) */
};

/* Splits "http[s]://authority[/prefix]" + suffix. The Host value drops a default port, as
 * upstream/url.c does, because that is what goes on the wire and must be signed. */
static int bd_split_url(struct lx_str base, struct lx_str suffix, struct lx_arena *a,
                        struct bd_url *u)
{
    bool tls;
    struct lx_str rest, auth, prefix;
    size_t i;
    char *p;

    if (lx_str_starts_with(base, LX_STR("https://"))) {
        tls = true;
        rest = lx_str_sub(base, 8, base.len);
    } else if (lx_str_starts_with(base, LX_STR("http://"))) {
        tls = false;
        rest = lx_str_sub(base, 7, base.len);
    } else {
        return LX_EINVAL;
    }
    while (rest.len > 0 && rest.ptr[rest.len - 1] == '/')
        rest.len--;
    for (i = 0; i < rest.len && rest.ptr[i] != '/'; i++)
        if (rest.ptr[i] == '?' || rest.ptr[i] == '#' || rest.ptr[i] == '@')
            return LX_EINVAL;
    auth = lx_str_sub(rest, 0, i);
    prefix = lx_str_sub(rest, i, rest.len);
    if (auth.len == 0 || lx_str_find_char(prefix, '?') >= 0 || lx_str_find_char(prefix, '#') >= 0)
        return LX_EINVAL;
    u->hostport = auth;
    u->host = auth;
    {
        long close = auth.ptr[0] == '[' ? lx_str_find_char(auth, ']') : -1;
        size_t from = close >= 0 ? (size_t)close + 1 : 0;
        long colon = lx_str_find_char(lx_str_sub(auth, from, auth.len), ':');

        if (colon >= 0) {
            struct lx_str port = lx_str_sub(auth, from + (size_t)colon + 1, auth.len);
            uint64_t v;

            u->host = lx_str_sub(auth, 0, from + (size_t)colon);
            if (lx_str_to_u64(port, &v) != LX_OK || v == 0 || v > 65535)
                return LX_EINVAL;
            if ((tls && v == 443) || (!tls && v == 80))
                u->hostport = u->host;
        }
    }
    p = lx_arena_alloc(a, base.len + suffix.len + 1);
    if (p == NULL)
        return LX_ENOMEM;
    size_t head = (size_t)(prefix.ptr + prefix.len - base.ptr);
    memcpy(p, base.ptr, head);
    memcpy(p + head, suffix.ptr, suffix.len);
    p[head + suffix.len] = '\0';
    u->url = lx_str_make(p, head + suffix.len);
    u->path = lx_str_make(p + (prefix.ptr - base.ptr), prefix.len + suffix.len);
    return LX_OK;
}

static bool bd_reserved_header(struct lx_str name)
{
    return lx_str_eq_nocase(name, LX_STR("Content-Type")) ||
           lx_str_eq_nocase(name, LX_STR("Accept")) ||
           lx_str_eq_nocase(name, LX_STR("Authorization")) ||
           lx_str_eq_nocase(name, LX_STR("Host")) ||
           (name.len >= 6 && lx_str_eq_nocase(lx_str_sub(name, 0, 6), LX_STR("X-Amz-")));
}

/* Method, URL, headers (signed or Bearer) for an operation ("converse", "invoke" ...) on
 * call->model, over the body already in out->body. */
static int bd_target(const struct lx_provider_call *call, const char *op, bool stream,
                     struct lx_arena *a, struct lx_upstream_req *out, struct lx_err *err)
{
    const struct lx_config_provider *conf = call->conf;
    struct lx_str base = conf != NULL ? lx_str_cstr(conf->base_url) : LX_STR_NULL;
    struct lx_str region = conf != NULL ? lx_str_cstr(conf->region) : LX_STR_NULL;
    struct lx_str model = lx_wire_path_escape(a, call->model), suffix;
    struct lx_buf sb = LX_BUF_INIT(BD_SIG_BUF);
    struct lx_header *h;
    struct bd_url u;
    size_t n = 0, n_conf = conf != NULL ? conf->n_headers : 0;
    char tmp[256];
    int rc;

    if (model.ptr == NULL)
        return LX_ENOMEM;
    if (call->model.len == 0) {
        lx_err_set(err, LX_EINVAL, 400, "bedrock: a model id is required");
        return LX_EINVAL;
    }
    for (size_t i = 0; i < region.len; i++) {
        char c = region.ptr[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            lx_err_set(err, LX_EINVAL, 500, "bedrock: the configured region is not a region name");
            return LX_EINVAL;
        }
    }
    if (base.len == 0) {
        if (region.len == 0 || region.len > 64) {
            lx_err_set(err, LX_EINVAL, 500, "bedrock: configure a region or a base_url");
            return LX_EINVAL;
        }
        snprintf(tmp, sizeof(tmp), "https://bedrock-runtime.%.*s.amazonaws.com",
                 LX_STR_FMT(region));
        base = lx_arena_dup(a, lx_str_cstr(tmp));
        if (base.ptr == NULL)
            return LX_ENOMEM;
    }
    {
        size_t len = 7 + model.len + 1 + strlen(op);
        char *s = lx_arena_alloc(a, len + 1);

        if (s == NULL)
            return LX_ENOMEM;
        snprintf(s, len + 1, "/model/%.*s/%s", LX_STR_FMT(model), op);
        suffix = lx_str_make(s, len);
    }
    rc = bd_split_url(base, suffix, a, &u);
    if (rc != LX_OK) {
        lx_err_set(err, rc, 500, "bedrock: the base_url is not a usable http(s) URL");
        return rc;
    }
    if (region.len == 0)
        region = bd_region_from_host(u.host);

    h = lx_arena_zalloc(a, (6 + n_conf) * sizeof(*h));
    if (h == NULL)
        return LX_ENOMEM;
    h[n++] = (struct lx_header){LX_STR("Content-Type"), LX_STR("application/json")};
    h[n++] =
        (struct lx_header){LX_STR("Accept"), stream ? LX_STR("application/vnd.amazon.eventstream")
                                                    : LX_STR("application/json")};
    if (call->key.len > 0) {
        long c1 = lx_str_find_char(call->key, ':');

        if (c1 < 0) {
            /* a Bedrock API key: Bearer, nothing to sign */
            struct lx_str v = LX_STR_NULL;
            char *s = lx_arena_alloc(a, call->key.len + 8);

            if (s == NULL)
                return LX_ENOMEM;
            memcpy(s, "Bearer ", 7);
            memcpy(s + 7, call->key.ptr, call->key.len);
            s[7 + call->key.len] = '\0';
            v = lx_str_make(s, 7 + call->key.len);
            h[n++] = (struct lx_header){LX_STR("Authorization"), v};
        } else {
            struct lx_str rest = lx_str_sub(call->key, (size_t)c1 + 1, call->key.len);
            long c2 = lx_str_find_char(rest, ':');
            struct lx_sigv4_input in = {
                .method = LX_STR("POST"),
                .host = u.hostport,
                .path = u.path,
                .headers = h,
                .n_headers = 2,
                .payload = out->body,
                .region = region,
                .service = LX_STR("bedrock"),
                .access_key_id = lx_str_sub(call->key, 0, (size_t)c1),
                .secret_key = c2 < 0 ? rest : lx_str_sub(rest, 0, (size_t)c2),
                .session_token = c2 < 0 ? LX_STR_NULL : lx_str_sub(rest, (size_t)c2 + 1, rest.len),
                .time = call->now_s,
            };
            struct lx_sigv4_result res;

            if (region.len == 0) {
                lx_buf_release(&sb);
                lx_err_set(err, LX_EINVAL, 500,
                           "bedrock: no region to sign with (set region, or a bedrock-runtime "
                           "base_url)");
                return LX_EINVAL;
            }
            rc = lx_sigv4_sign(&in, &sb, &res);
            if (rc != LX_OK) {
                lx_buf_release(&sb);
                lx_err_set(err, rc, rc == LX_ENOMEM ? 503 : 500,
                           "bedrock: cannot sign the request (credentials must be "
                           "ACCESS_KEY_ID:SECRET[:SESSION_TOKEN]): %s",
                           lx_strerror(rc));
                return rc;
            }
            for (size_t i = 0; i < res.n; i++) {
                struct lx_str v = lx_arena_dup(a, res.headers[i].value);

                if (v.ptr == NULL) {
                    lx_buf_release(&sb);
                    return LX_ENOMEM;
                }
                h[n++] = (struct lx_header){res.headers[i].name, v};
            }
            lx_buf_release(&sb);
        }
    }
    for (size_t i = 0; i < n_conf; i++)
        if (!bd_reserved_header(conf->headers[i].name))
            h[n++] = conf->headers[i];
    out->method = LX_STR("POST");
    out->url = u.url;
    out->headers = h;
    out->n_headers = n;
    return LX_OK;
}

/* ---- request: Converse body --------------------------------------------------------------- */

struct bd_enc {
    struct lx_json_writer w;
    struct lx_json vdoc; /* reused to validate tool arguments */
    struct lx_arena *a;
    struct lx_err *err;
    const struct lx_chat_req *req;
    const struct lx_provider_call *call;
    bool count; /* CountTokens: the Converse input without inferenceConfig */
};

static struct lx_str bd_image_format(struct lx_str mt)
{
    if (lx_str_eq_nocase(mt, LX_STR("image/png")))
        return LX_STR("png");
    if (lx_str_eq_nocase(mt, LX_STR("image/jpeg")) || lx_str_eq_nocase(mt, LX_STR("image/jpg")))
        return LX_STR("jpeg");
    if (lx_str_eq_nocase(mt, LX_STR("image/gif")))
        return LX_STR("gif");
    if (lx_str_eq_nocase(mt, LX_STR("image/webp")))
        return LX_STR("webp");
    return LX_STR_NULL;
}

static struct lx_str bd_doc_format(struct lx_str mt)
{
    static const struct {
        const char *mt, *fmt;
    } t[] = {
        {"application/pdf", "pdf"},
        {"text/csv", "csv"},
        {"application/msword", "doc"},
        {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"},
        {"application/vnd.ms-excel", "xls"},
        {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"},
        {"text/html", "html"},
        {"text/plain", "txt"},
        {"text/markdown", "md"},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (lx_str_eq_nocase(mt, lx_str_cstr(t[i].mt)))
            return lx_str_cstr(t[i].fmt);
    return LX_STR_NULL;
}

/* "data:<mime>;base64,<b64>" -> media type + data. */
static bool bd_data_url(struct lx_str url, struct lx_str *mt, struct lx_str *data)
{
    long comma = lx_str_find_char(url, ',');
    struct lx_str head;

    if (!lx_str_starts_with(url, LX_STR("data:")) || comma < 0)
        return false;
    head = lx_str_sub(url, 5, (size_t)comma - 5);
    if (!lx_str_ends_with(head, LX_STR(";base64")))
        return false;
    *mt = lx_str_sub(head, 0, head.len - 7);
    *data = lx_str_sub(url, (size_t)comma + 1, url.len);
    return true;
}

/* Bedrock document names: alphanumerics, single spaces, '-', '(', ')', '[', ']'. */
static struct lx_str bd_doc_name(struct lx_arena *a, struct lx_str name, size_t nth)
{
    char *p;
    size_t n = 0;

    if (name.len == 0) {
        char tmp[32];
        int k = snprintf(tmp, sizeof(tmp), "document-%zu", nth + 1);

        return lx_arena_dup(a, lx_str_make(tmp, (size_t)k));
    }
    if (name.len > 200)
        name.len = 200;
    p = lx_arena_alloc(a, name.len + 1);
    if (p == NULL)
        return LX_STR_NULL;
    for (size_t i = 0; i < name.len; i++) {
        char c = name.ptr[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '(' || c == ')' || c == '[' || c == ']' || c == ' ' || c == '-'))
            c = '-';
        if (c == ' ' && (n == 0 || p[n - 1] == ' '))
            continue;
        p[n++] = c;
    }
    p[n] = '\0';
    return n > 0 ? lx_str_make(p, n) : LX_STR("document");
}

static int bd_refuse(struct bd_enc *e, const char *what)
{
    lx_err_set(e->err, LX_EINVAL, 400, "bedrock: %s", what);
    return LX_EINVAL;
}

static int bd_write_image(struct bd_enc *e, const struct lx_part *p)
{
    struct lx_json_writer *w = &e->w;
    struct lx_str mt = p->media_type, data = p->data, fmt;

    if (data.len == 0 && !bd_data_url(p->url, &mt, &data)) {
        if (p->url.len > 0)
            return bd_refuse(e, "image URLs are not supported (Bedrock cannot fetch them): "
                                "send the image inline as base64");
        return bd_refuse(e, "an image part has no data");
    }
    fmt = bd_image_format(mt);
    if (fmt.len == 0)
        return bd_refuse(e, "image format must be png, jpeg, gif or webp");
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("image"));
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("format"));
    lx_json_write_str(w, fmt);
    lx_json_write_key(w, LX_STR("source"));
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("bytes"));
    lx_json_write_str(w, data);
    lx_json_write_object_end(w);
    lx_json_write_object_end(w);
    return lx_json_write_object_end(w);
}

static int bd_write_document(struct bd_enc *e, const struct lx_part *p, size_t nth)
{
    struct lx_json_writer *w = &e->w;
    struct lx_str mt = p->media_type, data = p->data, fmt, name;

    if (data.len == 0 && !bd_data_url(p->url, &mt, &data))
        return bd_refuse(e, "document URLs are not supported: send the file inline as base64");
    fmt = bd_doc_format(mt);
    if (fmt.len == 0)
        return bd_refuse(e, "document type must be pdf, csv, doc, docx, xls, xlsx, html, txt "
                            "or md");
    name = bd_doc_name(e->a, p->name, nth);
    if (name.ptr == NULL)
        return LX_ENOMEM;
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("document"));
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("format"));
    lx_json_write_str(w, fmt);
    lx_json_write_key(w, LX_STR("name"));
    lx_json_write_str(w, name);
    lx_json_write_key(w, LX_STR("source"));
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("bytes"));
    lx_json_write_str(w, data);
    lx_json_write_object_end(w);
    lx_json_write_object_end(w);
    return lx_json_write_object_end(w);
}

static void bd_write_cache_point(struct lx_json_writer *w)
{
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("cachePoint"));
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("type"));
    lx_json_write_str(w, LX_STR("default"));
    lx_json_write_object_end(w);
    lx_json_write_object_end(w);
}

static void bd_write_text(struct lx_json_writer *w, struct lx_str text)
{
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("text"));
    lx_json_write_str(w, text);
    lx_json_write_object_end(w);
}

/* Tool arguments as a JSON object: the text when it is one, else {} (PROTOCOLS.md 7.4). */
static void bd_write_args(struct bd_enc *e, struct lx_str args)
{
    if (args.len > 0 && lx_json_parse(&e->vdoc, args.ptr, args.len) == LX_OK &&
        lx_json_type(&e->vdoc, 0) == LX_JSON_OBJECT)
        lx_json_write_raw(&e->w, args);
    else
        lx_json_write_raw(&e->w, LX_STR("{}"));
}

static int bd_write_tool_result(struct bd_enc *e, const struct lx_part *p, size_t *n_docs)
{
    struct lx_json_writer *w = &e->w;
    int rc = LX_OK;

    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("toolResult"));
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("toolUseId"));
    lx_json_write_str(w, p->id);
    lx_json_write_key(w, LX_STR("content"));
    lx_json_write_array_begin(w);
    if (p->text.len > 0)
        bd_write_text(w, p->text);
    for (size_t i = 0; i < p->n_sub && rc == LX_OK; i++) {
        const struct lx_part *s = &p->sub[i];

        switch (s->type) {
        case LX_PART_TEXT:
            if (s->text.len > 0)
                bd_write_text(w, s->text);
            break;
        case LX_PART_IMAGE:
            rc = bd_write_image(e, s);
            break;
        case LX_PART_FILE:
            rc = bd_write_document(e, s, (*n_docs)++);
            break;
        default:
            rc = bd_refuse(e, "a tool result may hold only text, images and documents");
        }
    }
    lx_json_write_array_end(w);
    if (p->is_error) {
        lx_json_write_key(w, LX_STR("status"));
        lx_json_write_str(w, LX_STR("error"));
    }
    lx_json_write_object_end(w);
    lx_json_write_object_end(w);
    return rc;
}

static int bd_write_part(struct bd_enc *e, const struct lx_part *p, size_t *n_docs)
{
    struct lx_json_writer *w = &e->w;
    int rc = LX_OK;

    switch (p->type) {
    case LX_PART_TEXT:
        if (p->text.len == 0)
            return LX_OK; /* empty text blocks are refused upstream */
        bd_write_text(w, p->text);
        break;
    case LX_PART_IMAGE:
        rc = bd_write_image(e, p);
        break;
    case LX_PART_FILE:
        rc = bd_write_document(e, p, (*n_docs)++);
        break;
    case LX_PART_AUDIO:
        return bd_refuse(e, "audio input is not supported by Converse");
    case LX_PART_THINKING:
        lx_json_write_object_begin(w);
        lx_json_write_key(w, LX_STR("reasoningContent"));
        lx_json_write_object_begin(w);
        lx_json_write_key(w, LX_STR("reasoningText"));
        lx_json_write_object_begin(w);
        lx_json_write_key(w, LX_STR("text"));
        lx_json_write_str(w, p->text);
        if (p->signature.len > 0) {
            lx_json_write_key(w, LX_STR("signature"));
            lx_json_write_str(w, p->signature);
        }
        lx_json_write_object_end(w);
        lx_json_write_object_end(w);
        lx_json_write_object_end(w);
        break;
    case LX_PART_REDACTED_THINKING:
        lx_json_write_object_begin(w);
        lx_json_write_key(w, LX_STR("reasoningContent"));
        lx_json_write_object_begin(w);
        lx_json_write_key(w, LX_STR("redactedContent"));
        lx_json_write_str(w, p->data);
        lx_json_write_object_end(w);
        lx_json_write_object_end(w);
        break;
    case LX_PART_TOOL_CALL:
        lx_json_write_object_begin(w);
        lx_json_write_key(w, LX_STR("toolUse"));
        lx_json_write_object_begin(w);
        lx_json_write_key(w, LX_STR("toolUseId"));
        lx_json_write_str(w, p->id);
        lx_json_write_key(w, LX_STR("name"));
        lx_json_write_str(w, p->name);
        lx_json_write_key(w, LX_STR("input"));
        bd_write_args(e, p->args);
        lx_json_write_object_end(w);
        lx_json_write_object_end(w);
        break;
    case LX_PART_TOOL_RESULT:
        rc = bd_write_tool_result(e, p, n_docs);
        break;
    }
    if (rc == LX_OK && p->cache)
        bd_write_cache_point(w);
    return rc;
}

/* The Converse role of a message; system prompts go elsewhere. */
static const char *bd_role(enum lx_role r)
{
    switch (r) {
    case LX_ROLE_ASSISTANT:
        return "assistant";
    case LX_ROLE_USER:
    case LX_ROLE_TOOL:
        return "user"; /* toolResult blocks live in user turns */
    case LX_ROLE_SYSTEM:
    case LX_ROLE_DEVELOPER:
        break;
    }
    return NULL;
}

static bool bd_part_emits(const struct lx_part *p)
{
    return p->type != LX_PART_TEXT || p->text.len > 0;
}

static bool bd_msg_emits(const struct lx_msg *m)
{
    if (bd_role(m->role) == NULL)
        return false;
    for (size_t i = 0; i < m->n_parts; i++)
        if (bd_part_emits(&m->parts[i]))
            return true;
    return false;
}

static bool bd_json_mode(const struct lx_chat_req *req)
{
    return req->response_format == LX_RF_JSON_OBJECT || req->response_format == LX_RF_JSON_SCHEMA;
}

static bool bd_history_has_tools(const struct lx_chat_req *req)
{
    for (size_t m = 0; m < req->n_msgs; m++)
        for (size_t i = 0; i < req->msgs[m].n_parts; i++)
            if (req->msgs[m].parts[i].type == LX_PART_TOOL_CALL ||
                req->msgs[m].parts[i].type == LX_PART_TOOL_RESULT)
                return true;
    return false;
}

static int bd_write_messages(struct bd_enc *e)
{
    const struct lx_chat_req *req = e->req;
    struct lx_json_writer *w = &e->w;
    const char *open = NULL;
    size_t n_docs = 0;
    int rc = LX_OK;

    lx_json_write_key(w, LX_STR("messages"));
    lx_json_write_array_begin(w);
    for (size_t m = 0; m < req->n_msgs && rc == LX_OK; m++) {
        const struct lx_msg *msg = &req->msgs[m];
        const char *role = bd_role(msg->role);

        if (!bd_msg_emits(msg))
            continue;
        if (open == NULL || strcmp(open, role) != 0) {
            /* consecutive same-role turns merge: Bedrock wants strict alternation */
            if (open != NULL) {
                lx_json_write_array_end(w);
                lx_json_write_object_end(w);
            }
            lx_json_write_object_begin(w);
            lx_json_write_key(w, LX_STR("role"));
            lx_json_write_str(w, lx_str_cstr(role));
            lx_json_write_key(w, LX_STR("content"));
            lx_json_write_array_begin(w);
            open = role;
        }
        for (size_t i = 0; i < msg->n_parts && rc == LX_OK; i++)
            rc = bd_write_part(e, &msg->parts[i], &n_docs);
    }
    if (open != NULL) {
        lx_json_write_array_end(w);
        lx_json_write_object_end(w);
    }
    lx_json_write_array_end(w);
    return rc;
}

static int bd_write_system(struct bd_enc *e)
{
    const struct lx_chat_req *req = e->req;
    struct lx_json_writer *w = &e->w;
    bool any = false;

    for (size_t m = 0; m < req->n_msgs; m++) {
        const struct lx_msg *msg = &req->msgs[m];

        if (msg->role != LX_ROLE_SYSTEM && msg->role != LX_ROLE_DEVELOPER)
            continue;
        for (size_t i = 0; i < msg->n_parts; i++) {
            const struct lx_part *p = &msg->parts[i];

            if (p->type != LX_PART_TEXT)
                return bd_refuse(e, "system messages may hold only text");
            if (p->text.len == 0)
                continue;
            if (!any) {
                lx_json_write_key(w, LX_STR("system"));
                lx_json_write_array_begin(w);
                any = true;
            }
            bd_write_text(w, p->text);
            if (p->cache)
                bd_write_cache_point(w);
        }
    }
    if (any)
        lx_json_write_array_end(w);
    return LX_OK;
}

static void bd_write_inference(struct bd_enc *e)
{
    const struct lx_chat_req *req = e->req;
    struct lx_json_writer *w = &e->w;

    if (req->max_tokens < 0 && req->temperature.raw.len == 0 && req->top_p.raw.len == 0 &&
        req->n_stop == 0)
        return;
    lx_json_write_key(w, LX_STR("inferenceConfig"));
    lx_json_write_object_begin(w);
    if (req->max_tokens >= 0) {
        lx_json_write_key(w, LX_STR("maxTokens"));
        lx_json_write_int(w, req->max_tokens);
    }
    if (req->temperature.raw.len > 0) {
        lx_json_write_key(w, LX_STR("temperature"));
        lx_json_write_raw(w, req->temperature.raw);
    }
    if (req->top_p.raw.len > 0) {
        lx_json_write_key(w, LX_STR("topP"));
        lx_json_write_raw(w, req->top_p.raw);
    }
    if (req->n_stop > 0) {
        lx_json_write_key(w, LX_STR("stopSequences"));
        lx_wire_write_strs(w, req->stop, req->n_stop);
    }
    lx_json_write_object_end(w);
}

static void bd_write_tool_spec(struct lx_json_writer *w, struct lx_str name, struct lx_str desc,
                               struct lx_str schema)
{
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("toolSpec"));
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("name"));
    lx_json_write_str(w, name);
    if (desc.len > 0) {
        lx_json_write_key(w, LX_STR("description"));
        lx_json_write_str(w, desc);
    }
    lx_json_write_key(w, LX_STR("inputSchema"));
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("json"));
    lx_json_write_raw(w,
                      schema.len > 0 ? schema : LX_STR("{\"type\":\"object\",\"properties\":{}}"));
    lx_json_write_object_end(w);
    lx_json_write_object_end(w);
    lx_json_write_object_end(w);
}

/* toolConfig. tool_choice "none" has no Converse form: tools are left out, except that Bedrock
 * refuses a history with toolUse/toolResult blocks and no toolConfig, so then the tools go
 * (without toolChoice), or, with no tools at all, one placeholder tool nobody is asked to call.
 * JSON mode (Converse has no flag) adds the tool BD_JSON_TOOL with the schema and forces it; the
 * decoders turn its input back into text. */
static void bd_write_tools(struct bd_enc *e)
{
    const struct lx_chat_req *req = e->req;
    struct lx_json_writer *w = &e->w;
    bool history = bd_history_has_tools(req);
    bool none = req->tool_choice == LX_TOOL_CHOICE_NONE;
    bool json = bd_json_mode(req);
    bool user_tools = req->n_tools > 0 && (!none || history);

    if (!user_tools && !json && !history)
        return;
    lx_json_write_key(w, LX_STR("toolConfig"));
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("tools"));
    lx_json_write_array_begin(w);
    for (size_t i = 0; user_tools && i < req->n_tools; i++) {
        const struct lx_tool *t = &req->tools[i];

        bd_write_tool_spec(w, t->name, t->description, t->parameters);
        if (t->cache)
            bd_write_cache_point(w);
    }
    if (json)
        bd_write_tool_spec(w, LX_STR(BD_JSON_TOOL),
                           LX_STR("Reply by calling this tool with the answer as its input."),
                           req->response_format == LX_RF_JSON_SCHEMA && req->schema.len > 0
                               ? req->schema
                               : LX_STR("{\"type\":\"object\"}"));
    else if (!user_tools)
        bd_write_tool_spec(w, LX_STR("llmux_no_tools"),
                           LX_STR("Placeholder: no tools are available. Never call this."),
                           LX_STR_NULL);
    lx_json_write_array_end(w);
    if (json || (user_tools && !none && req->tool_choice != LX_TOOL_CHOICE_UNSET)) {
        lx_json_write_key(w, LX_STR("toolChoice"));
        lx_json_write_object_begin(w);
        if (json || req->tool_choice == LX_TOOL_CHOICE_NAMED) {
            lx_json_write_key(w, LX_STR("tool"));
            lx_json_write_object_begin(w);
            lx_json_write_key(w, LX_STR("name"));
            lx_json_write_str(w, json ? LX_STR(BD_JSON_TOOL) : req->tool_choice_name);
            lx_json_write_object_end(w);
        } else {
            lx_json_write_key(w, req->tool_choice == LX_TOOL_CHOICE_REQUIRED ? LX_STR("any")
                                                                             : LX_STR("auto"));
            lx_json_write_object_begin(w);
            lx_json_write_object_end(w);
        }
        lx_json_write_object_end(w);
    }
    lx_json_write_object_end(w);
}

/* Anthropic's extended thinking budget: the client's, else one from reasoning effort (Claude
 * models only); 0 = no thinking. */
static int64_t bd_thinking_budget(const struct bd_enc *e)
{
    const struct lx_chat_req *req = e->req;
    int64_t b = 0;

    if (req->thinking == LX_THINKING_DISABLED || !bd_is_claude(e->call->model))
        return 0;
    if (bd_json_mode(req))
        return 0; /* Anthropic refuses thinking with a forced tool (JSON mode forces one) */
    if (req->thinking == LX_THINKING_ENABLED)
        b = req->thinking_budget > 0 ? req->thinking_budget : 1024;
    else if (req->effort == LX_EFFORT_LOW || req->effort == LX_EFFORT_MINIMAL)
        b = 1024;
    else if (req->effort == LX_EFFORT_MEDIUM)
        b = 4096;
    else if (req->effort == LX_EFFORT_HIGH)
        b = 16384;
    if (b > 0 && b < 1024)
        b = 1024; /* Anthropic's minimum */
    if (b > 0 && req->max_tokens >= 0 && b >= req->max_tokens)
        b = req->max_tokens > 1024 ? req->max_tokens - 1 : 0; /* must stay under max_tokens */
    return b;
}

static void bd_write_additional(struct bd_enc *e)
{
    const struct lx_chat_req *req = e->req;
    struct lx_json_writer *w = &e->w;
    int64_t budget = bd_thinking_budget(e);

    if (req->top_k < 0 && budget == 0)
        return;
    lx_json_write_key(w, LX_STR("additionalModelRequestFields"));
    lx_json_write_object_begin(w);
    if (req->top_k >= 0) {
        lx_json_write_key(w, LX_STR("top_k"));
        lx_json_write_int(w, req->top_k);
    }
    if (budget > 0) {
        lx_json_write_key(w, LX_STR("thinking"));
        lx_json_write_object_begin(w);
        lx_json_write_key(w, LX_STR("type"));
        lx_json_write_str(w, LX_STR("enabled"));
        lx_json_write_key(w, LX_STR("budget_tokens"));
        lx_json_write_int(w, budget);
        lx_json_write_object_end(w);
    }
    lx_json_write_object_end(w);
}

static int bd_converse_body(const struct lx_provider_call *call, const struct lx_chat_req *req,
                            struct lx_arena *a, struct lx_str *body, struct lx_err *err)
{
    struct lx_buf b = LX_BUF_INIT(BD_MAX_BODY);
    struct bd_enc e = {.a = a, .err = err, .req = req, .call = call};
    bool count = call->endpoint == LX_EP_COUNT_TOKENS;
    int rc;

    e.count = count;

    if (req->n > 1) {
        lx_err_set(err, LX_EINVAL, 400, "bedrock: n > 1 is not supported");
        return LX_EINVAL;
    }
    lx_json_init(&e.vdoc, NULL);
    lx_json_use_arena(&e.vdoc, a);
    lx_json_writer_init(&e.w, &b);
    if (count) {
        /* CountTokens: {"input":{"converse":{…}}} */
        lx_json_write_object_begin(&e.w);
        lx_json_write_key(&e.w, LX_STR("input"));
        lx_json_write_object_begin(&e.w);
        lx_json_write_key(&e.w, LX_STR("converse"));
    }
    lx_json_write_object_begin(&e.w);
    rc = bd_write_system(&e);
    if (rc == LX_OK)
        rc = bd_write_messages(&e);
    if (rc == LX_OK) {
        if (!e.count)
            bd_write_inference(&e);
        bd_write_tools(&e);
        bd_write_additional(&e);
        lx_json_write_object_end(&e.w);
        if (count) {
            lx_json_write_object_end(&e.w);
            lx_json_write_object_end(&e.w);
        }
        rc = lx_json_writer_finish(&e.w);
        if (rc != LX_OK)
            lx_err_set(err, rc, rc == LX_ETOOBIG ? 413 : 500, "bedrock: cannot build the body: %s",
                       lx_strerror(rc));
    }
    if (rc == LX_OK) {
        *body = lx_arena_dup(a, lx_buf_str(&b));
        if (body->ptr == NULL)
            rc = LX_ENOMEM;
    }
    lx_buf_release(&b);
    return rc;
}

static int bd_invoke_body(const struct lx_chat_req *req, struct lx_arena *a, struct lx_str *body,
                          struct lx_err *err)
{
#if BD_HAVE_ANTHROPIC
    struct lx_buf b = LX_BUF_INIT(BD_MAX_BODY);
    int rc =
        lx_anthropic_encode_body(req, LX_STR_NULL, LX_STR("bedrock-2023-05-31"), false, &b, err);

    if (rc == LX_OK && b.err != LX_OK)
        rc = b.err;
    if (rc == LX_OK) {
        *body = lx_arena_dup(a, lx_buf_str(&b));
        if (body->ptr == NULL)
            rc = LX_ENOMEM;
    }
    lx_buf_release(&b);
    return rc;
#else
    (void)req;
    (void)a;
    (void)body;
    lx_err_set(err, LX_EINVAL, 500, "bedrock: InvokeModel needs the Anthropic adapter");
    return LX_EINVAL;
#endif
}

static int bd_build_request(const struct lx_provider_call *call, const struct lx_chat_req *req,
                            struct lx_arena *a, struct lx_upstream_req *out, struct lx_err *err)
{
    bool invoke = bd_invoke_mode(call);
    int rc;

    memset(out, 0, sizeof(*out));
    if (call->endpoint == LX_EP_COUNT_TOKENS) {
        /* CountTokens takes the Converse shape whatever the chat mode */
        rc = bd_converse_body(call, req, a, &out->body, err);
        if (rc == LX_OK)
            rc = bd_target(call, "count-tokens", false, a, out, err);
        if (rc == LX_ENOMEM)
            lx_err_set(err, rc, 503, "bedrock: out of memory");
        return rc;
    }
    if (call->endpoint != LX_EP_CHAT) {
        lx_err_set(err, LX_EINVAL, 400, "bedrock: this endpoint is not a chat endpoint");
        return LX_EINVAL;
    }
    rc = invoke ? bd_invoke_body(req, a, &out->body, err)
                : bd_converse_body(call, req, a, &out->body, err);
    if (rc != LX_OK) {
        if (rc == LX_ENOMEM)
            lx_err_set(err, rc, 503, "bedrock: out of memory");
        return rc;
    }
    rc = bd_target(call,
                   invoke ? (call->stream ? "invoke-with-response-stream" : "invoke")
                          : (call->stream ? "converse-stream" : "converse"),
                   call->stream, a, out, err);
    if (rc == LX_ENOMEM)
        lx_err_set(err, rc, 503, "bedrock: out of memory");
    return rc;
}

/* ---- Converse answer ----------------------------------------------------------------------- */

static enum lx_finish bd_finish(struct lx_str r)
{
    if (lx_str_eq(r, LX_STR("max_tokens")) || lx_str_eq(r, LX_STR("model_context_window_exceeded")))
        return LX_FINISH_LENGTH;
    if (lx_str_eq(r, LX_STR("tool_use")))
        return LX_FINISH_TOOL_CALLS;
    if (lx_str_eq(r, LX_STR("guardrail_intervened")) || lx_str_eq(r, LX_STR("content_filtered")))
        return LX_FINISH_CONTENT_FILTER;
    return LX_FINISH_STOP; /* end_turn, stop_sequence, malformed_* */
}

/* usage / metadata.usage -> IR: input includes the cache reads and writes (ir.h). */
static struct lx_usage bd_usage(const struct lx_json *doc, int u)
{
    struct lx_usage us = LX_USAGE_INIT;
    int64_t in = lx_wire_int(doc, u, "inputTokens"), out = lx_wire_int(doc, u, "outputTokens");
    int64_t cr = lx_wire_int(doc, u, "cacheReadInputTokens");
    int64_t cw = lx_wire_int(doc, u, "cacheWriteInputTokens");

    if (lx_json_type(doc, u) != LX_JSON_OBJECT)
        return us;
    us.cache_read = cr;
    us.cache_write = cw;
    if (in >= 0)
        us.input = in + (cr > 0 ? cr : 0) + (cw > 0 ? cw : 0);
    us.output = out;
    if (us.input >= 0 && out >= 0)
        us.total = us.input + out;
    else
        us.total = lx_wire_int(doc, u, "totalTokens");
    return us;
}

static int bd_parse_block(const struct lx_json *doc, int blk, struct lx_arena *a, struct lx_part *p,
                          bool *keep)
{
    int v;

    memset(p, 0, sizeof(*p));
    *keep = true;
    if (lx_json_type(doc, blk) != LX_JSON_OBJECT)
        return LX_EPARSE;
    if ((v = lx_json_get(doc, blk, LX_STR("text"))) >= 0) {
        p->type = LX_PART_TEXT;
        return lx_json_type(doc, v) == LX_JSON_STRING ? lx_json_str(doc, v, a, &p->text)
                                                      : LX_EPARSE;
    }
    if ((v = lx_json_get(doc, blk, LX_STR("toolUse"))) >= 0) {
        int in = lx_json_get(doc, v, LX_STR("input"));

        p->type = LX_PART_TOOL_CALL;
        p->id = bd_get_str(doc, v, "toolUseId", a);
        p->name = bd_get_str(doc, v, "name", a);
        if (p->id.len == 0 || p->name.len == 0)
            return LX_EPARSE;
        p->args = in >= 0 ? bd_compact(doc, in, a) : LX_STR("{}");
        if (lx_str_eq(p->name, LX_STR(BD_JSON_TOOL))) {
            /* JSON mode: the forced tool's input is the answer */
            p->type = LX_PART_TEXT;
            p->text = p->args;
            p->id = p->name = p->args = LX_STR_NULL;
            return p->text.ptr != NULL ? LX_OK : LX_ENOMEM;
        }
        return p->args.ptr != NULL ? LX_OK : LX_ENOMEM;
    }
    if ((v = lx_json_get(doc, blk, LX_STR("reasoningContent"))) >= 0) {
        int rt = lx_json_get(doc, v, LX_STR("reasoningText"));

        if (rt >= 0) {
            p->type = LX_PART_THINKING;
            p->text = bd_get_str(doc, rt, "text", a);
            p->signature = bd_get_str(doc, rt, "signature", a);
            return LX_OK;
        }
        p->type = LX_PART_REDACTED_THINKING;
        p->data = bd_get_str(doc, v, "redactedContent", a);
        *keep = p->data.len > 0;
        return LX_OK;
    }
    *keep = false; /* citations, images, guard content...: nothing the IR carries */
    return LX_OK;
}

static int bd_parse_converse(struct lx_str body, struct lx_arena *a, struct lx_chat_resp *out,
                             struct lx_err *err)
{
    struct lx_json doc;
    struct lx_choice *c;
    int msg, content, rc;
    size_t n = 0;

    rc = bd_parse(&doc, a, body);
    if (rc != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        goto bad;
    msg = lx_json_get(&doc, lx_json_get(&doc, 0, LX_STR("output")), LX_STR("message"));
    content = lx_json_get(&doc, msg, LX_STR("content"));
    if (lx_json_type(&doc, content) != LX_JSON_ARRAY)
        goto bad;
    c = lx_arena_zalloc(a, sizeof(*c));
    if (c == NULL)
        return LX_ENOMEM;
    c->message.role = LX_ROLE_ASSISTANT;
    c->message.parts =
        lx_arena_zalloc(a, (lx_json_count(&doc, content) + 1) * sizeof(struct lx_part));
    if (c->message.parts == NULL)
        return LX_ENOMEM;
    for (int e = lx_json_first(&doc, content); e >= 0; e = lx_json_sibling(&doc, content, e)) {
        bool keep;

        rc = bd_parse_block(&doc, e, a, &c->message.parts[n], &keep);
        if (rc == LX_ENOMEM)
            return rc;
        if (rc != LX_OK)
            goto bad;
        if (keep)
            n++;
    }
    c->message.n_parts = n;
    c->finish_raw = bd_get_str(&doc, 0, "stopReason", a);
    c->finish = c->finish_raw.len > 0 ? bd_finish(c->finish_raw) : LX_FINISH_STOP;
    if (c->finish == LX_FINISH_TOOL_CALLS) {
        bool calls = false;

        for (size_t i = 0; i < n; i++)
            calls = calls || c->message.parts[i].type == LX_PART_TOOL_CALL;
        if (!calls)
            c->finish = LX_FINISH_STOP; /* only the JSON mode tool was called */
    }
    {
        int amrf = lx_json_get(&doc, 0, LX_STR("additionalModelResponseFields"));

        c->stop_sequence = bd_get_str(&doc, amrf, "stop_sequence", a);
    }
    out->choices = c;
    out->n_choices = 1;
    out->usage = bd_usage(&doc, lx_json_get(&doc, 0, LX_STR("usage")));
    return LX_OK;
bad:
    if (rc == LX_ENOMEM)
        return rc;
    lx_err_set(err, LX_EPARSE, 502, "bedrock: the Converse answer is malformed");
    return LX_EPARSE;
}

static int bd_parse_response(const struct lx_provider_call *call, struct lx_str body,
                             struct lx_arena *a, struct lx_chat_resp *out, struct lx_err *err)
{
    lx_chat_resp_init(out);
    if (call != NULL && call->endpoint == LX_EP_COUNT_TOKENS) {
        struct lx_json doc;
        int rc = bd_parse(&doc, a, body);

        if (rc == LX_ENOMEM)
            return rc;
        if (rc != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT ||
            (out->usage.input = lx_wire_int(&doc, 0, "inputTokens")) < 0) {
            lx_err_set(err, LX_EPARSE, 502, "bedrock: the CountTokens answer is malformed");
            return LX_EPARSE;
        }
        return LX_OK;
    }
    if (bd_invoke_mode(call)) {
#if BD_HAVE_ANTHROPIC
        return lx_provider_anthropic.parse_response(call, body, a, out, err);
#else
        lx_err_set(err, LX_EINVAL, 500, "bedrock: InvokeModel needs the Anthropic adapter");
        return LX_EINVAL;
#endif
    }
    return bd_parse_converse(body, a, out, err);
}

/* ---- ConverseStream ------------------------------------------------------------------------ */

struct bd_stream {
    bool started, finished, json_seen;
    int n_tools;
    int16_t block_tool[BD_MAX_BLOCKS]; /* contentBlockIndex -> tool_index + 1 (0: no tool;
                                        * -1: the JSON mode tool, its input is text) */
    struct lx_stream_state inner;      /* InvokeModel: the Anthropic decoder's state */
};

/* An exception frame (or an error frame) -> one LX_DELTA_ERROR. */
static int bd_stream_error(struct lx_stream_state *st, const struct lx_stream_event *ev,
                           const struct lx_delta_sink *sink)
{
    struct lx_upstream_error *e = lx_arena_zalloc(st->scratch, sizeof(*e));
    struct lx_json doc;
    struct lx_str msg = LX_STR_NULL;
    struct lx_delta d;

    if (e == NULL)
        return LX_ENOMEM;
    lx_upstream_error_init(e);
    if (bd_parse(&doc, st->scratch, ev->data) == LX_OK && lx_json_type(&doc, 0) == LX_JSON_OBJECT) {
        msg = bd_get_str(&doc, 0, "message", st->scratch);
        if (msg.len == 0)
            msg = bd_get_str(&doc, 0, "Message", st->scratch);
    } else {
        msg = lx_str_sub(ev->data, 0, BD_MAX_MSG);
    }
    if (msg.len == 0)
        msg = LX_STR("the upstream stream failed");
    bd_classify(e, ev->event, msg, 0, st->call != NULL ? st->call->key : LX_STR_NULL);
    st->failed = true;
    lx_wire_delta_init(&d, LX_DELTA_ERROR);
    d.error = e;
    return lx_wire_emit(sink, &d);
}

static int bd_start(struct lx_stream_state *st, struct bd_stream *s,
                    const struct lx_delta_sink *sink)
{
    struct lx_delta d;

    (void)st;
    if (s->started)
        return LX_OK;
    s->started = true;
    lx_wire_delta_init(&d, LX_DELTA_START);
    return lx_wire_emit(sink, &d);
}

static int bd_block_index(const struct lx_json *doc, int obj, size_t *out)
{
    int64_t v;

    if (lx_json_int64(doc, lx_json_get(doc, obj, LX_STR("contentBlockIndex")), &v) != LX_OK ||
        v < 0 || v >= (int64_t)BD_MAX_BLOCKS)
        return LX_EPARSE;
    *out = (size_t)v;
    return LX_OK;
}

static int bd_on_block_start(struct lx_stream_state *st, struct bd_stream *s,
                             const struct lx_json *doc, const struct lx_delta_sink *sink)
{
    int tu = lx_json_get(doc, lx_json_get(doc, 0, LX_STR("start")), LX_STR("toolUse"));
    struct lx_delta d;
    size_t bi;

    if (bd_block_index(doc, 0, &bi) != LX_OK)
        return LX_EPARSE;
    if (tu < 0)
        return LX_OK; /* other block kinds carry nothing to announce */
    if (s->block_tool[bi] != 0 || s->n_tools >= (int)BD_MAX_BLOCKS)
        return LX_EPARSE;
    lx_wire_delta_init(&d, LX_DELTA_TOOL_CALL);
    d.id = bd_get_str(doc, tu, "toolUseId", st->scratch);
    d.name = bd_get_str(doc, tu, "name", st->scratch);
    if (d.id.len == 0 || d.name.len == 0)
        return LX_EPARSE;
    if (lx_str_eq(d.name, LX_STR(BD_JSON_TOOL))) {
        s->block_tool[bi] = -1;
        s->json_seen = true;
        return LX_OK;
    }
    d.tool_index = s->n_tools++;
    s->block_tool[bi] = (int16_t)(d.tool_index + 1);
    d.text = LX_STR("");
    return lx_wire_emit(sink, &d);
}

static int bd_on_block_delta(struct lx_stream_state *st, struct bd_stream *s,
                             const struct lx_json *doc, const struct lx_delta_sink *sink)
{
    int delta = lx_json_get(doc, 0, LX_STR("delta")), v;
    struct lx_delta d;
    size_t bi;

    if (bd_block_index(doc, 0, &bi) != LX_OK || lx_json_type(doc, delta) != LX_JSON_OBJECT)
        return LX_EPARSE;
    if ((v = lx_json_get(doc, delta, LX_STR("text"))) >= 0) {
        lx_wire_delta_init(&d, LX_DELTA_TEXT);
        if (lx_json_type(doc, v) != LX_JSON_STRING)
            return LX_EPARSE;
        if (lx_json_str(doc, v, st->scratch, &d.text) != LX_OK)
            return LX_ENOMEM;
        return lx_wire_emit(sink, &d);
    }
    if ((v = lx_json_get(doc, delta, LX_STR("toolUse"))) >= 0) {
        int in = lx_json_get(doc, v, LX_STR("input"));

        if (s->block_tool[bi] == 0 || lx_json_type(doc, in) != LX_JSON_STRING)
            return LX_EPARSE; /* input for a block that never started as a tool */
        if (s->block_tool[bi] < 0) {
            lx_wire_delta_init(&d, LX_DELTA_TEXT);
        } else {
            lx_wire_delta_init(&d, LX_DELTA_TOOL_CALL);
            d.tool_index = s->block_tool[bi] - 1;
        }
        if (lx_json_str(doc, in, st->scratch, &d.text) != LX_OK)
            return LX_ENOMEM;
        return lx_wire_emit(sink, &d);
    }
    if ((v = lx_json_get(doc, delta, LX_STR("reasoningContent"))) >= 0) {
        int f;

        if ((f = lx_json_get(doc, v, LX_STR("text"))) >= 0)
            lx_wire_delta_init(&d, LX_DELTA_THINKING);
        else if ((f = lx_json_get(doc, v, LX_STR("signature"))) >= 0)
            lx_wire_delta_init(&d, LX_DELTA_THINKING_SIGNATURE);
        else if ((f = lx_json_get(doc, v, LX_STR("redactedContent"))) >= 0)
            lx_wire_delta_init(&d, LX_DELTA_REDACTED_THINKING);
        else
            return LX_OK;
        if (lx_json_type(doc, f) != LX_JSON_STRING)
            return LX_EPARSE;
        if (lx_json_str(doc, f, st->scratch, &d.text) != LX_OK)
            return LX_ENOMEM;
        return lx_wire_emit(sink, &d);
    }
    return LX_OK; /* citations and future delta kinds */
}

static int bd_converse_event(struct lx_stream_state *st, struct bd_stream *s,
                             const struct lx_stream_event *ev, const struct lx_delta_sink *sink)
{
    struct lx_json doc;
    struct lx_delta d;
    int rc;

    if (bd_parse(&doc, st->scratch, ev->data) != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        return LX_EPARSE;
    if (lx_str_eq(ev->event, LX_STR("messageStart")))
        return bd_start(st, s, sink);
    if (lx_str_eq(ev->event, LX_STR("contentBlockStart"))) {
        rc = bd_start(st, s, sink);
        return rc != LX_OK ? rc : bd_on_block_start(st, s, &doc, sink);
    }
    if (lx_str_eq(ev->event, LX_STR("contentBlockDelta"))) {
        rc = bd_start(st, s, sink);
        return rc != LX_OK ? rc : bd_on_block_delta(st, s, &doc, sink);
    }
    if (lx_str_eq(ev->event, LX_STR("contentBlockStop"))) {
        size_t bi;

        return bd_block_index(&doc, 0, &bi);
    }
    if (lx_str_eq(ev->event, LX_STR("messageStop"))) {
        int amrf = lx_json_get(&doc, 0, LX_STR("additionalModelResponseFields"));

        rc = bd_start(st, s, sink);
        if (rc != LX_OK)
            return rc;
        lx_wire_delta_init(&d, LX_DELTA_FINISH);
        d.finish_raw = bd_get_str(&doc, 0, "stopReason", st->scratch);
        if (d.finish_raw.len == 0)
            return LX_EPARSE;
        d.finish = bd_finish(d.finish_raw);
        if (d.finish == LX_FINISH_TOOL_CALLS && s->n_tools == 0 && s->json_seen)
            d.finish = LX_FINISH_STOP; /* only the JSON mode tool was called */
        /* Anthropic models say which stop sequence matched */
        d.stop_sequence = bd_get_str(&doc, lx_json_get(&doc, amrf, LX_STR("delta")),
                                     "stop_sequence", st->scratch);
        s->finished = true;
        return lx_wire_emit(sink, &d);
    }
    if (lx_str_eq(ev->event, LX_STR("metadata"))) {
        /* the last event of a ConverseStream: usage, then the end */
        lx_wire_delta_init(&d, LX_DELTA_USAGE);
        d.usage = bd_usage(&doc, lx_json_get(&doc, 0, LX_STR("usage")));
        rc = lx_wire_emit(sink, &d);
        if (rc != LX_OK)
            return rc;
        lx_wire_delta_init(&d, LX_DELTA_DONE);
        st->done = true;
        return lx_wire_emit(sink, &d);
    }
    return LX_OK; /* unknown event types are ignored (forward compatible) */
}

/* InvokeModelWithResponseStream: a "chunk" frame {"bytes":"<base64 Anthropic event>"} goes to
 * the Anthropic decoder, with its own state kept in ours. */
static int bd_invoke_event(struct lx_stream_state *st, struct bd_stream *s,
                           const struct lx_stream_event *ev, const struct lx_delta_sink *sink,
                           struct lx_err *err)
{
#if BD_HAVE_ANTHROPIC
    struct lx_json doc;
    struct lx_str b64, raw;
    struct lx_stream_event inner;
    int rc;

    if (!lx_str_eq(ev->event, LX_STR("chunk")))
        return LX_OK;
    if (bd_parse(&doc, st->scratch, ev->data) != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        return LX_EPARSE;
    b64 = lx_json_str_raw(&doc, lx_json_get(&doc, 0, LX_STR("bytes")));
    if (lx_json_type(&doc, lx_json_get(&doc, 0, LX_STR("bytes"))) != LX_JSON_STRING ||
        bd_base64_decode(b64, st->scratch, &raw) != LX_OK)
        return LX_EPARSE;
    /* the Anthropic decoder dispatches on the SSE event name: it is the JSON "type" */
    if (bd_parse(&doc, st->scratch, raw) != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        return LX_EPARSE;
    inner.event = bd_get_str(&doc, 0, "type", st->scratch);
    inner.data = raw;
    inner.exception = false;
    s->inner.call = st->call;
    s->inner.a = st->a;
    s->inner.scratch = st->scratch;
    rc = lx_provider_anthropic.parse_event(&s->inner, &inner, sink, err);
    st->done = s->inner.done;
    st->failed = st->failed || s->inner.failed;
    return rc;
#else
    (void)st;
    (void)s;
    (void)ev;
    (void)sink;
    (void)err;
    (void)bd_base64_decode;
    return LX_EPARSE;
#endif
}

static int bd_parse_event(struct lx_stream_state *st, const struct lx_stream_event *ev,
                          const struct lx_delta_sink *sink, struct lx_err *err)
{
    struct bd_stream *s = st->priv;
    int rc;

    if (s == NULL) {
        s = lx_arena_zalloc(st->a, sizeof(*s));
        if (s == NULL)
            return LX_ENOMEM;
        st->priv = s;
    }
    if (st->done || st->failed)
        return LX_OK; /* nothing follows the end; AWS closes the body */
    if (ev->exception)
        rc = bd_stream_error(st, ev, sink);
    else if (bd_invoke_mode(st->call))
        rc = bd_invoke_event(st, s, ev, sink, err);
    else
        rc = bd_converse_event(st, s, ev, sink);
    if (rc == LX_EPARSE)
        lx_err_set(err, LX_EPARSE, 502, "bedrock: malformed %.*s event",
                   (int)(ev->event.len > 40 ? 40 : ev->event.len),
                   ev->event.ptr != NULL ? ev->event.ptr : "");
    else if (rc == LX_ENOMEM)
        lx_err_set(err, LX_ENOMEM, 503, "bedrock: out of memory");
    return rc;
}

/* ---- embeddings: Titan and Cohere on Bedrock, via InvokeModel -------------------------------- */

static bool bd_is_titan(struct lx_str model)
{
    return lx_wire_contains(model, LX_STR("amazon.titan-embed"));
}

static bool bd_is_cohere(struct lx_str model)
{
    return lx_wire_contains(model, LX_STR("cohere.embed"));
}

static int bd_build_embeddings(const struct lx_provider_call *call, const struct lx_embed_req *req,
                               struct lx_arena *a, struct lx_upstream_req *out, struct lx_err *err)
{
    struct lx_buf b = LX_BUF_INIT(BD_MAX_BODY);
    struct lx_json_writer w;
    int rc;

    memset(out, 0, sizeof(*out));
    if (req->n_inputs == 0) {
        lx_err_set(err, LX_EINVAL, 400, "bedrock: embeddings need at least one input");
        return LX_EINVAL;
    }
    lx_json_writer_init(&w, &b);
    lx_json_write_object_begin(&w);
    if (bd_is_titan(call->model)) {
        if (req->n_inputs > 1) {
            lx_buf_release(&b);
            lx_err_set(err, LX_EINVAL, 400,
                       "bedrock: Titan embeddings take one input per request (got %zu)",
                       req->n_inputs);
            return LX_EINVAL;
        }
        if (req->dimensions > 0 && lx_wire_contains(call->model, LX_STR("titan-embed-text-v1"))) {
            lx_buf_release(&b);
            lx_err_set(err, LX_EINVAL, 400,
                       "bedrock: amazon.titan-embed-text-v1 has a fixed size: dimensions is not "
                       "supported (v2 takes 256, 512 or 1024)");
            return LX_EINVAL;
        }
        lx_json_write_key(&w, LX_STR("inputText"));
        lx_json_write_str(&w, req->inputs[0]);
        if (req->dimensions > 0) {
            lx_json_write_key(&w, LX_STR("dimensions"));
            lx_json_write_int(&w, req->dimensions);
        }
    } else if (bd_is_cohere(call->model)) {
        lx_json_write_key(&w, LX_STR("texts"));
        lx_json_write_array_begin(&w);
        for (size_t i = 0; i < req->n_inputs; i++)
            lx_json_write_str(&w, req->inputs[i]);
        lx_json_write_array_end(&w);
        lx_json_write_key(&w, LX_STR("input_type"));
        lx_json_write_str(&w,
                          req->input_type.len > 0 ? req->input_type : LX_STR("search_document"));
        if (req->dimensions > 0) {
            lx_json_write_key(&w, LX_STR("output_dimension"));
            lx_json_write_int(&w, req->dimensions);
        }
    } else {
        lx_buf_release(&b);
        lx_err_set(err, LX_EINVAL, 400,
                   "bedrock: embeddings are supported for amazon.titan-embed-* and "
                   "cohere.embed-* models");
        return LX_EINVAL;
    }
    lx_json_write_object_end(&w);
    rc = lx_json_writer_finish(&w);
    if (rc == LX_OK) {
        out->body = lx_arena_dup(a, lx_buf_str(&b));
        if (out->body.ptr == NULL)
            rc = LX_ENOMEM;
    }
    lx_buf_release(&b);
    if (rc != LX_OK) {
        lx_err_set(err, rc, rc == LX_ETOOBIG ? 413 : 503, "bedrock: cannot build the body: %s",
                   lx_strerror(rc));
        return rc;
    }
    rc = bd_target(call, "invoke", false, a, out, err);
    if (rc == LX_ENOMEM)
        lx_err_set(err, rc, 503, "bedrock: out of memory");
    return rc;
}

static int bd_parse_embeddings(const struct lx_provider_call *call, struct lx_str body,
                               struct lx_arena *a, struct lx_embed_resp *out, struct lx_err *err)
{
    struct lx_json doc;
    int v;

    memset(out, 0, sizeof(*out));
    out->usage = (struct lx_usage)LX_USAGE_INIT;
    if (bd_parse(&doc, a, body) != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        goto bad;
    if ((v = lx_json_get(&doc, 0, LX_STR("embedding"))) >= 0) {
        /* Titan: one vector */
        if (lx_json_type(&doc, v) != LX_JSON_ARRAY)
            goto bad;
        out->vectors = lx_arena_alloc(a, sizeof(*out->vectors));
        if (out->vectors == NULL)
            return LX_ENOMEM;
        out->vectors[0] = lx_json_raw(&doc, v);
        out->n_vectors = 1;
        out->usage.input = lx_wire_int(&doc, 0, "inputTextTokenCount");
        out->usage.total = out->usage.input;
        return LX_OK;
    }
    v = lx_json_get(&doc, 0, LX_STR("embeddings"));
    if (lx_json_type(&doc, v) == LX_JSON_OBJECT) /* embedding_types form: {"float": [...]} */
        v = lx_json_get(&doc, v, LX_STR("float"));
    if (lx_json_type(&doc, v) != LX_JSON_ARRAY)
        goto bad;
    out->vectors = lx_arena_alloc(a, (lx_json_count(&doc, v) + 1) * sizeof(*out->vectors));
    if (out->vectors == NULL)
        return LX_ENOMEM;
    for (int e = lx_json_first(&doc, v); e >= 0; e = lx_json_sibling(&doc, v, e)) {
        if (lx_json_type(&doc, e) != LX_JSON_ARRAY)
            goto bad;
        out->vectors[out->n_vectors++] = lx_json_raw(&doc, e);
    }
    (void)call;
    return LX_OK;
bad:
    lx_err_set(err, LX_EPARSE, 502, "bedrock: the embeddings answer is malformed");
    return LX_EPARSE;
}

const struct lx_provider_ops lx_provider_bedrock = {
    .name = "bedrock",
    .caps = LX_CAP_STREAM | LX_CAP_TOOLS | LX_CAP_VISION | LX_CAP_EMBEDDINGS | LX_CAP_COUNT_TOKENS,
    .framing = LX_FRAMING_EVENTSTREAM,
    .build_request = bd_build_request,
    .parse_response = bd_parse_response,
    .parse_event = bd_parse_event,
    .map_error = bd_map_error,
    .build_embeddings = bd_build_embeddings,
    .parse_embeddings = bd_parse_embeddings,
};
