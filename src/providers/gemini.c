/* gemini.c - the Google Gemini API provider adapter (lx_provider_gemini): IR -> a
 * generateContent / streamGenerateContent?alt=sse / countTokens / batchEmbedContents request,
 * and Gemini's answers, SSE chunks and google.rpc.Status errors -> IR. vertex.c reuses the body
 * encoder and the decoders (gemini.h). Owned by the Gemini adapter.
 *
 * Pure translator (STYLE.md 3.6): no I/O, no globals, no clock; memory from the arenas given
 * (a request body is written into a bounded lx_buf, copied into the arena and released before
 * return). Any thread. Mapping tables and traps: docs/internals/gemini.md. */
#include "providers/gemini.h"

#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/escape.h"
#include "core/str.h"
#include "providers/wire.h"
#include "json/json.h"
#include "json/writer.h"

#define GM_MAX_BODY ((size_t)64 << 20) /* a request body we are willing to build */
#define GM_MAX_CHOICES 16u             /* candidate indexes in a stream (candidateCount <= 8) */
#define GM_MAX_MSG 512u                /* bytes of a non-JSON error body kept as message */

#define GM_KEY(w, lit) lx_json_write_key((w), LX_STR(lit))
#define GM_GET(doc, o, lit) lx_json_get((doc), (o), LX_STR(lit))

/* ---- small helpers ---------------------------------------------------------------------- */

/* "models/gemini-2.5-flash" and "gemini-2.5-flash" name the same model. */
static struct lx_str gm_bare_model(struct lx_str m)
{
    if (lx_str_starts_with(m, LX_STR("models/")))
        return lx_str_sub(m, 7, m.len - 7);
    return m;
}

static uint32_t gm_fnv(uint32_t h, const void *p, size_t n)
{
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 16777619u;
    }
    return h;
}

struct lx_str lx__gemini_call_id(struct lx_arena *a, struct lx_str seed, struct lx_str name,
                                 unsigned choice, unsigned index)
{
    uint32_t h = 2166136261u;
    char *p = lx_arena_alloc(a, 48);
    int n;

    if (p == NULL)
        return LX_STR_NULL;
    h = gm_fnv(h, seed.ptr, seed.len);
    h = gm_fnv(h, "", 1);
    h = gm_fnv(h, name.ptr, name.len);
    h = gm_fnv(h, &choice, sizeof(choice));
    h = gm_fnv(h, &index, sizeof(index));
    if (choice == 0)
        n = snprintf(p, 48, "call_%08x_%u", (unsigned)h, index);
    else
        n = snprintf(p, 48, "call_%08x_%u_%u", (unsigned)h, choice, index);
    return lx_str_make(p, n > 0 && n < 48 ? (size_t)n : 0);
}

enum lx_finish lx_gemini_finish(struct lx_str raw)
{
    static const char *const filter[] = {"SAFETY",        "RECITATION",
                                         "BLOCKLIST",     "PROHIBITED_CONTENT",
                                         "SPII",          "IMAGE_SAFETY",
                                         "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION",
                                         "LANGUAGE"};
    static const char *const error[] = {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL",
                                        "TOO_MANY_TOOL_CALLS"};

    if (raw.len == 0)
        return LX_FINISH_UNSET;
    if (lx_str_eq(raw, LX_STR("MAX_TOKENS")))
        return LX_FINISH_LENGTH;
    for (size_t i = 0; i < sizeof(filter) / sizeof(filter[0]); i++)
        if (lx_str_eq(raw, lx_str_cstr(filter[i])))
            return LX_FINISH_CONTENT_FILTER;
    for (size_t i = 0; i < sizeof(error) / sizeof(error[0]); i++)
        if (lx_str_eq(raw, lx_str_cstr(error[i])))
            return LX_FINISH_ERROR;
    return LX_FINISH_STOP; /* STOP, OTHER, FINISH_REASON_UNSPECIFIED, NO_IMAGE, new words */
}

/* ---- JSON Schema <-> Gemini Schema ------------------------------------------------------- */

/* Gemini's Schema (an OpenAPI 3.0 subset) refuses unknown members: keep only these. */
static bool gm_schema_key_ok(struct lx_str k)
{
    static const char *const keep[] = {
        "type",      "format",     "title",      "description",   "nullable",   "enum",
        "maxItems",  "minItems",   "properties", "required",      "minProperties",
        "maxProperties", "minLength", "maxLength", "pattern",     "example",    "anyOf",
        "propertyOrdering", "default", "items",  "minimum",       "maximum"};

    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        if (lx_str_eq(k, lx_str_cstr(keep[i])))
            return true;
    return false;
}

static bool gm_format_ok(const struct lx_json *doc, int v)
{
    static const char *const ok[] = {"enum", "date-time", "int32", "int64", "float", "double"};

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (lx_json_str_eq(doc, v, lx_str_cstr(ok[i])))
            return true;
    return false;
}

static int gm_write_lower(struct lx_json_writer *w, const struct lx_json *doc, int v)
{
    struct lx_str raw = lx_json_str_raw(doc, v);
    char tmp[32];

    if ((doc->toks[v].flags & LX_JSON_ESCAPED) || raw.len >= sizeof(tmp))
        return lx_json_write_token(w, doc, v);
    for (size_t i = 0; i < raw.len; i++)
        tmp[i] = (char)(raw.ptr[i] >= 'A' && raw.ptr[i] <= 'Z' ? raw.ptr[i] + 32 : raw.ptr[i]);
    return lx_json_write_str(w, lx_str_make(tmp, raw.len));
}

/* A value copied into a schema: containers re-encoded compactly, scalars byte-exact. */
static int gm_copy(struct lx_json_writer *w, const struct lx_json *doc, int v)
{
    enum lx_json_type t = lx_json_type(doc, v);

    if (t == LX_JSON_OBJECT || t == LX_JSON_ARRAY)
        return lx_json_write_copy(w, doc, v);
    return lx_json_write_token(w, doc, v);
}

/* Key token k of doc as a key of w (decoded first when it holds escapes: a transient buffer). */
static void gm_write_name(struct lx_json_writer *w, const struct lx_json *doc, int k)
{
    struct lx_buf tmp;

    if (!(doc->toks[k].flags & LX_JSON_ESCAPED)) {
        lx_json_write_key(w, lx_json_str_raw(doc, k));
        return;
    }
    lx_buf_init(&tmp, doc->toks[k].len + 1);
    if (lx_json_unescape(doc, k, &tmp) == LX_OK)
        lx_json_write_key(w, lx_buf_str(&tmp));
    else
        lx_json_write_key(w, LX_STR("_"));
    lx_buf_release(&tmp);
}

int lx__gemini_write_schema(struct lx_json_writer *w, const struct lx_json *doc, int i,
                            enum lx__gemini_schema_mode mode)
{
    bool to = mode == LX__GEMINI_SCHEMA_TO;
    int nullable_t;
    bool has_enum = GM_GET(doc, i, "enum") >= 0;

