/* openai_front.c - the OpenAI front door (lx_frontdoor_openai, openai_front.h): an OpenAI client's
 * chat, legacy completions and embeddings bodies -> IR, and the IR answer, stream deltas and
 * errors -> exactly what the OpenAI API sends (PROTOCOLS.md 1 and 0.2). Used when an OpenAI
 * client is routed to a provider of another protocol; OpenAI-compatible upstreams take the
 * gateway's fast path and never come here. Owned by the OpenAI front door.
 *
 * Pure translator (STYLE.md 3.6): no I/O, no globals, no clock. Decoders allocate only in the
 * arena given (JSON tokens included) and point into the client's body where they can; encoders
 * write compact JSON by hand into the caller's bounded lx_buf (the shapes are fixed, and text
 * that arrives in pieces is escaped piece by piece with the writer's own escaper). Any thread.
 * Mapping tables and traps: docs/internals/frontdoor-openai.md. */
#include "providers/openai_front.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/escape.h"
#include "providers/provider.h"
#include "providers/wire.h"
#include "json/json.h"

#define OAF_MAX_STOP 4u /* OpenAI's limit on stop sequences */
#define OAF_MAX_N 128   /* OpenAI's limit on n */
#define OAF_MAX_EMBED_INPUTS 2048u
#define OAF_MAX_SEEN 8192u /* distinct choices + tool calls tracked in one stream */
#define OAF_SHOW 40        /* bytes of a client's value quoted back in an error */

#define OAF_BAD(err, ...) (lx_err_set((err), LX_EINVAL, 400, __VA_ARGS__), LX_EINVAL)

/* ---- decoding: shared pieces ------------------------------------------------------------ */

struct oaf_dec {
    struct lx_json doc;
    struct lx_arena *a;
    struct lx_err *err;
};

static int oaf_nomem(struct oaf_dec *d)
{
    lx_err_set(d->err, LX_ENOMEM, 503, "out of memory while decoding the request");
    return LX_ENOMEM;
}

static int oaf_parse(struct oaf_dec *d, struct lx_str body, struct lx_arena *a, struct lx_err *err)
{
    int rc;

    d->a = a;
    d->err = err;
    lx_json_init(&d->doc, NULL);
    lx_json_use_arena(&d->doc, a);
    rc = lx_json_parse(&d->doc, body.ptr != NULL ? body.ptr : "", body.len);
    if (rc == LX_ENOMEM)
        return oaf_nomem(d);
    if (rc == LX_ETOOBIG) {
        lx_err_set(err, LX_ETOOBIG, 413, "The JSON body of your request is too large.");
        return LX_ETOOBIG;
    }
    if (rc != LX_OK)
        return OAF_BAD(err,
                       "We could not parse the JSON body of your request (%s at byte %zu). The "
                       "API expects a JSON payload.",
                       lx_strerror(rc), d->doc.err_off);
    if (lx_json_type(&d->doc, 0) != LX_JSON_OBJECT)
        return OAF_BAD(err, "Invalid type for request body: expected an object.");
    return LX_OK;
}

static const char *oaf_tname(const struct lx_json *doc, int i)
{
    switch (lx_json_type(doc, i)) {
    case LX_JSON_OBJECT:
        return "an object";
    case LX_JSON_ARRAY:
        return "an array";
    case LX_JSON_STRING:
        return "a string";
    case LX_JSON_NUMBER:
        return "a number";
    case LX_JSON_TRUE:
    case LX_JSON_FALSE:
        return "a boolean";
    case LX_JSON_NULL:
        return "null";
    case LX_JSON_NONE:
        break;
    }
    return "nothing";
}

/* A value as the client wrote it, cut short, for an error message (never a prompt: only
 * enum-like values and numbers are quoted back). */
static struct lx_str oaf_show(const struct lx_json *doc, int i)
{
    struct lx_str s =
        lx_json_type(doc, i) == LX_JSON_STRING ? lx_json_str_raw(doc, i) : lx_json_raw(doc, i);

    return lx_str_make(s.ptr, s.len > OAF_SHOW ? OAF_SHOW : s.len);
}

static int oaf_string(struct oaf_dec *d, int v, const char *name, struct lx_str *out)
{
    if (lx_json_type(&d->doc, v) != LX_JSON_STRING)
        return OAF_BAD(d->err, "Invalid type for '%s': expected a string, but got %s instead.",
                       name, oaf_tname(&d->doc, v));
    if (lx_json_str(&d->doc, v, d->a, out) != LX_OK)
        return oaf_nomem(d);
    return LX_OK;
}

static int oaf_bool(struct oaf_dec *d, int v, const char *name, bool *out)
{
    if (lx_json_bool(&d->doc, v, out) != LX_OK)
        return OAF_BAD(d->err, "Invalid type for '%s': expected a boolean, but got %s instead.",
                       name, oaf_tname(&d->doc, v));
    return LX_OK;
}

static int oaf_int(struct oaf_dec *d, int v, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    int rc;

    if (lx_json_type(&d->doc, v) != LX_JSON_NUMBER)
        return OAF_BAD(d->err, "Invalid type for '%s': expected an integer, but got %s instead.",
                       name, oaf_tname(&d->doc, v));
    rc = lx_json_int64(&d->doc, v, out);
    if (rc == LX_ETOOBIG)
        return OAF_BAD(d->err, "Invalid '%s': integer out of range.", name);
    if (rc != LX_OK)
        return OAF_BAD(
            d->err, "Invalid type for '%s': expected an integer, but got a decimal instead.", name);
    if (*out < lo)
        return OAF_BAD(d->err,
                       "Invalid '%s': integer below minimum value. Expected a value >= %lld, but "
                       "got %lld instead.",
                       name, (long long)lo, (long long)*out);
    if (*out > hi)
        return OAF_BAD(d->err,
                       "Invalid '%s': integer above maximum value. Expected a value <= %lld, but "
                       "got %lld instead.",
                       name, (long long)hi, (long long)*out);
    return LX_OK;
}

static int oaf_num(struct oaf_dec *d, int v, const char *name, double lo, double hi,
                   struct lx_num *out)
{
    struct lx_str raw = oaf_show(&d->doc, v);
    double x;

    if (lx_json_type(&d->doc, v) != LX_JSON_NUMBER)
        return OAF_BAD(d->err, "Invalid type for '%s': expected a decimal, but got %s instead.",
                       name, oaf_tname(&d->doc, v));
    if (lx_json_double(&d->doc, v, &x) != LX_OK)
        return OAF_BAD(d->err, "Invalid '%s': number out of range.", name);
    if (x < lo)
        return OAF_BAD(d->err,
                       "Invalid '%s': decimal below minimum value. Expected a value >= %g, but got "
                       "%.*s instead.",
                       name, lo, LX_STR_FMT(raw));
    if (x > hi)
        return OAF_BAD(d->err,
                       "Invalid '%s': decimal above maximum value. Expected a value <= %g, but got "
                       "%.*s instead.",
                       name, hi, LX_STR_FMT(raw));
    out->raw = lx_json_raw(&d->doc, v);
    out->v = x;
    return LX_OK;
}

static bool oaf_prefix_nocase(struct lx_str s, struct lx_str prefix)
{
    return s.len >= prefix.len && lx_str_eq_nocase(lx_str_make(s.ptr, prefix.len), prefix);
}

/* "<id>__thought__<signature>" -> bare id and signature; anything else is a bare id. */
static void oaf_split_sig(struct lx_str id, struct lx_str *bare, struct lx_str *sig)
{
    static const char sep[] = LX_OPENAI_THOUGHT_SEP;
    const size_t n = sizeof(sep) - 1;

    *bare = id;
    for (size_t i = 0; i + n <= id.len; i++) {
        if (memcmp(id.ptr + i, sep, n) == 0) {
            *bare = lx_str_make(id.ptr, i);
            *sig = lx_str_make(id.ptr + i + n, id.len - i - n);
            return;
        }
    }
}

/* "data:<media type>[;params];base64,<data>" -> media type and base64 data. */
static bool oaf_data_url(struct lx_str url, struct lx_str *media, struct lx_str *data)
{
    struct lx_str head;
    long comma;
    long semi;

    if (!oaf_prefix_nocase(url, LX_STR("data:")))
        return false;
    comma = lx_str_find_char(url, ',');
    if (comma < 0)
        return false;
    head = lx_str_make(url.ptr + 5, (size_t)comma - 5);
    if (!lx_str_ends_with(head, LX_STR(";base64")) &&
        !(head.len >= 7 && lx_str_eq_nocase(lx_str_sub(head, head.len - 7, 7), LX_STR(";base64"))))
        return false;
    semi = lx_str_find_char(head, ';');
    *media = lx_str_make(head.ptr, (size_t)semi);
    *data = lx_str_make(url.ptr + comma + 1, url.len - (size_t)comma - 1);
    return true;
}

/* ---- decoding: chat --------------------------------------------------------------------- */

enum oaf_key {
    K_MODEL = 0,
    K_MESSAGES,
    K_TOOLS,
    K_TOOL_CHOICE,
    K_PARALLEL,
    K_MAX_TOKENS,
    K_MAX_COMPLETION_TOKENS,
    K_TEMPERATURE,
    K_TOP_P,
    K_PRESENCE,
    K_FREQUENCY,
    K_TOP_K,
    K_N,
    K_SEED,
    K_STOP,
    K_RESPONSE_FORMAT,
    K_REASONING_EFFORT,
    K_USER,
    K_METADATA,
    K_STREAM,
    K_STREAM_OPTIONS,
    K_FUNCTIONS,
    K_FUNCTION_CALL,
    K_PROMPT,
    K_ECHO,
    K_SUFFIX,
    K__COUNT
};

static const struct lx_str oaf_key_names[K__COUNT] = {
    LX_STR_INIT("model"),
    LX_STR_INIT("messages"),
    LX_STR_INIT("tools"),
    LX_STR_INIT("tool_choice"),
    LX_STR_INIT("parallel_tool_calls"),
    LX_STR_INIT("max_tokens"),
    LX_STR_INIT("max_completion_tokens"),
    LX_STR_INIT("temperature"),
    LX_STR_INIT("top_p"),
    LX_STR_INIT("presence_penalty"),
    LX_STR_INIT("frequency_penalty"),
    LX_STR_INIT("top_k"),
    LX_STR_INIT("n"),
    LX_STR_INIT("seed"),
    LX_STR_INIT("stop"),
    LX_STR_INIT("response_format"),
    LX_STR_INIT("reasoning_effort"),
    LX_STR_INIT("user"),
    LX_STR_INIT("metadata"),
    LX_STR_INIT("stream"),
    LX_STR_INIT("stream_options"),
    LX_STR_INIT("functions"),
    LX_STR_INIT("function_call"),
    LX_STR_INIT("prompt"),
    LX_STR_INIT("echo"),
    LX_STR_INIT("suffix"),
};

