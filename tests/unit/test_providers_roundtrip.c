/* test_providers_roundtrip.c - property tests over generated requests, every provider (issue 4):
 * OpenAI body -> IR A (the OpenAI front door) -> each provider's build_request -> its body read
 * back (a front door of the same protocol, or a small extractor here) -> IR B, and a canonical
 * form of A and B compared: system text, and the sequence of (role, text), tool call (ordinal,
 * id where the protocol carries ids, name, arguments as JSON) and tool result (ordinal of the
 * call it answers, id, text) events; per message (role) too for protocols that keep turns as
 * they are. Then the finish-reason table through the real encoders and decoders.
 * Seeded xorshift generator: a failure prints the seed, the provider, the generated body, the
 * provider's body and both canonical forms. Owned by the round-trip tests; one thread.
 * The decisions (what merges, what is lossy) are in docs/internals/frontdoor-openai.md. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/str.h"
#include "json/json.h"
#include "json/writer.h"
#include "providers/provider.h"
#include "tests/unit/provider_replay.h"
#include "tests/unit/test.h"

#define RT_RUNS 300
#define RT_BUF_MAX (8u << 20)

/* ---- the generator ------------------------------------------------------------------------- */

struct rt_rng {
    uint64_t s;
};

static uint64_t rt_next(struct rt_rng *r)
{
    uint64_t x = r->s; /* xorshift64 */

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    r->s = x;
    return x;
}

static unsigned rt_below(struct rt_rng *r, unsigned n) { return (unsigned)(rt_next(r) % n); }
static bool rt_chance(struct rt_rng *r, unsigned percent) { return rt_below(r, 100) < percent; }

static void rt_utf8(struct lx_buf *b, uint32_t cp)
{
    char u[4];

    if (cp < 0x80) {
        u[0] = (char)cp;
        lx_buf_append(b, u, 1);
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        lx_buf_append(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        lx_buf_append(b, u, 3);
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        lx_buf_append(b, u, 4);
    }
}

/* One code point of a mix that finds escaping bugs: quotes, backslashes, newlines, control
 * characters (NUL rarely), Latin, CJK, emoji, line separators, the last planes. */
static uint32_t rt_cp(struct rt_rng *r)
{
    static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,";
    static const uint32_t special[] = {'"', '\\', '\n', '\t', '\r', '/', '\'', '{', '}', '<'};
    static const uint32_t odd[] = {0x2028, 0x2029, 0xFEFF, 0xFFFD, 0x200B, 0x7F, 0x10FFFF};
    unsigned k = rt_below(r, 100);

    if (k < 45)
        return (uint32_t)plain[rt_below(r, sizeof(plain) - 1)];
    if (k < 55)
        return special[rt_below(r, LX_ARRAY_SIZE(special))];
    if (k < 59)
        return 1 + rt_below(r, 0x1F);
    if (k < 60)
        return rt_chance(r, 30) ? 0 : 0x1F;
    if (k < 72)
        return 0xA0 + rt_below(r, 0x7FF - 0xA0);
    if (k < 82)
        return 0x4E00 + rt_below(r, 0x9FFF - 0x4E00);
    if (k < 94)
        return 0x1F300 + rt_below(r, 0x1FAFF - 0x1F300);
    if (k < 97)
        return odd[rt_below(r, LX_ARRAY_SIZE(odd))];
    return 0x10000 + rt_below(r, 0x10FFFF - 0x10000);
}

/* A non-empty random text of 1..max code points, the first one plain (never whitespace only). */
static void rt_text(struct rt_rng *r, struct lx_buf *b, unsigned max)
{
    unsigned n = 1 + rt_below(r, max);

    rt_utf8(b, (uint32_t)"HelloWorldQx"[rt_below(r, 12)]);
    for (unsigned i = 1; i < n; i++)
        rt_utf8(b, rt_cp(r));
}

static void rt_write_text(struct rt_rng *r, struct lx_json_writer *w, unsigned max)
{
    struct lx_buf t = LX_BUF_INIT(1 << 16);

    rt_text(r, &t, max);
    lx_json_write_str(w, lx_buf_str(&t));
    lx_buf_release(&t);
}

static const char *const rt_numbers[] = {
    "0", "-1", "42", "9007199254740993", "123456789012345678901234567890", "-9223372036854775809",
    "3.14159", "-2.5e-7", "1E+300", "0.1", "1.0", "-0.0", "6.02214076e23", "1e-320",
};

static const char *const rt_tool_names[] = {"get_weather", "search_web", "lookup", "calc",
                                             "send_email"};

/* A random JSON value (objects and arrays up to depth 3). Object keys are unique ("k<i>_..."),
 * never "content" or "error" (Gemini wraps results in those). */
static void rt_value(struct rt_rng *r, struct lx_json_writer *w, unsigned depth)
{
    unsigned k = rt_below(r, depth < 3 ? 9 : 6);

    switch (k) {
    case 0: lx_json_write_raw(w, lx_str_cstr(rt_numbers[rt_below(r, LX_ARRAY_SIZE(rt_numbers))]));
        break;
    case 1:
    case 2: rt_write_text(r, w, 12); break;
    case 3: lx_json_write_bool(w, rt_chance(r, 50)); break;
    case 4: lx_json_write_null(w); break;
    case 5: lx_json_write_int(w, (int64_t)rt_below(r, 100000) - 500); break;
    case 6:
    case 7: {
        unsigned n = rt_below(r, 5);

        lx_json_write_object_begin(w);
        for (unsigned i = 0; i < n; i++) {
            struct lx_buf key = LX_BUF_INIT(1024);

            lx_buf_appendf(&key, "k%u_", i);
            if (rt_chance(r, 30))
                rt_text(r, &key, 4);
            lx_json_write_key(w, lx_buf_str(&key));
            lx_buf_release(&key);
            rt_value(r, w, depth + 1);
        }
        lx_json_write_object_end(w);
        break;
    }
    default: {
        unsigned n = rt_below(r, 5);

        lx_json_write_array_begin(w);
        for (unsigned i = 0; i < n; i++)
            rt_value(r, w, depth + 1);
        lx_json_write_array_end(w);
    }
    }
}

/* A random JSON object as text into b (tool-call arguments, JSON tool results). */
static void rt_object_text(struct rt_rng *r, struct lx_buf *b)
{
    struct lx_json_writer w;
    unsigned n = rt_below(r, 6);

    lx_json_writer_init(&w, b);
    lx_json_write_object_begin(&w);
    for (unsigned i = 0; i < n; i++) {
        struct lx_buf key = LX_BUF_INIT(1024);

        lx_buf_appendf(&key, "k%u_", i);
        if (rt_chance(r, 30))
            rt_text(r, &key, 4);
        lx_json_write_key(&w, lx_buf_str(&key));
        lx_buf_release(&key);
        rt_value(r, &w, 1);
    }
    lx_json_write_object_end(&w);
}

/* Tool-call ids in the styles clients send back: OpenAI call_, Anthropic toolu_, Bedrock
 * tooluse_, Mistral's 9 alphanumerics, and ids with '-' and '_'. */
static void rt_call_id(struct rt_rng *r, char *out, size_t cap)
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static const char *const pre[] = {"call_", "call_", "toolu_01", "tooluse_", "", "call-"};
    unsigned k = rt_below(r, LX_ARRAY_SIZE(pre));
    size_t p = strlen(pre[k]), n = pre[k][0] == '\0' ? 9 : 8 + rt_below(r, 17), i;

    memcpy(out, pre[k], p);
    for (i = p; i < p + n && i + 1 < cap; i++)
        out[i] = k == 5 && rt_chance(r, 15) ? "-_"[rt_below(r, 2)]
                                             : al[rt_below(r, sizeof(al) - 1)];
    out[i] = '\0';
}

/* JSON text with whitespace added around its structure (clients send pretty arguments). */
static void rt_pretty(struct rt_rng *r, struct lx_str json, struct lx_buf *out)
{
    bool in_str = false, esc = false;

    for (size_t i = 0; i < json.len; i++) {
        char c = json.ptr[i];

        lx_buf_append(out, &c, 1);
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"')
            in_str = true;
        else if ((c == '{' || c == '[' || c == ',' || c == ':') && rt_chance(r, 70))
            lx_buf_append_cstr(out, rt_chance(r, 50) ? "\n  " : " ");
    }
}

static void rt_system(struct rt_rng *r, struct lx_json_writer *w)
{
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("role"));
    lx_json_write_str(w, rt_chance(r, 20) ? LX_STR("developer") : LX_STR("system"));
    lx_json_write_key(w, LX_STR("content"));
    rt_write_text(r, w, 60);
    lx_json_write_object_end(w);
}

static void rt_user(struct rt_rng *r, struct lx_json_writer *w)
{
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("role"));
    lx_json_write_str(w, LX_STR("user"));
    lx_json_write_key(w, LX_STR("content"));
    if (rt_chance(r, 15)) { /* the parts form, one text part */
        lx_json_write_array_begin(w);
        lx_json_write_object_begin(w);
        lx_json_write_key(w, LX_STR("type"));
        lx_json_write_str(w, LX_STR("text"));
        lx_json_write_key(w, LX_STR("text"));
        rt_write_text(r, w, 40);
        lx_json_write_object_end(w);
        lx_json_write_array_end(w);
    } else {
        rt_write_text(r, w, 40);
    }
    lx_json_write_object_end(w);
}