    if (lx_json_type(doc, i) != LX_JSON_OBJECT)
        return gm_copy(w, doc, i);
    nullable_t = GM_GET(doc, i, "nullable");
    lx_json_write_object_begin(w);
    for (int k = lx_json_first(doc, i); k >= 0; k = lx_json_sibling(doc, i, k)) {
        struct lx_str key = lx_json_str_raw(doc, k);
        int v = k + 1;
        enum lx_json_type vt = lx_json_type(doc, v);

        if (doc->toks[k].flags & LX_JSON_ESCAPED)
            continue; /* no schema keyword needs an escape */
        if (to && lx_str_eq(key, LX_STR("oneOf")))
            key = LX_STR("anyOf"); /* the closest Gemini has */
        if (to && lx_str_eq(key, LX_STR("const")) && !has_enum) {
            GM_KEY(w, "enum");
            lx_json_write_array_begin(w);
            gm_copy(w, doc, v);
            lx_json_write_array_end(w);
            continue;
        }
        if (to && !gm_schema_key_ok(key))
            continue;
        if (to && lx_str_eq(key, LX_STR("format")) && !gm_format_ok(doc, v))
            continue;
        if (!to && (lx_str_eq(key, LX_STR("nullable")) || lx_str_eq(key, LX_STR("propertyOrdering"))))
            continue;
        if (lx_str_eq(key, LX_STR("type"))) {
            GM_KEY(w, "type");
            if (to && vt == LX_JSON_ARRAY) {
                /* ["string","null"] -> "string" + nullable: Gemini takes one type */
                int first = -1;
                bool null = false;

                for (int e = lx_json_first(doc, v); e >= 0; e = lx_json_sibling(doc, v, e)) {
                    if (lx_json_str_eq(doc, e, LX_STR("null")))
                        null = true;
                    else if (first < 0 && lx_json_type(doc, e) == LX_JSON_STRING)
                        first = e;
                }
                if (first >= 0)
                    gm_copy(w, doc, first);
                else
                    lx_json_write_str(w, LX_STR("null"));
                if (null && nullable_t < 0) {
                    GM_KEY(w, "nullable");
                    lx_json_write_bool(w, true);
                }
            } else if (!to && vt == LX_JSON_STRING &&
                       lx_json_type(doc, nullable_t) == LX_JSON_TRUE) {
                lx_json_write_array_begin(w);
                gm_write_lower(w, doc, v);
                lx_json_write_str(w, LX_STR("null"));
                lx_json_write_array_end(w);
            } else if (!to && vt == LX_JSON_STRING) {
                gm_write_lower(w, doc, v);
            } else {
                gm_copy(w, doc, v);
            }
            continue;
        }
        lx_json_write_key(w, key);
        if (lx_str_eq(key, LX_STR("properties")) && vt == LX_JSON_OBJECT) {
            lx_json_write_object_begin(w);
            for (int p = lx_json_first(doc, v); p >= 0; p = lx_json_sibling(doc, v, p)) {
                gm_write_name(w, doc, p); /* a property name: user data, kept as is */
                lx__gemini_write_schema(w, doc, p + 1, mode);
            }
            lx_json_write_object_end(w);
        } else if ((lx_str_eq(key, LX_STR("items")) || lx_str_eq(key, LX_STR("not")) ||
                    lx_str_eq(key, LX_STR("additionalProperties"))) &&
                   vt == LX_JSON_OBJECT) {
            lx__gemini_write_schema(w, doc, v, mode);
        } else if ((lx_str_eq(key, LX_STR("anyOf")) || lx_str_eq(key, LX_STR("oneOf")) ||
                    lx_str_eq(key, LX_STR("allOf")) || lx_str_eq(key, LX_STR("prefixItems"))) &&
                   vt == LX_JSON_ARRAY) {
            lx_json_write_array_begin(w);
            for (int e = lx_json_first(doc, v); e >= 0; e = lx_json_sibling(doc, v, e))
                lx__gemini_write_schema(w, doc, e, mode);
            lx_json_write_array_end(w);
        } else {
            gm_copy(w, doc, v);
        }
    }
    return lx_json_write_object_end(w);
}

/* An object schema with no properties: Gemini refuses it as function parameters
 * ("properties: should be non-empty for OBJECT type"), and it says nothing anyway. */
static bool gm_schema_empty_object(const struct lx_json *doc)
{
    int t = GM_GET(doc, 0, "type"), p = GM_GET(doc, 0, "properties");

    if (lx_json_type(doc, 0) != LX_JSON_OBJECT)
        return false;
    if (GM_GET(doc, 0, "anyOf") >= 0 || GM_GET(doc, 0, "oneOf") >= 0)
        return false;
    if (t >= 0 && !lx_json_str_eq(doc, t, LX_STR("object")) &&
        !lx_json_str_eq(doc, t, LX_STR("OBJECT")))
        return false;
    return p < 0 || (lx_json_type(doc, p) == LX_JSON_OBJECT && lx_json_count(doc, p) == 0);
}

/* ---- request body ----------------------------------------------------------------------- */

struct gm_enc {
    const struct lx_chat_req *req;
    struct lx_json_writer w;
    struct lx_json doc; /* scratch tokenizer for arguments, results and schemas */
    struct lx_err *err;
    int role;           /* the open content: -1 none, 0 user, 1 model */
    int rc;             /* first LX_EINVAL */
};

static bool gm_parse(struct gm_enc *e, struct lx_str text)
{
    return text.len > 0 && lx_json_parse(&e->doc, text.ptr, text.len) == LX_OK;
}

static void gm_open(struct gm_enc *e, int role)
{
    if (e->role == role)
        return;
    if (e->role >= 0) {
        lx_json_write_array_end(&e->w);
        lx_json_write_object_end(&e->w);
    }
    lx_json_write_object_begin(&e->w);
    GM_KEY(&e->w, "role");
    lx_json_write_str(&e->w, role ? LX_STR("model") : LX_STR("user"));
    GM_KEY(&e->w, "parts");
    lx_json_write_array_begin(&e->w);
    e->role = role;
}

static void gm_invalid(struct gm_enc *e, const char *msg)
{
    if (e->rc == LX_OK) {
        e->rc = LX_EINVAL;
        lx_err_set(e->err, LX_EINVAL, 400, "%s", msg);
    }
}

static void gm_write_media(struct gm_enc *e, const struct lx_part *p, int role)
{
    struct lx_json_writer *w = &e->w;

    if (p->data.len > 0) {
        if (p->media_type.len == 0) {
            gm_invalid(e, "an inline image, file or audio part needs a media type for Gemini");
            return;
        }
        gm_open(e, role);
        lx_json_write_object_begin(w);
        GM_KEY(w, "inlineData");
        lx_json_write_object_begin(w);
        GM_KEY(w, "mimeType");
        lx_json_write_str(w, p->media_type);
        GM_KEY(w, "data");
        lx_json_write_str(w, p->data);
        lx_json_write_object_end(w);
        lx_json_write_object_end(w);
    } else if (p->url.len > 0) {
        gm_open(e, role);
        lx_json_write_object_begin(w);
        GM_KEY(w, "fileData");
        lx_json_write_object_begin(w);
        if (p->media_type.len > 0) {
            GM_KEY(w, "mimeType");
            lx_json_write_str(w, p->media_type);
        }
        GM_KEY(w, "fileUri");
        lx_json_write_str(w, p->url);
        lx_json_write_object_end(w);
        lx_json_write_object_end(w);
    }
}

static void gm_write_text(struct gm_enc *e, const struct lx_part *p, int role)
{
    if (p->text.len == 0 && p->signature.len == 0)
        return; /* Gemini refuses empty text parts */
    gm_open(e, role);
    lx_json_write_object_begin(&e->w);
    GM_KEY(&e->w, "text");
    lx_json_write_str(&e->w, p->text);
    if (p->signature.len > 0) { /* a Gemini thoughtSignature on a text part (gemini.md) */
        GM_KEY(&e->w, "thoughtSignature");
        lx_json_write_str(&e->w, p->signature);
    }
    lx_json_write_object_end(&e->w);
}

static void gm_write_call(struct gm_enc *e, const struct lx_part *p)
{
    struct lx_json_writer *w = &e->w;

    if (p->name.len == 0) {
        gm_invalid(e, "a tool call without a function name");
        return;
    }
    gm_open(e, 1);
    lx_json_write_object_begin(w);
    GM_KEY(w, "functionCall");
    lx_json_write_object_begin(w);
    GM_KEY(w, "name");
    lx_json_write_str(w, p->name);
    GM_KEY(w, "args");
    if (gm_parse(e, p->args) && lx_json_type(&e->doc, 0) == LX_JSON_OBJECT)
        lx_json_write_token(w, &e->doc, 0);
    else
        lx_json_write_raw(w, LX_STR("{}")); /* not a JSON object: Gemini takes only objects */
    lx_json_write_object_end(w);
    if (p->signature.len > 0) {
        GM_KEY(w, "thoughtSignature");
        lx_json_write_str(w, p->signature);
    }
    lx_json_write_object_end(w);
}

