/* test_providers_openai_front.c - the OpenAI front door (src/providers/openai_front.c): every
 * recorded OpenAI request of fixtures/openai decoded and checked field by field, hand-written
 * requests for every content form and every validation error, answers encoded and read back
 * with the JSON tokenizer against the recorded shapes, synthetic delta streams encoded and
 * re-parsed chunk by chunk with the SSE parser, recorded upstream streams replayed through the
 * OpenAI provider adapter into this encoder at every split point, errors and embeddings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "providers/openai_front.h"
#include "providers/openai_wire.h"
#include "providers/provider.h"
#include "providers/stream.h"
#include "sse/sse.h"
#include "tests/unit/test.h"
#include "json/json.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static struct lx_str oaft_read(const char *rel, char **keep)
{
    size_t n = 0;

    *keep = lx_test_read_file(lx_test_shared(rel), &n);
    return *keep != NULL ? lx_str_make(*keep, n) : LX_STR_NULL;
}

/* Token at a dotted path ("choices.0.message.content"); digits index arrays. -1 if absent. */
static int oaft_path(const struct lx_json *doc, const char *path)
{
    int i = 0;
    const char *p = path;

    while (*p != '\0' && i >= 0) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);

        if (lx_json_type(doc, i) == LX_JSON_ARRAY) {
            long k = strtol(p, NULL, 10);
            int e = lx_json_first(doc, i);

            while (e >= 0 && k-- > 0)
                e = lx_json_sibling(doc, i, e);
            i = e;
        } else {
            i = lx_json_get(doc, i, lx_str_make(p, n));
        }
        p += n + (dot ? 1 : 0);
    }
    return i;
}

static bool oaft_str_at(const struct lx_json *doc, const char *path, const char *want)
{
    return lx_json_str_eq(doc, oaft_path(doc, path), lx_str_cstr(want));
}

static long long oaft_int_at(const struct lx_json *doc, const char *path)
{
    int64_t v = -12345;

    if (lx_json_int64(doc, oaft_path(doc, path), &v) != LX_OK)
        return -12345;
    return (long long)v;
}

static int oaft_type_at(const struct lx_json *doc, const char *path)
{
    return (int)lx_json_type(doc, oaft_path(doc, path));
}

static int oaft_decode(const char *body, struct lx_arena *a, struct lx_chat_req *req,
                       struct lx_err *err)
{
    memset(err, 0, sizeof(*err));
    return lx_frontdoor_openai.decode_request(lx_str_cstr(body), a, req, err);
}

/* ---- decode: recorded requests ---------------------------------------------------------- */

LX_TEST(openai_front_decode_fixtures)
{
    struct lx_arena *a = lx_arena_new(0, 1u << 24);
    struct lx_chat_req r;
    struct lx_err err;
    char *raw;
    struct lx_str b;

    LX_ASSERT(a != NULL);
    b = oaft_read("protocols/fixtures/openai/chat_basic_request.json", &raw);
    LX_ASSERT(raw != NULL);
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.decode_request(b, a, &r, &err));
    LX_ASSERT_STR(r.model, "gpt-5-nano");
    LX_ASSERT_EQ(1, r.n_msgs);
    LX_ASSERT_EQ(LX_ROLE_USER, r.msgs[0].role);
    LX_ASSERT_EQ(1, r.msgs[0].n_parts);
    LX_ASSERT_EQ(LX_PART_TEXT, r.msgs[0].parts[0].type);
    LX_ASSERT_STR(r.msgs[0].parts[0].text, "Hello!");
    LX_ASSERT_EQ(LX_SRC_OPENAI, r.source);
    LX_ASSERT(!r.stream && r.max_tokens == -1 && r.temperature.raw.len == 0 && r.n_extra == 0);
    LX_ASSERT_EQ(-1, r.parallel_tool_calls);
    free(raw);

    b = oaft_read("protocols/fixtures/openai/chat_json_mode_request.json", &raw);
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.decode_request(b, a, &r, &err));
    LX_ASSERT_EQ(LX_RF_JSON_OBJECT, r.response_format);
    free(raw);

    b = oaft_read("protocols/fixtures/openai/chat_stream.request.json", &raw);
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.decode_request(b, a, &r, &err));
    LX_ASSERT(r.stream && !r.include_usage);
    free(raw);

    b = oaft_read("protocols/fixtures/openai/chat_stream_include_usage.request.json", &raw);
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.decode_request(b, a, &r, &err));
    LX_ASSERT(r.stream && r.include_usage);
    LX_ASSERT_EQ(100, r.max_tokens);
    LX_ASSERT_STR(r.temperature.raw, "1");
    LX_ASSERT(r.temperature.v == 1.0);
    LX_ASSERT_EQ(LX_ROLE_DEVELOPER, r.msgs[0].role);
    LX_ASSERT_STR(r.msgs[0].parts[0].text, "Hello, I'm a developer!");
    free(raw);

    b = oaft_read("protocols/fixtures/openai/chat_tools_request.json", &raw);
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.decode_request(b, a, &r, &err));
    LX_ASSERT_EQ(1, r.n_tools);
    LX_ASSERT_STR(r.tools[0].name, "get_current_weather");
    LX_ASSERT_STR(r.tools[0].description, "Get the current weather in a given location");
    LX_ASSERT(r.tools[0].parameters.len > 0 && r.tools[0].parameters.ptr[0] == '{');
    LX_ASSERT(strstr(r.tools[0].parameters.ptr, "\"required\"") != NULL);
    LX_ASSERT_EQ(LX_TOOL_CHOICE_AUTO, r.tool_choice);
    LX_ASSERT_EQ(1, r.parallel_tool_calls);
    LX_ASSERT(!r.tools[0].strict);
    free(raw);

    b = oaft_read("protocols/fixtures/openai/chat_vision_request.json", &raw);
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.decode_request(b, a, &r, &err));
    LX_ASSERT_EQ(2, r.msgs[0].n_parts);
    LX_ASSERT_EQ(LX_PART_TEXT, r.msgs[0].parts[0].type);
    LX_ASSERT_EQ(LX_PART_IMAGE, r.msgs[0].parts[1].type);
    LX_ASSERT_STR(r.msgs[0].parts[1].media_type, "image/png");
    LX_ASSERT(lx_str_starts_with(r.msgs[0].parts[1].data, LX_STR("iVBORw0KGgo")));
    LX_ASSERT(lx_str_ends_with(r.msgs[0].parts[1].data, LX_STR("AAAAASUVORK5CYII=")));
    LX_ASSERT_EQ(0, r.msgs[0].parts[1].url.len);
    free(raw);

    b = oaft_read("protocols/fixtures/openai/error_404_model_not_found.request.json", &raw);
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.decode_request(b, a, &r, &err));
    LX_ASSERT_STR(r.model, "gpt-4.1-nano-wrong");
    free(raw);

    /* OpenAI's own answer to this body is the fixture error_400_empty_messages.json */
    b = oaft_read("protocols/fixtures/openai/error_400_empty_messages.request.json", &raw);
    LX_ASSERT_EQ(LX_EINVAL, lx_frontdoor_openai.decode_request(b, a, &r, &err));
    LX_ASSERT_EQ(400, err.http_status);
    LX_ASSERT_STREQ(err.msg, "Invalid 'messages': empty array. Expected an array with minimum "
                             "length 1, but got an empty array instead.");
    free(raw);

    b = oaft_read("protocols/fixtures/openai/error_400_unsupported_parameter.request.json", &raw);
    LX_ASSERT_EQ(LX_EINVAL, lx_frontdoor_openai.decode_request(b, a, &r, &err));
    LX_ASSERT_EQ(400, err.http_status);
    LX_ASSERT(strstr(err.msg, "'max_tokens'") != NULL);
    free(raw);

    b = oaft_read("protocols/fixtures/openai/completions_request.json", &raw);
    LX_ASSERT_EQ(LX_OK, lx_openai_decode_completion(b, a, &r, &err));
    LX_ASSERT(r.legacy_completion && !r.echo && !r.stream);
    LX_ASSERT_STR(r.model, "babbage-002");
    LX_ASSERT_EQ(25, r.max_tokens);
    LX_ASSERT_STR(r.temperature.raw, "0.4");
    LX_ASSERT_STR(r.top_p.raw, "0.9");
    LX_ASSERT_EQ(1, r.n_msgs);
    LX_ASSERT_EQ(LX_ROLE_USER, r.msgs[0].role);
    LX_ASSERT_STR(r.msgs[0].parts[0].text, "def fib(n):\n    if n <= 1:\n        return n\n    "
                                           "else:\n        return fib(n-1) + fib(n-2)");
    free(raw);

    b = oaft_read("protocols/fixtures/openai/completions_stream_include_usage.request.json", &raw);
    LX_ASSERT_EQ(LX_OK, lx_openai_decode_completion(b, a, &r, &err));
    LX_ASSERT(r.legacy_completion && r.stream && r.include_usage);
    free(raw);
    lx_arena_free(a);
    return 0;
}

/* ---- decode: hand-written requests ------------------------------------------------------- */

