/* anthropic.c - the Anthropic Messages provider adapter (lx_provider_anthropic): IR -> a
 * POST {base_url}/messages request (or /messages/count_tokens), and Anthropic's answers, SSE
 * events and errors -> IR. The body encoder and the decoders are reused by vertex.c
 * (rawPredict) and bedrock.c (InvokeModel, whose stream hands parse_event the same JSON without
 * SSE event names: we dispatch on the data's "type"). Owned by the Anthropic adapter.
 *
 * Pure translator (STYLE.md 3.6): no I/O, no globals, no clock; memory from the arenas given.
 * The request body is written into a bounded lx_buf, copied into the arena and released before
 * return; tool-call arguments are checked with a temporary lx_json freed at once. Any thread.
 * Mapping tables and traps: docs/internals/anthropic.md. */
#include "providers/anthropic.h"

#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/str.h"
#include "providers/wire.h"
#include "json/json.h"
#include "json/writer.h"

#define ANT_MAX_BODY ((size_t)64 << 20) /* a request body we are willing to build */
#define ANT_MAX_BLOCKS 65536u           /* content blocks in one stream */
#define ANT_MAX_MSG 512u                /* bytes of a non-JSON error body kept as message */
#define ANT_DEFAULT_MAX_TOKENS 4096

#define AKEY(w, lit) lx_json_write_key((w), LX_STR(lit))

/* ---- small helpers ---------------------------------------------------------------------- */

bool lx__anthropic_is_object(struct lx_str json)
{
    struct lx_json doc;
    bool ok;

    if (json.len == 0)
        return false;
    lx_json_init(&doc, NULL);
    ok =
        lx_json_parse(&doc, json.ptr, json.len) == LX_OK && lx_json_type(&doc, 0) == LX_JSON_OBJECT;
    lx_json_release(&doc);
    return ok;
}

/* ---- request body ----------------------------------------------------------------------- */

static bool ant_is_system(const struct lx_msg *m)
{
    return m->role == LX_ROLE_SYSTEM || m->role == LX_ROLE_DEVELOPER;
}

/* Whether a part becomes a content block. Anthropic rejects empty text blocks, and a thinking
 * block without its signature (reasoning text from another provider cannot be sent back). */
static bool ant_part_kept(const struct lx_part *p)
{
    switch (p->type) {
    case LX_PART_TEXT:
        return p->text.len > 0;
    case LX_PART_IMAGE:
    case LX_PART_FILE:
        return p->data.len > 0 || p->url.len > 0;
    case LX_PART_AUDIO:
        return false;
    case LX_PART_THINKING:
        return p->signature.len > 0;
    case LX_PART_REDACTED_THINKING:
        return p->data.len > 0;
    case LX_PART_TOOL_CALL:
    case LX_PART_TOOL_RESULT:
        return true;
    }
    return false;
}

static bool ant_msg_kept(const struct lx_msg *m)
{
    if (ant_is_system(m))
        return false;
    for (size_t i = 0; i < m->n_parts; i++)
        if (ant_part_kept(&m->parts[i]))
            return true;
    return false;
}

static bool ant_is_assistant(const struct lx_msg *m) { return m->role == LX_ROLE_ASSISTANT; }

static void ant_cache(struct lx_json_writer *w, bool cache)
{
    if (!cache)
        return;
    AKEY(w, "cache_control");
    lx_json_write_object_begin(w);
    AKEY(w, "type");
    lx_json_write_str(w, LX_STR("ephemeral"));
    lx_json_write_object_end(w);
}

static void ant_source(struct lx_json_writer *w, const struct lx_part *p, struct lx_str dflt_mt)
{
    AKEY(w, "source");
    lx_json_write_object_begin(w);
    if (p->data.len > 0) {
        AKEY(w, "type");
        lx_json_write_str(w, LX_STR("base64"));
        AKEY(w, "media_type");
        lx_json_write_str(w, p->media_type.len > 0 ? p->media_type : dflt_mt);
        AKEY(w, "data");
        lx_json_write_str(w, p->data);
    } else {
        AKEY(w, "type");
        lx_json_write_str(w, LX_STR("url"));
        AKEY(w, "url");
        lx_json_write_str(w, p->url);
    }
    lx_json_write_object_end(w);
}

static void ant_write_part(struct lx_json_writer *w, const struct lx_part *p);

static void ant_write_tool_result(struct lx_json_writer *w, const struct lx_part *p)
{
    lx_json_write_object_begin(w);
    AKEY(w, "type");
    lx_json_write_str(w, LX_STR("tool_result"));
    AKEY(w, "tool_use_id");
    lx_json_write_str(w, p->id);
    if (p->n_sub > 0) {
        AKEY(w, "content");
        lx_json_write_array_begin(w);
        for (size_t i = 0; i < p->n_sub; i++) {
            const struct lx_part *s = &p->sub[i];

            /* a tool result holds text, images and documents only */
            if ((s->type == LX_PART_TEXT || s->type == LX_PART_IMAGE || s->type == LX_PART_FILE) &&
                ant_part_kept(s))
                ant_write_part(w, s);
        }
        lx_json_write_array_end(w);
    } else if (p->text.len > 0) {
        AKEY(w, "content");
        lx_json_write_str(w, p->text);
    }
    if (p->is_error) {
        AKEY(w, "is_error");
        lx_json_write_bool(w, true);
    }
    ant_cache(w, p->cache);
    lx_json_write_object_end(w);
}

static void ant_write_part(struct lx_json_writer *w, const struct lx_part *p)
{
    switch (p->type) {
    case LX_PART_TEXT:
        lx_json_write_object_begin(w);
        AKEY(w, "type");
        lx_json_write_str(w, LX_STR("text"));
        AKEY(w, "text");
        lx_json_write_str(w, p->text);
        break;
    case LX_PART_IMAGE:
        lx_json_write_object_begin(w);
        AKEY(w, "type");
        lx_json_write_str(w, LX_STR("image"));
        ant_source(w, p, LX_STR("image/png"));
        break;
    case LX_PART_FILE:
        lx_json_write_object_begin(w);
        AKEY(w, "type");
        lx_json_write_str(w, LX_STR("document"));
        ant_source(w, p, LX_STR("application/pdf"));
        if (p->name.len > 0) {
            AKEY(w, "title");
            lx_json_write_str(w, p->name);
        }
        break;
    case LX_PART_THINKING:
        lx_json_write_object_begin(w);
        AKEY(w, "type");
        lx_json_write_str(w, LX_STR("thinking"));
        AKEY(w, "thinking");
        lx_json_write_str(w, p->text);
        AKEY(w, "signature");
        lx_json_write_str(w, p->signature);
        break;
    case LX_PART_REDACTED_THINKING:
        lx_json_write_object_begin(w);
        AKEY(w, "type");
        lx_json_write_str(w, LX_STR("redacted_thinking"));
        AKEY(w, "data");
        lx_json_write_str(w, p->data);
        break;
    case LX_PART_TOOL_CALL:
        lx_json_write_object_begin(w);
        AKEY(w, "type");
        lx_json_write_str(w, LX_STR("tool_use"));
        AKEY(w, "id");
        lx_json_write_str(w, p->id);
        AKEY(w, "name");
        lx_json_write_str(w, p->name);
        AKEY(w, "input");
        /* input must be an object: "" or arguments that are not a JSON object become {} */
        if (lx__anthropic_is_object(p->args))
            lx_json_write_raw(w, lx_str_trim(p->args));
        else
            lx_json_write_raw(w, LX_STR("{}"));
        break;
    case LX_PART_TOOL_RESULT:
        ant_write_tool_result(w, p);
        return;
    case LX_PART_AUDIO:
        return; /* refused before writing */
    }
    ant_cache(w, p->cache);
    lx_json_write_object_end(w);
}