#define KB(k) (1u << (k))
/* Members each endpoint understands; the rest go to req->extra. */
static const unsigned oaf_chat_keys =
    KB(K_MODEL) | KB(K_MESSAGES) | KB(K_TOOLS) | KB(K_TOOL_CHOICE) | KB(K_PARALLEL) |
    KB(K_MAX_TOKENS) | KB(K_MAX_COMPLETION_TOKENS) | KB(K_TEMPERATURE) | KB(K_TOP_P) |
    KB(K_PRESENCE) | KB(K_FREQUENCY) | KB(K_TOP_K) | KB(K_N) | KB(K_SEED) | KB(K_STOP) |
    KB(K_RESPONSE_FORMAT) | KB(K_REASONING_EFFORT) | KB(K_USER) | KB(K_METADATA) | KB(K_STREAM) |
    KB(K_STREAM_OPTIONS) | KB(K_FUNCTIONS) | KB(K_FUNCTION_CALL);
static const unsigned oaf_completion_keys =
    KB(K_MODEL) | KB(K_PROMPT) | KB(K_ECHO) | KB(K_SUFFIX) | KB(K_MAX_TOKENS) | KB(K_TEMPERATURE) |
    KB(K_TOP_P) | KB(K_PRESENCE) | KB(K_FREQUENCY) | KB(K_TOP_K) | KB(K_N) | KB(K_SEED) |
    KB(K_STOP) | KB(K_USER) | KB(K_STREAM) | KB(K_STREAM_OPTIONS);

/* Finds the known members (null counts as absent) and copies the others into out->extra. */
static int oaf_members(struct oaf_dec *d, unsigned allowed, int v[K__COUNT],
                       struct lx_chat_req *out)
{
    const struct lx_json *doc = &d->doc;

    for (int k = 0; k < K__COUNT; k++)
        v[k] = -1;
    out->extra = lx_arena_zalloc(d->a, (lx_json_count(doc, 0) + 1) * sizeof(*out->extra));
    if (out->extra == NULL)
        return oaf_nomem(d);
    for (int key = lx_json_first(doc, 0); key >= 0; key = lx_json_sibling(doc, 0, key)) {
        int k = 0;
        struct lx_kv *kv;

        while (k < K__COUNT && !((allowed & KB(k)) && lx_json_str_eq(doc, key, oaf_key_names[k])))
            k++;
        if (k < K__COUNT) {
            v[k] = lx_json_type(doc, key + 1) == LX_JSON_NULL ? -1 : key + 1;
            continue;
        }
        kv = &out->extra[out->n_extra++];
        if (lx_json_str(doc, key, d->a, &kv->key) != LX_OK)
            return oaf_nomem(d);
        kv->value = lx_json_raw(doc, key + 1);
    }
    return LX_OK;
}

static int oaf_text_part(struct oaf_dec *d, int e, size_t i, size_t j, struct lx_part *p)
{
    char name[64];

    snprintf(name, sizeof(name), "messages[%zu].content[%zu].text", i, j);
    p->type = LX_PART_TEXT;
    if (lx_json_get(&d->doc, e, LX_STR("text")) < 0)
        return OAF_BAD(d->err, "Missing required parameter: '%s'.", name);
    return oaf_string(d, lx_json_get(&d->doc, e, LX_STR("text")), name, &p->text);
}

static int oaf_image_part(struct oaf_dec *d, int e, size_t i, size_t j, struct lx_part *p)
{
    int iu = lx_json_get(&d->doc, e, LX_STR("image_url"));
    int u = iu;
    char name[80];
    struct lx_str url;
    int rc;

    p->type = LX_PART_IMAGE;
    snprintf(name, sizeof(name), "messages[%zu].content[%zu].image_url.url", i, j);
    if (lx_json_type(&d->doc, iu) == LX_JSON_OBJECT) {
        int detail = lx_json_get(&d->doc, iu, LX_STR("detail"));

        u = lx_json_get(&d->doc, iu, LX_STR("url"));
        if (detail >= 0 && lx_json_type(&d->doc, detail) != LX_JSON_NULL) {
            rc = oaf_string(d, detail, "detail", &p->detail);
            if (rc != LX_OK)
                return rc;
        }
    }
    if (u < 0)
        return OAF_BAD(d->err, "Missing required parameter: '%s'.", name);
    rc = oaf_string(d, u, name, &url);
    if (rc != LX_OK)
        return rc;
    if (oaf_prefix_nocase(url, LX_STR("data:"))) {
        if (!oaf_data_url(url, &p->media_type, &p->data))
            return OAF_BAD(d->err,
                           "Invalid '%s': expected a base64-encoded data URL with an image MIME "
                           "type (e.g. 'data:image/png;base64,...').",
                           name);
    } else if (oaf_prefix_nocase(url, LX_STR("https://")) ||
               oaf_prefix_nocase(url, LX_STR("http://"))) {
        p->url = url;
    } else {
        return OAF_BAD(d->err, "Invalid '%s': expected an http(s) URL or a base64 data URL.", name);
    }
    return LX_OK;
}

static int oaf_audio_part(struct oaf_dec *d, int e, size_t i, size_t j, struct lx_part *p)
{
    int ia = lx_json_get(&d->doc, e, LX_STR("input_audio"));
    int data = lx_json_get(&d->doc, ia, LX_STR("data"));
    int format = lx_json_get(&d->doc, ia, LX_STR("format"));
    struct lx_str f;
    char name[80];
    int rc;

    p->type = LX_PART_AUDIO;
    snprintf(name, sizeof(name), "messages[%zu].content[%zu].input_audio", i, j);
    if (lx_json_type(&d->doc, ia) != LX_JSON_OBJECT)
        return OAF_BAD(d->err, "Invalid type for '%s': expected an object, but got %s instead.",
                       name, oaf_tname(&d->doc, ia));
    if (data < 0 || format < 0)
        return OAF_BAD(d->err, "Missing required parameter: '%s.%s'.", name,
                       data < 0 ? "data" : "format");
    rc = oaf_string(d, data, "input_audio.data", &p->data);
    if (rc == LX_OK)
        rc = oaf_string(d, format, "input_audio.format", &f);
    if (rc != LX_OK)
        return rc;
    if (f.len == 0 || f.len > 16)
        return OAF_BAD(d->err, "Invalid value for '%s.format'.", name);
    p->media_type = lx_wire_concat2(d->a, LX_STR("audio/"), f);
    return p->media_type.ptr != NULL ? LX_OK : oaf_nomem(d);
}

static int oaf_file_part(struct oaf_dec *d, int e, size_t i, size_t j, struct lx_part *p)
{
    int fo = lx_json_get(&d->doc, e, LX_STR("file"));
    int fdata = lx_json_get(&d->doc, fo, LX_STR("file_data"));
    int fname = lx_json_get(&d->doc, fo, LX_STR("filename"));
    struct lx_str s;
    char name[80];
    int rc;

    p->type = LX_PART_FILE;
    snprintf(name, sizeof(name), "messages[%zu].content[%zu].file", i, j);
    if (lx_json_type(&d->doc, fo) != LX_JSON_OBJECT)
        return OAF_BAD(d->err, "Invalid type for '%s': expected an object, but got %s instead.",
                       name, oaf_tname(&d->doc, fo));
    if (lx_json_get(&d->doc, fo, LX_STR("file_id")) >= 0 && fdata < 0)
        return OAF_BAD(d->err,
                       "Invalid '%s.file_id': uploaded files are not supported for this model; "
                       "send the file inline as file_data.",
                       name);
    if (fdata < 0)
        return OAF_BAD(d->err, "Missing required parameter: '%s.file_data'.", name);
    rc = oaf_string(d, fdata, "file.file_data", &s);
    if (rc == LX_OK && fname >= 0 && lx_json_type(&d->doc, fname) != LX_JSON_NULL)
        rc = oaf_string(d, fname, "file.filename", &p->name);
    if (rc != LX_OK)
        return rc;
    if (oaf_prefix_nocase(s, LX_STR("data:"))) {
        if (!oaf_data_url(s, &p->media_type, &p->data))
            return OAF_BAD(d->err, "Invalid '%s.file_data': expected a base64 data URL.", name);
    } else {
        p->data = s; /* bare base64: OpenAI takes only PDFs here */
        p->media_type = LX_STR("application/pdf");
    }
    return LX_OK;
}

/* A content array's part j of message i (role r). */
static int oaf_content_part(struct oaf_dec *d, int e, size_t i, size_t j, enum lx_role r,
                            struct lx_part *p, bool *skip)
{
    const struct lx_json *doc = &d->doc;
    int type = lx_json_get(doc, e, LX_STR("type"));
    char name[64];

    snprintf(name, sizeof(name), "messages[%zu].content[%zu]", i, j);
    if (lx_json_type(doc, e) != LX_JSON_OBJECT)
        return OAF_BAD(d->err, "Invalid type for '%s': expected an object, but got %s instead.",
                       name, oaf_tname(doc, e));
    if (type < 0)
        return OAF_BAD(d->err, "Missing required parameter: '%s.type'.", name);
    if (lx_json_str_eq(doc, type, LX_STR("text")))
        return oaf_text_part(d, e, i, j, p);
    if (r == LX_ROLE_ASSISTANT && lx_json_str_eq(doc, type, LX_STR("refusal"))) {
        *skip = true; /* a refusal the model gave: no IR equivalent, nothing to send back */
        return LX_OK;
    }
    if (r == LX_ROLE_USER) {
        if (lx_json_str_eq(doc, type, LX_STR("image_url")))
            return oaf_image_part(d, e, i, j, p);
        if (lx_json_str_eq(doc, type, LX_STR("input_audio")))
            return oaf_audio_part(d, e, i, j, p);
        if (lx_json_str_eq(doc, type, LX_STR("file")))
            return oaf_file_part(d, e, i, j, p);
    }
    if (lx_json_type(doc, type) == LX_JSON_STRING) {
        struct lx_str t = oaf_show(doc, type);

        return OAF_BAD(d->err,
                       "Invalid value: '%.*s'. Supported values for '%s.type' here are: %s.",
                       LX_STR_FMT(t), name,
                       r == LX_ROLE_USER        ? "'text', 'image_url', 'input_audio' and 'file'"
                       : r == LX_ROLE_ASSISTANT ? "'text' and 'refusal'"
                                                : "'text'");
    }
    return OAF_BAD(d->err, "Invalid type for '%s.type': expected a string, but got %s instead.",
                   name, oaf_tname(doc, type));
}

