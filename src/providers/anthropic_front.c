/* anthropic_front.c - the front door for Anthropic clients (lx_frontdoor_anthropic): a
 * POST /v1/messages body from @anthropic-ai/sdk or Claude Code -> IR, and the IR answer, stream
 * deltas and errors -> Anthropic's Message object, its exact SSE event sequence and its error
 * shape, whatever provider answered. Owned by the Anthropic adapter.
 *
 * Pure translator (STYLE.md 3.6): no I/O, no globals, no clock (created comes in the call);
 * decode allocates in the arena given; encoders append to the caller's lx_buf (tool-call
 * arguments are checked with a temporary lx_json freed at once). Per-stream state lives in
 * st->a. Any thread, one owner per stream. Mapping tables: docs/internals/anthropic.md. */
#include "providers/anthropic.h"

#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/str.h"
#include "providers/wire.h"
#include "sse/writer.h"
#include "json/json.h"
#include "json/writer.h"

#define FKEY(w, lit) lx_json_write_key((w), LX_STR(lit))
#define FD_MAX_ID 96 /* bytes of a provider id kept in "msg_…" */

/* ---- decode_request --------------------------------------------------------------------- */

static int fd_str(const struct lx_json *doc, int t, struct lx_arena *a, struct lx_str *out)
{
    if (lx_json_type(doc, t) != LX_JSON_STRING)
        return LX_EINVAL;
    return lx_json_str(doc, t, a, out) == LX_OK ? LX_OK : LX_ENOMEM;
}

static bool fd_has_cache(const struct lx_json *doc, int obj)
{
    int c = lx_json_get(doc, obj, LX_STR("cache_control"));

    return lx_json_type(doc, c) == LX_JSON_OBJECT;
}

/* A path for error messages: "messages.2.content.0". */
struct fd_path {
    char s[96];
};

static const char *fd_path(struct fd_path *p, size_t m, long b, long sub)
{
    if (sub >= 0)
        snprintf(p->s, sizeof(p->s), "messages.%zu.content.%ld.content.%ld", m, b, sub);
    else if (b >= 0)
        snprintf(p->s, sizeof(p->s), "messages.%zu.content.%ld", m, b);
    else
        snprintf(p->s, sizeof(p->s), "messages.%zu", m);
    return p->s;
}

static int fd_fail(struct lx_err *err, int rc, const char *where, const char *what)
{
    if (rc == LX_ENOMEM) {
        lx_err_set(err, LX_ENOMEM, 503, "out of memory decoding the request");
        return LX_ENOMEM;
    }
    lx_err_set(err, LX_EINVAL, 400, "%s: %s", where, what);
    return LX_EINVAL;
}

/* source {type base64|url|text} of an image or document. */
static int fd_source(const struct lx_json *doc, int blk, struct lx_arena *a, struct lx_part *p,
                     const char *where, struct lx_err *err)
{
    int src = lx_json_get(doc, blk, LX_STR("source"));
    int st = lx_json_get(doc, src, LX_STR("type"));
    int rc;

    if (lx_json_type(doc, src) != LX_JSON_OBJECT || lx_json_type(doc, st) != LX_JSON_STRING)
        return fd_fail(err, LX_EINVAL, where, "source: Field required");
    if (lx_json_str_eq(doc, st, LX_STR("base64"))) {
        rc = fd_str(doc, lx_json_get(doc, src, LX_STR("media_type")), a, &p->media_type);
        if (rc == LX_OK)
            rc = fd_str(doc, lx_json_get(doc, src, LX_STR("data")), a, &p->data);
        if (rc != LX_OK)
            return fd_fail(err, rc, where, "source: media_type and data are required");
        return LX_OK;
    }
    if (lx_json_str_eq(doc, st, LX_STR("url"))) {
        rc = fd_str(doc, lx_json_get(doc, src, LX_STR("url")), a, &p->url);
        if (rc != LX_OK)
            return fd_fail(err, rc, where, "source.url: Field required");
        return LX_OK;
    }
    if (lx_json_str_eq(doc, st, LX_STR("text")) && p->type == LX_PART_FILE) {
        /* a plain-text document is text to every other provider */
        rc = fd_str(doc, lx_json_get(doc, src, LX_STR("data")), a, &p->text);
        if (rc != LX_OK)
            return fd_fail(err, rc, where, "source.data: Field required");
        p->type = LX_PART_TEXT;
        return LX_OK;
    }
    return fd_fail(err, LX_EINVAL, where,
                   "this source type is not supported by this gateway (use base64 or url)");
}

static int fd_block(const struct lx_json *doc, int b, struct lx_arena *a, struct lx_part *p,
                    bool nested, const char *where, struct lx_err *err);

static int fd_tool_result(const struct lx_json *doc, int b, struct lx_arena *a, struct lx_part *p,
                          const char *where, struct lx_err *err)
{
    int c = lx_json_get(doc, b, LX_STR("content"));
    int ie = lx_json_get(doc, b, LX_STR("is_error"));
    int rc = fd_str(doc, lx_json_get(doc, b, LX_STR("tool_use_id")), a, &p->id);

    if (rc != LX_OK)
        return fd_fail(err, rc, where, "tool_use_id: Field required");
    if (ie >= 0 && lx_json_type(doc, ie) != LX_JSON_NULL &&
        lx_json_bool(doc, ie, &p->is_error) != LX_OK)
        return fd_fail(err, LX_EINVAL, where, "is_error: Input should be a valid boolean");
    if (lx_json_type(doc, c) == LX_JSON_STRING) {
        rc = fd_str(doc, c, a, &p->text);
        return rc == LX_OK ? LX_OK : fd_fail(err, rc, where, "content");
    }
    if (lx_json_type(doc, c) == LX_JSON_ARRAY) {
        size_t n = lx_json_count(doc, c), k = 0;

        p->sub = n ? lx_arena_zalloc(a, n * sizeof(*p->sub)) : NULL;
        if (n && p->sub == NULL)
            return fd_fail(err, LX_ENOMEM, where, "");
        for (int e = lx_json_first(doc, c); e >= 0; e = lx_json_sibling(doc, c, e)) {
            rc = fd_block(doc, e, a, &p->sub[k], true, where, err);
            if (rc != LX_OK)
                return rc;
            k++;
        }
        p->n_sub = k;
        /* one text block is plain text to the providers that take only a string */
        if (k == 1 && p->sub[0].type == LX_PART_TEXT && !p->sub[0].cache) {
            p->text = p->sub[0].text;
            p->sub = NULL;
            p->n_sub = 0;
        }
        return LX_OK;
    }
    if (c >= 0 && lx_json_type(doc, c) != LX_JSON_NULL)
        return fd_fail(err, LX_EINVAL, where, "content: Input should be a valid string or list");
    return LX_OK;
}

