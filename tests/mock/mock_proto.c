/* mock_proto.c - the provider protocols the mock speaks besides OpenAI: which route a path is
 * (Anthropic, Gemini/Vertex, Bedrock, Cohere, Ollama, Workers AI, Azure), and the bodies,
 * stream events and error bodies of each, written into a caller's buffer. No I/O, no state:
 * everything here runs on the mock's one loop thread (tests/mock/README.md has the routes). */
#include "tests/mock/mock.h"

#include <stdio.h>
#include <string.h>

#include "core/escape.h"

#define MOCK_TEXT                                                                              \
    "Hello! This is mockllm, the llmux mock provider. It gives the same short answer to every " \
    "request so that a benchmark measures the gateway and not the model."

/* --- small helpers ------------------------------------------------------------------------ */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t mock_pct_decode(struct lx_str s, char *dst, size_t cap)
{
    size_t n = 0;

    if (cap == 0)
        return 0;
    for (size_t i = 0; i < s.len && n + 1 < cap; i++) {
        char ch = s.ptr[i];
        if (ch == '%' && i + 2 < s.len + 0 && hexval(s.ptr[i + 1]) >= 0 &&
            hexval(s.ptr[i + 2]) >= 0) {
            ch = (char)(hexval(s.ptr[i + 1]) * 16 + hexval(s.ptr[i + 2]));
            i += 2;
        }
        dst[n++] = ch;
    }
    dst[n] = '\0';
    return n;
}

static long find_str(struct lx_str s, const char *needle);

