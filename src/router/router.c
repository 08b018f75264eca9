/* router.c - model name -> ordered upstream candidates (router.h). Pure and allocation-free:
 * everything it returns points into the configuration snapshot or the caller's request.
 * Runs on whichever thread calls it (the loop thread, per request). */
#include "router/router.h"

#include <stdio.h>
#include <string.h>

#include "core/common.h"

#define MSG_MODEL_MAX 64 /* bytes of a client-sent name quoted in a message */

static void fail(struct lx_route_result *out, enum lx_route_status st)
{
    static const struct {
        int rc, http;
        const char *type, *code, *param;
    } tab[] = {
        [LX_ROUTE_OK] = {LX_OK, 200, NULL, NULL, NULL},
        [LX_ROUTE_NO_MODEL] = {LX_EINVAL, 400, "invalid_request_error", "missing_model", "model"},
        [LX_ROUTE_CONFLICT] = {LX_EINVAL, 400, "invalid_request_error", "conflicting_provider",
                               "provider"},
        [LX_ROUTE_UNKNOWN_PROVIDER] = {LX_EINVAL, 400, "invalid_request_error",
                                       "provider_not_found", "provider"},
        [LX_ROUTE_NOT_FOUND] = {LX_ENOTFOUND, 404, "invalid_request_error", "model_not_found",
                                "model"},
        [LX_ROUTE_UNAVAILABLE] = {LX_ENOTFOUND, 503, "service_unavailable_error",
                                  "provider_unavailable", "model"},
    };
    out->status = st;
    out->err.rc = tab[st].rc;
    out->err.http_status = tab[st].http;
    out->err.retryable = false;
    out->type = tab[st].type;
    out->code = tab[st].code;
    out->param = tab[st].param;
}

static int clip(struct lx_str s) { return (int)(s.len < MSG_MODEL_MAX ? s.len : MSG_MODEL_MAX); }

static bool given(struct lx_str s) { return s.ptr != NULL && s.len > 0; }

/* Exact name first; then ASCII case-insensitive, because clients write "OpenAI" in headers. */
static const struct lx_config_provider *find_provider(const struct lx_config *cfg,
                                                      struct lx_str name)
{
    const struct lx_config_provider *p = lx_config_provider_find(cfg, name);

    for (size_t i = 0; p == NULL && i < cfg->n_providers; i++)
        if (lx_str_eq_nocase(name, lx_str_cstr(cfg->providers[i].name)))
            p = &cfg->providers[i];
    return p;
}

static void add(const struct lx_config *cfg, struct lx_route_result *out,
                const struct lx_config_provider *p, struct lx_str model, unsigned pos)
{
    struct lx_route_candidate c = {
        .provider = p, .provider_index = (size_t)(p - cfg->providers), .model = model, .pos = pos};

    if (p->enabled || (out->byok && p->keyless))
        out->cand[out->n_cand++] = c;
    else
        out->skipped[out->n_skipped++] = c;
}

/* After a rule added its candidates: OK if one is enabled, else 503 naming the providers. */
static int finish(struct lx_route_result *out)
{
    if (out->n_cand > 0) {
        fail(out, LX_ROUTE_OK);
        return LX_OK;
    }
    fail(out, LX_ROUTE_UNAVAILABLE);
    if (out->n_skipped == 1)
        snprintf(out->err.msg, sizeof(out->err.msg),
                 "model '%.*s': provider '%s' is disabled (no key, or enabled: false)",
                 clip(out->requested), out->requested.ptr, out->skipped[0].provider->name);
    else
        snprintf(out->err.msg, sizeof(out->err.msg),
                 "model '%.*s': all %zu providers are disabled (no key, or enabled: false)",
                 clip(out->requested), out->requested.ptr, out->n_skipped);
    return out->err.rc;
}

static int route_explicit(const struct lx_config *cfg, const struct lx_route_req *req,
                          struct lx_route_result *out)
{
    struct lx_str name = given(req->header_provider) ? req->header_provider : req->provider;
    const struct lx_config_provider *p;

