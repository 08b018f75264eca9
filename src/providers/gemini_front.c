/* gemini_front.c - the Gemini front door (lx_frontdoor_gemini): a client of the @google/genai
 * SDK posts a GenerateContentRequest to /v1beta/models/{model}:generateContent (or
 * :streamGenerateContent?alt=sse); this decodes it into the IR (the gateway sets model and
 * stream from the URL) and encodes the IR answer, deltas and errors back as Gemini's own
 * GenerateContentResponse JSON, SSE chunks and google.rpc.Status errors. Owned by the Gemini
 * adapter.
 *
 * Pure translator: no I/O, no globals, no clock; request memory from the arena given; stream
 * state in st->a. The only heap use is transient (a converted schema is written into a bounded
 * lx_buf and copied to the arena; tool arguments are validated with a tokenizer whose tokens
 * are freed before return). Any thread. Mapping tables: docs/internals/gemini.md. */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/str.h"
#include "json/json.h"
#include "json/writer.h"
#include "providers/gemini.h"
#include "providers/wire.h"

#define GF_MAX_CHOICES 16u
#define GF_MAX_SCHEMA ((size_t)4 << 20)

#define GF_KEY(w, lit) lx_json_write_key((w), LX_STR(lit))
#define GF_GET(doc, o, lit) lx_json_get((doc), (o), LX_STR(lit))
#define GF_BAD(err, ...) (lx_err_set((err), LX_EINVAL, 400, __VA_ARGS__), LX_EINVAL)

/* ---- decode_request --------------------------------------------------------------------- */

struct gf_call {
    struct lx_str name, id;
    bool answered;
};

struct gf_dec {
    const struct lx_json *doc;
    struct lx_arena *a;
    struct lx_chat_req *out;
    struct lx_err *err;
    size_t cap_msgs;
    struct gf_call *calls;
    size_t n_calls, cap_calls;
    unsigned n_unpaired;
};

static int gf_oom(struct lx_err *err)
{
    lx_err_set(err, LX_ENOMEM, 503, "out of memory");
    return LX_ENOMEM;
}

static int gf_str(struct gf_dec *d, int i, struct lx_str *out)
{
    *out = LX_STR_NULL;
    if (i < 0)
        return LX_OK;
    if (lx_json_type(d->doc, i) != LX_JSON_STRING)
        return LX_EINVAL;
    return lx_json_str(d->doc, i, d->a, out) == LX_OK ? LX_OK : LX_ENOMEM;
}

/* A schema converted by lx__gemini_write_schema into the arena. */
static int gf_schema(struct gf_dec *d, int i, enum lx__gemini_schema_mode mode, struct lx_str *out)
{
    struct lx_buf b = LX_BUF_INIT(GF_MAX_SCHEMA);
    struct lx_json_writer w;
    int rc;

    lx_json_writer_init(&w, &b);
    lx__gemini_write_schema(&w, d->doc, i, mode);
    rc = lx_json_writer_finish(&w);
    if (rc == LX_OK && b.err != LX_OK)
        rc = b.err;
    if (rc == LX_OK) {
        *out = lx_arena_dup(d->a, lx_buf_str(&b));
        if (out->ptr == NULL)
            rc = LX_ENOMEM;
    }
    lx_buf_release(&b);
    return rc;
}

static int gf_num(struct gf_dec *d, int i, const char *name, struct lx_num *n)
{
    if (i < 0)
        return LX_OK;
    if (lx_json_type(d->doc, i) != LX_JSON_NUMBER || lx_json_double(d->doc, i, &n->v) != LX_OK)
        return GF_BAD(d->err, "generationConfig.%s: a number is required", name);
    n->raw = lx_json_raw(d->doc, i);
    return LX_OK;
}

static int gf_int(struct gf_dec *d, int i, const char *name, int64_t *v)
{
    double x;

    if (i < 0)
        return LX_OK;
    if (lx_json_int64(d->doc, i, v) == LX_OK)
        return LX_OK;
    /* proto JSON also accepts 40.0 for an int32 */
    if (lx_json_type(d->doc, i) == LX_JSON_NUMBER && lx_json_double(d->doc, i, &x) == LX_OK &&
        x >= -9e15 && x <= 9e15 && x == (double)(int64_t)x) {
        *v = (int64_t)x;
        return LX_OK;
    }
    return GF_BAD(d->err, "%s: an integer is required", name);
}

static enum lx_part_type gf_media_type(struct lx_str mime)
{
    if (lx_str_starts_with(mime, LX_STR("image/")))
        return LX_PART_IMAGE;
    if (lx_str_starts_with(mime, LX_STR("audio/")))
        return LX_PART_AUDIO;
    return LX_PART_FILE;
}

/* The id of the call a functionResponse answers: its own id, else the n-th unanswered call of
 * that name (Gemini pairs by name and order). */
static struct lx_str gf_pair(struct gf_dec *d, struct lx_str name, struct lx_str id)
{
    for (size_t i = 0; i < d->n_calls; i++) {
        struct gf_call *c = &d->calls[i];

        if (c->answered || !lx_str_eq(c->name, name))
            continue;
        if (id.len > 0 && !lx_str_eq(c->id, id))
            continue;
        c->answered = true;
        return c->id;
    }
    if (id.len > 0)
        return id;
    return lx__gemini_call_id(d->a, LX_STR("unpaired"), name, 0, d->n_unpaired++);
}