/* Messages, merged into alternating turns: SYSTEM/DEVELOPER are hoisted elsewhere, TOOL turns
 * are user turns, consecutive turns of one role become one, and in a user turn the tool_result
 * blocks come first (Anthropic wants them before any text). */
/* The last block of the conversation when it is assistant text (a prefill): Anthropic refuses
 * one that ends in whitespace, so it is written right-trimmed (when anything is left). */
static const struct lx_part *ant_prefill(const struct lx_chat_req *req)
{
    for (size_t i = req->n_msgs; i-- > 0;) {
        const struct lx_msg *m = &req->msgs[i];

        if (!ant_msg_kept(m))
            continue;
        if (!ant_is_assistant(m))
            return NULL;
        for (size_t q = m->n_parts; q-- > 0;)
            if (ant_part_kept(&m->parts[q]))
                return m->parts[q].type == LX_PART_TEXT ? &m->parts[q] : NULL;
    }
    return NULL;
}

static void ant_write_messages(struct lx_json_writer *w, const struct lx_chat_req *req)
{
    const struct lx_part *prefill = ant_prefill(req);
    size_t i = 0;

    AKEY(w, "messages");
    lx_json_write_array_begin(w);
    while (i < req->n_msgs) {
        size_t j;
        bool asst;

        if (!ant_msg_kept(&req->msgs[i])) {
            i++;
            continue;
        }
        asst = ant_is_assistant(&req->msgs[i]);
        for (j = i + 1; j < req->n_msgs; j++)
            if (!ant_is_system(&req->msgs[j]) && ant_msg_kept(&req->msgs[j]) &&
                ant_is_assistant(&req->msgs[j]) != asst)
                break;
        lx_json_write_object_begin(w);
        AKEY(w, "role");
        lx_json_write_str(w, asst ? LX_STR("assistant") : LX_STR("user"));
        AKEY(w, "content");
        lx_json_write_array_begin(w);
        for (int pass = asst ? 1 : 0; pass < 2; pass++) {
            for (size_t k = i; k < j; k++) {
                const struct lx_msg *m = &req->msgs[k];

                if (ant_is_system(m))
                    continue;
                for (size_t q = 0; q < m->n_parts; q++) {
                    const struct lx_part *p = &m->parts[q];
                    bool result = p->type == LX_PART_TOOL_RESULT;

                    if (!ant_part_kept(p) || (!asst && (pass == 0) != result))
                        continue;
                    if (p == prefill) {
                        struct lx_part t = *p;

                        while (t.text.len > 0 && (t.text.ptr[t.text.len - 1] == ' ' ||
                                                  t.text.ptr[t.text.len - 1] == '\n' ||
                                                  t.text.ptr[t.text.len - 1] == '\t' ||
                                                  t.text.ptr[t.text.len - 1] == '\r'))
                            t.text.len--;
                        ant_write_part(w, t.text.len > 0 ? &t : p);
                        continue;
                    }
                    ant_write_part(w, p);
                }
            }
        }
        lx_json_write_array_end(w);
        lx_json_write_object_end(w);
        i = j;
    }
    lx_json_write_array_end(w);
}

/* The JSON-mode instruction: Anthropic has no response_format; a forced tool would change the
 * shape of the answer, so we ask in the system prompt and say so in the docs. */
static int ant_json_instruction(const struct lx_chat_req *req, struct lx_buf *b)
{
    if (req->response_format == LX_RF_JSON_SCHEMA && req->schema.len > 0) {
        lx_buf_append_cstr(b, "Respond with JSON only, no other text, matching this JSON schema: ");
        lx_buf_append_str(b, req->schema);
    } else if (req->response_format == LX_RF_JSON_OBJECT ||
               req->response_format == LX_RF_JSON_SCHEMA) {
        lx_buf_append_cstr(b, "Respond with a single JSON object only, no other text.");
    }
    return b->err;
}

static int ant_write_system(struct lx_json_writer *w, const struct lx_chat_req *req)
{
    struct lx_buf instr = LX_BUF_INIT(ANT_MAX_BODY), joined = LX_BUF_INIT(ANT_MAX_BODY);
    bool any = false, cached = false;
    int rc;

    rc = ant_json_instruction(req, &instr);
    for (size_t i = 0; i < req->n_msgs; i++) {
        const struct lx_msg *m = &req->msgs[i];

        if (!ant_is_system(m))
            continue;
        for (size_t k = 0; k < m->n_parts; k++) {
            const struct lx_part *p = &m->parts[k];

            if (p->type != LX_PART_TEXT || p->text.len == 0)
                continue;
            any = true;
            cached |= p->cache;
        }
    }
    if (rc != LX_OK || (!any && instr.len == 0))
        goto out;
    AKEY(w, "system");
    if (cached) {
        lx_json_write_array_begin(w);
        for (size_t i = 0; i < req->n_msgs; i++) {
            const struct lx_msg *m = &req->msgs[i];

            for (size_t k = 0; ant_is_system(m) && k < m->n_parts; k++) {
                const struct lx_part *p = &m->parts[k];

                if (p->type == LX_PART_TEXT && p->text.len > 0)
                    ant_write_part(w, p);
            }
        }
        if (instr.len > 0) {
            lx_json_write_object_begin(w);
            AKEY(w, "type");
            lx_json_write_str(w, LX_STR("text"));
            AKEY(w, "text");
            lx_json_write_str(w, lx_buf_str(&instr));
            lx_json_write_object_end(w);
        }
        lx_json_write_array_end(w);
        goto out;
    }
    for (size_t i = 0; i < req->n_msgs; i++) {
        const struct lx_msg *m = &req->msgs[i];

        for (size_t k = 0; ant_is_system(m) && k < m->n_parts; k++) {
            const struct lx_part *p = &m->parts[k];

            if (p->type != LX_PART_TEXT || p->text.len == 0)
                continue;
            if (joined.len > 0)
                lx_buf_append_cstr(&joined, "\n\n");
            lx_buf_append_str(&joined, p->text);
        }
    }
    if (instr.len > 0) {
        if (joined.len > 0)
            lx_buf_append_cstr(&joined, "\n\n");
        lx_buf_append_str(&joined, lx_buf_str(&instr));
    }
    rc = joined.err;
    if (rc == LX_OK)
        lx_json_write_str(w, lx_buf_str(&joined));
out:
    lx_buf_release(&instr);
    lx_buf_release(&joined);
    return rc;
}

static bool ant_schema_empty(struct lx_str s)
{
    s = lx_str_trim(s);
    while (s.len > 0 && (s.ptr[s.len - 1] == '\n' || s.ptr[s.len - 1] == '\r'))
        s.len--;
    if (s.len == 0)
        return true;
    if (s.len >= 2 && s.ptr[0] == '{' && s.ptr[s.len - 1] == '}') {
        for (size_t i = 1; i + 1 < s.len; i++)
            if (s.ptr[i] != ' ' && s.ptr[i] != '\t' && s.ptr[i] != '\n' && s.ptr[i] != '\r')
                return false;
        return true;
    }
    return false;
}

