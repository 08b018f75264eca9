/* config.c - the snapshot's lifetime (ref/unref, slot), lookups, presets, messages and the
 * configuration built from environment variables alone. A snapshot owns one arena holding all
 * its strings and arrays; it is freed by the last lx_config_unref, on any thread. */
#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "core/alloc.h"
#include "core/common.h"
#include "core/arena.h"
#include "core/err.h"

/* S2's routing rules, used when the file has no `routes:`. */
static const struct {
    const char *match, *provider;
} default_routes[] = {
    {"gpt-*", "openai"},   {"o1*", "openai"},        {"o3*", "openai"},
    {"*gemini*", "gemini"}, {"@cf/*", "cloudflare"}, {"claude-*", "anthropic"},
};

void lx__config_vmsg(struct lx_config_errs *e, enum lx_config_severity sev, const char *file,
                     unsigned line, unsigned col, const char *fmt, va_list ap)
{
    /* a stack buffer, not lx_buf: "out of memory" must get through when allocations fail */
    char text[768];
    struct lx_config_msg *m;
    int n;

    if (sev == LX_CONFIG_ERROR)
        e->n_errors++;
    else
        e->n_warnings++;
    if (e->n >= LX_CONFIG_MAX_MSGS)
        return;
    if (line > 0)
        n = snprintf(text, sizeof(text), "%s:%u:%u: %s", file, line, col,
                     sev == LX_CONFIG_ERROR ? "error: " : "warning: ");
    else
        n = snprintf(text, sizeof(text), "%s: %s", file,
                     sev == LX_CONFIG_ERROR ? "error: " : "warning: ");
    if (n < 0 || (size_t)n >= sizeof(text) / 2)
        n = 0; /* an absurd file name: keep the message */
    vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
    if (e->n == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 8;
        e->msgs = lx_xrealloc(e->msgs, e->cap * sizeof(*e->msgs));
    }
    m = &e->msgs[e->n++];
    m->severity = sev;
    m->line = line;
    m->col = col;
    m->text = lx_xstrndup(text, strlen(text));
}

void lx__config_msg(struct lx_config_errs *e, enum lx_config_severity sev, const char *file,
                    unsigned line, unsigned col, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    lx__config_vmsg(e, sev, file, line, col, fmt, ap);
    va_end(ap);
}

void lx_config_errs_release(struct lx_config_errs *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        free(errs->msgs[i].text);
    free(errs->msgs);
    *errs = (struct lx_config_errs)LX_CONFIG_ERRS_INIT;
}

int lx_config_errs_format(const struct lx_config_errs *errs, struct lx_buf *b)
{
    size_t dropped = errs->n_errors + errs->n_warnings - errs->n;

    for (size_t i = 0; i < errs->n; i++) {
        lx_buf_append_cstr(b, errs->msgs[i].text);
        lx_buf_append_char(b, '\n');
    }
    if (dropped > 0)
        lx_buf_appendf(b, "(%zu more messages not shown)\n", dropped);
    return b->err;
}

void lx_config_key_pool_defaults(struct lx_config_key_pool *kp)
{
    *kp = (struct lx_config_key_pool){
        .cooldown_s = 65,
        .max_cooldown_s = 86400,
        .consecutive_429 = 2,
        .long_cooldown_s = 86400,
        .max_attempts = 3,
        .backoff_base_ms = 100,
        .backoff_cap_ms = 5000,
        .retry_timeouts = true,
        .budget_percent = 20,
        .budget_min_per_s = 10,
        .probe_enabled = false,
        .probe_interval_s = 600,
    };
}

struct lx_config *lx__config_new(const char *source)
{
    struct lx_arena *a = lx_arena_new(16384, LX_CONFIG_ARENA_MAX);
    struct lx_config *cfg;