LX_TEST(openai_front_decode_all_fields)
{
    static const char body[] =
        "{\"model\":\"claude-x\",\"messages\":["
        "{\"role\":\"system\",\"content\":\"be brief\"},"
        "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"dev\"}]},"
        "{\"role\":\"user\",\"name\":\"bob\",\"content\":["
        "{\"type\":\"text\",\"text\":\"look\\u00e9\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x.test/"
        "a.png\",\"detail\":\"low\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/jpeg;base64,/9j/AA==\"}},"
        "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"UklG\",\"format\":\"wav\"}},"
        "{\"type\":\"file\",\"file\":{\"file_data\":\"data:application/pdf;base64,JVBE\","
        "\"filename\":\"a.pdf\"}}]},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
        "{\"id\":\"call_1__thought__c2lnMQ==\",\"type\":\"function\",\"function\":{\"name\":\"f\","
        "\"arguments\":\"{\\\"x\\\":1}\"}},"
        "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"\"},"
        "\"extra_content\":{\"google\":{\"thought_signature\":\"c2lnMg==\"}}},"
        "{\"id\":\"call_3\",\"type\":\"function\",\"function\":{\"name\":\"h\",\"arguments\":\"{"
        "bad\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_1__thought__c2lnMQ==\",\"content\":\"42\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"a\"},"
        "{\"type\":\"text\",\"text\":\"b\"}]},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"ok\"},"
        "{\"type\":\"refusal\",\"refusal\":\"no\"}]}],"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"description\":\"d\","
        "\"parameters\":{\"type\":\"object\"},\"strict\":true}},"
        "{\"type\":\"function\",\"function\":{\"name\":\"g\"}}],"
        "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"g\"}},"
        "\"parallel_tool_calls\":false,\"max_tokens\":10,\"max_completion_tokens\":20,"
        "\"temperature\":0.70,\"top_p\":1e-1,\"presence_penalty\":-1.5,\"frequency_penalty\":2,"
        "\"top_k\":5,\"n\":2,\"seed\":9223372036854775807,\"stop\":[\"END\",\"\\n\\n\"],"
        "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"s\","
        "\"schema\":{\"type\":\"object\",\"properties\":{}},\"strict\":true}},"
        "\"reasoning_effort\":\"low\",\"user\":\"u-1\",\"metadata\":{\"k\":\"v\"},"
        "\"logit_bias\":{\"50256\":-100},\"stream\":true,\"stream_options\":{\"include_usage\":"
        "true},"
        "\"store\":false,\"temperature_extra\":null,\"logprobs\":null}";
    struct lx_arena *a = lx_arena_new(0, 1u << 24);
    struct lx_chat_req r;
    struct lx_err err;
    const struct lx_msg *m;

    LX_ASSERT_EQ(LX_OK, oaft_decode(body, a, &r, &err));
    LX_ASSERT_EQ(7, r.n_msgs);
    LX_ASSERT_EQ(LX_ROLE_SYSTEM, r.msgs[0].role);
    LX_ASSERT_STR(r.msgs[0].parts[0].text, "be brief");
    LX_ASSERT_EQ(LX_ROLE_DEVELOPER, r.msgs[1].role);
    LX_ASSERT_STR(r.msgs[1].parts[0].text, "dev");
    m = &r.msgs[2];
    LX_ASSERT_EQ(LX_ROLE_USER, m->role);
    LX_ASSERT_STR(m->name, "bob");
    LX_ASSERT_EQ(5, m->n_parts);
    LX_ASSERT_STR(m->parts[0].text, "look\xc3\xa9");
    LX_ASSERT_EQ(LX_PART_IMAGE, m->parts[1].type);
    LX_ASSERT_STR(m->parts[1].url, "https://x.test/a.png");
    LX_ASSERT_STR(m->parts[1].detail, "low");
    LX_ASSERT_EQ(0, m->parts[1].data.len);
    LX_ASSERT_STR(m->parts[2].media_type, "image/jpeg");
    LX_ASSERT_STR(m->parts[2].data, "/9j/AA==");
    LX_ASSERT_EQ(LX_PART_AUDIO, m->parts[3].type);
    LX_ASSERT_STR(m->parts[3].media_type, "audio/wav");
    LX_ASSERT_STR(m->parts[3].data, "UklG");
    LX_ASSERT_EQ(LX_PART_FILE, m->parts[4].type);
    LX_ASSERT_STR(m->parts[4].media_type, "application/pdf");
    LX_ASSERT_STR(m->parts[4].data, "JVBE");
    LX_ASSERT_STR(m->parts[4].name, "a.pdf");

    m = &r.msgs[3];
    LX_ASSERT_EQ(LX_ROLE_ASSISTANT, m->role);
    LX_ASSERT_EQ(3, m->n_parts);
    LX_ASSERT_EQ(LX_PART_TOOL_CALL, m->parts[0].type);
    LX_ASSERT_STR(m->parts[0].id, "call_1");
    LX_ASSERT_STR(m->parts[0].signature, "c2lnMQ==");
    LX_ASSERT_STR(m->parts[0].name, "f");
    LX_ASSERT_STR(m->parts[0].args, "{\"x\":1}");
    LX_ASSERT_STR(m->parts[1].id, "call_2");
    LX_ASSERT_STR(m->parts[1].signature, "c2lnMg==");
    LX_ASSERT_STR(m->parts[1].args, "{}");
    LX_ASSERT_STR(m->parts[2].args, "{}"); /* not JSON: dropped rather than sent on broken */
    LX_ASSERT_EQ(0, m->parts[2].signature.len);

    m = &r.msgs[4];
    LX_ASSERT_EQ(LX_ROLE_TOOL, m->role);
    LX_ASSERT_EQ(1, m->n_parts);
    LX_ASSERT_EQ(LX_PART_TOOL_RESULT, m->parts[0].type);
    LX_ASSERT_STR(m->parts[0].id, "call_1"); /* the bare id, as on the call */
    LX_ASSERT_STR(m->parts[0].name, "f");
    LX_ASSERT_STR(m->parts[0].text, "42");
    LX_ASSERT_STR(r.msgs[5].parts[0].text, "ab");
    LX_ASSERT_STR(r.msgs[5].parts[0].name, "g");
    LX_ASSERT_EQ(1, r.msgs[6].n_parts); /* the refusal part is not sent back */
    LX_ASSERT_STR(r.msgs[6].parts[0].text, "ok");

    LX_ASSERT_EQ(2, r.n_tools);
    LX_ASSERT_STR(r.tools[0].parameters, "{\"type\":\"object\"}");
    LX_ASSERT(r.tools[0].strict);
    LX_ASSERT_STR(r.tools[0].description, "d");
    LX_ASSERT_EQ(0, r.tools[1].parameters.len);
    LX_ASSERT_EQ(LX_TOOL_CHOICE_NAMED, r.tool_choice);
    LX_ASSERT_STR(r.tool_choice_name, "g");
    LX_ASSERT_EQ(0, r.parallel_tool_calls);
    LX_ASSERT_EQ(20, r.max_tokens);
    LX_ASSERT_STR(r.temperature.raw, "0.70");
    LX_ASSERT(r.temperature.v > 0.69 && r.temperature.v < 0.71);
    LX_ASSERT_STR(r.top_p.raw, "1e-1");
    LX_ASSERT_STR(r.presence_penalty.raw, "-1.5");
    LX_ASSERT_STR(r.frequency_penalty.raw, "2");
    LX_ASSERT_EQ(5, r.top_k);
    LX_ASSERT_EQ(2, r.n);
    LX_ASSERT(r.has_seed && r.seed == INT64_MAX);
    LX_ASSERT_EQ(2, r.n_stop);
    LX_ASSERT_STR(r.stop[0], "END");
    LX_ASSERT_STR(r.stop[1], "\n\n");
    LX_ASSERT_EQ(LX_RF_JSON_SCHEMA, r.response_format);
    LX_ASSERT_STR(r.schema, "{\"type\":\"object\",\"properties\":{}}");
    LX_ASSERT_STR(r.schema_name, "s");
    LX_ASSERT(r.schema_strict);
    LX_ASSERT_EQ(LX_EFFORT_LOW, r.effort);
    LX_ASSERT_STR(r.user, "u-1");
    LX_ASSERT_STR(r.metadata, "{\"k\":\"v\"}");
    LX_ASSERT(r.stream && r.include_usage);
    /* unknown members, in order, byte-exact; null ones too (they mean "default") */
    LX_ASSERT_EQ(4, r.n_extra);
    LX_ASSERT_STR(r.extra[0].key, "logit_bias");
    LX_ASSERT_STR(r.extra[0].value, "{\"50256\":-100}");
    LX_ASSERT_STR(r.extra[1].key, "store");
    LX_ASSERT_STR(r.extra[1].value, "false");
    LX_ASSERT_STR(r.extra[2].key, "temperature_extra");
    LX_ASSERT_STR(r.extra[2].value, "null");
    LX_ASSERT_STR(r.extra[3].key, "logprobs");
    lx_arena_free(a);
    return 0;
}

LX_TEST(openai_front_decode_variants)
{
    struct lx_arena *a = lx_arena_new(0, 1u << 24);
    struct lx_chat_req r;
    struct lx_err err;

    /* stop as a string; tool_choice strings; nulls are "not given"; image_url as a string */
    LX_ASSERT_EQ(LX_OK,
                 oaft_decode("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
                             "{\"type\":\"image_url\",\"image_url\":\"http://h/x.gif\"}]}],"
                             "\"stop\":\"S\",\"tool_choice\":\"required\",\"temperature\":null,"
                             "\"max_tokens\":null,\"stream\":false,\"n\":null}",
                             a, &r, &err));
    LX_ASSERT_EQ(1, r.n_stop);
    LX_ASSERT_STR(r.stop[0], "S");
    LX_ASSERT_EQ(LX_TOOL_CHOICE_REQUIRED, r.tool_choice);
    LX_ASSERT_EQ(0, r.temperature.raw.len);
    LX_ASSERT_EQ(-1, r.max_tokens);
    LX_ASSERT_EQ(-1, r.n);
    LX_ASSERT_STR(r.msgs[0].parts[0].url, "http://h/x.gif");
    LX_ASSERT_EQ(0, r.n_extra);

    LX_ASSERT_EQ(LX_OK, oaft_decode("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                                    "\"\"}],\"tool_choice\":\"none\",\"max_tokens\":7,"
                                    "\"response_format\":{\"type\":\"text\"},"
                                    "\"reasoning_effort\":\"minimal\"}",
                                    a, &r, &err));
    LX_ASSERT_EQ(LX_TOOL_CHOICE_NONE, r.tool_choice);
    LX_ASSERT_EQ(7, r.max_tokens);
    LX_ASSERT_EQ(LX_RF_TEXT, r.response_format);
    LX_ASSERT_EQ(LX_EFFORT_MINIMAL, r.effort);
    LX_ASSERT_EQ(1, r.msgs[0].n_parts);
    LX_ASSERT_EQ(0, r.msgs[0].parts[0].text.len);

    /* json_schema without a schema is JSON mode; without a name, "response" */
    LX_ASSERT_EQ(LX_OK, oaft_decode("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                                    "\"x\"}],\"response_format\":{\"type\":\"json_schema\","
                                    "\"json_schema\":{\"name\":\"n\"}}}",
                                    a, &r, &err));
    LX_ASSERT_EQ(LX_RF_JSON_OBJECT, r.response_format);
    LX_ASSERT_EQ(LX_OK, oaft_decode("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                                    "\"x\"}],\"response_format\":{\"type\":\"json_schema\","
                                    "\"json_schema\":{\"schema\":{}}}}",
                                    a, &r, &err));
    LX_ASSERT_EQ(LX_RF_JSON_SCHEMA, r.response_format);
    LX_ASSERT_STR(r.schema_name, "response");
    LX_ASSERT(!r.schema_strict);

    /* an assistant message with neither content nor tool calls; a bare base64 PDF */
    LX_ASSERT_EQ(LX_OK,
                 oaft_decode("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
                             "{\"type\":\"file\",\"file\":{\"file_data\":\"JVBERi0=\"}}]},"
                             "{\"role\":\"assistant\"}]}",
                             a, &r, &err));
    LX_ASSERT_STR(r.msgs[0].parts[0].media_type, "application/pdf");
    LX_ASSERT_STR(r.msgs[0].parts[0].data, "JVBERi0=");
    LX_ASSERT_EQ(0, r.msgs[1].n_parts);
    lx_arena_free(a);
    return 0;
}