static void gm_write_result(struct gm_enc *e, const struct lx_part *p, size_t msg_index)
{
    struct lx_json_writer *w = &e->w;
    struct lx_str name = p->name;
    size_t n_text = 0;

    if (name.len == 0)
        name = lx_chat_req_tool_name(e->req, msg_index, p->id);
    if (name.len == 0) {
        gm_invalid(e, "a tool result whose function name is unknown (no earlier tool call with "
                      "its id): Gemini pairs results by name");
        return;
    }
    gm_open(e, 0);
    lx_json_write_object_begin(w);
    GM_KEY(w, "functionResponse");
    lx_json_write_object_begin(w);
    GM_KEY(w, "name");
    lx_json_write_str(w, name);
    GM_KEY(w, "response");
    if (p->n_sub == 0 && gm_parse(e, p->text) && lx_json_type(&e->doc, 0) == LX_JSON_OBJECT) {
        lx_json_write_token(w, &e->doc, 0); /* already an object: as the tool gave it */
    } else {
        lx_json_write_object_begin(w);
        lx_json_write_key(w, p->is_error ? LX_STR("error") : LX_STR("content"));
        for (size_t i = 0; i < p->n_sub; i++)
            n_text += p->sub[i].type == LX_PART_TEXT;
        if (p->n_sub == 0 || (n_text == 0 && p->text.len > 0)) {
            lx_json_write_str(w, p->text);
        } else if (n_text == 1) {
            for (size_t i = 0; i < p->n_sub; i++)
                if (p->sub[i].type == LX_PART_TEXT)
                    lx_json_write_str(w, p->sub[i].text);
        } else {
            lx_json_write_array_begin(w);
            for (size_t i = 0; i < p->n_sub; i++)
                if (p->sub[i].type == LX_PART_TEXT)
                    lx_json_write_str(w, p->sub[i].text);
            lx_json_write_array_end(w);
        }
        lx_json_write_object_end(w);
    }
    lx_json_write_object_end(w);
    lx_json_write_object_end(w);
    /* images a tool returned ride in the same user turn, after the response */
    for (size_t i = 0; i < p->n_sub; i++)
        if (p->sub[i].type == LX_PART_IMAGE || p->sub[i].type == LX_PART_FILE ||
            p->sub[i].type == LX_PART_AUDIO)
            gm_write_media(e, &p->sub[i], 0);
}

static void gm_write_contents(struct gm_enc *e)
{
    const struct lx_chat_req *req = e->req;

    GM_KEY(&e->w, "contents");
    lx_json_write_array_begin(&e->w);
    for (size_t m = 0; m < req->n_msgs; m++) {
        const struct lx_msg *msg = &req->msgs[m];
        int role = msg->role == LX_ROLE_ASSISTANT ? 1 : 0;

        if (msg->role == LX_ROLE_SYSTEM || msg->role == LX_ROLE_DEVELOPER)
            continue;
        for (size_t i = 0; i < msg->n_parts; i++) {
            const struct lx_part *p = &msg->parts[i];

            switch (p->type) {
            case LX_PART_TEXT: gm_write_text(e, p, role); break;
            case LX_PART_IMAGE:
            case LX_PART_FILE:
            case LX_PART_AUDIO: gm_write_media(e, p, role); break;
            case LX_PART_TOOL_CALL:
                if (msg->role == LX_ROLE_ASSISTANT)
                    gm_write_call(e, p);
                break;
            case LX_PART_TOOL_RESULT: gm_write_result(e, p, m); break;
            case LX_PART_THINKING: /* not sent back: signatures ride on functionCall parts */
            case LX_PART_REDACTED_THINKING: break;
            }
        }
    }
    if (e->role >= 0) {
        lx_json_write_array_end(&e->w);
        lx_json_write_object_end(&e->w);
    } else {
        gm_invalid(e, "at least one user or assistant message with content is required");
    }
    lx_json_write_array_end(&e->w);
}

static void gm_write_system(struct gm_enc *e)
{
    const struct lx_chat_req *req = e->req;
    bool open = false;

    for (size_t m = 0; m < req->n_msgs; m++) {
        const struct lx_msg *msg = &req->msgs[m];

        if (msg->role != LX_ROLE_SYSTEM && msg->role != LX_ROLE_DEVELOPER)
            continue;
        for (size_t i = 0; i < msg->n_parts; i++) {
            if (msg->parts[i].type != LX_PART_TEXT || msg->parts[i].text.len == 0)
                continue;
            if (!open) {
                GM_KEY(&e->w, "systemInstruction");
                lx_json_write_object_begin(&e->w);
                GM_KEY(&e->w, "parts");
                lx_json_write_array_begin(&e->w);
                open = true;
            }
            lx_json_write_object_begin(&e->w);
            GM_KEY(&e->w, "text");
            lx_json_write_str(&e->w, msg->parts[i].text);
            lx_json_write_object_end(&e->w);
        }
    }
    if (open) {
        lx_json_write_array_end(&e->w);
        lx_json_write_object_end(&e->w);
    }
}

static void gm_write_tools(struct gm_enc *e)
{
    const struct lx_chat_req *req = e->req;
    struct lx_json_writer *w = &e->w;

    if (req->n_tools > 0) {
        GM_KEY(w, "tools");
        lx_json_write_array_begin(w);
        lx_json_write_object_begin(w);
        GM_KEY(w, "functionDeclarations");
        lx_json_write_array_begin(w);
        for (size_t i = 0; i < req->n_tools; i++) {
            const struct lx_tool *t = &req->tools[i];

            lx_json_write_object_begin(w);
            GM_KEY(w, "name");
            lx_json_write_str(w, t->name);
            if (t->description.len > 0) {
                GM_KEY(w, "description");
                lx_json_write_str(w, t->description);
            }
            if (t->parameters.len > 0) {
                if (!gm_parse(e, t->parameters) || lx_json_type(&e->doc, 0) != LX_JSON_OBJECT) {
                    gm_invalid(e, "a tool's parameters are not a JSON Schema object");
                } else if (!gm_schema_empty_object(&e->doc)) {
                    GM_KEY(w, "parameters");
                    lx__gemini_write_schema(w, &e->doc, 0, LX__GEMINI_SCHEMA_TO);
                }
            }
            lx_json_write_object_end(w);
        }
        lx_json_write_array_end(w);
        lx_json_write_object_end(w);
        lx_json_write_array_end(w);
    }
    if (req->tool_choice != LX_TOOL_CHOICE_UNSET) {
        GM_KEY(w, "toolConfig");
        lx_json_write_object_begin(w);
        GM_KEY(w, "functionCallingConfig");
        lx_json_write_object_begin(w);
        GM_KEY(w, "mode");
        switch (req->tool_choice) {
        case LX_TOOL_CHOICE_NONE: lx_json_write_str(w, LX_STR("NONE")); break;
        case LX_TOOL_CHOICE_REQUIRED:
        case LX_TOOL_CHOICE_NAMED: lx_json_write_str(w, LX_STR("ANY")); break;
        case LX_TOOL_CHOICE_UNSET:
        case LX_TOOL_CHOICE_AUTO: lx_json_write_str(w, LX_STR("AUTO")); break;
        }
        if (req->tool_choice == LX_TOOL_CHOICE_NAMED && req->tool_choice_name.len > 0) {
            GM_KEY(w, "allowedFunctionNames");
            lx_json_write_array_begin(w);
            lx_json_write_str(w, req->tool_choice_name);
            lx_json_write_array_end(w);
        }
        lx_json_write_object_end(w);
        lx_json_write_object_end(w);
    }
}

static void gm_gc_key(struct gm_enc *e, bool *open, const char *key)
{
    if (!*open) {
        GM_KEY(&e->w, "generationConfig");
        lx_json_write_object_begin(&e->w);
        *open = true;
    }
    lx_json_write_key(&e->w, lx_str_cstr(key));
}

static void gm_gc_num(struct gm_enc *e, bool *open, const char *key, const struct lx_num *n)
{
    if (n->raw.len == 0)
        return;
    gm_gc_key(e, open, key);
    lx_json_write_raw(&e->w, n->raw);
}

/* The generationConfig members this encoder writes itself. */
static bool gm_own_gc_key(struct lx_str k)
{
    static const char *const own[] = {
        "maxOutputTokens", "temperature", "topP", "topK", "stopSequences", "candidateCount",
        "seed", "presencePenalty", "frequencyPenalty", "responseMimeType", "responseSchema",
        "responseJsonSchema", "thinkingConfig"};

    return lx_wire_str_in(k, own, sizeof(own) / sizeof(own[0]));
}