bool mock_model_items(struct lx_str model, char *buf, size_t cap, struct lx_str *items)
{
    size_t n = 0;
    long at = find_str(model, "mock:");

    if (at >= 0) { /* anywhere: "claude-mock:…" can match a "claude-*" route */
        *items = lx_str_sub(model, (size_t)at + 5, model.len);
        return true;
    }
    at = find_str(model, "mockx-");
    if (at < 0 || cap == 0)
        return false;
    model = lx_str_sub(model, (size_t)at, model.len);
    if (model.len % 2 != 0)
        return false;
    for (size_t i = 6; i + 1 < model.len && n + 1 < cap; i += 2) {
        int hi = hexval(model.ptr[i]), lo = hexval(model.ptr[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        buf[n++] = (char)(hi * 16 + lo);
    }
    buf[n] = '\0';
    *items = lx_str_make(buf, n);
    return true;
}

static long find_str(struct lx_str s, const char *needle)
{
    size_t n = strlen(needle);

    if (n == 0 || s.len < n)
        return -1;
    for (size_t i = 0; i + n <= s.len; i++)
        if (s.ptr[i] == needle[0] && memcmp(s.ptr + i, needle, n) == 0)
            return (long)i;
    return -1;
}

static long rfind_char(struct lx_str s, char c)
{
    for (size_t i = s.len; i > 0; i--)
        if (s.ptr[i - 1] == c)
            return (long)(i - 1);
    return -1;
}

static void set_model(struct mock_route *r, struct lx_str enc)
{
    mock_pct_decode(enc, r->model, sizeof(r->model));
}

/* "/models/{model}:{method}" at the end of path (Gemini and Vertex): the model is everything
 * between "/models/" and the last ':' (a model may carry "mock:" items with colons). */
static bool split_model_method(struct lx_str rest, struct mock_route *r, struct lx_str *method)
{
    long colon = rfind_char(rest, ':');

    if (colon <= 0)
        return false;
    set_model(r, lx_str_sub(rest, 0, (size_t)colon));
    *method = lx_str_sub(rest, (size_t)colon + 1, rest.len);
    return true;
}

static bool gemini_method(struct mock_route *r, struct lx_str method)
{
    r->proto = MP_GEMINI;
    if (lx_str_eq(method, LX_STR("generateContent"))) {
        r->op = MO_CHAT;
    } else if (lx_str_eq(method, LX_STR("streamGenerateContent"))) {
        r->op = MO_CHAT;
        r->stream = true;
    } else if (lx_str_eq(method, LX_STR("countTokens"))) {
        r->op = MO_COUNT;
    } else if (lx_str_eq(method, LX_STR("embedContent")) ||
               lx_str_eq(method, LX_STR("batchEmbedContents"))) {
        r->op = MO_EMBED;
        r->batch = method.len > 12;
    } else {
        return false;
    }
    return true;
}

bool mock_route_match(struct lx_str path, bool post, struct mock_route *r)
{
    struct lx_str rest, method;
    long at;

    memset(r, 0, sizeof(*r));
    r->proto = MP_OPENAI;
    r->op = MO_NONE;
    if (!post) {
        if (lx_str_eq(path, LX_STR("/mock/stats")))
            r->op = MO_STATS;
        return r->op != MO_NONE;
    }
    if (lx_str_eq(path, LX_STR("/mock/reset"))) {
        r->op = MO_RESET;
        return true;
    }
    /* Anthropic */
    if (lx_str_eq(path, LX_STR("/v1/messages")) || lx_str_eq(path, LX_STR("/messages"))) {
        r->proto = MP_ANTHROPIC;
        r->op = MO_CHAT;
        return true;
    }
    if (lx_str_eq(path, LX_STR("/v1/messages/count_tokens")) ||
        lx_str_eq(path, LX_STR("/messages/count_tokens"))) {
        r->proto = MP_ANTHROPIC;
        r->op = MO_COUNT;
        return true;
    }
    /* Vertex: /v1/projects/{p}/locations/{l}/publishers/{google|anthropic}/models/{m}:{method} */
    if (lx_str_starts_with(path, LX_STR("/v1/projects/")) ||
        lx_str_starts_with(path, LX_STR("/v1beta1/projects/"))) {
        at = find_str(path, "/publishers/");
        if (at < 0)
            return false;
        rest = lx_str_sub(path, (size_t)at + 12, path.len);
        bool anthropic = lx_str_starts_with(rest, LX_STR("anthropic/models/"));
        if (!anthropic && !lx_str_starts_with(rest, LX_STR("google/models/")))
            return false;
        rest = lx_str_sub(rest, anthropic ? 17 : 14, rest.len);
        if (!split_model_method(rest, r, &method))
            return false;
        if (anthropic) {
            r->proto = MP_ANTHROPIC;
            r->op = MO_CHAT;
            if (lx_str_eq(method, LX_STR("streamRawPredict")))
                r->stream = true;
            else if (!lx_str_eq(method, LX_STR("rawPredict")))
                return false;
            return true;
        }
        return gemini_method(r, method);
    }
    /* Gemini: /v1beta/models/{m}:{method}, /models/{m}:{method} */
    if (lx_str_starts_with(path, LX_STR("/v1beta/models/")) ||
        lx_str_starts_with(path, LX_STR("/v1/models/")) ||
        lx_str_starts_with(path, LX_STR("/models/"))) {
        rest = lx_str_sub(path, (size_t)find_str(path, "models/") + 7, path.len);
        return split_model_method(rest, r, &method) && gemini_method(r, method);
    }
    /* Bedrock: /model/{id}/converse(-stream), /model/{id}/invoke(-with-response-stream) */
    if (lx_str_starts_with(path, LX_STR("/model/"))) {
        rest = lx_str_sub(path, 7, path.len);
        long slash = rfind_char(rest, '/');
        if (slash <= 0)
            return false;
        set_model(r, lx_str_sub(rest, 0, (size_t)slash));
        method = lx_str_sub(rest, (size_t)slash + 1, rest.len);
        r->op = MO_CHAT;
        if (lx_str_eq(method, LX_STR("converse"))) {
            r->proto = MP_BEDROCK;
        } else if (lx_str_eq(method, LX_STR("converse-stream"))) {
            r->proto = MP_BEDROCK;
            r->stream = true;
        } else if (lx_str_eq(method, LX_STR("invoke"))) {
            r->proto = MP_BEDROCK_INVOKE;
        } else if (lx_str_eq(method, LX_STR("invoke-with-response-stream"))) {
            r->proto = MP_BEDROCK_INVOKE;
            r->stream = true;
        } else {
            return false;
        }
        return true;
    }
    /* Cohere v2 */
    if (lx_str_eq(path, LX_STR("/v2/chat"))) {
        r->proto = MP_COHERE;
        r->op = MO_CHAT;
        return true;
    }
    if (lx_str_eq(path, LX_STR("/v2/embed"))) {
        r->proto = MP_COHERE;
        r->op = MO_EMBED;
        return true;
    }
    /* Ollama native */
    if (lx_str_eq(path, LX_STR("/api/chat"))) {
        r->proto = MP_OLLAMA;
        r->op = MO_CHAT;
        return true;
    }
    if (lx_str_eq(path, LX_STR("/api/embed"))) {
        r->proto = MP_OLLAMA;
        r->op = MO_EMBED;
        return true;
    }
    /* Workers AI: /ai/run/{model}, /client/v4/accounts/{id}/ai/run/{model} (slashes kept) */
    at = find_str(path, "/ai/run/");
    if (at == 0 || (at > 0 && lx_str_starts_with(path, LX_STR("/client/v4/accounts/")))) {
        r->proto = MP_WORKERS;
        r->op = MO_CHAT;
        set_model(r, lx_str_sub(path, (size_t)at + 8, path.len));
        return true;
    }
    /* Azure: /openai/deployments/{d}/chat/completions|embeddings, /openai/v1/chat/completions */
    if (lx_str_starts_with(path, LX_STR("/openai/deployments/"))) {
        rest = lx_str_sub(path, 20, path.len);
        long slash = lx_str_find_char(rest, '/');
        if (slash <= 0)
            return false;
        set_model(r, lx_str_sub(rest, 0, (size_t)slash));
        method = lx_str_sub(rest, (size_t)slash, rest.len);
        if (lx_str_eq(method, LX_STR("/chat/completions")))
            r->op = MO_CHAT;
        else if (lx_str_eq(method, LX_STR("/completions")))
            r->op = MO_COMPLETIONS;
        else if (lx_str_eq(method, LX_STR("/embeddings")))
            r->op = MO_EMBED;
        else
            return false;
        return true;
    }
    /* an OpenAI-compatible base URL without /v1 (a local server's origin) */
    if (lx_str_eq(path, LX_STR("/chat/completions"))) {
        r->op = MO_CHAT;
        return true;
    }
    if (lx_str_eq(path, LX_STR("/embeddings"))) {
        r->op = MO_EMBED;
        return true;
    }
    if (lx_str_eq(path, LX_STR("/openai/v1/chat/completions"))) {
        r->op = MO_CHAT;
        return true;
    }
    if (lx_str_eq(path, LX_STR("/openai/v1/embeddings"))) {
        r->op = MO_EMBED;
        return true;
    }
    return false;
}

/* --- CRC-32 and base64 (own copies: the mock needs only core from libllmux) ------------- */

static uint32_t crc32_update(uint32_t crc, const void *p, size_t n)
{
    static uint32_t table[256];
    static bool ready;
    const unsigned char *b = p;

    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = true;
    }
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint32_t mock_crc32(const void *p, size_t n)
{
    return crc32_update(0, p, n);
}

static void base64(struct lx_buf *b, const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char out[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63],
                       i + 1 < n ? tab[(v >> 6) & 63] : '=', i + 2 < n ? tab[v & 63] : '='};
        lx_buf_append(b, out, 4);
    }
}