/* One content block -> one IR part. nested: inside a tool_result (text, image, document). */
static int fd_block(const struct lx_json *doc, int b, struct lx_arena *a, struct lx_part *p,
                    bool nested, const char *where, struct lx_err *err)
{
    int t = lx_json_get(doc, b, LX_STR("type"));
    int rc;

    memset(p, 0, sizeof(*p));
    if (lx_json_type(doc, b) != LX_JSON_OBJECT || lx_json_type(doc, t) != LX_JSON_STRING)
        return fd_fail(err, LX_EINVAL, where, "type: Field required");
    p->cache = fd_has_cache(doc, b);
    if (lx_json_str_eq(doc, t, LX_STR("text"))) {
        p->type = LX_PART_TEXT;
        rc = fd_str(doc, lx_json_get(doc, b, LX_STR("text")), a, &p->text);
        return rc == LX_OK ? LX_OK : fd_fail(err, rc, where, "text: Field required");
    }
    if (lx_json_str_eq(doc, t, LX_STR("image"))) {
        p->type = LX_PART_IMAGE;
        return fd_source(doc, b, a, p, where, err);
    }
    if (lx_json_str_eq(doc, t, LX_STR("document"))) {
        int title = lx_json_get(doc, b, LX_STR("title"));

        p->type = LX_PART_FILE;
        if (lx_json_type(doc, title) == LX_JSON_STRING && fd_str(doc, title, a, &p->name) != LX_OK)
            return fd_fail(err, LX_ENOMEM, where, "");
        rc = fd_source(doc, b, a, p, where, err);
        if (rc == LX_OK && p->type == LX_PART_FILE && p->media_type.len == 0 && p->url.len > 0)
            p->media_type = LX_STR("application/pdf");
        return rc;
    }
    if (nested)
        return fd_fail(err, LX_EINVAL, where,
                       "a tool_result's content holds text, image and document blocks only");
    if (lx_json_str_eq(doc, t, LX_STR("tool_use"))) {
        int in = lx_json_get(doc, b, LX_STR("input"));

        p->type = LX_PART_TOOL_CALL;
        rc = fd_str(doc, lx_json_get(doc, b, LX_STR("id")), a, &p->id);
        if (rc == LX_OK)
            rc = fd_str(doc, lx_json_get(doc, b, LX_STR("name")), a, &p->name);
        if (rc != LX_OK)
            return fd_fail(err, rc, where, "tool_use: id and name are required");
        if (lx_json_type(doc, in) != LX_JSON_OBJECT)
            return fd_fail(err, LX_EINVAL, where, "input: Input should be a valid dictionary");
        p->args = lx_json_raw(doc, in);
        return LX_OK;
    }
    if (lx_json_str_eq(doc, t, LX_STR("tool_result"))) {
        p->type = LX_PART_TOOL_RESULT;
        return fd_tool_result(doc, b, a, p, where, err);
    }
    if (lx_json_str_eq(doc, t, LX_STR("thinking"))) {
        p->type = LX_PART_THINKING;
        rc = fd_str(doc, lx_json_get(doc, b, LX_STR("thinking")), a, &p->text);
        if (rc == LX_OK)
            rc = fd_str(doc, lx_json_get(doc, b, LX_STR("signature")), a, &p->signature);
        return rc == LX_OK
                   ? LX_OK
                   : fd_fail(err, rc, where, "thinking: thinking and signature are required");
    }
    if (lx_json_str_eq(doc, t, LX_STR("redacted_thinking"))) {
        p->type = LX_PART_REDACTED_THINKING;
        rc = fd_str(doc, lx_json_get(doc, b, LX_STR("data")), a, &p->data);
        return rc == LX_OK ? LX_OK : fd_fail(err, rc, where, "data: Field required");
    }
    {
        char what[128];
        struct lx_str tn = lx_json_str_raw(doc, t);

        snprintf(what, sizeof(what), "content block type '%.*s' is not supported by this gateway",
                 (int)LX_MIN(tn.len, (size_t)48), tn.ptr);
        return fd_fail(err, LX_EINVAL, where, what);
    }
}

static struct lx_msg *fd_new_msg(struct lx_chat_req *r, size_t cap, enum lx_role role)
{
    struct lx_msg *m;

    if (r->n_msgs >= cap)
        return NULL;
    m = &r->msgs[r->n_msgs++];
    memset(m, 0, sizeof(*m));
    m->role = role;
    return m;
}

static int fd_system(const struct lx_json *doc, int sys, struct lx_arena *a, struct lx_chat_req *r,
                     size_t cap, struct lx_err *err)
{
    struct lx_msg *m;
    size_t n;

    if (lx_json_type(doc, sys) == LX_JSON_STRING) {
        struct lx_str s;

        if (fd_str(doc, sys, a, &s) != LX_OK)
            return fd_fail(err, LX_ENOMEM, "system", "");
        if (s.len == 0)
            return LX_OK;
        m = fd_new_msg(r, cap, LX_ROLE_SYSTEM);
        m->parts = lx_arena_zalloc(a, sizeof(*m->parts));
        if (m->parts == NULL)
            return fd_fail(err, LX_ENOMEM, "system", "");
        m->parts[0].type = LX_PART_TEXT;
        m->parts[0].text = s;
        m->n_parts = 1;
        return LX_OK;
    }
    if (lx_json_type(doc, sys) != LX_JSON_ARRAY)
        return fd_fail(err, LX_EINVAL, "system", "Input should be a valid string or list");
    n = lx_json_count(doc, sys);
    if (n == 0)
        return LX_OK;
    m = fd_new_msg(r, cap, LX_ROLE_SYSTEM);
    m->parts = lx_arena_zalloc(a, n * sizeof(*m->parts));
    if (m->parts == NULL)
        return fd_fail(err, LX_ENOMEM, "system", "");
    for (int b = lx_json_first(doc, sys); b >= 0; b = lx_json_sibling(doc, sys, b)) {
        struct lx_part *p = &m->parts[m->n_parts];
        int rc = fd_block(doc, b, a, p, true, "system", err);

        if (rc != LX_OK)
            return rc;
        if (p->type != LX_PART_TEXT)
            return fd_fail(err, LX_EINVAL, "system", "system blocks must be text");
        m->n_parts++;
    }
    return LX_OK;
}

/* One Anthropic message -> IR messages: an assistant turn is one message; in a user turn each
 * tool_result becomes its own TOOL message (the IR's shape, OpenAI's role "tool") and the
 * other blocks around them user messages, in order. */
static int fd_message(const struct lx_json *doc, int mo, size_t mi, struct lx_arena *a,
                      struct lx_chat_req *r, size_t cap, struct lx_err *err)
{
    int role = lx_json_get(doc, mo, LX_STR("role"));
    int c = lx_json_get(doc, mo, LX_STR("content"));
    struct fd_path path;
    struct lx_msg *cur = NULL;
    bool asst;
    long bi = 0;