static int64_t gm_effort_budget(enum lx_effort eff)
{
    switch (eff) {
    case LX_EFFORT_NONE: return 0;
    case LX_EFFORT_MINIMAL: return 512;
    case LX_EFFORT_LOW: return 1024;
    case LX_EFFORT_MEDIUM: return 8192;
    case LX_EFFORT_HIGH: return 24576;
    case LX_EFFORT_UNSET: break;
    }
    return -2;
}

static void gm_write_gc(struct gm_enc *e)
{
    const struct lx_chat_req *req = e->req;
    struct lx_json_writer *w = &e->w;
    bool open = false, include = req->include_thoughts;
    int64_t budget = -2; /* -2: no thinkingBudget */

    if (req->max_tokens >= 0) {
        gm_gc_key(e, &open, "maxOutputTokens");
        lx_json_write_int(w, req->max_tokens);
    }
    gm_gc_num(e, &open, "temperature", &req->temperature);
    gm_gc_num(e, &open, "topP", &req->top_p);
    if (req->top_k >= 0) {
        gm_gc_key(e, &open, "topK");
        lx_json_write_int(w, req->top_k);
    }
    if (req->n_stop > 0) {
        gm_gc_key(e, &open, "stopSequences");
        lx_wire_write_strs(w, req->stop, req->n_stop);
    }
    if (req->n >= 0) {
        gm_gc_key(e, &open, "candidateCount");
        lx_json_write_int(w, req->n);
    }
    if (req->has_seed) {
        gm_gc_key(e, &open, "seed");
        lx_json_write_int(w, req->seed);
    }
    gm_gc_num(e, &open, "presencePenalty", &req->presence_penalty);
    gm_gc_num(e, &open, "frequencyPenalty", &req->frequency_penalty);
    if (req->response_format == LX_RF_JSON_OBJECT || req->response_format == LX_RF_JSON_SCHEMA) {
        gm_gc_key(e, &open, "responseMimeType");
        lx_json_write_str(w, LX_STR("application/json"));
    }
    if (req->response_format == LX_RF_JSON_SCHEMA && req->schema.len > 0) {
        if (!gm_parse(e, req->schema) || lx_json_type(&e->doc, 0) != LX_JSON_OBJECT) {
            gm_invalid(e, "response_format: the JSON schema is not an object");
        } else {
            gm_gc_key(e, &open, "responseSchema");
            lx__gemini_write_schema(w, &e->doc, 0, LX__GEMINI_SCHEMA_TO);
        }
    }
    if (req->thinking == LX_THINKING_DISABLED) {
        budget = 0;
    } else if (req->thinking == LX_THINKING_ENABLED) {
        /* an Anthropic-style "thinking on" wants the reasoning back; a Gemini client says
         * so itself with includeThoughts */
        if (req->source != LX_SRC_GEMINI)
            include = true;
        if (req->thinking_budget > 0)
            budget = req->thinking_budget;
    } else if (req->effort != LX_EFFORT_UNSET) {
        budget = gm_effort_budget(req->effort);
    } else if (req->thinking_budget >= 0) {
        budget = req->thinking_budget;
    }
    if (budget != -2 || include) {
        gm_gc_key(e, &open, "thinkingConfig");
        lx_json_write_object_begin(w);
        if (budget != -2) {
            GM_KEY(w, "thinkingBudget");
            lx_json_write_int(w, budget);
        }
        if (include) {
            GM_KEY(w, "includeThoughts");
            lx_json_write_bool(w, true);
        }
        lx_json_write_object_end(w);
    }
    /* a Gemini client's generationConfig members the IR has no field for (gemini_front.c) */
    for (size_t i = 0; req->source == LX_SRC_GEMINI && i < req->n_extra; i++) {
        if (!lx_str_eq(req->extra[i].key, LX_STR("generationConfig")) ||
            !gm_parse(e, req->extra[i].value) || lx_json_type(&e->doc, 0) != LX_JSON_OBJECT)
            continue;
        for (int k = lx_json_first(&e->doc, 0); k >= 0; k = lx_json_sibling(&e->doc, 0, k)) {
            struct lx_str key = lx_json_str_raw(&e->doc, k);

            if (gm_own_gc_key(key) || (e->doc.toks[k].flags & LX_JSON_ESCAPED))
                continue;
            if (!open) {
                GM_KEY(w, "generationConfig");
                lx_json_write_object_begin(w);
                open = true;
            }
            lx_json_write_key(w, key);
            lx_json_write_copy(w, &e->doc, k + 1);
        }
    }
    if (open)
        lx_json_write_object_end(w);
}

static bool gm_own_key(struct lx_str k)
{
    static const char *const own[] = {"contents", "systemInstruction", "tools", "toolConfig",
                                      "generationConfig", "model"};

    return lx_wire_str_in(k, own, sizeof(own) / sizeof(own[0]));
}

/* "models/<m>" as one JSON string (the writer sees one complete raw value). */
static void gm_write_model_name(struct lx_json_writer *w, struct lx_str m)
{
    lx_json_write_raw(w, LX_STR("\"models/"));
    lx_json_escape(w->b, m);
    lx_buf_append_char(w->b, '"');
}

/* count_model: NULL for a generateContent body; else the countTokens wrapper. */
static int gm_encode(const struct lx_chat_req *req, const struct lx_str *count_model,
                     struct lx_buf *out, struct lx_err *err)
{
    struct gm_enc e;
    int rc;

    memset(&e, 0, sizeof(e));
    e.req = req;
    e.err = err;
    e.role = -1;
    lx_json_init(&e.doc, NULL);
    lx_json_writer_init(&e.w, out);
    lx_json_write_object_begin(&e.w);
    if (count_model != NULL && count_model->len > 0) {
        struct lx_str m = gm_bare_model(*count_model);

        GM_KEY(&e.w, "generateContentRequest");
        lx_json_write_object_begin(&e.w);
        GM_KEY(&e.w, "model");
        gm_write_model_name(&e.w, m);
    }
    gm_write_contents(&e);
    if (count_model == NULL || count_model->len > 0) {
        gm_write_system(&e);
        gm_write_tools(&e);
        gm_write_gc(&e);
    }
    if (count_model == NULL && req->source == LX_SRC_GEMINI) {
        for (size_t i = 0; i < req->n_extra; i++) {
            if (gm_own_key(req->extra[i].key) || req->extra[i].value.len == 0)
                continue;
            lx_json_write_key(&e.w, req->extra[i].key);
            lx_json_write_raw(&e.w, req->extra[i].value);
        }
    }
    if (count_model != NULL && count_model->len > 0)
        lx_json_write_object_end(&e.w);
    lx_json_write_object_end(&e.w);
    lx_json_release(&e.doc);
    rc = e.rc;
    if (rc == LX_OK && out->err != LX_OK)
        rc = out->err;
    if (rc == LX_OK)
        rc = lx_json_writer_finish(&e.w);
    if (rc != LX_OK && e.rc == LX_OK) {
        if (rc == LX_ETOOBIG)
            lx_err_set(err, rc, 413, "request too large for the upstream body limit");
        else
            lx_err_set(err, rc, 500, "could not encode the Gemini request: %s", lx_strerror(rc));
    }
    return rc;
}

int lx_gemini_encode_body(const struct lx_chat_req *req, struct lx_buf *out, struct lx_err *err)
{
    return gm_encode(req, NULL, out, err);
}

int lx_gemini_encode_count_body(const struct lx_chat_req *req, struct lx_str model,
                                struct lx_buf *out, struct lx_err *err)
{
    return gm_encode(req, &model, out, err);
}

