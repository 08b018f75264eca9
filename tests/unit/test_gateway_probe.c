/* test_gateway_probe.c - the socket-free parts of gateway/probe.c and health.c: the cheap
 * request each protocol gets for a key probe or a health check (URL, the key in the
 * provider's own header, never in the URL), and the health table's threshold rules. The
 * runner itself is tested end to end in tests/integration/test_gateway_probe.py. */
#include "core/arena.h"
#include "core/header.h"
#include "gateway/probe.h"
#include "tests/unit/test.h"

#define KEY "sk-unit-probe-key-0001"

static struct lx_str header_of(const struct lx_upstream_req *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (lx_str_eq_nocase(r->headers[i].name, lx_str_cstr(name)))
            return r->headers[i].value;
    return LX_STR_NULL;
}

static struct lx_config_provider provider(enum lx_config_proto proto, const char *base)
{
    return (struct lx_config_provider){.name = "p", .type = "t", .proto = proto,
                                       .base_url = base, .enabled = true};
}

LX_TEST(gateway_probe_request_per_protocol)
{
    struct lx_arena *a = lx_arena_new(0, 1u << 20);
    struct lx_upstream_req r;
    struct lx_config_provider p = provider(LX_CONFIG_PROTO_OPENAI, "https://api.example/v1");

    LX_ASSERT_EQ(LX_OK, lx__gw_probe_request(&p, LX_STR(KEY), NULL, a, &r));
    LX_ASSERT(lx_str_eq(r.method, LX_STR("GET")));
    LX_ASSERT(lx_str_eq(r.url, LX_STR("https://api.example/v1/models")));
    LX_ASSERT(lx_str_eq(header_of(&r, "authorization"), LX_STR("Bearer " KEY)));

    p = provider(LX_CONFIG_PROTO_ANTHROPIC, "https://api.anthropic.example/v1");
    LX_ASSERT_EQ(LX_OK, lx__gw_probe_request(&p, LX_STR(KEY), NULL, a, &r));
    LX_ASSERT(lx_str_eq(r.url, LX_STR("https://api.anthropic.example/v1/models")));
    LX_ASSERT(lx_str_eq(header_of(&r, "x-api-key"), LX_STR(KEY)));
    LX_ASSERT(header_of(&r, "anthropic-version").len > 0);
    LX_ASSERT(header_of(&r, "authorization").ptr == NULL);

    p = provider(LX_CONFIG_PROTO_GEMINI, "https://gl.example/v1beta");
    LX_ASSERT_EQ(LX_OK, lx__gw_probe_request(&p, LX_STR(KEY), NULL, a, &r));
    LX_ASSERT(lx_str_eq(header_of(&r, "x-goog-api-key"), LX_STR(KEY)));
    LX_ASSERT(lx_str_eq(r.url, LX_STR("https://gl.example/v1beta/models"))); /* never ?key= */

    /* a configured path replaces the list endpoint (key probes use it too) */
    p = provider(LX_CONFIG_PROTO_OPENAI, "http://127.0.0.1:9/v1");
    LX_ASSERT_EQ(LX_OK, lx__gw_probe_request(&p, LX_STR(KEY), "/ping?x=1", a, &r));
    LX_ASSERT(lx_str_eq(r.url, LX_STR("http://127.0.0.1:9/v1/ping?x=1")));

    /* SigV4 and OAuth keys cannot be probed this way; keyless checks can */
    p = provider(LX_CONFIG_PROTO_BEDROCK, "https://bedrock-runtime.example");
    LX_ASSERT_EQ(LX_EINVAL, lx__gw_probe_request(&p, LX_STR(KEY), NULL, a, &r));
    LX_ASSERT_EQ(LX_OK, lx__gw_probe_request(&p, LX_STR_NULL, NULL, a, &r));
    for (size_t i = 0; i < r.n_headers; i++) /* nothing that carries a credential */
        LX_ASSERT(!lx_str_eq(r.headers[i].value, LX_STR(KEY)));
    LX_ASSERT(header_of(&r, "authorization").ptr == NULL);
    lx_arena_free(a);
    return 0;
}

LX_TEST(gateway_health_threshold_and_recovery)
{
    struct lx_gw_health *h = lx__gw_health_new();

    /* two failures in a row make it unhealthy; a skipped check changes nothing */
    LX_ASSERT(!lx__gw_health_record(h, "p", 2, LX_GW_CHECK_FAILED, 503, "HTTP 503", 1000));
    LX_ASSERT(!lx__gw_health_record(h, "p", 2, LX_GW_CHECK_SKIPPED, 0, NULL, 2000));
    LX_ASSERT(lx__gw_health_record(h, "p", 2, LX_GW_CHECK_FAILED, 0, "timed out", 3000));
    LX_ASSERT(!lx__gw_health_record(h, "p", 2, LX_GW_CHECK_FAILED, 0, "timed out", 4000));
    /* one success heals it; a failure after a success starts the count again */
    LX_ASSERT(lx__gw_health_record(h, "p", 2, LX_GW_CHECK_OK, 200, NULL, 5000));
    LX_ASSERT(!lx__gw_health_record(h, "p", 2, LX_GW_CHECK_FAILED, 500, "HTTP 500", 6000));
    LX_ASSERT(!lx__gw_health_record(h, "p", 2, LX_GW_CHECK_OK, 401, NULL, 7000));
    LX_ASSERT(!lx__gw_health_record(h, "p", 2, LX_GW_CHECK_FAILED, 500, "HTTP 500", 8000));
    /* other providers are separate */
    LX_ASSERT(lx__gw_health_record(h, "q", 1, LX_GW_CHECK_FAILED, 0, "refused", 9000));
    lx__gw_health_free(h);
    return 0;
}
