/* openai.c - the OpenAI-compatible provider adapter (lx_provider_openai): IR -> an OpenAI Chat
 * Completions request (OpenAI, Groq, Mistral, DeepSeek, OpenRouter, xAI, Together, DashScope,
 * Moonshot, vLLM, Ollama /v1 ...), and their answers, stream chunks and errors -> IR. Also the
 * wire code azure.c shares (openai_wire.h). Owned by the OpenAI provider adapter.
 *
 * Pure translator (STYLE.md 3.6): no I/O, no globals, no clock; memory from the arenas given
 * (the request body is written into a bounded lx_buf, copied into the arena and released before
 * return, as sigv4.c does). Any thread. Mapping tables and traps:
 * docs/internals/provider-openai.md. */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/escape.h"
#include "core/str.h"
#include "providers/openai_wire.h"
#include "providers/wire.h"
#include "json/json.h"
#include "json/writer.h"

#define OAI_MAX_BODY ((size_t)64 << 20) /* a request body we are willing to build */
#define OAI_MAX_CHOICES 1024u           /* choice indexes in a stream */
#define OAI_MAX_CALLS 4096u             /* tool calls in one stream */
#define OAI_MAX_MSG 512u                /* bytes of a non-JSON error body kept as message */

/* ---- small helpers ---------------------------------------------------------------------- */

/* OpenAI itself and Azure take max_completion_tokens and the "developer" role. */
static bool oai_is_openai_proper(const struct lx_provider_call *call)
{
    return lx_wire_type_is(call, "openai") || lx_wire_type_is(call, "azure") ||
           (call != NULL && call->conf != NULL && call->conf->proto == LX_CONFIG_PROTO_AZURE);
}

/* ---- target: method, URL, headers ------------------------------------------------------- */

static bool oai_path_ok(const char *path)
{
    return path != NULL && (strcmp(path, "/chat/completions") == 0 ||
                            strcmp(path, "/completions") == 0 || strcmp(path, "/embeddings") == 0);
}

static bool oai_has_header(const struct lx_header *h, size_t n, const char *name)
{
    return lx_header_find(h, n, lx_str_cstr(name)) != NULL;
}

/* Content-Type, Accept, the credential (Bearer or Azure api-key), the configured headers (those
 * we already set win), X-Title for OpenRouter. */
static int oai_headers(const struct lx_provider_call *call, bool azure, struct lx_arena *a,
                       struct lx_upstream_req *out)
{
    const struct lx_config_provider *conf = call->conf;
    size_t max = 4 + conf->n_headers, n = 0;
    struct lx_header *h = lx_arena_zalloc(a, max * sizeof(*h));

    if (h == NULL)
        return LX_ENOMEM;
    h[n++] = (struct lx_header){LX_STR("Content-Type"), LX_STR("application/json")};
    h[n++] = (struct lx_header){LX_STR("Accept"), call->stream && call->endpoint == LX_EP_CHAT
                                                      ? LX_STR("text/event-stream")
                                                      : LX_STR("application/json")};
    if (call->key.len > 0) {
        if (azure) {
            h[n++] = (struct lx_header){LX_STR("api-key"), call->key};
        } else {
            struct lx_str parts[2] = {LX_STR("Bearer "), call->key};
            struct lx_str v = lx_wire_concat(a, parts, 2);

            if (v.ptr == NULL)
                return LX_ENOMEM;
            h[n++] = (struct lx_header){LX_STR("Authorization"), v};
        }
    }
    for (size_t i = 0; i < conf->n_headers; i++) {
        if (lx_header_find(h, n, conf->headers[i].name) != NULL)
            continue;
        h[n++] = conf->headers[i];
    }
    if (lx_wire_type_is(call, "openrouter") && !oai_has_header(h, n, "X-Title"))
        h[n++] = (struct lx_header){LX_STR("X-Title"), LX_STR("llmux")};
    out->headers = h;
    out->n_headers = n;
    return LX_OK;
}

int lx_openai_target(const struct lx_provider_call *call, const char *path, struct lx_arena *a,
                     struct lx_upstream_req *out)
{
    struct lx_str parts[2];

    memset(out, 0, sizeof(*out));
    if (call == NULL || call->conf == NULL || call->conf->base_url == NULL || !oai_path_ok(path))
        return LX_EINVAL;
    parts[0] = lx_str_cstr(call->conf->base_url);
    parts[1] = lx_str_cstr(path);
    out->method = LX_STR("POST");
    out->url = lx_wire_concat(a, parts, 2);
    if (out->url.ptr == NULL)
        return LX_ENOMEM;
    return oai_headers(call, false, a, out);
}

int lx_azure_target(const struct lx_provider_call *call, const char *path, struct lx_arena *a,
                    struct lx_upstream_req *out)
{
    const struct lx_config_provider *conf;
    struct lx_str parts[6];
    size_t n = 0;

    memset(out, 0, sizeof(*out));
    if (call == NULL || call->conf == NULL || call->conf->base_url == NULL || !oai_path_ok(path))
        return LX_EINVAL;
    conf = call->conf;
    parts[n++] = lx_str_cstr(conf->base_url);
    if (conf->api_version != NULL && conf->api_version[0] != '\0') {
        struct lx_str dep;

        if (call->model.len == 0)
            return LX_EINVAL;
        dep = lx_wire_path_escape(a, call->model);
        if (dep.ptr == NULL)
            return LX_ENOMEM;
        parts[n++] = LX_STR("/openai/deployments/");
        parts[n++] = dep;
        parts[n++] = lx_str_cstr(path);
        parts[n++] = LX_STR("?api-version=");
        parts[n++] = lx_wire_path_escape(a, lx_str_cstr(conf->api_version));
        if (parts[n - 1].ptr == NULL)
            return LX_ENOMEM;
    } else {
        parts[n++] = LX_STR("/openai/v1");
        parts[n++] = lx_str_cstr(path);
    }
    out->method = LX_STR("POST");
    out->url = lx_wire_concat(a, parts, n);
    if (out->url.ptr == NULL)
        return LX_ENOMEM;
    return oai_headers(call, true, a, out);
}

/* ---- request body ----------------------------------------------------------------------- */

#define OAI_KEY(w, lit) lx_json_write_key((w), LX_STR(lit))

static struct lx_str oai_data_url(struct lx_arena *a, const struct lx_part *p)
{
    struct lx_str parts[4] = {LX_STR("data:"), p->media_type, LX_STR(";base64,"), p->data};

    return lx_wire_concat(a, parts, 4);
}

static struct lx_str oai_audio_format(struct lx_str mt)
{
    long slash = lx_str_find_char(mt, '/');
    struct lx_str sub = slash >= 0 ? lx_str_sub(mt, (size_t)slash + 1, mt.len) : mt;

    if (lx_str_eq(sub, LX_STR("mpeg")) || lx_str_eq(sub, LX_STR("mp3")))
        return LX_STR("mp3");
    if (lx_str_eq(sub, LX_STR("x-wav")) || lx_str_eq(sub, LX_STR("wave")) || sub.len == 0)
        return LX_STR("wav");
    return sub;
}

/* One user content part. LX_EINVAL (err set) for what the protocol cannot carry. */
static int oai_write_user_part(struct lx_json_writer *w, const struct lx_part *p,
                               struct lx_arena *a, struct lx_err *err)
{
    struct lx_str url;