/* One generated OpenAI chat request body. */
static int rt_generate(uint64_t seed, struct lx_buf *out)
{
    struct rt_rng rr = {seed * 0x9E3779B97F4A7C15ull + 1}, *r = &rr;
    struct lx_json_writer w;
    unsigned turns = 1 + rt_below(r, 6);

    for (int i = 0; i < 4; i++)
        (void)rt_next(r);
    lx_json_writer_init(&w, out);
    lx_json_write_object_begin(&w);
    lx_json_write_key(&w, LX_STR("model"));
    lx_json_write_str(&w, LX_STR("gpt-4o-mini"));
    lx_json_write_key(&w, LX_STR("messages"));
    lx_json_write_array_begin(&w);
    if (rt_chance(r, 60)) {
        rt_system(r, &w);
        if (rt_chance(r, 20)) /* several system messages: joined in order */
            rt_system(r, &w);
    }
    for (unsigned t = 0; t < turns; t++) {
        unsigned n_calls = rt_chance(r, 60) ? 1 + rt_below(r, 3) : 0;
        bool text = n_calls == 0 || rt_chance(r, 50);
        char ids[3][32];
        unsigned names[3], order[3] = {0, 1, 2};

        if (t > 0 && rt_chance(r, 4)) /* an instruction in the middle of the conversation */
            rt_system(r, &w);
        rt_user(r, &w);
        if (rt_chance(r, 10)) /* two user turns in a row: merged by some protocols */
            rt_user(r, &w);
        if (text && n_calls > 0 && rt_chance(r, 10)) {
            /* the text and the calls as two assistant messages in a row */
            lx_json_write_object_begin(&w);
            lx_json_write_key(&w, LX_STR("role"));
            lx_json_write_str(&w, LX_STR("assistant"));
            lx_json_write_key(&w, LX_STR("content"));
            rt_write_text(r, &w, 40);
            lx_json_write_object_end(&w);
            text = false;
        }
        lx_json_write_object_begin(&w);
        lx_json_write_key(&w, LX_STR("role"));
        lx_json_write_str(&w, LX_STR("assistant"));
        lx_json_write_key(&w, LX_STR("content"));
        if (text)
            rt_write_text(r, &w, 40);
        else if (rt_chance(r, 30))
            lx_json_write_str(&w, LX_STR("")); /* some clients send "" beside tool calls */
        else
            lx_json_write_null(&w);
        if (n_calls > 0) {
            lx_json_write_key(&w, LX_STR("tool_calls"));
            lx_json_write_array_begin(&w);
            for (unsigned c = 0; c < n_calls; c++) {
                struct lx_buf args = LX_BUF_INIT(1 << 16);

                rt_call_id(r, ids[c], sizeof(ids[c]));
                names[c] = rt_below(r, LX_ARRAY_SIZE(rt_tool_names));
                rt_object_text(r, &args);
                if (rt_chance(r, 4)) { /* arguments that are not an object, or not JSON */
                    static const char *const odd[] = {"[1,2]", "42", "\"s\"", "", "{\"a\":",
                                                      "null", "not json"};

                    args.len = 0;
                    lx_buf_append_cstr(&args, odd[rt_below(r, LX_ARRAY_SIZE(odd))]);
                } else if (rt_chance(r, 20)) {
                    struct lx_buf pretty = LX_BUF_INIT(1 << 17);

                    rt_pretty(r, lx_buf_str(&args), &pretty);
                    lx_buf_release(&args);
                    args = pretty;
                }
                lx_json_write_object_begin(&w);
                lx_json_write_key(&w, LX_STR("id"));
                lx_json_write_str(&w, lx_str_cstr(ids[c]));
                lx_json_write_key(&w, LX_STR("type"));
                lx_json_write_str(&w, LX_STR("function"));
                lx_json_write_key(&w, LX_STR("function"));
                lx_json_write_object_begin(&w);
                lx_json_write_key(&w, LX_STR("name"));
                lx_json_write_str(&w, lx_str_cstr(rt_tool_names[names[c]]));
                lx_json_write_key(&w, LX_STR("arguments"));
                lx_json_write_str(&w, lx_buf_str(&args));
                lx_json_write_object_end(&w);
                lx_json_write_object_end(&w);
                lx_buf_release(&args);
            }
            lx_json_write_array_end(&w);
        }
        lx_json_write_object_end(&w);
        /* results in call order; shuffled when the names differ (pairing by name stays exact) */
        if (n_calls > 1 && rt_chance(r, 30)) {
            bool distinct = true;

            for (unsigned i = 0; i < n_calls; i++)
                for (unsigned j = i + 1; j < n_calls; j++)
                    distinct = distinct && names[i] != names[j];
            for (unsigned i = n_calls - 1; distinct && i > 0; i--) {
                unsigned j = rt_below(r, i + 1), x = order[i];

                order[i] = order[j];
                order[j] = x;
            }
        }
        for (unsigned c = 0; c < n_calls; c++) {
            lx_json_write_object_begin(&w);
            lx_json_write_key(&w, LX_STR("role"));
            lx_json_write_str(&w, LX_STR("tool"));
            lx_json_write_key(&w, LX_STR("tool_call_id"));
            lx_json_write_str(&w, lx_str_cstr(ids[order[c]]));
            lx_json_write_key(&w, LX_STR("content"));
            if (rt_chance(r, 25)) {
                struct lx_buf obj = LX_BUF_INIT(1 << 16);

                rt_object_text(r, &obj);
                lx_json_write_str(&w, lx_buf_str(&obj));
                lx_buf_release(&obj);
            } else if (rt_chance(r, 4)) {
                lx_json_write_str(&w, LX_STR("")); /* a tool that printed nothing */
            } else if (rt_chance(r, 15)) {
                lx_json_write_array_begin(&w);
                lx_json_write_object_begin(&w);
                lx_json_write_key(&w, LX_STR("type"));
                lx_json_write_str(&w, LX_STR("text"));
                lx_json_write_key(&w, LX_STR("text"));
                rt_write_text(r, &w, 40);
                lx_json_write_object_end(&w);
                lx_json_write_array_end(&w);
            } else {
                rt_write_text(r, &w, 40);
            }
            lx_json_write_object_end(&w);
        }
    }
    rt_user(r, &w);
    lx_json_write_array_end(&w);

    lx_json_write_key(&w, LX_STR("tools"));
    lx_json_write_array_begin(&w);
    for (size_t i = 0; i < LX_ARRAY_SIZE(rt_tool_names); i++) {
        lx_json_write_object_begin(&w);
        lx_json_write_key(&w, LX_STR("type"));
        lx_json_write_str(&w, LX_STR("function"));
        lx_json_write_key(&w, LX_STR("function"));
        lx_json_write_object_begin(&w);
        lx_json_write_key(&w, LX_STR("name"));
        lx_json_write_str(&w, lx_str_cstr(rt_tool_names[i]));
        lx_json_write_key(&w, LX_STR("description"));
        lx_json_write_str(&w, LX_STR("A tool \"for\" tests\n"));
        lx_json_write_key(&w, LX_STR("parameters"));
        lx_json_write_raw(&w, LX_STR("{\"type\":\"object\",\"properties\":{\"q\":{\"type\":"
                                     "\"string\"}},\"required\":[\"q\"]}"));
        lx_json_write_object_end(&w);
        lx_json_write_object_end(&w);
    }
    lx_json_write_array_end(&w);

    switch (rt_below(r, 5)) {
    case 0: break;
    case 1:
        lx_json_write_key(&w, LX_STR("tool_choice"));
        lx_json_write_str(&w, LX_STR("auto"));
        break;
    case 2:
        lx_json_write_key(&w, LX_STR("tool_choice"));
        lx_json_write_str(&w, LX_STR("none"));
        break;
    case 3:
        lx_json_write_key(&w, LX_STR("tool_choice"));
        lx_json_write_str(&w, LX_STR("required"));
        break;
    default:
        lx_json_write_key(&w, LX_STR("tool_choice"));
        lx_json_write_raw(&w, LX_STR("{\"type\":\"function\",\"function\":{\"name\":\"lookup\"}}"));
    }
    if (rt_chance(r, 70)) {
        lx_json_write_key(&w, rt_chance(r, 50) ? LX_STR("max_tokens")
                                                : LX_STR("max_completion_tokens"));
        lx_json_write_int(&w, 1 + rt_below(r, 4096));
    }
    if (rt_chance(r, 60)) {
        static const char *const temps[] = {"0", "0.7", "1", "1.5", "0.25", "2"};

        lx_json_write_key(&w, LX_STR("temperature"));
        lx_json_write_raw(&w, lx_str_cstr(temps[rt_below(r, LX_ARRAY_SIZE(temps))]));
    }
    if (rt_chance(r, 40)) {
        unsigned n = 1 + rt_below(r, 4);

        lx_json_write_key(&w, LX_STR("stop"));
        if (n == 1 && rt_chance(r, 50)) {
            rt_write_text(r, &w, 6);
        } else {
            lx_json_write_array_begin(&w);
            for (unsigned i = 0; i < n; i++)
                rt_write_text(r, &w, 6);
            lx_json_write_array_end(&w);
        }
    }
    if (rt_chance(r, 30)) {
        lx_json_write_key(&w, LX_STR("stream"));
        lx_json_write_bool(&w, true);
    }
    lx_json_write_object_end(&w);
    return lx_json_writer_finish(&w);
}

/* ---- canonical form of an IR request ------------------------------------------------------ */

struct rt_opts {
    bool keeps_turns;   /* every message stays a message: per-message role lines are compared */
    bool has_ids;       /* the protocol carries tool-call ids */
    bool gemini_result; /* results come back as Gemini's response object ({"content": text}) */
    bool no_stop;       /* the protocol has no stop sequences (Workers AI): not compared */
    bool args_object;   /* arguments must be a JSON object: others are sent as {} (7.4) */
    bool tools;         /* read back by a front door: tool names and tool_choice compared */
    bool temp_to_1;     /* temperature is clamped to Anthropic's 0..1 */
};

static void rt_put_str(struct lx_buf *out, struct lx_str s)
{
    struct lx_json_writer w;

    lx_json_writer_init(&w, out);
    lx_json_write_str(&w, s);
}

/* JSON text -> compact form (whitespace dropped, strings re-escaped, numbers and key order
 * kept); not JSON -> INVALID and the text. */
static void rt_put_json(struct lx_buf *out, struct lx_str text, struct lx_arena *a)
{
    struct lx_json doc;
    struct lx_json_writer w;

    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    if (text.ptr == NULL || lx_json_parse(&doc, text.ptr, text.len) != LX_OK) {
        lx_buf_append(out, "INVALID ", 8);
        rt_put_str(out, text);
        return;
    }
    lx_json_writer_init(&w, out);
    lx_json_write_copy(&w, &doc, 0);
}

/* A tool result's text: a JSON object compacted; with gemini_result a lone {"content": "..."}
 * is unwrapped (the shape Gemini gives a plain-text result); anything else as it is. */