/* Every allocation of the decoder can fail (the arena's budget): each failure is LX_ENOMEM with
 * a 503, never a crash or a half-filled success. */
LX_TEST(openai_front_decode_arena_budget)
{
    static const char body[] =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"s\\n\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\\u00e9\"},"
        "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"x\",\"format\":\"mp3\"}}]},"
        "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\\u0031\",\"type\":\"function\","
        "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":[1,2,3]}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":[{\"type\":\"text\",\"text\":\"r\"}"
        "]}],"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"stop\":[\"x\"],"
        "\"x-extra\\u0041\":1}";
    bool ok = false;

    for (size_t max = 64; max < (1u << 16) && !ok; max += 16) {
        struct lx_arena *a = lx_arena_new(64, max);
        struct lx_chat_req r;
        struct lx_err err;
        int rc;

        LX_ASSERT(a != NULL);
        rc = oaft_decode(body, a, &r, &err);
        if (rc == LX_OK) {
            ok = true;
            LX_ASSERT_EQ(4, r.n_msgs);
            LX_ASSERT_STR(r.msgs[1].parts[1].media_type, "audio/mp3");
            LX_ASSERT_STR(r.msgs[2].parts[0].args, "{\"a\":[1,2,3]}");
            LX_ASSERT_STR(r.msgs[3].parts[0].name, "f");
            LX_ASSERT_STR(r.extra[0].key, "x-extraA");
        } else if (!((rc == LX_ENOMEM && err.http_status == 503) ||
                     (rc == LX_ETOOBIG && err.http_status == 413))) {
            LX_FAIL("budget %zu: rc %d status %d \"%s\"", max, rc, err.http_status, err.msg);
        }
        lx_arena_free(a);
    }
    LX_ASSERT(ok);
    return 0;
}

static const struct oaft_bad {
    const char *body;
    const char *msg; /* substring of err.msg */
    int status;
} oaft_bad_cases[] = {
    {"", "could not parse the JSON body", 400},
    {"{\"model\":\"m\",", "could not parse the JSON body", 400},
    {"[1]", "expected an object", 400},
    {"{\"model\":\"m\",\"model\":\"n\",\"messages\":[]}", "could not parse", 400},
    {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "you must provide a model parameter",
     400},
    {"{\"model\":3,\"messages\":[]}",
     "Invalid type for 'model': expected a string, but got a "
     "number instead.",
     400},
    {"{\"model\":\"m\"}", "Missing required parameter: 'messages'.", 400},
    {"{\"model\":\"m\",\"messages\":{}}", "Invalid type for 'messages'", 400},
    {"{\"model\":\"m\",\"messages\":[\"hi\"]}", "Invalid type for 'messages[0]'", 400},
    {"{\"model\":\"m\",\"messages\":[{\"content\":\"x\"}]}",
     "Missing required parameter: 'messages[0].role'.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"bot\",\"content\":\"x\"}]}",
     "Invalid value: 'bot'. Supported values are: 'system', 'assistant', 'user', 'tool', and "
     "'developer'.",
     400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"function\",\"name\":\"f\",\"content\":\"x\"}]}",
     "deprecated 'function' role", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}",
     "Missing required parameter: 'messages[0].content'.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":null}]}",
     "Missing required parameter: 'messages[0].content'.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":5}]}",
     "Invalid type for 'messages[0].content'", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"video\"}]}]}",
     "Invalid value: 'video'", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}]}",
     "Missing required parameter: 'messages[0].content[0].type'.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{\"url\":\"https://x\"}}]}]}",
     "Invalid value: 'image_url'", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{\"url\":\"ftp://x\"}}]}]}",
     "expected an http(s) URL or a base64 data URL", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{\"url\":\"data:image/png,abc\"}}]}]}",
     "base64-encoded data URL", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
     "\"image_url\":{}}]}]}",
     "Missing required parameter: 'messages[0].content[0].image_url.url'.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\","
     "\"file\":{\"file_id\":\"file-1\"}}]}]}",
     "uploaded files are not supported", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\","
     "\"input_audio\":{\"data\":\"x\"}}]}]}",
     "input_audio.format", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}",
     "Missing required parameter: 'messages[0].tool_call_id'.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"type\":"
     "\"function\","
     "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}]}",
     "Missing required parameter: 'messages[0].tool_calls[0].id'.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\","
     "\"type\":\"function\",\"function\":{\"arguments\":\"{}\"}}]}]}",
     "Missing required parameter: 'messages[0].tool_calls[0].function.name'.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"function_call\":{\"name\":\"f\"}}]}",
     "deprecated function calls", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"functions\":[]}",
     "Invalid 'functions'", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"1\"}",
     "Invalid type for 'temperature': expected a decimal, but got a string instead.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":2.5}",
     "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 2.5 "
     "instead.",
     400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":-0.5}",
     "decimal below minimum value. Expected a value >= 0, but got -0.5 instead.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_p\":1.5}",
     "Invalid 'top_p'", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"presence_penalty\":-"
     "3}",
     "Invalid 'presence_penalty'", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":1.5}",
     "Invalid type for 'max_tokens': expected an integer, but got a decimal instead.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
     "\"max_completion_tokens\":0}",
     "Invalid 'max_completion_tokens': integer below minimum value. Expected a value >= 1, but "
     "got 0 instead.",
     400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":0}",
     "Invalid 'n'", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
     "\"seed\":99999999999999999999}",
     "Invalid 'seed': integer out of range.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
     "\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}",
     "Invalid 'stop': array too long.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[1]}",
     "Invalid type for 'stop[]'", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":\"yes\"}",
     "Invalid type for 'stream': expected a boolean, but got a string instead.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
     "\"stream_options\":{\"include_usage\":true}}",
     "The 'stream_options' parameter is only allowed when 'stream' is enabled.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
     "\"tools\":[{\"type\":\"web_search\"}]}",
     "Only 'function' tools are supported", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
     "\"tools\":[{\"type\":\"function\",\"function\":{}}]}",
     "Missing required parameter: 'tools[0].function.name'.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
     "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":[]}}]}",
     "Invalid type for 'tools[0].function.parameters'", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tool_choice\":"
     "\"any\"}",
     "Invalid value: 'any'. Supported values are: 'none', 'auto', and 'required'.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
     "\"tool_choice\":{\"type\":\"allowed_tools\"}}",
     "Invalid 'tool_choice'", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
     "\"response_format\":{\"type\":\"xml\"}}",
     "Invalid 'response_format.type'", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
     "\"response_format\":{\"type\":\"json_schema\"}}",
     "Missing required parameter: 'response_format.json_schema'.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
     "\"reasoning_effort\":\"max\"}",
     "Invalid value: 'max'.", 400},
    {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"metadata\":[]}",
     "Invalid type for 'metadata'", 400},
};

LX_TEST(openai_front_decode_errors)
{
    struct lx_arena *a = lx_arena_new(0, 1u << 24);

    for (size_t i = 0; i < LX_ARRAY_SIZE(oaft_bad_cases); i++) {
        const struct oaft_bad *c = &oaft_bad_cases[i];
        struct lx_chat_req r;
        struct lx_err err;
        int rc = oaft_decode(c->body, a, &r, &err);

        if (rc != LX_EINVAL || err.http_status != c->status || strstr(err.msg, c->msg) == NULL)
            LX_FAIL("case %zu (%s): rc %d status %d msg \"%s\", want \"%s\"", i, c->body, rc,
                    err.http_status, err.msg, c->msg);
    }
    lx_arena_free(a);
    return 0;
}

LX_TEST(openai_front_decode_completion)
{
    struct lx_arena *a = lx_arena_new(0, 1u << 24);
    struct lx_chat_req r;
    struct lx_err err;
    static const struct {
        const char *body, *msg;
    } bad[] = {
        {"{\"model\":\"m\",\"prompt\":[\"a\",\"b\"]}",
         "only one prompt is supported when the provider has no completions endpoint"},
        {"{\"model\":\"m\",\"prompt\":[1,2,3]}", "token prompts are not supported"},
        {"{\"model\":\"m\",\"prompt\":[[1,2]]}", "token prompts are not supported"},
        {"{\"model\":\"m\",\"prompt\":[]}", "empty array"},
        {"{\"model\":\"m\"}", "Missing required parameter: 'prompt'."},
        {"{\"model\":\"m\",\"prompt\":\"x\",\"suffix\":\"y\"}", "Invalid 'suffix'"},
        {"{\"model\":\"m\",\"prompt\":3}", "Invalid type for 'prompt'"},
        {"{\"prompt\":\"x\"}", "you must provide a model parameter"},
        {"{\"model\":\"m\",\"prompt\":\"x\",\"echo\":1}", "Invalid type for 'echo'"},
    };

    LX_ASSERT_EQ(LX_OK, lx_openai_decode_completion(
                            lx_str_cstr("{\"model\":\"m\",\"prompt\":[\"one\"],\"echo\":true,"
                                        "\"best_of\":2,\"logprobs\":3,\"suffix\":null,"
                                        "\"messages\":1}"),
                            a, &r, &err));
    LX_ASSERT(r.legacy_completion && r.echo);
    LX_ASSERT_EQ(16, r.max_tokens); /* the legacy default */
    LX_ASSERT_STR(r.msgs[0].parts[0].text, "one");
    LX_ASSERT_EQ(3, r.n_extra); /* best_of, logprobs and a "messages" this endpoint has not */
    LX_ASSERT_STR(r.extra[0].key, "best_of");
    LX_ASSERT_STR(r.extra[2].key, "messages");
    for (size_t i = 0; i < LX_ARRAY_SIZE(bad); i++) {
        memset(&err, 0, sizeof(err));
        if (lx_openai_decode_completion(lx_str_cstr(bad[i].body), a, &r, &err) != LX_EINVAL ||
            err.http_status != 400 || strstr(err.msg, bad[i].msg) == NULL)
            LX_FAIL("case %zu: \"%s\"", i, err.msg);
    }
    lx_arena_free(a);
    return 0;
}

/* ---- encode: complete answers ----------------------------------------------------------- */

static int oaft_parse_out(struct lx_json *doc, const struct lx_buf *b)
{
    lx_json_init(doc, NULL);
    return lx_json_parse(doc, b->ptr, b->len);
}