    if (lx_json_type(doc, mo) != LX_JSON_OBJECT)
        return fd_fail(err, LX_EINVAL, fd_path(&path, mi, -1, -1),
                       "Input should be a valid dictionary");
    if (lx_json_str_eq(doc, role, LX_STR("assistant")))
        asst = true;
    else if (lx_json_str_eq(doc, role, LX_STR("user")))
        asst = false;
    else
        return fd_fail(err, LX_EINVAL, fd_path(&path, mi, -1, -1),
                       "role: Input should be 'user' or 'assistant'");
    if (lx_json_type(doc, c) == LX_JSON_STRING) {
        cur = fd_new_msg(r, cap, asst ? LX_ROLE_ASSISTANT : LX_ROLE_USER);
        cur->parts = lx_arena_zalloc(a, sizeof(*cur->parts));
        if (cur->parts == NULL || fd_str(doc, c, a, &cur->parts[0].text) != LX_OK)
            return fd_fail(err, LX_ENOMEM, "messages", "");
        cur->parts[0].type = LX_PART_TEXT;
        cur->n_parts = 1;
        return LX_OK;
    }
    if (lx_json_type(doc, c) != LX_JSON_ARRAY)
        return fd_fail(err, LX_EINVAL, fd_path(&path, mi, -1, -1),
                       "content: Input should be a valid string or list");
    if (lx_json_count(doc, c) == 0) {
        (void)fd_new_msg(r, cap, asst ? LX_ROLE_ASSISTANT : LX_ROLE_USER);
        return LX_OK;
    }
    for (int b = lx_json_first(doc, c); b >= 0; b = lx_json_sibling(doc, c, b), bi++) {
        struct lx_part part;
        int rc = fd_block(doc, b, a, &part, false, fd_path(&path, mi, bi, -1), err);

        if (rc != LX_OK)
            return rc;
        if (!asst && part.type == LX_PART_TOOL_RESULT) {
            struct lx_msg *t = fd_new_msg(r, cap, LX_ROLE_TOOL);

            t->parts = lx_arena_alloc(a, sizeof(*t->parts));
            if (t->parts == NULL)
                return fd_fail(err, LX_ENOMEM, "messages", "");
            t->parts[0] = part;
            t->n_parts = 1;
            cur = NULL;
            continue;
        }
        if (asst && part.type == LX_PART_TOOL_RESULT)
            return fd_fail(err, LX_EINVAL, path.s, "tool_result blocks belong in user messages");
        if (!asst && (part.type == LX_PART_TOOL_CALL || part.type == LX_PART_THINKING ||
                      part.type == LX_PART_REDACTED_THINKING))
            return fd_fail(err, LX_EINVAL, path.s,
                           "tool_use and thinking blocks belong in assistant messages");
        if (cur == NULL) {
            cur = fd_new_msg(r, cap, asst ? LX_ROLE_ASSISTANT : LX_ROLE_USER);
            /* room for every block of this message: the arena keeps what is unused */
            cur->parts = lx_arena_zalloc(a, lx_json_count(doc, c) * sizeof(*cur->parts));
            if (cur->parts == NULL)
                return fd_fail(err, LX_ENOMEM, "messages", "");
        }
        cur->parts[cur->n_parts++] = part;
    }
    return LX_OK;
}

static int fd_tools(const struct lx_json *doc, int tl, struct lx_arena *a, struct lx_chat_req *r,
                    struct lx_err *err)
{
    size_t n, i = 0;
    char where[32];
    int rc;

    if (lx_json_type(doc, tl) != LX_JSON_ARRAY)
        return fd_fail(err, LX_EINVAL, "tools", "Input should be a valid list");
    n = lx_json_count(doc, tl);
    if (n == 0)
        return LX_OK;
    r->tools = lx_arena_zalloc(a, n * sizeof(*r->tools));
    if (r->tools == NULL)
        return fd_fail(err, LX_ENOMEM, "tools", "");
    for (int t = lx_json_first(doc, tl); t >= 0; t = lx_json_sibling(doc, tl, t), i++) {
        struct lx_tool *tool = &r->tools[i];
        int ty = lx_json_get(doc, t, LX_STR("type"));
        int desc = lx_json_get(doc, t, LX_STR("description"));
        int sch = lx_json_get(doc, t, LX_STR("input_schema"));

        snprintf(where, sizeof(where), "tools.%zu", i);
        if (lx_json_type(doc, t) != LX_JSON_OBJECT)
            return fd_fail(err, LX_EINVAL, where, "Input should be a valid dictionary");
        if (ty >= 0 && lx_json_type(doc, ty) != LX_JSON_NULL &&
            !lx_json_str_eq(doc, ty, LX_STR("custom"))) {
            char what[128];
            struct lx_str tn = lx_json_str_raw(doc, ty);

            snprintf(what, sizeof(what),
                     "tool type '%.*s' is not supported by this gateway (only custom tools)",
                     (int)LX_MIN(tn.len, (size_t)48), tn.ptr ? tn.ptr : "");
            return fd_fail(err, LX_EINVAL, where, what);
        }
        rc = fd_str(doc, lx_json_get(doc, t, LX_STR("name")), a, &tool->name);
        if (rc != LX_OK)
            return fd_fail(err, rc, where, "name: Field required");
        if (lx_json_type(doc, desc) == LX_JSON_STRING &&
            fd_str(doc, desc, a, &tool->description) != LX_OK)
            return fd_fail(err, LX_ENOMEM, where, "");
        if (lx_json_type(doc, sch) != LX_JSON_OBJECT)
            return fd_fail(err, LX_EINVAL, where, "input_schema: Field required");
        tool->parameters = lx_json_raw(doc, sch);
        tool->cache = fd_has_cache(doc, t);
    }
    r->n_tools = i;
    return LX_OK;
}

static int fd_tool_choice(const struct lx_json *doc, int tc, struct lx_arena *a,
                          struct lx_chat_req *r, struct lx_err *err)
{
    int ty = lx_json_get(doc, tc, LX_STR("type"));
    int dp = lx_json_get(doc, tc, LX_STR("disable_parallel_tool_use"));
    bool disable;