static void rt_put_result(struct lx_buf *out, struct lx_str text, bool gemini, struct lx_arena *a)
{
    struct lx_json doc;

    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    if (text.ptr == NULL || lx_json_parse(&doc, text.ptr, text.len) != LX_OK ||
        lx_json_type(&doc, 0) != LX_JSON_OBJECT) {
        rt_put_str(out, text);
        return;
    }
    if (gemini && lx_json_count(&doc, 0) == 1 && lx_json_str_eq(&doc, 1, LX_STR("content")) &&
        lx_json_type(&doc, 2) == LX_JSON_STRING) {
        struct lx_str s;

        if (lx_json_str(&doc, 2, a, &s) == LX_OK) {
            rt_put_str(out, s);
            return;
        }
    }
    rt_put_json(out, text, a);
}

static bool rt_is_object(struct lx_str text, struct lx_arena *a)
{
    struct lx_json doc;

    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    return text.ptr != NULL && lx_json_parse(&doc, text.ptr, text.len) == LX_OK &&
           lx_json_type(&doc, 0) == LX_JSON_OBJECT;
}

static const char *rt_role(enum lx_role r)
{
    switch (r) {
    case LX_ROLE_SYSTEM: return "system";
    case LX_ROLE_DEVELOPER: return "developer";
    case LX_ROLE_USER: return "user";
    case LX_ROLE_ASSISTANT: return "assistant";
    case LX_ROLE_TOOL: return "tool";
    }
    return "?";
}

/* ref: the request as the client sent it (A), which says what was given: max_tokens is compared
 * only when the client set it (Anthropic must send one, so it defaults). */
static void rt_canon(const struct lx_chat_req *r, const struct lx_chat_req *ref,
                     const struct rt_opts *o, struct lx_arena *a, struct lx_buf *out)
{
    struct lx_str *calls = lx_arena_zalloc(a, (r->n_msgs * 8 + 1) * sizeof(*calls));
    size_t n_calls = 0, cap = r->n_msgs * 8, n_turns = 0;
    struct lx_buf sys = LX_BUF_INIT(RT_BUF_MAX);

    for (size_t m = 0; m < r->n_msgs; m++) {
        const struct lx_msg *msg = &r->msgs[m];

        if (msg->role == LX_ROLE_SYSTEM || msg->role == LX_ROLE_DEVELOPER) {
            /* joined by a blank line, as the Anthropic encoder joins them into one string;
             * where the system is a list of blocks (Gemini, Bedrock) the same join is taken */
            for (size_t i = 0; i < msg->n_parts; i++) {
                if (msg->parts[i].text.len == 0)
                    continue;
                if (sys.len > 0)
                    lx_buf_append(&sys, "\n\n", 2);
                lx_buf_append(&sys, msg->parts[i].text.ptr, msg->parts[i].text.len);
            }
            continue;
        }
        n_turns++;
    }
    lx_buf_append(out, "SYS ", 4);
    rt_put_str(out, lx_buf_str(&sys));
    lx_buf_append(out, "\n", 1);
    lx_buf_release(&sys);
    if (ref->max_tokens >= 0)
        lx_buf_appendf(out, "MAX_TOKENS %lld\n", (long long)r->max_tokens);
    if (!o->no_stop) {
        lx_buf_append(out, "STOP", 4);
        for (size_t i = 0; i < r->n_stop; i++) {
            lx_buf_append(out, " ", 1);
            rt_put_str(out, r->stop[i]);
        }
        lx_buf_append(out, "\n", 1);
    }
    if (o->tools) {
        double t = r->temperature.v;

        if (ref->temperature.raw.len > 0)
            lx_buf_appendf(out, "TEMPERATURE %.17g\n",
                           r->temperature.raw.len == 0 ? -1 : o->temp_to_1 && t > 1 ? 1 : t);
        lx_buf_appendf(out, "TOOL_CHOICE %d ", (int)r->tool_choice);
        rt_put_str(out, r->tool_choice_name);
        lx_buf_append(out, "\nTOOLS", 6);
        for (size_t i = 0; i < r->n_tools; i++) {
            lx_buf_append(out, " ", 1);
            rt_put_str(out, r->tools[i].name);
        }
        lx_buf_append(out, "\n", 1);
    }
    if (o->keeps_turns)
        lx_buf_appendf(out, "TURNS %zu\n", n_turns);
    for (size_t m = 0; m < r->n_msgs; m++) {
        const struct lx_msg *msg = &r->msgs[m];

        if (msg->role == LX_ROLE_SYSTEM || msg->role == LX_ROLE_DEVELOPER)
            continue;
        if (o->keeps_turns)
            lx_buf_appendf(out, "MSG %s\n", rt_role(msg->role));
        for (size_t i = 0; i < msg->n_parts; i++) {
            const struct lx_part *p = &msg->parts[i];

            switch (p->type) {
            case LX_PART_TEXT:
                if (p->text.len == 0) /* empty texts: dropped by most protocols, meaningless */
                    break;
                lx_buf_appendf(out, "  %s ", msg->role == LX_ROLE_ASSISTANT ? "A" : "U");
                rt_put_str(out, p->text);
                lx_buf_append(out, "\n", 1);
                break;
            case LX_PART_TOOL_CALL:
                lx_buf_appendf(out, "  CALL #%zu ", n_calls);
                if (n_calls < cap && calls != NULL)
                    calls[n_calls] = p->id;
                n_calls++;
                if (o->has_ids) {
                    lx_buf_append(out, "id=", 3);
                    rt_put_str(out, p->id);
                    lx_buf_append(out, " ", 1);
                }
                rt_put_str(out, p->name);
                lx_buf_append(out, " ", 1);
                if (o->args_object && !rt_is_object(p->args, a))
                    lx_buf_append(out, "{}", 2);
                else
                    rt_put_json(out, p->args, a);
                lx_buf_append(out, "\n", 1);
                break;
            case LX_PART_TOOL_RESULT: {
                size_t k = 0;

                while (k < n_calls && k < cap && !lx_str_eq(calls[k], p->id))
                    k++;
                if (k < n_calls && k < cap)
                    lx_buf_appendf(out, "  RESULT #%zu ", k);
                else
                    lx_buf_append(out, "  RESULT #? ", 12);
                if (o->has_ids) {
                    lx_buf_append(out, "id=", 3);
                    rt_put_str(out, p->id);
                    lx_buf_append(out, " ", 1);
                }
                rt_put_result(out, p->text, o->gemini_result, a);
                lx_buf_append(out, "\n", 1);
                break;
            }
            default: lx_buf_appendf(out, "  PART type=%d\n", (int)p->type);
            }
        }
    }
}

/* ---- extractors: provider bodies without a front door, read into IR ----------------------- */

struct rt_rd {
    struct lx_json doc;
    struct lx_arena *a;
    struct lx_chat_req *r;
    size_t cap;
};

static struct lx_str rt_str(struct rt_rd *d, int t)
{
    struct lx_str s = LX_STR_NULL;

    if (lx_json_type(&d->doc, t) == LX_JSON_STRING)
        (void)lx_json_str(&d->doc, t, d->a, &s);
    return s;
}

static struct lx_msg *rt_msg(struct rt_rd *d, enum lx_role role, size_t n_parts)
{
    struct lx_msg *m;

    if (d->r->n_msgs >= d->cap)
        return NULL;
    m = &d->r->msgs[d->r->n_msgs++];
    memset(m, 0, sizeof(*m));
    m->role = role;
    m->parts = lx_arena_zalloc(d->a, (n_parts + 1) * sizeof(*m->parts));
    return m->parts != NULL ? m : NULL;
}

static struct lx_part *rt_part(struct lx_msg *m, enum lx_part_type type)
{
    struct lx_part *p = &m->parts[m->n_parts++];

    p->type = type;
    return p;
}

static int rt_rd_open(struct rt_rd *d, struct lx_str body, struct lx_arena *a,
                      struct lx_chat_req *r)
{
    d->a = a;
    d->r = r;
    lx_chat_req_init(r);
    lx_json_init(&d->doc, NULL);
    lx_json_use_arena(&d->doc, a);
    if (lx_json_parse(&d->doc, body.ptr, body.len) != LX_OK ||
        lx_json_type(&d->doc, 0) != LX_JSON_OBJECT)
        return LX_EPARSE;
    d->cap = d->doc.ntoks + 1;
    r->msgs = lx_arena_zalloc(a, d->cap * sizeof(*r->msgs));
    return r->msgs != NULL ? LX_OK : LX_ENOMEM;
}

static enum lx_role rt_role_of(struct rt_rd *d, int role)
{
    if (lx_json_str_eq(&d->doc, role, LX_STR("system")))
        return LX_ROLE_SYSTEM;
    if (lx_json_str_eq(&d->doc, role, LX_STR("assistant")))
        return LX_ROLE_ASSISTANT;
    if (lx_json_str_eq(&d->doc, role, LX_STR("tool")))
        return LX_ROLE_TOOL;
    return LX_ROLE_USER;
}

/* The decoded text of a string, or the joined texts of [{type:"text",text}|{text}] blocks. */
static struct lx_str rt_content_text(struct rt_rd *d, int c)
{
    struct lx_buf b = LX_BUF_INIT(RT_BUF_MAX);
    struct lx_str s;

    if (lx_json_type(&d->doc, c) == LX_JSON_STRING)
        return rt_str(d, c);
    for (int e = lx_json_first(&d->doc, c); e >= 0; e = lx_json_sibling(&d->doc, c, e)) {
        int t = lx_json_get(&d->doc, e, LX_STR("text"));
        int doc = lx_json_get(&d->doc, e, LX_STR("document"));
        int js = lx_json_get(&d->doc, e, LX_STR("json"));

        if (t >= 0) {
            s = rt_str(d, t);
            lx_buf_append(&b, s.ptr, s.len);
        } else if (js >= 0) {
            s = lx_json_raw(&d->doc, js);
            lx_buf_append(&b, s.ptr, s.len);
        } else if (doc >= 0) {
            int data = lx_json_get(&d->doc, doc, LX_STR("data"));

            s = lx_json_type(&d->doc, data) == LX_JSON_STRING ? rt_str(d, data)
                                                              : lx_json_raw(&d->doc, data);
            lx_buf_append(&b, s.ptr, s.len);
        }
    }
    s = lx_arena_dup(d->a, lx_buf_str(&b));
    lx_buf_release(&b);
    return s;
}