LX_TEST(openai_front_encode_response_text)
{
    struct lx_chat_req req;
    struct lx_chat_resp resp;
    struct lx_part parts[3];
    struct lx_choice ch;
    struct lx_buf out = LX_BUF_INIT(1u << 20);
    struct lx_json doc;

    lx_chat_req_init(&req);
    req.model = LX_STR("my-alias");
    lx_chat_resp_init(&resp);
    memset(parts, 0, sizeof(parts));
    memset(&ch, 0, sizeof(ch));
    parts[0].type = LX_PART_THINKING;
    parts[0].text = LX_STR("hmm \"quoted\"");
    parts[0].signature = LX_STR("sig");
    parts[1].type = LX_PART_TEXT;
    parts[1].text = LX_STR("Hello ");
    parts[2].type = LX_PART_TEXT;
    parts[2].text = LX_STR("w\xc3\xb6rld\n");
    ch.message.role = LX_ROLE_ASSISTANT;
    ch.message.parts = parts;
    ch.message.n_parts = 3;
    ch.finish = LX_FINISH_LENGTH;
    resp.id = LX_STR("msg_01abc");
    resp.model = LX_STR("claude-sonnet-4-5");
    resp.choices = &ch;
    resp.n_choices = 1;
    resp.usage = (struct lx_usage){
        .input = 30, .output = 12, .total = -1, .cache_read = 20, .cache_write = 5, .reasoning = 4};
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_response(&req, &resp, 1700000000, &out));
    LX_ASSERT_STREQ(
        out.ptr,
        "{\"id\":\"msg_01abc\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":"
        "\"my-alias\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
        "\"Hello w\xc3\xb6rld\\n\",\"refusal\":null,\"reasoning_content\":\"hmm \\\"quoted\\\"\"},"
        "\"logprobs\":null,\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":30,"
        "\"completion_tokens\":12,\"total_tokens\":42,\"prompt_tokens_details\":{\"cached_tokens\":"
        "20},\"completion_tokens_details\":{\"reasoning_tokens\":4}}}");
    LX_ASSERT_EQ(LX_OK, oaft_parse_out(&doc, &out));
    lx_json_release(&doc);

    /* no usage known: no usage member; no id: one is made; no text, no calls: "" */
    lx_buf_reset(&out);
    resp.usage = (struct lx_usage)LX_USAGE_INIT;
    resp.id = LX_STR_NULL;
    ch.message.n_parts = 1;
    ch.finish = LX_FINISH_CONTENT_FILTER;
    req.model = LX_STR_NULL;
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_response(&req, &resp, 5, &out));
    LX_ASSERT_EQ(LX_OK, oaft_parse_out(&doc, &out));
    LX_ASSERT(oaft_str_at(&doc, "id", "chatcmpl-5"));
    LX_ASSERT(oaft_str_at(&doc, "model", "claude-sonnet-4-5"));
    LX_ASSERT(oaft_str_at(&doc, "choices.0.message.content", ""));
    LX_ASSERT(oaft_str_at(&doc, "choices.0.finish_reason", "content_filter"));
    LX_ASSERT_EQ(-1, oaft_path(&doc, "usage"));
    lx_json_release(&doc);
    lx_buf_release(&out);
    return 0;
}

LX_TEST(openai_front_encode_response_tools)
{
    struct lx_chat_req req;
    struct lx_chat_resp resp;
    struct lx_part parts[2];
    struct lx_choice ch[2];
    struct lx_buf out = LX_BUF_INIT(1u << 20);
    struct lx_json doc;

    lx_chat_req_init(&req);
    req.model = LX_STR("gemini-flash");
    lx_chat_resp_init(&resp);
    memset(parts, 0, sizeof(parts));
    memset(ch, 0, sizeof(ch));
    parts[0].type = LX_PART_TOOL_CALL;
    parts[0].id = LX_STR("call_Xc4");
    parts[0].name = LX_STR("get_current_weather");
    parts[0].args = LX_STR("{\"location\":\"San Francisco, CA\"}");
    parts[0].signature = LX_STR("CiQB/x+=");
    parts[1].type = LX_PART_TOOL_CALL;
    parts[1].name = LX_STR("noargs");
    ch[0].message.parts = parts;
    ch[0].message.n_parts = 2;
    ch[0].finish = LX_FINISH_STOP; /* Gemini's STOP after a call: tool_calls for OpenAI */
    ch[1].index = 1;
    ch[1].finish = LX_FINISH_TOOL_CALLS;
    resp.choices = ch;
    resp.n_choices = 2;
    resp.usage = (struct lx_usage){.input = 162,
                                   .output = 219,
                                   .total = 381,
                                   .cache_read = -1,
                                   .cache_write = -1,
                                   .reasoning = 192};
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_response(&req, &resp, 1755133847, &out));
    LX_ASSERT_EQ(LX_OK, oaft_parse_out(&doc, &out));
    /* the recorded shape (fixtures/openai/chat_tools_response.json) */
    LX_ASSERT(oaft_str_at(&doc, "object", "chat.completion"));
    LX_ASSERT_EQ(1755133847, oaft_int_at(&doc, "created"));
    LX_ASSERT(oaft_str_at(&doc, "model", "gemini-flash"));
    LX_ASSERT_EQ(LX_JSON_NULL, oaft_type_at(&doc, "choices.0.message.content"));
    LX_ASSERT_EQ(LX_JSON_NULL, oaft_type_at(&doc, "choices.0.message.refusal"));
    LX_ASSERT(oaft_str_at(&doc, "choices.0.message.role", "assistant"));
    LX_ASSERT(
        oaft_str_at(&doc, "choices.0.message.tool_calls.0.id", "call_Xc4__thought__CiQB/x+="));
    LX_ASSERT(oaft_str_at(&doc, "choices.0.message.tool_calls.0.type", "function"));
    LX_ASSERT(
        oaft_str_at(&doc, "choices.0.message.tool_calls.0.function.name", "get_current_weather"));
    LX_ASSERT(oaft_str_at(&doc, "choices.0.message.tool_calls.0.function.arguments",
                          "{\"location\":\"San Francisco, CA\"}"));
    LX_ASSERT(oaft_str_at(&doc, "choices.0.message.tool_calls.1.id", "call_0_1"));
    LX_ASSERT(oaft_str_at(&doc, "choices.0.message.tool_calls.1.function.arguments", "{}"));
    LX_ASSERT(oaft_str_at(&doc, "choices.0.finish_reason", "tool_calls"));
    LX_ASSERT_EQ(LX_JSON_NULL, oaft_type_at(&doc, "choices.0.logprobs"));
    LX_ASSERT_EQ(1, oaft_int_at(&doc, "choices.1.index"));
    LX_ASSERT(oaft_str_at(&doc, "choices.1.message.content", ""));
    LX_ASSERT_EQ(-1, oaft_path(&doc, "choices.1.message.tool_calls"));
    LX_ASSERT_EQ(-1, oaft_path(&doc, "choices.0.message.reasoning_content"));
    LX_ASSERT_EQ(162, oaft_int_at(&doc, "usage.prompt_tokens"));
    LX_ASSERT_EQ(219, oaft_int_at(&doc, "usage.completion_tokens"));
    LX_ASSERT_EQ(381, oaft_int_at(&doc, "usage.total_tokens"));
    LX_ASSERT_EQ(0, oaft_int_at(&doc, "usage.prompt_tokens_details.cached_tokens"));
    LX_ASSERT_EQ(192, oaft_int_at(&doc, "usage.completion_tokens_details.reasoning_tokens"));
    lx_json_release(&doc);
    lx_buf_release(&out);
    return 0;
}

LX_TEST(openai_front_encode_response_legacy)
{
    struct lx_arena *a = lx_arena_new(0, 1u << 20);
    struct lx_chat_req req;
    struct lx_chat_resp resp;
    struct lx_part part;
    struct lx_choice ch;
    struct lx_buf out = LX_BUF_INIT(1u << 20);
    struct lx_err err;

    LX_ASSERT_EQ(LX_OK,
                 lx_openai_decode_completion(
                     lx_str_cstr("{\"model\":\"babbage-002\",\"prompt\":\"def f\",\"echo\":true}"),
                     a, &req, &err));
    lx_chat_resp_init(&resp);
    memset(&part, 0, sizeof(part));
    memset(&ch, 0, sizeof(ch));
    part.type = LX_PART_TEXT;
    part.text = LX_STR("(n):");
    ch.message.parts = &part;
    ch.message.n_parts = 1;
    ch.finish = LX_FINISH_LENGTH;
    resp.id = LX_STR("cmpl-CKz4");
    resp.choices = &ch;
    resp.n_choices = 1;
    resp.usage = (struct lx_usage){31, 25, -1, 3, -1, -1};
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_response(&req, &resp, 1759117370, &out));
    /* the recorded shape (fixtures/openai/completions_response.json), echo on */
    LX_ASSERT_STREQ(out.ptr,
                    "{\"id\":\"cmpl-CKz4\",\"object\":\"text_completion\",\"created\":1759117370,"
                    "\"model\":\"babbage-002\",\"choices\":[{\"text\":\"def f(n):\",\"index\":0,"
                    "\"logprobs\":null,\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":"
                    "31,\"completion_tokens\":25,\"total_tokens\":56}}");
    lx_buf_release(&out);
    lx_arena_free(a);
    return 0;
}

/* ---- encode: streams -------------------------------------------------------------------- */

#define OAFT_MAX_EVENTS 256
struct oaft_events {
    int n, named;
    char *data[OAFT_MAX_EVENTS];
};

static int oaft_on_event(void *ctx, const struct lx_sse_event *ev)
{
    struct oaft_events *e = ctx;

    if (ev->event.len > 0)
        e->named++;
    if (e->n == OAFT_MAX_EVENTS)
        return LX_ETOOBIG;
    e->data[e->n] = malloc(ev->data.len + 1);
    if (e->data[e->n] == NULL)
        return LX_ENOMEM;
    memcpy(e->data[e->n], ev->data.ptr, ev->data.len);
    e->data[e->n][ev->data.len] = '\0';
    e->n++;
    return LX_OK;
}

static int oaft_events_parse(struct oaft_events *e, struct lx_str bytes)
{
    struct lx_sse_parser p;
    int rc;

    memset(e, 0, sizeof(*e));
    lx_sse_init(&p, 1u << 20);
    rc = lx_sse_feed(&p, bytes, oaft_on_event, e);
    if (rc == LX_OK)
        rc = lx_sse_finish(&p);
    lx_sse_release(&p);
    return rc;
}

static void oaft_events_free(struct oaft_events *e)
{
    for (int i = 0; i < e->n; i++)
        free(e->data[i]);
    e->n = 0;
}

static void oaft_stream_init(struct lx_fd_stream *st, const struct lx_chat_req *req,
                             struct lx_arena *a)
{
    memset(st, 0, sizeof(*st));
    st->req = req;
    st->a = a;
    st->created = 1755137933;
    st->usage = (struct lx_usage)LX_USAGE_INIT;
}

static struct lx_delta oaft_delta(enum lx_delta_type t)
{
    struct lx_delta d;

    memset(&d, 0, sizeof(d));
    d.type = t;
    d.usage = (struct lx_usage)LX_USAGE_INIT;
    return d;
}