/* One part of contents[ci].parts[pi] -> *p. */
static int gf_part(struct gf_dec *d, int e, size_t ci, size_t pi, bool model, struct lx_part *p)
{
    const struct lx_json *doc = d->doc;
    int t = GF_GET(doc, e, "text"), idata = GF_GET(doc, e, "inlineData");
    int fdata = GF_GET(doc, e, "fileData"), fc = GF_GET(doc, e, "functionCall");
    int fr = GF_GET(doc, e, "functionResponse");
    int rc;

    memset(p, 0, sizeof(*p));
    if (lx_json_type(doc, e) != LX_JSON_OBJECT)
        return GF_BAD(d->err, "contents[%zu].parts[%zu]: an object is required", ci, pi);
    if (gf_str(d, GF_GET(doc, e, "thoughtSignature"), &p->signature) != LX_OK)
        return GF_BAD(d->err, "contents[%zu].parts[%zu].thoughtSignature: a string is required",
                      ci, pi);
    if (t >= 0) {
        if (gf_str(d, t, &p->text) != LX_OK)
            return GF_BAD(d->err, "contents[%zu].parts[%zu].text: a string is required", ci, pi);
        p->type = lx_json_type(doc, GF_GET(doc, e, "thought")) == LX_JSON_TRUE ? LX_PART_THINKING
                                                                               : LX_PART_TEXT;
        return LX_OK;
    }
    if (idata >= 0 || fdata >= 0) {
        int o = idata >= 0 ? idata : fdata;

        if (lx_json_type(doc, o) != LX_JSON_OBJECT ||
            gf_str(d, GF_GET(doc, o, "mimeType"), &p->media_type) != LX_OK)
            return GF_BAD(d->err, "contents[%zu].parts[%zu]: bad %s", ci, pi,
                          idata >= 0 ? "inlineData" : "fileData");
        rc = idata >= 0 ? gf_str(d, GF_GET(doc, o, "data"), &p->data)
                        : gf_str(d, GF_GET(doc, o, "fileUri"), &p->url);
        if (rc != LX_OK || (idata >= 0 ? p->data.len : p->url.len) == 0)
            return GF_BAD(d->err, "contents[%zu].parts[%zu]: %s is required", ci, pi,
                          idata >= 0 ? "inlineData.data" : "fileData.fileUri");
        if (idata >= 0 && p->media_type.len == 0)
            return GF_BAD(d->err, "contents[%zu].parts[%zu].inlineData.mimeType is required",
                          ci, pi);
        p->type = gf_media_type(p->media_type);
        return LX_OK;
    }
    if (fc >= 0) {
        int args = GF_GET(doc, fc, "args");

        if (!model)
            return GF_BAD(d->err, "contents[%zu].parts[%zu]: functionCall is only valid in a "
                                  "model turn", ci, pi);
        if (lx_json_type(doc, fc) != LX_JSON_OBJECT ||
            gf_str(d, GF_GET(doc, fc, "name"), &p->name) != LX_OK || p->name.len == 0 ||
            gf_str(d, GF_GET(doc, fc, "id"), &p->id) != LX_OK ||
            (args >= 0 && lx_json_type(doc, args) != LX_JSON_OBJECT))
            return GF_BAD(d->err, "contents[%zu].parts[%zu].functionCall: name (string) and "
                                  "args (object) are required", ci, pi);
        p->type = LX_PART_TOOL_CALL;
        p->args = args >= 0 ? lx_json_raw(doc, args) : LX_STR("{}");
        if (p->id.len == 0)
            p->id = lx__gemini_call_id(d->a, LX_STR(""), p->name, 0, (unsigned)d->n_calls);
        if (p->id.ptr == NULL)
            return gf_oom(d->err);
        if (d->n_calls < d->cap_calls)
            d->calls[d->n_calls++] = (struct gf_call){p->name, p->id, false};
        return LX_OK;
    }
    if (fr >= 0) {
        int resp = GF_GET(doc, fr, "response");
        struct lx_str id;

        if (lx_json_type(doc, fr) != LX_JSON_OBJECT ||
            gf_str(d, GF_GET(doc, fr, "name"), &p->name) != LX_OK || p->name.len == 0 ||
            gf_str(d, GF_GET(doc, fr, "id"), &id) != LX_OK || resp < 0)
            return GF_BAD(d->err, "contents[%zu].parts[%zu].functionResponse: name and response "
                                  "are required", ci, pi);
        p->type = LX_PART_TOOL_RESULT;
        p->text = lx_json_raw(doc, resp); /* the response object, as JSON text */
        p->id = gf_pair(d, p->name, id);
        if (p->id.ptr == NULL)
            return gf_oom(d->err);
        return LX_OK;
    }
    if (p->signature.len > 0) { /* a bare signature part: keep it on an empty text */
        p->type = LX_PART_TEXT;
        return LX_OK;
    }
    {
        int k = lx_json_first(doc, e);
        struct lx_str name = k >= 0 ? lx_json_str_raw(doc, k) : LX_STR("(empty)");

        return GF_BAD(d->err, "contents[%zu].parts[%zu]: the part kind \"%.*s\" is not supported "
                              "by this gateway", ci, pi, (int)(name.len > 40 ? 40 : name.len),
                      name.ptr);
    }
}

/* What gf_part makes a TOOL_RESULT of: a functionResponse and none of the kinds it checks first. */
static bool gf_is_result(const struct lx_json *doc, int e)
{
    return GF_GET(doc, e, "functionResponse") >= 0 && GF_GET(doc, e, "text") < 0 &&
           GF_GET(doc, e, "inlineData") < 0 && GF_GET(doc, e, "fileData") < 0 &&
           GF_GET(doc, e, "functionCall") < 0;
}

static struct lx_msg *gf_msg(struct gf_dec *d, enum lx_role role, size_t max_parts)
{
    struct lx_msg *m;

    if (d->out->n_msgs >= d->cap_msgs)
        return NULL;
    m = &d->out->msgs[d->out->n_msgs++];
    memset(m, 0, sizeof(*m));
    m->role = role;
    m->parts = lx_arena_zalloc(d->a, (max_parts ? max_parts : 1) * sizeof(*m->parts));
    return m->parts != NULL ? m : NULL;
}

static int gf_contents(struct gf_dec *d, int contents)
{
    const struct lx_json *doc = d->doc;
    size_t total = 0, ci = 0;

    if (lx_json_type(doc, contents) != LX_JSON_ARRAY || lx_json_count(doc, contents) == 0)
        return GF_BAD(d->err, "* GenerateContentRequest.contents: contents is not specified");
    for (int c = lx_json_first(doc, contents); c >= 0;
         c = lx_json_sibling(doc, contents, c), ci++) {
        int parts = GF_GET(doc, c, "parts");

        if (lx_json_type(doc, c) != LX_JSON_OBJECT || lx_json_type(doc, parts) != LX_JSON_ARRAY)
            return GF_BAD(d->err, "contents[%zu]: an object with a parts array is required", ci);
        total += lx_json_count(doc, parts);
    }
    d->cap_msgs = total + lx_json_count(doc, contents) + 2;
    d->out->msgs = lx_arena_zalloc(d->a, d->cap_msgs * sizeof(*d->out->msgs));
    d->cap_calls = total;
    d->calls = lx_arena_zalloc(d->a, (total + 1) * sizeof(*d->calls));
    if (d->out->msgs == NULL || d->calls == NULL)
        return gf_oom(d->err);
    return LX_OK;
}