    if (a == NULL)
        return NULL;
    cfg = lx_arena_zalloc(a, sizeof(*cfg));
    if (cfg == NULL || (cfg->source = lx_arena_strndup(a, source, strlen(source))) == NULL ||
        (cfg->listen_host = lx_arena_strndup(a, "127.0.0.1", 9)) == NULL) {
        lx_arena_free(a);
        return NULL;
    }
    atomic_init(&cfg->refs, 1);
    cfg->arena = a;
    cfg->listen_port = 4000;
    cfg->auth = LX_CONFIG_AUTH_NONE;
    cfg->log_level = LX_LOG_INFO;
    cfg->server.max_body = 33554432;
    cfg->server.header_timeout_ms = 10000;
    cfg->server.body_timeout_ms = 30000;
    cfg->server.keepalive_timeout_ms = 60000;
    cfg->server.send_timeout_ms = 60000;
    cfg->server.drain_timeout_ms = 30000;
    cfg->upstream.timeouts = (struct lx_config_timeouts){
        .connect_ms = 5000, .first_byte_ms = 120000, .idle_ms = 60000, .total_ms = 600000};
    lx_config_key_pool_defaults(&cfg->key_pool);
    return cfg;
}

int lx__config_finish_routes(struct lx_config *cfg, bool use_defaults)
{
    if (use_defaults) {
        cfg->n_routes = LX_ARRAY_SIZE(default_routes);
        cfg->routes = lx_arena_zalloc(cfg->arena, cfg->n_routes * sizeof(*cfg->routes));
        if (cfg->routes == NULL)
            return LX_ENOMEM;
        for (size_t i = 0; i < cfg->n_routes; i++) {
            cfg->routes[i].match = default_routes[i].match;
            cfg->routes[i].provider = default_routes[i].provider;
        }
    }
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const struct lx_config_provider *p =
            lx_config_provider_find(cfg, lx_str_cstr(cfg->routes[i].provider));
        cfg->routes[i].provider_index = p ? (long)(p - cfg->providers) : -1;
    }
    return LX_OK;
}

struct lx_config *lx_config_ref(struct lx_config *cfg)
{
    atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
    return cfg;
}

void lx_config_unref(struct lx_config *cfg)
{
    if (cfg == NULL)
        return;
    /* acq_rel: every holder's reads happen before the free on the last one's thread */
    if (atomic_fetch_sub_explicit(&cfg->refs, 1, memory_order_acq_rel) == 1)
        lx_arena_free(cfg->arena); /* cfg itself lives in the arena */
}

const struct lx_config_provider *lx_config_provider_find(const struct lx_config *cfg,
                                                          struct lx_str name)
{
    for (size_t i = 0; i < cfg->n_providers; i++)
        if (lx_str_eq(name, lx_str_cstr(cfg->providers[i].name)))
            return &cfg->providers[i];
    return NULL;
}

const struct lx_config_model *lx_config_model_find(const struct lx_config *cfg,
                                                    struct lx_str name)
{
    for (size_t i = 0; i < cfg->n_models; i++)
        if (lx_str_eq(name, lx_str_cstr(cfg->models[i].name)))
            return &cfg->models[i];
    return NULL;
}

/* Iterative glob with one backtrack point: linear in practice, never exponential. */
bool lx_config_glob_match(struct lx_str pat, struct lx_str s)
{
    size_t p = 0, i = 0, star_p = SIZE_MAX, star_i = 0;

    while (i < s.len) {
        if (p < pat.len && (pat.ptr[p] == '?' || pat.ptr[p] == s.ptr[i])) {
            p++;
            i++;
        } else if (p < pat.len && pat.ptr[p] == '*') {
            star_p = p++;
            star_i = i;
        } else if (star_p != SIZE_MAX) {
            p = star_p + 1;
            i = ++star_i;
        } else {
            return false;
        }
    }
    while (p < pat.len && pat.ptr[p] == '*')
        p++;
    return p == pat.len;
}