static void ant_write_tools(struct lx_json_writer *w, const struct lx_chat_req *req)
{
    AKEY(w, "tools");
    lx_json_write_array_begin(w);
    for (size_t i = 0; i < req->n_tools; i++) {
        const struct lx_tool *t = &req->tools[i];

        lx_json_write_object_begin(w);
        AKEY(w, "name");
        lx_json_write_str(w, t->name);
        if (t->description.len > 0) {
            AKEY(w, "description");
            lx_json_write_str(w, t->description);
        }
        AKEY(w, "input_schema");
        if (ant_schema_empty(t->parameters))
            lx_json_write_raw(w, LX_STR("{\"type\":\"object\",\"properties\":{}}"));
        else
            lx_json_write_raw(w, lx_str_trim(t->parameters));
        ant_cache(w, t->cache);
        lx_json_write_object_end(w);
    }
    lx_json_write_array_end(w);
}

static void ant_write_tool_choice(struct lx_json_writer *w, const struct lx_chat_req *req)
{
    struct lx_str type;

    switch (req->tool_choice) {
    case LX_TOOL_CHOICE_AUTO:
        type = LX_STR("auto");
        break;
    case LX_TOOL_CHOICE_NONE:
        type = LX_STR("none");
        break;
    case LX_TOOL_CHOICE_REQUIRED:
        type = LX_STR("any");
        break;
    case LX_TOOL_CHOICE_NAMED:
        type = LX_STR("tool");
        break;
    case LX_TOOL_CHOICE_UNSET:
    default:
        if (req->parallel_tool_calls != 0)
            return;
        type = LX_STR("auto");
        break;
    }
    AKEY(w, "tool_choice");
    lx_json_write_object_begin(w);
    AKEY(w, "type");
    lx_json_write_str(w, type);
    if (req->tool_choice == LX_TOOL_CHOICE_NAMED) {
        AKEY(w, "name");
        lx_json_write_str(w, req->tool_choice_name);
    }
    if (req->parallel_tool_calls == 0 && req->tool_choice != LX_TOOL_CHOICE_NONE) {
        AKEY(w, "disable_parallel_tool_use");
        lx_json_write_bool(w, true);
    }
    lx_json_write_object_end(w);
}

/* Reasoning effort without a budget -> budget_tokens (documented in anthropic.md). */
static int64_t ant_effort_budget(enum lx_effort e)
{
    switch (e) {
    case LX_EFFORT_MINIMAL:
    case LX_EFFORT_LOW:
        return 1024;
    case LX_EFFORT_MEDIUM:
        return 4096;
    case LX_EFFORT_HIGH:
        return 16384;
    case LX_EFFORT_NONE:
    case LX_EFFORT_UNSET:
        break;
    }
    return -1;
}

/* The thinking budget to send (-1: no thinking) and max_tokens. */
static void ant_budget(const struct lx_chat_req *req, int64_t *budget, int64_t *max_tokens)
{
    bool explicit = false;
    int64_t b = -1, mt;

    if (req->thinking == LX_THINKING_ENABLED) {
        if (req->thinking_budget > 0) {
            b = req->thinking_budget;
            explicit = true;
        } else {
            b = ant_effort_budget(req->effort);
            if (b < 0)
                b = 4096;
        }
    } else if (req->thinking == LX_THINKING_UNSET) {
        b = ant_effort_budget(req->effort);
    }
    mt = req->max_tokens > 0 ? req->max_tokens
         : b > 0             ? b + ANT_DEFAULT_MAX_TOKENS
                             : ANT_DEFAULT_MAX_TOKENS;
    /* budget_tokens must stay below max_tokens: shrink a budget we derived from an effort (a
     * client's own budget goes as given, and Anthropic's error goes back to it) */
    if (b > 0 && !explicit && b >= mt) {
        b = mt - 1;
        if (b < 1024)
            b = -1;
    }
    *budget = b;
    *max_tokens = mt;
}

static const char *const ant_own_keys[] = {
    "model", "anthropic_version", "max_tokens", "system",      "messages",
    "tools", "tool_choice",       "thinking",   "temperature", "top_p",
    "top_k", "stop_sequences",    "metadata",   "stream",
};

static bool ant_own_key(struct lx_str k)
{
    return lx_wire_str_in(k, ant_own_keys, sizeof(ant_own_keys) / sizeof(ant_own_keys[0]));
}

static int ant_body(const struct lx_chat_req *req, struct lx_str model, struct lx_str version,
                    bool stream, bool count, struct lx_buf *out, struct lx_err *err)
{
    struct lx_json_writer w;
    int64_t budget, max_tokens;
    bool thinking;
    int rc;

    if (req->n > 1) {
        lx_err_set(err, LX_EINVAL, 400, "n > 1 is not supported by Anthropic models");
        return LX_EINVAL;
    }
    for (size_t i = 0; i < req->n_msgs; i++)
        for (size_t k = 0; k < req->msgs[i].n_parts; k++)
            if (req->msgs[i].parts[k].type == LX_PART_AUDIO) {
                lx_err_set(err, LX_EINVAL, 400,
                           "audio input is not supported by Anthropic models (messages[%zu])", i);
                return LX_EINVAL;
            }
    ant_budget(req, &budget, &max_tokens);
    thinking = budget > 0;

    lx_json_writer_init(&w, out);
    lx_json_write_object_begin(&w);
    if (version.len > 0) {
        AKEY(&w, "anthropic_version");
        lx_json_write_str(&w, version);
    }
    if (model.len > 0) {
        AKEY(&w, "model");
        lx_json_write_str(&w, model);
    }
    if (!count) {
        AKEY(&w, "max_tokens");
        lx_json_write_int(&w, max_tokens);
    }
    rc = ant_write_system(&w, req);
    if (rc != LX_OK)
        goto out;
    ant_write_messages(&w, req);
    if (req->n_tools > 0) {
        ant_write_tools(&w, req);
        ant_write_tool_choice(&w, req);
    }
    if (thinking) {
        AKEY(&w, "thinking");
        lx_json_write_object_begin(&w);
        AKEY(&w, "type");
        lx_json_write_str(&w, LX_STR("enabled"));
        AKEY(&w, "budget_tokens");
        lx_json_write_int(&w, budget);
        lx_json_write_object_end(&w);
    }
    if (!count) {
        /* Anthropic refuses temperature and top_k with thinking, and top_p below 0.95 */
        if (req->temperature.raw.len > 0 && !thinking) {
            AKEY(&w, "temperature");
            if (req->temperature.v > 1)
                lx_json_write_int(&w, 1);
            else if (req->temperature.v < 0)
                lx_json_write_int(&w, 0);
            else
                lx_json_write_raw(&w, req->temperature.raw);
        }
        if (req->top_p.raw.len > 0 && (!thinking || req->top_p.v >= 0.95)) {
            AKEY(&w, "top_p");
            lx_json_write_raw(&w, req->top_p.raw);
        }
        if (req->top_k >= 0 && !thinking) {
            AKEY(&w, "top_k");
            lx_json_write_int(&w, req->top_k);
        }
        if (req->n_stop > 0) {
            AKEY(&w, "stop_sequences");
            lx_wire_write_strs(&w, req->stop, req->n_stop);
        }
        if (req->user.len > 0) {
            AKEY(&w, "metadata");
            lx_json_write_object_begin(&w);
            AKEY(&w, "user_id");
            lx_json_write_str(&w, req->user);
            lx_json_write_object_end(&w);
        }
        if (stream) {
            AKEY(&w, "stream");
            lx_json_write_bool(&w, true);
        }
        /* an Anthropic client's members we do not model (service_tier, container, ...) */
        for (size_t i = 0; req->source == LX_SRC_ANTHROPIC && i < req->n_extra; i++) {
            if (ant_own_key(req->extra[i].key) || req->extra[i].value.len == 0)
                continue;
            lx_json_write_key(&w, req->extra[i].key);
            lx_json_write_raw(&w, req->extra[i].value);
        }
    }
    lx_json_write_object_end(&w);
    rc = lx_json_writer_finish(&w);
out:
    if (rc == LX_OK && out->err != LX_OK)
        rc = out->err;
    return lx_wire_encode_fail(err, rc);
}