static int gf_content(struct gf_dec *d, int c, size_t ci)
{
    const struct lx_json *doc = d->doc;
    int role = GF_GET(doc, c, "role"), parts = GF_GET(doc, c, "parts");
    size_t n = lx_json_count(doc, parts), pi = 0;
    bool model = false;
    struct lx_msg *cur = NULL;
    size_t cur_cap = 0;
    int rc;

    if (role >= 0 && lx_json_str_eq(doc, role, LX_STR("model")))
        model = true;
    else if (role >= 0 && !lx_json_str_eq(doc, role, LX_STR("user")) &&
             !lx_json_str_eq(doc, role, LX_STR("function")))
        return GF_BAD(d->err, "contents[%zu].role: \"user\", \"model\" or \"function\" is "
                              "required", ci);
    if (n == 0)
        return GF_BAD(d->err, "contents[%zu].parts: must not be empty", ci);
    for (int e = lx_json_first(doc, parts); e >= 0; e = lx_json_sibling(doc, parts, e), pi++) {
        struct lx_part p;

        rc = gf_part(d, e, ci, pi, model, &p);
        if (rc != LX_OK)
            return rc;
        if (p.type == LX_PART_TOOL_RESULT) {
            /* one TOOL message per result (ir.h); user text after it starts a new message */
            struct lx_msg *m = gf_msg(d, LX_ROLE_TOOL, 1);

            if (m == NULL)
                return gf_oom(d->err);
            m->parts[m->n_parts++] = p;
            cur = NULL;
            continue;
        }
        if (cur == NULL || cur->n_parts >= cur_cap) {
            /* sized by the run of parts up to the next functionResponse: O(parts) in all */
            size_t run = 0;

            for (int x = e; x >= 0; x = lx_json_sibling(doc, parts, x)) {
                if (gf_is_result(doc, x))
                    break;
                run++;
            }
            cur_cap = run ? run : 1;
            cur = gf_msg(d, model ? LX_ROLE_ASSISTANT : LX_ROLE_USER, cur_cap);
            if (cur == NULL)
                return gf_oom(d->err);
        }
        cur->parts[cur->n_parts++] = p;
    }
    return LX_OK;
}

static int gf_system(struct gf_dec *d, int si)
{
    const struct lx_json *doc = d->doc;
    struct lx_msg *m;
    int parts;

    if (lx_json_type(doc, si) == LX_JSON_STRING) {
        m = gf_msg(d, LX_ROLE_SYSTEM, 1);
        if (m == NULL)
            return gf_oom(d->err);
        m->n_parts = 1;
        return gf_str(d, si, &m->parts[0].text) == LX_OK ? LX_OK : gf_oom(d->err);
    }
    parts = GF_GET(doc, si, "parts");
    if (lx_json_type(doc, si) != LX_JSON_OBJECT || lx_json_type(doc, parts) != LX_JSON_ARRAY)
        return GF_BAD(d->err, "systemInstruction: a Content with parts is required");
    m = gf_msg(d, LX_ROLE_SYSTEM, lx_json_count(doc, parts));
    if (m == NULL)
        return gf_oom(d->err);
    for (int e = lx_json_first(doc, parts); e >= 0; e = lx_json_sibling(doc, parts, e)) {
        struct lx_part *p = &m->parts[m->n_parts];

        if (gf_str(d, GF_GET(doc, e, "text"), &p->text) != LX_OK)
            return GF_BAD(d->err, "systemInstruction.parts: text parts only");
        if (p->text.len > 0)
            m->n_parts++;
    }
    return LX_OK;
}

static int gf_tools(struct gf_dec *d, int tools)
{
    const struct lx_json *doc = d->doc;
    size_t n = 0, ti = 0;

    if (lx_json_type(doc, tools) != LX_JSON_ARRAY)
        return GF_BAD(d->err, "tools: an array is required");
    for (int t = lx_json_first(doc, tools); t >= 0; t = lx_json_sibling(doc, tools, t), ti++) {
        int fd = GF_GET(doc, t, "functionDeclarations");

        if (lx_json_type(doc, t) != LX_JSON_OBJECT)
            return GF_BAD(d->err, "tools[%zu]: an object is required", ti);
        for (int k = lx_json_first(doc, t); k >= 0; k = lx_json_sibling(doc, t, k)) {
            struct lx_str key = lx_json_str_raw(doc, k);

            if (!lx_json_str_eq(doc, k, LX_STR("functionDeclarations")))
                return GF_BAD(d->err, "tools[%zu].%.*s is not supported by this gateway (only "
                                      "functionDeclarations)", ti,
                              (int)(key.len > 40 ? 40 : key.len), key.ptr);
        }
        if (lx_json_type(doc, fd) != LX_JSON_ARRAY)
            return GF_BAD(d->err, "tools[%zu].functionDeclarations: an array is required", ti);
        n += lx_json_count(doc, fd);
    }
    d->out->tools = lx_arena_zalloc(d->a, (n + 1) * sizeof(*d->out->tools));
    if (d->out->tools == NULL)
        return gf_oom(d->err);
    for (int t = lx_json_first(doc, tools); t >= 0; t = lx_json_sibling(doc, tools, t)) {
        int fd = GF_GET(doc, t, "functionDeclarations");

        for (int f = lx_json_first(doc, fd); f >= 0; f = lx_json_sibling(doc, fd, f)) {
            struct lx_tool *tool = &d->out->tools[d->out->n_tools];
            int params = GF_GET(doc, f, "parameters");
            int pjs = GF_GET(doc, f, "parametersJsonSchema");
            int rc;

            if (lx_json_type(doc, f) != LX_JSON_OBJECT ||
                gf_str(d, GF_GET(doc, f, "name"), &tool->name) != LX_OK ||
                tool->name.len == 0 ||
                gf_str(d, GF_GET(doc, f, "description"), &tool->description) != LX_OK)
                return GF_BAD(d->err, "functionDeclarations[%zu]: name is required",
                              d->out->n_tools);
            if (lx_json_type(doc, pjs) == LX_JSON_OBJECT) {
                tool->parameters = lx_json_raw(doc, pjs);
            } else if (lx_json_type(doc, params) == LX_JSON_OBJECT) {
                rc = gf_schema(d, params, LX__GEMINI_SCHEMA_FROM, &tool->parameters);
                if (rc != LX_OK)
                    return rc == LX_ENOMEM ? gf_oom(d->err)
                                           : GF_BAD(d->err, "functionDeclarations[%zu]."
                                                            "parameters: schema too large",
                                                    d->out->n_tools);
            } else if (params >= 0 || pjs >= 0) {
                return GF_BAD(d->err, "functionDeclarations[%zu].parameters: an object is "
                                      "required", d->out->n_tools);
            }
            d->out->n_tools++;
        }
    }
    return LX_OK;
}