static void put_u32(struct lx_buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    lx_buf_append(b, x, 4);
}

static void put_header(struct lx_buf *b, const char *name, const char *value)
{
    size_t n = strlen(name), v = strlen(value);
    unsigned char pre[1] = {(unsigned char)n};
    unsigned char typ[3] = {7, (unsigned char)(v >> 8), (unsigned char)v};

    lx_buf_append(b, pre, 1);
    lx_buf_append(b, name, n);
    lx_buf_append(b, typ, 3);
    lx_buf_append(b, value, v);
}

void mock_es_frame(struct lx_buf *b, const char *message_type, const char *event_type,
                   struct lx_str payload)
{
    size_t start = b->len, hstart, hlen;
    bool exc = strcmp(message_type, "exception") == 0;

    put_u32(b, 0);
    put_u32(b, 0);
    put_u32(b, 0);
    hstart = b->len;
    put_header(b, exc ? ":exception-type" : ":event-type", event_type);
    put_header(b, ":content-type", "application/json");
    put_header(b, ":message-type", message_type);
    hlen = b->len - hstart;
    lx_buf_append_str(b, payload);
    if (b->err != 0)
        return;
    uint32_t total = (uint32_t)(b->len - start + 4);
    unsigned char *p = (unsigned char *)b->ptr + start;
    p[0] = (unsigned char)(total >> 24);
    p[1] = (unsigned char)(total >> 16);
    p[2] = (unsigned char)(total >> 8);
    p[3] = (unsigned char)total;
    p[4] = (unsigned char)(hlen >> 24);
    p[5] = (unsigned char)(hlen >> 16);
    p[6] = (unsigned char)(hlen >> 8);
    p[7] = (unsigned char)hlen;
    uint32_t pc = mock_crc32(p, 8);
    p[8] = (unsigned char)(pc >> 24);
    p[9] = (unsigned char)(pc >> 16);
    p[10] = (unsigned char)(pc >> 8);
    p[11] = (unsigned char)pc;
    put_u32(b, mock_crc32(b->ptr + start, b->len - start));
}

