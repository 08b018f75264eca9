/* health.c - the process's table of provider health, fed by the active checks of probe.c and
 * read by routing (lx__gw_provider_healthy), /health and route-check (probe.h).
 *
 * Ownership: struct lx_gateway owns the one table (gateway.c makes and frees it). Entries are
 * keyed by provider name and survive reloads; probe.c's runner prunes those whose provider is
 * gone or has checks off. Any thread: one mutex around a small array (a handful of providers),
 * and an atomic count of unhealthy entries so the routing question costs no lock while every
 * provider is healthy. */
#include "gateway/probe.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "gateway/gateway_int.h"

struct entry {
    char *name;
    struct lx_gw_health_info info;
};

struct lx_gw_health {
    pthread_mutex_t mu;
    struct entry *e;
    size_t n, cap;
    atomic_uint n_unhealthy;
};

struct lx_gw_health *lx__gw_health_new(void)
{
    struct lx_gw_health *h = lx_xcalloc(1, sizeof(*h));

    pthread_mutex_init(&h->mu, NULL);
    atomic_init(&h->n_unhealthy, 0);
    return h;
}

void lx__gw_health_free(struct lx_gw_health *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->n; i++)
        free(h->e[i].name);
    free(h->e);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/* Under h->mu. */
static struct entry *find(const struct lx_gw_health *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->e[i].name, name) == 0)
            return &h->e[i];
    return NULL;
}

bool lx__gw_provider_healthy(const struct lx_gateway *gw, const char *provider_name)
{
    struct lx_gw_health *h = gw != NULL ? gw->health : NULL;
    const struct entry *e;
    bool ok;

    if (h == NULL || provider_name == NULL || atomic_load(&h->n_unhealthy) == 0)
        return true;
    pthread_mutex_lock(&h->mu);
    e = find(h, provider_name);
    ok = e == NULL || e->info.healthy;
    pthread_mutex_unlock(&h->mu);
    return ok;
}

bool lx__gw_provider_health(const struct lx_gateway *gw, const char *provider_name,
                            struct lx_gw_health_info *out)
{
    struct lx_gw_health *h = gw != NULL ? gw->health : NULL;
    const struct entry *e;

    if (h == NULL || provider_name == NULL)
        return false;
    pthread_mutex_lock(&h->mu);
    e = find(h, provider_name);
    if (e != NULL)
        *out = e->info;
    pthread_mutex_unlock(&h->mu);
    return e != NULL;
}

int lx__gw_health_write(const struct lx_gateway *gw, const char *provider_name,
                        struct lx_json_writer *w)
{
    struct lx_gw_health_info in;

    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("checked"));
    if (!lx__gw_provider_health(gw, provider_name, &in)) {
        lx_json_write_bool(w, false);
        return lx_json_write_object_end(w);
    }
    lx_json_write_bool(w, true);
    lx_json_write_key(w, LX_STR("healthy"));
    lx_json_write_bool(w, in.healthy);
    lx_json_write_key(w, LX_STR("consecutive_failures"));
    lx_json_write_uint(w, in.failures);
    lx_json_write_key(w, LX_STR("failures_threshold"));
    lx_json_write_uint(w, in.threshold);
    lx_json_write_key(w, LX_STR("checks"));
    lx_json_write_uint(w, in.checks);
    lx_json_write_key(w, LX_STR("last_check_ms"));
    lx_json_write_uint(w, in.last_check_ms);
    lx_json_write_key(w, LX_STR("last_ok_ms"));
    lx_json_write_uint(w, in.last_ok_ms);
    lx_json_write_key(w, LX_STR("since_ms"));
    lx_json_write_uint(w, in.since_ms);
    lx_json_write_key(w, LX_STR("last_status"));
    lx_json_write_int(w, in.last_status);
    lx_json_write_key(w, LX_STR("last_error"));
    lx_json_write_str(w, lx_str_cstr(in.last_error));
    return lx_json_write_object_end(w);
}

/* Under h->mu: the entry for name, made healthy and unchecked if absent. */
static struct entry *get(struct lx_gw_health *h, const char *name, uint64_t now_ms)
{
    struct entry *e = find(h, name);

    if (e != NULL)
        return e;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 8;
        h->e = lx_xrealloc(h->e, h->cap * sizeof(*h->e));
    }
    e = &h->e[h->n++];
    memset(e, 0, sizeof(*e));
    e->name = lx_xstrndup(name, strlen(name));
    e->info.healthy = true;
    e->info.since_ms = now_ms;
    return e;
}

static void log_change(const char *provider, const struct lx_gw_health_info *in)
{
    struct lx_logline l;

    if (!lx_log_begin(&l, in->healthy ? LX_LOG_INFO : LX_LOG_WARN, "health"))
        return;
    lx_log_cstr(&l, "event", in->healthy ? "healthy" : "unhealthy");
    lx_log_cstr(&l, "provider", provider);
    lx_log_uint(&l, "consecutive_failures", in->failures);
    if (in->last_status)
        lx_log_int(&l, "status", in->last_status);
    if (in->last_error[0])
        lx_log_cstr(&l, "error", in->last_error);
    lx_log_end(&l);
}

bool lx__gw_health_record(struct lx_gw_health *h, const char *provider, unsigned threshold,
                          enum lx_gw_check_outcome outcome, int status, const char *why,
                          uint64_t now_ms)
{
    struct lx_gw_health_info copy;
    struct entry *e;
    bool was, changed;

    if (outcome == LX_GW_CHECK_SKIPPED)
        return false;
    pthread_mutex_lock(&h->mu);
    e = get(h, provider, now_ms);
    was = e->info.healthy;
    e->info.threshold = threshold ? threshold : 1;
    e->info.checks++;
    e->info.last_check_ms = now_ms;
    e->info.last_status = status;
    snprintf(e->info.last_error, sizeof(e->info.last_error), "%s", why ? why : "");
    if (outcome == LX_GW_CHECK_OK) {
        e->info.failures = 0;
        e->info.last_ok_ms = now_ms;
        e->info.last_error[0] = '\0';
        e->info.healthy = true;
    } else {
        e->info.failures++;
        if (e->info.failures >= e->info.threshold)
            e->info.healthy = false;
    }
    changed = was != e->info.healthy;
    if (changed) {
        e->info.since_ms = now_ms;
        if (was)
            atomic_fetch_add(&h->n_unhealthy, 1);
        else
            atomic_fetch_sub(&h->n_unhealthy, 1);
    }
    copy = e->info;
    pthread_mutex_unlock(&h->mu);
    if (changed)
        log_change(provider, &copy);
    return changed;
}

static bool checked_in(const struct lx_config *cfg, const char *name)
{
    const struct lx_config_provider *p = lx_config_provider_find(cfg, lx_str_cstr(name));

    return p != NULL && p->enabled && p->health_check.enabled;
}

void lx__gw_health_prune(struct lx_gw_health *h, const struct lx_config *cfg)
{
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->n;) {
        struct entry *e = &h->e[i];

        if (checked_in(cfg, e->name)) {
            i++;
            continue;
        }
        if (!e->info.healthy) {
            struct lx_logline l;

            atomic_fetch_sub(&h->n_unhealthy, 1);
            if (lx_log_begin(&l, LX_LOG_INFO, "health")) {
                lx_log_cstr(&l, "event", "forgotten");
                lx_log_cstr(&l, "provider", e->name);
                lx_log_cstr(&l, "reason", "checks off or provider removed");
                lx_log_end(&l);
            }
        }
        free(e->name);
        h->e[i] = h->e[--h->n];
    }
    pthread_mutex_unlock(&h->mu);
}