static int gf_tool_config(struct gf_dec *d, int tc)
{
    const struct lx_json *doc = d->doc;
    int fcc = GF_GET(doc, tc, "functionCallingConfig");
    int mode = GF_GET(doc, fcc, "mode"), allowed = GF_GET(doc, fcc, "allowedFunctionNames");
    struct lx_chat_req *out = d->out;

    if (lx_json_type(doc, tc) != LX_JSON_OBJECT)
        return GF_BAD(d->err, "toolConfig: an object is required");
    if (fcc < 0)
        return LX_OK;
    if (mode < 0 || lx_json_str_eq(doc, mode, LX_STR("AUTO")) ||
        lx_json_str_eq(doc, mode, LX_STR("VALIDATED")) ||
        lx_json_str_eq(doc, mode, LX_STR("MODE_UNSPECIFIED")))
        out->tool_choice = LX_TOOL_CHOICE_AUTO;
    else if (lx_json_str_eq(doc, mode, LX_STR("NONE")))
        out->tool_choice = LX_TOOL_CHOICE_NONE;
    else if (lx_json_str_eq(doc, mode, LX_STR("ANY")))
        out->tool_choice = LX_TOOL_CHOICE_REQUIRED;
    else
        return GF_BAD(d->err, "toolConfig.functionCallingConfig.mode: AUTO, ANY, NONE or "
                              "VALIDATED is required");
    if (out->tool_choice == LX_TOOL_CHOICE_REQUIRED && lx_json_type(doc, allowed) == LX_JSON_ARRAY &&
        lx_json_count(doc, allowed) == 1) {
        /* one allowed name with ANY is a named tool choice; several stay "required" */
        if (gf_str(d, lx_json_first(doc, allowed), &out->tool_choice_name) != LX_OK)
            return GF_BAD(d->err, "allowedFunctionNames: strings are required");
        out->tool_choice = LX_TOOL_CHOICE_NAMED;
    }
    return LX_OK;
}

static int gf_effort(struct gf_dec *d, int lvl)
{
    static const struct {
        const char *name;
        enum lx_effort e;
    } levels[] = {{"MINIMAL", LX_EFFORT_MINIMAL}, {"LOW", LX_EFFORT_LOW},
                  {"MEDIUM", LX_EFFORT_MEDIUM},   {"HIGH", LX_EFFORT_HIGH},
                  {"minimal", LX_EFFORT_MINIMAL}, {"low", LX_EFFORT_LOW},
                  {"medium", LX_EFFORT_MEDIUM},   {"high", LX_EFFORT_HIGH}};

    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        if (lx_json_str_eq(d->doc, lvl, lx_str_cstr(levels[i].name))) {
            d->out->effort = levels[i].e;
            return LX_OK;
        }
    }
    return GF_BAD(d->err, "generationConfig.thinkingConfig.thinkingLevel: MINIMAL, LOW, MEDIUM "
                          "or HIGH is required");
}

static bool gf_gc_known(const struct lx_json *doc, int k)
{
    static const char *const known[] = {
        "temperature", "topP", "topK", "maxOutputTokens", "stopSequences", "candidateCount",
        "seed", "presencePenalty", "frequencyPenalty", "responseMimeType", "responseSchema",
        "responseJsonSchema", "thinkingConfig"};

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (lx_json_str_eq(doc, k, lx_str_cstr(known[i])))
            return true;
    return false;
}

/* generationConfig members the IR has no field for (responseModalities, responseLogprobs,
 * mediaResolution ...) -> one extra {"generationConfig": {those members}}, which the Gemini
 * encoder merges back into its generationConfig. */
static int gf_gc_extra(struct gf_dec *d, int gc)
{
    struct lx_buf b;
    size_t n = 0;
    int rc;

    for (int k = lx_json_first(d->doc, gc); k >= 0; k = lx_json_sibling(d->doc, gc, k))
        n += !gf_gc_known(d->doc, k);
    if (n == 0)
        return LX_OK;
    /* write the unknown members verbatim: "key":value pairs copied from the input */
    lx_buf_init(&b, d->doc->toks[gc].len + 2);
    lx_buf_append_char(&b, '{');
    n = 0;
    for (int k = lx_json_first(d->doc, gc); k >= 0; k = lx_json_sibling(d->doc, gc, k)) {
        if (gf_gc_known(d->doc, k))
            continue;
        if (n++ > 0)
            lx_buf_append_char(&b, ',');
        lx_buf_append_str(&b, lx_json_raw(d->doc, k));
        lx_buf_append_char(&b, ':');
        lx_buf_append_str(&b, lx_json_raw(d->doc, k + 1));
    }
    lx_buf_append_char(&b, '}');
    rc = b.err;
    if (rc == LX_OK) {
        struct lx_kv *kv = &d->out->extra[d->out->n_extra];

        kv->key = LX_STR("generationConfig");
        kv->value = lx_arena_dup(d->a, lx_buf_str(&b));
        if (kv->value.ptr == NULL)
            rc = LX_ENOMEM;
        else
            d->out->n_extra++;
    }
    lx_buf_release(&b);
    return rc == LX_OK ? LX_OK : gf_oom(d->err);
}