/* A tool message's content: a string, or text parts joined. */
static int oaf_tool_content(struct oaf_dec *d, int c, size_t i, struct lx_str *out)
{
    const struct lx_json *doc = &d->doc;
    size_t len = 0, j = 0;
    struct lx_str *texts;
    char *p;

    if (c < 0 || lx_json_type(doc, c) == LX_JSON_NULL) {
        *out = LX_STR("");
        return LX_OK;
    }
    if (lx_json_type(doc, c) == LX_JSON_STRING) {
        char name[48];

        snprintf(name, sizeof(name), "messages[%zu].content", i);
        return oaf_string(d, c, name, out);
    }
    if (lx_json_type(doc, c) != LX_JSON_ARRAY)
        return OAF_BAD(d->err,
                       "Invalid type for 'messages[%zu].content': expected one of a string or "
                       "array of objects, but got %s instead.",
                       i, oaf_tname(doc, c));
    texts = lx_arena_zalloc(d->a, (lx_json_count(doc, c) + 1) * sizeof(*texts));
    if (texts == NULL)
        return oaf_nomem(d);
    for (int e = lx_json_first(doc, c); e >= 0; e = lx_json_sibling(doc, c, e), j++) {
        struct lx_part part;
        bool skip = false;
        int rc;

        memset(&part, 0, sizeof(part));
        rc = oaf_content_part(d, e, i, j, LX_ROLE_TOOL, &part, &skip);
        if (rc != LX_OK)
            return rc;
        texts[j] = part.text;
        len += part.text.len;
    }
    p = lx_arena_alloc(d->a, len + 1);
    if (p == NULL)
        return oaf_nomem(d);
    len = 0;
    for (size_t k = 0; k < j; k++) {
        if (texts[k].len > 0)
            memcpy(p + len, texts[k].ptr, texts[k].len);
        len += texts[k].len;
    }
    p[len] = '\0';
    *out = lx_str_make(p, len);
    return LX_OK;
}

static int oaf_tool_call(struct oaf_dec *d, int tc, size_t i, size_t j, struct lx_part *p)
{
    const struct lx_json *doc = &d->doc;
    int id = lx_json_get(doc, tc, LX_STR("id"));
    int type = lx_json_get(doc, tc, LX_STR("type"));
    int fn = lx_json_get(doc, tc, LX_STR("function"));
    int fname = lx_json_get(doc, fn, LX_STR("name"));
    int fargs = lx_json_get(doc, fn, LX_STR("arguments"));
    int extra = lx_json_get(doc, tc, LX_STR("extra_content"));
    int sig =
        lx_json_get(doc, lx_json_get(doc, extra, LX_STR("google")), LX_STR("thought_signature"));
    char name[64];
    struct lx_str raw_id, args;
    int rc;

    p->type = LX_PART_TOOL_CALL;
    snprintf(name, sizeof(name), "messages[%zu].tool_calls[%zu]", i, j);
    if (lx_json_type(doc, tc) != LX_JSON_OBJECT)
        return OAF_BAD(d->err, "Invalid type for '%s': expected an object, but got %s instead.",
                       name, oaf_tname(doc, tc));
    if (type >= 0 && !lx_json_str_eq(doc, type, LX_STR("function")))
        return OAF_BAD(d->err,
                       "Invalid value for '%s.type': only 'function' tool calls are "
                       "supported.",
                       name);
    if (id < 0)
        return OAF_BAD(d->err, "Missing required parameter: '%s.id'.", name);
    if (lx_json_type(doc, fn) != LX_JSON_OBJECT)
        return OAF_BAD(d->err, "Missing required parameter: '%s.function'.", name);
    if (fname < 0)
        return OAF_BAD(d->err, "Missing required parameter: '%s.function.name'.", name);
    rc = oaf_string(d, id, "tool_calls.id", &raw_id);
    if (rc == LX_OK)
        rc = oaf_string(d, fname, "tool_calls.function.name", &p->name);
    if (rc == LX_OK && fargs >= 0 && lx_json_type(doc, fargs) != LX_JSON_NULL)
        rc = oaf_string(d, fargs, "tool_calls.function.arguments", &args);
    else
        args = LX_STR("");
    if (rc == LX_OK && sig >= 0 && lx_json_type(doc, sig) != LX_JSON_NULL)
        rc = oaf_string(d, sig, "extra_content.google.thought_signature", &p->signature);
    if (rc != LX_OK)
        return rc;
    oaf_split_sig(raw_id, &p->id, &p->signature);
    /* The IR carries arguments as JSON text. A model can have written broken JSON (cut by
     * max_tokens) that the client now sends back: other protocols need an object there, so
     * anything that does not parse becomes "{}" rather than failing the conversation. */
    if (args.len > 0) {
        struct lx_json tmp;

        lx_json_init(&tmp, NULL);
        lx_json_use_arena(&tmp, d->a);
        rc = lx_json_parse(&tmp, args.ptr, args.len);
        if (rc == LX_ENOMEM)
            return oaf_nomem(d);
        if (rc != LX_OK)
            args = LX_STR("");
    }
    p->args = args.len > 0 ? args : LX_STR("{}");
    return LX_OK;
}

static int oaf_role(struct oaf_dec *d, int r, size_t i, enum lx_role *out)
{
    static const struct {
        struct lx_str name;
        enum lx_role role;
    } roles[] = {
        {LX_STR_INIT("system"), LX_ROLE_SYSTEM}, {LX_STR_INIT("developer"), LX_ROLE_DEVELOPER},
        {LX_STR_INIT("user"), LX_ROLE_USER},     {LX_STR_INIT("assistant"), LX_ROLE_ASSISTANT},
        {LX_STR_INIT("tool"), LX_ROLE_TOOL},
    };
    struct lx_str shown;

    if (r < 0)
        return OAF_BAD(d->err, "Missing required parameter: 'messages[%zu].role'.", i);
    for (size_t k = 0; k < LX_ARRAY_SIZE(roles); k++) {
        if (lx_json_str_eq(&d->doc, r, roles[k].name)) {
            *out = roles[k].role;
            return LX_OK;
        }
    }
    if (lx_json_str_eq(&d->doc, r, LX_STR("function")))
        return OAF_BAD(d->err,
                       "Invalid 'messages[%zu].role': the deprecated 'function' role is not "
                       "supported for this model; use 'tool' messages with tool_call_id.",
                       i);
    if (lx_json_type(&d->doc, r) != LX_JSON_STRING)
        return OAF_BAD(d->err,
                       "Invalid type for 'messages[%zu].role': expected a string, but got %s "
                       "instead.",
                       i, oaf_tname(&d->doc, r));
    shown = oaf_show(&d->doc, r);
    return OAF_BAD(d->err,
                   "Invalid value: '%.*s'. Supported values are: 'system', 'assistant', 'user', "
                   "'tool', and 'developer'.",
                   LX_STR_FMT(shown));
}

static int oaf_message(struct oaf_dec *d, int e, size_t i, struct lx_chat_req *req,
                       struct lx_msg *m)
{
    const struct lx_json *doc = &d->doc;
    int content = lx_json_get(doc, e, LX_STR("content"));
    int calls = lx_json_get(doc, e, LX_STR("tool_calls"));
    int nm = lx_json_get(doc, e, LX_STR("name"));
    size_t n_parts;
    int rc;

    if (lx_json_type(doc, e) != LX_JSON_OBJECT)
        return OAF_BAD(d->err,
                       "Invalid type for 'messages[%zu]': expected an object, but got %s instead.",
                       i, oaf_tname(doc, e));
    rc = oaf_role(d, lx_json_get(doc, e, LX_STR("role")), i, &m->role);
    if (rc != LX_OK)
        return rc;
    if (nm >= 0 && lx_json_type(doc, nm) != LX_JSON_NULL) {
        rc = oaf_string(d, nm, "name", &m->name);
        if (rc != LX_OK)
            return rc;
    }
    if (lx_json_type(doc, calls) == LX_JSON_NULL || m->role != LX_ROLE_ASSISTANT)
        calls = -1;
    if (lx_json_type(doc, content) == LX_JSON_NULL)
        content = -1;

    if (m->role == LX_ROLE_TOOL) {
        int tcid = lx_json_get(doc, e, LX_STR("tool_call_id"));
        struct lx_part *p = lx_arena_zalloc(d->a, sizeof(*p));
        struct lx_str raw, sig;

        if (p == NULL)
            return oaf_nomem(d);
        if (tcid < 0)
            return OAF_BAD(d->err, "Missing required parameter: 'messages[%zu].tool_call_id'.", i);
        rc = oaf_string(d, tcid, "tool_call_id", &raw);
        if (rc == LX_OK)
            rc = oaf_tool_content(d, content, i, &p->text);
        if (rc != LX_OK)
            return rc;
        p->type = LX_PART_TOOL_RESULT;
        oaf_split_sig(raw, &p->id, &sig);
        p->name = lx_chat_req_tool_name(req, i, p->id);
        m->parts = p;
        m->n_parts = 1;
        return LX_OK;
    }

    if (lx_json_get(doc, e, LX_STR("function_call")) >= 0 &&
        lx_json_type(doc, lx_json_get(doc, e, LX_STR("function_call"))) != LX_JSON_NULL)
        return OAF_BAD(d->err,
                       "Invalid 'messages[%zu].function_call': deprecated function calls are not "
                       "supported for this model; use tool_calls.",
                       i);
    if (content < 0 && !(m->role == LX_ROLE_ASSISTANT))
        return OAF_BAD(d->err, "Missing required parameter: 'messages[%zu].content'.", i);
    if (content >= 0 && lx_json_type(doc, content) != LX_JSON_STRING &&
        lx_json_type(doc, content) != LX_JSON_ARRAY)
        return OAF_BAD(d->err,
                       "Invalid type for 'messages[%zu].content': expected one of a string or "
                       "array of objects, but got %s instead.",
                       i, oaf_tname(doc, content));
    if (calls >= 0 && lx_json_type(doc, calls) != LX_JSON_ARRAY)
        return OAF_BAD(d->err,
                       "Invalid type for 'messages[%zu].tool_calls': expected an array, but got "
                       "%s instead.",
                       i, oaf_tname(doc, calls));
    n_parts = (content < 0                                   ? 0
               : lx_json_type(doc, content) == LX_JSON_ARRAY ? lx_json_count(doc, content)
                                                             : 1) +
              (calls >= 0 ? lx_json_count(doc, calls) : 0);
    m->parts = lx_arena_zalloc(d->a, (n_parts + 1) * sizeof(*m->parts));
    if (m->parts == NULL)
        return oaf_nomem(d);
    if (lx_json_type(doc, content) == LX_JSON_STRING) {
        char name[48];

        snprintf(name, sizeof(name), "messages[%zu].content", i);
        m->parts[0].type = LX_PART_TEXT;
        rc = oaf_string(d, content, name, &m->parts[0].text);
        if (rc != LX_OK)
            return rc;
        m->n_parts = 1;
    } else if (content >= 0) {
        size_t j = 0;

        for (int c = lx_json_first(doc, content); c >= 0;
             c = lx_json_sibling(doc, content, c), j++) {
            bool skip = false;

            rc = oaf_content_part(d, c, i, j, m->role, &m->parts[m->n_parts], &skip);
            if (rc != LX_OK)
                return rc;
            if (!skip)
                m->n_parts++;
            else
                memset(&m->parts[m->n_parts], 0, sizeof(m->parts[0]));
        }
    }
    if (calls >= 0) {
        size_t j = 0;

        for (int c = lx_json_first(doc, calls); c >= 0; c = lx_json_sibling(doc, calls, c), j++) {
            rc = oaf_tool_call(d, c, i, j, &m->parts[m->n_parts]);
            if (rc != LX_OK)
                return rc;
            m->n_parts++;
        }
    }
    return LX_OK;
}

