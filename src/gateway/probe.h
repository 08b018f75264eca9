/* probe.h - probes of disabled keys and active health checks per provider (issue 5).
 *
 * Two parts, documented in docs/internals/probe.md:
 *
 * - The health table (health.c): one per process (struct lx_gateway owns it), keyed by provider
 *   name so it survives a reload. Every function on it takes its mutex: any thread may call
 *   them. lx__gw_provider_healthy() is what routing asks; lx__gw_health_write() prints it for
 *   /health and route-check.
 *
 * - The runner (probe.c): one uv timer on one worker loop (worker 0). Every tick it takes the
 *   current configuration snapshot, asks each provider's key pool which disabled keys are due
 *   for a probe (lx_pool_probe_due: only when key_pool.probe is enabled), and which providers
 *   with health_check.enabled are due for a check, and sends each a cheap GET of the protocol's
 *   model list with the key in the provider's own auth header. A probe's answer goes to
 *   lx_pool_probe_result (a 2xx or a rate limit enables the key again); a check's answer to the
 *   health table. Everything it starts runs on that loop; nothing blocks it.
 *
 * Keys are never logged: probes name the key by its label ("openai#2(...x9Qa)"). */
#ifndef LX_GATEWAY_PROBE_H
#define LX_GATEWAY_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "config/config.h"
#include "core/str.h"
#include "upstream/upstream.h"
#include "json/writer.h"

struct lx_gateway;
struct lx_gateway_worker;
struct lx_gw_health;
struct lx_gw_probe;

/* ---- the health table (health.c), any thread ---------------------------------------------- */

#define LX_GW_HEALTH_ERR_MAX 96

/* One provider's health as the checks saw it. */
struct lx_gw_health_info {
    bool healthy;                          /* false once `failures` checks in a row failed */
    unsigned failures;                     /* consecutive failed checks (0 after a success) */
    unsigned threshold;                    /* the configured `failures` */
    uint64_t checks;                       /* checks done since the entry was made */
    uint64_t last_check_ms;                /* wall clock of the last check's end; 0 = never ran */
    uint64_t last_ok_ms;                   /* of the last success; 0 = none */
    uint64_t since_ms;                     /* when `healthy` last changed (or the entry was made) */
    int last_status;                       /* HTTP status of the last check; 0 = no answer */
    char last_error[LX_GW_HEALTH_ERR_MAX]; /* "" after a success: "timed out", "HTTP 503" ... */
};

struct lx_gw_health *lx__gw_health_new(void);    /* never fails (aborts on out of memory) */
void lx__gw_health_free(struct lx_gw_health *h); /* NULL-safe */

/* false only when the provider has active checks configured, at least one ran, and the last
 * `failures` in a row failed. true when checks are off, never ran, or the name is unknown. */
bool lx__gw_provider_healthy(const struct lx_gateway *gw, const char *provider_name);
/* The provider's entry, copied into *out: false (out untouched) when it has no checks. */
bool lx__gw_provider_health(const struct lx_gateway *gw, const char *provider_name,
                            struct lx_gw_health_info *out);
/* {"checked":true,"healthy":false,"consecutive_failures":3,"failures_threshold":3,
 *  "checks":12,"last_check_ms":...,"last_ok_ms":...,"since_ms":...,"last_status":503,
 *  "last_error":"HTTP 503"} for that provider, or {"checked":false} when it has no active
 * checks. One JSON value: the caller writes the key before it. */
int lx__gw_health_write(const struct lx_gateway *gw, const char *provider_name,
                        struct lx_json_writer *w);

/* What one check concluded; lx__gw_health_record applies it (the rules are in probe.md). */
enum lx_gw_check_outcome {
    LX_GW_CHECK_OK = 0,  /* an answer below 500 (401/403/429 too: a key's problem) */
    LX_GW_CHECK_FAILED,  /* a transport error, a timeout, a 5xx */
    LX_GW_CHECK_SKIPPED, /* nothing was sent (no usable key): changes nothing */
};
/* Records a check's end for provider (made if absent) with the configured threshold; logs a
 * "health" event when `healthy` changes. Returns true when it changed. status 0 = no answer;
 * why (may be NULL) is a short reason without secrets. */
bool lx__gw_health_record(struct lx_gw_health *h, const char *provider, unsigned threshold,
                          enum lx_gw_check_outcome outcome, int status, const char *why,
                          uint64_t now_ms);
/* Drops the entries of providers that are gone from cfg or have checks off there (routing
 * then reads them as healthy again); logs a "health" event "forgotten" for each unhealthy one
 * dropped. */
void lx__gw_health_prune(struct lx_gw_health *h, const struct lx_config *cfg);

/* ---- the runner (probe.c), the loop thread of one worker ------------------------------------- */

#define LX_GW_PROBE_TICK_MS 500u          /* how often the runner looks at what is due */
#define LX_GW_PROBE_TIMEOUT_CAP_MS 10000u /* a probe's connect and first-byte timeouts, at most */

/* Starts the runner on w's loop (w->loop, w->up). Never fails. The timer never keeps the loop
 * alive by itself. */
struct lx_gw_probe *lx__gw_probe_start(struct lx_gateway *gw, uv_loop_t *loop,
                                       struct lx_upstream_ctx *up);
/* Stops the timer and cancels what is in flight; the runner frees itself once the last
 * canceled transfer has called back (the loop must run after this call, before the upstream
 * context goes: call it before lx_upstream_ctx_free). NULL-safe. */
void lx__gw_probe_stop(struct lx_gw_probe *pr);

/* The cheap request of provider p with key (empty: none): method GET, URL and headers in a,
 * key-bearing header values wiped when a is freed. LX_EINVAL when a key is given and the
 * protocol has no key probe (Bedrock's SigV4, Vertex's OAuth); LX_ENOMEM. path (NULL: the
 * protocol's list endpoint) replaces the endpoint, appended to base_url. Pure but for the arena. */
int lx__gw_probe_request(const struct lx_config_provider *p, struct lx_str key, const char *path,
                         struct lx_arena *a, struct lx_upstream_req *out);

#endif /* LX_GATEWAY_PROBE_H */