int lx_anthropic_encode_body(const struct lx_chat_req *req, struct lx_str model,
                             struct lx_str anthropic_version, bool stream, struct lx_buf *out,
                             struct lx_err *err)
{
    if (req == NULL || out == NULL) {
        lx_err_set(err, LX_EINVAL, 500, "no request to encode");
        return LX_EINVAL;
    }
    return ant_body(req, model, anthropic_version, stream, false, out, err);
}

int lx_anthropic_encode_count(int64_t input_tokens, struct lx_buf *out)
{
    return lx_buf_appendf(out, "{\"input_tokens\":%lld}",
                          (long long)(input_tokens < 0 ? 0 : input_tokens));
}

static uint64_t ant_part_bytes(const struct lx_part *p, int64_t *fixed)
{
    uint64_t n = p->text.len + p->signature.len + p->name.len + p->args.len + p->id.len;

    if (p->type == LX_PART_IMAGE || p->type == LX_PART_FILE)
        *fixed += 1600;
    else if (p->type == LX_PART_REDACTED_THINKING)
        n += p->data.len;
    for (size_t i = 0; i < p->n_sub; i++)
        n += ant_part_bytes(&p->sub[i], fixed);
    return n;
}

int lx_anthropic_estimate_tokens(const struct lx_chat_req *req, int64_t *out)
{
    uint64_t bytes = 0;
    int64_t fixed = 0;

    if (req == NULL || out == NULL)
        return LX_EINVAL;
    for (size_t i = 0; i < req->n_msgs; i++) {
        fixed += 3;
        for (size_t k = 0; k < req->msgs[i].n_parts; k++)
            bytes += ant_part_bytes(&req->msgs[i].parts[k], &fixed);
    }
    for (size_t i = 0; i < req->n_tools; i++)
        bytes +=
            req->tools[i].name.len + req->tools[i].description.len + req->tools[i].parameters.len;
    bytes += req->schema.len;
    *out = (int64_t)((bytes + 3) / 4) + fixed;
    return LX_OK;
}

/* ---- build_request ---------------------------------------------------------------------- */

static int ant_build_request(const struct lx_provider_call *call, const struct lx_chat_req *req,
                             struct lx_arena *a, struct lx_upstream_req *out, struct lx_err *err)
{
    const struct lx_config_provider *conf;
    bool count, has_version;
    struct lx_buf b = LX_BUF_INIT(ANT_MAX_BODY);
    struct lx_header *h;
    size_t n = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (call == NULL || call->conf == NULL || call->conf->base_url == NULL || req == NULL) {
        lx_err_set(err, LX_EINVAL, 500, "anthropic provider: no base_url configured");
        return LX_EINVAL;
    }
    conf = call->conf;
    if (call->endpoint != LX_EP_CHAT && call->endpoint != LX_EP_COUNT_TOKENS) {
        lx_err_set(err, LX_EINVAL, 400, "this endpoint is not supported by Anthropic");
        return LX_EINVAL;
    }
    count = call->endpoint == LX_EP_COUNT_TOKENS;
    rc = ant_body(req, call->model.len > 0 ? call->model : req->model, LX_STR_NULL,
                  call->stream && !count, count, &b, err);
    if (rc == LX_OK) {
        out->body = lx_arena_dup(a, lx_buf_str(&b));
        if (out->body.ptr == NULL)
            rc = LX_ENOMEM;
    }
    lx_buf_release(&b);
    if (rc != LX_OK) {
        if (rc == LX_ENOMEM)
            lx_err_set(err, rc, 503, "out of memory building the upstream request");
        return rc;
    }
    out->method = LX_STR("POST");
    out->url = lx_wire_concat2(a, lx_str_cstr(conf->base_url),
                               count ? LX_STR("/messages/count_tokens") : LX_STR("/messages"));
    h = lx_arena_zalloc(a, (4 + conf->n_headers) * sizeof(*h));
    if (out->url.ptr == NULL || h == NULL) {
        lx_err_set(err, LX_ENOMEM, 503, "out of memory building the upstream request");
        return LX_ENOMEM;
    }
    h[n++] = (struct lx_header){LX_STR("content-type"), LX_STR("application/json")};
    h[n++] =
        (struct lx_header){LX_STR("accept"), call->stream && !count ? LX_STR("text/event-stream")
                                                                    : LX_STR("application/json")};
    if (call->key.len > 0)
        h[n++] = (struct lx_header){LX_STR("x-api-key"), call->key};
    /* a configured anthropic-version wins over ours; anthropic-beta comes from the config */
    has_version = lx_header_find(conf->headers, conf->n_headers, LX_STR("anthropic-version"));
    if (!has_version)
        h[n++] = (struct lx_header){LX_STR("anthropic-version"), LX_STR(LX_ANTHROPIC_VERSION)};
    for (size_t i = 0; i < conf->n_headers; i++) {
        if (lx_header_find(h, n, conf->headers[i].name) != NULL)
            continue;
        h[n++] = conf->headers[i];
    }
    out->headers = h;
    out->n_headers = n;
    return LX_OK;
}

/* ---- answers ---------------------------------------------------------------------------- */

static enum lx_finish ant_finish(struct lx_str raw)
{
    if (raw.len == 0)
        return LX_FINISH_UNSET;
    if (lx_str_eq(raw, LX_STR("max_tokens")) ||
        lx_str_eq(raw, LX_STR("model_context_window_exceeded")))
        return LX_FINISH_LENGTH;
    if (lx_str_eq(raw, LX_STR("tool_use")))
        return LX_FINISH_TOOL_CALLS;
    if (lx_str_eq(raw, LX_STR("refusal")))
        return LX_FINISH_CONTENT_FILTER;
    return LX_FINISH_STOP; /* end_turn, stop_sequence, pause_turn, and words to come */
}

/* Anthropic's usage object -> IR (input counts cache reads and writes, OpenAI style). Fields
 * absent stay -1. */
static void ant_usage(const struct lx_json *doc, int u, struct lx_usage *out)
{
    int64_t in = lx_wire_int(doc, u, "input_tokens");
    int64_t cr = lx_wire_int(doc, u, "cache_read_input_tokens");
    int64_t cw = lx_wire_int(doc, u, "cache_creation_input_tokens");
    int64_t o = lx_wire_int(doc, u, "output_tokens");

    *out = (struct lx_usage)LX_USAGE_INIT;
    if (lx_json_type(doc, u) != LX_JSON_OBJECT)
        return;
    if (in >= 0)
        out->input = in + (cr > 0 ? cr : 0) + (cw > 0 ? cw : 0);
    out->cache_read = cr;
    out->cache_write = cw;
    out->output = o;
    if (out->input >= 0 && o >= 0)
        out->total = out->input + o;
}

static int ant_nomem(struct lx_err *err)
{
    lx_err_set(err, LX_ENOMEM, 503, "out of memory decoding the upstream answer");
    return LX_ENOMEM;
}