/* max_tokens and stop sequences found at obj.<max> and obj.<stop> (an array of strings). */
static int rt_read_params(struct rt_rd *d, int obj, const char *max, const char *stop)
{
    int m = lx_json_get(&d->doc, obj, lx_str_cstr(max));
    int st = stop != NULL ? lx_json_get(&d->doc, obj, lx_str_cstr(stop)) : -1;

    if (m >= 0 && lx_json_int64(&d->doc, m, &d->r->max_tokens) != LX_OK)
        return LX_EPARSE;
    if (lx_json_type(&d->doc, st) == LX_JSON_ARRAY) {
        d->r->stop = lx_arena_zalloc(d->a, (lx_json_count(&d->doc, st) + 1) * sizeof(*d->r->stop));
        if (d->r->stop == NULL)
            return LX_ENOMEM;
        for (int e = lx_json_first(&d->doc, st); e >= 0; e = lx_json_sibling(&d->doc, st, e))
            d->r->stop[d->r->n_stop++] = rt_str(d, e);
    }
    return LX_OK;
}

/* OpenAI-shaped messages (Cohere v2, Ollama, Workers AI): role, content, tool_calls
 * ({id?, function:{name, arguments: string or object}}), tool_call_id / tool_name. */
static int rt_read_chat_messages(struct rt_rd *d, bool pair_by_name)
{
    int msgs = lx_json_get(&d->doc, 0, LX_STR("messages"));
    size_t n_made = 0;

    if (lx_json_type(&d->doc, msgs) != LX_JSON_ARRAY)
        return LX_EPARSE;
    for (int mo = lx_json_first(&d->doc, msgs); mo >= 0; mo = lx_json_sibling(&d->doc, msgs, mo)) {
        enum lx_role role = rt_role_of(d, lx_json_get(&d->doc, mo, LX_STR("role")));
        int c = lx_json_get(&d->doc, mo, LX_STR("content"));
        int tc = lx_json_get(&d->doc, mo, LX_STR("tool_calls"));
        size_t n = lx_json_type(&d->doc, tc) == LX_JSON_ARRAY ? lx_json_count(&d->doc, tc) : 0;
        struct lx_msg *m = rt_msg(d, role, n + 1);
        struct lx_str text = rt_content_text(d, c);

        if (m == NULL)
            return LX_ENOMEM;
        if (role == LX_ROLE_TOOL) {
            struct lx_part *p = rt_part(m, LX_PART_TOOL_RESULT);

            p->text = text;
            p->id = rt_str(d, lx_json_get(&d->doc, mo, LX_STR("tool_call_id")));
            p->name = rt_str(d, lx_json_get(&d->doc, mo, LX_STR("tool_name")));
            if (pair_by_name) { /* the first call of that name not answered yet */
                p->id = LX_STR_NULL;
                for (size_t i = 0; i < d->r->n_msgs && p->id.len == 0; i++)
                    for (size_t k = 0; k < d->r->msgs[i].n_parts; k++) {
                        struct lx_part *q = &d->r->msgs[i].parts[k];

                        if (q->type == LX_PART_TOOL_CALL && !q->is_error &&
                            lx_str_eq(q->name, p->name)) {
                            q->is_error = true; /* marks "answered" in this scratch IR */
                            p->id = q->id;
                            break;
                        }
                    }
            }
            continue;
        }
        if (text.len > 0)
            rt_part(m, LX_PART_TEXT)->text = text;
        for (int e = n ? lx_json_first(&d->doc, tc) : -1; e >= 0;
             e = lx_json_sibling(&d->doc, tc, e)) {
            int fn = lx_json_get(&d->doc, e, LX_STR("function"));
            int args = lx_json_get(&d->doc, fn, LX_STR("arguments"));
            struct lx_part *p = rt_part(m, LX_PART_TOOL_CALL);

            p->id = rt_str(d, lx_json_get(&d->doc, e, LX_STR("id")));
            if (pair_by_name) {
                char *id = lx_arena_alloc(d->a, 32);

                if (id == NULL)
                    return LX_ENOMEM;
                p->id = lx_str_make(id, (size_t)snprintf(id, 32, "pair#%zu", n_made++));
            }
            p->name = rt_str(d, lx_json_get(&d->doc, fn, LX_STR("name")));
            p->args = lx_json_type(&d->doc, args) == LX_JSON_STRING ? rt_str(d, args)
                                                                     : lx_json_raw(&d->doc, args);
        }
    }
    for (size_t i = 0; i < d->r->n_msgs; i++) /* clear the "answered" marks */
        for (size_t k = 0; k < d->r->msgs[i].n_parts; k++)
            if (d->r->msgs[i].parts[k].type == LX_PART_TOOL_CALL)
                d->r->msgs[i].parts[k].is_error = false;
    return LX_OK;
}

/* Bedrock Converse: system[{text}], messages[{role, content:[{text}|{toolUse}|{toolResult}]}];
 * each toolResult becomes its own TOOL message (the IR's shape). */
static int rt_read_converse(struct rt_rd *d)
{
    int sys = lx_json_get(&d->doc, 0, LX_STR("system"));
    int msgs = lx_json_get(&d->doc, 0, LX_STR("messages"));

    if (lx_json_type(&d->doc, msgs) != LX_JSON_ARRAY)
        return LX_EPARSE;
    if (lx_json_type(&d->doc, sys) == LX_JSON_ARRAY) {
        struct lx_msg *m = rt_msg(d, LX_ROLE_SYSTEM, lx_json_count(&d->doc, sys));

        if (m == NULL)
            return LX_ENOMEM;
        for (int e = lx_json_first(&d->doc, sys); e >= 0; e = lx_json_sibling(&d->doc, sys, e))
            rt_part(m, LX_PART_TEXT)->text = rt_str(d, lx_json_get(&d->doc, e, LX_STR("text")));
    }
    for (int mo = lx_json_first(&d->doc, msgs); mo >= 0; mo = lx_json_sibling(&d->doc, msgs, mo)) {
        enum lx_role role = rt_role_of(d, lx_json_get(&d->doc, mo, LX_STR("role")));
        int c = lx_json_get(&d->doc, mo, LX_STR("content"));
        struct lx_msg *cur = NULL;

        if (lx_json_type(&d->doc, c) != LX_JSON_ARRAY)
            return LX_EPARSE;
        for (int b = lx_json_first(&d->doc, c); b >= 0; b = lx_json_sibling(&d->doc, c, b)) {
            int t = lx_json_get(&d->doc, b, LX_STR("text"));
            int tu = lx_json_get(&d->doc, b, LX_STR("toolUse"));
            int tr = lx_json_get(&d->doc, b, LX_STR("toolResult"));
            struct lx_part *p;

            if (tr >= 0) {
                struct lx_msg *m = rt_msg(d, LX_ROLE_TOOL, 1);

                if (m == NULL)
                    return LX_ENOMEM;
                p = rt_part(m, LX_PART_TOOL_RESULT);
                p->id = rt_str(d, lx_json_get(&d->doc, tr, LX_STR("toolUseId")));
                p->text = rt_content_text(d, lx_json_get(&d->doc, tr, LX_STR("content")));
                cur = NULL;
                continue;
            }
            if (cur == NULL && (cur = rt_msg(d, role, lx_json_count(&d->doc, c))) == NULL)
                return LX_ENOMEM;
            if (t >= 0) {
                rt_part(cur, LX_PART_TEXT)->text = rt_str(d, t);
            } else if (tu >= 0) {
                p = rt_part(cur, LX_PART_TOOL_CALL);
                p->id = rt_str(d, lx_json_get(&d->doc, tu, LX_STR("toolUseId")));
                p->name = rt_str(d, lx_json_get(&d->doc, tu, LX_STR("name")));
                p->args = lx_json_raw(&d->doc, lx_json_get(&d->doc, tu, LX_STR("input")));
            } else if (lx_json_get(&d->doc, b, LX_STR("cachePoint")) < 0) {
                rt_part(cur, LX_PART_REDACTED_THINKING); /* shows up as an unexpected part */
            }
        }
    }
    return LX_OK;
}

/* ---- the targets ---------------------------------------------------------------------------- */

enum rt_reader {
    RT_READ_OPENAI = 0, /* the OpenAI front door */
    RT_READ_ANTHROPIC,  /* the Anthropic front door (a model added when the body has none) */
    RT_READ_GEMINI,     /* the Gemini front door */
    RT_READ_CONVERSE,
    RT_READ_COHERE,
    RT_READ_OLLAMA,
    RT_READ_WORKERS,
};

struct rt_target {
    const char *label;
    const struct lx_provider_ops *ops;
    struct lx_config_provider conf;
    const char *model, *key;
    enum rt_reader reader;
    struct rt_opts opts;
};

#define RT_CONF(t, p, base)                                                                        \
    {.name = "rt", .type = (t), .proto = (p), .base_url = (base), .enabled = true}

/* The comparison per protocol family (struct rt_opts). */
#define RT_OAI {.keeps_turns = true, .has_ids = true, .tools = true}       /* OpenAI, Azure */
#define RT_COH {.keeps_turns = true, .has_ids = true}                      /* Cohere */
#define RT_ANT {.has_ids = true, .args_object = true, .tools = true, .temp_to_1 = true}
#define RT_CNV {.has_ids = true, .args_object = true}                      /* Bedrock Converse */
#define RT_GEM {.gemini_result = true, .args_object = true, .tools = true} /* Gemini, Vertex */
#define RT_OLL {.keeps_turns = true, .args_object = true}                  /* Ollama */
#define RT_WAI {.keeps_turns = true, .has_ids = true, .no_stop = true}     /* Workers AI */

/* Which protocols keep turns as the client sent them: OpenAI-shaped ones (OpenAI, Azure, Cohere,
 * Ollama, Workers AI). Anthropic, Gemini and Bedrock merge consecutive turns of one role (user
 * text after tool results, two user messages) because they want alternation: for them the
 * event sequence is compared, not the turns. Gemini and Ollama carry no call ids. */
