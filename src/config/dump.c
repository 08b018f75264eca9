/* dump.c - a snapshot back to YAML, every default filled in, for `llmux check-config --print`.
 * Secrets (master_key, provider keys, secret-looking header values) are written as "***".
 * The output loads again (with "***" in place of the secrets). Any thread; reads only. */
#include "config/config.h"

#include <string.h>

#include "config/config_int.h"
#include "core/common.h"
#include "core/escape.h"

static void q(struct lx_buf *b, const char *s)
{
    lx_buf_append_char(b, '"');
    lx_json_escape(b, lx_str_cstr(s));
    lx_buf_append_char(b, '"');
}

static void q_or_null(struct lx_buf *b, const char *s)
{
    if (s == NULL)
        lx_buf_append_cstr(b, "null");
    else
        q(b, s);
}

static void target_name(struct lx_buf *b, const struct lx_config_target *t)
{
    lx_buf_append_char(b, '"');
    lx_json_escape(b, lx_str_cstr(t->provider));
    lx_buf_append_char(b, '/');
    lx_json_escape(b, lx_str_cstr(t->model));
    lx_buf_append_char(b, '"');
}

/* Targets with nothing but their name (weight 1, no price, no window) are written as a list of
 * strings, as before strategies existed. */
static bool plain_targets(const struct lx_config_model *m)
{
    for (size_t t = 0; t < m->n_targets; t++)
        if (m->targets[t].weight != 1 || m->targets[t].has_price ||
            m->targets[t].context_window != 0)
            return false;
    return true;
}

