/* models.c - GET /v1/models (OpenAI's list shape) and GET /health (per-provider status), both
 * answered from the request's configuration snapshot; GET /v1/model-options and
 * /v1/route-check, which also read the live state. Runs on the request's loop thread. */
#include <string.h>

#include "core/time.h"
#include "gateway/gateway_int.h"
#include "gateway/keys.h"
#include "router/router.h"
#include "router/strategy.h"
#include "json/writer.h"

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The percent-decoded value of name in a query string ("+" is a space), into out. */
static void query_param(struct lx_str q, struct lx_str name, struct lx_buf *out)
{
    while (q.len > 0) {
        long amp = lx_str_find_char(q, '&');
        struct lx_str pair = lx_str_sub(q, 0, amp < 0 ? q.len : (size_t)amp);
        long eq = lx_str_find_char(pair, '=');

        q = lx_str_sub(q, amp < 0 ? q.len : (size_t)amp + 1, q.len);
        if (eq < 0 || !lx_str_eq(lx_str_sub(pair, 0, (size_t)eq), name))
            continue;
        for (size_t i = (size_t)eq + 1; i < pair.len; i++) {
            char c = pair.ptr[i];

            if (c == '+') {
                c = ' ';
            } else if (c == '%' && i + 2 < pair.len && hexval(pair.ptr[i + 1]) >= 0 &&
                       hexval(pair.ptr[i + 2]) >= 0) {
                c = (char)(hexval(pair.ptr[i + 1]) * 16 + hexval(pair.ptr[i + 2]));
                i += 2;
            }
            lx_buf_append_char(out, c);
        }
        return;
    }
}

static void send_json(struct lx_gw_req *g, struct lx_buf *b)
{
    struct lx_header h = {LX_STR("Content-Type"), LX_STR("application/json")};

    if (b->err != LX_OK) {
        lx__gw_fail(g, 503, "out of memory", NULL, "oom");
        return;
    }
    g->status = 200;
    g->t_first_byte_ns = lx_now_mono_ns();
    lx__gw_access_log(g);
    if (lx__gw_resp_start(g, 200, &h, 1, (int64_t)b->len) == LX_OK)
        lx_http_resp_write(g->req, lx_buf_str(b));
    lx_http_resp_end(g->req, false);
}

/* GET /v1/models: the aliases with an enabled target (owned by "llmux"), then each
 * provider/model an alias names on an enabled provider (router.c). Providers' own model lists
 * come with the catalog. */
static void models_as(struct lx_gw_req *g, const char *route)
{
    struct lx_buf b = LX_BUF_INIT(8u << 20);
    struct lx_json_writer w;

    g->route = route;
    lx_json_writer_init(&w, &b);
    lx_route_models_json(g->cfg, lx_now_wall_ms() / 1000, &w);
    lx_json_writer_finish(&w);
    send_json(g, &b);
    lx_buf_release(&b);
}

void lx__gw_models(struct lx_gw_req *g)
{
    models_as(g, "models");
}

/* GET /v1/model-options (S2): what is routable now. Every id GET /v1/models lists is routed
 * and ordered as a request would be at this instant (breakers, key pools, the alias's
 * strategy): "data" holds the ones that would be sent somewhere, with the provider and
 * upstream model that would take the request first; "unavailable" the others, with the
 * status a request would get and why (a 429's retry_after_s). */
struct model_opts {
    struct lx_gw_req *g;
    struct lx_json_writer *w;
    struct lx_route_result res;
    struct lx_route_plan plan;
    struct lx__gw_signal_ctx sc;
    struct lx_route_signals sig;
    uint64_t now_ms;
    bool second_pass; /* false: write the available ids; true: the unavailable ones */
};