static struct rt_target rt_targets[] = {
    {"openai", &lx_provider_openai,
     RT_CONF("openai", LX_CONFIG_PROTO_OPENAI, "https://api.example.com/v1"), "gpt-4o-mini",
     "sk-test", RT_READ_OPENAI, RT_OAI},
    {"azure", &lx_provider_azure,
     RT_CONF(NULL, LX_CONFIG_PROTO_AZURE, "https://res.openai.azure.com"), "gpt-4o-mini",
     "azkey", RT_READ_OPENAI, RT_OAI},
    {"anthropic", &lx_provider_anthropic,
     RT_CONF("anthropic", LX_CONFIG_PROTO_ANTHROPIC, "https://api.anthropic.com/v1"),
     "claude-sonnet-4-5", "sk-ant-test", RT_READ_ANTHROPIC, RT_ANT},
    {"gemini", &lx_provider_gemini,
     RT_CONF("gemini", LX_CONFIG_PROTO_GEMINI, "https://generativelanguage.googleapis.com/v1beta"),
     "gemini-2.5-flash", "AIzaTEST", RT_READ_GEMINI, RT_GEM},
    {"vertex-gemini", &lx_provider_vertex, RT_CONF("vertex", LX_CONFIG_PROTO_VERTEX, NULL),
     "gemini-2.5-flash", "ya29.token", RT_READ_GEMINI, RT_GEM},
    {"vertex-claude", &lx_provider_vertex, RT_CONF("vertex", LX_CONFIG_PROTO_VERTEX, NULL),
     "claude-sonnet-4-5@20250929", "ya29.token", RT_READ_ANTHROPIC, RT_ANT},
    {"bedrock", &lx_provider_bedrock, RT_CONF("bedrock", LX_CONFIG_PROTO_BEDROCK, NULL),
     "anthropic.claude-3-5-haiku-20241022-v1:0", "", RT_READ_CONVERSE, RT_CNV},
    {"bedrock-nova", &lx_provider_bedrock, RT_CONF("bedrock", LX_CONFIG_PROTO_BEDROCK, NULL),
     "amazon.nova-lite-v1:0", "", RT_READ_CONVERSE, RT_CNV},
    {"bedrock-invoke", &lx_provider_bedrock,
     RT_CONF("bedrock-invoke", LX_CONFIG_PROTO_BEDROCK, NULL),
     "anthropic.claude-3-5-haiku-20241022-v1:0", "", RT_READ_ANTHROPIC, RT_ANT},
    {"cohere", &lx_provider_cohere,
     RT_CONF("cohere", LX_CONFIG_PROTO_COHERE, "https://api.cohere.com"), "command-a-03-2025",
     "co-test", RT_READ_COHERE, RT_COH},
    {"ollama", &lx_provider_ollama,
     RT_CONF("ollama", LX_CONFIG_PROTO_OLLAMA, "http://127.0.0.1:11434"), "llama3.2", "",
     RT_READ_OLLAMA, RT_OLL},
    {"workers_ai", &lx_provider_workers_ai,
     RT_CONF("workers_ai", LX_CONFIG_PROTO_WORKERS_AI,
             "https://api.cloudflare.com/client/v4/accounts/0123abcd"),
     "@cf/meta/llama-3.1-8b-instruct", "cf-token", RT_READ_WORKERS, RT_WAI},
};

static void rt_fix_targets(void)
{
    for (size_t i = 0; i < LX_ARRAY_SIZE(rt_targets); i++) {
        struct lx_config_provider *c = &rt_targets[i].conf;

        if (c->proto == LX_CONFIG_PROTO_AZURE)
            c->api_version = "2024-10-21";
        if (c->proto == LX_CONFIG_PROTO_VERTEX) {
            c->project = "my-project";
            c->region = "us-central1";
        }
        if (c->proto == LX_CONFIG_PROTO_BEDROCK)
            c->region = "us-east-1";
    }
}

/* The provider's body -> IR B. */
static int rt_read_back(const struct rt_target *t, struct lx_str body, struct lx_arena *a,
                        struct lx_chat_req *b, struct lx_err *err)
{
    struct rt_rd d;
    int rc;

    switch (t->reader) {
    case RT_READ_OPENAI: return lx_frontdoor_openai.decode_request(body, a, b, err);
    case RT_READ_GEMINI: return lx_frontdoor_gemini.decode_request(body, a, b, err);
    case RT_READ_ANTHROPIC:
        /* Vertex rawPredict and Bedrock InvokeModel bodies name no model (it is in the URL):
         * give the front door one so that it reads the rest. */
        if (t->conf.proto != LX_CONFIG_PROTO_ANTHROPIC && body.len > 1 && body.ptr[0] == '{') {
            static const char pre[] = "{\"model\":\"rt\",";
            char *nb = lx_arena_alloc(a, body.len + sizeof(pre));

            if (nb == NULL)
                return LX_ENOMEM;
            memcpy(nb, pre, sizeof(pre) - 1);
            memcpy(nb + sizeof(pre) - 1, body.ptr + 1, body.len - 1);
            body = lx_str_make(nb, body.len - 1 + sizeof(pre) - 1);
        }
        return lx_frontdoor_anthropic.decode_request(body, a, b, err);
    case RT_READ_CONVERSE:
    case RT_READ_COHERE:
    case RT_READ_OLLAMA:
    case RT_READ_WORKERS: break;
    }
    rc = rt_rd_open(&d, body, a, b);
    if (rc != LX_OK) {
        lx_err_set(err, rc, 500, "the provider's body is not a JSON object");
        return rc;
    }
    rc = t->reader == RT_READ_CONVERSE ? rt_read_converse(&d)
                                       : rt_read_chat_messages(&d, t->reader == RT_READ_OLLAMA);
    if (rc == LX_OK && t->reader == RT_READ_CONVERSE)
        rc = rt_read_params(&d, lx_json_get(&d.doc, 0, LX_STR("inferenceConfig")), "maxTokens",
                            "stopSequences");
    else if (rc == LX_OK && t->reader == RT_READ_OLLAMA)
        rc = rt_read_params(&d, lx_json_get(&d.doc, 0, LX_STR("options")), "num_predict", "stop");
    else if (rc == LX_OK)
        rc = rt_read_params(&d, 0, "max_tokens",
                            t->reader == RT_READ_COHERE ? "stop_sequences" : NULL);
    if (rc != LX_OK)
        lx_err_set(err, rc, 500, "the provider's body has no messages");
    return rc;
}

static void rt_report(uint64_t seed, const struct rt_target *t, struct lx_str gen,
                      struct lx_str body, const char *why, struct lx_str ca, struct lx_str cb)
{
    fprintf(stderr,
            "roundtrip: seed=%llu provider=%s: %s\n--- generated OpenAI body\n%.*s\n"
            "--- %s body\n%.*s\n--- canonical A (OpenAI -> IR)\n%.*s--- canonical B (%s body "
            "-> IR)\n%.*s---\n",
            (unsigned long long)seed, t->label, why, (int)gen.len, gen.ptr, t->label,
            (int)body.len, body.ptr ? body.ptr : "", (int)ca.len, ca.ptr ? ca.ptr : "",
            t->label, (int)cb.len, cb.ptr ? cb.ptr : "");
}

/* One generated request through one target; 0 when A and B agree. */
static int rt_one(uint64_t seed, struct lx_str gen, const struct lx_chat_req *ra,
                  struct rt_target *t, struct lx_arena *a, bool verbose)
{
    struct lx_provider_call call = {.conf = &t->conf,
                                    .model = lx_str_cstr(t->model),
                                    .key = lx_str_cstr(t->key),
                                    .endpoint = LX_EP_CHAT,
                                    .stream = ra->stream,
                                    .now_s = 1736942400};
    struct lx_upstream_req up;
    struct lx_chat_req rb;
    struct lx_err err = {0};
    struct lx_buf ca = LX_BUF_INIT(RT_BUF_MAX), cb = LX_BUF_INIT(RT_BUF_MAX);
    int rc, bad = 0;

    memset(&up, 0, sizeof(up));
    rc = t->ops->build_request(&call, ra, a, &up, &err);
    if (rc != LX_OK) {
        char why[256];

        snprintf(why, sizeof(why), "build_request failed: %s (%d): %s", lx_strerror(rc),
                 err.http_status, err.msg);
        if (verbose)
            rt_report(seed, t, gen, LX_STR_NULL, why, LX_STR_NULL, LX_STR_NULL);
        return 1;
    }
    rc = rt_read_back(t, up.body, a, &rb, &err);
    if (rc != LX_OK) {
        char why[256];

        snprintf(why, sizeof(why), "reading the body back failed: %s: %s", lx_strerror(rc),
                 err.msg);
        if (verbose)
            rt_report(seed, t, gen, up.body, why, LX_STR_NULL, LX_STR_NULL);
        return 1;
    }
    rt_canon(ra, ra, &t->opts, a, &ca);
    rt_canon(&rb, ra, &t->opts, a, &cb);
    if (getenv("LX_RT_SHOW") != NULL) /* LX_RT_SEED=n LX_RT_SHOW=1: print what is compared */
        rt_report(seed, t, gen, up.body, "shown", lx_buf_str(&ca), lx_buf_str(&cb));
    if (ca.err != LX_OK || cb.err != LX_OK || ca.len != cb.len ||
        memcmp(ca.ptr, cb.ptr, ca.len) != 0) {
        if (verbose)
            rt_report(seed, t, gen, up.body, "A and B differ", lx_buf_str(&ca),
                      lx_buf_str(&cb));
        bad = 1;
    }
    lx_buf_release(&ca);
    lx_buf_release(&cb);
    return bad;
}

/* Seeds come from LX_RT_SEED (one seed, to replay a failure) or 1..RT_RUNS (LX_RT_RUNS=n for a
 * longer hunt). */