    switch (p->type) {
    case LX_PART_TEXT:
        lx_json_write_object_begin(w);
        OAI_KEY(w, "type");
        lx_json_write_str(w, LX_STR("text"));
        OAI_KEY(w, "text");
        lx_json_write_str(w, p->text);
        return lx_json_write_object_end(w);
    case LX_PART_IMAGE:
        if (p->url.len > 0) {
            url = p->url;
        } else if (p->data.len > 0) {
            url = oai_data_url(a, p);
            if (url.ptr == NULL)
                return LX_ENOMEM;
        } else {
            lx_err_set(err, LX_EINVAL, 400, "an image part has neither data nor url");
            return LX_EINVAL;
        }
        lx_json_write_object_begin(w);
        OAI_KEY(w, "type");
        lx_json_write_str(w, LX_STR("image_url"));
        OAI_KEY(w, "image_url");
        lx_json_write_object_begin(w);
        OAI_KEY(w, "url");
        lx_json_write_str(w, url);
        if (p->detail.len > 0) {
            OAI_KEY(w, "detail");
            lx_json_write_str(w, p->detail);
        }
        lx_json_write_object_end(w);
        return lx_json_write_object_end(w);
    case LX_PART_AUDIO:
        if (p->data.len == 0) {
            lx_err_set(err, LX_EINVAL, 400, "audio input must be inline data");
            return LX_EINVAL;
        }
        lx_json_write_object_begin(w);
        OAI_KEY(w, "type");
        lx_json_write_str(w, LX_STR("input_audio"));
        OAI_KEY(w, "input_audio");
        lx_json_write_object_begin(w);
        OAI_KEY(w, "data");
        lx_json_write_str(w, p->data);
        OAI_KEY(w, "format");
        lx_json_write_str(w, oai_audio_format(p->media_type));
        lx_json_write_object_end(w);
        return lx_json_write_object_end(w);
    case LX_PART_FILE:
        if (p->data.len == 0) {
            lx_err_set(err, LX_EINVAL, 400,
                       "file parts by URL are not supported by OpenAI-compatible providers");
            return LX_EINVAL;
        }
        url = oai_data_url(a, p);
        if (url.ptr == NULL)
            return LX_ENOMEM;
        lx_json_write_object_begin(w);
        OAI_KEY(w, "type");
        lx_json_write_str(w, LX_STR("file"));
        OAI_KEY(w, "file");
        lx_json_write_object_begin(w);
        OAI_KEY(w, "filename");
        lx_json_write_str(w, p->name.len > 0 ? p->name
                             : lx_str_eq(p->media_type, LX_STR("application/pdf"))
                                 ? LX_STR("document.pdf")
                                 : LX_STR("document"));
        OAI_KEY(w, "file_data");
        lx_json_write_str(w, url);
        lx_json_write_object_end(w);
        return lx_json_write_object_end(w);
    case LX_PART_THINKING:
    case LX_PART_REDACTED_THINKING:
    case LX_PART_TOOL_RESULT: return LX_OK; /* dropped / written apart by the caller */
    case LX_PART_TOOL_CALL: break;
    }
    lx_err_set(err, LX_EINVAL, 400, "a tool call cannot appear in a user message");
    return LX_EINVAL;
}

static bool oai_user_part_kept(const struct lx_part *p)
{
    return p->type != LX_PART_THINKING && p->type != LX_PART_REDACTED_THINKING &&
           p->type != LX_PART_TOOL_RESULT;
}

/* Writes an empty string value through the writer (so its comma/key state is right) and reopens
 * it before the closing quote: the caller appends escaped text and the closing '"'. False after
 * an error (the sticky error is reported at the end). */
static bool oai_string_open(struct lx_json_writer *w)
{
    if (w->b->err != LX_OK || w->err != LX_OK)
        return false;
    if (lx_json_write_raw(w, LX_STR("\"\"")) != LX_OK || w->b->err != LX_OK || w->b->len == 0)
        return false;
    w->b->len--;
    return true;
}

/* A "tool" message for one TOOL_RESULT part. Sub parts must be text (joined with "\n"). */
static int oai_write_tool_msg(struct lx_json_writer *w, const struct lx_part *p,
                              struct lx_err *err)
{
    lx_json_write_object_begin(w);
    OAI_KEY(w, "role");
    lx_json_write_str(w, LX_STR("tool"));
    OAI_KEY(w, "tool_call_id");
    lx_json_write_str(w, p->id);
    OAI_KEY(w, "content");
    if (p->n_sub == 0) {
        lx_json_write_str(w, p->text);
    } else {
        struct lx_buf *b = w->b;
        size_t n_text = 0;

        /* write the joined text as one JSON string, escaped piece by piece */
        if (oai_string_open(w)) {
            for (size_t i = 0; i < p->n_sub; i++) {
                const struct lx_part *s = &p->sub[i];

                if (s->type != LX_PART_TEXT) {
                    lx_err_set(err, LX_EINVAL, 400,
                               "tool results with images or files are not supported by "
                               "OpenAI-compatible providers");
                    return LX_EINVAL;
                }
                if (n_text++ > 0)
                    lx_buf_append_cstr(b, "\\n");
                lx_json_escape(b, s->text);
            }
            lx_buf_append_char(b, '"');
        }
    }
    return lx_json_write_object_end(w); /* OpenAI's tool messages take no name */
}

static int oai_write_text_content(struct lx_json_writer *w, const struct lx_msg *m,
                                  struct lx_str sep)
{
    struct lx_buf *b = w->b;
    size_t n = 0;

    if (!oai_string_open(w))
        return LX_OK;
    for (size_t i = 0; i < m->n_parts; i++) {
        if (m->parts[i].type != LX_PART_TEXT)
            continue;
        if (n++ > 0)
            lx_json_escape(b, sep);
        lx_json_escape(b, m->parts[i].text);
    }
    return lx_buf_append_char(b, '"');
}

static int oai_write_messages(struct lx_json_writer *w, const struct lx_provider_call *call,
                              const struct lx_chat_req *req, struct lx_arena *a,
                              struct lx_err *err)
{
    bool proper = oai_is_openai_proper(call);
    int rc;

    OAI_KEY(w, "messages");
    lx_json_write_array_begin(w);
    for (size_t i = 0; i < req->n_msgs; i++) {
        const struct lx_msg *m = &req->msgs[i];

        switch (m->role) {
        case LX_ROLE_SYSTEM:
        case LX_ROLE_DEVELOPER:
            lx_json_write_object_begin(w);
            OAI_KEY(w, "role");
            lx_json_write_str(w, m->role == LX_ROLE_DEVELOPER && proper ? LX_STR("developer")
                                                                        : LX_STR("system"));
            OAI_KEY(w, "content");
            oai_write_text_content(w, m, LX_STR("\n\n"));
            lx_json_write_object_end(w);
            break;
        case LX_ROLE_TOOL:
            for (size_t j = 0; j < m->n_parts; j++) {
                if (m->parts[j].type != LX_PART_TOOL_RESULT)
                    continue;
                rc = oai_write_tool_msg(w, &m->parts[j], err);
                if (rc != LX_OK)
                    return rc;
            }
            break;
        case LX_ROLE_USER: {
            size_t n_kept = 0, n_text = 0;

            for (size_t j = 0; j < m->n_parts; j++) {
                if (m->parts[j].type == LX_PART_TOOL_RESULT) {
                    rc = oai_write_tool_msg(w, &m->parts[j], err);
                    if (rc != LX_OK)
                        return rc;
                } else if (oai_user_part_kept(&m->parts[j])) {
                    n_kept++;
                    n_text += m->parts[j].type == LX_PART_TEXT;
                }
            }
            if (n_kept == 0 && m->n_parts > 0)
                break; /* only tool results (Anthropic style): no user message left */
            lx_json_write_object_begin(w);
            OAI_KEY(w, "role");
            lx_json_write_str(w, LX_STR("user"));
            if (m->name.len > 0) {
                OAI_KEY(w, "name");
                lx_json_write_str(w, m->name);
            }
            OAI_KEY(w, "content");
            if (n_kept == n_text && n_kept <= 1) {
                oai_write_text_content(w, m, LX_STR(""));
            } else {
                lx_json_write_array_begin(w);
                for (size_t j = 0; j < m->n_parts; j++) {
                    rc = oai_write_user_part(w, &m->parts[j], a, err);
                    if (rc != LX_OK)
                        return rc;
                }
                lx_json_write_array_end(w);
            }
            lx_json_write_object_end(w);
            break;
        }
        case LX_ROLE_ASSISTANT: {
            size_t n_text = 0, n_calls = 0;

            for (size_t j = 0; j < m->n_parts; j++) {
                n_text += m->parts[j].type == LX_PART_TEXT;
                n_calls += m->parts[j].type == LX_PART_TOOL_CALL;
            }
            lx_json_write_object_begin(w);
            OAI_KEY(w, "role");
            lx_json_write_str(w, LX_STR("assistant"));
            if (m->name.len > 0) {
                OAI_KEY(w, "name");
                lx_json_write_str(w, m->name);
            }
            OAI_KEY(w, "content");
            if (n_text == 0 && n_calls > 0)
                lx_json_write_null(w);
            else
                oai_write_text_content(w, m, LX_STR(""));
            if (n_calls > 0) {
                OAI_KEY(w, "tool_calls");
                lx_json_write_array_begin(w);
                for (size_t j = 0; j < m->n_parts; j++) {
                    const struct lx_part *p = &m->parts[j];

                    if (p->type != LX_PART_TOOL_CALL)
                        continue;
                    lx_json_write_object_begin(w);
                    OAI_KEY(w, "id");
                    lx_json_write_str(w, p->id);
                    OAI_KEY(w, "type");
                    lx_json_write_str(w, LX_STR("function"));
                    OAI_KEY(w, "function");
                    lx_json_write_object_begin(w);
                    OAI_KEY(w, "name");
                    lx_json_write_str(w, p->name);
                    OAI_KEY(w, "arguments");
                    lx_json_write_str(w, p->args.len > 0 ? p->args : LX_STR("{}"));
                    lx_json_write_object_end(w);
                    lx_json_write_object_end(w);
                }
                lx_json_write_array_end(w);
            }
            lx_json_write_object_end(w);
            break;
        }
        }
    }
    return lx_json_write_array_end(w);
}