int lx_gemini_embed_body(const struct lx_embed_req *req, struct lx_str model, struct lx_buf *out)
{
    static const char *const task_map[][2] = {
        {"search_document", "RETRIEVAL_DOCUMENT"}, {"search_query", "RETRIEVAL_QUERY"},
        {"classification", "CLASSIFICATION"},      {"clustering", "CLUSTERING"},
        {"query", "RETRIEVAL_QUERY"},              {"document", "RETRIEVAL_DOCUMENT"}};
    struct lx_json_writer w;
    struct lx_str task = req->input_type;

    if (req->n_inputs == 0)
        return LX_EINVAL;
    for (size_t i = 0; i < sizeof(task_map) / sizeof(task_map[0]); i++)
        if (lx_str_eq(task, lx_str_cstr(task_map[i][0])))
            task = lx_str_cstr(task_map[i][1]);
    model = gm_bare_model(model);
    lx_json_writer_init(&w, out);
    lx_json_write_object_begin(&w);
    GM_KEY(&w, "requests");
    lx_json_write_array_begin(&w);
    for (size_t i = 0; i < req->n_inputs; i++) {
        lx_json_write_object_begin(&w);
        GM_KEY(&w, "model");
        gm_write_model_name(&w, model);
        GM_KEY(&w, "content");
        lx_json_write_object_begin(&w);
        GM_KEY(&w, "parts");
        lx_json_write_array_begin(&w);
        lx_json_write_object_begin(&w);
        GM_KEY(&w, "text");
        lx_json_write_str(&w, req->inputs[i]);
        lx_json_write_object_end(&w);
        lx_json_write_array_end(&w);
        lx_json_write_object_end(&w);
        if (req->dimensions > 0) {
            GM_KEY(&w, "outputDimensionality");
            lx_json_write_int(&w, req->dimensions);
        }
        if (task.len > 0) {
            GM_KEY(&w, "taskType");
            lx_json_write_str(&w, task);
        }
        lx_json_write_object_end(&w);
    }
    lx_json_write_array_end(&w);
    lx_json_write_object_end(&w);
    if (out->err != LX_OK)
        return out->err;
    return lx_json_writer_finish(&w);
}

/* ---- target: URL and headers ------------------------------------------------------------ */

/* x-goog-api-key (never ?key=: URLs end up in logs), Content-Type, the configured headers
 * (those we set win). */
static int gm_headers(const struct lx_provider_call *call, struct lx_arena *a,
                      struct lx_upstream_req *out)
{
    const struct lx_config_provider *conf = call->conf;
    size_t n = 0;
    struct lx_header *h = lx_arena_zalloc(a, (3 + conf->n_headers) * sizeof(*h));

    if (h == NULL)
        return LX_ENOMEM;
    h[n++] = (struct lx_header){LX_STR("Content-Type"), LX_STR("application/json")};
    if (call->key.len > 0)
        h[n++] = (struct lx_header){LX_STR("x-goog-api-key"), call->key};
    for (size_t i = 0; i < conf->n_headers; i++) {
        if (lx_header_find(h, n, conf->headers[i].name) != NULL)
            continue;
        h[n++] = conf->headers[i];
    }
    out->headers = h;
    out->n_headers = n;
    return LX_OK;
}

static int gm_target(const struct lx_provider_call *call, const char *method, struct lx_arena *a,
                     struct lx_upstream_req *out, struct lx_err *err)
{
    struct lx_str parts[4], model;

    memset(out, 0, sizeof(*out));
    if (call == NULL || call->conf == NULL || call->conf->base_url == NULL) {
        lx_err_set(err, LX_EINVAL, 500, "gemini: provider not configured");
        return LX_EINVAL;
    }
    if (gm_bare_model(call->model).len == 0) {
        lx_err_set(err, LX_EINVAL, 400, "gemini: no model");
        return LX_EINVAL;
    }
    model = lx_wire_path_escape(a, gm_bare_model(call->model));
    parts[0] = lx_str_cstr(call->conf->base_url);
    parts[1] = LX_STR("/models/");
    parts[2] = model;
    parts[3] = lx_str_cstr(method);
    out->method = LX_STR("POST");
    out->url = model.ptr != NULL ? lx_wire_concat(a, parts, 4) : LX_STR_NULL;
    if (out->url.ptr == NULL || gm_headers(call, a, out) != LX_OK) {
        lx_err_set(err, LX_ENOMEM, 503, "gemini: out of memory");
        return LX_ENOMEM;
    }
    return LX_OK;
}

static int gm_body_to_arena(struct lx_buf *b, int rc, struct lx_arena *a, struct lx_str *body,
                            struct lx_err *err)
{
    if (rc == LX_OK) {
        *body = lx_arena_dup(a, lx_buf_str(b));
        if (body->ptr == NULL) {
            rc = LX_ENOMEM;
            lx_err_set(err, rc, 503, "gemini: out of memory");
        }
    }
    lx_buf_release(b);
    return rc;
}

static int gm_build_request(const struct lx_provider_call *call, const struct lx_chat_req *req,
                            struct lx_arena *a, struct lx_upstream_req *out, struct lx_err *err)
{
    struct lx_buf b = LX_BUF_INIT(GM_MAX_BODY);
    const char *method = ":generateContent";
    int rc;

    if (call != NULL && call->endpoint == LX_EP_COUNT_TOKENS)
        method = ":countTokens";
    else if (call != NULL && call->stream)
        method = ":streamGenerateContent?alt=sse";
    rc = gm_target(call, method, a, out, err);
    if (rc != LX_OK)
        return rc;
    if (call->endpoint == LX_EP_COUNT_TOKENS)
        rc = lx_gemini_encode_count_body(req, call->model, &b, err);
    else
        rc = lx_gemini_encode_body(req, &b, err);
    return gm_body_to_arena(&b, rc, a, &out->body, err);
}

static int gm_build_embeddings(const struct lx_provider_call *call, const struct lx_embed_req *req,
                               struct lx_arena *a, struct lx_upstream_req *out, struct lx_err *err)
{
    struct lx_buf b = LX_BUF_INIT(GM_MAX_BODY);
    int rc = gm_target(call, ":batchEmbedContents", a, out, err);

    if (rc != LX_OK)
        return rc;
    rc = lx_gemini_embed_body(req, call->model, &b);
    if (rc == LX_EINVAL)
        lx_err_set(err, rc, 400, "embeddings: at least one input is required");
    else if (rc != LX_OK)
        lx_err_set(err, rc, rc == LX_ETOOBIG ? 413 : 503, "gemini: %s", lx_strerror(rc));
    return gm_body_to_arena(&b, rc, a, &out->body, err);
}

/* ---- answers ---------------------------------------------------------------------------- */

static struct lx_str gm_str(const struct lx_json *doc, int i, struct lx_arena *a)
{
    struct lx_str s = LX_STR_NULL;

    if (lx_json_type(doc, i) == LX_JSON_STRING && lx_json_str(doc, i, a, &s) != LX_OK)
        s = LX_STR_NULL;
    return s;
}

/* usageMetadata -> IR usage (ir.h counting: output includes thoughts). */
static void gm_usage(const struct lx_json *doc, int u, struct lx_usage *out)
{
    int64_t p = lx_wire_int(doc, u, "promptTokenCount");
    int64_t tu = lx_wire_int(doc, u, "toolUsePromptTokenCount");
    int64_t c = lx_wire_int(doc, u, "candidatesTokenCount");
    int64_t th = lx_wire_int(doc, u, "thoughtsTokenCount");

    *out = (struct lx_usage)LX_USAGE_INIT;
    if (lx_json_type(doc, u) != LX_JSON_OBJECT)
        return;
    out->input = p >= 0 ? p + (tu > 0 ? tu : 0) : -1;
    out->output = c >= 0 || th >= 0 ? (c > 0 ? c : 0) + (th > 0 ? th : 0) : -1;
    out->reasoning = th;
    out->cache_read = lx_wire_int(doc, u, "cachedContentTokenCount");
    out->total = lx_wire_int(doc, u, "totalTokenCount");
}

struct gm_parts {
    struct lx_part *v;
    size_t n;
    bool has_call;
};