static int oaf_messages(struct oaf_dec *d, int v, struct lx_chat_req *out)
{
    const struct lx_json *doc = &d->doc;
    size_t i = 0;

    if (v < 0)
        return OAF_BAD(d->err, "Missing required parameter: 'messages'.");
    if (lx_json_type(doc, v) != LX_JSON_ARRAY)
        return OAF_BAD(d->err,
                       "Invalid type for 'messages': expected an array of objects, but got %s "
                       "instead.",
                       oaf_tname(doc, v));
    if (lx_json_count(doc, v) == 0)
        return OAF_BAD(d->err, "Invalid 'messages': empty array. Expected an array with minimum "
                               "length 1, but got an empty array instead.");
    out->msgs = lx_arena_zalloc(d->a, lx_json_count(doc, v) * sizeof(*out->msgs));
    if (out->msgs == NULL)
        return oaf_nomem(d);
    for (int e = lx_json_first(doc, v); e >= 0; e = lx_json_sibling(doc, v, e), i++) {
        int rc = oaf_message(d, e, i, out, &out->msgs[i]);

        if (rc != LX_OK)
            return rc;
        out->n_msgs = i + 1;
    }
    return LX_OK;
}

static int oaf_tools(struct oaf_dec *d, int v, struct lx_chat_req *out)
{
    const struct lx_json *doc = &d->doc;
    size_t i = 0;

    if (lx_json_type(doc, v) != LX_JSON_ARRAY)
        return OAF_BAD(d->err, "Invalid type for 'tools': expected an array, but got %s instead.",
                       oaf_tname(doc, v));
    out->tools = lx_arena_zalloc(d->a, (lx_json_count(doc, v) + 1) * sizeof(*out->tools));
    if (out->tools == NULL)
        return oaf_nomem(d);
    for (int e = lx_json_first(doc, v); e >= 0; e = lx_json_sibling(doc, v, e), i++) {
        struct lx_tool *t = &out->tools[i];
        int type = lx_json_get(doc, e, LX_STR("type"));
        int fn = lx_json_get(doc, e, LX_STR("function"));
        int name = lx_json_get(doc, fn, LX_STR("name"));
        int desc = lx_json_get(doc, fn, LX_STR("description"));
        int params = lx_json_get(doc, fn, LX_STR("parameters"));
        int strict = lx_json_get(doc, fn, LX_STR("strict"));
        int rc = LX_OK;

        if (lx_json_type(doc, e) != LX_JSON_OBJECT)
            return OAF_BAD(d->err,
                           "Invalid type for 'tools[%zu]': expected an object, but got %s instead.",
                           i, oaf_tname(doc, e));
        if (type < 0)
            return OAF_BAD(d->err, "Missing required parameter: 'tools[%zu].type'.", i);
        if (!lx_json_str_eq(doc, type, LX_STR("function"))) {
            struct lx_str shown = oaf_show(doc, type);

            return OAF_BAD(d->err,
                           "Invalid value: '%.*s'. Only 'function' tools are supported for this "
                           "model (tools[%zu].type).",
                           LX_STR_FMT(shown), i);
        }
        if (lx_json_type(doc, fn) != LX_JSON_OBJECT)
            return OAF_BAD(d->err, "Missing required parameter: 'tools[%zu].function'.", i);
        if (name < 0)
            return OAF_BAD(d->err, "Missing required parameter: 'tools[%zu].function.name'.", i);
        rc = oaf_string(d, name, "tools.function.name", &t->name);
        if (rc == LX_OK && desc >= 0 && lx_json_type(doc, desc) != LX_JSON_NULL)
            rc = oaf_string(d, desc, "tools.function.description", &t->description);
        if (rc == LX_OK && strict >= 0 && lx_json_type(doc, strict) != LX_JSON_NULL)
            rc = oaf_bool(d, strict, "tools.function.strict", &t->strict);
        if (rc != LX_OK)
            return rc;
        if (params >= 0 && lx_json_type(doc, params) != LX_JSON_NULL) {
            if (lx_json_type(doc, params) != LX_JSON_OBJECT)
                return OAF_BAD(d->err,
                               "Invalid type for 'tools[%zu].function.parameters': expected an "
                               "object, but got %s instead.",
                               i, oaf_tname(doc, params));
            t->parameters = lx_json_raw(doc, params);
        }
        out->n_tools = i + 1;
    }
    return LX_OK;
}

static int oaf_tool_choice(struct oaf_dec *d, int v, struct lx_chat_req *out)
{
    const struct lx_json *doc = &d->doc;

    if (lx_json_type(doc, v) == LX_JSON_STRING) {
        if (lx_json_str_eq(doc, v, LX_STR("auto")))
            out->tool_choice = LX_TOOL_CHOICE_AUTO;
        else if (lx_json_str_eq(doc, v, LX_STR("none")))
            out->tool_choice = LX_TOOL_CHOICE_NONE;
        else if (lx_json_str_eq(doc, v, LX_STR("required")))
            out->tool_choice = LX_TOOL_CHOICE_REQUIRED;
        else {
            struct lx_str shown = oaf_show(doc, v);

            return OAF_BAD(d->err,
                           "Invalid value: '%.*s'. Supported values are: 'none', 'auto', and "
                           "'required'.",
                           LX_STR_FMT(shown));
        }
        return LX_OK;
    }
    if (lx_json_type(doc, v) == LX_JSON_OBJECT) {
        int type = lx_json_get(doc, v, LX_STR("type"));
        int name = lx_json_get(doc, lx_json_get(doc, v, LX_STR("function")), LX_STR("name"));

        if (!lx_json_str_eq(doc, type, LX_STR("function")))
            return OAF_BAD(d->err, "Invalid 'tool_choice': only {\"type\": \"function\", "
                                   "\"function\": {\"name\": ...}} is supported for this model.");
        if (name < 0)
            name = lx_json_get(doc, v, LX_STR("name"));
        if (name < 0)
            return OAF_BAD(d->err, "Missing required parameter: 'tool_choice.function.name'.");
        out->tool_choice = LX_TOOL_CHOICE_NAMED;
        return oaf_string(d, name, "tool_choice.function.name", &out->tool_choice_name);
    }
    return OAF_BAD(d->err,
                   "Invalid type for 'tool_choice': expected one of a string or object, but got "
                   "%s instead.",
                   oaf_tname(doc, v));
}

static int oaf_stop(struct oaf_dec *d, int v, struct lx_chat_req *out)
{
    const struct lx_json *doc = &d->doc;

    if (lx_json_type(doc, v) == LX_JSON_STRING) {
        out->stop = lx_arena_zalloc(d->a, sizeof(*out->stop));
        if (out->stop == NULL)
            return oaf_nomem(d);
        out->n_stop = 1;
        return oaf_string(d, v, "stop", &out->stop[0]);
    }
    if (lx_json_type(doc, v) != LX_JSON_ARRAY)
        return OAF_BAD(d->err,
                       "Invalid type for 'stop': expected one of a string or array of strings, "
                       "but got %s instead.",
                       oaf_tname(doc, v));
    if (lx_json_count(doc, v) > OAF_MAX_STOP)
        return OAF_BAD(d->err,
                       "Invalid 'stop': array too long. Expected an array with maximum length %u, "
                       "but got an array with length %u instead.",
                       OAF_MAX_STOP, (unsigned)lx_json_count(doc, v));
    out->stop = lx_arena_zalloc(d->a, (lx_json_count(doc, v) + 1) * sizeof(*out->stop));
    if (out->stop == NULL)
        return oaf_nomem(d);
    for (int e = lx_json_first(doc, v); e >= 0; e = lx_json_sibling(doc, v, e)) {
        int rc = oaf_string(d, e, "stop[]", &out->stop[out->n_stop]);

        if (rc != LX_OK)
            return rc;
        out->n_stop++;
    }
    return LX_OK;
}

static int oaf_response_format(struct oaf_dec *d, int v, struct lx_chat_req *out)
{
    const struct lx_json *doc = &d->doc;
    int type = lx_json_get(doc, v, LX_STR("type"));
    int js, schema, name, strict;
    int rc = LX_OK;

    if (lx_json_type(doc, v) != LX_JSON_OBJECT)
        return OAF_BAD(d->err,
                       "Invalid type for 'response_format': expected an object, but got %s "
                       "instead.",
                       oaf_tname(doc, v));
    if (lx_json_str_eq(doc, type, LX_STR("text"))) {
        out->response_format = LX_RF_TEXT;
        return LX_OK;
    }
    if (lx_json_str_eq(doc, type, LX_STR("json_object"))) {
        out->response_format = LX_RF_JSON_OBJECT;
        return LX_OK;
    }
    if (!lx_json_str_eq(doc, type, LX_STR("json_schema"))) {
        if (type < 0)
            return OAF_BAD(d->err, "Missing required parameter: 'response_format.type'.");
        return OAF_BAD(d->err, "Invalid 'response_format.type': supported values are: 'text', "
                               "'json_object', and 'json_schema'.");
    }
    js = lx_json_get(doc, v, LX_STR("json_schema"));
    if (lx_json_type(doc, js) != LX_JSON_OBJECT)
        return OAF_BAD(d->err, "Missing required parameter: 'response_format.json_schema'.");
    schema = lx_json_get(doc, js, LX_STR("schema"));
    name = lx_json_get(doc, js, LX_STR("name"));
    strict = lx_json_get(doc, js, LX_STR("strict"));
    if (schema >= 0 && lx_json_type(doc, schema) != LX_JSON_NULL &&
        lx_json_type(doc, schema) != LX_JSON_OBJECT)
        return OAF_BAD(d->err,
                       "Invalid type for 'response_format.json_schema.schema': expected an "
                       "object, but got %s instead.",
                       oaf_tname(doc, schema));
    if (lx_json_type(doc, schema) != LX_JSON_OBJECT) {
        out->response_format = LX_RF_JSON_OBJECT; /* a schema-less schema: any JSON object */
        return LX_OK;
    }
    out->response_format = LX_RF_JSON_SCHEMA;
    out->schema = lx_json_raw(doc, schema);
    out->schema_name = LX_STR("response");
    if (name >= 0 && lx_json_type(doc, name) != LX_JSON_NULL)
        rc = oaf_string(d, name, "response_format.json_schema.name", &out->schema_name);
    if (rc == LX_OK && strict >= 0 && lx_json_type(doc, strict) != LX_JSON_NULL)
        rc = oaf_bool(d, strict, "response_format.json_schema.strict", &out->schema_strict);
    return rc;
}