    out->rule = LX_ROUTE_RULE_EXPLICIT;
    if (given(req->header_provider) && given(req->provider) &&
        !lx_str_eq_nocase(req->header_provider, req->provider)) {
        fail(out, LX_ROUTE_CONFLICT);
        snprintf(out->err.msg, sizeof(out->err.msg),
                 "the body's provider '%.*s' and the X-Provider header '%.*s' disagree",
                 clip(req->provider), req->provider.ptr, clip(req->header_provider),
                 req->header_provider.ptr);
        return out->err.rc;
    }
    p = find_provider(cfg, name);
    if (p == NULL) {
        fail(out, LX_ROUTE_UNKNOWN_PROVIDER);
        snprintf(out->err.msg, sizeof(out->err.msg),
                 "provider '%.*s' is not configured (see GET /v1/models)", clip(name), name.ptr);
        return out->err.rc;
    }
    add(cfg, out, p, req->model, 0);
    return finish(out);
}

static int route_alias(const struct lx_config *cfg, const struct lx_config_model *m,
                       struct lx_route_result *out)
{
    out->rule = LX_ROUTE_RULE_ALIAS;
    out->alias = m;
    for (size_t i = 0; i < m->n_targets; i++) {
        const struct lx_config_target *t = &m->targets[i];

        if (i == LX_ROUTE_MAX_CANDIDATES) {
            out->truncated = true;
            break;
        }
        add(cfg, out, &cfg->providers[t->provider_index], lx_str_cstr(t->model), (unsigned)i);
    }
    return finish(out);
}

/* No enabled rule matched: a rule whose provider is configured but disabled gives a 503 that
 * names it, which says more than "not found". */
static const struct lx_config_route *match_disabled(const struct lx_config *cfg,
                                                    struct lx_str model)
{
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const struct lx_config_route *r = &cfg->routes[i];
        if (r->provider_index >= 0 && lx_config_glob_match(lx_str_cstr(r->match), model))
            return r;
    }
    return NULL;
}

int lx_route(const struct lx_config *cfg, const struct lx_route_req *req,
             struct lx_route_result *out)
{
    const struct lx_config_model *alias;
    const struct lx_config_route *r;
    long slash;

    out->status = LX_ROUTE_OK;
    out->rule = LX_ROUTE_RULE_NONE;
    out->requested = req->model.ptr != NULL ? req->model : LX_STR("");
    out->alias = NULL;
    out->route = NULL;
    out->n_cand = out->n_skipped = 0;
    out->truncated = false;
    out->byok = req->byok;
    out->err.msg[0] = '\0';

    if (!given(req->model)) {
        fail(out, LX_ROUTE_NO_MODEL);
        snprintf(out->err.msg, sizeof(out->err.msg), "you must provide a model parameter");
        return out->err.rc;
    }
    if (given(req->provider) || given(req->header_provider))
        return route_explicit(cfg, req, out);

    alias = lx_config_model_find(cfg, req->model);
    if (alias != NULL)
        return route_alias(cfg, alias, out);

    slash = lx_str_find_char(req->model, '/');
    if (slash > 0 && (size_t)slash + 1 < req->model.len) {
        const struct lx_config_provider *p =
            lx_config_provider_find(cfg, lx_str_sub(req->model, 0, (size_t)slash));
        if (p != NULL) {
            out->rule = LX_ROUTE_RULE_PREFIX;
            add(cfg, out, p,
                lx_str_sub(req->model, (size_t)slash + 1, req->model.len - (size_t)slash - 1), 0);
            return finish(out);
        }
    }

    r = lx_config_route_match(cfg, req->model);
    if (r == NULL)
        r = match_disabled(cfg, req->model);
    if (r != NULL) {
        out->rule = LX_ROUTE_RULE_PATTERN;
        out->route = r;
        add(cfg, out, &cfg->providers[r->provider_index], req->model, 0);
        return finish(out);
    }

    fail(out, LX_ROUTE_NOT_FOUND);
    snprintf(out->err.msg, sizeof(out->err.msg),
             "The model '%.*s' does not exist. Use an alias from GET /v1/models, "
             "'provider/model' with a configured provider, or a name a route matches",
             clip(req->model), req->model.ptr);
    return out->err.rc;
}