/* content.parts of one candidate -> IR parts. LX_EPARSE for parts that are not objects. */
static int gm_read_parts(const struct lx_json *doc, int content, struct lx_str seed,
                         unsigned choice, struct lx_arena *a, struct gm_parts *out)
{
    int parts = GM_GET(doc, content, "parts");
    unsigned n_calls = 0;

    memset(out, 0, sizeof(*out));
    if (parts < 0)
        return LX_OK;
    if (lx_json_type(doc, parts) != LX_JSON_ARRAY)
        return LX_EPARSE;
    out->v = lx_arena_zalloc(a, (lx_json_count(doc, parts) + 1) * sizeof(*out->v));
    if (out->v == NULL)
        return LX_ENOMEM;
    for (int e = lx_json_first(doc, parts); e >= 0; e = lx_json_sibling(doc, parts, e)) {
        struct lx_part *p = &out->v[out->n];
        int fc = GM_GET(doc, e, "functionCall"), t = GM_GET(doc, e, "text");

        if (lx_json_type(doc, e) != LX_JSON_OBJECT)
            return LX_EPARSE;
        p->signature = gm_str(doc, GM_GET(doc, e, "thoughtSignature"), a);
        if (lx_json_type(doc, fc) == LX_JSON_OBJECT) {
            int args = GM_GET(doc, fc, "args");

            p->type = LX_PART_TOOL_CALL;
            p->name = gm_str(doc, GM_GET(doc, fc, "name"), a);
            if (p->name.len == 0)
                return LX_EPARSE;
            p->id = gm_str(doc, GM_GET(doc, fc, "id"), a);
            if (p->id.len == 0)
                p->id = lx__gemini_call_id(a, seed, p->name, choice, n_calls);
            p->args = lx_json_type(doc, args) == LX_JSON_OBJECT ? lx_json_raw(doc, args)
                                                                  : LX_STR("{}");
            n_calls++;
            out->has_call = true;
        } else if (lx_json_type(doc, t) == LX_JSON_STRING) {
            p->type = lx_json_type(doc, GM_GET(doc, e, "thought")) == LX_JSON_TRUE
                          ? LX_PART_THINKING
                          : LX_PART_TEXT;
            p->text = gm_str(doc, t, a);
            if (p->text.len == 0 && p->signature.len == 0)
                continue;
        } else if (lx_json_type(doc, GM_GET(doc, e, "inlineData")) == LX_JSON_OBJECT) {
            int d = GM_GET(doc, e, "inlineData");

            p->type = LX_PART_IMAGE; /* image output (gemini-2.x-flash-image) */
            p->media_type = gm_str(doc, GM_GET(doc, d, "mimeType"), a);
            p->data = gm_str(doc, GM_GET(doc, d, "data"), a);
        } else {
            continue; /* executableCode, codeExecutionResult ...: not in the IR */
        }
        out->n++;
    }
    return LX_OK;
}

static int gm_parse_candidate(const struct lx_json *doc, int c, unsigned pos, struct lx_str seed,
                              struct lx_arena *a, struct lx_choice *ch)
{
    int64_t idx = lx_wire_int(doc, c, "index");
    struct gm_parts ps;
    int rc;

    if (lx_json_type(doc, c) != LX_JSON_OBJECT)
        return LX_EPARSE;
    ch->index = idx >= 0 && idx < 1024 ? (unsigned)idx : pos;
    rc = gm_read_parts(doc, GM_GET(doc, c, "content"), seed, ch->index, a, &ps);
    if (rc != LX_OK)
        return rc;
    ch->message.role = LX_ROLE_ASSISTANT;
    ch->message.parts = ps.v;
    ch->message.n_parts = ps.n;
    ch->finish_raw = gm_str(doc, GM_GET(doc, c, "finishReason"), a);
    ch->finish = lx_gemini_finish(ch->finish_raw);
    if (ps.has_call && ch->finish == LX_FINISH_STOP)
        ch->finish = LX_FINISH_TOOL_CALLS;
    return LX_OK;
}

static int gm_parse_fail(struct lx_err *err, int rc, const char *what)
{
    if (rc == LX_ENOMEM)
        lx_err_set(err, rc, 503, "gemini: out of memory");
    else
        lx_err_set(err, LX_EPARSE, 502, "gemini: the upstream answer is not a %s", what);
    return rc == LX_ENOMEM ? rc : LX_EPARSE;
}

int lx_gemini_parse_response(const struct lx_provider_call *call, struct lx_str body,
                             struct lx_arena *a, struct lx_chat_resp *out, struct lx_err *err)
{
    struct lx_json doc;
    int cands, pf, rc;
    struct lx_str seed;

    lx_chat_resp_init(out);
    lx_wire_json_init(&doc, a);
    if (lx_json_parse(&doc, body.ptr, body.len) != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        return gm_parse_fail(err, LX_EPARSE, "JSON object");
    if (call != NULL && call->endpoint == LX_EP_COUNT_TOKENS) {
        out->usage.input = lx_wire_int(&doc, 0, "totalTokens");
        if (out->usage.input < 0)
            return gm_parse_fail(err, LX_EPARSE, "countTokens answer");
        out->usage.total = out->usage.input;
        out->usage.cache_read = lx_wire_int(&doc, 0, "cachedContentTokenCount");
        return LX_OK;
    }
    cands = GM_GET(&doc, 0, "candidates");
    pf = GM_GET(&doc, 0, "promptFeedback");
    if (cands >= 0 && lx_json_type(&doc, cands) != LX_JSON_ARRAY)
        return gm_parse_fail(err, LX_EPARSE, "GenerateContentResponse");
    if ((cands < 0 || lx_json_count(&doc, cands) == 0) &&
        lx_json_type(&doc, GM_GET(&doc, pf, "blockReason")) != LX_JSON_STRING)
        return gm_parse_fail(err, LX_EPARSE, "GenerateContentResponse (no candidates)");
    out->id = gm_str(&doc, GM_GET(&doc, 0, "responseId"), a);
    out->model = gm_str(&doc, GM_GET(&doc, 0, "modelVersion"), a);
    gm_usage(&doc, GM_GET(&doc, 0, "usageMetadata"), &out->usage);
    seed = out->id;
    if (cands >= 0 && lx_json_count(&doc, cands) > 0) {
        unsigned pos = 0;

        out->choices = lx_arena_zalloc(a, lx_json_count(&doc, cands) * sizeof(*out->choices));
        if (out->choices == NULL)
            return gm_parse_fail(err, LX_ENOMEM, "");
        for (int c = lx_json_first(&doc, cands); c >= 0; c = lx_json_sibling(&doc, cands, c)) {
            rc = gm_parse_candidate(&doc, c, pos++, seed, a, &out->choices[out->n_choices]);
            if (rc != LX_OK)
                return gm_parse_fail(err, rc, "GenerateContentResponse (bad candidate)");
            out->n_choices++;
        }
    } else {
        /* the prompt was blocked: one empty choice, content_filter */
        out->choices = lx_arena_zalloc(a, sizeof(*out->choices));
        if (out->choices == NULL)
            return gm_parse_fail(err, LX_ENOMEM, "");
        out->n_choices = 1;
        out->choices[0].message.role = LX_ROLE_ASSISTANT;
        out->choices[0].finish = LX_FINISH_CONTENT_FILTER;
        out->choices[0].finish_raw = gm_str(&doc, GM_GET(&doc, pf, "blockReason"), a);
    }
    return LX_OK;
}

/* ---- errors ----------------------------------------------------------------------------- */

/* "34.4s" -> 34400 ms; -1 when not a duration. */
static int64_t gm_duration_ms(struct lx_str s)
{
    int64_t secs = 0, frac = 0, scale = 1000;
    size_t i = 0;

    if (s.len < 2 || s.ptr[s.len - 1] != 's')
        return -1;
    for (; i < s.len - 1 && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++) {
        if (secs > 86400 * 7)
            return -1;
        secs = secs * 10 + (s.ptr[i] - '0');
    }
    if (i == 0)
        return -1;
    if (i < s.len - 1 && s.ptr[i] == '.') {
        for (i++; i < s.len - 1 && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++) {
            scale /= 10;
            frac += (s.ptr[i] - '0') * scale;
        }
    }
    if (i != s.len - 1)
        return -1;
    return secs * 1000 + frac;
}

/* A google.rpc.Status object eobj -> out. status 0 (in a stream): from its code. */
static void gm_classify(const struct lx_json *doc, int eobj, int status, struct lx_arena *a,
                        struct lx_str key, struct lx_upstream_error *out)
{
    int details = GM_GET(doc, eobj, "details");
    int64_t code = lx_wire_int(doc, eobj, "code");
    struct lx_str st = gm_str(doc, GM_GET(doc, eobj, "status"), a);
    struct lx_str msg = gm_str(doc, GM_GET(doc, eobj, "message"), a);
    bool key_invalid = false, per_day = false;
    int64_t retry = -1;