static int oaf_effort(struct oaf_dec *d, int v, struct lx_chat_req *out)
{
    static const struct {
        struct lx_str name;
        enum lx_effort e;
    } efforts[] = {
        {LX_STR_INIT("none"), LX_EFFORT_NONE}, {LX_STR_INIT("minimal"), LX_EFFORT_MINIMAL},
        {LX_STR_INIT("low"), LX_EFFORT_LOW},   {LX_STR_INIT("medium"), LX_EFFORT_MEDIUM},
        {LX_STR_INIT("high"), LX_EFFORT_HIGH}, {LX_STR_INIT("xhigh"), LX_EFFORT_HIGH},
    };
    struct lx_str shown;

    for (size_t k = 0; k < LX_ARRAY_SIZE(efforts); k++) {
        if (lx_json_str_eq(&d->doc, v, efforts[k].name)) {
            out->effort = efforts[k].e;
            return LX_OK;
        }
    }
    if (lx_json_type(&d->doc, v) != LX_JSON_STRING)
        return OAF_BAD(d->err,
                       "Invalid type for 'reasoning_effort': expected a string, but got %s "
                       "instead.",
                       oaf_tname(&d->doc, v));
    shown = oaf_show(&d->doc, v);
    return OAF_BAD(d->err,
                   "Invalid value: '%.*s'. Supported values are: 'none', 'minimal', 'low', "
                   "'medium', and 'high'.",
                   LX_STR_FMT(shown));
}

/* The members chat and legacy completions share. */
static int oaf_common(struct oaf_dec *d, const int v[K__COUNT], struct lx_chat_req *out)
{
    const struct lx_json *doc = &d->doc;
    int rc = LX_OK;

    if (v[K_MODEL] < 0)
        return OAF_BAD(d->err, "you must provide a model parameter");
    rc = oaf_string(d, v[K_MODEL], "model", &out->model);
    if (rc == LX_OK && v[K_MAX_TOKENS] >= 0)
        rc = oaf_int(d, v[K_MAX_TOKENS], "max_tokens", 1, INT64_MAX, &out->max_tokens);
    if (rc == LX_OK && v[K_MAX_COMPLETION_TOKENS] >= 0) /* wins over max_tokens */
        rc = oaf_int(d, v[K_MAX_COMPLETION_TOKENS], "max_completion_tokens", 1, INT64_MAX,
                     &out->max_tokens);
    if (rc == LX_OK && v[K_TEMPERATURE] >= 0)
        rc = oaf_num(d, v[K_TEMPERATURE], "temperature", 0, 2, &out->temperature);
    if (rc == LX_OK && v[K_TOP_P] >= 0)
        rc = oaf_num(d, v[K_TOP_P], "top_p", 0, 1, &out->top_p);
    if (rc == LX_OK && v[K_PRESENCE] >= 0)
        rc = oaf_num(d, v[K_PRESENCE], "presence_penalty", -2, 2, &out->presence_penalty);
    if (rc == LX_OK && v[K_FREQUENCY] >= 0)
        rc = oaf_num(d, v[K_FREQUENCY], "frequency_penalty", -2, 2, &out->frequency_penalty);
    if (rc == LX_OK && v[K_TOP_K] >= 0)
        rc = oaf_int(d, v[K_TOP_K], "top_k", 0, INT64_MAX, &out->top_k);
    if (rc == LX_OK && v[K_N] >= 0)
        rc = oaf_int(d, v[K_N], "n", 1, OAF_MAX_N, &out->n);
    if (rc == LX_OK && v[K_SEED] >= 0) {
        rc = oaf_int(d, v[K_SEED], "seed", INT64_MIN, INT64_MAX, &out->seed);
        out->has_seed = rc == LX_OK;
    }
    if (rc == LX_OK && v[K_STOP] >= 0)
        rc = oaf_stop(d, v[K_STOP], out);
    if (rc == LX_OK && v[K_USER] >= 0)
        rc = oaf_string(d, v[K_USER], "user", &out->user);
    if (rc == LX_OK && v[K_STREAM] >= 0)
        rc = oaf_bool(d, v[K_STREAM], "stream", &out->stream);
    if (rc == LX_OK && v[K_STREAM_OPTIONS] >= 0) {
        int iu = lx_json_get(doc, v[K_STREAM_OPTIONS], LX_STR("include_usage"));

        if (lx_json_type(doc, v[K_STREAM_OPTIONS]) != LX_JSON_OBJECT)
            return OAF_BAD(d->err,
                           "Invalid type for 'stream_options': expected an object, but got %s "
                           "instead.",
                           oaf_tname(doc, v[K_STREAM_OPTIONS]));
        if (!out->stream)
            return OAF_BAD(d->err, "The 'stream_options' parameter is only allowed when 'stream' "
                                   "is enabled.");
        if (iu >= 0 && lx_json_type(doc, iu) != LX_JSON_NULL)
            rc = oaf_bool(d, iu, "stream_options.include_usage", &out->include_usage);
    }
    return rc;
}

static int oaf_decode_request(struct lx_str body, struct lx_arena *a, struct lx_chat_req *out,
                              struct lx_err *err)
{
    struct oaf_dec d;
    int v[K__COUNT];
    int rc;

    lx_chat_req_init(out);
    out->source = LX_SRC_OPENAI;
    rc = oaf_parse(&d, body, a, err);
    if (rc == LX_OK)
        rc = oaf_members(&d, oaf_chat_keys, v, out);
    if (rc != LX_OK)
        return rc;
    if (v[K_FUNCTIONS] >= 0 || v[K_FUNCTION_CALL] >= 0)
        return OAF_BAD(err,
                       "Invalid '%s': deprecated functions are not supported for this "
                       "model; use 'tools' and 'tool_choice'.",
                       v[K_FUNCTIONS] >= 0 ? "functions" : "function_call");
    rc = oaf_common(&d, v, out);
    if (rc == LX_OK)
        rc = oaf_messages(&d, v[K_MESSAGES], out);
    if (rc == LX_OK && v[K_TOOLS] >= 0)
        rc = oaf_tools(&d, v[K_TOOLS], out);
    if (rc == LX_OK && v[K_TOOL_CHOICE] >= 0)
        rc = oaf_tool_choice(&d, v[K_TOOL_CHOICE], out);
    if (rc == LX_OK && v[K_PARALLEL] >= 0) {
        bool b = false;

        rc = oaf_bool(&d, v[K_PARALLEL], "parallel_tool_calls", &b);
        out->parallel_tool_calls = b;
    }
    if (rc == LX_OK && v[K_RESPONSE_FORMAT] >= 0)
        rc = oaf_response_format(&d, v[K_RESPONSE_FORMAT], out);
    if (rc == LX_OK && v[K_REASONING_EFFORT] >= 0)
        rc = oaf_effort(&d, v[K_REASONING_EFFORT], out);
    if (rc == LX_OK && v[K_METADATA] >= 0) {
        if (lx_json_type(&d.doc, v[K_METADATA]) != LX_JSON_OBJECT)
            return OAF_BAD(err,
                           "Invalid type for 'metadata': expected an object, but got %s instead.",
                           oaf_tname(&d.doc, v[K_METADATA]));
        out->metadata = lx_json_raw(&d.doc, v[K_METADATA]);
    }
    return rc;
}

int lx_openai_decode_completion(struct lx_str body, struct lx_arena *a, struct lx_chat_req *out,
                                struct lx_err *err)
{
    struct oaf_dec d;
    int v[K__COUNT];
    int prompt, rc;
    struct lx_part *p;

    lx_chat_req_init(out);
    out->source = LX_SRC_OPENAI;
    out->legacy_completion = true;
    rc = oaf_parse(&d, body, a, err);
    if (rc == LX_OK)
        rc = oaf_members(&d, oaf_completion_keys, v, out);
    if (rc == LX_OK)
        rc = oaf_common(&d, v, out);
    if (rc != LX_OK)
        return rc;
    if (out->max_tokens < 0)
        out->max_tokens = 16; /* the legacy endpoint's default */
    if (v[K_ECHO] >= 0) {
        rc = oaf_bool(&d, v[K_ECHO], "echo", &out->echo);
        if (rc != LX_OK)
            return rc;
    }
    if (v[K_SUFFIX] >= 0)
        return OAF_BAD(err, "Invalid 'suffix': insertion is not supported for this model.");
    prompt = v[K_PROMPT];
    if (prompt < 0)
        return OAF_BAD(err, "Missing required parameter: 'prompt'.");
    if (lx_json_type(&d.doc, prompt) == LX_JSON_ARRAY) {
        int first = lx_json_first(&d.doc, prompt);

        if (first < 0)
            return OAF_BAD(err, "Invalid 'prompt': empty array. Expected an array with minimum "
                                "length 1, but got an empty array instead.");
        if (lx_json_type(&d.doc, first) != LX_JSON_STRING)
            return OAF_BAD(err, "Invalid 'prompt': token prompts are not supported when the "
                                "provider has no completions endpoint; send text.");
        if (lx_json_count(&d.doc, prompt) > 1)
            return OAF_BAD(err, "Invalid 'prompt': only one prompt is supported when the "
                                "provider has no completions endpoint.");
        prompt = first;
    }
    if (lx_json_type(&d.doc, prompt) != LX_JSON_STRING)
        return OAF_BAD(err,
                       "Invalid type for 'prompt': expected one of a string or array of strings, "
                       "but got %s instead.",
                       oaf_tname(&d.doc, prompt));
    out->msgs = lx_arena_zalloc(a, sizeof(*out->msgs));
    p = lx_arena_zalloc(a, sizeof(*p));
    if (out->msgs == NULL || p == NULL)
        return oaf_nomem(&d);
    p->type = LX_PART_TEXT;
    rc = oaf_string(&d, prompt, "prompt", &p->text);
    if (rc != LX_OK)
        return rc;
    out->msgs[0].role = LX_ROLE_USER;
    out->msgs[0].parts = p;
    out->msgs[0].n_parts = 1;
    out->n_msgs = 1;
    return LX_OK;
}

/* ---- decoding: embeddings --------------------------------------------------------------- */

int lx_openai_decode_embeddings(struct lx_str body, struct lx_arena *a, struct lx_embed_req *out,
                                struct lx_err *err)
{
    struct oaf_dec d;
    const struct lx_json *doc = &d.doc;
    int model, input, fmt, dims, user, itype;
    int rc;