const char *lx_route_rule_name(enum lx_route_rule rule)
{
    static const char *const names[] = {
        [LX_ROUTE_RULE_NONE] = "none",       [LX_ROUTE_RULE_EXPLICIT] = "explicit",
        [LX_ROUTE_RULE_ALIAS] = "alias",     [LX_ROUTE_RULE_PREFIX] = "prefix",
        [LX_ROUTE_RULE_PATTERN] = "pattern",
    };
    return (unsigned)rule < LX_ARRAY_SIZE(names) ? names[rule] : "none";
}

static void write_cand(struct lx_json_writer *w, const struct lx_route_candidate *c)
{
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("provider"));
    lx_json_write_str(w, lx_str_cstr(c->provider->name));
    lx_json_write_key(w, LX_STR("model"));
    lx_json_write_str(w, c->model);
    lx_json_write_key(w, LX_STR("enabled"));
    lx_json_write_bool(w, c->provider->enabled);
    lx_json_write_object_end(w);
}

void lx_route_explain_head(const struct lx_route_result *res,
                           const struct lx_route_candidate *first, bool available,
                           uint64_t now_ms, struct lx_json_writer *w)
{
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("provider"));
    if (first != NULL)
        lx_json_write_str(w, lx_str_cstr(first->provider->name));
    else
        lx_json_write_null(w);
    lx_json_write_key(w, LX_STR("model"));
    lx_json_write_str(w, res->requested);
    lx_json_write_key(w, LX_STR("available"));
    lx_json_write_bool(w, available);
    if (now_ms != 0) {
        lx_json_write_key(w, LX_STR("timestamp"));
        lx_json_write_uint(w, now_ms);
    }
    lx_json_write_key(w, LX_STR("rule"));
    lx_json_write_str(w, lx_str_cstr(lx_route_rule_name(res->rule)));
    if (res->alias != NULL) {
        lx_json_write_key(w, LX_STR("alias"));
        lx_json_write_str(w, lx_str_cstr(res->alias->name));
    }
    if (res->route != NULL) {
        lx_json_write_key(w, LX_STR("match"));
        lx_json_write_str(w, lx_str_cstr(res->route->match));
    }
    if (res->truncated) {
        lx_json_write_key(w, LX_STR("truncated"));
        lx_json_write_bool(w, true);
    }
}

int lx_route_explain(const struct lx_route_result *res, uint64_t now_ms, struct lx_json_writer *w)
{
    const struct lx_route_candidate *first = res->n_cand > 0      ? &res->cand[0]
                                             : res->n_skipped > 0 ? &res->skipped[0]
                                                                  : NULL;
    size_t i = 0, j = 0;

    lx_route_explain_head(res, first, res->status == LX_ROUTE_OK, now_ms, w);
    /* Both lists are in target order: merge them so the client sees the alias as written. */
    lx_json_write_key(w, LX_STR("candidates"));
    lx_json_write_array_begin(w);
    while (i < res->n_cand || j < res->n_skipped) {
        if (j == res->n_skipped || (i < res->n_cand && res->cand[i].pos < res->skipped[j].pos))
            write_cand(w, &res->cand[i++]);
        else
            write_cand(w, &res->skipped[j++]);
    }
    lx_json_write_array_end(w);
    if (res->status != LX_ROUTE_OK) {
        lx_json_write_key(w, LX_STR("error"));
        lx_json_write_object_begin(w);
        lx_json_write_key(w, LX_STR("message"));
        lx_json_write_str(w, lx_str_cstr(res->err.msg));
        lx_json_write_key(w, LX_STR("type"));
        lx_json_write_str(w, lx_str_cstr(res->type));
        lx_json_write_key(w, LX_STR("code"));
        lx_json_write_str(w, lx_str_cstr(res->code));
        lx_json_write_key(w, LX_STR("param"));
        if (res->param != NULL)
            lx_json_write_str(w, lx_str_cstr(res->param));
        else
            lx_json_write_null(w);
        lx_json_write_object_end(w);
    }
    return lx_json_write_object_end(w);
}

static bool alias_usable(const struct lx_config *cfg, const struct lx_config_model *m)
{
    for (size_t i = 0; i < m->n_targets; i++)
        if (cfg->providers[m->targets[i].provider_index].enabled)
            return true;
    return false;
}