static void model_option(void *ctx, struct lx_str id, const char *owner)
{
    struct model_opts *mo = ctx;
    struct lx_json_writer *w = mo->w;
    struct lx_route_req rr = {id, LX_STR_NULL, LX_STR_NULL, false};
    struct lx_route_order_req oreq = {.now_ms = mo->now_ms, .random = 0};
    bool routed = lx_route(mo->g->cfg, &rr, &mo->res) == LX_OK;
    bool ok;

    if (routed)
        lx_route_order(&mo->res, &oreq, &mo->sig, &mo->plan);
    ok = routed && mo->plan.n_order > 0;
    if (ok == mo->second_pass)
        return;
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("id"));
    lx_json_write_str(w, id);
    if (ok) {
        const struct lx_route_candidate *c = &mo->plan.order[0].cand;

        lx_json_write_key(w, LX_STR("object"));
        lx_json_write_str(w, LX_STR("model"));
        lx_json_write_key(w, LX_STR("created"));
        lx_json_write_uint(w, mo->now_ms / 1000);
        lx_json_write_key(w, LX_STR("owned_by"));
        lx_json_write_str(w, lx_str_cstr(owner ? owner : "llmux"));
        lx_json_write_key(w, LX_STR("provider"));
        lx_json_write_str(w, lx_str_cstr(c->provider->name));
        lx_json_write_key(w, LX_STR("model"));
        lx_json_write_str(w, c->model);
        lx_json_write_key(w, LX_STR("strategy"));
        lx_json_write_str(w, lx_str_cstr(lx_config_strategy_name(mo->plan.strategy)));
        lx_json_write_key(w, LX_STR("targets_available"));
        lx_json_write_uint(w, mo->plan.n_order);
    } else {
        const struct lx_err *e = routed ? &mo->plan.err : &mo->res.err;
        const char *code = routed ? mo->plan.code : mo->res.code;

        lx_json_write_key(w, LX_STR("status"));
        lx_json_write_int(w, e->http_status);
        lx_json_write_key(w, LX_STR("code"));
        lx_json_write_str(w, lx_str_cstr(code ? code : "unavailable"));
        lx_json_write_key(w, LX_STR("message"));
        lx_json_write_str(w, lx_str_cstr(e->msg));
        if (routed && mo->plan.http_status == 429 && mo->plan.retry_after_ms >= 0) {
            lx_json_write_key(w, LX_STR("retry_after_s"));
            lx_json_write_uint(w, ((uint64_t)mo->plan.retry_after_ms + 999) / 1000);
        }
    }
    lx_json_write_object_end(w);
}

/* g is gone once the answer is sent: the route name must be set before */
void lx__gw_model_options(struct lx_gw_req *g)
{
    struct lx_buf b = LX_BUF_INIT(8u << 20);
    struct lx_json_writer w;
    struct model_opts *mo = lx_arena_zalloc(lx_http_req_arena(g->req), sizeof(*mo));

    g->route = "model-options";
    if (mo == NULL) {
        lx__gw_fail(g, 503, "out of memory", NULL, "oom");
        return;
    }
    mo->g = g;
    mo->w = &w;
    mo->now_ms = lx_now_wall_ms();
    lx__gw_route_signals(g->w->gw, g->cfg, false, &mo->sc, &mo->sig);
    lx_json_writer_init(&w, &b);
    lx_json_write_object_begin(&w);
    lx_json_write_key(&w, LX_STR("object"));
    lx_json_write_str(&w, LX_STR("list"));
    lx_json_write_key(&w, LX_STR("data"));
    lx_json_write_array_begin(&w);
    lx_route_model_ids(g->cfg, model_option, mo);
    lx_json_write_array_end(&w);
    lx_json_write_key(&w, LX_STR("unavailable"));
    lx_json_write_array_begin(&w);
    mo->second_pass = true;
    lx_route_model_ids(g->cfg, model_option, mo);
    lx_json_write_array_end(&w);
    lx_json_write_object_end(&w);
    lx_json_writer_finish(&w);
    send_json(g, &b);
    lx_buf_release(&b);
}

/* GET /v1/route-check?model=M[&provider=P]: the routing decision for M explained, S2's
 * fields first ({"provider","model","available","timestamp"}), then the rule and every
 * candidate. The model defaults to S2's "@cf/meta/llama-4-scout-17b-16e-instruct". */