/* A stream with text, thinking, two tool calls (one with a signature) and usage. */
static int oaft_run_stream(const struct lx_chat_req *req, struct lx_buf *out,
                           struct lx_fd_stream *st, struct lx_arena *a)
{
    struct lx_delta ds[12];
    int n = 0;

    ds[n] = oaft_delta(LX_DELTA_START);
    ds[n].id = LX_STR("msg_1");
    ds[n++].name = LX_STR("claude-sonnet-4-5");
    ds[n] = oaft_delta(LX_DELTA_USAGE);
    ds[n++].usage.input = 50;
    ds[n] = oaft_delta(LX_DELTA_THINKING);
    ds[n++].text = LX_STR("Let me think");
    ds[n] = oaft_delta(LX_DELTA_THINKING_SIGNATURE);
    ds[n++].text = LX_STR("EqQB");
    ds[n] = oaft_delta(LX_DELTA_TEXT);
    ds[n++].text = LX_STR("Checking \"the\" weather.");
    ds[n] = oaft_delta(LX_DELTA_TOOL_CALL);
    ds[n].tool_index = 0;
    ds[n].id = LX_STR("toolu_01");
    ds[n].name = LX_STR("get_weather");
    ds[n++].text = LX_STR("");
    ds[n] = oaft_delta(LX_DELTA_TOOL_CALL);
    ds[n].tool_index = 0;
    ds[n++].text = LX_STR("{\"city\":");
    ds[n] = oaft_delta(LX_DELTA_TOOL_CALL);
    ds[n].tool_index = 1;
    ds[n].id = LX_STR("call_b");
    ds[n].name = LX_STR("get_time");
    ds[n].signature = LX_STR("SIG");
    ds[n++].text = LX_STR("{}");
    ds[n] = oaft_delta(LX_DELTA_TOOL_CALL);
    ds[n].tool_index = 0;
    ds[n++].text = LX_STR("\"Paris\"}");
    ds[n] = oaft_delta(LX_DELTA_FINISH);
    ds[n].finish = LX_FINISH_TOOL_CALLS;
    ds[n++].finish_raw = LX_STR("tool_use");
    ds[n] = oaft_delta(LX_DELTA_USAGE);
    ds[n].usage.output = 20;
    ds[n++].usage.cache_read = 10;
    ds[n++] = oaft_delta(LX_DELTA_DONE);
    oaft_stream_init(st, req, a);
    for (int i = 0; i < n; i++) {
        int rc = lx_frontdoor_openai.encode_delta(st, &ds[i], out);

        if (rc != LX_OK)
            return rc;
    }
    return LX_OK;
}

LX_TEST(openai_front_stream_chunks)
{
    struct lx_arena *a = lx_arena_new(0, 1u << 20);
    struct lx_chat_req req;
    struct lx_fd_stream st;
    struct lx_buf out = LX_BUF_INIT(1u << 20);
    struct oaft_events ev;
    struct lx_buf args = LX_BUF_INIT(1024);
    int ids = 0;

    for (int with_usage = 0; with_usage < 2; with_usage++) {
        lx_chat_req_init(&req);
        req.model = LX_STR("claude");
        req.stream = true;
        req.include_usage = with_usage;
        lx_buf_reset(&out);
        lx_buf_reset(&args);
        ids = 0;
        LX_ASSERT_EQ(LX_OK, oaft_run_stream(&req, &out, &st, a));
        LX_ASSERT(st.started && st.finished);
        LX_ASSERT_STR(st.id, "msg_1");
        LX_ASSERT_EQ(50, st.usage.input);
        LX_ASSERT_EQ(20, st.usage.output);
        LX_ASSERT_EQ(10, st.usage.cache_read);
        LX_ASSERT_EQ(LX_OK, oaft_events_parse(&ev, lx_buf_str(&out)));
        LX_ASSERT_EQ(0, ev.named);
        /* role, reasoning, content, call 0 head, call 0 args, call 1 head, call 1 args,
         * call 0 args, finish, [usage], [DONE] */
        LX_ASSERT_EQ(10 + with_usage, ev.n);
        LX_ASSERT_STREQ(ev.data[ev.n - 1], "[DONE]");
        for (int i = 0; i < ev.n - 1; i++) {
            struct lx_json doc;
            bool usage_chunk = with_usage && i == ev.n - 2;
            int tc;

            lx_json_init(&doc, NULL);
            LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, ev.data[i], strlen(ev.data[i])));
            LX_ASSERT(oaft_str_at(&doc, "id", "msg_1"));
            LX_ASSERT(oaft_str_at(&doc, "object", "chat.completion.chunk"));
            LX_ASSERT_EQ(1755137933, oaft_int_at(&doc, "created"));
            LX_ASSERT(oaft_str_at(&doc, "model", "claude"));
            if (with_usage && !usage_chunk)
                LX_ASSERT_EQ(LX_JSON_NULL, oaft_type_at(&doc, "usage"));
            if (!with_usage)
                LX_ASSERT_EQ(-1, oaft_path(&doc, "usage"));
            if (usage_chunk) {
                LX_ASSERT_EQ(0, lx_json_count(&doc, oaft_path(&doc, "choices")));
                LX_ASSERT_EQ(50, oaft_int_at(&doc, "usage.prompt_tokens"));
                LX_ASSERT_EQ(20, oaft_int_at(&doc, "usage.completion_tokens"));
                LX_ASSERT_EQ(70, oaft_int_at(&doc, "usage.total_tokens"));
                LX_ASSERT_EQ(10, oaft_int_at(&doc, "usage.prompt_tokens_details.cached_tokens"));
                lx_json_release(&doc);
                continue;
            }
            LX_ASSERT_EQ(1, lx_json_count(&doc, oaft_path(&doc, "choices")));
            LX_ASSERT_EQ(0, oaft_int_at(&doc, "choices.0.index"));
            if (i == 0) {
                LX_ASSERT(oaft_str_at(&doc, "choices.0.delta.role", "assistant"));
                LX_ASSERT(oaft_str_at(&doc, "choices.0.delta.content", ""));
            } else {
                LX_ASSERT_EQ(-1, oaft_path(&doc, "choices.0.delta.role"));
            }
            if (i == 1)
                LX_ASSERT(oaft_str_at(&doc, "choices.0.delta.reasoning_content", "Let me think"));
            if (i == 2)
                LX_ASSERT(
                    oaft_str_at(&doc, "choices.0.delta.content", "Checking \"the\" weather."));
            tc = oaft_path(&doc, "choices.0.delta.tool_calls.0");
            if (tc >= 0) {
                int id = lx_json_get(&doc, tc, LX_STR("id"));

                if (id >= 0) {
                    ids++;
                    LX_ASSERT(oaft_str_at(&doc, "choices.0.delta.tool_calls.0.type", "function"));
                    LX_ASSERT(
                        oaft_str_at(&doc, "choices.0.delta.tool_calls.0.function.arguments", ""));
                    if (oaft_int_at(&doc, "choices.0.delta.tool_calls.0.index") == 1) {
                        LX_ASSERT(lx_json_str_eq(&doc, id, LX_STR("call_b__thought__SIG")));
                        LX_ASSERT(oaft_str_at(&doc, "choices.0.delta.tool_calls.0.function.name",
                                              "get_time"));
                    } else {
                        LX_ASSERT(lx_json_str_eq(&doc, id, LX_STR("toolu_01")));
                    }
                } else if (oaft_int_at(&doc, "choices.0.delta.tool_calls.0.index") == 0) {
                    LX_ASSERT_EQ(-1, oaft_path(&doc, "choices.0.delta.tool_calls.0.function.name"));
                    lx_json_unescape(&doc,
                                     oaft_path(&doc, "choices.0.delta.tool_calls.0.function."
                                                     "arguments"),
                                     &args);
                }
            }
            if (i == ev.n - 2 - with_usage) {
                LX_ASSERT(oaft_str_at(&doc, "choices.0.finish_reason", "tool_calls"));
                LX_ASSERT_EQ(0, lx_json_count(&doc, oaft_path(&doc, "choices.0.delta")));
            } else {
                LX_ASSERT_EQ(LX_JSON_NULL, oaft_type_at(&doc, "choices.0.finish_reason"));
            }
            lx_json_release(&doc);
        }
        LX_ASSERT_EQ(2, ids); /* each call's id exactly once */
        LX_ASSERT_EQ(0, strcmp(args.ptr, "{\"city\":\"Paris\"}"));
        oaft_events_free(&ev);
    }
    /* nothing after [DONE] */
    {
        struct lx_delta d = oaft_delta(LX_DELTA_TEXT);
        size_t len = out.len;

        d.text = LX_STR("late");
        LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_delta(&st, &d, &out));
        LX_ASSERT_EQ(len, out.len);
    }
    lx_buf_release(&args);
    lx_buf_release(&out);
    lx_arena_free(a);
    return 0;
}

LX_TEST(openai_front_stream_exact_bytes)
{
    struct lx_arena *a = lx_arena_new(0, 1u << 20);
    struct lx_chat_req req;
    struct lx_fd_stream st;
    struct lx_buf out = LX_BUF_INIT(1u << 20);
    struct lx_delta d;

    lx_chat_req_init(&req);
    req.model = LX_STR("gpt-x");
    req.stream = true;
    oaft_stream_init(&st, &req, a);
    st.created = 7;
    d = oaft_delta(LX_DELTA_START); /* no id from upstream: one is made */
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_delta(&st, &d, &out));
    d = oaft_delta(LX_DELTA_TEXT);
    d.text = LX_STR("Hi");
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_delta(&st, &d, &out));
    d = oaft_delta(LX_DELTA_DONE); /* no FINISH came: "stop" is written before [DONE] */
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_delta(&st, &d, &out));
    LX_ASSERT_STREQ(
        out.ptr,
        "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":"
        "\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
        "\"finish_reason\":null}]}\n\n"
        "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":"
        "\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}"
        "]}"
        "\n\n"
        "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":"
        "\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
        "data: [DONE]\n\n");
    LX_ASSERT_STR(st.id, "chatcmpl-7");
    lx_buf_release(&out);
    lx_arena_free(a);
    return 0;
}