/* Was target (mi, ti) already listed by an earlier target with the same provider and model? */
static bool seen_before(const struct lx_config *cfg, size_t mi, size_t ti)
{
    const struct lx_config_target *t = &cfg->models[mi].targets[ti];

    for (size_t m = 0; m <= mi; m++) {
        size_t end = m == mi ? ti : cfg->models[m].n_targets;
        for (size_t k = 0; k < end; k++) {
            const struct lx_config_target *u = &cfg->models[m].targets[k];
            if (u->provider_index == t->provider_index && strcmp(u->model, t->model) == 0)
                return true;
        }
    }
    return false;
}

static void write_model(struct lx_json_writer *w, struct lx_str id, struct lx_str owner,
                        struct lx_str id_tail, uint64_t created_s)
{
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("id"));
    if (id_tail.ptr == NULL) {
        lx_json_write_str(w, id);
    } else {
        /* joined on the stack: the writer escapes one string at a time */
        char tmp[256];
        size_t n = id.len + 1 + id_tail.len;
        if (n <= sizeof(tmp)) {
            memcpy(tmp, id.ptr, id.len);
            tmp[id.len] = '/';
            memcpy(tmp + id.len + 1, id_tail.ptr, id_tail.len);
            lx_json_write_str(w, lx_str_make(tmp, n));
        } else {
            lx_json_write_str(w, id_tail); /* absurdly long names: the model part alone */
        }
    }
    lx_json_write_key(w, LX_STR("object"));
    lx_json_write_str(w, LX_STR("model"));
    lx_json_write_key(w, LX_STR("created"));
    lx_json_write_uint(w, created_s);
    lx_json_write_key(w, LX_STR("owned_by"));
    lx_json_write_str(w, owner);
    lx_json_write_object_end(w);
}

void lx_route_model_ids(const struct lx_config *cfg,
                        void (*fn)(void *ctx, struct lx_str id, const char *owner), void *ctx)
{
    for (size_t i = 0; i < cfg->n_models; i++)
        if (alias_usable(cfg, &cfg->models[i]))
            fn(ctx, lx_str_cstr(cfg->models[i].name), NULL);
    for (size_t i = 0; i < cfg->n_models; i++) {
        for (size_t k = 0; k < cfg->models[i].n_targets; k++) {
            const struct lx_config_target *t = &cfg->models[i].targets[k];
            const struct lx_config_provider *p = &cfg->providers[t->provider_index];
            size_t pl = strlen(p->name), ml = strlen(t->model);
            char tmp[256];

            if (!p->enabled || seen_before(cfg, i, k) || pl + 1 + ml > sizeof(tmp))
                continue;
            memcpy(tmp, p->name, pl);
            tmp[pl] = '/';
            memcpy(tmp + pl + 1, t->model, ml);
            fn(ctx, lx_str_make(tmp, pl + 1 + ml), p->name);
        }
    }
}

int lx_route_models_json(const struct lx_config *cfg, uint64_t created_s, struct lx_json_writer *w)
{
    lx_json_write_object_begin(w);
    lx_json_write_key(w, LX_STR("object"));
    lx_json_write_str(w, LX_STR("list"));
    lx_json_write_key(w, LX_STR("data"));
    lx_json_write_array_begin(w);
    for (size_t i = 0; i < cfg->n_models; i++)
        if (alias_usable(cfg, &cfg->models[i]))
            write_model(w, lx_str_cstr(cfg->models[i].name), LX_STR("llmux"), LX_STR_NULL,
                        created_s);
    for (size_t i = 0; i < cfg->n_models; i++) {
        for (size_t k = 0; k < cfg->models[i].n_targets; k++) {
            const struct lx_config_target *t = &cfg->models[i].targets[k];
            const struct lx_config_provider *p = &cfg->providers[t->provider_index];
            if (!p->enabled || seen_before(cfg, i, k))
                continue;
            write_model(w, lx_str_cstr(p->name), lx_str_cstr(p->name), lx_str_cstr(t->model),
                        created_s);
        }
    }
    lx_json_write_array_end(w);
    return lx_json_write_object_end(w);
}