/* --- non-stream bodies ------------------------------------------------------------------- */

/* Number of entries of the value of key: 1 for a string, the number of strings for an array
 * of strings (a byte scan: the mock trusts its clients), at least 1. */
static unsigned count_inputs(struct lx_str body, const char *key)
{
    long p = mock_json_find(body, key);
    unsigned n = 0;
    bool in_str = false;

    if (p < 0 || (size_t)p >= body.len || body.ptr[p] != '[')
        return 1;
    for (size_t i = (size_t)p + 1; i < body.len; i++) {
        char ch = body.ptr[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
            n++;
        } else if (ch == ']') {
            break;
        }
    }
    return n ? n : 1;
}

static unsigned count_key(struct lx_str body, const char *quoted_key)
{
    unsigned n = 0;
    struct lx_str s = body;
    long at;

    while ((at = find_str(s, quoted_key)) >= 0) {
        n++;
        s = lx_str_sub(s, (size_t)at + 1, s.len);
    }
    return n ? n : 1;
}

static void str(struct lx_buf *b, const char *s)
{
    lx_buf_append_char(b, '"');
    lx_json_escape(b, lx_str_cstr(s));
    lx_buf_append_char(b, '"');
}

#define VEC "[0.0023064255,-0.009327292,-0.0028842222,0.021545823]"

static void anthropic_message(struct lx_buf *b, const char *id, const char *model)
{
    lx_buf_appendf(b, "{\"id\":\"%s\",\"type\":\"message\",\"role\":\"assistant\",\"model\":", id);
    str(b, model);
    lx_buf_append_cstr(b, ",\"content\":[{\"type\":\"text\",\"text\":\"" MOCK_TEXT "\"}],"
                          "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{"
                          "\"input_tokens\":19,\"cache_creation_input_tokens\":0,"
                          "\"cache_read_input_tokens\":0,\"output_tokens\":33}}");
}

void mock_proto_body(struct lx_buf *b, const struct mock_route *r, const char *id,
                     const char *model, struct lx_str req)
{
    unsigned n;

    switch (r->proto) {
    case MP_ANTHROPIC:
    case MP_BEDROCK_INVOKE:
        if (r->op == MO_COUNT) {
            lx_buf_appendf(b, "{\"input_tokens\":%zu}", req.len / 4 + 1);
            return;
        }
        anthropic_message(b, id, model);
        return;
    case MP_GEMINI:
        if (r->op == MO_COUNT) {
            lx_buf_appendf(b, "{\"totalTokens\":%zu}", req.len / 4 + 1);
            return;
        }
        if (r->op == MO_EMBED) {
            if (!r->batch) {
                lx_buf_append_cstr(b, "{\"embedding\":{\"values\":" VEC "}}");
                return;
            }
            n = count_key(req, "\"content\"");
            lx_buf_append_cstr(b, "{\"embeddings\":[");
            for (unsigned i = 0; i < n; i++)
                lx_buf_append_cstr(b, i ? ",{\"values\":" VEC "}" : "{\"values\":" VEC "}");
            lx_buf_append_cstr(b, "]}");
            return;
        }
        lx_buf_append_cstr(b, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"" MOCK_TEXT
                              "\"}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
                              "\"usageMetadata\":{\"promptTokenCount\":19,\"candidatesTokenCount\":"
                              "33,\"totalTokenCount\":52},\"modelVersion\":");
        str(b, model);
        lx_buf_appendf(b, ",\"responseId\":\"%s\"}", id);
        return;
    case MP_BEDROCK:
        lx_buf_append_cstr(b, "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{"
                              "\"text\":\"" MOCK_TEXT "\"}]}},\"stopReason\":\"end_turn\","
                              "\"usage\":{\"inputTokens\":19,\"outputTokens\":33,\"totalTokens\":"
                              "52},\"metrics\":{\"latencyMs\":1}}");
        return;
    case MP_COHERE:
        if (r->op == MO_EMBED) {
            n = count_inputs(req, "texts");
            lx_buf_appendf(b, "{\"id\":\"%s\",\"embeddings\":{\"float\":[", id);
            for (unsigned i = 0; i < n; i++)
                lx_buf_append_cstr(b, i ? "," VEC : VEC);
            lx_buf_append_cstr(b, "]},\"texts\":[],\"meta\":{\"api_version\":{\"version\":\"2\"},"
                                  "\"billed_units\":{\"input_tokens\":8}},\"response_type\":"
                                  "\"embeddings_by_type\"}");
            return;
        }
        lx_buf_appendf(b, "{\"id\":\"%s\",\"message\":{\"role\":\"assistant\",\"content\":[{"
                          "\"type\":\"text\",\"text\":\"" MOCK_TEXT "\"}]},\"finish_reason\":"
                          "\"COMPLETE\",\"usage\":{\"billed_units\":{\"input_tokens\":19,"
                          "\"output_tokens\":33},\"tokens\":{\"input_tokens\":19,"
                          "\"output_tokens\":33}}}",
                       id);
        return;
    case MP_OLLAMA:
        if (r->op == MO_EMBED) {
            n = count_inputs(req, "input");
            lx_buf_append_cstr(b, "{\"model\":");
            str(b, model);
            lx_buf_append_cstr(b, ",\"embeddings\":[");
            for (unsigned i = 0; i < n; i++)
                lx_buf_append_cstr(b, i ? "," VEC : VEC);
            lx_buf_append_cstr(b, "],\"total_duration\":1000,\"load_duration\":100,"
                                  "\"prompt_eval_count\":8}");
            return;
        }
        lx_buf_append_cstr(b, "{\"model\":");
        str(b, model);
        lx_buf_append_cstr(b, ",\"created_at\":\"2025-01-01T00:00:00.000000Z\",\"message\":{"
                              "\"role\":\"assistant\",\"content\":\"" MOCK_TEXT "\"},"
                              "\"done_reason\":\"stop\",\"done\":true,\"total_duration\":1000000,"
                              "\"load_duration\":1000,\"prompt_eval_count\":19,"
                              "\"prompt_eval_duration\":1000,\"eval_count\":33,"
                              "\"eval_duration\":1000}");
        return;
    case MP_WORKERS:
        lx_buf_append_cstr(b, "{\"result\":{\"response\":\"" MOCK_TEXT "\",\"tool_calls\":[],"
                              "\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":33,"
                              "\"total_tokens\":52}},\"success\":true,\"errors\":[],"
                              "\"messages\":[]}");
        return;
    case MP_OPENAI:
        break;
    }
}