LX_TEST(openai_front_stream_n2_and_error)
{
    struct lx_arena *a = lx_arena_new(0, 1u << 20);
    struct lx_chat_req req;
    struct lx_fd_stream st;
    struct lx_buf out = LX_BUF_INIT(1u << 20);
    struct lx_upstream_error ue;
    struct oaft_events ev;
    struct lx_delta d;
    int roles = 0;

    lx_chat_req_init(&req);
    req.model = LX_STR("m");
    req.include_usage = true;
    oaft_stream_init(&st, &req, a);
    d = oaft_delta(LX_DELTA_TEXT); /* no START at all: the role chunk still comes first */
    d.text = LX_STR("a");
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_delta(&st, &d, &out));
    d.choice = 1;
    d.text = LX_STR("b");
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_delta(&st, &d, &out));
    d = oaft_delta(LX_DELTA_FINISH);
    d.finish = LX_FINISH_LENGTH;
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_delta(&st, &d, &out));
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_delta(&st, &d, &out)); /* once per choice */
    lx_upstream_error_init(&ue);
    ue.status = 529;
    ue.type = LX_ERRT_OVERLOADED;
    ue.message = LX_STR("Overloaded");
    ue.code = LX_STR("overloaded_error");
    d = oaft_delta(LX_DELTA_ERROR);
    d.error = &ue;
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_delta(&st, &d, &out));
    LX_ASSERT(st.finished);
    d = oaft_delta(LX_DELTA_DONE);
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_delta(&st, &d, &out));
    LX_ASSERT_EQ(
        LX_OK, lx_frontdoor_openai.encode_stream_error(&st, LX_ERRT_SERVER, LX_STR("again"), &out));
    LX_ASSERT_EQ(LX_OK, oaft_events_parse(&ev, lx_buf_str(&out)));
    /* role 0, a, role 1, b, finish 0, error; no [DONE], nothing after the error */
    LX_ASSERT_EQ(6, ev.n);
    for (int i = 0; i < ev.n; i++)
        roles += strstr(ev.data[i], "\"role\":\"assistant\"") != NULL;
    LX_ASSERT_EQ(2, roles);
    LX_ASSERT(strstr(ev.data[2], "\"index\":1") != NULL);
    LX_ASSERT(strstr(ev.data[4], "\"finish_reason\":\"length\"") != NULL);
    LX_ASSERT_STREQ(ev.data[5], "{\"error\":{\"message\":\"Overloaded\",\"type\":"
                                "\"service_unavailable_error\",\"param\":null,\"code\":"
                                "\"overloaded_error\"}}");
    oaft_events_free(&ev);
    lx_buf_release(&out);
    lx_arena_free(a);
    return 0;
}

LX_TEST(openai_front_stream_legacy)
{
    struct lx_arena *a = lx_arena_new(0, 1u << 20);
    struct lx_chat_req req;
    struct lx_fd_stream st;
    struct lx_buf out = LX_BUF_INIT(1u << 20);
    struct lx_err err;
    struct lx_delta d;
    struct oaft_events ev;

    LX_ASSERT_EQ(LX_OK,
                 lx_openai_decode_completion(
                     lx_str_cstr("{\"model\":\"babbage-002\",\"prompt\":\"def\",\"stream\":true,"
                                 "\"stream_options\":{\"include_usage\":true}}"),
                     a, &req, &err));
    oaft_stream_init(&st, &req, a);
    d = oaft_delta(LX_DELTA_START);
    d.id = LX_STR("cmpl-CKzH");
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_delta(&st, &d, &out));
    LX_ASSERT_EQ(0, out.len); /* no role chunk in this protocol */
    d = oaft_delta(LX_DELTA_TEXT);
    d.text = LX_STR(" +");
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_delta(&st, &d, &out));
    d = oaft_delta(LX_DELTA_FINISH);
    d.finish = LX_FINISH_LENGTH;
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_delta(&st, &d, &out));
    d = oaft_delta(LX_DELTA_USAGE);
    d.usage.input = 31;
    d.usage.output = 25;
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_delta(&st, &d, &out));
    d = oaft_delta(LX_DELTA_DONE);
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_delta(&st, &d, &out));
    LX_ASSERT_EQ(LX_OK, oaft_events_parse(&ev, lx_buf_str(&out)));
    LX_ASSERT_EQ(4, ev.n);
    /* fixtures/openai/completions_stream_include_usage.sse, member order aside */
    LX_ASSERT_STREQ(ev.data[0],
                    "{\"id\":\"cmpl-CKzH\",\"object\":\"text_completion\",\"created\":"
                    "1755137933,\"model\":\"babbage-002\",\"choices\":[{\"text\":\" +\","
                    "\"index\":0,\"logprobs\":null,\"finish_reason\":null}],"
                    "\"usage\":null}");
    LX_ASSERT(strstr(ev.data[1], "{\"text\":\"\",\"index\":0,\"logprobs\":null,"
                                 "\"finish_reason\":\"length\"}") != NULL);
    LX_ASSERT(strstr(ev.data[2], "\"choices\":[],\"usage\":{\"prompt_tokens\":31,"
                                 "\"completion_tokens\":25,\"total_tokens\":56}}") != NULL);
    LX_ASSERT_STREQ(ev.data[3], "[DONE]");
    oaft_events_free(&ev);
    lx_buf_release(&out);
    lx_arena_free(a);
    return 0;
}

/* ---- recorded upstream streams -> the OpenAI provider adapter -> this encoder ---------- */

struct oaft_pipe {
    struct lx_fd_stream st;
    struct lx_buf out;
};

static int oaft_pipe_emit(void *ctx, const struct lx_delta *d)
{
    struct oaft_pipe *p = ctx;

    return lx_frontdoor_openai.encode_delta(&p->st, d, &p->out);
}

static int oaft_pipe_run_ops(const struct lx_provider_ops *ops, enum lx_config_proto proto,
                             const char *type, struct lx_str bytes, size_t cut,
                             const struct lx_chat_req *req, struct lx_buf *result)
{
    struct lx_config_provider conf;
    struct lx_provider_call call;
    struct lx_arena *a = lx_arena_new(0, 1u << 24);
    struct oaft_pipe p;
    struct lx_delta_sink sink = {oaft_pipe_emit, &p};
    struct lx_stream_decoder dec;
    int rc;

    memset(&conf, 0, sizeof(conf));
    conf.name = "p";
    conf.type = type;
    conf.proto = proto;
    conf.base_url = "https://api.example.com/v1";
    memset(&call, 0, sizeof(call));
    call.conf = &conf;
    call.model = LX_STR("gpt-x");
    call.stream = true;
    oaft_stream_init(&p.st, req, a);
    lx_buf_init(&p.out, 1u << 20);
    rc = lx_stream_decoder_init(&dec, ops, &call, a, 1u << 20, &sink);
    if (rc == LX_OK) {
        rc = lx_stream_decoder_feed(&dec, lx_str_make(bytes.ptr, cut));
        if (rc == LX_OK)
            rc = lx_stream_decoder_feed(&dec, lx_str_make(bytes.ptr + cut, bytes.len - cut));
        if (rc == LX_OK)
            rc = lx_stream_decoder_finish(&dec);
        lx_stream_decoder_release(&dec);
    }
    lx_buf_reset(result);
    lx_buf_append_str(result, lx_buf_str(&p.out));
    lx_buf_release(&p.out);
    lx_arena_free(a);
    return rc;
}

static int oaft_pipe_run(struct lx_str bytes, size_t cut, const struct lx_chat_req *req,
                         struct lx_buf *result)
{
    return oaft_pipe_run_ops(&lx_provider_openai, LX_CONFIG_PROTO_OPENAI, "openai", bytes, cut, req,
                             result);
}

LX_TEST(openai_front_replay_openai_streams)
{
    static const struct {
        const char *path;
        bool include_usage;
        const char *must[4]; /* substrings of the re-encoded stream */
    } cases[] = {
        {"protocols/fixtures/openai/chat_stream_tools.sse",
         true,
         {"\"tool_calls\":[{\"index\":0,\"id\":\"call_O17Uplv4lJvD6DVdIvFFeRMw\",\"type\":"
          "\"function\",\"function\":{\"name\":\"test-tool\",\"arguments\":\"\"}}]",
          "\"finish_reason\":\"tool_calls\"",
          "\"choices\":[],\"usage\":{\"prompt_tokens\":53,\"completion_tokens\":17,"
          "\"total_tokens\":70",
          "data: [DONE]\n\n"}},
        {"protocols/fixtures/openai/chat_stream_include_usage.sse",
         false,
         {"\"delta\":{\"role\":\"assistant\",\"content\":\"\"}", "\"finish_reason\":\"length\"",
          "data: [DONE]\n\n", NULL}},
        {"protocols/fixtures/openai/chat_stream_parallel_tools_usage.sse",
         false,
         {"\"tool_calls\":[{\"index\":1,\"id\":", "\"finish_reason\":\"tool_calls\"", NULL, NULL}},
        {"protocols/fixtures/openai/chat_stream_midstream_error.sse",
         false,
         {"\"content\":\"Hel\"",
          "data: {\"error\":{\"message\":\"The server had an error while processing your "
          "request. Sorry about that!\"",
          NULL, NULL}},
        {"protocols/fixtures/openai/chat_stream_n2_logprobs.sse",
         false,
         {"\"index\":1,\"delta\":{\"role\":\"assistant\"", NULL, NULL, NULL}},
        {"protocols/fixtures/openai/chat_stream.sse", true, {"data: [DONE]\n\n", NULL, NULL, NULL}},
    };
    struct lx_buf whole = LX_BUF_INIT(1u << 20), part = LX_BUF_INIT(1u << 20);

    for (size_t i = 0; i < LX_ARRAY_SIZE(cases); i++) {
        struct lx_chat_req req;
        char *raw;
        struct lx_str bytes = oaft_read(cases[i].path, &raw);
        struct oaft_events ev;

        LX_ASSERT(raw != NULL);
        lx_chat_req_init(&req);
        req.model = LX_STR("alias");
        req.stream = true;
        req.include_usage = cases[i].include_usage;
        LX_ASSERT_EQ(LX_OK, oaft_pipe_run(bytes, bytes.len, &req, &whole));
        for (int k = 0; k < 4 && cases[i].must[k] != NULL; k++)
            if (strstr(whole.ptr, cases[i].must[k]) == NULL)
                LX_FAIL("%s: no %s in\n%s", cases[i].path, cases[i].must[k], whole.ptr);
        /* every chunk parses, carries the client's model, and [DONE] (if any) is last */
        LX_ASSERT_EQ(LX_OK, oaft_events_parse(&ev, lx_buf_str(&whole)));
        for (int e = 0; e < ev.n; e++) {
            struct lx_json doc;

            if (strcmp(ev.data[e], "[DONE]") == 0) {
                LX_ASSERT_EQ(ev.n - 1, e);
                continue;
            }
            lx_json_init(&doc, NULL);
            LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, ev.data[e], strlen(ev.data[e])));
            LX_ASSERT(oaft_path(&doc, "error") >= 0 || oaft_str_at(&doc, "model", "alias"));
            lx_json_release(&doc);
        }
        oaft_events_free(&ev);
        /* the client gets the same bytes however the upstream bytes were cut */
        for (size_t cut = 0; cut <= bytes.len; cut += bytes.len > 4096 ? 7 : 1) {
            LX_ASSERT_EQ(LX_OK, oaft_pipe_run(bytes, cut, &req, &part));
            if (part.len != whole.len || memcmp(part.ptr, whole.ptr, part.len) != 0)
                LX_FAIL("%s: cut at %zu gives other bytes", cases[i].path, cut);
        }
        free(raw);
    }
    lx_buf_release(&whole);
    lx_buf_release(&part);
    return 0;
}