const struct lx_config_route *lx_config_route_match(const struct lx_config *cfg,
                                                    struct lx_str model)
{
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const struct lx_config_route *r = &cfg->routes[i];
        if (r->provider_index < 0 || !cfg->providers[r->provider_index].enabled)
            continue;
        if (lx_config_glob_match(lx_str_cstr(r->match), model))
            return r;
    }
    return NULL;
}

bool lx_config_is_loopback(const char *host)
{
    return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0;
}

unsigned lx__config_distance(const char *a, size_t alen, const char *b, size_t blen, unsigned cap)
{
    unsigned row[65];

    if (alen > 64 || blen > 64)
        return cap + 1;
    for (size_t j = 0; j <= blen; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= alen; i++) {
        unsigned diag = row[0], best;
        row[0] = (unsigned)i;
        best = row[0];
        for (size_t j = 1; j <= blen; j++) {
            unsigned up = row[j];
            unsigned v = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < v)
                v = row[j] + 1;
            if (row[j - 1] + 1 < v)
                v = row[j - 1] + 1;
            row[j] = v;
            diag = up;
            if (v < best)
                best = v;
        }
        if (best > cap)
            return cap + 1;
    }
    return row[blen] > cap ? cap + 1 : row[blen];
}

static bool contains_nocase(struct lx_str s, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= s.len; i++)
        if (lx_str_eq_nocase(lx_str_make(s.ptr + i, n), lx_str_make(needle, n)))
            return true;
    return false;
}

bool lx__config_header_is_secret(struct lx_str name)
{
    return contains_nocase(name, "auth") || contains_nocase(name, "cookie") ||
           contains_nocase(name, "key") || contains_nocase(name, "token") ||
           contains_nocase(name, "secret") || contains_nocase(name, "password");
}

/* The preset's base URL, or its template with ${VAR} expanded (CLOUDFLARE_ACCOUNT_ID,
 * AWS_REGION); NULL when a variable is unset, the result has a '/' where an account id goes, or
 * the preset has neither. */
static const char *env_base_url(struct lx_arena *a, const struct lx__config_preset *pr)
{
    struct lx_buf b = LX_BUF_INIT(4096);
    struct lx_str missing;
    const char *why;
    char *s = NULL;

    if (pr->base_url != NULL)
        return pr->base_url;
    if (pr->base_template == NULL)
        return NULL;
    if (lx__config_interpolate(lx_str_cstr(pr->base_template), &b, &missing, &why) == LX_OK &&
        b.err == LX_OK && lx__config_template_ok(pr->base_template, b.ptr))
        s = lx_arena_strndup(a, b.ptr, b.len);
    lx_buf_release(&b);
    return s;
}

bool lx__config_template_ok(const char *tmpl, const char *url)
{
    /* the expanded part must be one path segment / host label: no '/', '?', '#', '@', space */
    size_t pre = (size_t)(strchr(tmpl, '$') ? strchr(tmpl, '$') - tmpl : 0);
    size_t tail = strlen(strchr(tmpl, '}') ? strchr(tmpl, '}') + 1 : "");
    size_t n = strlen(url);

    if (strchr(tmpl, '$') == NULL)
        return true;
    if (n < pre + tail + 1)
        return false;
    for (size_t i = pre; i < n - tail; i++)
        if (strchr("/?#@ \t%", url[i]) != NULL)
            return false;
    return true;
}

int lx__config_env_provider(struct lx_config *cfg, const struct lx__config_preset *pr,
                            struct lx_config_provider *p)
{
    const char *key = pr->env_key ? getenv(pr->env_key) : NULL;