/* A price as the loader reads it back: digits, a point, at most 6 decimals, no exponent. */
static void price(struct lx_buf *b, double v)
{
    unsigned long long micro = (unsigned long long)(v * 1e6 + 0.5);
    unsigned long long frac = micro % 1000000;
    int digits = 6;

    lx_buf_appendf(b, "%llu", micro / 1000000);
    if (frac == 0)
        return;
    while (frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    lx_buf_appendf(b, ".%0*llu", digits, frac);
}

static void timeouts(struct lx_buf *b, const char *indent, const struct lx_config_timeouts *t)
{
    lx_buf_appendf(b, "%sconnect_timeout_ms: %u\n", indent, t->connect_ms);
    lx_buf_appendf(b, "%sfirst_byte_timeout_ms: %u\n", indent, t->first_byte_ms);
    lx_buf_appendf(b, "%sidle_timeout_ms: %u\n", indent, t->idle_ms);
    lx_buf_appendf(b, "%stotal_timeout_ms: %u\n", indent, t->total_ms);
}

static const char *yn(bool v)
{
    return v ? "true" : "false";
}

static void key_pool(struct lx_buf *b, const struct lx_config_key_pool *kp)
{
    lx_buf_appendf(b, "key_pool:\n  cooldown_s: %u\n  max_cooldown_s: %u\n", kp->cooldown_s,
                   kp->max_cooldown_s);
    lx_buf_appendf(b, "  consecutive_429: %u\n  long_cooldown_s: %u\n  max_attempts: %u\n",
                   kp->consecutive_429, kp->long_cooldown_s, kp->max_attempts);
    lx_buf_appendf(b, "  backoff: {base_ms: %u, cap_ms: %u}\n", kp->backoff_base_ms,
                   kp->backoff_cap_ms);
    lx_buf_appendf(b, "  retry_timeouts: %s\n", yn(kp->retry_timeouts));
    lx_buf_appendf(b, "  retry_budget: {percent: %u, min_per_s: %u}\n", kp->budget_percent,
                   kp->budget_min_per_s);
    lx_buf_appendf(b, "  probe: {enabled: %s, interval_s: %u}\n", yn(kp->probe_enabled),
                   kp->probe_interval_s);
}

/* After "key_strategy: X" on the same line: "\n    health_check: ...", no newline after. */
static void health_check(struct lx_buf *b, const struct lx_config_health_check *hc)
{
    lx_buf_appendf(b, "\n    health_check: {enabled: %s, interval_s: %u, timeout_ms: %u, "
                      "failures: %u",
                   yn(hc->enabled), hc->interval_s, hc->timeout_ms, hc->failures);
    if (hc->path != NULL) {
        lx_buf_append_cstr(b, ", path: ");
        q(b, hc->path);
    }
    lx_buf_append_char(b, '}');
}

int lx_config_dump(const struct lx_config *cfg, struct lx_buf *b)
{
    static const char *const levels[] = {"debug", "info", "warn", "error", "off"};
    bool v6 = strchr(cfg->listen_host, ':') != NULL;

    lx_buf_appendf(b, "# effective configuration (from %s); secrets are shown as \"***\"\n",
                   cfg->source);
    lx_buf_appendf(b, "listen: \"%s%s%s:%u\"\n", v6 ? "[" : "", cfg->listen_host, v6 ? "]" : "",
                   cfg->listen_port);
    lx_buf_appendf(b, "workers: %u\n", cfg->workers);
    lx_buf_appendf(b, "master_key: %s\n", cfg->master_key ? "\"***\"" : "null");
    lx_buf_appendf(b, "auth: %s\n", cfg->auth == LX_CONFIG_AUTH_NONE ? "none" : "master_key");
    lx_buf_appendf(b, "log_level: %s\n",
                   (size_t)cfg->log_level < LX_ARRAY_SIZE(levels) ? levels[cfg->log_level]
                                                                  : "info");
    lx_buf_appendf(b, "server:\n  max_body: %llu\n", (unsigned long long)cfg->server.max_body);
    lx_buf_appendf(b, "  header_timeout_ms: %u\n", cfg->server.header_timeout_ms);
    lx_buf_appendf(b, "  body_timeout_ms: %u\n", cfg->server.body_timeout_ms);
    lx_buf_appendf(b, "  keepalive_timeout_ms: %u\n", cfg->server.keepalive_timeout_ms);
    lx_buf_appendf(b, "  send_timeout_ms: %u\n", cfg->server.send_timeout_ms);
    lx_buf_appendf(b, "  drain_timeout_ms: %u\n", cfg->server.drain_timeout_ms);
    lx_buf_appendf(b, "  answer_half_closed: %s\n",
                   cfg->server.answer_half_closed ? "true" : "false");
    lx_buf_append_cstr(b, "upstream:\n");
    timeouts(b, "  ", &cfg->upstream.timeouts);
    lx_buf_append_cstr(b, "  ca_file: ");
    q_or_null(b, cfg->upstream.ca_file);
    lx_buf_append_cstr(b, "\ncors:\n  origins: [");
    for (size_t i = 0; i < cfg->cors.n_origins; i++) {
        lx_buf_append_cstr(b, i ? ", " : "");
        q(b, cfg->cors.origins[i]);
    }
    lx_buf_append_cstr(b, "]\nimage_fetch:\n");
    lx_buf_appendf(b, "  enabled: %s\n", cfg->image_fetch.enabled ? "true" : "false");
    lx_buf_append_cstr(b, "  allow_hosts: [");
    for (size_t i = 0; i < cfg->image_fetch.n_allow_hosts; i++) {
        lx_buf_append_cstr(b, i ? ", " : "");
        q(b, cfg->image_fetch.allow_hosts[i]);
    }
    lx_buf_appendf(b, "]\n  allow_private: %s\n",
                   cfg->image_fetch.allow_private ? "true" : "false");
    lx_buf_appendf(b, "  max_bytes: %llu\n",
                   (unsigned long long)(cfg->image_fetch.max_bytes
                                            ? cfg->image_fetch.max_bytes
                                            : LX_CONFIG_IMAGE_FETCH_MAX_BYTES));
    lx_buf_appendf(b, "  timeout_ms: %u\n",
                   cfg->image_fetch.timeout_ms ? cfg->image_fetch.timeout_ms
                                               : LX_CONFIG_IMAGE_FETCH_TIMEOUT_MS);
    lx_buf_appendf(b, "  max_images: %u\n",
                   cfg->image_fetch.max_images ? cfg->image_fetch.max_images
                                               : LX_CONFIG_IMAGE_FETCH_MAX_IMAGES);
    if (cfg->redis.url != NULL) {
        lx_buf_append_cstr(b, "redis:\n  url: \"***\"\n"); /* may hold a password */
        if (cfg->redis.prefix != NULL) {
            lx_buf_append_cstr(b, "  prefix: ");
            q(b, cfg->redis.prefix);
            lx_buf_append_cstr(b, "\n");
        }
    }
    key_pool(b, &cfg->key_pool);
    lx_buf_append_cstr(b, "providers:");
    lx_buf_append_cstr(b, cfg->n_providers ? "\n" : " []\n");
    for (size_t i = 0; i < cfg->n_providers; i++) {
        const struct lx_config_provider *p = &cfg->providers[i];
        lx_buf_append_cstr(b, "  - name: ");
        q(b, p->name);
        lx_buf_append_cstr(b, "\n    type: ");
        q(b, p->type);
        lx_buf_append_cstr(b, "\n    base_url: ");
        q_or_null(b, p->base_url);
        if (p->region) {
            lx_buf_append_cstr(b, "\n    region: ");
            q(b, p->region);
        }
        if (p->project) {
            lx_buf_append_cstr(b, "\n    project: ");
            q(b, p->project);
        }
        if (p->api_version) {
            lx_buf_append_cstr(b, "\n    api_version: ");
            q(b, p->api_version);
        }
        lx_buf_append_cstr(b, "\n    keys: [");
        for (size_t k = 0; k < p->n_keys; k++) { /* never a key: "***" and its weight */
            lx_buf_append_cstr(b, k ? ", " : "");
            if (p->key_weights != NULL)
                lx_buf_appendf(b, "{key: \"***\", weight: %u}", p->key_weights[k]);
            else
                lx_buf_append_cstr(b, "\"***\"");
        }
        lx_buf_appendf(b, "]\n    key_strategy: %s",
                       lx_config_key_strategy_name(p->key_strategy)
                           ? lx_config_key_strategy_name(p->key_strategy)
                           : "random");
        health_check(b, &p->health_check);
        lx_buf_append_cstr(b, "\n    headers: {");
        for (size_t h = 0; h < p->n_headers; h++) {
            const struct lx_header *hd = &p->headers[h];
            lx_buf_append_cstr(b, h ? ", \"" : "\"");
            lx_json_escape(b, hd->name);
            lx_buf_append_cstr(b, "\": \"");
            if (lx__config_header_is_secret(hd->name))
                lx_buf_append_cstr(b, "***");
            else
                lx_json_escape(b, hd->value);
            lx_buf_append_char(b, '"');
        }
        lx_buf_append_cstr(b, "}\n    timeouts:\n");
        timeouts(b, "      ", &p->timeouts);
        lx_buf_appendf(b, "    enabled: %s\n", p->enabled ? "true" : "false");
    }
    lx_buf_append_cstr(b, "models:");
    lx_buf_append_cstr(b, cfg->n_models ? "\n" : " []\n");
    for (size_t i = 0; i < cfg->n_models; i++) {
        const struct lx_config_model *m = &cfg->models[i];
        lx_buf_append_cstr(b, "  - name: ");
        q(b, m->name);
        lx_buf_appendf(b, "\n    strategy: %s", lx_config_strategy_name(m->strategy));
        if (plain_targets(m)) {
            lx_buf_append_cstr(b, "\n    targets: [");
            for (size_t t = 0; t < m->n_targets; t++) {
                lx_buf_append_cstr(b, t ? ", " : "");
                target_name(b, &m->targets[t]);
            }
            lx_buf_append_cstr(b, "]\n");
            continue;
        }
        lx_buf_append_cstr(b, "\n    targets:\n");
        for (size_t t = 0; t < m->n_targets; t++) {
            const struct lx_config_target *tg = &m->targets[t];
            lx_buf_append_cstr(b, "      - {target: ");
            target_name(b, tg);
            lx_buf_appendf(b, ", weight: %u", tg->weight);
            if (tg->has_price) {
                lx_buf_append_cstr(b, ", price: {input: ");
                price(b, tg->price_in);
                lx_buf_append_cstr(b, ", output: ");
                price(b, tg->price_out);
                lx_buf_append_char(b, '}');
            }
            if (tg->context_window)
                lx_buf_appendf(b, ", context_window: %llu", (unsigned long long)tg->context_window);
            lx_buf_append_cstr(b, "}\n");
        }
    }
    lx_buf_append_cstr(b, "routes:");
    lx_buf_append_cstr(b, cfg->n_routes ? "\n" : " []\n");
    for (size_t i = 0; i < cfg->n_routes; i++) {
        lx_buf_append_cstr(b, "  - match: ");
        q(b, cfg->routes[i].match);
        lx_buf_append_cstr(b, "\n    provider: ");
        q(b, cfg->routes[i].provider);
        lx_buf_append_char(b, '\n');
    }
    return b->err;
}
