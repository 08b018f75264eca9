/* router.h - chooses the upstream provider(s) and upstream model for one request, from the
 * configuration snapshot and what the client sent (model, body "provider", X-Provider header).
 * Pure: no I/O, no globals, no allocation; callable from any thread that holds a reference on
 * the snapshot. A struct lx_route_result borrows from the snapshot (provider pointers, alias
 * model names) and from the caller's request bytes (the model when used as is): it is valid as
 * long as both are. Nothing here ever sees a key. lx_route() gives the targets in the order
 * written; router/strategy.h orders them per request (strategy, breakers, key pools). */
#ifndef LX_ROUTER_H
#define LX_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/err.h"
#include "core/str.h"
#include "json/writer.h"

#define LX_ROUTE_MAX_CANDIDATES 8 /* alias targets past this are ignored (out->truncated) */

/* Which rule decided, in the order they are tried. */
enum lx_route_rule {
    LX_ROUTE_RULE_NONE = 0, /* nothing matched (or the request was invalid) */
    LX_ROUTE_RULE_EXPLICIT, /* body "provider" or X-Provider: model used as is */
    LX_ROUTE_RULE_ALIAS,    /* a `models:` entry: its targets in order */
    LX_ROUTE_RULE_PREFIX,   /* "provider/model", split at the first '/' */
    LX_ROUTE_RULE_PATTERN,  /* the first `routes:` glob that matches */
};

enum lx_route_status {
    LX_ROUTE_OK = 0,
    LX_ROUTE_NO_MODEL,         /* 400 missing_model: model empty or absent */
    LX_ROUTE_CONFLICT,         /* 400 conflicting_provider: body and header disagree */
    LX_ROUTE_UNKNOWN_PROVIDER, /* 400 provider_not_found: explicit provider not configured */
    LX_ROUTE_NOT_FOUND,        /* 404 model_not_found: no rule gives a provider */
    LX_ROUTE_UNAVAILABLE,      /* 503 provider_unavailable: a rule matched, all its providers
                                * are disabled (skipped[] says which) */
};

struct lx_route_req {
    struct lx_str model;           /* body "model"; decoded string */
    struct lx_str provider;        /* body "provider"; LX_STR_NULL or empty = not given */
    struct lx_str header_provider; /* X-Provider value; LX_STR_NULL or empty = not given */
    bool byok;                     /* the client brings its own key: a provider disabled only
                                    * for want of a key (keyless) is a candidate too */
};

struct lx_route_candidate {
    const struct lx_config_provider *provider; /* into cfg->providers */
    size_t provider_index;
    struct lx_str model; /* upstream model: into the request's model or the snapshot */
    unsigned pos;        /* position among the rule's targets (0 unless an alias) */
};

struct lx_route_result {
    enum lx_route_status status;
    enum lx_route_rule rule;
    struct lx_str requested;                                 /* the model as the client sent it */
    const struct lx_config_model *alias;                     /* rule ALIAS */
    const struct lx_config_route *route;                     /* rule PATTERN */
    struct lx_route_candidate cand[LX_ROUTE_MAX_CANDIDATES]; /* enabled: try in this order */
    size_t n_cand;
    struct lx_route_candidate skipped[LX_ROUTE_MAX_CANDIDATES]; /* disabled: never tried */
    size_t n_skipped;
    bool truncated; /* the alias had more than LX_ROUTE_MAX_CANDIDATES targets */
    bool byok;      /* copied from the request: see lx_route_req.byok */
    /* When status != OK: err.http_status, err.rc (LX_EINVAL, LX_ENOTFOUND), err.msg (client
     * input such as the model name may appear, truncated; never a key), and the OpenAI error
     * fields as static strings. */
    struct lx_err err;
    const char *type;  /* "invalid_request_error" or "service_unavailable_error" */
    const char *code;  /* "model_not_found" ... */
    const char *param; /* "model", "provider" or NULL */
};

/* Decides the route for req (rules in enum lx_route_rule order). Fills all of *out.
 * Returns LX_OK (out->n_cand >= 1), LX_EINVAL (400: bad or conflicting input) or
 * LX_ENOTFOUND (404 no such model, or 503 every provider for it is disabled: see
 * out->err.http_status and out->status). No allocation. */
int lx_route(const struct lx_config *cfg, const struct lx_route_req *req,
             struct lx_route_result *out);

const char *lx_route_rule_name(enum lx_route_rule rule); /* "explicit", "alias", ...; "none" */

/* Writes the decision as one JSON object for GET /v1/route-check (S2 fields first):
 * {"provider":..|null,"model":<requested>,"available":bool,["timestamp":ms,]"rule":..,
 *  ["alias":..,]["match":..,]"candidates":[{"provider","model","enabled"}...],
 *  ["error":{"message","type","code","param"}]}. now_ms 0 leaves out "timestamp".
 * Returns the writer's sticky error. */
int lx_route_explain(const struct lx_route_result *res, uint64_t now_ms, struct lx_json_writer *w);

/* The opening of a route-check answer, shared by lx_route_explain and strategy.c's plan
 * explanation: "{" then provider (first's, or null), model, available, timestamp (when
 * now_ms != 0), rule, alias, match, truncated. The caller goes on and closes the object. */
void lx_route_explain_head(const struct lx_route_result *res,
                           const struct lx_route_candidate *first, bool available,
                           uint64_t now_ms, struct lx_json_writer *w);

/* Writes the OpenAI model list for GET /v1/models: {"object":"list","data":[...]} with every
 * alias that has an enabled target (owned_by "llmux"), then every distinct "provider/model"
 * named by an alias target of an enabled provider (owned_by the provider name). Providers' own
 * catalogues are not known to the configuration, so they are not listed. created_s is the
 * "created" of every entry. Returns the writer's sticky error. */
int lx_route_models_json(const struct lx_config *cfg, uint64_t created_s, struct lx_json_writer *w);

/* The same ids as lx_route_models_json, in the same order, one call each: an alias (owner
 * NULL) or "provider/model" (owner = the provider's name). id is valid during the call only. */
void lx_route_model_ids(const struct lx_config *cfg,
                        void (*fn)(void *ctx, struct lx_str id, const char *owner), void *ctx);

#endif /* LX_ROUTER_H */