LX_TEST(providers_roundtrip_generated)
{
    const char *one = getenv("LX_RT_SEED"), *runs = getenv("LX_RT_RUNS");
    uint64_t first = 1, last = RT_RUNS;
    unsigned fails[LX_ARRAY_SIZE(rt_targets)] = {0}, total = 0, n_calls = 0;

    rt_fix_targets();
    if (runs != NULL && strtoull(runs, NULL, 10) > 0)
        last = strtoull(runs, NULL, 10);
    if (one != NULL) {
        first = strtoull(one, NULL, 10);
        last = first;
    }
    for (uint64_t seed = first; seed <= last; seed++) {
        struct lx_buf gen = LX_BUF_INIT(RT_BUF_MAX);
        struct lx_arena *a = lx_arena_new(1 << 16, 64u << 20);
        struct lx_chat_req ra;
        struct lx_err err = {0};
        int rc;

        LX_ASSERT(a != NULL);
        LX_ASSERT_EQ(rt_generate(seed, &gen), LX_OK);
        rc = lx_frontdoor_openai.decode_request(lx_buf_str(&gen), a, &ra, &err);
        if (rc != LX_OK) {
            fprintf(stderr, "roundtrip: seed=%llu: the OpenAI front door refused the generated "
                            "body: %s\n%s\n", (unsigned long long)seed, err.msg, gen.ptr);
            lx_buf_release(&gen);
            lx_arena_free(a);
            return 1;
        }
        for (size_t m = 0; m < ra.n_msgs; m++)
            for (size_t k = 0; k < ra.msgs[m].n_parts; k++)
                n_calls += ra.msgs[m].parts[k].type == LX_PART_TOOL_CALL;
        for (size_t i = 0; i < LX_ARRAY_SIZE(rt_targets); i++) {
            /* the first two failures of a target are printed; the rest only counted */
            if (rt_one(seed, lx_buf_str(&gen), &ra, &rt_targets[i], a, fails[i] < 2) != 0) {
                fails[i]++;
                total++;
            }
            lx_arena_reset(a);
            /* the arena was reset: decode A again for the next target */
            rc = lx_frontdoor_openai.decode_request(lx_buf_str(&gen), a, &ra, &err);
            LX_ASSERT_EQ(rc, LX_OK);
        }
        lx_buf_release(&gen);
        lx_arena_free(a);
    }
    for (size_t i = 0; i < LX_ARRAY_SIZE(rt_targets); i++)
        if (fails[i] > 0)
            fprintf(stderr, "roundtrip: %s: %u of %llu generated requests differ\n",
                    rt_targets[i].label, fails[i], (unsigned long long)(last - first + 1));
    /* the generator must exercise tool calls, or the property says little */
    LX_ASSERT(one != NULL || n_calls > RT_RUNS / 2);
    LX_ASSERT_EQ(total, 0);
    return 0;
}

/* ---- the finish-reason table ---------------------------------------------------------------- */

/* Each front door's encoder writes the word for an IR finish, and the provider adapter of the
 * same protocol reads it back: through the real encode_response / parse_response and
 * encode_delta / parse_event, never through a copy of the tables. `back` is what must come back;
 * it differs from the finish only where the protocol has no word (the lossy cases). */
struct rt_fin_case {
    enum lx_finish f;
    const char *word; /* what the client sees */
    enum lx_finish back;
};

static const struct rt_fin_case rt_fin_openai[] = {
    {LX_FINISH_STOP, "stop", LX_FINISH_STOP},
    {LX_FINISH_LENGTH, "length", LX_FINISH_LENGTH},
    {LX_FINISH_TOOL_CALLS, "tool_calls", LX_FINISH_TOOL_CALLS},
    {LX_FINISH_CONTENT_FILTER, "content_filter", LX_FINISH_CONTENT_FILTER},
    {LX_FINISH_ERROR, "stop", LX_FINISH_STOP}, /* lossy: OpenAI has no "error" finish */
};
static const struct rt_fin_case rt_fin_anthropic[] = {
    {LX_FINISH_STOP, "end_turn", LX_FINISH_STOP},
    {LX_FINISH_LENGTH, "max_tokens", LX_FINISH_LENGTH},
    {LX_FINISH_TOOL_CALLS, "tool_use", LX_FINISH_TOOL_CALLS},
    {LX_FINISH_CONTENT_FILTER, "refusal", LX_FINISH_CONTENT_FILTER},
    {LX_FINISH_ERROR, "end_turn", LX_FINISH_STOP}, /* lossy: no error stop_reason */
};
static const struct rt_fin_case rt_fin_gemini[] = {
    {LX_FINISH_STOP, "STOP", LX_FINISH_STOP},
    {LX_FINISH_LENGTH, "MAX_TOKENS", LX_FINISH_LENGTH},
    /* Gemini ends a function-calling turn with STOP; the decoder sees the functionCall */
    {LX_FINISH_TOOL_CALLS, "STOP", LX_FINISH_TOOL_CALLS},
    {LX_FINISH_CONTENT_FILTER, "SAFETY", LX_FINISH_CONTENT_FILTER},
    {LX_FINISH_ERROR, "OTHER", LX_FINISH_STOP}, /* lossy: OTHER reads back as STOP */
};

struct rt_fin_door {
    const char *label;
    const struct lx_frontdoor_ops *fd;
    const struct lx_provider_ops *prov;
    struct lx_config_provider conf;
    const struct rt_fin_case *cases;
    size_t n_cases;
    const char *path[3]; /* where the word is in the answer: keys, or "0" for element 0 */
};

static const struct rt_fin_door rt_fin_doors[] = {
    {"openai", &lx_frontdoor_openai, &lx_provider_openai,
     RT_CONF("openai", LX_CONFIG_PROTO_OPENAI, "https://api.example.com/v1"), rt_fin_openai,
     LX_ARRAY_SIZE(rt_fin_openai), {"choices", "0", "finish_reason"}},
    {"anthropic", &lx_frontdoor_anthropic, &lx_provider_anthropic,
     RT_CONF("anthropic", LX_CONFIG_PROTO_ANTHROPIC, "https://api.anthropic.com/v1"),
     rt_fin_anthropic, LX_ARRAY_SIZE(rt_fin_anthropic), {"stop_reason", NULL, NULL}},
    {"gemini", &lx_frontdoor_gemini, &lx_provider_gemini,
     RT_CONF("gemini", LX_CONFIG_PROTO_GEMINI, "https://generativelanguage.googleapis.com/v1beta"),
     rt_fin_gemini, LX_ARRAY_SIZE(rt_fin_gemini), {"candidates", "0", "finishReason"}},
};

static struct lx_str rt_fin_word(struct lx_str body, const char *const path[3], struct lx_arena *a)
{
    struct lx_json doc;
    struct lx_str s = LX_STR_NULL;
    int t = 0;

    lx_json_init(&doc, NULL);
    lx_json_use_arena(&doc, a);
    if (lx_json_parse(&doc, body.ptr, body.len) != LX_OK)
        return LX_STR("(not JSON)");
    for (int i = 0; i < 3 && path[i] != NULL; i++)
        t = strcmp(path[i], "0") == 0 ? lx_json_first(&doc, t)
                                      : lx_json_get(&doc, t, lx_str_cstr(path[i]));
    if (lx_json_type(&doc, t) != LX_JSON_STRING || lx_json_str(&doc, t, a, &s) != LX_OK)
        return LX_STR("(no word)");
    return s;
}

/* The answer a provider gave: one choice ending with f, a tool call when f is TOOL_CALLS. */
static void rt_fin_resp(enum lx_finish f, struct lx_chat_resp *resp, struct lx_choice *ch,
                        struct lx_part *part)
{
    lx_chat_resp_init(resp);
    memset(ch, 0, sizeof(*ch));
    memset(part, 0, sizeof(*part));
    resp->id = LX_STR("resp_1");
    resp->model = LX_STR("m");
    resp->created = 1700000000;
    resp->choices = ch;
    resp->n_choices = 1;
    resp->usage.input = 3;
    resp->usage.output = 2;
    resp->usage.total = 5;
    ch->message.role = LX_ROLE_ASSISTANT;
    ch->message.parts = part;
    ch->message.n_parts = 1;
    ch->finish = f;
    if (f == LX_FINISH_TOOL_CALLS) {
        part->type = LX_PART_TOOL_CALL;
        part->id = LX_STR("call_rt1");
        part->name = LX_STR("lookup");
        part->args = LX_STR("{\"q\":\"x\"}");
    } else {
        part->type = LX_PART_TEXT;
        part->text = LX_STR("ok");
    }
}

static int rt_fin_stream(const struct rt_fin_door *door, const struct lx_provider_call *call,
                         const struct lx_chat_req *req, enum lx_finish f, struct lx_arena *a,
                         enum lx_finish *got)
{
    struct lx_fd_stream st;
    struct lx_buf out = LX_BUF_INIT(1 << 20);
    struct lx_delta d[5];
    struct lx_pt_summary s;
    int rc = LX_OK;

    memset(&st, 0, sizeof(st));
    memset(d, 0, sizeof(d));
    st.req = req;
    st.a = a;
    st.created = 1700000000;
    st.usage = (struct lx_usage)LX_USAGE_INIT;
    d[0].type = LX_DELTA_START;
    d[0].id = LX_STR("resp_1");
    d[0].name = LX_STR("m");
    if (f == LX_FINISH_TOOL_CALLS) {
        d[1].type = LX_DELTA_TOOL_CALL;
        d[1].id = LX_STR("call_rt1");
        d[1].name = LX_STR("lookup");
        d[1].text = LX_STR("{\"q\":\"x\"}");
    } else {
        d[1].type = LX_DELTA_TEXT;
        d[1].text = LX_STR("ok");
    }
    d[2].type = LX_DELTA_FINISH;
    d[2].finish = f;
    d[3].type = LX_DELTA_USAGE;
    d[3].usage = (struct lx_usage){3, 2, 5, -1, -1, -1};
    d[4].type = LX_DELTA_DONE;
    for (size_t i = 0; i < LX_ARRAY_SIZE(d) && rc == LX_OK; i++)
        rc = door->fd->encode_delta(&st, &d[i], &out);
    if (rc != LX_OK || out.err != LX_OK) {
        lx_buf_release(&out);
        return rc != LX_OK ? rc : out.err;
    }
    lx_pt_summary_init(&s);
    rc = lx_pt_replay(door->prov, call, lx_buf_str(&out), LX_PT_NO_SPLIT, &s);
    *got = s.finish;
    if (rc != LX_OK || s.n_done != 1)
        fprintf(stderr, "%s stream:\n%s--- transcript\n%s", door->label, out.ptr,
                lx_pt_lines(&s));
    lx_pt_summary_release(&s);
    lx_buf_release(&out);
    return rc;
}