    *p = (struct lx_config_provider){.name = pr->type,
                                     .type = pr->type,
                                     .proto = pr->proto,
                                     .timeouts = cfg->upstream.timeouts,
                                     .health_check = LX_CONFIG_HEALTH_CHECK_DEFAULTS};
    if (!pr->chat || (!pr->from_env && pr->env_key != NULL))
        return LX_ENOTFOUND; /* listed only, or needs the file (a resource URL, a key file) */
    if (pr->env_key != NULL && (key == NULL || *key == '\0'))
        return LX_ENOTFOUND;
    p->base_url = env_base_url(cfg->arena, pr);
    if (p->base_url == NULL)
        return LX_ENOTFOUND; /* cloudflare without CLOUDFLARE_ACCOUNT_ID (or OOM: rare) */
    if (key != NULL) {
        p->keys = lx_arena_alloc(cfg->arena, sizeof(*p->keys));
        if (p->keys == NULL ||
            (p->keys[0] = lx_arena_strndup(cfg->arena, key, strlen(key))) == NULL)
            return LX_ENOMEM;
        p->n_keys = 1;
    }
    p->enabled = true;
    return LX_OK;
}

int lx_config_from_env(struct lx_config **out, struct lx_config_errs *errs)
{
    struct lx_config *cfg = lx__config_new("<environment>");
    const char *mk = getenv("LLMUX_MASTER_KEY");
    size_t n = 0;

    *out = NULL;
    if (cfg == NULL)
        goto oom;
    if (mk != NULL && *mk != '\0') {
        if ((cfg->master_key = lx_arena_strndup(cfg->arena, mk, strlen(mk))) == NULL)
            goto oom;
        cfg->auth = LX_CONFIG_AUTH_MASTER_KEY;
    }
    cfg->providers = lx_arena_zalloc(cfg->arena, lx__config_n_presets * sizeof(*cfg->providers));
    if (cfg->providers == NULL)
        goto oom;
    for (size_t i = 0; i < lx__config_n_presets; i++) {
        const struct lx__config_preset *pr = &lx__config_presets[i];
        int rc;

        if (pr->env_key == NULL || !pr->from_env)
            continue; /* keyless local backends (ollama), key files (vertex) and resource
                       * URLs (azure): only when configured */
        rc = lx__config_env_provider(cfg, pr, &cfg->providers[n]);
        if (rc == LX_ENOMEM)
            goto oom;
        if (rc == LX_OK)
            n++;
        else if (getenv(pr->env_key) != NULL && *getenv(pr->env_key) != '\0')
            lx__config_msg(errs, LX_CONFIG_WARNING, cfg->source, 0, 0,
                           "%s is set but %s cannot be built (CLOUDFLARE_ACCOUNT_ID unset or "
                           "invalid?): provider %s not created",
                           pr->env_key, pr->base_template ? pr->base_template : "its URL",
                           pr->type);
    }
    cfg->n_providers = n;
    if (n == 0)
        lx__config_msg(errs, LX_CONFIG_WARNING, cfg->source, 0, 0,
                       "no provider: none of the usual *_API_KEY variables is set");
    if (lx__config_finish_routes(cfg, true) != LX_OK)
        goto oom;
    *out = cfg;
    return LX_OK;
oom:
    lx_config_unref(cfg);
    lx__config_msg(errs, LX_CONFIG_ERROR, "<environment>", 0, 0, "out of memory");
    return LX_ENOMEM;
}

void lx_config_slot_init(struct lx_config_slot *s, struct lx_config *cfg)
{
    pthread_mutex_init(&s->mu, NULL);
    s->cur = cfg;
}

struct lx_config *lx_config_slot_get(struct lx_config_slot *s)
{
    struct lx_config *cfg;

    pthread_mutex_lock(&s->mu);
    cfg = s->cur ? lx_config_ref(s->cur) : NULL;
    pthread_mutex_unlock(&s->mu);
    return cfg;
}

void lx_config_slot_swap(struct lx_config_slot *s, struct lx_config *next)
{
    struct lx_config *old;

    pthread_mutex_lock(&s->mu);
    old = s->cur;
    s->cur = next;
    pthread_mutex_unlock(&s->mu);
    lx_config_unref(old); /* outside the lock: may free a whole arena */
}

void lx_config_slot_release(struct lx_config_slot *s)
{
    lx_config_unref(s->cur);
    s->cur = NULL;
    pthread_mutex_destroy(&s->mu);
}