void lx__gw_route_check(struct lx_gw_req *g)
{
    const struct lx_http1_head *h = lx_http_req_head(g->req);
    struct lx_buf b = LX_BUF_INIT(1u << 20), model = LX_BUF_INIT(4096), prov = LX_BUF_INIT(256);
    struct lx_route_result res;
    struct lx_route_req rr = {LX_STR_NULL, LX_STR_NULL, LX_STR_NULL, false};
    struct lx_json_writer w;

    g->route = "route-check";
    query_param(h->query, LX_STR("model"), &model);
    query_param(h->query, LX_STR("provider"), &prov);
    rr.model = model.len ? lx_buf_str(&model) : LX_STR("@cf/meta/llama-4-scout-17b-16e-instruct");
    rr.provider = lx_buf_str(&prov);
    lx_json_writer_init(&w, &b);
    if (lx_route(g->cfg, &rr, &res) == LX_OK) {
        /* the order a request would take now, with each target's keys, breaker, latency and
         * load, and why any is skipped (router/strategy.c) */
        struct lx__gw_signal_ctx sc;
        struct lx_route_signals sig;
        struct lx_route_order_req oreq = {.now_ms = lx_now_wall_ms(), .random = 0};
        struct lx_route_plan *plan = lx_arena_alloc(lx_http_req_arena(g->req), sizeof(*plan));

        lx__gw_route_signals(g->w->gw, g->cfg, false, &sc, &sig);
        if (plan != NULL) {
            lx_route_order(&res, &oreq, &sig, plan); /* nothing left: the plan says why */
            lx_route_explain_plan(&res, plan, oreq.now_ms, &w);
        }
        else
            lx_route_explain(&res, oreq.now_ms, &w);
    } else {
        lx_route_explain(&res, lx_now_wall_ms(), &w);
    }
    lx_json_writer_finish(&w);
    send_json(g, &b);
    lx_buf_release(&b);
    lx_buf_release(&model);
    lx_buf_release(&prov);
}

/* {"status":"ok","providers":{"openai":{"type":"openai","enabled":true}},
 *  "available_providers":["openai"]}; 200 even with no provider: llmux itself is up. */
void lx__gw_health(struct lx_gw_req *g)
{
    const struct lx_config *cfg = g->cfg;
    struct lx_buf b = LX_BUF_INIT(1u << 20);
    struct lx_json_writer w;

    g->route = "health";
    lx_json_writer_init(&w, &b);
    lx_json_write_object_begin(&w);
    lx_json_write_key(&w, LX_STR("status"));
    lx_json_write_str(&w, LX_STR("ok"));
    lx_json_write_key(&w, LX_STR("providers"));
    lx_json_write_object_begin(&w);
    for (size_t i = 0; i < cfg->n_providers; i++) {
        lx_json_write_key(&w, lx_str_cstr(cfg->providers[i].name));
        lx_json_write_object_begin(&w);
        lx_json_write_key(&w, LX_STR("type"));
        lx_json_write_str(&w, lx_str_cstr(cfg->providers[i].type));
        lx_json_write_key(&w, LX_STR("enabled"));
        lx_json_write_bool(&w, cfg->providers[i].enabled);
        if (cfg->providers[i].health_check.enabled) {
            lx_json_write_key(&w, LX_STR("health_check")); /* the active checks' last word */
            lx__gw_health_write(g->w->gw, cfg->providers[i].name, &w);
        }
        lx_json_write_object_end(&w);
    }
    lx_json_write_object_end(&w);
    {
        char st[96];

        lx_json_write_key(&w, LX_STR("shared_state"));
        lx_state_redis_status(g->w->gw->state, st, sizeof(st));
        lx_json_write_str(&w, lx_str_cstr(st)); /* "off", "connected", "down since ..." */
    }
    lx_json_write_key(&w, LX_STR("available_providers"));
    lx_json_write_array_begin(&w);
    for (size_t i = 0; i < cfg->n_providers; i++)
        if (cfg->providers[i].enabled)
            lx_json_write_str(&w, lx_str_cstr(cfg->providers[i].name));
    lx_json_write_array_end(&w);
    lx_json_write_object_end(&w);
    lx_json_writer_finish(&w);
    send_json(g, &b);
    lx_buf_release(&b);
}