    if (lx_json_type(doc, tc) != LX_JSON_OBJECT || lx_json_type(doc, ty) != LX_JSON_STRING)
        return fd_fail(err, LX_EINVAL, "tool_choice", "type: Field required");
    if (lx_json_str_eq(doc, ty, LX_STR("auto"))) {
        r->tool_choice = LX_TOOL_CHOICE_AUTO;
    } else if (lx_json_str_eq(doc, ty, LX_STR("any"))) {
        r->tool_choice = LX_TOOL_CHOICE_REQUIRED;
    } else if (lx_json_str_eq(doc, ty, LX_STR("none"))) {
        r->tool_choice = LX_TOOL_CHOICE_NONE;
    } else if (lx_json_str_eq(doc, ty, LX_STR("tool"))) {
        int rc = fd_str(doc, lx_json_get(doc, tc, LX_STR("name")), a, &r->tool_choice_name);

        r->tool_choice = LX_TOOL_CHOICE_NAMED;
        if (rc != LX_OK)
            return fd_fail(err, rc, "tool_choice", "name: Field required");
    } else {
        return fd_fail(err, LX_EINVAL, "tool_choice.type",
                       "Input should be 'auto', 'any', 'tool' or 'none'");
    }
    if (dp >= 0 && lx_json_type(doc, dp) != LX_JSON_NULL) {
        if (lx_json_bool(doc, dp, &disable) != LX_OK)
            return fd_fail(err, LX_EINVAL, "tool_choice.disable_parallel_tool_use",
                           "Input should be a valid boolean");
        r->parallel_tool_calls = disable ? 0 : 1;
    }
    return LX_OK;
}

static int fd_num(const struct lx_json *doc, int t, struct lx_num *out, const char *name,
                  struct lx_err *err)
{
    if (lx_json_type(doc, t) == LX_JSON_NULL)
        return LX_OK;
    if (lx_json_type(doc, t) != LX_JSON_NUMBER || lx_json_double(doc, t, &out->v) != LX_OK)
        return fd_fail(err, LX_EINVAL, name, "Input should be a valid number");
    out->raw = lx_json_raw(doc, t);
    return LX_OK;
}

static int fd_thinking(const struct lx_json *doc, int th, struct lx_chat_req *r, struct lx_err *err)
{
    int ty = lx_json_get(doc, th, LX_STR("type"));
    int bt = lx_json_get(doc, th, LX_STR("budget_tokens"));

    if (lx_json_type(doc, th) == LX_JSON_NULL)
        return LX_OK;
    if (lx_json_type(doc, th) != LX_JSON_OBJECT || lx_json_type(doc, ty) != LX_JSON_STRING)
        return fd_fail(err, LX_EINVAL, "thinking", "type: Field required");
    if (lx_json_str_eq(doc, ty, LX_STR("disabled"))) {
        r->thinking = LX_THINKING_DISABLED;
        return LX_OK;
    }
    if (!lx_json_str_eq(doc, ty, LX_STR("enabled")) && !lx_json_str_eq(doc, ty, LX_STR("adaptive")))
        return fd_fail(err, LX_EINVAL, "thinking.type", "Input should be 'enabled' or 'disabled'");
    r->thinking = LX_THINKING_ENABLED;
    r->include_thoughts = true;
    if (bt >= 0 && (lx_json_int64(doc, bt, &r->thinking_budget) != LX_OK || r->thinking_budget < 1))
        return fd_fail(err, LX_EINVAL, "thinking.budget_tokens", "Input should be a valid integer");
    if (lx_json_str_eq(doc, ty, LX_STR("enabled")) && bt < 0)
        return fd_fail(err, LX_EINVAL, "thinking.enabled.budget_tokens", "Field required");
    return LX_OK;
}

/* output_config {format {type json_schema, schema}, effort}: structured outputs and effort. */
static int fd_output_config(const struct lx_json *doc, int oc, struct lx_chat_req *r,
                            struct lx_err *err)
{
    int f = lx_json_get(doc, oc, LX_STR("format"));
    int e = lx_json_get(doc, oc, LX_STR("effort"));

    if (lx_json_type(doc, oc) != LX_JSON_OBJECT)
        return fd_fail(err, LX_EINVAL, "output_config", "Input should be a valid dictionary");
    if (lx_json_type(doc, f) == LX_JSON_OBJECT &&
        lx_json_str_eq(doc, lx_json_get(doc, f, LX_STR("type")), LX_STR("json_schema"))) {
        int s = lx_json_get(doc, f, LX_STR("schema"));

        if (lx_json_type(doc, s) != LX_JSON_OBJECT)
            return fd_fail(err, LX_EINVAL, "output_config.format", "schema: Field required");
        r->response_format = LX_RF_JSON_SCHEMA;
        r->schema = lx_json_raw(doc, s);
        r->schema_name = LX_STR("response");
        r->schema_strict = true;
    }
    if (lx_json_str_eq(doc, e, LX_STR("low")))
        r->effort = LX_EFFORT_LOW;
    else if (lx_json_str_eq(doc, e, LX_STR("medium")))
        r->effort = LX_EFFORT_MEDIUM;
    else if (lx_json_str_eq(doc, e, LX_STR("high")) || lx_json_str_eq(doc, e, LX_STR("max")))
        r->effort = LX_EFFORT_HIGH;
    return LX_OK;
}

static int fd_stop(const struct lx_json *doc, int ss, struct lx_arena *a, struct lx_chat_req *r,
                   struct lx_err *err)
{
    size_t n;

    if (lx_json_type(doc, ss) == LX_JSON_NULL)
        return LX_OK;
    if (lx_json_type(doc, ss) != LX_JSON_ARRAY)
        return fd_fail(err, LX_EINVAL, "stop_sequences", "Input should be a valid list");
    n = lx_json_count(doc, ss);
    r->stop = n ? lx_arena_zalloc(a, n * sizeof(*r->stop)) : NULL;
    if (n && r->stop == NULL)
        return fd_fail(err, LX_ENOMEM, "stop_sequences", "");
    for (int e = lx_json_first(doc, ss); e >= 0; e = lx_json_sibling(doc, ss, e)) {
        int rc = fd_str(doc, e, a, &r->stop[r->n_stop]);

        if (rc != LX_OK)
            return fd_fail(err, rc, "stop_sequences", "Input should be a list of strings");
        r->n_stop++;
    }
    return LX_OK;
}

static int fd_decode(struct lx_str body, struct lx_arena *a, struct lx_chat_req *r,
                     struct lx_err *err)
{
    struct lx_json doc;
    int model = -1, mt = -1, msgs = -1, sys = -1, rc;
    size_t cap = 1, n_keys, mi = 0;