static const char *const oai_own_keys[] = {
    "model", "messages", "tools", "tool_choice", "parallel_tool_calls", "max_tokens",
    "max_completion_tokens", "temperature", "top_p", "presence_penalty", "frequency_penalty",
    "top_k", "stop", "n", "seed", "random_seed", "response_format", "reasoning_effort", "user",
    "metadata", "stream", "stream_options",
};

static bool oai_own_key(struct lx_str k)
{
    return lx_wire_str_in(k, oai_own_keys, sizeof(oai_own_keys) / sizeof(oai_own_keys[0]));
}

static const char *oai_effort(enum lx_effort e)
{
    switch (e) {
    case LX_EFFORT_NONE: return "none";
    case LX_EFFORT_MINIMAL: return "minimal";
    case LX_EFFORT_LOW: return "low";
    case LX_EFFORT_MEDIUM: return "medium";
    case LX_EFFORT_HIGH: return "high";
    case LX_EFFORT_UNSET: break;
    }
    return NULL;
}

int lx_oai_chat_body(const struct lx_provider_call *call, const struct lx_chat_req *req,
                     struct lx_arena *a, struct lx_str *body, struct lx_err *err)
{
    struct lx_buf b = LX_BUF_INIT(OAI_MAX_BODY);
    struct lx_json_writer w;
    bool mistral = lx_wire_type_is(call, "mistral"), wrote_reasoning = false;
    int rc;

    lx_json_writer_init(&w, &b);
    lx_json_write_object_begin(&w);
    OAI_KEY(&w, "model");
    lx_json_write_str(&w, call->model.len > 0 ? call->model : req->model);
    rc = oai_write_messages(&w, call, req, a, err);
    if (rc == LX_EINVAL) {
        lx_buf_release(&b);
        return rc;
    }
    if (req->n_tools > 0) {
        OAI_KEY(&w, "tools");
        lx_json_write_array_begin(&w);
        for (size_t i = 0; i < req->n_tools; i++) {
            const struct lx_tool *t = &req->tools[i];

            lx_json_write_object_begin(&w);
            OAI_KEY(&w, "type");
            lx_json_write_str(&w, LX_STR("function"));
            OAI_KEY(&w, "function");
            lx_json_write_object_begin(&w);
            OAI_KEY(&w, "name");
            lx_json_write_str(&w, t->name);
            if (t->description.len > 0) {
                OAI_KEY(&w, "description");
                lx_json_write_str(&w, t->description);
            }
            if (t->parameters.len > 0) {
                OAI_KEY(&w, "parameters");
                lx_json_write_raw(&w, t->parameters);
            }
            if (t->strict) {
                OAI_KEY(&w, "strict");
                lx_json_write_bool(&w, true);
            }
            lx_json_write_object_end(&w);
            lx_json_write_object_end(&w);
        }
        lx_json_write_array_end(&w);
    }
    switch (req->tool_choice) {
    case LX_TOOL_CHOICE_AUTO:
        OAI_KEY(&w, "tool_choice");
        lx_json_write_str(&w, LX_STR("auto"));
        break;
    case LX_TOOL_CHOICE_NONE:
        OAI_KEY(&w, "tool_choice");
        lx_json_write_str(&w, LX_STR("none"));
        break;
    case LX_TOOL_CHOICE_REQUIRED:
        OAI_KEY(&w, "tool_choice");
        lx_json_write_str(&w, LX_STR("required"));
        break;
    case LX_TOOL_CHOICE_NAMED:
        OAI_KEY(&w, "tool_choice");
        lx_json_write_object_begin(&w);
        OAI_KEY(&w, "type");
        lx_json_write_str(&w, LX_STR("function"));
        OAI_KEY(&w, "function");
        lx_json_write_object_begin(&w);
        OAI_KEY(&w, "name");
        lx_json_write_str(&w, req->tool_choice_name);
        lx_json_write_object_end(&w);
        lx_json_write_object_end(&w);
        break;
    case LX_TOOL_CHOICE_UNSET: break;
    }
    if (req->parallel_tool_calls >= 0 && req->n_tools > 0) {
        OAI_KEY(&w, "parallel_tool_calls");
        lx_json_write_bool(&w, req->parallel_tool_calls != 0);
    }
    if (req->max_tokens >= 0) {
        lx_json_write_key(&w, oai_is_openai_proper(call) ? LX_STR("max_completion_tokens")
                                                         : LX_STR("max_tokens"));
        lx_json_write_int(&w, req->max_tokens);
    }
    lx_wire_write_num(&w, "temperature", &req->temperature);
    lx_wire_write_num(&w, "top_p", &req->top_p);
    lx_wire_write_num(&w, "presence_penalty", &req->presence_penalty);
    lx_wire_write_num(&w, "frequency_penalty", &req->frequency_penalty);
    if (req->top_k >= 0 &&
        (lx_wire_type_is(call, "openrouter") || lx_wire_type_is(call, "together") ||
         lx_wire_type_is(call, "fireworks") || lx_wire_type_is(call, "vllm"))) {
        OAI_KEY(&w, "top_k");
        lx_json_write_int(&w, req->top_k);
    }
    if (req->n_stop > 0) {
        OAI_KEY(&w, "stop");
        lx_wire_write_strs(&w, req->stop, req->n_stop);
    }
    if (req->n >= 0) {
        OAI_KEY(&w, "n");
        lx_json_write_int(&w, req->n);
    }
    if (req->has_seed) {
        lx_json_write_key(&w, mistral ? LX_STR("random_seed") : LX_STR("seed"));
        lx_json_write_int(&w, req->seed);
    }
    switch (req->response_format) {
    case LX_RF_TEXT:
    case LX_RF_JSON_OBJECT:
        OAI_KEY(&w, "response_format");
        lx_json_write_object_begin(&w);
        OAI_KEY(&w, "type");
        lx_json_write_str(&w, req->response_format == LX_RF_TEXT ? LX_STR("text")
                                                                 : LX_STR("json_object"));
        lx_json_write_object_end(&w);
        break;
    case LX_RF_JSON_SCHEMA:
        OAI_KEY(&w, "response_format");
        lx_json_write_object_begin(&w);
        OAI_KEY(&w, "type");
        lx_json_write_str(&w, LX_STR("json_schema"));
        OAI_KEY(&w, "json_schema");
        lx_json_write_object_begin(&w);
        OAI_KEY(&w, "name");
        lx_json_write_str(&w, req->schema_name.len > 0 ? req->schema_name : LX_STR("response"));
        OAI_KEY(&w, "schema");
        lx_json_write_raw(&w, req->schema.len > 0 ? req->schema : LX_STR("{}"));
        OAI_KEY(&w, "strict");
        lx_json_write_bool(&w, req->schema_strict);
        lx_json_write_object_end(&w);
        lx_json_write_object_end(&w);
        break;
    case LX_RF_UNSET: break;
    }
    if (oai_effort(req->effort) != NULL) {
        OAI_KEY(&w, "reasoning_effort");
        lx_json_write_str(&w, lx_str_cstr(oai_effort(req->effort)));
    }
    if (oai_effort(req->effort) == NULL && req->thinking == LX_THINKING_ENABLED &&
        lx_wire_type_is(call, "openrouter")) {
        /* an Anthropic/Gemini client's thinking budget: OpenRouter's reasoning object */
        wrote_reasoning = true;
        OAI_KEY(&w, "reasoning");
        lx_json_write_object_begin(&w);
        if (req->thinking_budget > 0) {
            OAI_KEY(&w, "max_tokens");
            lx_json_write_int(&w, req->thinking_budget);
        } else {
            OAI_KEY(&w, "enabled");
            lx_json_write_bool(&w, true);
        }
        lx_json_write_object_end(&w);
    }
    if (req->user.len > 0 && !mistral) {
        OAI_KEY(&w, "user");
        lx_json_write_str(&w, req->user);
    }
    if (req->metadata.len > 0 && req->source == LX_SRC_OPENAI) {
        OAI_KEY(&w, "metadata");
        lx_json_write_raw(&w, req->metadata);
    }
    if (call->stream || req->stream) {
        OAI_KEY(&w, "stream");
        lx_json_write_bool(&w, true);
        if (!mistral) { /* Mistral rejects stream_options (422) and always sends usage */
            OAI_KEY(&w, "stream_options");
            lx_json_write_object_begin(&w);
            OAI_KEY(&w, "include_usage");
            lx_json_write_bool(&w, true);
            lx_json_write_object_end(&w);
        }
    }
    if (req->source == LX_SRC_OPENAI) {
        for (size_t i = 0; i < req->n_extra; i++) {
            if (oai_own_key(req->extra[i].key) || req->extra[i].value.len == 0 ||
                (wrote_reasoning && lx_str_eq(req->extra[i].key, LX_STR("reasoning"))))
                continue;
            lx_json_write_key(&w, req->extra[i].key);
            lx_json_write_raw(&w, req->extra[i].value);
        }
    }
    lx_json_write_object_end(&w);
    return lx_wire_body_done(&w, &b, a, body, err);
}