/* --- errors ----------------------------------------------------------------------------- */

static const char *anthropic_type(unsigned s)
{
    switch (s) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 504: return "timeout_error";
    case 529: return "overloaded_error";
    default: return s < 500 ? "invalid_request_error" : "api_error";
    }
}

static const char *grpc_status(unsigned s)
{
    switch (s) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 409: return "ABORTED";
    case 429: return "RESOURCE_EXHAUSTED";
    case 499: return "CANCELLED";
    case 501: return "UNIMPLEMENTED";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return s < 500 ? "FAILED_PRECONDITION" : "INTERNAL";
    }
}

static const char *bedrock_exception(unsigned s)
{
    switch (s) {
    case 400: return "ValidationException";
    case 403: return "AccessDeniedException";
    case 404: return "ResourceNotFoundException";
    case 408: return "ModelTimeoutException";
    case 424: return "ModelErrorException";
    case 429: return "ThrottlingException";
    case 503: return "ServiceUnavailableException";
    default: return s < 500 ? "ValidationException" : "InternalServerException";
    }
}

static const char *workers_code(unsigned s)
{
    switch (s) {
    case 401: return "10000";
    case 404: return "5007";
    case 429: return "3040";
    default: return s < 500 ? "5006" : "3043";
    }
}

unsigned mock_error_status(enum mock_proto p, const struct mock_opts *o)
{
    if (o->key_invalid)
        return p == MP_GEMINI ? 400 : 401;
    if (o->quota)
        return p == MP_ANTHROPIC ? 400 : p == MP_OPENAI || p == MP_GEMINI ? 429 : 402;
    if (o->daily_quota || o->retry_delay_ms != MOCK_NO_VALUE)
        return 429;
    return 0;
}