static int ant_parse_fail(struct lx_err *err, const char *what)
{
    lx_err_set(err, LX_EPARSE, 502, "upstream answer is not an Anthropic message: %s", what);
    return LX_EPARSE;
}

static int ant_parse_block(const struct lx_json *doc, int b, struct lx_arena *a, struct lx_part *p,
                           bool *kept)
{
    int t = lx_json_get(doc, b, LX_STR("type"));
    int rc = LX_OK;

    *kept = true;
    memset(p, 0, sizeof(*p));
    if (lx_json_type(doc, b) != LX_JSON_OBJECT || lx_json_type(doc, t) != LX_JSON_STRING)
        return LX_EPARSE;
    if (lx_json_str_eq(doc, t, LX_STR("text"))) {
        p->type = LX_PART_TEXT;
        rc = lx_wire_str(doc, b, "text", a, &p->text);
    } else if (lx_json_str_eq(doc, t, LX_STR("thinking"))) {
        p->type = LX_PART_THINKING;
        rc = lx_wire_str(doc, b, "thinking", a, &p->text);
        if (rc == LX_OK)
            rc = lx_wire_str(doc, b, "signature", a, &p->signature);
    } else if (lx_json_str_eq(doc, t, LX_STR("redacted_thinking"))) {
        p->type = LX_PART_REDACTED_THINKING;
        rc = lx_wire_str(doc, b, "data", a, &p->data);
    } else if (lx_json_str_eq(doc, t, LX_STR("tool_use"))) {
        int in = lx_json_get(doc, b, LX_STR("input"));

        p->type = LX_PART_TOOL_CALL;
        rc = lx_wire_str(doc, b, "id", a, &p->id);
        if (rc == LX_OK)
            rc = lx_wire_str(doc, b, "name", a, &p->name);
        if (lx_json_type(doc, in) == LX_JSON_OBJECT)
            p->args = lx_json_raw(doc, in);
        else if (in < 0 || lx_json_type(doc, in) == LX_JSON_NULL)
            p->args = LX_STR("{}");
        else
            rc = LX_EPARSE;
    } else {
        *kept = false; /* server tool blocks, citations-only blocks...: not in the IR */
    }
    return rc;
}

static int ant_parse_response(const struct lx_provider_call *call, struct lx_str body,
                              struct lx_arena *a, struct lx_chat_resp *out, struct lx_err *err)
{
    struct lx_json doc;
    struct lx_choice *ch;
    int content, type, rc;
    struct lx_str s;

    lx_chat_resp_init(out);
    lx_wire_json_init(&doc, a);
    rc = lx_json_parse(&doc, body.ptr, body.len);
    if (rc == LX_ENOMEM)
        return ant_nomem(err);
    if (rc != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        return ant_parse_fail(err, "not a JSON object");
    content = lx_json_get(&doc, 0, LX_STR("content"));
    type = lx_json_get(&doc, 0, LX_STR("type"));
    if ((call != NULL && call->endpoint == LX_EP_COUNT_TOKENS) ||
        (content < 0 && type < 0 && lx_json_get(&doc, 0, LX_STR("input_tokens")) >= 0)) {
        out->usage.input = lx_wire_int(&doc, 0, "input_tokens");
        if (out->usage.input < 0)
            return ant_parse_fail(err, "count_tokens answer without input_tokens");
        return LX_OK;
    }
    if (lx_json_type(&doc, content) != LX_JSON_ARRAY ||
        (type >= 0 && !lx_json_str_eq(&doc, type, LX_STR("message"))))
        return ant_parse_fail(err, "no content array");
    if ((rc = lx_wire_str(&doc, 0, "id", a, &out->id)) != LX_OK ||
        (rc = lx_wire_str(&doc, 0, "model", a, &out->model)) != LX_OK)
        return rc == LX_ENOMEM ? ant_nomem(err) : ant_parse_fail(err, "bad id or model");
    ch = lx_arena_zalloc(a, sizeof(*ch));
    if (ch == NULL)
        goto nomem;
    ch->message.role = LX_ROLE_ASSISTANT;
    if (lx_json_count(&doc, content) > 0) {
        ch->message.parts =
            lx_arena_zalloc(a, lx_json_count(&doc, content) * sizeof(struct lx_part));
        if (ch->message.parts == NULL)
            goto nomem;
    }
    for (int b = lx_json_first(&doc, content); b >= 0; b = lx_json_sibling(&doc, content, b)) {
        bool kept;

        rc = ant_parse_block(&doc, b, a, &ch->message.parts[ch->message.n_parts], &kept);
        if (rc == LX_ENOMEM)
            goto nomem;
        if (rc != LX_OK)
            return ant_parse_fail(err, "bad content block");
        if (kept)
            ch->message.n_parts++;
    }
    if ((rc = lx_wire_str(&doc, 0, "stop_reason", a, &s)) != LX_OK ||
        (rc = lx_wire_str(&doc, 0, "stop_sequence", a, &ch->stop_sequence)) != LX_OK)
        return rc == LX_ENOMEM ? ant_nomem(err) : ant_parse_fail(err, "bad stop_reason");
    ch->finish_raw = s;
    ch->finish = ant_finish(s);
    ant_usage(&doc, lx_json_get(&doc, 0, LX_STR("usage")), &out->usage);
    out->choices = ch;
    out->n_choices = 1;
    return LX_OK;
nomem:
    lx_err_set(err, LX_ENOMEM, 503, "out of memory decoding the upstream answer");
    return LX_ENOMEM;
}

/* ---- errors (shared by map_error and the stream's error event) --------------------------- */

static const struct {
    const char *name;
    enum lx_err_type type;
    int status;
} ant_err_types[] = {
    {"invalid_request_error", LX_ERRT_INVALID_REQUEST, 400},
    {"authentication_error", LX_ERRT_AUTHENTICATION, 401},
    {"billing_error", LX_ERRT_QUOTA, 402},
    {"permission_error", LX_ERRT_PERMISSION, 403},
    {"not_found_error", LX_ERRT_NOT_FOUND, 404},
    {"request_too_large", LX_ERRT_TOO_LARGE, 413},
    {"rate_limit_error", LX_ERRT_RATE_LIMIT, 429},
    {"api_error", LX_ERRT_SERVER, 500},
    {"timeout_error", LX_ERRT_TIMEOUT, 504},
    {"overloaded_error", LX_ERRT_OVERLOADED, 529},
};

static bool ant_spend_limit(struct lx_str msg, struct lx_str detail_code)
{
    return lx_str_eq(detail_code, LX_STR("enforced_spend_limit_reached")) ||
           lx_wire_contains_nocase(msg, "credit balance") ||
           lx_wire_contains_nocase(msg, "usage limit") ||
           lx_wire_contains_nocase(msg, "spend limit") ||
           lx_wire_contains_nocase(msg, "spending limit") ||
           lx_wire_contains_nocase(msg, "spend cap");
}

/* etype: the error object's "type"; status 0 (a stream error): the status that type implies. */
static void ant_classify(struct lx_str etype, struct lx_str msg, struct lx_str detail_code,
                         int status, struct lx_str key, struct lx_upstream_error *out)
{
    enum lx_err_type t = LX_ERRT_UNSET;
    int implied = 0;

    for (size_t i = 0; i < sizeof(ant_err_types) / sizeof(ant_err_types[0]); i++)
        if (lx_str_eq(etype, lx_str_cstr(ant_err_types[i].name))) {
            t = ant_err_types[i].type;
            implied = ant_err_types[i].status;
        }
    if (status == 0)
        status = implied ? implied : 500;
    if (t == LX_ERRT_UNSET)
        t = lx_err_type_from_status(status);
    if (t == LX_ERRT_INVALID_REQUEST && (lx_wire_contains_nocase(msg, "prompt is too long") ||
                                         lx_wire_contains_nocase(msg, "exceed context limit") ||
                                         lx_wire_contains_nocase(msg, "context window")))
        t = LX_ERRT_CONTEXT_LENGTH;
    if ((t == LX_ERRT_RATE_LIMIT || t == LX_ERRT_INVALID_REQUEST || t == LX_ERRT_PERMISSION) &&
        ant_spend_limit(msg, detail_code))
        t = LX_ERRT_QUOTA;

    lx_upstream_error_init(out);
    out->status = status;
    out->type = t;
    out->code = etype;
    lx_upstream_error_defaults(out);
    if (t == LX_ERRT_QUOTA)
        out->retryable = false; /* the organisation's money: no key of it will do better */
    if ((key.len >= 8 && lx_wire_contains(msg, key)) || lx_wire_contains(msg, LX_STR("sk-ant-")))
        msg = LX_STR("the upstream rejected the credential (its message is withheld: it quoted "
                     "a key)");
    out->message = msg;
}

/* Reads {"type":"error","error":{"type","message","details"?}} at doc's root. */
static void ant_error_object(const struct lx_json *doc, struct lx_arena *a, int status,
                             struct lx_str key, struct lx_upstream_error *out)
{
    int e = lx_json_get(doc, 0, LX_STR("error"));
    struct lx_str etype = LX_STR_NULL, msg = LX_STR_NULL, dcode = LX_STR_NULL;