static int oai_build_request(const struct lx_provider_call *call, const struct lx_chat_req *req,
                             struct lx_arena *a, struct lx_upstream_req *out, struct lx_err *err)
{
    int rc;

    if (call->endpoint != LX_EP_CHAT) {
        lx_err_set(err, LX_EINVAL, 400, "this provider has no token counting endpoint");
        return LX_EINVAL;
    }
    rc = lx_openai_target(call, "/chat/completions", a, out);
    if (rc != LX_OK) {
        lx_err_set(err, rc, 500, "cannot build the upstream URL: %s", lx_strerror(rc));
        return rc;
    }
    return lx_oai_chat_body(call, req, a, &out->body, err);
}

int lx_oai_embed_body(const struct lx_provider_call *call, const struct lx_embed_req *req,
                      struct lx_arena *a, struct lx_str *body, struct lx_err *err)
{
    struct lx_buf b = LX_BUF_INIT(OAI_MAX_BODY);
    struct lx_json_writer w;

    lx_json_writer_init(&w, &b);
    lx_json_write_object_begin(&w);
    OAI_KEY(&w, "model");
    lx_json_write_str(&w, call->model.len > 0 ? call->model : req->model);
    OAI_KEY(&w, "input");
    lx_json_write_array_begin(&w);
    for (size_t i = 0; i < req->n_inputs; i++)
        lx_json_write_str(&w, req->inputs[i]);
    lx_json_write_array_end(&w);
    OAI_KEY(&w, "encoding_format");
    lx_json_write_str(&w, LX_STR("float"));
    if (req->dimensions >= 0) {
        OAI_KEY(&w, "dimensions");
        lx_json_write_int(&w, req->dimensions);
    }
    if (req->user.len > 0 && !lx_wire_type_is(call, "mistral")) {
        OAI_KEY(&w, "user");
        lx_json_write_str(&w, req->user);
    }
    lx_json_write_object_end(&w);
    return lx_wire_body_done(&w, &b, a, body, err);
}

static int oai_build_embeddings(const struct lx_provider_call *call,
                                const struct lx_embed_req *req, struct lx_arena *a,
                                struct lx_upstream_req *out, struct lx_err *err)
{
    int rc = lx_openai_target(call, "/embeddings", a, out);

    if (rc != LX_OK) {
        lx_err_set(err, rc, 500, "cannot build the upstream URL: %s", lx_strerror(rc));
        return rc;
    }
    return lx_oai_embed_body(call, req, a, &out->body, err);
}

/* ---- decoding shared by answers and chunks ---------------------------------------------- */

enum lx_finish lx_oai_finish(struct lx_str raw)
{
    static const struct {
        const char *word;
        enum lx_finish f;
    } map[] = {
        {"stop", LX_FINISH_STOP},
        {"eos", LX_FINISH_STOP},
        {"end_turn", LX_FINISH_STOP},
        {"length", LX_FINISH_LENGTH},
        {"model_length", LX_FINISH_LENGTH},
        {"max_tokens", LX_FINISH_LENGTH},
        {"tool_calls", LX_FINISH_TOOL_CALLS},
        {"function_call", LX_FINISH_TOOL_CALLS},
        {"tool_use", LX_FINISH_TOOL_CALLS},
        {"content_filter", LX_FINISH_CONTENT_FILTER},
        {"error", LX_FINISH_ERROR},
        {"insufficient_system_resource", LX_FINISH_ERROR},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (lx_str_eq(raw, lx_str_cstr(map[i].word)))
            return map[i].f;
    return LX_FINISH_STOP;
}

/* A string member decoded into a; empty when absent, null or not a string. */
static int oai_str(const struct lx_json *doc, int obj, const char *key, struct lx_arena *a,
                   struct lx_str *out)
{
    int t = lx_json_get(doc, obj, lx_str_cstr(key));

    *out = LX_STR_NULL;
    if (lx_json_type(doc, t) != LX_JSON_STRING)
        return LX_OK;
    return lx_json_str(doc, t, a, out);
}

static void oai_usage(const struct lx_json *doc, int u, struct lx_usage *out)
{
    int d;

    *out = (struct lx_usage)LX_USAGE_INIT;
    if (lx_json_type(doc, u) != LX_JSON_OBJECT)
        return;
    out->input = lx_wire_int(doc, u, "prompt_tokens");
    out->output = lx_wire_int(doc, u, "completion_tokens");
    out->total = lx_wire_int(doc, u, "total_tokens");
    d = lx_json_get(doc, u, LX_STR("prompt_tokens_details"));
    if (lx_json_type(doc, d) == LX_JSON_OBJECT)
        out->cache_read = lx_wire_int(doc, d, "cached_tokens");
    if (out->cache_read < 0)
        out->cache_read = lx_wire_int(doc, u, "prompt_cache_hit_tokens"); /* DeepSeek */
    d = lx_json_get(doc, u, LX_STR("completion_tokens_details"));
    if (lx_json_type(doc, d) == LX_JSON_OBJECT)
        out->reasoning = lx_wire_int(doc, d, "reasoning_tokens");
    /* xAI leaves reasoning out of completion_tokens (its total adds all three): the IR counts
     * it in output */
    if (out->reasoning > 0 && out->input >= 0 && out->output >= 0 && out->total >= 0 &&
        out->total != out->input + out->output &&
        out->total == out->input + out->output + out->reasoning)
        out->output += out->reasoning;
    if (out->total < 0 && out->input >= 0 && out->output >= 0)
        out->total = out->input + out->output;
}

/* Calls fn for each text piece of a message's or delta's content: a string, or Mistral's array
 * of {type:"text",text} / {type:"thinking",thinking:[{type:"text",text}]} chunks. */
typedef int oai_piece_fn(void *ctx, bool thinking, struct lx_str text);

static int oai_content_pieces(const struct lx_json *doc, int c, struct lx_arena *a,
                              oai_piece_fn *fn, void *ctx)
{
    struct lx_str s;
    int rc;

    switch (lx_json_type(doc, c)) {
    case LX_JSON_NONE:
    case LX_JSON_NULL: return LX_OK;
    case LX_JSON_STRING:
        rc = lx_json_str(doc, c, a, &s);
        if (rc != LX_OK)
            return rc;
        return s.len > 0 ? fn(ctx, false, s) : LX_OK;
    case LX_JSON_ARRAY:
        for (int e = lx_json_first(doc, c); e >= 0; e = lx_json_sibling(doc, c, e)) {
            int type = lx_json_get(doc, e, LX_STR("type"));

            if (lx_json_str_eq(doc, type, LX_STR("text"))) {
                rc = oai_str(doc, e, "text", a, &s);
                if (rc == LX_OK && s.len > 0)
                    rc = fn(ctx, false, s);
            } else if (lx_json_str_eq(doc, type, LX_STR("thinking"))) {
                int th = lx_json_get(doc, e, LX_STR("thinking"));

                rc = LX_OK;
                if (lx_json_type(doc, th) == LX_JSON_STRING) {
                    rc = lx_json_str(doc, th, a, &s);
                    if (rc == LX_OK && s.len > 0)
                        rc = fn(ctx, true, s);
                }
                for (int t = lx_json_first(doc, th);
                     rc == LX_OK && lx_json_type(doc, th) == LX_JSON_ARRAY && t >= 0;
                     t = lx_json_sibling(doc, th, t)) {
                    rc = oai_str(doc, t, "text", a, &s);
                    if (rc == LX_OK && s.len > 0)
                        rc = fn(ctx, true, s);
                }
            } else {
                rc = LX_OK; /* other chunk types (references, images): not text */
            }
            if (rc != LX_OK)
                return rc;
        }
        return LX_OK;
    default: return LX_EPARSE;
    }
}

/* The reasoning text of a message or delta: reasoning_content (DeepSeek, Moonshot, xAI, Qwen)
 * or reasoning (OpenRouter). */
static int oai_reasoning(const struct lx_json *doc, int obj, struct lx_arena *a,
                         struct lx_str *out)
{
    int rc = oai_str(doc, obj, "reasoning_content", a, out);

    if (rc == LX_OK && out->len == 0)
        rc = oai_str(doc, obj, "reasoning", a, out);
    return rc;
}

/* ---- parse_response --------------------------------------------------------------------- */

struct oai_parts {
    struct lx_part *p;
    size_t n, cap;
    struct lx_arena *a;
};

static struct lx_part *oai_parts_add(struct oai_parts *ps)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 4;
        struct lx_part *np = lx_arena_zalloc(ps->a, cap * sizeof(*np));

