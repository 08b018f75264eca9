/* models.c - GET /v1/models (OpenAI's list shape) and GET /health (per-provider status), both
 * answered from the request's configuration snapshot. Runs on the request's loop thread. */
#include <string.h>

#include "core/time.h"
#include "gateway/gateway_int.h"
#include "json/writer.h"

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

static void model_entry(struct lx_json_writer *w, struct lx_str id, const char *owner,
                        long long created)
{
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("id"));
    lx_json_write_str(w, id);
    lx_json_write_key(w, LX_STR("object"));
    lx_json_write_str(w, LX_STR("model"));
    lx_json_write_key(w, LX_STR("created"));
    lx_json_write_int(w, created);
    lx_json_write_key(w, LX_STR("owned_by"));
    lx_json_write_str(w, lx_str_cstr(owner));
    lx_json_write_object_end(w);
}

/* The aliases of the configuration (owned by "llmux"), then every alias target as
 * "provider/model" (owned by its provider), for enabled providers only. Providers' own model
 * lists come with the catalog. */
void lx__gw_models(struct lx_gw_req *g)
{
    const struct lx_config *cfg = g->cfg;
    struct lx_buf b = LX_BUF_INIT(8u << 20);
    struct lx_buf id = LX_BUF_INIT(4096);
    struct lx_json_writer w;
    long long created = (long long)(lx_now_wall_ms() / 1000);

    g->route = "models";
    lx_json_writer_init(&w, &b);
    lx_json_write_object_begin(&w);
    lx_json_write_key(&w, LX_STR("object"));
    lx_json_write_str(&w, LX_STR("list"));
    lx_json_write_key(&w, LX_STR("data"));
    lx_json_write_array_begin(&w);
    for (size_t i = 0; i < cfg->n_models; i++)
        model_entry(&w, lx_str_cstr(cfg->models[i].name), "llmux", created);
    for (size_t i = 0; i < cfg->n_models; i++) {
        for (size_t t = 0; t < cfg->models[i].n_targets; t++) {
            const struct lx_config_target *tg = &cfg->models[i].targets[t];

            if (!cfg->providers[tg->provider_index].enabled)
                continue;
            lx_buf_reset(&id);
            lx_buf_appendf(&id, "%s/%s", tg->provider, tg->model);
            model_entry(&w, lx_buf_str(&id), tg->provider, created);
        }
    }
    lx_json_write_array_end(&w);
    lx_json_write_object_end(&w);
    lx_json_writer_finish(&w);
    lx_buf_release(&id);
    send_json(g, &b);
    lx_buf_release(&b);
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
        lx_json_write_object_end(&w);
    }
    lx_json_write_object_end(&w);
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