    if (lx_json_type(doc, e) == LX_JSON_OBJECT) {
        (void)lx_wire_str(doc, e, "type", a, &etype);
        (void)lx_wire_str(doc, e, "message", a, &msg);
        (void)lx_wire_str(doc, lx_json_get(doc, e, LX_STR("details")), "error_code", a, &dcode);
    } else if (lx_json_type(doc, e) == LX_JSON_STRING) {
        (void)lx_json_str(doc, e, a, &msg);
    } else {
        (void)lx_wire_str(doc, 0, "message", a, &msg);
    }
    ant_classify(etype, msg, dcode, status, key, out);
}

static int ant_digits(const char *p, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* RFC 3339 "2025-01-01T00:00:30Z" (fraction and offset allowed) -> unix seconds; -1 if bad. */
static int64_t ant_rfc3339(struct lx_str v)
{
    const char *p = v.ptr;
    int y, mo, d, hh, mm, ss, off = 0;
    size_t i = 19;

    v = lx_str_trim(v);
    p = v.ptr;
    if (v.len < 20 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != 't') ||
        p[13] != ':' || p[16] != ':')
        return -1;
    y = ant_digits(p, 4);
    mo = ant_digits(p + 5, 2);
    d = ant_digits(p + 8, 2);
    hh = ant_digits(p + 11, 2);
    mm = ant_digits(p + 14, 2);
    ss = ant_digits(p + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 ||
        ss < 0 || ss > 60)
        return -1;
    if (p[i] == '.') {
        i++;
        while (i < v.len && p[i] >= '0' && p[i] <= '9')
            i++;
    }
    if (i + 1 == v.len && (p[i] == 'Z' || p[i] == 'z')) {
        off = 0;
    } else if (i + 6 == v.len && (p[i] == '+' || p[i] == '-') && p[i + 3] == ':') {
        int oh = ant_digits(p + i + 1, 2), om = ant_digits(p + i + 4, 2);

        if (oh < 0 || om < 0)
            return -1;
        off = (oh * 60 + om) * 60 * (p[i] == '+' ? 1 : -1);
    } else {
        return -1;
    }
    return lx_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + hh * 3600 + mm * 60 + ss - off;
}

/* retry-after (seconds or a date); else the anthropic-ratelimit-*-reset of a limit whose
 * remaining is 0 (the one that bit), the latest of those. -1 when nothing says. */
static int64_t ant_retry_after(const struct lx_header *h, size_t n, int64_t now_s)
{
    static const char *const kinds[] = {"requests", "tokens", "input-tokens", "output-tokens"};
    const struct lx_header *x = lx_header_find(h, n, LX_STR("retry-after"));
    int64_t best = -1;

    if (x != NULL) {
        int64_t v = lx_retry_after_ms(x->value, now_s);

        if (v >= 0)
            return v;
    }
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        char name[64];
        const struct lx_header *rem, *reset;
        int64_t when;

        snprintf(name, sizeof(name), "anthropic-ratelimit-%s-remaining", kinds[k]);
        rem = lx_header_find(h, n, lx_str_cstr(name));
        snprintf(name, sizeof(name), "anthropic-ratelimit-%s-reset", kinds[k]);
        reset = lx_header_find(h, n, lx_str_cstr(name));
        if (rem == NULL || reset == NULL || !lx_str_eq(lx_str_trim(rem->value), LX_STR("0")))
            continue;
        when = ant_rfc3339(reset->value);
        if (when < 0)
            continue;
        when = when <= now_s ? 0 : (when - now_s) * 1000;
        if (when > 86400 * 7 * 1000LL)
            when = 86400 * 7 * 1000LL;
        if (when > best)
            best = when;
    }
    return best;
}

static void ant_map_error(const struct lx_provider_call *call, int status,
                          const struct lx_header *headers, size_t n_headers, struct lx_str body,
                          struct lx_arena *a, struct lx_upstream_error *out)
{
    struct lx_json doc;
    struct lx_str key = call != NULL ? call->key : LX_STR_NULL;

    if (status <= 0)
        status = 500;
    lx_wire_json_init(&doc, a);
    if (body.len > 0 && lx_json_parse(&doc, body.ptr, body.len) == LX_OK &&
        lx_json_type(&doc, 0) == LX_JSON_OBJECT) {
        ant_error_object(&doc, a, status, key, out);
    } else {
        ant_classify(LX_STR_NULL, lx_wire_cut_utf8(lx_str_trim(body), ANT_MAX_MSG), LX_STR_NULL,
                     status, key, out);
        out->code = LX_STR_NULL;
    }
    lx_wire_default_message(a, status, out);
    out->retry_after_ms = ant_retry_after(headers, n_headers, call != NULL ? call->now_s : 0);
}

/* ---- stream ----------------------------------------------------------------------------- */

enum ant_kind { ANT_K_OTHER = 0, ANT_K_TEXT, ANT_K_THINKING, ANT_K_TOOL };

struct ant_block {
    int64_t index;      /* Anthropic's block index */
    int tool;           /* ANT_K_TOOL: the IR tool_index */
    unsigned char kind; /* enum ant_kind */
    bool args;          /* ANT_K_TOOL: a non-empty argument fragment went out */
};

struct ant_stream {
    bool started;
    int n_tools;
    struct ant_block *blocks;
    size_t n_blocks, cap;
};

static void ant_delta_init(struct lx_delta *d, enum lx_delta_type type)
{
    memset(d, 0, sizeof(*d));
    d->type = type;
    d->tool_index = -1;
    d->usage = (struct lx_usage)LX_USAGE_INIT;
}

static struct ant_block *ant_block_find(struct ant_stream *ps, int64_t index)
{
    for (size_t i = ps->n_blocks; i-- > 0;)
        if (ps->blocks[i].index == index)
            return &ps->blocks[i];
    return NULL;
}