void mock_openai_error(struct lx_buf *b, unsigned status, const char *msg,
                       const struct mock_opts *o)
{
    const char *type = status == 429   ? "rate_limit_error"
                       : status == 401 ? "authentication_error"
                       : status >= 500 ? "server_error"
                                       : "invalid_request_error";

    if (o != NULL && o->key_invalid) {
        lx_buf_append_cstr(b, "{\"error\":{\"message\":\"Incorrect API key provided: sk-mock"
                              "***********x9Qa. You can find your API key at "
                              "https://platform.openai.com/account/api-keys.\",\"type\":"
                              "\"invalid_request_error\",\"param\":null,\"code\":"
                              "\"invalid_api_key\"}}");
        return;
    }
    if (o != NULL && (o->quota || o->daily_quota)) {
        lx_buf_append_cstr(b, "{\"error\":{\"message\":\"You exceeded your current quota, "
                              "please check your plan and billing details.\",\"type\":"
                              "\"insufficient_quota\",\"param\":null,\"code\":"
                              "\"insufficient_quota\"}}");
        return;
    }
    lx_buf_appendf(b,
                   "{\"error\":{\"message\":\"%s\",\"type\":\"%s\",\"param\":null,"
                   "\"code\":\"mock_%u\"}}",
                   msg, type, status);
}

/* google.rpc.Status with the details o asks for: ErrorInfo API_KEY_INVALID, QuotaFailure
 * (per day with daily-quota, else per minute when RetryInfo is given), RetryInfo. */
static void google_error(struct lx_buf *b, unsigned status, const char *msg,
                         const struct mock_opts *o)
{
    bool retry = o != NULL && o->retry_delay_ms != MOCK_NO_VALUE;
    bool daily = o != NULL && (o->daily_quota || (o->quota && status == 429));

    if (o != NULL && o->key_invalid) {
        lx_buf_appendf(b,
                       "{\"error\":{\"code\":%u,\"message\":\"API key not valid. Please pass a "
                       "valid API key.\",\"status\":\"%s\",\"details\":[{\"@type\":"
                       "\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":"
                       "\"API_KEY_INVALID\",\"domain\":\"googleapis.com\",\"metadata\":{"
                       "\"service\":\"generativelanguage.googleapis.com\"}}]}}",
                       status, grpc_status(status));
        return;
    }
    if (!retry && !daily) {
        lx_buf_appendf(b, "{\"error\":{\"code\":%u,\"message\":\"%s\",\"status\":\"%s\"}}",
                       status, msg, grpc_status(status));
        return;
    }
    lx_buf_appendf(b,
                   "{\"error\":{\"code\":%u,\"message\":\"You exceeded your current quota, "
                   "please check your plan and billing details.\",\"status\":\"%s\","
                   "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\","
                   "\"violations\":[{\"quotaMetric\":\"generativelanguage.googleapis.com/"
                   "generate_content_free_tier_requests\",\"quotaId\":\"%s\"}]},"
                   "{\"@type\":\"type.googleapis.com/google.rpc.Help\",\"links\":[{"
                   "\"description\":\"Learn more about Gemini API quotas\",\"url\":"
                   "\"https://ai.google.dev/gemini-api/docs/rate-limits\"}]}",
                   status, grpc_status(status),
                   daily ? "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
                         : "GenerateRequestsPerMinutePerProjectPerModel-FreeTier");
    if (retry) {
        unsigned long long ms = (unsigned long long)o->retry_delay_ms;
        if (ms % 1000 == 0)
            lx_buf_appendf(b,
                           ",{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\","
                           "\"retryDelay\":\"%llus\"}",
                           ms / 1000);
        else
            lx_buf_appendf(b,
                           ",{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\","
                           "\"retryDelay\":\"%llu.%03llus\"}",
                           ms / 1000, ms % 1000);
    }
    lx_buf_append_cstr(b, "]}}");
}

bool mock_proto_error(struct lx_buf *b, struct lx_buf *hdr, enum mock_proto p, unsigned status,
                      const char *msg, const char *id, const struct mock_opts *o)
{
    switch (p) {
    case MP_ANTHROPIC:
        if (o != NULL && o->key_invalid)
            msg = "invalid x-api-key";
        else if (o != NULL && o->quota)
            msg = "Your credit balance is too low to access the Anthropic API. Please go to "
                  "Plans & Billing to upgrade or purchase credits.";
        lx_buf_appendf(b,
                       "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"%s\"},"
                       "\"request_id\":\"req_%s\"}",
                       anthropic_type(status), msg, id);
        return true;
    case MP_GEMINI:
        google_error(b, status, msg, o);
        return true;
    case MP_BEDROCK:
    case MP_BEDROCK_INVOKE:
        lx_buf_appendf(b, "{\"message\":\"%s\"}", msg);
        lx_buf_appendf(hdr,
                       "x-amzn-ErrorType: %s:http://internal.amazon.com/coral/"
                       "com.amazon.bedrock/\r\nx-amzn-RequestId: %s\r\n",
                       bedrock_exception(status), id);
        return true;
    case MP_COHERE:
        lx_buf_appendf(b, "{\"id\":\"%s\",\"message\":\"%s\"}", id, msg);
        return true;
    case MP_OLLAMA:
        lx_buf_appendf(b, "{\"error\":\"%s\"}", msg);
        return true;
    case MP_WORKERS:
        lx_buf_appendf(b,
                       "{\"result\":null,\"success\":false,\"errors\":[{\"code\":%s,"
                       "\"message\":\"%s\"}],\"messages\":[]}",
                       workers_code(status), msg);
        return true;
    case MP_OPENAI:
        break;
    }
    return false;
}