        if (np == NULL)
            return NULL;
        if (ps->n > 0)
            memcpy(np, ps->p, ps->n * sizeof(*np));
        ps->p = np;
        ps->cap = cap;
    }
    memset(&ps->p[ps->n], 0, sizeof(ps->p[0]));
    return &ps->p[ps->n++];
}

static int oai_resp_piece(void *ctx, bool thinking, struct lx_str text)
{
    struct oai_parts *ps = ctx;
    struct lx_part *p;

    /* one part per piece (Mistral's chunk arrays): merging them would copy quadratically */
    p = oai_parts_add(ps);
    if (p == NULL)
        return LX_ENOMEM;
    p->type = thinking ? LX_PART_THINKING : LX_PART_TEXT;
    p->text = text;
    return LX_OK;
}

static int oai_parse_choice(const struct lx_json *doc, int c, struct lx_arena *a,
                            struct lx_choice *out)
{
    struct oai_parts ps = {.a = a};
    int msg = lx_json_get(doc, c, LX_STR("message"));
    int calls, rc;
    int64_t idx = lx_wire_int(doc, c, "index");
    struct lx_str s;

    if (lx_json_type(doc, c) != LX_JSON_OBJECT)
        return LX_EPARSE;
    out->index = idx >= 0 && idx < (int64_t)OAI_MAX_CHOICES ? (unsigned)idx : 0;
    out->message.role = LX_ROLE_ASSISTANT;
    if (lx_json_type(doc, msg) != LX_JSON_OBJECT) {
        int text = lx_json_get(doc, c, LX_STR("text")); /* a legacy text_completion */

        if (lx_json_type(doc, text) != LX_JSON_STRING)
            return LX_EPARSE;
        msg = -1;
        rc = lx_json_str(doc, text, a, &s);
        if (rc == LX_OK && s.len > 0)
            rc = oai_resp_piece(&ps, false, s);
        if (rc != LX_OK)
            return rc;
    }
    rc = oai_reasoning(doc, msg, a, &s);
    if (rc == LX_OK && s.len > 0)
        rc = oai_resp_piece(&ps, true, s);
    if (rc == LX_OK)
        rc = oai_content_pieces(doc, lx_json_get(doc, msg, LX_STR("content")), a,
                                oai_resp_piece, &ps);
    if (rc == LX_OK)
        rc = oai_str(doc, msg, "refusal", a, &s);
    if (rc == LX_OK && s.len > 0)
        rc = oai_resp_piece(&ps, false, s);
    if (rc != LX_OK)
        return rc;
    calls = lx_json_get(doc, msg, LX_STR("tool_calls"));
    if (lx_json_type(doc, calls) == LX_JSON_ARRAY) {
        for (int t = lx_json_first(doc, calls); t >= 0; t = lx_json_sibling(doc, calls, t)) {
            int fn = lx_json_get(doc, t, LX_STR("function"));
            int args = lx_json_get(doc, fn, LX_STR("arguments"));
            struct lx_part *p;

            if (lx_json_type(doc, fn) != LX_JSON_OBJECT)
                return LX_EPARSE;
            p = oai_parts_add(&ps);
            if (p == NULL)
                return LX_ENOMEM;
            p->type = LX_PART_TOOL_CALL;
            rc = oai_str(doc, t, "id", a, &p->id);
            if (rc == LX_OK)
                rc = oai_str(doc, fn, "name", a, &p->name);
            if (rc != LX_OK)
                return rc;
            if (lx_json_type(doc, args) == LX_JSON_STRING) {
                rc = lx_json_str(doc, args, a, &p->args);
                if (rc != LX_OK)
                    return rc;
            } else if (lx_json_type(doc, args) == LX_JSON_OBJECT) {
                p->args = lx_json_raw(doc, args); /* some compatibles send the object itself */
            }
            if (p->args.len == 0)
                p->args = LX_STR("{}");
        }
    } else if (calls >= 0 && lx_json_type(doc, calls) != LX_JSON_NULL) {
        return LX_EPARSE;
    }
    out->message.parts = ps.p;
    out->message.n_parts = ps.n;
    rc = oai_str(doc, c, "finish_reason", a, &out->finish_raw);
    if (rc != LX_OK)
        return rc;
    out->finish = out->finish_raw.len > 0 ? lx_oai_finish(out->finish_raw) : LX_FINISH_UNSET;
    return LX_OK;
}

int lx_oai_parse_response(const struct lx_provider_call *call, struct lx_str body,
                          struct lx_arena *a, struct lx_chat_resp *out, struct lx_err *err)
{
    struct lx_json doc;
    int choices, rc;
    size_t n = 0;

    (void)call;
    lx_chat_resp_init(out);
    lx_wire_json_init(&doc, a);
    rc = lx_json_parse(&doc, body.ptr, body.len);
    if (rc != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT) {
        lx_err_set(err, LX_EPARSE, 502, "upstream answer is not a JSON object");
        return LX_EPARSE;
    }
    choices = lx_json_get(&doc, 0, LX_STR("choices"));
    if (lx_json_type(&doc, choices) != LX_JSON_ARRAY) {
        lx_err_set(err, LX_EPARSE, 502, "%s",
                   lx_json_get(&doc, 0, LX_STR("error")) >= 0
                       ? "upstream answered 200 with an error object"
                       : "upstream answer has no choices");
        return LX_EPARSE;
    }
    if (oai_str(&doc, 0, "id", a, &out->id) != LX_OK ||
        oai_str(&doc, 0, "model", a, &out->model) != LX_OK)
        goto bad;
    out->created = lx_wire_int(&doc, 0, "created");
    out->choices = lx_arena_zalloc(a, (lx_json_count(&doc, choices) + 1) * sizeof(*out->choices));
    if (out->choices == NULL) {
        lx_err_set(err, LX_ENOMEM, 500, "out of memory");
        return LX_ENOMEM;
    }
    for (int c = lx_json_first(&doc, choices); c >= 0; c = lx_json_sibling(&doc, choices, c)) {
        rc = oai_parse_choice(&doc, c, a, &out->choices[n]);
        if (rc == LX_ENOMEM) {
            lx_err_set(err, LX_ENOMEM, 500, "out of memory");
            return rc;
        }
        if (rc != LX_OK)
            goto bad;
        n++;
    }
    out->n_choices = n;
    oai_usage(&doc, lx_json_get(&doc, 0, LX_STR("usage")), &out->usage);
    return LX_OK;
bad:
    lx_err_set(err, LX_EPARSE, 502, "upstream answer is not a chat completion");
    return LX_EPARSE;
}

/* ---- parse_event ------------------------------------------------------------------------ */

struct oai_call {
    unsigned choice;
    int tool_index;
    int64_t up_index; /* the provider's index; -1 when it sent none */
    struct lx_str id; /* in st->a */
};

struct oai_stream {
    bool started;
    struct oai_call *calls;
    size_t n_calls, cap;
};

static void oai_delta_init(struct lx_delta *d, enum lx_delta_type type, unsigned choice)
{
    memset(d, 0, sizeof(*d));
    d->type = type;
    d->choice = choice;
    d->usage = (struct lx_usage)LX_USAGE_INIT;
}

struct oai_piece_ctx {
    const struct lx_delta_sink *sink;
    unsigned choice;
};

static int oai_stream_piece(void *ctx, bool thinking, struct lx_str text)
{
    struct oai_piece_ctx *pc = ctx;
    struct lx_delta d;

    oai_delta_init(&d, thinking ? LX_DELTA_THINKING : LX_DELTA_TEXT, pc->choice);
    d.text = text;
    return lx_wire_emit(pc->sink, &d);
}

static struct oai_call *oai_new_call(struct lx_stream_state *st, struct oai_stream *ps,
                                     unsigned choice, int64_t up_index, struct lx_str id)
{
    struct oai_call *c;
    int next = 0;

    if (ps->n_calls >= OAI_MAX_CALLS)
        return NULL;
    if (ps->n_calls == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 8;
        struct oai_call *nc = lx_arena_alloc(st->a, cap * sizeof(*nc));

        if (nc == NULL)
            return NULL;
        if (ps->n_calls > 0)
            memcpy(nc, ps->calls, ps->n_calls * sizeof(*nc));
        ps->calls = nc;
        ps->cap = cap;
    }
    for (size_t i = 0; i < ps->n_calls; i++)
        if (ps->calls[i].choice == choice)
            next++;
    c = &ps->calls[ps->n_calls];
    c->choice = choice;
    c->tool_index = next;
    c->up_index = up_index;
    c->id = id.len > 0 ? lx_arena_dup(st->a, id) : LX_STR_NULL;
    if (id.len > 0 && c->id.ptr == NULL)
        return NULL;
    ps->n_calls++;
    return c;
}