    if (status == 0)
        status = code >= 400 && code <= 599 ? (int)code : 500;
    lx_upstream_error_init(out);
    out->status = status;
    if (lx_json_type(doc, details) == LX_JSON_ARRAY) {
        for (int d = lx_json_first(doc, details); d >= 0; d = lx_json_sibling(doc, details, d)) {
            int v = GM_GET(doc, d, "violations");

            if (lx_json_str_eq(doc, GM_GET(doc, d, "reason"), LX_STR("API_KEY_INVALID")))
                key_invalid = true;
            if (lx_json_type(doc, GM_GET(doc, d, "retryDelay")) == LX_JSON_STRING)
                retry = gm_duration_ms(lx_json_str_raw(doc, GM_GET(doc, d, "retryDelay")));
            if (lx_json_type(doc, v) != LX_JSON_ARRAY)
                continue;
            for (int q = lx_json_first(doc, v); q >= 0; q = lx_json_sibling(doc, v, q)) {
                struct lx_str id = lx_json_str_raw(doc, GM_GET(doc, q, "quotaId"));
                struct lx_str metric = lx_json_str_raw(doc, GM_GET(doc, q, "quotaMetric"));

                if (lx_wire_contains_lit(id, "PerDay") || lx_wire_contains_lit(metric, "PerDay") ||
                    lx_wire_contains_lit(metric, "per_day"))
                    per_day = true;
            }
        }
    }
    out->code = key_invalid ? LX_STR("API_KEY_INVALID") : st;
    if (key_invalid || lx_str_eq(st, LX_STR("UNAUTHENTICATED")) || status == 401)
        out->type = LX_ERRT_AUTHENTICATION;
    else if (lx_str_eq(st, LX_STR("PERMISSION_DENIED")) || status == 403)
        out->type = LX_ERRT_PERMISSION;
    else if (lx_str_eq(st, LX_STR("NOT_FOUND")) || status == 404)
        out->type = LX_ERRT_NOT_FOUND;
    else if (lx_str_eq(st, LX_STR("RESOURCE_EXHAUSTED")) || status == 429)
        out->type = LX_ERRT_RATE_LIMIT;
    else if (lx_str_eq(st, LX_STR("UNAVAILABLE")) || status == 503)
        out->type = LX_ERRT_OVERLOADED;
    else if (lx_str_eq(st, LX_STR("DEADLINE_EXCEEDED")) || status == 504)
        out->type = LX_ERRT_TIMEOUT;
    else if (lx_wire_contains_lit(msg, "input token count") &&
             lx_wire_contains_lit(msg, "exceeds the maximum"))
        out->type = LX_ERRT_CONTEXT_LENGTH;
    else if (status == 413)
        out->type = LX_ERRT_TOO_LARGE;
    else if (lx_str_eq(st, LX_STR("INTERNAL")) || status >= 500)
        out->type = lx_err_type_from_status(status);
    else
        out->type = lx_err_type_from_status(status);
    lx_upstream_error_defaults(out);
    if (out->type == LX_ERRT_RATE_LIMIT) {
        /* S1: the RetryInfo delay plus 2 s; a per-day quota cools until Pacific midnight */
        out->retry_after_ms = retry >= 0 ? retry + 2000 : -1;
        out->daily_quota = per_day;
    }
    out->message = lx_wire_withhold(msg, key);
}

void lx_gemini_map_error(const struct lx_provider_call *call, int status,
                         const struct lx_header *headers, size_t n_headers, struct lx_str body,
                         struct lx_arena *a, struct lx_upstream_error *out)
{
    struct lx_json doc;
    struct lx_str key = call != NULL ? call->key : LX_STR_NULL;
    int eobj = -1;