    lx_chat_req_init(r);
    r->source = LX_SRC_ANTHROPIC;
    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    rc = lx_json_parse(&doc, body.ptr, body.len);
    if (rc == LX_ENOMEM)
        return fd_fail(err, rc, "body", "");
    if (rc != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT) {
        lx_err_set(err, LX_EINVAL, 400,
                   rc == LX_EDUPKEY ? "The request body has a duplicate key"
                                    : "The request body is not a JSON object");
        return LX_EINVAL;
    }
    n_keys = lx_json_count(&doc, 0);
    r->extra = n_keys ? lx_arena_zalloc(a, n_keys * sizeof(*r->extra)) : NULL;
    if (n_keys && r->extra == NULL)
        return fd_fail(err, LX_ENOMEM, "body", "");
    for (int k = lx_json_first(&doc, 0); k >= 0; k = lx_json_sibling(&doc, 0, k)) {
        int v = k + 1;
        struct lx_str key;

        if (lx_json_str(&doc, k, a, &key) != LX_OK)
            return fd_fail(err, LX_ENOMEM, "body", "");
        rc = LX_OK;
        if (lx_str_eq(key, LX_STR("model"))) {
            model = v;
        } else if (lx_str_eq(key, LX_STR("max_tokens"))) {
            mt = v;
        } else if (lx_str_eq(key, LX_STR("messages"))) {
            msgs = v;
        } else if (lx_str_eq(key, LX_STR("system"))) {
            sys = v;
        } else if (lx_str_eq(key, LX_STR("tools"))) {
            rc = fd_tools(&doc, v, a, r, err);
        } else if (lx_str_eq(key, LX_STR("tool_choice"))) {
            if (lx_json_type(&doc, v) != LX_JSON_NULL)
                rc = fd_tool_choice(&doc, v, a, r, err);
        } else if (lx_str_eq(key, LX_STR("temperature"))) {
            rc = fd_num(&doc, v, &r->temperature, "temperature", err);
        } else if (lx_str_eq(key, LX_STR("top_p"))) {
            rc = fd_num(&doc, v, &r->top_p, "top_p", err);
        } else if (lx_str_eq(key, LX_STR("top_k"))) {
            if (lx_json_type(&doc, v) != LX_JSON_NULL &&
                (lx_json_int64(&doc, v, &r->top_k) != LX_OK || r->top_k < 0))
                rc = fd_fail(err, LX_EINVAL, "top_k", "Input should be a valid integer");
        } else if (lx_str_eq(key, LX_STR("stop_sequences"))) {
            rc = fd_stop(&doc, v, a, r, err);
        } else if (lx_str_eq(key, LX_STR("stream"))) {
            if (lx_json_type(&doc, v) != LX_JSON_NULL && lx_json_bool(&doc, v, &r->stream) != LX_OK)
                rc = fd_fail(err, LX_EINVAL, "stream", "Input should be a valid boolean");
        } else if (lx_str_eq(key, LX_STR("metadata"))) {
            int uid = lx_json_get(&doc, v, LX_STR("user_id"));

            if (lx_json_type(&doc, v) == LX_JSON_OBJECT) {
                r->metadata = lx_json_raw(&doc, v);
                if (lx_json_type(&doc, uid) == LX_JSON_STRING)
                    rc = fd_str(&doc, uid, a, &r->user);
            } else if (lx_json_type(&doc, v) != LX_JSON_NULL) {
                rc = fd_fail(err, LX_EINVAL, "metadata", "Input should be a valid dictionary");
            }
        } else if (lx_str_eq(key, LX_STR("thinking"))) {
            rc = fd_thinking(&doc, v, r, err);
        } else if (lx_str_eq(key, LX_STR("output_config"))) {
            rc = fd_output_config(&doc, v, r, err);
        } else {
            r->extra[r->n_extra].key = key;
            r->extra[r->n_extra].value = lx_json_raw(&doc, v);
            r->n_extra++;
        }
        if (rc != LX_OK)
            return rc == LX_ENOMEM ? fd_fail(err, rc, "body", "") : rc;
    }
    if (model < 0 || lx_json_type(&doc, model) != LX_JSON_STRING)
        return fd_fail(err, LX_EINVAL, "model",
                       model < 0 ? "Field required" : "Input should be a valid string");
    if (fd_str(&doc, model, a, &r->model) != LX_OK)
        return fd_fail(err, LX_ENOMEM, "model", "");
    if (mt < 0)
        return fd_fail(err, LX_EINVAL, "max_tokens", "Field required");
    if (lx_json_int64(&doc, mt, &r->max_tokens) != LX_OK)
        return fd_fail(err, LX_EINVAL, "max_tokens", "Input should be a valid integer");
    if (r->max_tokens < 1)
        return fd_fail(err, LX_EINVAL, "max_tokens", "Input should be greater than or equal to 1");
    if (msgs < 0)
        return fd_fail(err, LX_EINVAL, "messages", "Field required");
    if (lx_json_type(&doc, msgs) != LX_JSON_ARRAY)
        return fd_fail(err, LX_EINVAL, "messages", "Input should be a valid list");
    /* capacity: the system message, and per message one IR message per block at most */
    for (int m = lx_json_first(&doc, msgs); m >= 0; m = lx_json_sibling(&doc, msgs, m)) {
        int c = lx_json_get(&doc, m, LX_STR("content"));

        cap += 1 + (lx_json_type(&doc, c) == LX_JSON_ARRAY ? lx_json_count(&doc, c) : 0);
    }
    r->msgs = lx_arena_zalloc(a, cap * sizeof(*r->msgs));
    if (r->msgs == NULL)
        return fd_fail(err, LX_ENOMEM, "messages", "");
    if (sys >= 0 && lx_json_type(&doc, sys) != LX_JSON_NULL) {
        rc = fd_system(&doc, sys, a, r, cap, err);
        if (rc != LX_OK)
            return rc;
    }
    for (int m = lx_json_first(&doc, msgs); m >= 0; m = lx_json_sibling(&doc, msgs, m), mi++) {
        rc = fd_message(&doc, m, mi, a, r, cap, err);
        if (rc != LX_OK)
            return rc;
    }
    /* the function a tool result answers, for providers that want its name (Gemini) */
    for (size_t i = 0; i < r->n_msgs; i++)
        for (size_t k = 0; k < r->msgs[i].n_parts; k++) {
            struct lx_part *p = &r->msgs[i].parts[k];

            if (p->type == LX_PART_TOOL_RESULT && p->name.len == 0)
                p->name = lx_chat_req_tool_name(r, i, p->id);
        }
    if (mi == 0)
        return fd_fail(err, LX_EINVAL, "messages", "at least one message is required");
    return LX_OK;
}

/* ---- shared by the encoders ------------------------------------------------------------- */