static struct ant_block *ant_block_add(struct lx_stream_state *st, struct ant_stream *ps,
                                       int64_t index)
{
    if (ps->n_blocks == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 8;
        struct ant_block *nb;

        if (cap > ANT_MAX_BLOCKS)
            return NULL;
        nb = lx_arena_alloc(st->a, cap * sizeof(*nb));
        if (nb == NULL)
            return NULL;
        if (ps->n_blocks > 0)
            memcpy(nb, ps->blocks, ps->n_blocks * sizeof(*nb));
        ps->blocks = nb;
        ps->cap = cap;
    }
    memset(&ps->blocks[ps->n_blocks], 0, sizeof(ps->blocks[0]));
    ps->blocks[ps->n_blocks].index = index;
    return &ps->blocks[ps->n_blocks++];
}

static int ant_ev_fail(struct lx_err *err, const char *what)
{
    lx_err_set(err, LX_EPARSE, 502, "upstream stream event is not Anthropic's: %s", what);
    return LX_EPARSE;
}

/* rc from a string read: out of memory stays itself, anything else is not the protocol. */
static int ant_ev_bad(struct lx_err *err, int rc, const char *what)
{
    return rc == LX_ENOMEM ? ant_nomem(err) : ant_ev_fail(err, what);
}

static int ant_ev_message_start(struct lx_stream_state *st, struct ant_stream *ps,
                                const struct lx_json *doc, const struct lx_delta_sink *sink,
                                struct lx_err *err)
{
    int m = lx_json_get(doc, 0, LX_STR("message"));
    struct lx_delta d;
    int rc;

    if (lx_json_type(doc, m) != LX_JSON_OBJECT)
        return ant_ev_fail(err, "message_start without message");
    ant_delta_init(&d, LX_DELTA_START);
    if ((rc = lx_wire_str(doc, m, "id", st->scratch, &d.id)) != LX_OK ||
        (rc = lx_wire_str(doc, m, "model", st->scratch, &d.name)) != LX_OK)
        return ant_ev_bad(err, rc, "message_start with a bad id or model");
    if (!ps->started) {
        ps->started = true;
        rc = lx_wire_emit(sink, &d);
        if (rc != LX_OK)
            return rc;
    }
    ant_delta_init(&d, LX_DELTA_USAGE);
    ant_usage(doc, lx_json_get(doc, m, LX_STR("usage")), &d.usage);
    d.usage.output = -1; /* message_start's output_tokens is a placeholder */
    d.usage.total = -1;
    if (d.usage.input < 0 && d.usage.cache_read < 0 && d.usage.cache_write < 0)
        return LX_OK;
    return lx_wire_emit(sink, &d);
}

static int ant_ev_block_start(struct lx_stream_state *st, struct ant_stream *ps,
                              const struct lx_json *doc, const struct lx_delta_sink *sink,
                              struct lx_err *err)
{
    int cb = lx_json_get(doc, 0, LX_STR("content_block"));
    int t = lx_json_get(doc, cb, LX_STR("type"));
    int64_t index;
    struct ant_block *blk;
    struct lx_delta d;
    int rc;

    if (lx_json_int64(doc, lx_json_get(doc, 0, LX_STR("index")), &index) != LX_OK ||
        lx_json_type(doc, cb) != LX_JSON_OBJECT || lx_json_type(doc, t) != LX_JSON_STRING)
        return ant_ev_fail(err, "content_block_start without index or block");
    blk = ant_block_add(st, ps, index);
    if (blk == NULL && ps->n_blocks < ANT_MAX_BLOCKS)
        return ant_nomem(err);
    if (blk == NULL) {
        lx_err_set(err, LX_ETOOBIG, 502, "upstream stream has too many content blocks");
        return LX_ETOOBIG;
    }
    if (lx_json_str_eq(doc, t, LX_STR("text"))) {
        blk->kind = ANT_K_TEXT;
        ant_delta_init(&d, LX_DELTA_TEXT);
        if ((rc = lx_wire_str(doc, cb, "text", st->scratch, &d.text)) != LX_OK)
            return ant_ev_bad(err, rc, "bad text block");
        return d.text.len > 0 ? lx_wire_emit(sink, &d) : LX_OK;
    }
    if (lx_json_str_eq(doc, t, LX_STR("thinking"))) {
        struct lx_str sig;

        blk->kind = ANT_K_THINKING;
        ant_delta_init(&d, LX_DELTA_THINKING);
        if ((rc = lx_wire_str(doc, cb, "thinking", st->scratch, &d.text)) != LX_OK ||
            (rc = lx_wire_str(doc, cb, "signature", st->scratch, &sig)) != LX_OK)
            return ant_ev_bad(err, rc, "bad thinking block");
        if (d.text.len > 0 && (rc = lx_wire_emit(sink, &d)) != LX_OK)
            return rc;
        if (sig.len == 0)
            return LX_OK;
        ant_delta_init(&d, LX_DELTA_THINKING_SIGNATURE);
        d.text = sig;
        return lx_wire_emit(sink, &d);
    }
    if (lx_json_str_eq(doc, t, LX_STR("redacted_thinking"))) {
        ant_delta_init(&d, LX_DELTA_REDACTED_THINKING);
        if ((rc = lx_wire_str(doc, cb, "data", st->scratch, &d.text)) != LX_OK)
            return ant_ev_bad(err, rc, "bad redacted_thinking block");
        return lx_wire_emit(sink, &d);
    }
    if (lx_json_str_eq(doc, t, LX_STR("tool_use"))) {
        int in = lx_json_get(doc, cb, LX_STR("input"));

        blk->kind = ANT_K_TOOL;
        blk->tool = ps->n_tools++;
        ant_delta_init(&d, LX_DELTA_TOOL_CALL);
        d.tool_index = blk->tool;
        if ((rc = lx_wire_str(doc, cb, "id", st->scratch, &d.id)) != LX_OK ||
            (rc = lx_wire_str(doc, cb, "name", st->scratch, &d.name)) != LX_OK)
            return ant_ev_bad(err, rc, "bad tool_use block");
        /* the input is {} and comes as fragments; a proxy that sends it whole is taken too */
        if (lx_json_type(doc, in) == LX_JSON_OBJECT && lx_json_count(doc, in) > 0) {
            d.text = lx_json_raw(doc, in);
            blk->args = true;
        }
        return lx_wire_emit(sink, &d);
    }
    blk->kind = ANT_K_OTHER; /* server_tool_use, web_search_tool_result...: not in the IR */
    return LX_OK;
}

static int ant_ev_block_delta(struct lx_stream_state *st, struct ant_stream *ps,
                              const struct lx_json *doc, const struct lx_delta_sink *sink,
                              struct lx_err *err)
{
    int dl = lx_json_get(doc, 0, LX_STR("delta"));
    int t = lx_json_get(doc, dl, LX_STR("type"));
    int64_t index;
    struct ant_block *blk;
    struct lx_delta d;
    int rc;