    memset(out, 0, sizeof(*out));
    out->dimensions = -1;
    rc = oaf_parse(&d, body, a, err);
    if (rc != LX_OK)
        return rc;
    model = lx_json_get(doc, 0, LX_STR("model"));
    input = lx_json_get(doc, 0, LX_STR("input"));
    fmt = lx_json_get(doc, 0, LX_STR("encoding_format"));
    dims = lx_json_get(doc, 0, LX_STR("dimensions"));
    user = lx_json_get(doc, 0, LX_STR("user"));
    itype = lx_json_get(doc, 0, LX_STR("input_type"));
    if (model < 0 || lx_json_type(doc, model) == LX_JSON_NULL)
        return OAF_BAD(err, "you must provide a model parameter");
    rc = oaf_string(&d, model, "model", &out->model);
    if (rc != LX_OK)
        return rc;
    if (input < 0 || lx_json_type(doc, input) == LX_JSON_NULL)
        return OAF_BAD(err, "Missing required parameter: 'input'.");
    if (lx_json_type(doc, input) == LX_JSON_STRING) {
        out->inputs = lx_arena_zalloc(a, sizeof(*out->inputs));
        if (out->inputs == NULL)
            return oaf_nomem(&d);
        rc = oaf_string(&d, input, "input", &out->inputs[0]);
        if (rc != LX_OK)
            return rc;
        out->n_inputs = 1;
    } else if (lx_json_type(doc, input) == LX_JSON_ARRAY) {
        if (lx_json_count(doc, input) == 0)
            return OAF_BAD(err, "Invalid 'input': empty array. Expected an array with minimum "
                                "length 1, but got an empty array instead.");
        if (lx_json_count(doc, input) > OAF_MAX_EMBED_INPUTS)
            return OAF_BAD(err,
                           "Invalid 'input': array too long. Expected an array with maximum "
                           "length %u, but got an array with length %u instead.",
                           OAF_MAX_EMBED_INPUTS, (unsigned)lx_json_count(doc, input));
        out->inputs = lx_arena_zalloc(a, lx_json_count(doc, input) * sizeof(*out->inputs));
        if (out->inputs == NULL)
            return oaf_nomem(&d);
        for (int e = lx_json_first(doc, input); e >= 0; e = lx_json_sibling(doc, input, e)) {
            if (lx_json_type(doc, e) == LX_JSON_NUMBER || lx_json_type(doc, e) == LX_JSON_ARRAY)
                return OAF_BAD(err, "Invalid 'input': token arrays are not supported for this "
                                    "model (its provider is not OpenAI-compatible); send text.");
            rc = oaf_string(&d, e, "input[]", &out->inputs[out->n_inputs]);
            if (rc != LX_OK)
                return rc;
            out->n_inputs++;
        }
    } else {
        return OAF_BAD(err,
                       "Invalid type for 'input': expected one of a string or array of strings, "
                       "but got %s instead.",
                       oaf_tname(doc, input));
    }
    if (fmt >= 0 && lx_json_type(doc, fmt) != LX_JSON_NULL) {
        if (lx_json_str_eq(doc, fmt, LX_STR("base64")))
            out->base64 = true;
        else if (!lx_json_str_eq(doc, fmt, LX_STR("float")))
            return OAF_BAD(err, "Invalid value for 'encoding_format': supported values are: "
                                "'float' and 'base64'.");
    }
    if (dims >= 0 && lx_json_type(doc, dims) != LX_JSON_NULL) {
        rc = oaf_int(&d, dims, "dimensions", 1, INT32_MAX, &out->dimensions);
        if (rc != LX_OK)
            return rc;
    }
    if (user >= 0 && lx_json_type(doc, user) != LX_JSON_NULL) {
        rc = oaf_string(&d, user, "user", &out->user);
        if (rc != LX_OK)
            return rc;
    }
    if (itype >= 0 && lx_json_type(doc, itype) != LX_JSON_NULL)
        rc = oaf_string(&d, itype, "input_type", &out->input_type);
    return rc;
}

/* ---- encoding: shared pieces ------------------------------------------------------------ */

static void oaf_lit(struct lx_buf *b, const char *s) { lx_buf_append_cstr(b, s); }

static void oaf_qs(struct lx_buf *b, struct lx_str s)
{
    lx_buf_append_char(b, '"');
    lx_json_escape(b, s);
    lx_buf_append_char(b, '"');
}

static void oaf_i64(struct lx_buf *b, int64_t v) { lx_buf_appendf(b, "%lld", (long long)v); }

/* Tool-call id as the client sees it: with a Gemini thought signature appended. */
static void oaf_call_id(struct lx_buf *b, struct lx_str id, struct lx_str sig, unsigned choice,
                        int index)
{
    lx_buf_append_char(b, '"');
    if (id.len > 0)
        lx_json_escape(b, id);
    else /* Gemini sends none: make one that stays the same in this answer */
        lx_buf_appendf(b, "call_%u_%d", choice, index);
    if (sig.len > 0) {
        lx_buf_append_cstr(b, LX_OPENAI_THOUGHT_SEP);
        lx_json_escape(b, sig);
    }
    lx_buf_append_char(b, '"');
}

static void oaf_usage(struct lx_buf *b, const struct lx_usage *u, bool legacy)
{
    int64_t in = u->input >= 0 ? u->input : 0;
    int64_t out = u->output >= 0 ? u->output : 0;

    oaf_lit(b, "{\"prompt_tokens\":");
    oaf_i64(b, in);
    oaf_lit(b, ",\"completion_tokens\":");
    oaf_i64(b, out);
    oaf_lit(b, ",\"total_tokens\":");
    oaf_i64(b, u->total >= 0 ? u->total : in + out);
    if (!legacy) {
        oaf_lit(b, ",\"prompt_tokens_details\":{\"cached_tokens\":");
        oaf_i64(b, u->cache_read >= 0 ? u->cache_read : 0);
        oaf_lit(b, "},\"completion_tokens_details\":{\"reasoning_tokens\":");
        oaf_i64(b, u->reasoning >= 0 ? u->reasoning : 0);
        oaf_lit(b, "}");
    }
    oaf_lit(b, "}");
}

/* The prompt of a legacy completion (echo). */
static struct lx_str oaf_prompt(const struct lx_chat_req *req)
{
    if (req->n_msgs > 0 && req->msgs[0].n_parts > 0 && req->msgs[0].parts[0].type == LX_PART_TEXT)
        return req->msgs[0].parts[0].text;
    return LX_STR("");
}

static const char *oaf_finish(enum lx_finish f, bool had_calls)
{
    if ((f == LX_FINISH_STOP || f == LX_FINISH_UNSET) && had_calls)
        return "tool_calls"; /* Gemini ends a function-calling turn with STOP */
    return lx_finish_openai(f);
}

static const char *oaf_default_code(enum lx_err_type t)
{
    switch (t) {
    case LX_ERRT_AUTHENTICATION:
        return "invalid_api_key";
    case LX_ERRT_NOT_FOUND:
        return "model_not_found";
    case LX_ERRT_RATE_LIMIT:
        return "rate_limit_exceeded";
    case LX_ERRT_QUOTA:
        return "insufficient_quota";
    case LX_ERRT_CONTEXT_LENGTH:
        return "context_length_exceeded";
    case LX_ERRT_CONTENT_FILTER:
        return "content_filter";
    default:
        break;
    }
    return NULL;
}

/* {"error":{"message","type","param":null,"code"}} */
static void oaf_error_obj(struct lx_buf *b, enum lx_err_type type, struct lx_str message,
                          struct lx_str code)
{
    const char *dflt = oaf_default_code(type);

    oaf_lit(b, "{\"error\":{\"message\":");
    oaf_qs(b, message);
    oaf_lit(b, ",\"type\":\"");
    oaf_lit(b, lx_err_type_openai(type));
    oaf_lit(b, "\",\"param\":null,\"code\":");
    if (code.len > 0)
        oaf_qs(b, code);
    else if (dflt != NULL)
        oaf_qs(b, lx_str_cstr(dflt));
    else
        oaf_lit(b, "null");
    oaf_lit(b, "}}");
}

/* ---- encoding: complete answers --------------------------------------------------------- */

static void oaf_chat_choice(struct lx_buf *b, const struct lx_choice *c)
{
    const struct lx_msg *m = &c->message;
    size_t n_text = 0, n_think = 0, n_calls = 0;
    int call = 0;

    for (size_t i = 0; i < m->n_parts; i++) {
        n_text += m->parts[i].type == LX_PART_TEXT;
        n_think += m->parts[i].type == LX_PART_THINKING && m->parts[i].text.len > 0;
        n_calls += m->parts[i].type == LX_PART_TOOL_CALL;
    }
    oaf_lit(b, "{\"index\":");
    oaf_i64(b, c->index);
    oaf_lit(b, ",\"message\":{\"role\":\"assistant\",\"content\":");
    if (n_text == 0 && n_calls > 0) {
        oaf_lit(b, "null");
    } else {
        lx_buf_append_char(b, '"');
        for (size_t i = 0; i < m->n_parts; i++)
            if (m->parts[i].type == LX_PART_TEXT)
                lx_json_escape(b, m->parts[i].text);
        lx_buf_append_char(b, '"');
    }
    oaf_lit(b, ",\"refusal\":null");
    if (n_think > 0) {
        oaf_lit(b, ",\"reasoning_content\":\"");
        for (size_t i = 0; i < m->n_parts; i++)
            if (m->parts[i].type == LX_PART_THINKING)
                lx_json_escape(b, m->parts[i].text);
        lx_buf_append_char(b, '"');
    }
    if (n_calls > 0) {
        oaf_lit(b, ",\"tool_calls\":[");
        for (size_t i = 0; i < m->n_parts; i++) {
            const struct lx_part *p = &m->parts[i];

            if (p->type != LX_PART_TOOL_CALL)
                continue;
            if (call > 0)
                lx_buf_append_char(b, ',');
            oaf_lit(b, "{\"id\":");
            oaf_call_id(b, p->id, p->signature, c->index, call);
            oaf_lit(b, ",\"type\":\"function\",\"function\":{\"name\":");
            oaf_qs(b, p->name);
            oaf_lit(b, ",\"arguments\":");
            oaf_qs(b, p->args.len > 0 ? p->args : LX_STR("{}"));
            oaf_lit(b, "}}");
            call++;
        }
        lx_buf_append_char(b, ']');
    }
    oaf_lit(b, "},\"logprobs\":null,\"finish_reason\":\"");
    oaf_lit(b, oaf_finish(c->finish, n_calls > 0));
    oaf_lit(b, "\"}");
}