LX_TEST(providers_roundtrip_finish_front_doors)
{
    struct lx_arena *a = lx_arena_new(1 << 14, 16u << 20);

    LX_ASSERT(a != NULL);
    for (size_t di = 0; di < LX_ARRAY_SIZE(rt_fin_doors); di++) {
        const struct rt_fin_door *door = &rt_fin_doors[di];
        struct lx_provider_call call = {.conf = &door->conf, .model = LX_STR("m"),
                                        .key = LX_STR("k-test"), .endpoint = LX_EP_CHAT};
        bool seen[LX_FINISH_ERROR + 1] = {false};

        for (size_t ci = 0; ci < door->n_cases; ci++) {
            const struct rt_fin_case *c = &door->cases[ci];
            struct lx_chat_req req;
            struct lx_chat_resp resp, back;
            struct lx_choice ch;
            struct lx_part part;
            struct lx_buf out = LX_BUF_INIT(1 << 20);
            struct lx_err err = {0};
            struct lx_str word;
            enum lx_finish sf = LX_FINISH_UNSET;
            int rc;

            seen[c->f] = true;
            lx_chat_req_init(&req);
            req.model = LX_STR("m");
            req.source = door->fd->source;
            rt_fin_resp(c->f, &resp, &ch, &part);
            LX_ASSERT_EQ(door->fd->encode_response(&req, &resp, 1700000000, &out), LX_OK);
            word = rt_fin_word(lx_buf_str(&out), door->path, a);
            if (!lx_str_eq(word, lx_str_cstr(c->word)))
                LX_FAIL("%s front door: finish %d is written \"%.*s\", want \"%s\"\n%s",
                        door->label, (int)c->f, (int)word.len, word.ptr, c->word, out.ptr);
            rc = door->prov->parse_response(&call, lx_buf_str(&out), a, &back, &err);
            if (rc != LX_OK)
                LX_FAIL("%s provider cannot read its front door's answer: %s\n%s", door->label,
                        err.msg, out.ptr);
            LX_ASSERT_EQ(back.n_choices, 1);
            if (back.choices[0].finish != c->back)
                LX_FAIL("%s: finish %d -> \"%s\" -> %d, want %d", door->label, (int)c->f,
                        c->word, (int)back.choices[0].finish, (int)c->back);
            lx_buf_release(&out);

            call.stream = true;
            rc = rt_fin_stream(door, &call, &req, c->f, a, &sf);
            call.stream = false;
            if (rc != LX_OK)
                LX_FAIL("%s: the stream ending with finish %d does not read back (%s)",
                        door->label, (int)c->f, lx_strerror(rc));
            if (sf != c->back)
                LX_FAIL("%s stream: finish %d -> %d, want %d", door->label, (int)c->f, (int)sf,
                        (int)c->back);
            lx_arena_reset(a);
        }
        for (int f = LX_FINISH_STOP; f <= LX_FINISH_ERROR; f++)
            if (!seen[f])
                LX_FAIL("%s: finish %d not covered", door->label, f);
    }
    lx_arena_free(a);
    return 0;
}

/* Every provider's decoder: each finish word of its protocol (PROTOCOLS.md 7.1) in a minimal
 * answer -> the IR value(s) the spec allows. Where the spec leaves a choice ("stop (or error)",
 * Gemini RECITATION) both are accepted; the adapter's docs say which it took. */
#define RT_F(x) (1u << LX_FINISH_##x)

struct rt_word {
    const char *word;
    bool tool;        /* the answer carries a tool call */
    unsigned allowed; /* RT_F bits */
};

struct rt_word_prov {
    const char *label;
    const struct lx_provider_ops *ops;
    struct lx_config_provider conf;
    const char *model;
    const char *fmt_text, *fmt_tool; /* answers with one "%s" where the word goes */
    const struct rt_word *words;
    size_t n_words;
};

static const struct rt_word rt_w_openai[] = {
    {"stop", false, RT_F(STOP)},           {"length", false, RT_F(LENGTH)},
    {"tool_calls", true, RT_F(TOOL_CALLS)}, {"content_filter", false, RT_F(CONTENT_FILTER)},
    {"function_call", true, RT_F(TOOL_CALLS)},
};
static const struct rt_word rt_w_anthropic[] = {
    {"end_turn", false, RT_F(STOP)},
    {"stop_sequence", false, RT_F(STOP)},
    {"pause_turn", false, RT_F(STOP)},
    {"max_tokens", false, RT_F(LENGTH)},
    {"model_context_window_exceeded", false, RT_F(LENGTH)},
    {"tool_use", true, RT_F(TOOL_CALLS)},
    {"refusal", false, RT_F(CONTENT_FILTER)},
};
static const struct rt_word rt_w_gemini[] = {
    {"STOP", false, RT_F(STOP)},
    {"STOP", true, RT_F(TOOL_CALLS)}, /* a functionCall part was emitted */
    {"MAX_TOKENS", false, RT_F(LENGTH)},
    {"SAFETY", false, RT_F(CONTENT_FILTER)},
    {"BLOCKLIST", false, RT_F(CONTENT_FILTER)},
    {"PROHIBITED_CONTENT", false, RT_F(CONTENT_FILTER)},
    {"SPII", false, RT_F(CONTENT_FILTER)},
    {"IMAGE_SAFETY", false, RT_F(CONTENT_FILTER)},
    {"RECITATION", false, RT_F(STOP) | RT_F(CONTENT_FILTER)},
    {"OTHER", false, RT_F(STOP)},
    {"FINISH_REASON_UNSPECIFIED", false, RT_F(STOP)},
    {"MALFORMED_FUNCTION_CALL", false, RT_F(STOP) | RT_F(ERROR)},
    {"UNEXPECTED_TOOL_CALL", false, RT_F(STOP) | RT_F(ERROR)},
    {"TOO_MANY_TOOL_CALLS", false, RT_F(STOP) | RT_F(ERROR)},
};
static const struct rt_word rt_w_bedrock[] = {
    {"end_turn", false, RT_F(STOP)},
    {"stop_sequence", false, RT_F(STOP)},
    {"tool_use", true, RT_F(TOOL_CALLS)},
    {"max_tokens", false, RT_F(LENGTH)},
    {"model_context_window_exceeded", false, RT_F(LENGTH)},
    {"guardrail_intervened", false, RT_F(CONTENT_FILTER)},
    {"content_filtered", false, RT_F(CONTENT_FILTER)},
    {"malformed_model_output", false, RT_F(STOP) | RT_F(ERROR)},
    {"malformed_tool_use", false, RT_F(STOP) | RT_F(ERROR)},
};
static const struct rt_word rt_w_cohere[] = {
    {"COMPLETE", false, RT_F(STOP)},        {"STOP_SEQUENCE", false, RT_F(STOP)},
    {"MAX_TOKENS", false, RT_F(LENGTH)},    {"TOOL_CALL", true, RT_F(TOOL_CALLS)},
    {"ERROR", false, RT_F(STOP) | RT_F(ERROR)}, {"TIMEOUT", false, RT_F(STOP) | RT_F(ERROR)},
};
static const struct rt_word rt_w_ollama[] = {
    {"stop", false, RT_F(STOP)},
    {"stop", true, RT_F(TOOL_CALLS)}, /* Ollama keeps saying stop after tool calls */
    {"length", false, RT_F(LENGTH)},
};

static const struct rt_word_prov rt_word_provs[] = {
    {"openai", &lx_provider_openai,
     RT_CONF("openai", LX_CONFIG_PROTO_OPENAI, "https://api.example.com/v1"), "m",
     "{\"id\":\"c1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{"
     "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"ok\"},\"finish_reason\":"
     "\"%s\"}]}",
     "{\"id\":\"c1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{"
     "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
     "\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"arguments\":\"{}\"}}]},"
     "\"finish_reason\":\"%s\"}]}",
     rt_w_openai, LX_ARRAY_SIZE(rt_w_openai)},
    {"anthropic", &lx_provider_anthropic,
     RT_CONF("anthropic", LX_CONFIG_PROTO_ANTHROPIC, "https://api.anthropic.com/v1"), "m",
     "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[{"
     "\"type\":\"text\",\"text\":\"ok\"}],\"stop_reason\":\"%s\",\"stop_sequence\":null,\"usage\":"
     "{\"input_tokens\":1,\"output_tokens\":1}}",
     "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[{"
     "\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"lookup\",\"input\":{}}],\"stop_reason\":"
     "\"%s\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}",
     rt_w_anthropic, LX_ARRAY_SIZE(rt_w_anthropic)},
    {"gemini", &lx_provider_gemini,
     RT_CONF("gemini", LX_CONFIG_PROTO_GEMINI, "https://generativelanguage.googleapis.com/v1beta"),
     "m",
     "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"ok\"}]},"
     "\"finishReason\":\"%s\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":1,"
     "\"candidatesTokenCount\":1,\"totalTokenCount\":2},\"modelVersion\":\"m\",\"responseId\":"
     "\"r1\"}",
     "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":"
     "\"lookup\",\"args\":{}}}]},\"finishReason\":\"%s\",\"index\":0}],\"usageMetadata\":{"
     "\"promptTokenCount\":1,\"candidatesTokenCount\":1,\"totalTokenCount\":2},\"modelVersion\":"
     "\"m\",\"responseId\":\"r1\"}",
     rt_w_gemini, LX_ARRAY_SIZE(rt_w_gemini)},
    {"bedrock", &lx_provider_bedrock, RT_CONF("bedrock", LX_CONFIG_PROTO_BEDROCK, NULL),
     "anthropic.claude-3-5-haiku-20241022-v1:0",
     "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"text\":\"ok\"}]}},"
     "\"stopReason\":\"%s\",\"usage\":{\"inputTokens\":1,\"outputTokens\":1,\"totalTokens\":2}}",
     "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"toolUse\":{\"toolUseId\":"
     "\"tooluse_1\",\"name\":\"lookup\",\"input\":{}}}]}},\"stopReason\":\"%s\",\"usage\":{"
     "\"inputTokens\":1,\"outputTokens\":1,\"totalTokens\":2}}",
     rt_w_bedrock, LX_ARRAY_SIZE(rt_w_bedrock)},
    {"cohere", &lx_provider_cohere,
     RT_CONF("cohere", LX_CONFIG_PROTO_COHERE, "https://api.cohere.com"), "command-a-03-2025",
     "{\"id\":\"x\",\"message\":{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
     "\"ok\"}]},\"finish_reason\":\"%s\",\"usage\":{\"tokens\":{\"input_tokens\":1,"
     "\"output_tokens\":1}}}",
     "{\"id\":\"x\",\"message\":{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\",\"type\":"
     "\"function\",\"function\":{\"name\":\"lookup\",\"arguments\":\"{}\"}}]},\"finish_reason\":"
     "\"%s\",\"usage\":{\"tokens\":{\"input_tokens\":1,\"output_tokens\":1}}}",
     rt_w_cohere, LX_ARRAY_SIZE(rt_w_cohere)},
    {"ollama", &lx_provider_ollama,
     RT_CONF("ollama", LX_CONFIG_PROTO_OLLAMA, "http://127.0.0.1:11434"), "llama3.2",
     "{\"model\":\"llama3.2\",\"created_at\":\"2024-01-01T00:00:00Z\",\"message\":{\"role\":"
     "\"assistant\",\"content\":\"ok\"},\"done\":true,\"done_reason\":\"%s\","
     "\"prompt_eval_count\":1,\"eval_count\":1}",
     "{\"model\":\"llama3.2\",\"created_at\":\"2024-01-01T00:00:00Z\",\"message\":{\"role\":"
     "\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"lookup\","
     "\"arguments\":{}}}]},\"done\":true,\"done_reason\":\"%s\",\"prompt_eval_count\":1,"
     "\"eval_count\":1}",
     rt_w_ollama, LX_ARRAY_SIZE(rt_w_ollama)},
};