    lx_wire_json_init(&doc, a);
    if (body.len > 0 && lx_json_parse(&doc, body.ptr, body.len) == LX_OK) {
        int root = 0;

        if (lx_json_type(&doc, 0) == LX_JSON_ARRAY) /* [{"error":...}] from some endpoints */
            root = lx_json_first(&doc, 0);
        eobj = GM_GET(&doc, root, "error");
        if (lx_json_type(&doc, eobj) != LX_JSON_OBJECT)
            eobj = -1;
    }
    if (eobj >= 0) {
        gm_classify(&doc, eobj, status, a, key, out);
    } else {
        lx_upstream_error_init(out);
        out->status = status;
        out->type = lx_err_type_from_status(status);
        lx_upstream_error_defaults(out);
        out->message = lx_wire_withhold(lx_wire_cut_utf8(lx_str_trim(body), GM_MAX_MSG), key);
    }
    if (out->retry_after_ms < 0)
        lx_wire_retry_after(call, headers, n_headers, out);
    lx_wire_default_message(a, status, out);
}

/* ---- streaming -------------------------------------------------------------------------- */

struct gm_stream {
    bool started;
    unsigned n_calls[GM_MAX_CHOICES];
    bool has_calls[GM_MAX_CHOICES];
    bool seen[GM_MAX_CHOICES];
    bool finished[GM_MAX_CHOICES];
};

static void gm_delta(struct lx_delta *d, enum lx_delta_type type, unsigned choice)
{
    memset(d, 0, sizeof(*d));
    d->type = type;
    d->choice = choice;
    d->tool_index = -1;
    d->usage = (struct lx_usage)LX_USAGE_INIT;
}

static int gm_stream_fail(struct lx_err *err, int rc)
{
    if (rc == LX_ENOMEM) {
        lx_err_set(err, rc, 503, "gemini: out of memory");
        return rc;
    }
    lx_err_set(err, LX_EPARSE, 502, "gemini: a stream chunk is not a GenerateContentResponse");
    return LX_EPARSE;
}

/* One candidate of a chunk -> deltas. */
static int gm_stream_candidate(struct lx_stream_state *st, struct gm_stream *gs,
                               const struct lx_json *doc, int c, unsigned pos, struct lx_str seed,
                               const struct lx_delta_sink *sink, bool *finished_here)
{
    struct lx_arena *a = st->scratch;
    int64_t idx = lx_wire_int(doc, c, "index");
    unsigned ci = idx >= 0 ? (unsigned)(idx < GM_MAX_CHOICES ? idx : GM_MAX_CHOICES) : pos;
    int content = GM_GET(doc, c, "content"), parts = GM_GET(doc, content, "parts");
    struct lx_delta d;
    struct lx_str raw;
    int rc;

    if (lx_json_type(doc, c) != LX_JSON_OBJECT || ci >= GM_MAX_CHOICES)
        return LX_EPARSE;
    if (gs->finished[ci])
        return LX_OK; /* nothing comes after a candidate's finish */
    gs->seen[ci] = true;
    if (parts >= 0 && lx_json_type(doc, parts) != LX_JSON_ARRAY)
        return LX_EPARSE;
    for (int e = lx_json_first(doc, parts); e >= 0; e = lx_json_sibling(doc, parts, e)) {
        int fc = GM_GET(doc, e, "functionCall"), t = GM_GET(doc, e, "text");
        struct lx_str sig = gm_str(doc, GM_GET(doc, e, "thoughtSignature"), a);

        if (lx_json_type(doc, e) != LX_JSON_OBJECT)
            return LX_EPARSE;
        if (lx_json_type(doc, fc) == LX_JSON_OBJECT) {
            int args = GM_GET(doc, fc, "args");

            gm_delta(&d, LX_DELTA_TOOL_CALL, ci);
            d.name = gm_str(doc, GM_GET(doc, fc, "name"), a);
            if (d.name.len == 0)
                return LX_EPARSE;
            d.tool_index = (int)gs->n_calls[ci];
            d.id = gm_str(doc, GM_GET(doc, fc, "id"), a);
            if (d.id.len == 0)
                d.id = lx__gemini_call_id(a, seed, d.name, ci, gs->n_calls[ci]);
            if (d.id.ptr == NULL)
                return LX_ENOMEM;
            d.text = lx_json_type(doc, args) == LX_JSON_OBJECT ? lx_json_raw(doc, args)
                                                                : LX_STR("{}");
            d.signature = sig;
            gs->n_calls[ci]++;
            gs->has_calls[ci] = true;
        } else if (lx_json_type(doc, t) == LX_JSON_STRING) {
            bool thought = lx_json_type(doc, GM_GET(doc, e, "thought")) == LX_JSON_TRUE;

            gm_delta(&d, thought ? LX_DELTA_THINKING : LX_DELTA_TEXT, ci);
            d.text = gm_str(doc, t, a);
            if (d.text.len == 0 && sig.len == 0)
                continue; /* the empty text part that often carries the finishReason */
            if (thought && d.text.len > 0 && (rc = sink->emit(sink->ctx, &d)) != LX_OK)
                return rc;
            if (thought) {
                if (sig.len == 0)
                    continue;
                gm_delta(&d, LX_DELTA_THINKING_SIGNATURE, ci);
                d.text = sig;
            } else {
                d.signature = sig; /* a thoughtSignature on a text part (gemini.md) */
            }
        } else {
            continue; /* executableCode ...: not in the IR */
        }
        if ((rc = sink->emit(sink->ctx, &d)) != LX_OK)
            return rc;
    }
    raw = gm_str(doc, GM_GET(doc, c, "finishReason"), a);
    if (raw.len > 0) {
        gm_delta(&d, LX_DELTA_FINISH, ci);
        d.finish_raw = raw;
        d.finish = lx_gemini_finish(raw);
        if (gs->has_calls[ci] && d.finish == LX_FINISH_STOP)
            d.finish = LX_FINISH_TOOL_CALLS;
        gs->finished[ci] = true;
        *finished_here = true;
        if ((rc = sink->emit(sink->ctx, &d)) != LX_OK)
            return rc;
    }
    return LX_OK;
}

int lx_gemini_parse_event(struct lx_stream_state *st, const struct lx_stream_event *ev,
                          const struct lx_delta_sink *sink, struct lx_err *err)
{
    struct gm_stream *gs = st->priv;
    struct lx_json doc;
    struct lx_delta d;
    struct lx_str seed;
    int cands, pf, eobj, um, rc;
    bool finished_here = false, all_done = true;

    if (gs == NULL) {
        gs = lx_arena_zalloc(st->a, sizeof(*gs));
        if (gs == NULL)
            return gm_stream_fail(err, LX_ENOMEM);
        st->priv = gs;
    }
    if (st->done || st->failed)
        return LX_OK; /* Gemini sends nothing after the finishing chunk; ignore strays */
    if (lx_str_eq(lx_str_trim(ev->data), LX_STR("[DONE]")))
        return LX_OK; /* not Gemini's, but some proxies add it */
    lx_wire_json_init(&doc, st->scratch);
    if (lx_json_parse(&doc, ev->data.ptr, ev->data.len) != LX_OK ||
        lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        return gm_stream_fail(err, LX_EPARSE);
    eobj = GM_GET(&doc, 0, "error");
    if (lx_json_type(&doc, eobj) == LX_JSON_OBJECT) {
        struct lx_upstream_error *ue = lx_arena_zalloc(st->scratch, sizeof(*ue));

        if (ue == NULL)
            return gm_stream_fail(err, LX_ENOMEM);
        gm_classify(&doc, eobj, 0, st->scratch,
                    st->call != NULL ? st->call->key : LX_STR_NULL, ue);
        gm_delta(&d, LX_DELTA_ERROR, 0);
        d.error = ue;
        st->failed = true;
        return sink->emit(sink->ctx, &d);
    }
    cands = GM_GET(&doc, 0, "candidates");
    pf = GM_GET(&doc, 0, "promptFeedback");
    um = GM_GET(&doc, 0, "usageMetadata");
    if (cands >= 0 && lx_json_type(&doc, cands) != LX_JSON_ARRAY)
        return gm_stream_fail(err, LX_EPARSE);
    if (cands < 0 && pf < 0 && um < 0)
        return gm_stream_fail(err, LX_EPARSE);
    seed = lx_json_str_raw(&doc, GM_GET(&doc, 0, "responseId"));
    if (!gs->started) {
        gm_delta(&d, LX_DELTA_START, 0);
        d.id = gm_str(&doc, GM_GET(&doc, 0, "responseId"), st->scratch);
        d.name = gm_str(&doc, GM_GET(&doc, 0, "modelVersion"), st->scratch);
        gs->started = true;
        if ((rc = sink->emit(sink->ctx, &d)) != LX_OK)
            return rc;
    }
    if (cands >= 0) {
        unsigned pos = 0;

        for (int c = lx_json_first(&doc, cands); c >= 0; c = lx_json_sibling(&doc, cands, c)) {
            rc = gm_stream_candidate(st, gs, &doc, c, pos++, seed, sink, &finished_here);
            if (rc == LX_EPARSE || rc == LX_ENOMEM)
                return gm_stream_fail(err, rc);
            if (rc != LX_OK)
                return rc;
        }
    }
    if ((cands < 0 || lx_json_count(&doc, cands) == 0) &&
        lx_json_type(&doc, GM_GET(&doc, pf, "blockReason")) == LX_JSON_STRING) {
        gm_delta(&d, LX_DELTA_FINISH, 0);
        d.finish = LX_FINISH_CONTENT_FILTER;
        d.finish_raw = gm_str(&doc, GM_GET(&doc, pf, "blockReason"), st->scratch);
        gs->seen[0] = gs->finished[0] = true;
        finished_here = true;
        if ((rc = sink->emit(sink->ctx, &d)) != LX_OK)
            return rc;
    }
    if (lx_json_type(&doc, um) == LX_JSON_OBJECT) {
        gm_delta(&d, LX_DELTA_USAGE, 0);
        gm_usage(&doc, um, &d.usage);
        if ((rc = sink->emit(sink->ctx, &d)) != LX_OK)
            return rc;
    }
    for (unsigned i = 0; i < GM_MAX_CHOICES; i++)
        if (gs->seen[i] && !gs->finished[i])
            all_done = false;
    if (finished_here && all_done) {
        /* Gemini has no terminal event: the chunk with finishReason is the last one */
        st->done = true;
        gm_delta(&d, LX_DELTA_DONE, 0);
        return sink->emit(sink->ctx, &d);
    }
    return LX_OK;
}

/* ---- embeddings ------------------------------------------------------------------------- */

int lx_gemini_parse_embeddings(const struct lx_provider_call *call, struct lx_str body,
                               struct lx_arena *a, struct lx_embed_resp *out, struct lx_err *err)
{
    struct lx_json doc;
    int embs;

    (void)call;
    memset(out, 0, sizeof(*out));
    out->usage = (struct lx_usage)LX_USAGE_INIT;
    lx_wire_json_init(&doc, a);
    if (lx_json_parse(&doc, body.ptr, body.len) != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        return gm_parse_fail(err, LX_EPARSE, "JSON object");
    embs = GM_GET(&doc, 0, "embeddings");
    if (lx_json_type(&doc, embs) != LX_JSON_ARRAY)
        return gm_parse_fail(err, LX_EPARSE, "batchEmbedContents answer");
    out->vectors = lx_arena_zalloc(a, (lx_json_count(&doc, embs) + 1) * sizeof(*out->vectors));
    if (out->vectors == NULL)
        return gm_parse_fail(err, LX_ENOMEM, "");
    for (int e = lx_json_first(&doc, embs); e >= 0; e = lx_json_sibling(&doc, embs, e)) {
        int v = GM_GET(&doc, e, "values");

        if (lx_json_type(&doc, v) != LX_JSON_ARRAY)
            return gm_parse_fail(err, LX_EPARSE, "batchEmbedContents answer (no values)");
        for (int x = lx_json_first(&doc, v); x >= 0; x = lx_json_sibling(&doc, v, x))
            if (lx_json_type(&doc, x) != LX_JSON_NUMBER)
                return gm_parse_fail(err, LX_EPARSE, "batchEmbedContents answer (bad value)");
        out->vectors[out->n_vectors++] = lx_json_raw(&doc, v);
    }
    return LX_OK;
}

const struct lx_provider_ops lx_provider_gemini = {
    .name = "gemini",
    .caps = LX_CAP_STREAM | LX_CAP_TOOLS | LX_CAP_VISION | LX_CAP_EMBEDDINGS |
            LX_CAP_COUNT_TOKENS,
    .framing = LX_FRAMING_SSE,
    .build_request = gm_build_request,
    .parse_response = lx_gemini_parse_response,
    .parse_event = lx_gemini_parse_event,
    .map_error = lx_gemini_map_error,
    .build_embeddings = gm_build_embeddings,
    .parse_embeddings = lx_gemini_parse_embeddings,
};