static int gf_gen_config(struct gf_dec *d, int gc)
{
    const struct lx_json *doc = d->doc;
    struct lx_chat_req *out = d->out;
    int stop = GF_GET(doc, gc, "stopSequences"), mime = GF_GET(doc, gc, "responseMimeType");
    int rs = GF_GET(doc, gc, "responseSchema"), rjs = GF_GET(doc, gc, "responseJsonSchema");
    int tc = GF_GET(doc, gc, "thinkingConfig"), seed = GF_GET(doc, gc, "seed");
    int rc;

    if (lx_json_type(doc, gc) != LX_JSON_OBJECT)
        return GF_BAD(d->err, "generationConfig: an object is required");
    if ((rc = gf_num(d, GF_GET(doc, gc, "temperature"), "temperature", &out->temperature)) ||
        (rc = gf_num(d, GF_GET(doc, gc, "topP"), "topP", &out->top_p)) ||
        (rc = gf_num(d, GF_GET(doc, gc, "presencePenalty"), "presencePenalty",
                     &out->presence_penalty)) ||
        (rc = gf_num(d, GF_GET(doc, gc, "frequencyPenalty"), "frequencyPenalty",
                     &out->frequency_penalty)) ||
        (rc = gf_int(d, GF_GET(doc, gc, "maxOutputTokens"), "generationConfig.maxOutputTokens",
                     &out->max_tokens)) ||
        (rc = gf_int(d, GF_GET(doc, gc, "topK"), "generationConfig.topK", &out->top_k)) ||
        (rc = gf_int(d, GF_GET(doc, gc, "candidateCount"), "generationConfig.candidateCount",
                     &out->n)))
        return rc;
    if (seed >= 0) {
        if ((rc = gf_int(d, seed, "generationConfig.seed", &out->seed)) != LX_OK)
            return rc;
        out->has_seed = true;
    }
    if (stop >= 0) {
        size_t i = 0;

        if (lx_json_type(doc, stop) != LX_JSON_ARRAY)
            return GF_BAD(d->err, "generationConfig.stopSequences: an array is required");
        out->stop = lx_arena_zalloc(d->a, (lx_json_count(doc, stop) + 1) * sizeof(*out->stop));
        if (out->stop == NULL)
            return gf_oom(d->err);
        for (int e = lx_json_first(doc, stop); e >= 0; e = lx_json_sibling(doc, stop, e))
            if (gf_str(d, e, &out->stop[i++]) != LX_OK)
                return GF_BAD(d->err, "generationConfig.stopSequences: strings are required");
        out->n_stop = i;
    }
    if (mime >= 0) {
        if (lx_json_str_eq(doc, mime, LX_STR("application/json")))
            out->response_format = LX_RF_JSON_OBJECT;
        else if (lx_json_str_eq(doc, mime, LX_STR("text/plain")))
            out->response_format = LX_RF_TEXT;
        else
            return GF_BAD(d->err, "generationConfig.responseMimeType: application/json or "
                                  "text/plain is supported");
    }
    if (rs >= 0 || rjs >= 0) {
        if (out->response_format != LX_RF_JSON_OBJECT)
            return GF_BAD(d->err, "generationConfig.responseSchema requires responseMimeType "
                                  "application/json");
        out->response_format = LX_RF_JSON_SCHEMA;
        out->schema_name = LX_STR("response");
        if (lx_json_type(doc, rjs) == LX_JSON_OBJECT) {
            out->schema = lx_json_raw(doc, rjs);
        } else if (lx_json_type(doc, rs) == LX_JSON_OBJECT) {
            rc = gf_schema(d, rs, LX__GEMINI_SCHEMA_FROM, &out->schema);
            if (rc != LX_OK)
                return rc == LX_ENOMEM ? gf_oom(d->err)
                                       : GF_BAD(d->err, "generationConfig.responseSchema: too "
                                                        "large");
        } else {
            return GF_BAD(d->err, "generationConfig.responseSchema: an object is required");
        }
    }
    if (tc >= 0) {
        int budget = GF_GET(doc, tc, "thinkingBudget"), inc = GF_GET(doc, tc, "includeThoughts");
        int lvl = GF_GET(doc, tc, "thinkingLevel");
        int64_t b = 0;

        if (lx_json_type(doc, tc) != LX_JSON_OBJECT)
            return GF_BAD(d->err, "generationConfig.thinkingConfig: an object is required");
        if (budget >= 0) {
            if ((rc = gf_int(d, budget, "thinkingConfig.thinkingBudget", &b)) != LX_OK)
                return rc;
            out->thinking = b == 0 ? LX_THINKING_DISABLED : LX_THINKING_ENABLED;
            out->thinking_budget = b > 0 ? b : -1; /* -1: dynamic */
        }
        if (inc >= 0 && lx_json_bool(doc, inc, &out->include_thoughts) != LX_OK)
            return GF_BAD(d->err, "thinkingConfig.includeThoughts: a boolean is required");
        if (lvl >= 0 && (rc = gf_effort(d, lvl)) != LX_OK)
            return rc;
    }
    return gf_gc_extra(d, gc);
}

static int gf_decode_request(struct lx_str body, struct lx_arena *a, struct lx_chat_req *out,
                             struct lx_err *err)
{
    struct lx_json doc;
    struct gf_dec d;
    int contents, si, rc;
    size_t ci = 0;

    lx_chat_req_init(out);
    out->source = LX_SRC_GEMINI;
    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    rc = lx_json_parse(&doc, body.ptr, body.len);
    if (rc == LX_ENOMEM)
        return gf_oom(err);
    if (rc != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        return GF_BAD(err, "Invalid JSON payload received.");
    memset(&d, 0, sizeof(d));
    d.doc = &doc;
    d.a = a;
    d.out = out;
    d.err = err;
    contents = GF_GET(&doc, 0, "contents");
    if ((rc = gf_contents(&d, contents)) != LX_OK)
        return rc;
    si = GF_GET(&doc, 0, "systemInstruction");
    if (si >= 0 && (rc = gf_system(&d, si)) != LX_OK)
        return rc;
    for (int c = lx_json_first(&doc, contents); c >= 0; c = lx_json_sibling(&doc, contents, c))
        if ((rc = gf_content(&d, c, ci++)) != LX_OK)
            return rc;
    out->extra = lx_arena_zalloc(a, (lx_json_count(&doc, 0) + 1) * sizeof(*out->extra));
    if (out->extra == NULL)
        return gf_oom(err);
    for (int k = lx_json_first(&doc, 0); k >= 0; k = lx_json_sibling(&doc, 0, k)) {
        int v = k + 1;

        if (lx_json_str_eq(&doc, k, LX_STR("contents")) ||
            lx_json_str_eq(&doc, k, LX_STR("systemInstruction")) ||
            lx_json_str_eq(&doc, k, LX_STR("model")))
            continue;
        if (lx_json_str_eq(&doc, k, LX_STR("tools")))
            rc = gf_tools(&d, v);
        else if (lx_json_str_eq(&doc, k, LX_STR("toolConfig")))
            rc = gf_tool_config(&d, v);
        else if (lx_json_str_eq(&doc, k, LX_STR("generationConfig")))
            rc = gf_gen_config(&d, v);
        else { /* safetySettings, cachedContent, labels ...: for a Gemini upstream, as is */
            struct lx_kv *kv = &out->extra[out->n_extra];

            if (lx_json_str(&doc, k, a, &kv->key) != LX_OK)
                return gf_oom(err);
            kv->value = lx_json_raw(&doc, v);
            out->n_extra++;
            rc = LX_OK;
        }
        if (rc != LX_OK)
            return rc;
    }
    return LX_OK;
}

/* ---- answers ---------------------------------------------------------------------------- */

static bool gf_is_gemini_word(struct lx_str s)
{
    /* Gemini's own finishReason words: another provider's upper-case word (Cohere's
     * "COMPLETE") must not leak through as if it were one */
    static const char *const words[] = {
        "STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "LANGUAGE", "OTHER", "BLOCKLIST",
        "PROHIBITED_CONTENT", "SPII", "MALFORMED_FUNCTION_CALL", "IMAGE_SAFETY",
        "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS",
    };

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (lx_str_eq(s, lx_str_cstr(words[i])))
            return true;
    return false;
}

/* The provider's own word when it is Gemini's and says the same; else the IR's. */
static struct lx_str gf_finish_word(enum lx_finish f, struct lx_str raw)
{
    enum lx_finish back = lx_gemini_finish(raw);