LX_TEST(providers_roundtrip_finish_provider_words)
{
    struct lx_arena *a = lx_arena_new(1 << 14, 16u << 20);

    LX_ASSERT(a != NULL);
    for (size_t pi = 0; pi < LX_ARRAY_SIZE(rt_word_provs); pi++) {
        const struct rt_word_prov *pv = &rt_word_provs[pi];
        struct lx_config_provider conf = pv->conf;
        struct lx_provider_call call = {.conf = &conf, .model = lx_str_cstr(pv->model),
                                        .endpoint = LX_EP_CHAT};
        unsigned reached = 0;

        if (conf.proto == LX_CONFIG_PROTO_BEDROCK)
            conf.region = "us-east-1";
        for (size_t wi = 0; wi < pv->n_words; wi++) {
            const struct rt_word *w = &pv->words[wi];
            const char *fmt = w->tool ? pv->fmt_tool : pv->fmt_text, *hole = strstr(fmt, "%s");
            struct lx_buf b = LX_BUF_INIT(1 << 16);
            struct lx_chat_resp resp;
            struct lx_err err = {0};
            const char *body;
            int rc;

            LX_ASSERT(hole != NULL);
            lx_buf_append(&b, fmt, (size_t)(hole - fmt)); /* the word in place of the %s */
            lx_buf_append(&b, w->word, strlen(w->word));
            lx_buf_append(&b, hole + 2, strlen(hole + 2));
            LX_ASSERT_EQ(b.err, LX_OK);
            body = lx_arena_strndup(a, b.ptr, b.len);
            lx_buf_release(&b);
            LX_ASSERT(body != NULL);
            rc = pv->ops->parse_response(&call, lx_str_cstr(body), a, &resp, &err);
            if (rc != LX_OK)
                LX_FAIL("%s: cannot parse an answer ending with \"%s\": %s\n%s", pv->label,
                        w->word, err.msg, body);
            LX_ASSERT_EQ(resp.n_choices, 1);
            if (!(w->allowed & (1u << resp.choices[0].finish)))
                LX_FAIL("%s: \"%s\"%s -> finish %d, which PROTOCOLS.md 7.1 does not allow",
                        pv->label, w->word, w->tool ? " (with a tool call)" : "",
                        (int)resp.choices[0].finish);
            if (!lx_str_eq(resp.choices[0].finish_raw, lx_str_cstr(w->word)))
                LX_FAIL("%s: finish_raw \"%.*s\", want the provider's word \"%s\"", pv->label,
                        (int)resp.choices[0].finish_raw.len, resp.choices[0].finish_raw.ptr,
                        w->word);
            reached |= 1u << resp.choices[0].finish;
            lx_arena_reset(a);
        }
        /* every protocol has words for these three */
        LX_ASSERT_EQ(reached & (RT_F(STOP) | RT_F(LENGTH) | RT_F(TOOL_CALLS)),
                     RT_F(STOP) | RT_F(LENGTH) | RT_F(TOOL_CALLS));
    }
    lx_arena_free(a);
    return 0;
}

/* ---- the comparison itself can fail ------------------------------------------------------- */

/* A property that never fails proves nothing: each mutation of B that a broken adapter could
 * make (an argument value, a call id, a result answering the wrong call, a role, two turns
 * merged where turns are kept, a lost stop sequence) must change the canonical form. */
static bool rt_differs(const struct lx_chat_req *ra, const struct lx_chat_req *rb,
                       const struct rt_opts *o, struct lx_arena *a)
{
    struct lx_buf ca = LX_BUF_INIT(RT_BUF_MAX), cb = LX_BUF_INIT(RT_BUF_MAX);
    bool differs;

    rt_canon(ra, ra, o, a, &ca);
    rt_canon(rb, ra, o, a, &cb);
    differs = ca.len != cb.len || memcmp(ca.ptr, cb.ptr, ca.len) != 0;
    lx_buf_release(&ca);
    lx_buf_release(&cb);
    return differs;
}

LX_TEST(providers_roundtrip_detects_mutations)
{
    static const char body[] =
        "{\"model\":\"m\",\"max_tokens\":9,\"stop\":[\"END\"],\"messages\":["
        "{\"role\":\"system\",\"content\":\"sys\"},"
        "{\"role\":\"user\",\"content\":\"hi\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
        "{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"lookup\","
        "\"arguments\":\"{\\\"n\\\":1,\\\"s\\\":\\\"x\\\"}\"}},"
        "{\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"lookup\","
        "\"arguments\":\"{}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_a\",\"content\":\"ra\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_b\",\"content\":\"rb\"},"
        "{\"role\":\"user\",\"content\":\"more\"}]}";
    static const struct rt_opts modes[] = {RT_OAI, RT_GEM};
    struct lx_arena *a = lx_arena_new(1 << 14, 16u << 20);
    struct lx_chat_req ra, rb;
    struct lx_err err = {0};
    struct lx_msg *asst, *merged;
    struct lx_str stop, bs = lx_str_make(body, sizeof(body) - 1);

    LX_ASSERT(a != NULL);
    LX_ASSERT_EQ(lx_frontdoor_openai.decode_request(bs, a, &ra, &err), LX_OK);
    LX_ASSERT_EQ(ra.n_msgs, 6);
    for (size_t mi = 0; mi < LX_ARRAY_SIZE(modes); mi++) {
        const struct rt_opts *o = &modes[mi];

        LX_ASSERT_EQ(lx_frontdoor_openai.decode_request(bs, a, &rb, &err), LX_OK);
        LX_ASSERT(!rt_differs(&ra, &rb, o, a));
        asst = &rb.msgs[2];
        asst->parts[0].args = LX_STR("{\"n\":2,\"s\":\"x\"}"); /* a value changed */
        LX_ASSERT(rt_differs(&ra, &rb, o, a));
        asst->parts[0].args = LX_STR("{\"s\":\"x\",\"n\":1}"); /* keys reordered */
        LX_ASSERT(rt_differs(&ra, &rb, o, a));
        asst->parts[0].args = LX_STR(" { \"n\" : 1 , \"s\" : \"\\u0078\" } "); /* same value */
        LX_ASSERT(!rt_differs(&ra, &rb, o, a));
        asst->parts[0].name = LX_STR("calc");
        LX_ASSERT(rt_differs(&ra, &rb, o, a));
        asst->parts[0].name = LX_STR("lookup");
        rb.msgs[3].parts[0].id = LX_STR("call_b"); /* both results answer call_b */
        LX_ASSERT(rt_differs(&ra, &rb, o, a));
        rb.msgs[3].parts[0].id = LX_STR("call_a");
        rb.msgs[4].parts[0].text = LX_STR("{\"content\":\"rb\"}"); /* Gemini's wrapping */
        LX_ASSERT_EQ(rt_differs(&ra, &rb, o, a), !o->gemini_result);
        rb.msgs[4].parts[0].text = LX_STR("rb");
        rb.msgs[5].role = LX_ROLE_ASSISTANT;
        LX_ASSERT(rt_differs(&ra, &rb, o, a));
        rb.msgs[5].role = LX_ROLE_USER;
        stop = rb.stop[0];
        rb.n_stop = 0;
        LX_ASSERT(rt_differs(&ra, &rb, o, a));
        rb.n_stop = 1;
        rb.max_tokens = 4096;
        LX_ASSERT(rt_differs(&ra, &rb, o, a));
        rb.max_tokens = 9;
        LX_ASSERT(lx_str_eq(stop, rb.stop[0]));
        /* the two tool results as one TOOL message of two parts: a merge */
        merged = &rb.msgs[3];
        merged->parts = lx_arena_zalloc(a, 2 * sizeof(*merged->parts));
        LX_ASSERT(merged->parts != NULL);
        merged->parts[0] = ra.msgs[3].parts[0];
        merged->parts[1] = ra.msgs[4].parts[0];
        merged->n_parts = 2;
        rb.msgs[4] = rb.msgs[5];
        rb.n_msgs = 5;
        LX_ASSERT_EQ(rt_differs(&ra, &rb, o, a), o->keeps_turns);
        if (o->has_ids) { /* ids compared where the protocol has them */
            LX_ASSERT_EQ(lx_frontdoor_openai.decode_request(bs, a, &rb, &err), LX_OK);
            rb.msgs[2].parts[1].id = LX_STR("call_c");
            rb.msgs[4].parts[0].id = LX_STR("call_c");
            LX_ASSERT(rt_differs(&ra, &rb, o, a));
        }
    }
    lx_arena_free(a);
    return 0;
}