/* --- paced streams ---------------------------------------------------------------------- */

const char *mock_proto_stream_ctype(enum mock_proto p)
{
    switch (p) {
    case MP_BEDROCK:
    case MP_BEDROCK_INVOKE: return "application/vnd.amazon.eventstream";
    case MP_OLLAMA: return "application/x-ndjson";
    default: return "text/event-stream";
    }
}

/* One Anthropic event: SSE, or (Bedrock invoke) a "chunk" frame with the JSON in base64. */
static void anth_event(struct lx_buf *b, enum mock_proto p, const char *type, const char *json)
{
    if (p == MP_BEDROCK_INVOKE) {
        struct lx_buf pl = LX_BUF_INIT(8192);
        lx_buf_append_cstr(&pl, "{\"bytes\":\"");
        base64(&pl, (const unsigned char *)json, strlen(json));
        lx_buf_append_cstr(&pl, "\",\"p\":\"abcdefgh\"}");
        mock_es_frame(b, "event", "chunk", lx_buf_str(&pl));
        lx_buf_release(&pl);
        return;
    }
    lx_buf_appendf(b, "event: %s\ndata: %s\n\n", type, json);
}

static void es_event(struct lx_buf *b, const char *type, const char *json)
{
    mock_es_frame(b, "event", type, lx_str_cstr(json));
}