    if (gf_is_gemini_word(raw) &&
        (back == f || (f == LX_FINISH_TOOL_CALLS && back == LX_FINISH_STOP)))
        return raw;
    return lx_str_cstr(lx_finish_gemini(f));
}

static void gf_write_usage(struct lx_json_writer *w, const struct lx_usage *u)
{
    int64_t reasoning = u->reasoning > 0 ? u->reasoning : 0;
    int64_t total = u->total >= 0 ? u->total
                    : u->input >= 0 && u->output >= 0 ? u->input + u->output
                                                      : -1;

    GF_KEY(w, "usageMetadata");
    lx_json_write_object_begin(w);
    if (u->input >= 0) {
        GF_KEY(w, "promptTokenCount");
        lx_json_write_int(w, u->input);
    }
    if (u->output >= 0) {
        /* Gemini counts thoughts apart from candidates */
        GF_KEY(w, "candidatesTokenCount");
        lx_json_write_int(w, u->output > reasoning ? u->output - reasoning : 0);
    }
    if (reasoning > 0) {
        GF_KEY(w, "thoughtsTokenCount");
        lx_json_write_int(w, reasoning);
    }
    if (total >= 0) {
        GF_KEY(w, "totalTokenCount");
        lx_json_write_int(w, total);
    }
    if (u->cache_read > 0) {
        GF_KEY(w, "cachedContentTokenCount");
        lx_json_write_int(w, u->cache_read);
    }
    lx_json_write_object_end(w);
}

/* {"functionCall":{"id","name","args"},"thoughtSignature"} with args checked to be a JSON
 * object (else {}): tokens from lx_malloc, freed here. */
static void gf_write_call(struct lx_json_writer *w, struct lx_str id, struct lx_str name,
                          struct lx_str args, struct lx_str sig)
{
    struct lx_json doc;