static void oaf_text_choice(struct lx_buf *b, const struct lx_chat_req *req,
                            const struct lx_choice *c)
{
    oaf_lit(b, "{\"text\":\"");
    if (req->echo)
        lx_json_escape(b, oaf_prompt(req));
    for (size_t i = 0; i < c->message.n_parts; i++)
        if (c->message.parts[i].type == LX_PART_TEXT)
            lx_json_escape(b, c->message.parts[i].text);
    oaf_lit(b, "\",\"index\":");
    oaf_i64(b, c->index);
    oaf_lit(b, ",\"logprobs\":null,\"finish_reason\":\"");
    oaf_lit(b, lx_finish_openai(c->finish));
    oaf_lit(b, "\"}");
}

static int oaf_encode_response(const struct lx_chat_req *req, const struct lx_chat_resp *resp,
                               int64_t created, struct lx_buf *out)
{
    bool legacy = req->legacy_completion;

    if (created < 0)
        created = resp->created >= 0 ? resp->created : 0;
    oaf_lit(out, "{\"id\":");
    if (resp->id.len > 0)
        oaf_qs(out, resp->id);
    else
        lx_buf_appendf(out, "\"%s%lld\"", legacy ? "cmpl-" : "chatcmpl-", (long long)created);
    oaf_lit(out, legacy ? ",\"object\":\"text_completion\",\"created\":"
                        : ",\"object\":\"chat.completion\",\"created\":");
    oaf_i64(out, created);
    oaf_lit(out, ",\"model\":");
    oaf_qs(out, req->model.len > 0 ? req->model : resp->model);
    oaf_lit(out, ",\"choices\":[");
    for (size_t i = 0; i < resp->n_choices; i++) {
        if (i > 0)
            lx_buf_append_char(out, ',');
        if (legacy)
            oaf_text_choice(out, req, &resp->choices[i]);
        else
            oaf_chat_choice(out, &resp->choices[i]);
    }
    lx_buf_append_char(out, ']');
    if (lx_wire_usage_known(&resp->usage)) {
        oaf_lit(out, ",\"usage\":");
        oaf_usage(out, &resp->usage, legacy);
    }
    lx_buf_append_char(out, '}');
    return out->err;
}

/* ---- encoding: streams ------------------------------------------------------------------ */

enum oaf_seen_kind {
    SEEN_CHOICE = 0, /* the choice's opening chunk went out */
    SEEN_FINISH,     /* its finish_reason chunk went out */
    SEEN_CALL,       /* tool call (choice, index) began */
    SEEN_ANY_CALL,   /* the choice has at least one tool call */
};

struct oaf_stream {
    struct lx_str id, model;
    uint64_t *seen; /* keys of what went out, in order */
    size_t n_seen, cap_seen;
};

static uint64_t oaf_key(enum oaf_seen_kind k, unsigned choice, int index)
{
    return ((uint64_t)k << 62) | ((uint64_t)(choice & 0x3FFFFFFFu) << 32) | (uint32_t)index;
}

static bool oaf_seen(const struct oaf_stream *s, uint64_t key)
{
    for (size_t i = 0; i < s->n_seen; i++)
        if (s->seen[i] == key)
            return true;
    return false;
}

/* Adds key: 1 if new, 0 if it was there, or an LX_E* code. */
static int oaf_mark(struct lx_fd_stream *st, struct oaf_stream *s, uint64_t key)
{
    if (oaf_seen(s, key))
        return 0;
    if (s->n_seen == s->cap_seen) {
        size_t cap = s->cap_seen ? s->cap_seen * 2 : 16;
        uint64_t *p;

        if (cap > OAF_MAX_SEEN)
            return LX_ETOOBIG;
        p = lx_arena_alloc(st->a, cap * sizeof(*p));
        if (p == NULL)
            return LX_ENOMEM;
        if (s->n_seen > 0)
            memcpy(p, s->seen, s->n_seen * sizeof(*p));
        s->seen = p;
        s->cap_seen = cap;
    }
    s->seen[s->n_seen++] = key;
    return 1;
}

static int oaf_stream_priv(struct lx_fd_stream *st, const struct lx_delta *d,
                           struct oaf_stream **out)
{
    struct oaf_stream *s = st->priv;
    const struct lx_chat_req *req = st->req;

    if (s == NULL) {
        s = lx_arena_zalloc(st->a, sizeof(*s));
        if (s == NULL)
            return LX_ENOMEM;
        st->priv = s;
    }
    if (s->id.ptr == NULL) {
        if (d->type == LX_DELTA_START && d->id.len > 0) {
            s->id = lx_arena_dup(st->a, d->id);
        } else {
            char tmp[48];
            int n =
                snprintf(tmp, sizeof(tmp), "%s%lld", req->legacy_completion ? "cmpl-" : "chatcmpl-",
                         (long long)st->created);

            s->id = lx_arena_dup(st->a, lx_str_make(tmp, (size_t)n));
        }
        if (s->id.ptr == NULL)
            return LX_ENOMEM;
        st->id = s->id;
    }
    if (s->model.ptr == NULL) {
        if (req->model.len > 0)
            s->model = req->model;
        else if (d->type == LX_DELTA_START && d->name.len > 0)
            s->model = lx_arena_dup(st->a, d->name);
        else
            s->model = LX_STR("");
        if (s->model.ptr == NULL)
            return LX_ENOMEM;
    }
    *out = s;
    return LX_OK;
}

static void oaf_chunk_open(const struct lx_fd_stream *st, const struct oaf_stream *s,
                           struct lx_buf *out)
{
    oaf_lit(out, "data: {\"id\":");
    oaf_qs(out, s->id);
    oaf_lit(out, st->req->legacy_completion ? ",\"object\":\"text_completion\",\"created\":"
                                            : ",\"object\":\"chat.completion.chunk\",\"created\":");
    oaf_i64(out, st->created);
    oaf_lit(out, ",\"model\":");
    oaf_qs(out, s->model);
    oaf_lit(out, ",\"choices\":[");
}

static void oaf_chunk_close(const struct lx_fd_stream *st, struct lx_buf *out)
{
    lx_buf_append_char(out, ']');
    if (st->req->include_usage)
        oaf_lit(out, ",\"usage\":null");
    oaf_lit(out, "}\n\n");
}

/* A chat chunk for choice c: {"index":c,"delta":{<delta>},"finish_reason":<finish>}. */
static void oaf_chat_chunk_open(const struct lx_fd_stream *st, const struct oaf_stream *s,
                                unsigned c, struct lx_buf *out)
{
    oaf_chunk_open(st, s, out);
    oaf_lit(out, "{\"index\":");
    oaf_i64(out, c);
    oaf_lit(out, ",\"delta\":{");
}

static void oaf_chat_chunk_close(const struct lx_fd_stream *st, const char *finish,
                                 struct lx_buf *out)
{
    oaf_lit(out, "},\"finish_reason\":");
    if (finish != NULL) {
        lx_buf_append_char(out, '"');
        oaf_lit(out, finish);
        lx_buf_append_char(out, '"');
    } else {
        oaf_lit(out, "null");
    }
    lx_buf_append_char(out, '}');
    oaf_chunk_close(st, out);
}

/* A legacy chunk: {"text":<prefix + text>,"index":c,"logprobs":null,"finish_reason":...}. */
static void oaf_text_chunk(const struct lx_fd_stream *st, const struct oaf_stream *s, unsigned c,
                           struct lx_str text, const char *finish, struct lx_buf *out)
{
    oaf_chunk_open(st, s, out);
    oaf_lit(out, "{\"text\":");
    oaf_qs(out, text);
    oaf_lit(out, ",\"index\":");
    oaf_i64(out, c);
    oaf_lit(out, ",\"logprobs\":null,\"finish_reason\":");
    if (finish != NULL) {
        lx_buf_append_char(out, '"');
        oaf_lit(out, finish);
        lx_buf_append_char(out, '"');
    } else {
        oaf_lit(out, "null");
    }
    lx_buf_append_char(out, '}');
    oaf_chunk_close(st, out);
}

/* The opening chunk of choice c, once: the assistant role (chat) or the echoed prompt. */
static int oaf_open_choice(struct lx_fd_stream *st, struct oaf_stream *s, unsigned c,
                           struct lx_buf *out)
{
    int rc = oaf_mark(st, s, oaf_key(SEEN_CHOICE, c, 0));

    if (rc <= 0)
        return rc;
    st->started = true;
    if (st->req->legacy_completion) {
        if (st->req->echo)
            oaf_text_chunk(st, s, c, oaf_prompt(st->req), NULL, out);
        return LX_OK;
    }
    oaf_chat_chunk_open(st, s, c, out);
    oaf_lit(out, "\"role\":\"assistant\",\"content\":\"\"");
    oaf_chat_chunk_close(st, NULL, out);
    return LX_OK;
}

static int oaf_finish_choice(struct lx_fd_stream *st, struct oaf_stream *s, unsigned c,
                             enum lx_finish f, struct lx_buf *out)
{
    int rc = oaf_mark(st, s, oaf_key(SEEN_FINISH, c, 0));
    const char *word;

    if (rc <= 0)
        return rc; /* one finish_reason per choice */
    word = oaf_finish(f, oaf_seen(s, oaf_key(SEEN_ANY_CALL, c, 0)));
    if (st->req->legacy_completion) {
        oaf_text_chunk(st, s, c, LX_STR(""), lx_finish_openai(f), out);
    } else {
        oaf_chat_chunk_open(st, s, c, out);
        oaf_chat_chunk_close(st, word, out);
    }
    return LX_OK;
}

static int oaf_tool_delta(struct lx_fd_stream *st, struct oaf_stream *s, const struct lx_delta *d,
                          struct lx_buf *out)
{
    int idx = d->tool_index < 0 ? 0 : d->tool_index;
    int rc = oaf_mark(st, s, oaf_key(SEEN_CALL, d->choice, idx));

    if (rc < 0)
        return rc;
    if (rc == 1) {
        rc = oaf_mark(st, s, oaf_key(SEEN_ANY_CALL, d->choice, 0));
        if (rc < 0)
            return rc;
        oaf_chat_chunk_open(st, s, d->choice, out);
        oaf_lit(out, "\"tool_calls\":[{\"index\":");
        oaf_i64(out, idx);
        oaf_lit(out, ",\"id\":");
        oaf_call_id(out, d->id, d->signature, d->choice, idx);
        oaf_lit(out, ",\"type\":\"function\",\"function\":{\"name\":");
        oaf_qs(out, d->name);
        oaf_lit(out, ",\"arguments\":\"\"}}]");
        oaf_chat_chunk_close(st, NULL, out);
    }
    if (d->text.len > 0) {
        oaf_chat_chunk_open(st, s, d->choice, out);
        oaf_lit(out, "\"tool_calls\":[{\"index\":");
        oaf_i64(out, idx);
        oaf_lit(out, ",\"function\":{\"arguments\":");
        oaf_qs(out, d->text);
        oaf_lit(out, "}}]");
        oaf_chat_chunk_close(st, NULL, out);
    }
    return LX_OK;
}