    if (lx_json_int64(doc, lx_json_get(doc, 0, LX_STR("index")), &index) != LX_OK ||
        lx_json_type(doc, dl) != LX_JSON_OBJECT || lx_json_type(doc, t) != LX_JSON_STRING)
        return ant_ev_fail(err, "content_block_delta without index or delta");
    blk = ant_block_find(ps, index);
    if (blk != NULL && blk->kind == ANT_K_OTHER)
        return LX_OK;
    if (lx_json_str_eq(doc, t, LX_STR("text_delta"))) {
        ant_delta_init(&d, LX_DELTA_TEXT);
        if ((rc = lx_wire_str(doc, dl, "text", st->scratch, &d.text)) != LX_OK)
            return ant_ev_bad(err, rc, "bad text_delta");
    } else if (lx_json_str_eq(doc, t, LX_STR("thinking_delta"))) {
        ant_delta_init(&d, LX_DELTA_THINKING);
        if ((rc = lx_wire_str(doc, dl, "thinking", st->scratch, &d.text)) != LX_OK)
            return ant_ev_bad(err, rc, "bad thinking_delta");
    } else if (lx_json_str_eq(doc, t, LX_STR("signature_delta"))) {
        ant_delta_init(&d, LX_DELTA_THINKING_SIGNATURE);
        if ((rc = lx_wire_str(doc, dl, "signature", st->scratch, &d.text)) != LX_OK)
            return ant_ev_bad(err, rc, "bad signature_delta");
    } else if (lx_json_str_eq(doc, t, LX_STR("input_json_delta"))) {
        if (blk == NULL || blk->kind != ANT_K_TOOL)
            return ant_ev_fail(err, "input_json_delta outside a tool_use block");
        ant_delta_init(&d, LX_DELTA_TOOL_CALL);
        d.tool_index = blk->tool;
        if ((rc = lx_wire_str(doc, dl, "partial_json", st->scratch, &d.text)) != LX_OK)
            return ant_ev_bad(err, rc, "bad input_json_delta");
        if (d.text.len == 0)
            return LX_OK; /* the first fragment is often "": nothing to say */
        blk->args = true;
    } else {
        return LX_OK; /* citations_delta and delta types to come */
    }
    return d.text.len > 0 ? lx_wire_emit(sink, &d) : LX_OK;
}

static int ant_ev_block_stop(struct ant_stream *ps, const struct lx_json *doc,
                             const struct lx_delta_sink *sink, struct lx_err *err)
{
    int64_t index;
    struct ant_block *blk;
    struct lx_delta d;

    if (lx_json_int64(doc, lx_json_get(doc, 0, LX_STR("index")), &index) != LX_OK)
        return ant_ev_fail(err, "content_block_stop without index");
    blk = ant_block_find(ps, index);
    if (blk == NULL || blk->kind != ANT_K_TOOL || blk->args)
        return LX_OK;
    /* a tool without arguments never sends a non-empty fragment: its input is {} */
    blk->args = true;
    ant_delta_init(&d, LX_DELTA_TOOL_CALL);
    d.tool_index = blk->tool;
    d.text = LX_STR("{}");
    return lx_wire_emit(sink, &d);
}

static int ant_ev_message_delta(struct lx_stream_state *st, const struct lx_json *doc,
                                const struct lx_delta_sink *sink, struct lx_err *err)
{
    int dl = lx_json_get(doc, 0, LX_STR("delta"));
    int u = lx_json_get(doc, 0, LX_STR("usage"));
    struct lx_delta d;
    int rc;

    if (dl >= 0 && lx_json_type(doc, dl) != LX_JSON_OBJECT)
        return ant_ev_fail(err, "bad message_delta");
    ant_delta_init(&d, LX_DELTA_FINISH);
    if ((rc = lx_wire_str(doc, dl, "stop_reason", st->scratch, &d.finish_raw)) != LX_OK ||
        (rc = lx_wire_str(doc, dl, "stop_sequence", st->scratch, &d.stop_sequence)) != LX_OK)
        return ant_ev_bad(err, rc, "bad stop_reason");
    if (d.finish_raw.len > 0) {
        d.finish = ant_finish(d.finish_raw);
        rc = lx_wire_emit(sink, &d);
        if (rc != LX_OK)
            return rc;
    }
    if (lx_json_type(doc, u) != LX_JSON_OBJECT)
        return LX_OK;
    ant_delta_init(&d, LX_DELTA_USAGE);
    ant_usage(doc, u, &d.usage);
    return lx_wire_emit(sink, &d);
}

static int ant_ev_error(struct lx_stream_state *st, const struct lx_json *doc,
                        const struct lx_delta_sink *sink)
{
    struct lx_upstream_error *e = lx_arena_zalloc(st->scratch, sizeof(*e));
    struct lx_delta d;

    if (e == NULL)
        return LX_ENOMEM;
    ant_error_object(doc, st->scratch, 0, st->call != NULL ? st->call->key : LX_STR_NULL, e);
    if (e->message.len == 0)
        e->message = LX_STR("the upstream stream failed");
    ant_delta_init(&d, LX_DELTA_ERROR);
    d.error = e;
    st->failed = true;
    return lx_wire_emit(sink, &d);
}

static int ant_parse_event(struct lx_stream_state *st, const struct lx_stream_event *ev,
                           const struct lx_delta_sink *sink, struct lx_err *err)
{
    struct ant_stream *ps = st->priv;
    struct lx_json doc;
    int t, rc;

    if (st->done || st->failed)
        return LX_OK; /* nothing follows the end */
    if (ps == NULL) {
        ps = lx_arena_zalloc(st->a, sizeof(*ps));
        if (ps == NULL)
            return LX_ENOMEM;
        st->priv = ps;
    }
    lx_wire_json_init(&doc, st->scratch);
    rc = lx_json_parse(&doc, ev->data.ptr, ev->data.len);
    if (rc == LX_ENOMEM)
        return ant_nomem(err);
    if (rc != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT)
        return ant_ev_fail(err, "not a JSON object");
    t = lx_json_get(&doc, 0, LX_STR("type"));
    if (lx_json_type(&doc, t) != LX_JSON_STRING) {
        /* an error without "type" (a proxy's {"error":{...}}) is still an error */
        if (lx_json_get(&doc, 0, LX_STR("error")) >= 0 || lx_str_eq(ev->event, LX_STR("error")))
            return ant_ev_error(st, &doc, sink);
        return ant_ev_fail(err, "no type");
    }
    if (lx_json_str_eq(&doc, t, LX_STR("content_block_delta")))
        return ant_ev_block_delta(st, ps, &doc, sink, err);
    if (lx_json_str_eq(&doc, t, LX_STR("message_start")))
        return ant_ev_message_start(st, ps, &doc, sink, err);
    if (lx_json_str_eq(&doc, t, LX_STR("content_block_start")))
        return ant_ev_block_start(st, ps, &doc, sink, err);
    if (lx_json_str_eq(&doc, t, LX_STR("content_block_stop")))
        return ant_ev_block_stop(ps, &doc, sink, err);
    if (lx_json_str_eq(&doc, t, LX_STR("message_delta")))
        return ant_ev_message_delta(st, &doc, sink, err);
    if (lx_json_str_eq(&doc, t, LX_STR("message_stop"))) {
        struct lx_delta d;

        ant_delta_init(&d, LX_DELTA_DONE);
        st->done = true;
        return lx_wire_emit(sink, &d);
    }
    if (lx_json_str_eq(&doc, t, LX_STR("error")))
        return ant_ev_error(st, &doc, sink);
    return LX_OK; /* ping, and event types Anthropic may add (documented as allowed) */
}

const struct lx_provider_ops lx_provider_anthropic = {
    .name = "anthropic",
    .caps = LX_CAP_STREAM | LX_CAP_TOOLS | LX_CAP_VISION | LX_CAP_IMAGE_URL | LX_CAP_COUNT_TOKENS,
    .framing = LX_FRAMING_SSE,
    .build_request = ant_build_request,
    .parse_response = ant_parse_response,
    .parse_event = ant_parse_event,
    .map_error = ant_map_error,
    .build_embeddings = NULL,
    .parse_embeddings = NULL,
};