    lx_json_write_object_begin(w);
    GF_KEY(w, "functionCall");
    lx_json_write_object_begin(w);
    if (id.len > 0) {
        GF_KEY(w, "id");
        lx_json_write_str(w, id);
    }
    GF_KEY(w, "name");
    lx_json_write_str(w, name);
    GF_KEY(w, "args");
    lx_json_init(&doc, NULL);
    if (args.len > 0 && lx_json_parse(&doc, args.ptr, args.len) == LX_OK &&
        lx_json_type(&doc, 0) == LX_JSON_OBJECT)
        lx_json_write_copy(w, &doc, 0);
    else
        lx_json_write_raw(w, LX_STR("{}"));
    lx_json_release(&doc);
    lx_json_write_object_end(w);
    if (sig.len > 0) {
        GF_KEY(w, "thoughtSignature");
        lx_json_write_str(w, sig);
    }
    lx_json_write_object_end(w);
}

static void gf_write_text(struct lx_json_writer *w, struct lx_str text, bool thought,
                          struct lx_str sig)
{
    lx_json_write_object_begin(w);
    GF_KEY(w, "text");
    lx_json_write_str(w, text);
    if (thought) {
        GF_KEY(w, "thought");
        lx_json_write_bool(w, true);
    }
    if (sig.len > 0) {
        GF_KEY(w, "thoughtSignature");
        lx_json_write_str(w, sig);
    }
    lx_json_write_object_end(w);
}

static int gf_encode_response(const struct lx_chat_req *req, const struct lx_chat_resp *resp,
                              int64_t created, struct lx_buf *out)
{
    struct lx_json_writer w;
    char idbuf[32];

    lx_json_writer_init(&w, out);
    lx_json_write_object_begin(&w);
    GF_KEY(&w, "candidates");
    lx_json_write_array_begin(&w);
    for (size_t c = 0; c < resp->n_choices; c++) {
        const struct lx_choice *ch = &resp->choices[c];
        size_t shown = 0;

        lx_json_write_object_begin(&w);
        for (size_t i = 0; i < ch->message.n_parts; i++) {
            const struct lx_part *p = &ch->message.parts[i];

            if (p->type == LX_PART_THINKING && (!req->include_thoughts || p->text.len == 0))
                continue;
            if (p->type != LX_PART_TEXT && p->type != LX_PART_THINKING &&
                p->type != LX_PART_TOOL_CALL)
                continue;
            if (shown++ == 0) {
                GF_KEY(&w, "content");
                lx_json_write_object_begin(&w);
                GF_KEY(&w, "parts");
                lx_json_write_array_begin(&w);
            }
            if (p->type == LX_PART_TOOL_CALL)
                gf_write_call(&w, p->id, p->name, p->args, p->signature);
            else
                gf_write_text(&w, p->text, p->type == LX_PART_THINKING, p->signature);
        }
        if (shown > 0) {
            lx_json_write_array_end(&w);
            GF_KEY(&w, "role");
            lx_json_write_str(&w, LX_STR("model"));
            lx_json_write_object_end(&w);
        }
        if (ch->finish != LX_FINISH_UNSET) {
            GF_KEY(&w, "finishReason");
            lx_json_write_str(&w, gf_finish_word(ch->finish, ch->finish_raw));
        }
        GF_KEY(&w, "index");
        lx_json_write_uint(&w, ch->index);
        lx_json_write_object_end(&w);
    }
    lx_json_write_array_end(&w);
    if (lx_wire_usage_known(&resp->usage))
        gf_write_usage(&w, &resp->usage);
    GF_KEY(&w, "modelVersion");
    lx_json_write_str(&w, req->model.len > 0 ? req->model : resp->model);
    GF_KEY(&w, "responseId");
    if (resp->id.len > 0) {
        lx_json_write_str(&w, resp->id);
    } else {
        int n = snprintf(idbuf, sizeof(idbuf), "llmux-%llx", (unsigned long long)created);

        lx_json_write_str(&w, lx_str_make(idbuf, n > 0 && n < (int)sizeof(idbuf) ? (size_t)n : 0));
    }
    lx_json_write_object_end(&w);
    if (out->err != LX_OK)
        return out->err;
    return lx_json_writer_finish(&w);
}

/* ---- streaming -------------------------------------------------------------------------- */

struct gf_pending {
    unsigned choice;
    int index;
    struct lx_str id, name, sig;
    char *args;
    size_t len, cap;
};

struct gf_stream {
    struct gf_pending *calls;
    size_t n_calls, cap_calls;
    bool has_finish[GF_MAX_CHOICES];
    enum lx_finish finish[GF_MAX_CHOICES];
    struct lx_str finish_raw[GF_MAX_CHOICES];
};

static struct gf_stream *gf_priv(struct lx_fd_stream *st)
{
    if (st->priv == NULL)
        st->priv = lx_arena_zalloc(st->a, sizeof(struct gf_stream));
    return st->priv;
}

static struct lx_str gf_model(const struct lx_fd_stream *st)
{
    return st->req != NULL ? st->req->model : LX_STR_NULL;
}

static int gf_ensure_id(struct lx_fd_stream *st, struct lx_str id)
{
    char buf[32];
    int n;

    if (st->id.len > 0)
        return LX_OK;
    if (id.len == 0) {
        n = snprintf(buf, sizeof(buf), "llmux-%llx", (unsigned long long)st->created);
        id = lx_str_make(buf, n > 0 && n < (int)sizeof(buf) ? (size_t)n : 0);
    }
    st->id = lx_arena_dup(st->a, id);
    return st->id.ptr != NULL ? LX_OK : LX_ENOMEM;
}

/* "data: {"candidates":[{"content":{"parts":[" ... */
static void gf_chunk_begin(struct lx_json_writer *w, struct lx_buf *out)
{
    lx_buf_append_cstr(out, "data: ");
    lx_json_writer_init(w, out);
    lx_json_write_object_begin(w);
    GF_KEY(w, "candidates");
    lx_json_write_array_begin(w);
}

static void gf_cand_begin(struct lx_json_writer *w)
{
    lx_json_write_object_begin(w);
    GF_KEY(w, "content");
    lx_json_write_object_begin(w);
    GF_KEY(w, "parts");
    lx_json_write_array_begin(w);
}

static void gf_cand_end(struct lx_json_writer *w, unsigned choice, struct lx_str finish)
{
    lx_json_write_array_end(w);
    GF_KEY(w, "role");
    lx_json_write_str(w, LX_STR("model"));
    lx_json_write_object_end(w);
    if (finish.len > 0) {
        GF_KEY(w, "finishReason");
        lx_json_write_str(w, finish);
    }
    GF_KEY(w, "index");
    lx_json_write_uint(w, choice);
    lx_json_write_object_end(w);
}

static int gf_chunk_end(struct lx_json_writer *w, struct lx_fd_stream *st, struct lx_buf *out,
                        bool usage)
{
    lx_json_write_array_end(w);
    if (usage && lx_wire_usage_known(&st->usage))
        gf_write_usage(w, &st->usage);
    GF_KEY(w, "modelVersion");
    lx_json_write_str(w, gf_model(st));
    GF_KEY(w, "responseId");
    lx_json_write_str(w, st->id);
    lx_json_write_object_end(w);
    lx_buf_append_cstr(out, "\n\n");
    if (out->err != LX_OK)
        return out->err;
    return lx_json_writer_finish(w);
}

/* Writes the buffered calls of choice (all choices when choice < 0) as one chunk each. */
static int gf_flush(struct lx_fd_stream *st, struct gf_stream *gs, long choice, struct lx_buf *out)
{
    size_t keep = 0;
    int rc = LX_OK;

    for (size_t i = 0; i < gs->n_calls; i++) {
        struct gf_pending *p = &gs->calls[i];
        struct lx_json_writer w;

        if (choice >= 0 && p->choice != (unsigned)choice) {
            gs->calls[keep++] = *p;
            continue;
        }
        gf_chunk_begin(&w, out);
        gf_cand_begin(&w);
        gf_write_call(&w, p->id, p->name, lx_str_make(p->args, p->len), p->sig);
        gf_cand_end(&w, p->choice, LX_STR_NULL);
        if (rc == LX_OK)
            rc = gf_chunk_end(&w, st, out, false);
    }
    gs->n_calls = keep;
    return rc;
}

static int gf_append(struct lx_arena *a, struct gf_pending *p, struct lx_str s)
{
    if (s.len == 0)
        return LX_OK;
    if (p->len + s.len > p->cap) {
        size_t cap = p->cap ? p->cap : 64;
        char *n;

        while (cap < p->len + s.len)
            cap *= 2;
        n = lx_arena_alloc(a, cap);
        if (n == NULL)
            return LX_ENOMEM;
        if (p->len > 0)
            memcpy(n, p->args, p->len);
        p->args = n;
        p->cap = cap;
    }
    memcpy(p->args + p->len, s.ptr, s.len);
    p->len += s.len;
    return LX_OK;
}

static int gf_tool_delta(struct lx_fd_stream *st, struct gf_stream *gs, const struct lx_delta *d,
                         struct lx_buf *out)
{
    struct gf_pending *p = NULL;
    int rc;

    for (size_t i = 0; i < gs->n_calls; i++)
        if (gs->calls[i].choice == d->choice && gs->calls[i].index == d->tool_index)
            p = &gs->calls[i];
    if (p == NULL) {
        /* the next call started: the earlier ones of this choice are complete */
        if ((rc = gf_flush(st, gs, (long)d->choice, out)) != LX_OK)
            return rc;
        if (gs->n_calls == gs->cap_calls) {
            size_t cap = gs->cap_calls ? gs->cap_calls * 2 : 4;
            struct gf_pending *n = lx_arena_zalloc(st->a, cap * sizeof(*n));

            if (n == NULL)
                return LX_ENOMEM;
            if (gs->n_calls > 0)
                memcpy(n, gs->calls, gs->n_calls * sizeof(*n));
            gs->calls = n;
            gs->cap_calls = cap;
        }
        p = &gs->calls[gs->n_calls++];
        memset(p, 0, sizeof(*p));
        p->choice = d->choice;
        p->index = d->tool_index;
    }
    if (d->id.len > 0 && p->id.len == 0 && (p->id = lx_arena_dup(st->a, d->id)).ptr == NULL)
        return LX_ENOMEM;
    if (d->name.len > 0 && p->name.len == 0 &&
        (p->name = lx_arena_dup(st->a, d->name)).ptr == NULL)
        return LX_ENOMEM;
    if (d->signature.len > 0 && (p->sig = lx_arena_dup(st->a, d->signature)).ptr == NULL)
        return LX_ENOMEM;
    return gf_append(st->a, p, d->text);
}

static int gf_stream_error_event(struct lx_fd_stream *st, int status, enum lx_err_type type,
                                 struct lx_str message, struct lx_buf *out)
{
    struct lx_json_writer w;