/* Other protocols' recorded streams, decoded by their adapters, reach an OpenAI client as OpenAI
 * would have sent them: Anthropic thinking -> reasoning_content, a Gemini call with a thought
 * signature -> one id carrying it and finish_reason tool_calls, an Anthropic error event -> the
 * OpenAI error chunk and no [DONE]. */
LX_TEST(openai_front_replay_other_protocols)
{
    static const struct {
        const struct lx_provider_ops *ops;
        enum lx_config_proto proto;
        const char *type, *path;
        const char *must[4];
        const char *never;
    } cases[] = {
        {&lx_provider_anthropic,
         LX_CONFIG_PROTO_ANTHROPIC,
         "anthropic",
         "protocols/fixtures/anthropic/messages_stream_thinking.sse",
         {"\"delta\":{\"role\":\"assistant\",\"content\":\"\"}",
          "\"reasoning_content\":", "\"delta\":{\"content\":", "data: [DONE]\n\n"},
         "\"error\""},
        {&lx_provider_anthropic,
         LX_CONFIG_PROTO_ANTHROPIC,
         "anthropic",
         "protocols/fixtures/anthropic/messages_stream_tool_use.sse",
         {"\"tool_calls\":[{\"index\":0,\"id\":\"toolu_", "\"finish_reason\":\"tool_calls\"",
          "data: [DONE]\n\n", NULL},
         NULL},
        {&lx_provider_anthropic,
         LX_CONFIG_PROTO_ANTHROPIC,
         "anthropic",
         "protocols/fixtures/anthropic/messages_stream_midstream_error.sse",
         {"data: {\"error\":{\"message\":", NULL, NULL, NULL},
         "[DONE]"},
        {&lx_provider_gemini,
         LX_CONFIG_PROTO_GEMINI,
         "gemini",
         "protocols/fixtures/gemini/stream_tool_call.sse",
         {"__thought__EqUCCqICAb4+9vsh8Pd5", "\"name\":\"weather\"",
          "\"finish_reason\":\"tool_calls\"", "data: [DONE]\n\n"},
         NULL},
    };
    struct lx_buf whole = LX_BUF_INIT(1u << 20), part = LX_BUF_INIT(1u << 20);

    for (size_t i = 0; i < LX_ARRAY_SIZE(cases); i++) {
        struct lx_chat_req req;
        char *raw;
        struct lx_str bytes = oaft_read(cases[i].path, &raw);
        struct oaft_events ev;
        int ids = 0;

        LX_ASSERT(raw != NULL);
        lx_chat_req_init(&req);
        req.model = LX_STR("alias");
        req.stream = true;
        oaft_pipe_run_ops(cases[i].ops, cases[i].proto, cases[i].type, bytes, bytes.len, &req,
                          &whole);
        for (int k = 0; k < 4 && cases[i].must[k] != NULL; k++)
            if (strstr(whole.ptr, cases[i].must[k]) == NULL)
                LX_FAIL("%s: no %s in\n%s", cases[i].path, cases[i].must[k], whole.ptr);
        if (cases[i].never != NULL && strstr(whole.ptr, cases[i].never) != NULL)
            LX_FAIL("%s: %s in\n%s", cases[i].path, cases[i].never, whole.ptr);
        LX_ASSERT_EQ(LX_OK, oaft_events_parse(&ev, lx_buf_str(&whole)));
        for (int e = 0; e < ev.n; e++) {
            ids += strstr(ev.data[e], "\"id\":\"toolu_") != NULL ||
                   strstr(ev.data[e], "__thought__") != NULL;
            if (strcmp(ev.data[e], "[DONE]") != 0) {
                struct lx_json doc;

                lx_json_init(&doc, NULL);
                LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, ev.data[e], strlen(ev.data[e])));
                lx_json_release(&doc);
            }
        }
        LX_ASSERT(ids <= 1); /* a call's id goes out once */
        oaft_events_free(&ev);
        for (size_t cut = 0; cut <= bytes.len; cut += bytes.len > 4096 ? 7 : 1) {
            oaft_pipe_run_ops(cases[i].ops, cases[i].proto, cases[i].type, bytes, cut, &req, &part);
            if (part.len != whole.len || memcmp(part.ptr, whole.ptr, part.len) != 0)
                LX_FAIL("%s: cut at %zu gives other bytes", cases[i].path, cut);
        }
        free(raw);
    }
    lx_buf_release(&whole);
    lx_buf_release(&part);
    return 0;
}

/* Complete answers and error bodies of other protocols, decoded by their adapters, encoded for
 * an OpenAI client. */
LX_TEST(openai_front_other_protocol_answers)
{
    static const struct {
        const struct lx_provider_ops *ops;
        enum lx_config_proto proto;
        const char *type, *path;
        const char *must[3];
    } answers[] = {
        {&lx_provider_anthropic,
         LX_CONFIG_PROTO_ANTHROPIC,
         "anthropic",
         "protocols/fixtures/anthropic/messages_response_tool_use.json",
         {"\"tool_calls\":[{\"id\":\"toolu_01Q9ExVZnzZj7E2QQYHYtNUa\",\"type\":\"function\","
          "\"function\":{\"name\":\"json\",\"arguments\":\"{",
          "\"finish_reason\":\"tool_calls\"", "\"content\":null"}},
        {&lx_provider_anthropic,
         LX_CONFIG_PROTO_ANTHROPIC,
         "anthropic",
         "protocols/fixtures/anthropic/messages_response_text.json",
         {"\"finish_reason\":\"stop\"", "\"usage\":{\"prompt_tokens\":", NULL}},
        {&lx_provider_gemini,
         LX_CONFIG_PROTO_GEMINI,
         "gemini",
         "protocols/fixtures/gemini/generate_response_tool_call.json",
         {"\"finish_reason\":\"tool_calls\"", "\"type\":\"function\"", NULL}},
        {&lx_provider_gemini,
         LX_CONFIG_PROTO_GEMINI,
         "gemini",
         "protocols/fixtures/gemini/generate_response_text.json",
         {"\"finish_reason\":\"stop\"", "\"role\":\"assistant\",\"content\":\"", NULL}},
    };
    static const struct {
        const struct lx_provider_ops *ops;
        enum lx_config_proto proto;
        const char *type, *path;
        int status;
        const char *want;
    } errors[] = {
        {&lx_provider_anthropic, LX_CONFIG_PROTO_ANTHROPIC, "anthropic",
         "protocols/fixtures/anthropic/error_529_overloaded.json", 529,
         "{\"error\":{\"message\":\"Overloaded\",\"type\":\"service_unavailable_error\","
         "\"param\":null,\"code\":\"overloaded_error\"}}"},
        {&lx_provider_gemini, LX_CONFIG_PROTO_GEMINI, "gemini",
         "protocols/fixtures/gemini/error_429_resource_exhausted.json", 429,
         "\"type\":\"rate_limit_error\""},
    };
    struct lx_arena *a = lx_arena_new(0, 1u << 24);
    struct lx_buf out = LX_BUF_INIT(1u << 20);
    struct lx_config_provider conf;
    struct lx_provider_call call;

    memset(&conf, 0, sizeof(conf));
    conf.name = "p";
    conf.base_url = "https://api.example.com";
    memset(&call, 0, sizeof(call));
    call.conf = &conf;
    call.model = LX_STR("m");
    for (size_t i = 0; i < LX_ARRAY_SIZE(answers); i++) {
        struct lx_chat_req req;
        struct lx_chat_resp resp;
        struct lx_err err;
        struct lx_json doc;
        char *raw;
        struct lx_str body = oaft_read(answers[i].path, &raw);

        LX_ASSERT(raw != NULL);
        conf.type = answers[i].type;
        conf.proto = answers[i].proto;
        lx_chat_req_init(&req);
        req.model = LX_STR("alias");
        lx_chat_resp_init(&resp);
        memset(&err, 0, sizeof(err));
        if (answers[i].ops->parse_response(&call, body, a, &resp, &err) != LX_OK)
            LX_FAIL("%s: %s", answers[i].path, err.msg);
        lx_buf_reset(&out);
        LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_response(&req, &resp, 1, &out));
        LX_ASSERT_EQ(LX_OK, oaft_parse_out(&doc, &out));
        LX_ASSERT(oaft_str_at(&doc, "object", "chat.completion"));
        LX_ASSERT(oaft_str_at(&doc, "model", "alias"));
        lx_json_release(&doc);
        for (int k = 0; k < 3 && answers[i].must[k] != NULL; k++)
            if (strstr(out.ptr, answers[i].must[k]) == NULL)
                LX_FAIL("%s: no %s in\n%s", answers[i].path, answers[i].must[k], out.ptr);
        free(raw);
    }
    for (size_t i = 0; i < LX_ARRAY_SIZE(errors); i++) {
        struct lx_upstream_error ue;
        char *raw;
        struct lx_str body = oaft_read(errors[i].path, &raw);

        LX_ASSERT(raw != NULL);
        conf.type = errors[i].type;
        conf.proto = errors[i].proto;
        lx_upstream_error_init(&ue);
        errors[i].ops->map_error(&call, errors[i].status, NULL, 0, body, a, &ue);
        lx_buf_reset(&out);
        LX_ASSERT_EQ(
            LX_OK, lx_frontdoor_openai.encode_error(ue.status, ue.type, ue.message, ue.code, &out));
        if (strstr(out.ptr, errors[i].want) == NULL)
            LX_FAIL("%s: %s", errors[i].path, out.ptr);
        free(raw);
    }
    lx_buf_release(&out);
    lx_arena_free(a);
    return 0;
}

/* ---- errors ----------------------------------------------------------------------------- */