/* One element of delta.tool_calls. The call it continues is found by the provider's index (or,
 * without one, it is the choice's last call); a non-empty id that differs from the known one
 * starts a new call; "" is never an id (Qwen repeats "id":"" on every fragment). */
static int oai_stream_tool(struct lx_stream_state *st, struct oai_stream *ps,
                           const struct lx_json *doc, int tc, unsigned choice,
                           const struct lx_delta_sink *sink, struct lx_err *err)
{
    int fn = lx_json_get(doc, tc, LX_STR("function"));
    int args_t = lx_json_get(doc, fn, LX_STR("arguments"));
    int idx_t = lx_json_get(doc, tc, LX_STR("index"));
    struct oai_call *call = NULL;
    struct lx_str id, name = LX_STR_NULL, args = LX_STR_NULL;
    int64_t up = -1;
    bool first = false;
    struct lx_delta d;

    if (lx_json_type(doc, tc) != LX_JSON_OBJECT ||
        (fn >= 0 && lx_json_type(doc, fn) != LX_JSON_OBJECT &&
         lx_json_type(doc, fn) != LX_JSON_NULL))
        goto bad;
    if (idx_t >= 0 && lx_json_type(doc, idx_t) != LX_JSON_NULL &&
        (lx_json_int64(doc, idx_t, &up) != LX_OK || up < 0))
        goto bad;
    if (oai_str(doc, tc, "id", st->scratch, &id) != LX_OK)
        goto bad;
    if (lx_json_type(doc, fn) == LX_JSON_OBJECT) {
        if (oai_str(doc, fn, "name", st->scratch, &name) != LX_OK)
            goto bad;
        if (lx_json_type(doc, args_t) == LX_JSON_STRING) {
            if (lx_json_str(doc, args_t, st->scratch, &args) != LX_OK)
                goto bad;
        } else if (lx_json_type(doc, args_t) == LX_JSON_OBJECT) {
            args = lx_json_raw(doc, args_t);
        }
    }
    if (up >= 0) {
        for (size_t i = ps->n_calls; i-- > 0;)
            if (ps->calls[i].choice == choice && ps->calls[i].up_index == up) {
                call = &ps->calls[i];
                break;
            }
    } else {
        for (size_t i = ps->n_calls; i-- > 0;)
            if (ps->calls[i].choice == choice) {
                call = &ps->calls[i];
                break;
            }
        if (call != NULL && call->up_index >= 0)
            call = NULL; /* an index-less call after indexed ones: a new call */
    }
    if (call != NULL && id.len > 0 && call->id.len > 0 && !lx_str_eq(id, call->id))
        call = NULL; /* same index (or none), new id: a whole new call (Groq, Mistral, xAI) */
    if (call == NULL) {
        call = oai_new_call(st, ps, choice, up, id);
        if (call == NULL) {
            lx_err_set(err, LX_ETOOBIG, 502, "upstream stream has too many tool calls");
            return LX_ETOOBIG;
        }
        first = true;
    } else if (call->id.len == 0 && id.len > 0) {
        call->id = lx_arena_dup(st->a, id); /* the id came late */
        if (call->id.ptr == NULL)
            return LX_ENOMEM;
    }
    if (!first && args.len == 0 && name.len == 0)
        return LX_OK; /* an empty continuation (Qwen's trailing fragment) */
    oai_delta_init(&d, LX_DELTA_TOOL_CALL, choice);
    d.tool_index = call->tool_index;
    if (first) {
        d.id = call->id;
        d.name = name;
    }
    d.text = args;
    return lx_wire_emit(sink, &d);
bad:
    lx_err_set(err, LX_EPARSE, 502, "upstream stream chunk has a malformed tool call");
    return LX_EPARSE;
}

static int oai_stream_choice(struct lx_stream_state *st, struct oai_stream *ps,
                             const struct lx_json *doc, int c, const struct lx_delta_sink *sink,
                             struct lx_err *err)
{
    int delta = lx_json_get(doc, c, LX_STR("delta"));
    int64_t idx;
    unsigned choice;
    struct lx_str s;
    int rc = LX_OK, fr;

    if (lx_json_type(doc, c) != LX_JSON_OBJECT)
        goto bad;
    idx = lx_wire_int(doc, c, "index");
    if (idx >= (int64_t)OAI_MAX_CHOICES)
        goto bad;
    choice = idx > 0 ? (unsigned)idx : 0;
    if (lx_json_type(doc, delta) == LX_JSON_OBJECT) {
        struct oai_piece_ctx pc = {sink, choice};
        int calls = lx_json_get(doc, delta, LX_STR("tool_calls"));

        if (oai_reasoning(doc, delta, st->scratch, &s) != LX_OK)
            goto bad;
        if (s.len > 0) {
            rc = oai_stream_piece(&pc, true, s);
            if (rc != LX_OK)
                return rc;
        }
        rc = oai_content_pieces(doc, lx_json_get(doc, delta, LX_STR("content")), st->scratch,
                                oai_stream_piece, &pc);
        if (rc == LX_EPARSE || rc == LX_EINVAL)
            goto bad;
        if (rc != LX_OK)
            return rc;
        if (oai_str(doc, delta, "refusal", st->scratch, &s) != LX_OK)
            goto bad;
        if (s.len > 0) {
            rc = oai_stream_piece(&pc, false, s);
            if (rc != LX_OK)
                return rc;
        }
        if (lx_json_type(doc, calls) == LX_JSON_ARRAY) {
            for (int t = lx_json_first(doc, calls); t >= 0; t = lx_json_sibling(doc, calls, t)) {
                rc = oai_stream_tool(st, ps, doc, t, choice, sink, err);
                if (rc != LX_OK)
                    return rc;
            }
        } else if (calls >= 0 && lx_json_type(doc, calls) != LX_JSON_NULL) {
            goto bad;
        }
    } else if (delta >= 0 && lx_json_type(doc, delta) != LX_JSON_NULL) {
        goto bad;
    } else if (lx_json_type(doc, lx_json_get(doc, c, LX_STR("text"))) == LX_JSON_STRING) {
        struct oai_piece_ctx pc = {sink, choice};

        /* a legacy text_completion chunk */
        if (oai_str(doc, c, "text", st->scratch, &s) != LX_OK)
            goto bad;
        if (s.len > 0) {
            rc = oai_stream_piece(&pc, false, s);
            if (rc != LX_OK)
                return rc;
        }
    }
    fr = lx_json_get(doc, c, LX_STR("finish_reason"));
    if (lx_json_type(doc, fr) == LX_JSON_STRING) {
        struct lx_delta d;

        oai_delta_init(&d, LX_DELTA_FINISH, choice);
        if (lx_json_str(doc, fr, st->scratch, &d.finish_raw) != LX_OK)
            goto bad;
        d.finish = lx_oai_finish(d.finish_raw);
        return lx_wire_emit(sink, &d);
    }
    if (fr >= 0 && lx_json_type(doc, fr) != LX_JSON_NULL)
        goto bad;
    return LX_OK;
bad:
    lx_err_set(err, LX_EPARSE, 502, "upstream stream chunk is not a chat.completion.chunk");
    return LX_EPARSE;
}

static void oai_classify(const struct lx_json *doc, int eobj, int status, struct lx_arena *a,
                         struct lx_str key, struct lx_upstream_error *out);