    lx_buf_append_cstr(out, "data: ");
    lx_json_writer_init(&w, out);
    lx_json_write_object_begin(&w);
    GF_KEY(&w, "error");
    lx_json_write_object_begin(&w);
    GF_KEY(&w, "code");
    lx_json_write_int(&w, status > 0 ? status : lx_err_type_status(type));
    GF_KEY(&w, "message");
    lx_json_write_str(&w, message);
    GF_KEY(&w, "status");
    lx_json_write_str(&w, lx_str_cstr(lx_err_type_gemini(type)));
    lx_json_write_object_end(&w);
    lx_json_write_object_end(&w);
    lx_buf_append_cstr(out, "\n\n");
    st->finished = true;
    if (out->err != LX_OK)
        return out->err;
    return lx_json_writer_finish(&w);
}

static int gf_done(struct lx_fd_stream *st, struct gf_stream *gs, struct lx_buf *out)
{
    struct lx_json_writer w;
    bool any = false;
    int rc = gf_flush(st, gs, -1, out);

    if (rc != LX_OK)
        return rc;
    gf_chunk_begin(&w, out);
    for (unsigned c = 0; c < GF_MAX_CHOICES; c++) {
        if (!gs->has_finish[c])
            continue;
        gf_cand_begin(&w);
        gf_write_text(&w, LX_STR(""), false, LX_STR_NULL);
        gf_cand_end(&w, c, gf_finish_word(gs->finish[c], gs->finish_raw[c]));
        any = true;
    }
    if (!any) { /* the upstream ended cleanly without saying why: a natural stop */
        gf_cand_begin(&w);
        gf_write_text(&w, LX_STR(""), false, LX_STR_NULL);
        gf_cand_end(&w, 0, LX_STR("STOP"));
    }
    st->finished = true;
    return gf_chunk_end(&w, st, out, true);
}

static int gf_encode_delta(struct lx_fd_stream *st, const struct lx_delta *d, struct lx_buf *out)
{
    struct gf_stream *gs;
    struct lx_json_writer w;
    int rc;

    if (st->finished)
        return LX_OK;
    gs = gf_priv(st);
    if (gs == NULL || gf_ensure_id(st, d->type == LX_DELTA_START ? d->id : LX_STR_NULL) != LX_OK)
        return LX_ENOMEM;
    st->started = true;
    switch (d->type) {
    case LX_DELTA_START:
    case LX_DELTA_THINKING_SIGNATURE: /* another provider's signature means nothing here */
    case LX_DELTA_REDACTED_THINKING: return LX_OK;
    case LX_DELTA_TEXT:
    case LX_DELTA_THINKING:
        if (d->type == LX_DELTA_THINKING && (st->req == NULL || !st->req->include_thoughts))
            return LX_OK; /* the client did not ask for thoughts */
        if (d->text.len == 0 && d->signature.len == 0)
            return LX_OK;
        if ((rc = gf_flush(st, gs, (long)d->choice, out)) != LX_OK)
            return rc;
        gf_chunk_begin(&w, out);
        gf_cand_begin(&w);
        gf_write_text(&w, d->text, d->type == LX_DELTA_THINKING, d->signature);
        gf_cand_end(&w, d->choice, LX_STR_NULL);
        return gf_chunk_end(&w, st, out, false);
    case LX_DELTA_TOOL_CALL: return gf_tool_delta(st, gs, d, out);
    case LX_DELTA_FINISH:
        if ((rc = gf_flush(st, gs, (long)d->choice, out)) != LX_OK)
            return rc;
        if (d->choice < GF_MAX_CHOICES) {
            gs->has_finish[d->choice] = true;
            gs->finish[d->choice] = d->finish;
            gs->finish_raw[d->choice] = lx_arena_dup(st->a, d->finish_raw);
        }
        return LX_OK;
    case LX_DELTA_USAGE:
        lx_wire_usage_merge(&st->usage, &d->usage);
        return LX_OK;
    case LX_DELTA_ERROR:
        if (d->error == NULL)
            return gf_stream_error_event(st, 500, LX_ERRT_SERVER, LX_STR("upstream error"), out);
        return gf_stream_error_event(st, d->error->status, d->error->type, d->error->message,
                                     out);
    case LX_DELTA_DONE: return gf_done(st, gs, out);
    }
    return LX_OK;
}

/* ---- errors ----------------------------------------------------------------------------- */

static int gf_encode_error(int status, enum lx_err_type type, struct lx_str message,
                           struct lx_str code, struct lx_buf *out)
{
    struct lx_json_writer w;

    (void)code;
    lx_json_writer_init(&w, out);
    lx_json_write_object_begin(&w);
    GF_KEY(&w, "error");
    lx_json_write_object_begin(&w);
    GF_KEY(&w, "code");
    lx_json_write_int(&w, status > 0 ? status : lx_err_type_status(type));
    GF_KEY(&w, "message");
    lx_json_write_str(&w, message);
    GF_KEY(&w, "status");
    lx_json_write_str(&w, lx_str_cstr(lx_err_type_gemini(type)));
    lx_json_write_object_end(&w);
    lx_json_write_object_end(&w);
    if (out->err != LX_OK)
        return out->err;
    return lx_json_writer_finish(&w);
}

static int gf_encode_stream_error(struct lx_fd_stream *st, enum lx_err_type type,
                                  struct lx_str message, struct lx_buf *out)
{
    return gf_stream_error_event(st, 0, type, message, out);
}

const struct lx_frontdoor_ops lx_frontdoor_gemini = {
    .name = "gemini",
    .source = LX_SRC_GEMINI,
    .decode_request = gf_decode_request,
    .encode_response = gf_encode_response,
    .encode_delta = gf_encode_delta,
    .encode_error = gf_encode_error,
    .encode_stream_error = gf_encode_stream_error,
};