void mock_proto_tick(struct lx_buf *b, enum mock_proto p, uint64_t k, uint64_t n, const char *id,
                     const char *model)
{
    char j[1024];
    char m[200];
    struct lx_buf mb = LX_BUF_INIT(sizeof(m) - 1);
    unsigned long long ku = (unsigned long long)k, nu = (unsigned long long)n;

    lx_json_escape(&mb, lx_str_cstr(model));
    snprintf(m, sizeof(m), "%.*s", (int)mb.len, mb.ptr ? mb.ptr : "");
    lx_buf_release(&mb);

    switch (p) {
    case MP_ANTHROPIC:
    case MP_BEDROCK_INVOKE:
        if (k == 0) {
            snprintf(j, sizeof(j),
                     "{\"type\":\"message_start\",\"message\":{\"id\":\"%s\",\"type\":\"message\","
                     "\"role\":\"assistant\",\"model\":\"%s\",\"content\":[],\"stop_reason\":null,"
                     "\"stop_sequence\":null,\"usage\":{\"input_tokens\":19,"
                     "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
                     "\"output_tokens\":1}}}",
                     id, m);
            anth_event(b, p, "message_start", j);
            anth_event(b, p, "content_block_start",
                       "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
                       "\"text\",\"text\":\"\"}}");
            if (p == MP_ANTHROPIC)
                anth_event(b, p, "ping", "{\"type\": \"ping\"}");
        } else {
            snprintf(j, sizeof(j),
                     "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
                     "\"text_delta\",\"text\":\"%llu \"}}",
                     ku);
            anth_event(b, p, "content_block_delta", j);
        }
        if (k < n)
            return;
        anth_event(b, p, "content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}");
        snprintf(j, sizeof(j),
                 "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
                 "\"stop_sequence\":null},\"usage\":{\"output_tokens\":%llu}}",
                 nu);
        anth_event(b, p, "message_delta", j);
        if (p == MP_BEDROCK_INVOKE)
            snprintf(j, sizeof(j),
                     "{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":{"
                     "\"inputTokenCount\":19,\"outputTokenCount\":%llu,\"invocationLatency\":1,"
                     "\"firstByteLatency\":1}}",
                     nu);
        else
            snprintf(j, sizeof(j), "{\"type\":\"message_stop\"}");
        anth_event(b, p, "message_stop", j);
        return;
    case MP_GEMINI: /* no role chunk; the last token rides in the finishing chunk */
        if (k == 0 && n > 0)
            return;
        if (k < n) {
            lx_buf_appendf(b,
                           "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"%llu \"}],"
                           "\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{"
                           "\"promptTokenCount\":19,\"totalTokenCount\":19},\"modelVersion\":"
                           "\"%s\",\"responseId\":\"%s\"}\r\n\r\n",
                           ku, m, id);
            return;
        }
        if (k > 0)
            snprintf(j, sizeof(j), "%llu ", ku);
        else
            j[0] = '\0';
        lx_buf_appendf(b,
                       "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"%s\"}],"
                       "\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
                       "\"usageMetadata\":{\"promptTokenCount\":19,\"candidatesTokenCount\":%llu,"
                       "\"totalTokenCount\":%llu},\"modelVersion\":\"%s\",\"responseId\":\"%s\"}"
                       "\r\n\r\n",
                       j, nu, nu + 19, m, id);
        return;
    case MP_BEDROCK:
        if (k == 0)
            es_event(b, "messageStart", "{\"role\":\"assistant\",\"p\":\"abcdef\"}");
        else {
            snprintf(j, sizeof(j),
                     "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"%llu \"},\"p\":\"abcd\"}", ku);
            es_event(b, "contentBlockDelta", j);
        }
        if (k < n)
            return;
        es_event(b, "contentBlockStop", "{\"contentBlockIndex\":0,\"p\":\"ab\"}");
        es_event(b, "messageStop", "{\"stopReason\":\"end_turn\",\"p\":\"abcdefg\"}");
        snprintf(j, sizeof(j),
                 "{\"usage\":{\"inputTokens\":19,\"outputTokens\":%llu,\"totalTokens\":%llu},"
                 "\"metrics\":{\"latencyMs\":1},\"p\":\"abc\"}",
                 nu, nu + 19);
        es_event(b, "metadata", j);
        return;
    case MP_COHERE:
        if (k == 0) {
            lx_buf_appendf(b,
                           "event: message-start\ndata: {\"id\":\"%s\",\"type\":\"message-start\","
                           "\"delta\":{\"message\":{\"role\":\"assistant\",\"content\":[],"
                           "\"tool_plan\":\"\",\"tool_calls\":[],\"citations\":[]}}}\n\n",
                           id);
            lx_buf_append_cstr(b, "event: content-start\ndata: {\"type\":\"content-start\","
                                  "\"index\":0,\"delta\":{\"message\":{\"content\":{\"type\":"
                                  "\"text\",\"text\":\"\"}}}}\n\n");
        } else {
            lx_buf_appendf(b,
                           "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,"
                           "\"delta\":{\"message\":{\"content\":{\"text\":\"%llu \"}}}}\n\n",
                           ku);
        }
        if (k < n)
            return;
        lx_buf_append_cstr(b, "event: content-end\ndata: {\"type\":\"content-end\",\"index\":0}\n\n");
        lx_buf_appendf(b,
                       "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{"
                       "\"finish_reason\":\"COMPLETE\",\"usage\":{\"billed_units\":{"
                       "\"input_tokens\":19,\"output_tokens\":%llu},\"tokens\":{\"input_tokens\":"
                       "19,\"output_tokens\":%llu}}}}\n\n",
                       nu, nu);
        return;
    case MP_OLLAMA:
        if (k > 0)
            lx_buf_appendf(b,
                           "{\"model\":\"%s\",\"created_at\":\"2025-01-01T00:00:00.000000Z\","
                           "\"message\":{\"role\":\"assistant\",\"content\":\"%llu \"},"
                           "\"done\":false}\n",
                           m, ku);
        if (k < n)
            return;
        lx_buf_appendf(b,
                       "{\"model\":\"%s\",\"created_at\":\"2025-01-01T00:00:00.000000Z\","
                       "\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done_reason\":"
                       "\"stop\",\"done\":true,\"total_duration\":1000000,\"load_duration\":1000,"
                       "\"prompt_eval_count\":19,\"prompt_eval_duration\":1000,\"eval_count\":%llu,"
                       "\"eval_duration\":1000}\n",
                       m, nu);
        return;
    case MP_WORKERS:
        if (k > 0)
            lx_buf_appendf(b, "data: {\"response\":\"%llu \",\"p\":\"abcde\"}\n\n", ku);
        if (k < n)
            return;
        lx_buf_appendf(b,
                       "data: {\"response\":\"\",\"usage\":{\"prompt_tokens\":19,"
                       "\"completion_tokens\":%llu,\"total_tokens\":%llu}}\n\ndata: [DONE]\n\n",
                       nu, nu + 19);
        return;
    case MP_OPENAI:
        break;
    }
}