LX_TEST(openai_front_encode_error)
{
    static const struct {
        int status;
        enum lx_err_type type;
        const char *code, *want;
    } cases[] = {
        {400, LX_ERRT_CONTEXT_LENGTH, "",
         "{\"error\":{\"message\":\"m\",\"type\":\"invalid_request_error\",\"param\":null,"
         "\"code\":\"context_length_exceeded\"}}"},
        {401, LX_ERRT_UNSET, "",
         "{\"error\":{\"message\":\"m\",\"type\":\"authentication_error\",\"param\":null,"
         "\"code\":\"invalid_api_key\"}}"},
        {429, LX_ERRT_RATE_LIMIT, "",
         "{\"error\":{\"message\":\"m\",\"type\":\"rate_limit_error\",\"param\":null,"
         "\"code\":\"rate_limit_exceeded\"}}"},
        {429, LX_ERRT_QUOTA, "",
         "{\"error\":{\"message\":\"m\",\"type\":\"insufficient_quota\",\"param\":null,"
         "\"code\":\"insufficient_quota\"}}"},
        {404, LX_ERRT_NOT_FOUND, "",
         "{\"error\":{\"message\":\"m\",\"type\":\"not_found_error\",\"param\":null,"
         "\"code\":\"model_not_found\"}}"},
        {500, LX_ERRT_UNSET, "",
         "{\"error\":{\"message\":\"m\",\"type\":\"api_error\",\"param\":null,\"code\":null}}"},
        {503, LX_ERRT_OVERLOADED, "overloaded_error",
         "{\"error\":{\"message\":\"m\",\"type\":\"service_unavailable_error\",\"param\":null,"
         "\"code\":\"overloaded_error\"}}"},
        {400, LX_ERRT_CONTENT_FILTER, "",
         "{\"error\":{\"message\":\"m\",\"type\":\"invalid_request_error\",\"param\":null,"
         "\"code\":\"content_filter\"}}"},
    };
    struct lx_buf out = LX_BUF_INIT(4096);
    struct lx_arena *a = lx_arena_new(0, 1u << 16);
    struct lx_chat_req req;
    struct lx_fd_stream st;

    for (size_t i = 0; i < LX_ARRAY_SIZE(cases); i++) {
        lx_buf_reset(&out);
        LX_ASSERT_EQ(LX_OK,
                     lx_frontdoor_openai.encode_error(cases[i].status, cases[i].type, LX_STR("m"),
                                                      lx_str_cstr(cases[i].code), &out));
        LX_ASSERT_STREQ(out.ptr, cases[i].want);
    }
    lx_buf_reset(&out);
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_error(400, LX_ERRT_INVALID_REQUEST,
                                                         LX_STR("bad \"x\"\n"), LX_STR_NULL, &out));
    LX_ASSERT_STREQ(out.ptr, "{\"error\":{\"message\":\"bad \\\"x\\\"\\n\",\"type\":"
                             "\"invalid_request_error\",\"param\":null,\"code\":null}}");
    lx_chat_req_init(&req);
    oaft_stream_init(&st, &req, a);
    lx_buf_reset(&out);
    LX_ASSERT_EQ(LX_OK, lx_frontdoor_openai.encode_stream_error(
                            &st, LX_ERRT_TIMEOUT, LX_STR("upstream timed out"), &out));
    LX_ASSERT_STREQ(out.ptr, "data: {\"error\":{\"message\":\"upstream timed out\",\"type\":"
                             "\"timeout_error\",\"param\":null,\"code\":null}}\n\n");
    LX_ASSERT(st.finished);
    lx_buf_release(&out);
    lx_arena_free(a);
    return 0;
}

/* ---- embeddings ------------------------------------------------------------------------- */

LX_TEST(openai_front_embeddings_decode)
{
    struct lx_arena *a = lx_arena_new(0, 1u << 20);
    struct lx_embed_req r;
    struct lx_err err;
    char *raw;
    struct lx_str b = oaft_read("protocols/fixtures/openai/embeddings_request.json", &raw);
    static const struct {
        const char *body, *msg;
    } bad[] = {
        {"{\"model\":\"e\",\"input\":[1,2,3]}", "token arrays are not supported"},
        {"{\"model\":\"e\",\"input\":[[1,2]]}", "token arrays are not supported"},
        {"{\"model\":\"e\",\"input\":[]}", "empty array"},
        {"{\"model\":\"e\"}", "Missing required parameter: 'input'."},
        {"{\"input\":\"x\"}", "you must provide a model parameter"},
        {"{\"model\":\"e\",\"input\":\"x\",\"encoding_format\":\"int8\"}", "encoding_format"},
        {"{\"model\":\"e\",\"input\":\"x\",\"dimensions\":0}", "Invalid 'dimensions'"},
        {"{\"model\":\"e\",\"input\":{}}", "Invalid type for 'input'"},
        {"{\"model\":\"e\",\"input\":[\"a\",null]}", "Invalid type for 'input[]'"},
    };

    LX_ASSERT(raw != NULL);
    LX_ASSERT_EQ(LX_OK, lx_openai_decode_embeddings(b, a, &r, &err));
    LX_ASSERT_STR(r.model, "text-embedding-3-small");
    LX_ASSERT_EQ(1, r.n_inputs);
    LX_ASSERT_STR(r.inputs[0], "Generate embeddings with specific dimensions");
    LX_ASSERT(r.base64);
    LX_ASSERT_EQ(256, r.dimensions);
    free(raw);
    LX_ASSERT_EQ(LX_OK, lx_openai_decode_embeddings(
                            lx_str_cstr("{\"model\":\"e\",\"input\":[\"a\",\"b\\n\"],"
                                        "\"encoding_format\":\"float\",\"user\":\"u\","
                                        "\"input_type\":\"search_query\"}"),
                            a, &r, &err));
    LX_ASSERT_EQ(2, r.n_inputs);
    LX_ASSERT_STR(r.inputs[1], "b\n");
    LX_ASSERT(!r.base64);
    LX_ASSERT_EQ(-1, r.dimensions);
    LX_ASSERT_STR(r.user, "u");
    LX_ASSERT_STR(r.input_type, "search_query");
    for (size_t i = 0; i < LX_ARRAY_SIZE(bad); i++) {
        memset(&err, 0, sizeof(err));
        if (lx_openai_decode_embeddings(lx_str_cstr(bad[i].body), a, &r, &err) != LX_EINVAL ||
            err.http_status != 400 || strstr(err.msg, bad[i].msg) == NULL)
            LX_FAIL("case %zu: \"%s\"", i, err.msg);
    }
    lx_arena_free(a);
    return 0;
}

LX_TEST(openai_front_embeddings_encode)
{
    struct lx_embed_req req;
    struct lx_embed_resp resp;
    struct lx_str vecs[2] = {LX_STR_INIT("[1.0, -2.5]"), LX_STR_INIT(" [ 0.5e1 ,0 ] ")};
    struct lx_str bad[] = {LX_STR_INIT("[1,]"),  LX_STR_INIT("[01]"),    LX_STR_INIT("{}"),
                           LX_STR_INIT("[1] x"), LX_STR_INIT("[\"1\"]"), LX_STR_INIT("[+1]"),
                           LX_STR_INIT("[1.]"),  LX_STR_INIT("")};
    struct lx_buf out = LX_BUF_INIT(1u << 16);

    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.model = LX_STR("text-embedding-3-small");
    resp.model = LX_STR("upstream-name");
    resp.vectors = vecs;
    resp.n_vectors = 2;
    resp.usage = (struct lx_usage){8, -1, -1, -1, -1, -1};
    LX_ASSERT_EQ(LX_OK, lx_openai_encode_embeddings(&req, &resp, &out));
    LX_ASSERT_STREQ(out.ptr, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                             "\"embedding\":[1.0,-2.5]},{\"object\":\"embedding\",\"index\":1,"
                             "\"embedding\":[0.5e1,0]}],\"model\":\"text-embedding-3-small\","
                             "\"usage\":{\"prompt_tokens\":8,\"total_tokens\":8}}");
    /* base64 of float32 LE: 1.0 = 00 00 80 3f, -2.5 = 00 00 20 c0; 5.0 = 00 00 a0 40, 0 */
    req.base64 = true;
    lx_buf_reset(&out);
    LX_ASSERT_EQ(LX_OK, lx_openai_encode_embeddings(&req, &resp, &out));
    LX_ASSERT(strstr(out.ptr, "\"embedding\":\"AACAPwAAIMA=\"") != NULL);
    LX_ASSERT(strstr(out.ptr, "\"embedding\":\"AACgQAAAAAA=\"") != NULL);
    for (size_t i = 0; i < LX_ARRAY_SIZE(bad); i++) {
        resp.vectors = &bad[i];
        resp.n_vectors = 1;
        lx_buf_reset(&out);
        if (lx_openai_encode_embeddings(&req, &resp, &out) != LX_EPARSE)
            LX_FAIL("bad vector %zu accepted", i);
    }
    lx_buf_release(&out);
    return 0;
}

/* The recorded base64 answer, decoded to floats by hand and encoded again, gives the same text. */
LX_TEST(openai_front_embeddings_base64_recorded)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *raw;
    struct lx_str body = oaft_read("protocols/fixtures/openai/embeddings_response.json", &raw);
    struct lx_json doc;
    struct lx_str rec;
    struct lx_buf vec = LX_BUF_INIT(1u << 20), out = LX_BUF_INIT(1u << 20);
    struct lx_embed_req req;
    struct lx_embed_resp resp;
    unsigned acc = 0;
    int bits = 0, nbytes = 0;
    unsigned char word[4];
    const char *at;

    LX_ASSERT(raw != NULL);
    lx_json_init(&doc, NULL);
    LX_ASSERT_EQ(LX_OK, lx_json_parse(&doc, body.ptr, body.len));
    rec = lx_json_str_raw(&doc, oaft_path(&doc, "data.0.embedding"));
    LX_ASSERT(rec.len > 0);
    lx_buf_append_char(&vec, '[');
    for (size_t i = 0; i < rec.len && rec.ptr[i] != '='; i++) {
        acc = acc << 6 | (unsigned)(strchr(b64, rec.ptr[i]) - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            word[nbytes++ % 4] = (unsigned char)(acc >> bits);
            if (nbytes % 4 == 0) {
                uint32_t u = (uint32_t)word[0] | (uint32_t)word[1] << 8 | (uint32_t)word[2] << 16 |
                             (uint32_t)word[3] << 24;
                float f;

                memcpy(&f, &u, sizeof(f));
                lx_buf_appendf(&vec, "%s%.9g", nbytes > 4 ? "," : "", (double)f);
            }
        }
    }
    lx_buf_append_char(&vec, ']');
    LX_ASSERT_EQ(256 * 4, nbytes);
    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.base64 = true;
    req.model = LX_STR("text-embedding-3-small");
    resp.usage = (struct lx_usage)LX_USAGE_INIT;
    struct lx_str v = lx_buf_str(&vec);
    resp.vectors = &v;
    resp.n_vectors = 1;
    LX_ASSERT_EQ(LX_OK, lx_openai_encode_embeddings(&req, &resp, &out));
    at = strstr(out.ptr, "\"embedding\":\"");
    LX_ASSERT(at != NULL);
    LX_ASSERT_EQ(0, memcmp(at + 13, rec.ptr, rec.len));
    LX_ASSERT_EQ('"', at[13 + rec.len]);
    lx_json_release(&doc);
    lx_buf_release(&vec);
    lx_buf_release(&out);
    free(raw);
    return 0;
}