/* "msg_" + id when it does not start so (unsafe characters dropped), or "msg_<created>". */
static size_t fd_msg_id(struct lx_str id, int64_t created, char *out, size_t cap)
{
    size_t n = 0;

    if (lx_str_starts_with(id, LX_STR("msg_"))) {
        for (size_t i = 0; i < id.len && n + 1 < cap && n < FD_MAX_ID + 4; i++)
            out[n++] = id.ptr[i];
        out[n] = '\0';
        return n;
    }
    memcpy(out, "msg_", 4);
    n = 4;
    for (size_t i = 0; i < id.len && n + 1 < cap && n < FD_MAX_ID + 4; i++) {
        char c = id.ptr[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-')
            out[n++] = c;
    }
    if (n == 4) {
        int w = snprintf(out + 4, cap - 4, "llmux%lld", (long long)(created < 0 ? 0 : created));

        n += w > 0 && (size_t)w < cap - 4 ? (size_t)w : 0;
    }
    out[n] = '\0';
    return n;
}

static bool fd_anthropic_word(struct lx_str raw)
{
    static const char *const words[] = {"end_turn",
                                        "max_tokens",
                                        "stop_sequence",
                                        "tool_use",
                                        "pause_turn",
                                        "refusal",
                                        "model_context_window_exceeded"};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (lx_str_eq(raw, lx_str_cstr(words[i])))
            return true;
    return false;
}

static struct lx_str fd_stop_reason(enum lx_finish f, struct lx_str raw, struct lx_str seq,
                                    bool any_tool)
{
    if (fd_anthropic_word(raw))
        return raw;
    if ((f == LX_FINISH_STOP || f == LX_FINISH_UNSET) && any_tool)
        return LX_STR("tool_use");
    if (f == LX_FINISH_STOP && seq.len > 0)
        return LX_STR("stop_sequence");
    return lx_str_cstr(lx_finish_anthropic(f));
}

static int64_t fd_nn(int64_t v) { return v < 0 ? 0 : v; }

/* usage {input_tokens (without cache), cache_creation_input_tokens, cache_read_input_tokens,
 * output_tokens}. */
static void fd_usage(struct lx_json_writer *w, const struct lx_usage *u, bool with_input)
{
    int64_t in = fd_nn(u->input) - fd_nn(u->cache_read) - fd_nn(u->cache_write);

    FKEY(w, "usage");
    lx_json_write_object_begin(w);
    if (with_input) {
        FKEY(w, "input_tokens");
        lx_json_write_int(w, in < 0 ? 0 : in);
        FKEY(w, "cache_creation_input_tokens");
        lx_json_write_int(w, fd_nn(u->cache_write));
        FKEY(w, "cache_read_input_tokens");
        lx_json_write_int(w, fd_nn(u->cache_read));
    }
    FKEY(w, "output_tokens");
    lx_json_write_int(w, fd_nn(u->output));
    lx_json_write_object_end(w);
}

static void fd_tool_id(struct lx_json_writer *w, struct lx_str id, const char *msg_id, size_t k)
{
    char buf[FD_MAX_ID + 48];

    if (id.len > 0) {
        lx_json_write_str(w, id);
        return;
    }
    /* Gemini gives calls no id; the client must answer with one */
    snprintf(buf, sizeof(buf), "toolu_%s_%zu", msg_id + 4, k);
    lx_json_write_str(w, lx_str_cstr(buf));
}

/* ---- encode_response -------------------------------------------------------------------- */

static int fd_encode_response(const struct lx_chat_req *req, const struct lx_chat_resp *resp,
                              int64_t created, struct lx_buf *out)
{
    const struct lx_choice *ch = resp->n_choices > 0 ? &resp->choices[0] : NULL;
    struct lx_json_writer w;
    char id[FD_MAX_ID + 16];
    bool any_tool = false;
    size_t k = 0;

    fd_msg_id(resp->id, created, id, sizeof(id));
    lx_json_writer_init(&w, out);
    lx_json_write_object_begin(&w);
    FKEY(&w, "id");
    lx_json_write_str(&w, lx_str_cstr(id));
    FKEY(&w, "type");
    lx_json_write_str(&w, LX_STR("message"));
    FKEY(&w, "role");
    lx_json_write_str(&w, LX_STR("assistant"));
    FKEY(&w, "model");
    lx_json_write_str(&w, req != NULL && req->model.len > 0 ? req->model : resp->model);
    FKEY(&w, "content");
    lx_json_write_array_begin(&w);
    for (size_t i = 0; ch != NULL && i < ch->message.n_parts; i++) {
        const struct lx_part *p = &ch->message.parts[i];

        switch (p->type) {
        case LX_PART_TEXT:
            if (p->text.len == 0)
                break;
            lx_json_write_object_begin(&w);
            FKEY(&w, "type");
            lx_json_write_str(&w, LX_STR("text"));
            FKEY(&w, "text");
            lx_json_write_str(&w, p->text);
            lx_json_write_object_end(&w);
            break;
        case LX_PART_THINKING:
            lx_json_write_object_begin(&w);
            FKEY(&w, "type");
            lx_json_write_str(&w, LX_STR("thinking"));
            FKEY(&w, "thinking");
            lx_json_write_str(&w, p->text);
            FKEY(&w, "signature");
            lx_json_write_str(&w, p->signature);
            lx_json_write_object_end(&w);
            break;
        case LX_PART_REDACTED_THINKING:
            lx_json_write_object_begin(&w);
            FKEY(&w, "type");
            lx_json_write_str(&w, LX_STR("redacted_thinking"));
            FKEY(&w, "data");
            lx_json_write_str(&w, p->data);
            lx_json_write_object_end(&w);
            break;
        case LX_PART_TOOL_CALL:
            any_tool = true;
            lx_json_write_object_begin(&w);
            FKEY(&w, "type");
            lx_json_write_str(&w, LX_STR("tool_use"));
            FKEY(&w, "id");
            fd_tool_id(&w, p->id, id, k++);
            FKEY(&w, "name");
            lx_json_write_str(&w, p->name);
            FKEY(&w, "input");
            /* arguments that are not a JSON object become {}: the client's parser must not
             * choke on the whole answer for one bad call */
            lx_json_write_raw(&w, lx__anthropic_is_object(p->args) ? lx_str_trim(p->args)
                                                                   : LX_STR("{}"));
            lx_json_write_object_end(&w);
            break;
        default:
            break;
        }
    }
    lx_json_write_array_end(&w);
    FKEY(&w, "stop_reason");
    lx_json_write_str(
        &w, ch != NULL ? fd_stop_reason(ch->finish, ch->finish_raw, ch->stop_sequence, any_tool)
                       : LX_STR("end_turn"));
    FKEY(&w, "stop_sequence");
    if (ch != NULL && ch->stop_sequence.len > 0)
        lx_json_write_str(&w, ch->stop_sequence);
    else
        lx_json_write_null(&w);
    fd_usage(&w, &resp->usage, true);
    lx_json_write_object_end(&w);
    return lx_json_writer_finish(&w);
}

/* ---- encode_delta ----------------------------------------------------------------------- */

enum fd_block_kind { FD_NONE = 0, FD_TEXT, FD_THINKING, FD_TOOL };

struct fd_stream {
    enum fd_block_kind open; /* the block being written */
    int next_index;          /* Anthropic index of the next block */
    int open_tool;           /* FD_TOOL: its IR tool_index */
    int max_tool;            /* highest tool_index that had a block; -1 none */
    int n_tool_ids;          /* ids we made up */
    bool any_tool;
    bool msg_started; /* message_start written */
    enum lx_finish finish;
    struct lx_str finish_raw, stop_sequence; /* in st->a */
    char id[FD_MAX_ID + 16];
};

/* "event: <name>\ndata: " + JSON (no line breaks: the writer escapes them) + "\n\n". */
static void fd_ev_begin(struct lx_buf *out, struct lx_json_writer *w, const char *name)
{
    lx_buf_append_cstr(out, "event: ");
    lx_buf_append_cstr(out, name);
    lx_buf_append_cstr(out, "\ndata: ");
    lx_json_writer_init(w, out);
    lx_json_write_object_begin(w);
    FKEY(w, "type");
    lx_json_write_str(w, lx_str_cstr(name));
}

static int fd_ev_end(struct lx_buf *out, struct lx_json_writer *w)
{
    int rc;

    lx_json_write_object_end(w);
    rc = lx_json_writer_finish(w);
    lx_buf_append_cstr(out, "\n\n");
    return rc != LX_OK ? rc : out->err;
}

static int fd_message_start(struct lx_fd_stream *st, struct fd_stream *fs, struct lx_buf *out)
{
    struct lx_json_writer w;

    if (fs->msg_started)
        return LX_OK;
    fs->msg_started = true;
    st->started = true;
    if (fs->id[0] == '\0')
        fd_msg_id(LX_STR_NULL, st->created, fs->id, sizeof(fs->id));
    st->id = lx_str_cstr(fs->id);
    fd_ev_begin(out, &w, "message_start");
    FKEY(&w, "message");
    lx_json_write_object_begin(&w);
    FKEY(&w, "id");
    lx_json_write_str(&w, st->id);
    FKEY(&w, "type");
    lx_json_write_str(&w, LX_STR("message"));
    FKEY(&w, "role");
    lx_json_write_str(&w, LX_STR("assistant"));
    FKEY(&w, "model");
    lx_json_write_str(&w, st->req != NULL ? st->req->model : LX_STR_NULL);
    FKEY(&w, "content");
    lx_json_write_array_begin(&w);
    lx_json_write_array_end(&w);
    FKEY(&w, "stop_reason");
    lx_json_write_null(&w);
    FKEY(&w, "stop_sequence");
    lx_json_write_null(&w);
    {
        struct lx_usage u = st->usage;

        u.output = 0; /* Anthropic's own placeholder is small; the real count comes last */
        fd_usage(&w, &u, true);
    }
    lx_json_write_object_end(&w);
    return fd_ev_end(out, &w);
}

static int fd_block_stop(struct fd_stream *fs, struct lx_buf *out)
{
    struct lx_json_writer w;

    if (fs->open == FD_NONE)
        return LX_OK;
    fs->open = FD_NONE;
    fd_ev_begin(out, &w, "content_block_stop");
    FKEY(&w, "index");
    lx_json_write_int(&w, fs->next_index - 1);
    return fd_ev_end(out, &w);
}

/* Opens a block of kind (closing the one open); d gives a tool block its id and name. */
static int fd_block_start(struct fd_stream *fs, enum fd_block_kind kind, const struct lx_delta *d,
                          struct lx_buf *out)
{
    struct lx_json_writer w;
    int rc = fd_block_stop(fs, out);

    if (rc != LX_OK)
        return rc;
    fd_ev_begin(out, &w, "content_block_start");
    FKEY(&w, "index");
    lx_json_write_int(&w, fs->next_index++);
    FKEY(&w, "content_block");
    lx_json_write_object_begin(&w);
    FKEY(&w, "type");
    switch (kind) {
    case FD_THINKING:
        lx_json_write_str(&w, LX_STR("thinking"));
        FKEY(&w, "thinking");
        lx_json_write_str(&w, LX_STR(""));
        FKEY(&w, "signature");
        lx_json_write_str(&w, LX_STR(""));
        break;
    case FD_TOOL:
        lx_json_write_str(&w, LX_STR("tool_use"));
        FKEY(&w, "id");
        fd_tool_id(&w, d->id, fs->id, (size_t)fs->n_tool_ids++);
        FKEY(&w, "name");
        lx_json_write_str(&w, d->name);
        FKEY(&w, "input");
        lx_json_write_raw(&w, LX_STR("{}"));
        fs->open_tool = d->tool_index;
        fs->any_tool = true;
        if (d->tool_index > fs->max_tool)
            fs->max_tool = d->tool_index;
        break;
    case FD_TEXT:
    case FD_NONE:
    default:
        lx_json_write_str(&w, LX_STR("text"));
        FKEY(&w, "text");
        lx_json_write_str(&w, LX_STR(""));
        break;
    }
    lx_json_write_object_end(&w);
    fs->open = kind;
    return fd_ev_end(out, &w);
}

static int fd_block_delta(struct fd_stream *fs, const char *dtype, const char *field,
                          struct lx_str text, struct lx_buf *out)
{
    struct lx_json_writer w;

    fd_ev_begin(out, &w, "content_block_delta");
    FKEY(&w, "index");
    lx_json_write_int(&w, fs->next_index - 1);
    FKEY(&w, "delta");
    lx_json_write_object_begin(&w);
    FKEY(&w, "type");
    lx_json_write_str(&w, lx_str_cstr(dtype));
    lx_json_write_key(&w, lx_str_cstr(field));
    lx_json_write_str(&w, text);
    lx_json_write_object_end(&w);
    return fd_ev_end(out, &w);
}

static int fd_tool_delta(struct lx_fd_stream *st, struct fd_stream *fs, const struct lx_delta *dd,
                         struct lx_buf *out)
{
    struct lx_delta nd = *dd;
    const struct lx_delta *d = &nd;
    int rc;

    if (nd.tool_index < 0)
        nd.tool_index = 0; /* a decoder that gave no index has one call at a time */
    if (!(fs->open == FD_TOOL && fs->open_tool == d->tool_index)) {
        if (d->tool_index <= fs->max_tool)
            return LX_OK; /* a fragment for a call whose block closed: Anthropic cannot reopen */
        rc = fd_block_start(fs, FD_TOOL, d, out);
        if (rc != LX_OK)
            return rc;
    }
    (void)st;
    if (d->text.len == 0)
        return LX_OK;
    return fd_block_delta(fs, "input_json_delta", "partial_json", d->text, out);
}

static int fd_done(struct lx_fd_stream *st, struct fd_stream *fs, struct lx_buf *out)
{
    struct lx_json_writer w;
    int rc = fd_message_start(st, fs, out);

    if (rc == LX_OK)
        rc = fd_block_stop(fs, out);
    if (rc != LX_OK)
        return rc;
    fd_ev_begin(out, &w, "message_delta");
    FKEY(&w, "delta");
    lx_json_write_object_begin(&w);
    FKEY(&w, "stop_reason");
    lx_json_write_str(&w,
                      fd_stop_reason(fs->finish, fs->finish_raw, fs->stop_sequence, fs->any_tool));
    FKEY(&w, "stop_sequence");
    if (fs->stop_sequence.len > 0)
        lx_json_write_str(&w, fs->stop_sequence);
    else
        lx_json_write_null(&w);
    lx_json_write_object_end(&w);
    fd_usage(&w, &st->usage, true);
    rc = fd_ev_end(out, &w);
    if (rc != LX_OK)
        return rc;
    fd_ev_begin(out, &w, "message_stop");
    st->finished = true;
    return fd_ev_end(out, &w);
}

static int fd_error_event(struct lx_fd_stream *st, enum lx_err_type type, struct lx_str message,
                          struct lx_buf *out)
{
    struct lx_json_writer w;

    fd_ev_begin(out, &w, "error");
    FKEY(&w, "error");
    lx_json_write_object_begin(&w);
    FKEY(&w, "type");
    lx_json_write_str(&w, lx_str_cstr(lx_err_type_anthropic(type)));
    FKEY(&w, "message");
    lx_json_write_str(&w, message.len > 0 ? message : LX_STR("The upstream provider failed."));
    lx_json_write_object_end(&w);
    if (st != NULL)
        st->finished = true;
    return fd_ev_end(out, &w);
}

static int fd_encode_delta(struct lx_fd_stream *st, const struct lx_delta *d, struct lx_buf *out)
{
    struct fd_stream *fs = st->priv;
    int rc;

    if (st->finished)
        return LX_OK; /* nothing follows message_stop or an error */
    if (fs == NULL) {
        fs = lx_arena_zalloc(st->a, sizeof(*fs));
        if (fs == NULL)
            return LX_ENOMEM;
        fs->max_tool = -1;
        st->priv = fs;
    }
    if (d->choice != 0 && d->type != LX_DELTA_USAGE && d->type != LX_DELTA_ERROR &&
        d->type != LX_DELTA_DONE)
        return LX_OK; /* Anthropic has one answer per message */
    switch (d->type) {
    case LX_DELTA_START:
        if (!fs->msg_started && fs->id[0] == '\0')
            fd_msg_id(d->id, st->created, fs->id, sizeof(fs->id));
        return LX_OK; /* message_start waits for the first content: usage may come first */
    case LX_DELTA_USAGE:
        lx_wire_usage_merge(&st->usage, &d->usage);
        return LX_OK;
    case LX_DELTA_FINISH: {
        fs->finish = d->finish;
        fs->finish_raw = lx_arena_dup(st->a, d->finish_raw);
        fs->stop_sequence = lx_arena_dup(st->a, d->stop_sequence);
        if ((d->finish_raw.len && fs->finish_raw.ptr == NULL) ||
            (d->stop_sequence.len && fs->stop_sequence.ptr == NULL))
            return LX_ENOMEM;
        return LX_OK;
    }
    case LX_DELTA_ERROR:
        return fd_error_event(st, d->error ? d->error->type : LX_ERRT_SERVER,
                              d->error ? d->error->message : LX_STR_NULL, out);
    case LX_DELTA_DONE:
        return fd_done(st, fs, out);
    default:
        break;
    }
    rc = fd_message_start(st, fs, out);
    if (rc != LX_OK)
        return rc;
    switch (d->type) {
    case LX_DELTA_TEXT:
        if (d->text.len == 0)
            return LX_OK;
        if (fs->open != FD_TEXT && (rc = fd_block_start(fs, FD_TEXT, d, out)) != LX_OK)
            return rc;
        return fd_block_delta(fs, "text_delta", "text", d->text, out);
    case LX_DELTA_THINKING:
        if (d->text.len == 0)
            return LX_OK;
        if (fs->open != FD_THINKING && (rc = fd_block_start(fs, FD_THINKING, d, out)) != LX_OK)
            return rc;
        return fd_block_delta(fs, "thinking_delta", "thinking", d->text, out);
    case LX_DELTA_THINKING_SIGNATURE:
        if (d->text.len == 0)
            return LX_OK;
        if (fs->open != FD_THINKING && (rc = fd_block_start(fs, FD_THINKING, d, out)) != LX_OK)
            return rc;
        rc = fd_block_delta(fs, "signature_delta", "signature", d->text, out);
        return rc;
    case LX_DELTA_REDACTED_THINKING: {
        struct lx_json_writer w;

        rc = fd_block_stop(fs, out);
        if (rc != LX_OK)
            return rc;
        fd_ev_begin(out, &w, "content_block_start");
        FKEY(&w, "index");
        lx_json_write_int(&w, fs->next_index++);
        FKEY(&w, "content_block");
        lx_json_write_object_begin(&w);
        FKEY(&w, "type");
        lx_json_write_str(&w, LX_STR("redacted_thinking"));
        FKEY(&w, "data");
        lx_json_write_str(&w, d->text);
        lx_json_write_object_end(&w);
        rc = fd_ev_end(out, &w);
        fs->open = FD_TEXT; /* any open kind: the next block or the end closes it */
        if (rc == LX_OK)
            rc = fd_block_stop(fs, out);
        return rc;
    }
    case LX_DELTA_TOOL_CALL:
        return fd_tool_delta(st, fs, d, out);
    default:
        break;
    }
    return LX_OK;
}

/* ---- errors ----------------------------------------------------------------------------- */

static int fd_encode_error(int status, enum lx_err_type type, struct lx_str message,
                           struct lx_str code, struct lx_buf *out)
{
    struct lx_json_writer w;

    (void)code; /* Anthropic's error object has no code */
    if (type == LX_ERRT_UNSET)
        type = lx_err_type_from_status(status);
    lx_json_writer_init(&w, out);
    lx_json_write_object_begin(&w);
    FKEY(&w, "type");
    lx_json_write_str(&w, LX_STR("error"));
    FKEY(&w, "error");
    lx_json_write_object_begin(&w);
    FKEY(&w, "type");
    lx_json_write_str(&w, lx_str_cstr(lx_err_type_anthropic(type)));
    FKEY(&w, "message");
    lx_json_write_str(&w, message);
    lx_json_write_object_end(&w);
    lx_json_write_object_end(&w);
    return lx_json_writer_finish(&w);
}

static int fd_encode_stream_error(struct lx_fd_stream *st, enum lx_err_type type,
                                  struct lx_str message, struct lx_buf *out)
{
    if (st != NULL && st->finished)
        return LX_OK;
    return fd_error_event(st, type, message, out);
}

const struct lx_frontdoor_ops lx_frontdoor_anthropic = {
    .name = "anthropic",
    .source = LX_SRC_ANTHROPIC,
    .decode_request = fd_decode,
    .encode_response = fd_encode_response,
    .encode_delta = fd_encode_delta,
    .encode_error = fd_encode_error,
    .encode_stream_error = fd_encode_stream_error,
};