int lx_oai_parse_event(struct lx_stream_state *st, const struct lx_stream_event *ev,
                       const struct lx_delta_sink *sink, struct lx_err *err)
{
    struct oai_stream *ps = st->priv;
    struct lx_json doc;
    int choices, usage, eobj, rc;
    struct lx_str id = LX_STR_NULL, model = LX_STR_NULL;

    if (st->done || st->failed)
        return LX_OK; /* nothing follows the end */
    if (ps == NULL) {
        ps = lx_arena_zalloc(st->a, sizeof(*ps));
        if (ps == NULL)
            return LX_ENOMEM;
        st->priv = ps;
    }
    if (lx_str_trim(ev->data).len == 0)
        return LX_OK; /* an event without data (a bare "event:" or "id:" block) says nothing */
    if (lx_str_eq(lx_str_trim(ev->data), LX_STR("[DONE]"))) {
        struct lx_delta d;

        oai_delta_init(&d, LX_DELTA_DONE, 0);
        st->done = true;
        return lx_wire_emit(sink, &d);
    }
    lx_wire_json_init(&doc, st->scratch);
    rc = lx_json_parse(&doc, ev->data.ptr, ev->data.len);
    if (rc != LX_OK || lx_json_type(&doc, 0) != LX_JSON_OBJECT) {
        lx_err_set(err, LX_EPARSE, 502, "upstream stream event is not JSON");
        return LX_EPARSE;
    }
    eobj = lx_json_get(&doc, 0, LX_STR("error"));
    if (lx_json_type(&doc, eobj) == LX_JSON_NULL)
        eobj = -1;
    if (eobj >= 0 || lx_str_eq(ev->event, LX_STR("error"))) {
        struct lx_upstream_error *e = lx_arena_zalloc(st->scratch, sizeof(*e));
        struct lx_delta d;

        if (e == NULL)
            return LX_ENOMEM;
        oai_classify(&doc, eobj >= 0 ? eobj : 0, 0, st->scratch,
                     st->call != NULL ? st->call->key : LX_STR_NULL, e);
        oai_delta_init(&d, LX_DELTA_ERROR, 0);
        d.error = e;
        st->failed = true;
        return lx_wire_emit(sink, &d);
    }
    choices = lx_json_get(&doc, 0, LX_STR("choices"));
    usage = lx_json_get(&doc, 0, LX_STR("usage"));
    if (lx_json_type(&doc, choices) != LX_JSON_ARRAY ||
        (usage >= 0 && lx_json_type(&doc, usage) != LX_JSON_OBJECT &&
         lx_json_type(&doc, usage) != LX_JSON_NULL)) {
        lx_err_set(err, LX_EPARSE, 502, "upstream stream chunk is not a chat.completion.chunk");
        return LX_EPARSE;
    }
    if (oai_str(&doc, 0, "id", st->scratch, &id) != LX_OK ||
        oai_str(&doc, 0, "model", st->scratch, &model) != LX_OK) {
        lx_err_set(err, LX_EPARSE, 502, "upstream stream chunk has a bad id or model");
        return LX_EPARSE;
    }
    if (!ps->started) {
        struct lx_delta d;

        /* Azure's first chunk (choices [], id "", only prompt_filter_results) says nothing */
        if (lx_json_count(&doc, choices) == 0 && id.len == 0 &&
            lx_json_type(&doc, usage) != LX_JSON_OBJECT)
            return LX_OK;
        oai_delta_init(&d, LX_DELTA_START, 0);
        d.id = id;
        d.name = model;
        ps->started = true;
        rc = lx_wire_emit(sink, &d);
        if (rc != LX_OK)
            return rc;
    }
    for (int c = lx_json_first(&doc, choices); c >= 0; c = lx_json_sibling(&doc, choices, c)) {
        rc = oai_stream_choice(st, ps, &doc, c, sink, err);
        if (rc != LX_OK)
            return rc;
    }
    if (lx_json_type(&doc, usage) == LX_JSON_OBJECT) {
        struct lx_delta d;

        oai_delta_init(&d, LX_DELTA_USAGE, 0);
        oai_usage(&doc, usage, &d.usage);
        return lx_wire_emit(sink, &d);
    }
    return LX_OK;
}

/* ---- errors ----------------------------------------------------------------------------- */

/* "1.674s", "120ms", "6m0s", "1h2m" -> milliseconds; -1 when not a duration. */
static int64_t oai_duration_ms(struct lx_str v)
{
    double total = 0;
    size_t i = 0;

    v = lx_str_trim(v);
    if (v.len == 0 || v.len > 32)
        return -1;
    while (i < v.len) {
        double num = 0, scale = 1;
        bool digits = false;

        while (i < v.len && v.ptr[i] >= '0' && v.ptr[i] <= '9') {
            num = num * 10 + (v.ptr[i++] - '0');
            digits = true;
        }
        if (i < v.len && v.ptr[i] == '.') {
            i++;
            while (i < v.len && v.ptr[i] >= '0' && v.ptr[i] <= '9') {
                scale /= 10;
                num += (v.ptr[i++] - '0') * scale;
                digits = true;
            }
        }
        if (!digits)
            return -1;
        if (i + 1 < v.len && v.ptr[i] == 'm' && v.ptr[i + 1] == 's') {
            total += num;
            i += 2;
        } else if (i < v.len && v.ptr[i] == 's') {
            total += num * 1000;
            i++;
        } else if (i < v.len && v.ptr[i] == 'm') {
            total += num * 60000;
            i++;
        } else if (i < v.len && v.ptr[i] == 'h') {
            total += num * 3600000;
            i++;
        } else if (i == v.len) {
            total += num * 1000; /* bare seconds */
        } else {
            return -1;
        }
    }
    if (!(total >= 0 && total < 1e12)) /* more than ~30 years: not a reset time */
        return -1;
    return (int64_t)(total + 0.5);
}

static int64_t oai_retry_after(const struct lx_header *h, size_t n, int64_t now_s)
{
    const struct lx_header *x;
    int64_t best = -1;
    uint64_t ms;

    x = lx_header_find(h, n, LX_STR("retry-after-ms"));
    if (x != NULL && lx_str_to_u64(lx_str_trim(x->value), &ms) == LX_OK && ms < INT64_MAX / 2)
        return (int64_t)ms;
    x = lx_header_find(h, n, LX_STR("retry-after"));
    if (x != NULL) {
        int64_t v = lx_retry_after_ms(x->value, now_s);

        if (v >= 0)
            return v;
    }
    x = lx_header_find(h, n, LX_STR("x-ratelimit-reset-requests"));
    if (x != NULL)
        best = oai_duration_ms(x->value);
    x = lx_header_find(h, n, LX_STR("x-ratelimit-reset-tokens"));
    if (x != NULL) {
        int64_t v = oai_duration_ms(x->value);

        if (v > best)
            best = v;
    }
    return best;
}

/* A number token as its text ("402"), or a decoded string. */
static struct lx_str oai_code_str(const struct lx_json *doc, int t, struct lx_arena *a)
{
    struct lx_str s = LX_STR_NULL;

    if (lx_json_type(doc, t) == LX_JSON_STRING)
        (void)lx_json_str(doc, t, a, &s);
    else if (lx_json_type(doc, t) == LX_JSON_NUMBER)
        s = lx_json_raw(doc, t);
    return s;
}

/* Never let the credential travel in a message (OpenAI echoes a masked key on 401). */
static struct lx_str oai_scrub(struct lx_str msg, struct lx_str key, enum lx_err_type type)
{
    if (lx_wire_quotes_key(msg, key) ||
        (type == LX_ERRT_AUTHENTICATION && lx_wire_contains_nocase(msg, "key provided")))
        return LX_STR(LX_WIRE_WITHHELD);
    return msg;
}

/* Fills out from an error object eobj (OpenAI {message,type,param,code}; Azure with innererror
 * and string status codes; OpenRouter {code:<int>,message,metadata}; Mistral {object:"error",
 * message:<string|object>} or {detail}) and the HTTP status (0 in a stream: derived). */
static void oai_classify(const struct lx_json *doc, int eobj, int status, struct lx_arena *a,
                         struct lx_str key, struct lx_upstream_error *out)
{
    struct lx_str code, type, inner = LX_STR_NULL, msg = LX_STR_NULL;
    int m = lx_json_get(doc, eobj, LX_STR("message"));
    int ie = lx_json_get(doc, eobj, LX_STR("innererror"));
    int64_t st_num;
    uint64_t u;

    if (m < 0)
        m = lx_json_get(doc, eobj, LX_STR("detail"));
    if (lx_json_type(doc, m) == LX_JSON_STRING)
        (void)lx_json_str(doc, m, a, &msg);
    else if (lx_json_type(doc, m) == LX_JSON_OBJECT || lx_json_type(doc, m) == LX_JSON_ARRAY)
        msg = lx_json_raw(doc, m);
    code = oai_code_str(doc, lx_json_get(doc, eobj, LX_STR("code")), a);
    type = oai_code_str(doc, lx_json_get(doc, eobj, LX_STR("type")), a);
    if (lx_json_type(doc, ie) == LX_JSON_OBJECT)
        inner = oai_code_str(doc, lx_json_get(doc, ie, LX_STR("code")), a);