static int oaf_done(struct lx_fd_stream *st, struct oaf_stream *s, struct lx_buf *out)
{
    int rc;

    if (!st->started) {
        rc = oaf_open_choice(st, s, 0, out);
        if (rc < 0)
            return rc;
    }
    /* every choice ends with a finish_reason chunk, even when the provider named none */
    for (size_t i = 0; i < s->n_seen; i++) {
        uint64_t k = s->seen[i];

        if ((k >> 62) == SEEN_CHOICE) {
            rc = oaf_finish_choice(st, s, (unsigned)((k >> 32) & 0x3FFFFFFFu), LX_FINISH_STOP, out);
            if (rc < 0)
                return rc;
        }
    }
    if (st->req->include_usage) {
        oaf_chunk_open(st, s, out);
        oaf_lit(out, "],\"usage\":");
        oaf_usage(out, &st->usage, st->req->legacy_completion);
        oaf_lit(out, "}\n\n");
    }
    oaf_lit(out, "data: [DONE]\n\n");
    st->finished = true;
    return LX_OK;
}

static int oaf_encode_delta(struct lx_fd_stream *st, const struct lx_delta *d, struct lx_buf *out)
{
    bool legacy = st->req->legacy_completion;
    struct oaf_stream *s;
    int rc;

    if (st->finished)
        return LX_OK; /* nothing follows [DONE] or an error event */
    rc = oaf_stream_priv(st, d, &s);
    if (rc != LX_OK)
        return rc;
    switch (d->type) {
    case LX_DELTA_START:
        rc = oaf_open_choice(st, s, 0, out);
        break;
    case LX_DELTA_TEXT:
        rc = oaf_open_choice(st, s, d->choice, out);
        if (rc < 0 || d->text.len == 0)
            break;
        if (legacy) {
            oaf_text_chunk(st, s, d->choice, d->text, NULL, out);
        } else {
            oaf_chat_chunk_open(st, s, d->choice, out);
            oaf_lit(out, "\"content\":");
            oaf_qs(out, d->text);
            oaf_chat_chunk_close(st, NULL, out);
        }
        break;
    case LX_DELTA_THINKING:
        rc = oaf_open_choice(st, s, d->choice, out);
        if (rc < 0 || d->text.len == 0 || legacy)
            break;
        oaf_chat_chunk_open(st, s, d->choice, out);
        oaf_lit(out, "\"reasoning_content\":");
        oaf_qs(out, d->text);
        oaf_chat_chunk_close(st, NULL, out);
        break;
    case LX_DELTA_THINKING_SIGNATURE:
    case LX_DELTA_REDACTED_THINKING:
        break; /* no OpenAI field carries them */
    case LX_DELTA_TOOL_CALL:
        rc = oaf_open_choice(st, s, d->choice, out);
        if (rc >= 0 && !legacy)
            rc = oaf_tool_delta(st, s, d, out);
        break;
    case LX_DELTA_FINISH:
        rc = oaf_open_choice(st, s, d->choice, out);
        if (rc >= 0)
            rc = oaf_finish_choice(st, s, d->choice, d->finish, out);
        break;
    case LX_DELTA_USAGE:
        lx_wire_usage_merge(&st->usage, &d->usage);
        break;
    case LX_DELTA_ERROR: {
        const struct lx_upstream_error *e = d->error;

        oaf_lit(out, "data: ");
        if (e != NULL)
            oaf_error_obj(out, e->type != LX_ERRT_UNSET ? e->type : LX_ERRT_SERVER,
                          e->message.len > 0 ? e->message : LX_STR("upstream error"), e->code);
        else
            oaf_error_obj(out, LX_ERRT_SERVER, LX_STR("upstream error"), LX_STR_NULL);
        oaf_lit(out, "\n\n");
        st->finished = true;
        break;
    }
    case LX_DELTA_DONE:
        rc = oaf_done(st, s, out);
        break;
    }
    if (rc < 0)
        return rc;
    return out->err;
}

static int oaf_encode_error(int status, enum lx_err_type type, struct lx_str message,
                            struct lx_str code, struct lx_buf *out)
{
    if (type == LX_ERRT_UNSET)
        type = lx_err_type_from_status(status);
    oaf_error_obj(out, type, message, code);
    return out->err;
}

static int oaf_encode_stream_error(struct lx_fd_stream *st, enum lx_err_type type,
                                   struct lx_str message, struct lx_buf *out)
{
    if (st->finished)
        return LX_OK;
    oaf_lit(out, "data: ");
    oaf_error_obj(out, type != LX_ERRT_UNSET ? type : LX_ERRT_SERVER, message, LX_STR_NULL);
    oaf_lit(out, "\n\n");
    st->finished = true;
    return out->err;
}

/* ---- embeddings ------------------------------------------------------------------------- */

static size_t oaf_ws(struct lx_str v, size_t i)
{
    while (i < v.len &&
           (v.ptr[i] == ' ' || v.ptr[i] == '\t' || v.ptr[i] == '\n' || v.ptr[i] == '\r'))
        i++;
    return i;
}

static size_t oaf_digits(struct lx_str v, size_t i)
{
    while (i < v.len && v.ptr[i] >= '0' && v.ptr[i] <= '9')
        i++;
    return i;
}

/* One RFC 8259 number at v[*pos]: its text; 0 length when there is none. */
static struct lx_str oaf_number(struct lx_str v, size_t *pos)
{
    size_t i = *pos, s = i, t;

    if (i < v.len && v.ptr[i] == '-')
        i++;
    t = oaf_digits(v, i);
    if (t == i || (v.ptr[i] == '0' && t > i + 1))
        return LX_STR_NULL;
    i = t;
    if (i < v.len && v.ptr[i] == '.') {
        t = oaf_digits(v, i + 1);
        if (t == i + 1)
            return LX_STR_NULL;
        i = t;
    }
    if (i < v.len && (v.ptr[i] == 'e' || v.ptr[i] == 'E')) {
        i++;
        if (i < v.len && (v.ptr[i] == '+' || v.ptr[i] == '-'))
            i++;
        t = oaf_digits(v, i);
        if (t == i)
            return LX_STR_NULL;
        i = t;
    }
    *pos = i;
    return lx_str_make(v.ptr + s, i - s);
}

struct oaf_b64 {
    unsigned char q[3];
    int n;
};

static void oaf_b64_flush(struct lx_buf *b, struct oaf_b64 *e)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned v = (unsigned)e->q[0] << 16 | (unsigned)(e->n > 1 ? e->q[1] : 0) << 8 |
                 (unsigned)(e->n > 2 ? e->q[2] : 0);
    char o[4];

    if (e->n == 0)
        return;
    o[0] = tab[(v >> 18) & 63];
    o[1] = tab[(v >> 12) & 63];
    o[2] = e->n > 1 ? tab[(v >> 6) & 63] : '=';
    o[3] = e->n > 2 ? tab[v & 63] : '=';
    lx_buf_append(b, o, 4);
    e->n = 0;
}

static void oaf_b64_put(struct lx_buf *b, struct oaf_b64 *e, unsigned char c)
{
    e->q[e->n++] = c;
    if (e->n == 3)
        oaf_b64_flush(b, e);
}

/* One vector (a JSON array of numbers, as text) as a JSON array or a base64 string. */
static int oaf_vector(struct lx_buf *b, struct lx_str v, bool base64)
{
    struct oaf_b64 e = {{0, 0, 0}, 0};
    size_t i = oaf_ws(v, 0);
    bool first = true;

    if (i >= v.len || v.ptr[i] != '[')
        return LX_EPARSE;
    i = oaf_ws(v, i + 1);
    lx_buf_append_char(b, base64 ? '"' : '[');
    if (i < v.len && v.ptr[i] == ']') {
        i++;
    } else {
        for (;;) {
            struct lx_str num = oaf_number(v, &i);
            char tmp[64];
            double x;
            float f;
            uint32_t bits;

            if (num.len == 0 || num.len >= sizeof(tmp))
                return LX_EPARSE;
            if (base64) {
                memcpy(tmp, num.ptr, num.len);
                tmp[num.len] = '\0';
                x = strtod(tmp, NULL);
                f = (float)x;
                memcpy(&bits, &f, sizeof(bits));
                for (int k = 0; k < 4; k++)
                    oaf_b64_put(b, &e, (unsigned char)(bits >> (8 * k)));
            } else {
                if (!first)
                    lx_buf_append_char(b, ',');
                lx_buf_append(b, num.ptr, num.len);
            }
            first = false;
            i = oaf_ws(v, i);
            if (i < v.len && v.ptr[i] == ',') {
                i = oaf_ws(v, i + 1);
                continue;
            }
            if (i < v.len && v.ptr[i] == ']') {
                i++;
                break;
            }
            return LX_EPARSE;
        }
    }
    if (oaf_ws(v, i) != v.len)
        return LX_EPARSE;
    oaf_b64_flush(b, &e);
    lx_buf_append_char(b, base64 ? '"' : ']');
    return LX_OK;
}

int lx_openai_encode_embeddings(const struct lx_embed_req *req, const struct lx_embed_resp *resp,
                                struct lx_buf *out)
{
    int64_t in = resp->usage.input >= 0 ? resp->usage.input : 0;

    oaf_lit(out, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < resp->n_vectors; i++) {
        int rc;

        if (i > 0)
            lx_buf_append_char(out, ',');
        oaf_lit(out, "{\"object\":\"embedding\",\"index\":");
        oaf_i64(out, (int64_t)i);
        oaf_lit(out, ",\"embedding\":");
        rc = oaf_vector(out, resp->vectors[i], req->base64);
        if (rc != LX_OK)
            return rc;
        lx_buf_append_char(out, '}');
    }
    oaf_lit(out, "],\"model\":");
    oaf_qs(out, req->model.len > 0 ? req->model : resp->model);
    oaf_lit(out, ",\"usage\":{\"prompt_tokens\":");
    oaf_i64(out, in);
    oaf_lit(out, ",\"total_tokens\":");
    oaf_i64(out, resp->usage.total >= 0 ? resp->usage.total : in);
    oaf_lit(out, "}}");
    return out->err;
}

/* ---- the vtable --------------------------------------------------------------------------- */

const struct lx_frontdoor_ops lx_frontdoor_openai = {
    .name = "openai",
    .source = LX_SRC_OPENAI,
    .decode_request = oaf_decode_request,
    .encode_response = oaf_encode_response,
    .encode_delta = oaf_encode_delta,
    .encode_error = oaf_encode_error,
    .encode_stream_error = oaf_encode_stream_error,
};