    if (status == 0) { /* a stream error: the status its body implies */
        if (lx_json_int64(doc, lx_json_get(doc, eobj, LX_STR("status")), &st_num) == LX_OK &&
            st_num >= 400 && st_num <= 599)
            status = (int)st_num;
        else if (lx_str_to_u64(code, &u) == LX_OK && u >= 400 && u <= 599)
            status = (int)u;
        else if (lx_str_eq(type, LX_STR("invalid_request_error")))
            status = 400;
        else if (lx_str_eq(code, LX_STR("rate_limit_exceeded")) ||
                 lx_str_eq(type, LX_STR("tokens")) || lx_str_eq(type, LX_STR("requests")))
            status = 429;
        else
            status = 500;
    }
    lx_upstream_error_init(out);
    out->status = status;
    out->code = code.len > 0 && !(lx_str_to_u64(code, &u) == LX_OK) ? code
                : type.len > 0                                     ? type
                                                                   : code;
    if (lx_str_eq(code, LX_STR("context_length_exceeded")) ||
        lx_str_eq(code, LX_STR("string_above_max_length")) ||
        lx_wire_contains_nocase(msg, "maximum context length") ||
        lx_wire_contains_nocase(msg, "context_length_exceeded") ||
        lx_wire_contains_nocase(msg, "context window"))
        out->type = LX_ERRT_CONTEXT_LENGTH;
    else if (lx_str_eq(code, LX_STR("content_filter")) ||
             lx_str_eq(inner, LX_STR("ResponsibleAIPolicyViolation")) ||
             (status == 403 && lx_json_get(doc, lx_json_get(doc, eobj, LX_STR("metadata")),
                                           LX_STR("flagged_input")) >= 0))
        out->type = LX_ERRT_CONTENT_FILTER;
    else if (lx_str_eq(code, LX_STR("insufficient_quota")) ||
             lx_str_eq(type, LX_STR("insufficient_quota")) || status == 402)
        out->type = LX_ERRT_QUOTA;
    else if (status == 429)
        out->type = LX_ERRT_RATE_LIMIT;
    else if (status == 401 || lx_str_eq(code, LX_STR("invalid_api_key")))
        out->type = LX_ERRT_AUTHENTICATION;
    else if (status == 404 || lx_str_eq(code, LX_STR("model_not_found")) ||
             lx_str_eq(code, LX_STR("DeploymentNotFound")))
        out->type = LX_ERRT_NOT_FOUND;
    else if (status == 503)
        out->type = LX_ERRT_OVERLOADED;
    else
        out->type = lx_err_type_from_status(status);
    lx_upstream_error_defaults(out);
    out->message = oai_scrub(msg, key, out->type);
}

void lx_oai_map_error(const struct lx_provider_call *call, int status,
                      const struct lx_header *headers, size_t n_headers, struct lx_str body,
                      struct lx_arena *a, struct lx_upstream_error *out)
{
    struct lx_json doc;
    struct lx_str key = call != NULL ? call->key : LX_STR_NULL;
    int eobj = -1;

    lx_wire_json_init(&doc, a);
    if (body.len > 0 && lx_json_parse(&doc, body.ptr, body.len) == LX_OK &&
        lx_json_type(&doc, 0) == LX_JSON_OBJECT) {
        eobj = lx_json_get(&doc, 0, LX_STR("error"));
        if (lx_json_type(&doc, eobj) == LX_JSON_STRING) {
            /* {"error":"..."} (Ollama /v1, some proxies) */
            lx_upstream_error_init(out);
            out->status = status;
            out->type = lx_err_type_from_status(status);
            (void)lx_json_str(&doc, eobj, a, &out->message);
            lx_upstream_error_defaults(out);
            out->message = oai_scrub(out->message, key, out->type);
            goto headers;
        }
        if (lx_json_type(&doc, eobj) != LX_JSON_OBJECT)
            eobj = 0; /* Mistral's flat {object:"error",message,...}, {detail}, or nothing */
        oai_classify(&doc, eobj, status, a, key, out);
    } else {
        lx_upstream_error_init(out);
        out->status = status;
        out->type = status == 503 ? LX_ERRT_OVERLOADED : lx_err_type_from_status(status);
        lx_upstream_error_defaults(out);
        out->message = oai_scrub(lx_wire_cut_utf8(lx_str_trim(body), OAI_MAX_MSG), key, out->type);
    }
headers:
    lx_wire_default_message(a, status, out);
    out->retry_after_ms = oai_retry_after(headers, n_headers, call != NULL ? call->now_s : 0);
}

/* ---- embeddings ------------------------------------------------------------------------- */

static int oai_b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* A base64 string of little-endian float32 values (encoding_format "base64", which some
 * compatibles send even when asked for floats) -> a JSON array of numbers, in a. */
static int oai_b64_floats(struct lx_str b64, struct lx_arena *a, struct lx_str *out)
{
    size_t n_bytes = 0, cap_bytes = b64.len / 4 * 3 + 3, n_floats, len = 0;
    unsigned char *bytes = lx_arena_alloc(a, cap_bytes);
    uint32_t acc = 0;
    int bits = 0;
    char *json;

    if (bytes == NULL)
        return LX_ENOMEM;
    for (size_t i = 0; i < b64.len; i++) {
        int v;

        if (b64.ptr[i] == '=')
            break;
        v = oai_b64_val((unsigned char)b64.ptr[i]);
        if (v < 0)
            return LX_EPARSE;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            bytes[n_bytes++] = (unsigned char)(acc >> bits);
        }
    }
    if (n_bytes % 4 != 0)
        return LX_EPARSE;
    n_floats = n_bytes / 4;
    json = lx_arena_alloc(a, n_floats * 18 + 3);
    if (json == NULL)
        return LX_ENOMEM;
    json[len++] = '[';
    for (size_t i = 0; i < n_floats; i++) {
        uint32_t u = (uint32_t)bytes[4 * i] | (uint32_t)bytes[4 * i + 1] << 8 |
                     (uint32_t)bytes[4 * i + 2] << 16 | (uint32_t)bytes[4 * i + 3] << 24;
        float f;
        int w;

        memcpy(&f, &u, sizeof(f));
        if (f != f || f - f != 0) /* NaN or infinity: not JSON */
            return LX_EPARSE;
        if (i > 0)
            json[len++] = ',';
        w = snprintf(json + len, 17, "%.9g", (double)f);
        if (w <= 0 || w >= 17)
            return LX_EPARSE;
        len += (size_t)w;
    }
    json[len++] = ']';
    json[len] = '\0';
    *out = lx_str_make(json, len);
    return LX_OK;
}

int lx_oai_parse_embeddings(const struct lx_provider_call *call, struct lx_str body,
                            struct lx_arena *a, struct lx_embed_resp *out, struct lx_err *err)
{
    struct lx_json doc;
    int data, rc;
    size_t n;

    (void)call;
    memset(out, 0, sizeof(*out));
    out->usage = (struct lx_usage)LX_USAGE_INIT;
    lx_wire_json_init(&doc, a);
    rc = lx_json_parse(&doc, body.ptr, body.len);
    data = lx_json_get(&doc, 0, LX_STR("data"));
    if (rc != LX_OK || lx_json_type(&doc, data) != LX_JSON_ARRAY)
        goto bad;
    n = lx_json_count(&doc, data);
    out->vectors = lx_arena_zalloc(a, (n + 1) * sizeof(*out->vectors));
    if (out->vectors == NULL) {
        lx_err_set(err, LX_ENOMEM, 500, "out of memory");
        return LX_ENOMEM;
    }
    out->n_vectors = n;
    {
        size_t pos = 0;

        for (int e = lx_json_first(&doc, data); e >= 0; e = lx_json_sibling(&doc, data, e), pos++) {
            int emb = lx_json_get(&doc, e, LX_STR("embedding"));
            int64_t idx = lx_wire_int(&doc, e, "index");
            size_t at = idx >= 0 ? (size_t)idx : pos;

            if (at >= n || out->vectors[at].len > 0)
                goto bad;
            if (lx_json_type(&doc, emb) == LX_JSON_ARRAY) {
                out->vectors[at] = lx_json_raw(&doc, emb);
            } else if (lx_json_type(&doc, emb) == LX_JSON_STRING) {
                struct lx_str b64;

                rc = lx_json_str(&doc, emb, a, &b64);
                if (rc == LX_OK)
                    rc = oai_b64_floats(b64, a, &out->vectors[at]);
                if (rc == LX_ENOMEM) {
                    lx_err_set(err, LX_ENOMEM, 500, "out of memory");
                    return LX_ENOMEM;
                }
                if (rc != LX_OK)
                    goto bad;
            } else {
                goto bad;
            }
        }
    }
    if (oai_str(&doc, 0, "model", a, &out->model) != LX_OK)
        goto bad;
    {
        int u = lx_json_get(&doc, 0, LX_STR("usage"));

        if (lx_json_type(&doc, u) == LX_JSON_OBJECT) {
            out->usage.input = lx_wire_int(&doc, u, "prompt_tokens");
            out->usage.total = lx_wire_int(&doc, u, "total_tokens");
        }
    }
    return LX_OK;
bad:
    lx_err_set(err, LX_EPARSE, 502, "upstream answer is not an embeddings list");
    return LX_EPARSE;
}

/* ---- the adapter ------------------------------------------------------------------------ */

const struct lx_provider_ops lx_provider_openai = {
    .name = "openai",
    .caps = LX_CAP_STREAM | LX_CAP_TOOLS | LX_CAP_VISION | LX_CAP_EMBEDDINGS | LX_CAP_IMAGE_URL,
    .framing = LX_FRAMING_SSE,
    .build_request = oai_build_request,
    .parse_response = lx_oai_parse_response,
    .parse_event = lx_oai_parse_event,
    .map_error = lx_oai_map_error,
    .build_embeddings = oai_build_embeddings,
    .parse_embeddings = lx_oai_parse_embeddings,
};
