/* load.c - YAML text -> validated struct lx_config. libfyaml builds a document tree (anchors
 * resolved); this file walks it with a schema written as code, interpolates every scalar
 * value, and reports every problem as FILE:LINE:COL before giving up, so one run of
 * `llmux check-config` shows them all. Secrets are never quoted in a message: values are
 * quoted as written in the file (before interpolation), and secret fields never. The tree and
 * scratch buffers are freed before returning; the snapshot owns copies. Loading thread only. */
#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libfyaml.h>

#include "config/config_int.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/common.h"
#include "core/err.h"

struct loc {
    unsigned line, col; /* 1-based; 0 = unknown */
};

struct ld {
    const char *file;
    struct lx_config *cfg;
    struct lx_arena *a;
    struct lx_config_errs *errs;
    bool oom;
    char raw[80]; /* the file's text of the last scalar read, for messages (never expanded) */
};

static const struct loc nowhere = {0, 0}, first_line = {1, 1};

enum { V_ERR = -1, V_ABSENT = 0, V_OK = 1, V_UNSET = 2 };
enum { F_SECRET = 1u << 0, F_OPTIONAL_ENV = 1u << 1, F_REQUIRED = 1u << 2, F_EMPTY_OK = 1u << 3 };

struct field {
    const char *name;
    struct fy_node *val; /* NULL when absent or `key:` with nothing */
    struct loc key_at, at;
    bool present;
};

static void msg_at(struct ld *ld, enum lx_config_severity sev, struct loc at, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

static void msg_at(struct ld *ld, enum lx_config_severity sev, struct loc at, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    lx__config_vmsg(ld->errs, sev, ld->file, at.line, at.col, fmt, ap);
    va_end(ap);
}

#define ERR(ld, at, ...) msg_at((ld), LX_CONFIG_ERROR, (at), __VA_ARGS__)
#define WARN(ld, at, ...) msg_at((ld), LX_CONFIG_WARNING, (at), __VA_ARGS__)

static char *ldup(struct ld *ld, const char *s, size_t n)
{
    char *p = lx_arena_strndup(ld->a, s, n);

    if (p == NULL)
        ld->oom = true;
    return p;
}

static void *lalloc(struct ld *ld, size_t count, size_t size)
{
    void *p = NULL;

    if (count == 0)
        count = 1; /* a valid pointer even for an empty list */
    if (count <= SIZE_MAX / size)
        p = lx_arena_zalloc(ld->a, count * size);
    if (p == NULL)
        ld->oom = true;
    return p;
}

static struct loc node_loc(struct fy_node *n, struct loc fallback)
{
    void *it = NULL;

    if (n == NULL)
        return fallback;
    switch (fy_node_get_type(n)) {
    case FYNT_SCALAR: {
        struct fy_token *t = fy_node_get_scalar_token(n);
        const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
        if (m == NULL)
            return fallback;
        return (struct loc){(unsigned)m->line + 1, (unsigned)m->column + 1};
    }
    case FYNT_MAPPING: {
        /* libfyaml 0.7 has no public mark for collections: use their first key */
        struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
        return p ? node_loc(fy_node_pair_key(p), fallback) : fallback;
    }
    case FYNT_SEQUENCE:
        return node_loc(fy_node_sequence_iterate(n, &it), fallback);
    }
    return fallback;
}

static const char *kind_name(struct fy_node *n)
{
    if (n == NULL)
        return "nothing";
    switch (fy_node_get_type(n)) {
    case FYNT_SCALAR:
        return "a scalar";
    case FYNT_MAPPING:
        return "a mapping";
    case FYNT_SEQUENCE:
        return "a list";
    }
    return "?";
}

static bool is_null(struct fy_node *n)
{
    size_t len;
    const char *s;

    if (n == NULL)
        return true;
    if (fy_node_get_type(n) != FYNT_SCALAR || fy_node_get_style(n) != FYNS_PLAIN)
        return false;
    s = fy_node_get_scalar(n, &len);
    return len == 0 || (len == 1 && s[0] == '~') ||
           (len == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

/* The file's text of a scalar, for messages: printable ASCII, at most 60 bytes. */
static const char *shown(struct fy_node *n, char *buf, size_t cap)
{
    size_t len = 0, o = 0;
    const char *s = n ? fy_node_get_scalar(n, &len) : NULL;

    for (size_t i = 0; s != NULL && i < len && o + 4 < cap && i < 60; i++)
        buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s != NULL && len > 60 && o + 4 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static bool field_get(struct fy_node *map, const char *name, struct loc fallback, struct field *f)
{
    void *it = NULL;
    struct fy_node_pair *p;

    *f = (struct field){.name = name, .key_at = fallback, .at = fallback};
    if (map == NULL || fy_node_get_type(map) != FYNT_MAPPING)
        return false;
    while ((p = fy_node_mapping_iterate(map, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(p);
        size_t len;
        const char *s;

        if (k == NULL || fy_node_get_type(k) != FYNT_SCALAR)
            continue;
        s = fy_node_get_scalar(k, &len);
        if (len == strlen(name) && memcmp(s, name, len) == 0) {
            f->present = true;
            f->key_at = node_loc(k, fallback);
            f->val = is_null(fy_node_pair_value(p)) ? NULL : fy_node_pair_value(p);
            f->at = node_loc(f->val, f->key_at);
            return true;
        }
    }
    return false;
}

static const char *closest(const char *s, size_t len, const char *const *names, size_t n)
{
    const char *best = NULL;
    unsigned best_d = 1 + (unsigned)LX_MIN(len / 4, 3); /* longer names tolerate more typos */

    for (size_t i = 0; i < n; i++) {
        unsigned d = lx__config_distance(s, len, names[i], strlen(names[i]), best_d);
        if (d <= best_d && (best == NULL || d < best_d)) {
            best = names[i];
            best_d = d;
        }
    }
    return best;
}

/* Reports every key of `map` not in `allowed` (NULL-terminated). `where` names the mapping. */
static void check_keys(struct ld *ld, struct fy_node *map, const char *const *allowed,
                       const char *where)
{
    void *it = NULL;
    struct fy_node_pair *p;
    size_t n = 0;

    while (allowed[n] != NULL)
        n++;
    while ((p = fy_node_mapping_iterate(map, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(p);
        struct loc at = node_loc(k, node_loc(fy_node_pair_value(p), nowhere));
        const char *s, *hint;
        size_t len;
        bool known = false;
        char buf[80];

        if (k == NULL || fy_node_get_type(k) != FYNT_SCALAR) {
            ERR(ld, at, "%s: keys must be plain names, not %s", where, kind_name(k));
            continue;
        }
        s = fy_node_get_scalar(k, &len);
        for (size_t i = 0; i < n && !known; i++)
            known = len == strlen(allowed[i]) && memcmp(s, allowed[i], len) == 0;
        if (known)
            continue;
        hint = closest(s, len, allowed, n);
        if (hint != NULL)
            ERR(ld, at, "%s: unknown key \"%s\" (did you mean \"%s\"?)", where,
                shown(k, buf, sizeof(buf)), hint);
        else
            ERR(ld, at, "%s: unknown key \"%s\"", where, shown(k, buf, sizeof(buf)));
    }
}

static bool expect_kind(struct ld *ld, struct field *f, enum fy_node_type t, const char *where)
{
    static const char *const names[] = {"a scalar", "a list", "a mapping"};
    const char *want = t == FYNT_SCALAR ? names[0] : t == FYNT_SEQUENCE ? names[1] : names[2];

    if (f->val == NULL || fy_node_get_type(f->val) == t)
        return true;
    ERR(ld, f->at, "%s%s%s: expected %s, got %s", where, *where ? "." : "", f->name, want,
        kind_name(f->val));
    return false;
}

/* One scalar value, interpolated, copied into the snapshot's arena (NUL-terminated).
 * Returns V_OK (*out set), V_ABSENT (missing or null; an error first if F_REQUIRED), V_UNSET
 * (F_OPTIONAL_ENV and a variable without default is unset: *missing names it; nothing
 * reported) or V_ERR (reported). */
static int scalar_value(struct ld *ld, struct fy_node *n, struct loc at, const char *what,
                        unsigned flags, struct lx_str *out, struct lx_str *missing)
{
    struct lx_buf b = LX_BUF_INIT(LX_CONFIG_MAX_FILE);
    struct lx_str var = LX_STR_NULL;
    const char *why = NULL, *s;
    size_t len;
    int rc, ret = V_ERR;
    char *copy;

    if (n == NULL) {
        if (flags & F_REQUIRED)
            ERR(ld, at, "%s is required", what);
        return V_ABSENT;
    }
    if (fy_node_get_type(n) != FYNT_SCALAR) {
        ERR(ld, at, "%s: expected a scalar, got %s", what, kind_name(n));
        return V_ERR;
    }
    shown(n, ld->raw, sizeof(ld->raw));
    s = fy_node_get_scalar(n, &len);
    rc = lx__config_interpolate(lx_str_make(s, len), &b, &var, &why);
    if (rc == LX_ENOTFOUND) {
        if (flags & F_OPTIONAL_ENV) {
            *missing = var; /* points into the document, valid while it lives */
            ret = V_UNSET;
        } else {
            ERR(ld, at, "%s: environment variable %.*s is not set (write ${%.*s:-default} for "
                        "a default)",
                what, LX_STR_FMT(var), LX_STR_FMT(var));
        }
        goto out;
    }
    if (rc == LX_EPARSE) {
        ERR(ld, at, "%s: %s", what, why);
        goto out;
    }
    if (rc != LX_OK) {
        ld->oom = true;
        goto out;
    }
    if (memchr(b.ptr, '\0', b.len) != NULL) {
        ERR(ld, at, "%s: contains a NUL byte", what);
        goto out;
    }
    if (b.len == 0 && !(flags & F_EMPTY_OK)) {
        if (flags & F_OPTIONAL_ENV) {
            *missing = LX_STR_NULL;
            ret = V_UNSET;
        } else {
            ERR(ld, at, "%s must not be empty", what);
        }
        goto out;
    }
    copy = ldup(ld, b.ptr, b.len);
    if (copy != NULL) {
        *out = lx_str_make(copy, b.len);
        ret = V_OK;
    }
out:
    lx_buf_release(&b);
    return ret;
}

static int get_str(struct ld *ld, struct fy_node *map, const char *key, const char *where,
                   unsigned flags, struct loc fallback, const char **out, struct loc *at)
{
    struct field f;
    struct lx_str v, missing;
    char what[160];
    int rc;

    field_get(map, key, fallback, &f);
    if (at != NULL)
        *at = f.at;
    snprintf(what, sizeof(what), "%s%s%s", where, *where ? "." : "", key);
    rc = scalar_value(ld, f.val, f.at, what, flags, &v, &missing);
    if (rc == V_OK)
        *out = v.ptr;
    return rc;
}

/* Whole number, optionally with a binary size suffix (k, M, G; with "B"/"iB" or not). */
static bool parse_number(const char *s, bool size_suffix, uint64_t *out)
{
    size_t n = 0, len = strlen(s);
    uint64_t mul = 1;

    while (n < len && s[n] >= '0' && s[n] <= '9')
        n++;
    if (n == 0)
        return false;
    if (n < len) {
        const char *u = s + n;
        if (!size_suffix)
            return false;
        switch (*u) {
        case 'k': case 'K': mul = 1024; break;
        case 'm': case 'M': mul = 1024 * 1024; break;
        case 'g': case 'G': mul = 1024 * 1024 * 1024; break;
        default: return false;
        }
        u++;
        if (!(*u == '\0' || strcmp(u, "B") == 0 || strcmp(u, "iB") == 0 ||
              strcmp(u, "b") == 0))
            return false;
    }
    if (lx_str_to_u64(lx_str_make(s, n), out) != LX_OK || *out > UINT64_MAX / mul)
        return false;
    *out *= mul;
    return true;
}

static int get_uint(struct ld *ld, struct fy_node *map, const char *key, const char *where,
                    uint64_t min, uint64_t max, bool size_suffix, uint64_t *out)
{
    const char *s = NULL;
    struct loc at;
    uint64_t v;
    int rc = get_str(ld, map, key, where, 0, nowhere, &s, &at);

    if (rc != V_OK)
        return rc;
    if (!parse_number(s, size_suffix, &v) || v < min || v > max) {
        struct field f;
        char buf[80];
        field_get(map, key, at, &f);
        ERR(ld, at, "%s%s%s: expected a whole number from %llu to %llu%s, got \"%s\"", where,
            *where ? "." : "", key, (unsigned long long)min, (unsigned long long)max,
            size_suffix ? " (k, M, G suffixes allowed)" : "", shown(f.val, buf, sizeof(buf)));
        return V_ERR;
    }
    *out = v;
    return V_OK;
}

static void get_ms(struct ld *ld, struct fy_node *map, const char *key, const char *where,
                   unsigned *out)
{
    uint64_t v;

    if (get_uint(ld, map, key, where, 0, 86400000, false, &v) == V_OK)
        *out = (unsigned)v;
}

static void get_bool(struct ld *ld, struct fy_node *map, const char *key, const char *where,
                     bool *out)
{
    const char *s = NULL;
    struct loc at;

    if (get_str(ld, map, key, where, 0, nowhere, &s, &at) != V_OK)
        return;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        *out = true;
    else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        *out = false;
    else
        ERR(ld, at, "%s%s%s: expected true or false", where, *where ? "." : "", key);
}

/* "host:port", "[v6]:port" or ":port" (all addresses). NULL or what is wrong. */
static const char *parse_listen(struct ld *ld, const char *s, const char **host, unsigned *port)
{
    const char *colon = strrchr(s, ':');
    const char *h = s;
    uint64_t v;
    size_t n;

    if (colon == NULL)
        return "expected HOST:PORT";
    if (lx_str_to_u64(lx_str_cstr(colon + 1), &v) != LX_OK || v > 65535)
        return "the port must be a number from 0 to 65535";
    n = (size_t)(colon - s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        h++;
        n -= 2;
    } else if (memchr(s, ':', n) != NULL) {
        return "an IPv6 address goes in brackets: [::1]:4000";
    } else if (n > 0 && (s[0] == '[' || s[n - 1] == ']')) {
        return "unbalanced brackets";
    }
    if (n == 0) {
        h = "0.0.0.0";
        n = 7;
    }
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '%'))
            return "the host has characters no address or name can have";
    }
    *host = ldup(ld, h, n);
    *port = (unsigned)v;
    return NULL;
}

/* http(s)://host[:port][/path], no spaces or controls. want_path=false: an origin (CORS). */
static const char *check_url(const char *s, bool want_path)
{
    size_t i, host_at;

    if (strncmp(s, "https://", 8) == 0)
        host_at = 8;
    else if (strncmp(s, "http://", 7) == 0)
        host_at = 7;
    else
        return "must start with http:// or https://";
    for (i = 0; s[i] != '\0'; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return "must not contain spaces or control characters";
    i = host_at;
    while (s[i] != '\0' && s[i] != '/' && s[i] != '?' && s[i] != '#')
        i++;
    if (i == host_at || s[host_at] == ':')
        return "has no host";
    if (memchr(s + host_at, '@', i - host_at) != NULL)
        return "must not hold user:password (use headers)";
    if (!want_path && s[i] != '\0' && strcmp(s + i, "/") != 0)
        return "an origin has no path, query or fragment";
    if (want_path && (strchr(s, '?') != NULL || strchr(s, '#') != NULL))
        return "must not have a query or fragment";
    return NULL;
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static bool valid_header_name(struct lx_str s)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";

    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c != '\0' && strchr(tchar, c) != NULL)))
            return false;
    }
    return true;
}

static const char *const top_keys[] = {
    "listen", "workers", "master_key", "auth", "log_level", "server", "upstream",
    "cors",   "providers", "models", "routes", "image_fetch", "prices", "redis", "key_pool",
    NULL};
static const char *const redis_keys[] = {"url", "prefix", NULL};
static const char *const server_keys[] = {
    "max_body", "header_timeout_ms", "body_timeout_ms", "keepalive_timeout_ms",
    "send_timeout_ms", "drain_timeout_ms", "answer_half_closed", NULL};
static const char *const upstream_keys[] = {"connect_timeout_ms", "first_byte_timeout_ms",
                                            "idle_timeout_ms", "total_timeout_ms", "ca_file",
                                            NULL};
static const char *const timeout_keys[] = {"connect_timeout_ms", "first_byte_timeout_ms",
                                           "idle_timeout_ms", "total_timeout_ms", NULL};
static const char *const provider_keys[] = {
    "name",    "type",    "base_url",    "keys",   "headers", "timeouts",
    "enabled", "region",  "api_version", "project", "key_strategy", "health_check", NULL};
static const char *const key_item_keys[] = {"key", "weight", NULL};
static const char *const key_strategy_names[] = {[LX_CONFIG_KEYS_RANDOM] = "random",
                                                 [LX_CONFIG_KEYS_WEIGHTED] = "weighted",
                                                 [LX_CONFIG_KEYS_ROUND_ROBIN] = "round-robin"};
static const char *const health_check_keys[] = {"enabled", "interval_s", "timeout_ms",
                                                "failures", "path", NULL};
static const char *const key_pool_keys[] = {
    "cooldown_s", "max_cooldown_s", "consecutive_429", "long_cooldown_s", "max_attempts",
    "backoff",    "retry_timeouts", "retry_budget",    "probe",           NULL};
static const char *const backoff_keys[] = {"base_ms", "cap_ms", NULL};
static const char *const retry_budget_keys[] = {"percent", "min_per_s", NULL};
static const char *const probe_keys[] = {"enabled", "interval_s", NULL};
static const char *const model_keys[] = {"name", "targets", "strategy", NULL};
static const char *const target_keys[] = {"target", "weight", "price", "context_window", NULL};
static const char *const price_keys[] = {"input", "output", "context_window", NULL};
static const char *const strategy_names[] = {[LX_CONFIG_STRATEGY_PRIORITY] = "priority",
                                             [LX_CONFIG_STRATEGY_WEIGHTED] = "weighted",
                                             [LX_CONFIG_STRATEGY_LATENCY] = "latency",
                                             [LX_CONFIG_STRATEGY_COST] = "cost",
                                             [LX_CONFIG_STRATEGY_LEAST_BUSY] = "least-busy"};
static const char *const route_keys[] = {"match", "provider", NULL};
static const char *const cors_keys[] = {"origins", NULL};
static const char *const image_fetch_keys[] = {"enabled",   "allow_hosts", "allow_private",
                                               "max_bytes", "timeout_ms",  "max_images", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", "off", NULL};

static struct fy_node *section(struct ld *ld, struct fy_node *root, const char *name,
                               const char *const *keys)
{
    struct field f;

    field_get(root, name, nowhere, &f);
    if (!expect_kind(ld, &f, FYNT_MAPPING, ""))
        return NULL;
    if (f.val != NULL)
        check_keys(ld, f.val, keys, name);
    return f.val;
}

static void load_timeouts(struct ld *ld, struct fy_node *map, const char *where,
                          struct lx_config_timeouts *t)
{
    get_ms(ld, map, "connect_timeout_ms", where, &t->connect_ms);
    get_ms(ld, map, "first_byte_timeout_ms", where, &t->first_byte_ms);
    get_ms(ld, map, "idle_timeout_ms", where, &t->idle_ms);
    get_ms(ld, map, "total_timeout_ms", where, &t->total_ms);
}

static void load_top(struct ld *ld, struct fy_node *root)
{
    struct lx_config *cfg = ld->cfg;
    struct fy_node *m;
    const char *s;
    struct loc at;
    uint64_t v;

    s = NULL;
    if (get_str(ld, root, "listen", "", 0, nowhere, &s, &at) == V_OK) {
        const char *why = parse_listen(ld, s, &cfg->listen_host, &cfg->listen_port);
        if (why != NULL)
            ERR(ld, at, "listen: %s, got \"%s\"", why, ld->raw);
    }
    if (get_str(ld, root, "workers", "", 0, nowhere, &s, &at) == V_OK) {
        if (strcmp(s, "auto") == 0)
            cfg->workers = 0;
        else if (parse_number(s, false, &v) && v <= 256)
            cfg->workers = (unsigned)v;
        else
            ERR(ld, at, "workers: expected \"auto\" or a number from 0 (auto) to 256, got \"%s\"",
                ld->raw);
    }
    if (get_str(ld, root, "log_level", "", 0, nowhere, &s, &at) == V_OK) {
        enum lx_log_level lvl;
        if (lx_log_parse_level(s, &lvl) == 0) {
            cfg->log_level = lvl;
        } else {
            const char *hint = closest(s, strlen(s), log_levels, 5);
            ERR(ld, at, "log_level: unknown level \"%s\"%s%s%s; use debug, info, warn, error or "
                        "off",
                ld->raw, hint ? " (did you mean \"" : "", hint ? hint : "", hint ? "\"?)" : "");
        }
    }
    if ((m = section(ld, root, "server", server_keys)) != NULL) {
        if (get_uint(ld, m, "max_body", "server", 0, (uint64_t)1 << 40, true, &v) == V_OK)
            cfg->server.max_body = v;
        get_ms(ld, m, "header_timeout_ms", "server", &cfg->server.header_timeout_ms);
        get_ms(ld, m, "body_timeout_ms", "server", &cfg->server.body_timeout_ms);
        get_ms(ld, m, "keepalive_timeout_ms", "server", &cfg->server.keepalive_timeout_ms);
        get_ms(ld, m, "send_timeout_ms", "server", &cfg->server.send_timeout_ms);
        get_ms(ld, m, "drain_timeout_ms", "server", &cfg->server.drain_timeout_ms);
        get_bool(ld, m, "answer_half_closed", "server", &cfg->server.answer_half_closed);
    }
    if ((m = section(ld, root, "upstream", upstream_keys)) != NULL) {
        load_timeouts(ld, m, "upstream", &cfg->upstream.timeouts);
        if (get_str(ld, m, "ca_file", "upstream", 0, nowhere, &s, &at) == V_OK) {
            if (access(s, R_OK) != 0)
                ERR(ld, at, "upstream.ca_file: cannot read \"%s\": %s", ld->raw, strerror(errno));
            else
                cfg->upstream.ca_file = s;
        }
    }
}

static void load_cors(struct ld *ld, struct fy_node *root)
{
    struct fy_node *m = section(ld, root, "cors", cors_keys);
    struct fy_node *item;
    struct field f;
    void *it = NULL;
    size_t n = 0;

    if (m == NULL || !field_get(m, "origins", nowhere, &f) || f.val == NULL)
        return;
    if (fy_node_get_type(f.val) == FYNT_SCALAR) { /* origins: "*" */
        struct lx_str v, missing;
        if (scalar_value(ld, f.val, f.at, "cors.origins", 0, &v, &missing) != V_OK)
            return;
        if (strcmp(v.ptr, "*") != 0) {
            ERR(ld, f.at, "cors.origins: expected a list of origins, or \"*\"");
            return;
        }
        ld->cfg->cors.origins = lalloc(ld, 1, sizeof(char *));
        if (ld->cfg->cors.origins != NULL) {
            ld->cfg->cors.origins[0] = v.ptr;
            ld->cfg->cors.n_origins = 1;
        }
        return;
    }
    if (!expect_kind(ld, &f, FYNT_SEQUENCE, "cors"))
        return;
    ld->cfg->cors.origins = lalloc(ld, (size_t)fy_node_sequence_item_count(f.val), sizeof(char *));
    if (ld->cfg->cors.origins == NULL)
        return;
    while ((item = fy_node_sequence_iterate(f.val, &it)) != NULL) {
        struct loc at = node_loc(item, f.at);
        struct lx_str v, missing;
        const char *why;
        char what[64];

        snprintf(what, sizeof(what), "cors.origins[%zu]", n);
        if (scalar_value(ld, item, at, what, F_REQUIRED, &v, &missing) != V_OK)
            continue;
        if (strcmp(v.ptr, "*") != 0 && (why = check_url(v.ptr, false)) != NULL) {
            ERR(ld, at, "%s: \"%s\" is not an origin: %s", what, ld->raw, why);
            continue;
        }
        if (v.len > 1 && v.ptr[v.len - 1] == '/')
            ((char *)v.ptr)[v.len - 1] = '\0'; /* our own arena copy */
        ld->cfg->cors.origins[ld->cfg->cors.n_origins++] = v.ptr;
        n++;
    }
}

/* One image_fetch.allow_hosts entry, lower-cased in place (our arena copy): "*", "*.suffix",
 * a host name, an IPv4 address, or an IPv6 address with or without brackets (stored
 * without). NULL, or what is wrong. */
static const char *image_host_pattern(char *s, size_t *len)
{
    size_t n = *len, i = 0;
    bool label_start = true;

    for (size_t j = 0; j < n; j++)
        if (s[j] >= 'A' && s[j] <= 'Z')
            s[j] = (char)(s[j] - 'A' + 'a');
    if (n == 1 && s[0] == '*')
        return NULL;
    if (memchr(s, ':', n) != NULL) {
        unsigned char addr[16];
        if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
            memmove(s, s + 1, n - 2);
            n -= 2;
            s[n] = '\0';
        }
        if (inet_pton(AF_INET6, s, addr) != 1)
            return "not an IPv6 address";
        *len = n;
        return NULL;
    }
    if (n >= 2 && s[0] == '*' && s[1] == '.')
        i = 2;
    if (n > 1 && s[n - 1] == '.')
        s[--n] = '\0'; /* "example.com." is example.com */
    if (i >= n)
        return "expected a host name, \"*.suffix\" or \"*\"";
    for (; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label_start)
                return "has an empty label";
            label_start = true;
            continue;
        }
        if (c == '*')
            return "a '*' is allowed only as the whole entry or as a leading \"*.\"";
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return "has characters no host name can have";
        label_start = false;
    }
    if (label_start)
        return "has an empty label";
    *len = n;
    return NULL;
}

/* redis: {url, prefix}: cooldowns, disabled keys and breakers shared by several instances. */
static void load_redis(struct ld *ld, struct fy_node *root)
{
    struct fy_node *m = section(ld, root, "redis", redis_keys);
    struct loc at = nowhere;
    const char *url = NULL, *prefix = NULL;

    if (m == NULL)
        return;
    if (get_str(ld, m, "url", "redis", F_SECRET, nowhere, &url, &at) == V_OK && url != NULL) {
        if (strncmp(url, "redis://", 8) != 0 || url[8] == '\0')
            ERR(ld, at, "redis.url: expected redis://[:password@]host[:port][/0]");
        else
            ld->cfg->redis.url = url;
    }
    if (get_str(ld, m, "prefix", "redis", 0, nowhere, &prefix, NULL) == V_OK && prefix != NULL)
        ld->cfg->redis.prefix = prefix;
}

/* `name: true|false`, or `name: {enabled, ...}`: a mapping turns the feature on unless it
 * says `enabled: false`. Returns the mapping (its keys checked against keys) or NULL (a
 * scalar, absent, or the wrong kind: reported). */
static struct fy_node *switch_or_map(struct ld *ld, struct fy_node *map, const char *name,
                                     const char *where, const char *const *keys, bool *enabled)
{
    struct field f;
    char sub[160];

    if (!field_get(map, name, nowhere, &f) || f.val == NULL)
        return NULL;
    if (fy_node_get_type(f.val) == FYNT_SCALAR) {
        get_bool(ld, map, name, where, enabled);
        return NULL;
    }
    if (!expect_kind(ld, &f, FYNT_MAPPING, where))
        return NULL;
    snprintf(sub, sizeof(sub), "%s%s%s", where, *where ? "." : "", name);
    check_keys(ld, f.val, keys, sub);
    *enabled = true;
    get_bool(ld, f.val, "enabled", sub, enabled);
    return f.val;
}

/* A mapping inside key_pool: (backoff, retry_budget). NULL when absent or wrong (reported). */
static struct fy_node *key_pool_sub(struct ld *ld, struct fy_node *m, const char *name,
                                    const char *const *keys, struct loc *at)
{
    struct field f;
    char where[64];

    field_get(m, name, nowhere, &f);
    *at = f.at;
    if (f.val == NULL || !expect_kind(ld, &f, FYNT_MAPPING, "key_pool"))
        return NULL;
    snprintf(where, sizeof(where), "key_pool.%s", name);
    check_keys(ld, f.val, keys, where);
    return f.val;
}

/* key_pool: the rules every provider's key pool follows (cooldowns, attempts, backoff, the
 * retry budget, probes of disabled keys). Defaults from lx_config_key_pool_defaults. */
static void load_key_pool(struct ld *ld, struct fy_node *root)
{
    static const struct {
        const char *key;
        size_t off;
        uint64_t min, max;
    } nums[] = {
        {"cooldown_s", offsetof(struct lx_config_key_pool, cooldown_s), 1, 86400},
        {"max_cooldown_s", offsetof(struct lx_config_key_pool, max_cooldown_s), 1, 604800},
        {"consecutive_429", offsetof(struct lx_config_key_pool, consecutive_429), 1, 100},
        {"long_cooldown_s", offsetof(struct lx_config_key_pool, long_cooldown_s), 1, 604800},
        {"max_attempts", offsetof(struct lx_config_key_pool, max_attempts), 1, 10},
    };
    struct lx_config_key_pool *kp = &ld->cfg->key_pool;
    struct fy_node *m = section(ld, root, "key_pool", key_pool_keys), *sub;
    struct loc at;
    uint64_t v;

    if (m == NULL)
        return;
    for (size_t i = 0; i < LX_ARRAY_SIZE(nums); i++)
        if (get_uint(ld, m, nums[i].key, "key_pool", nums[i].min, nums[i].max, false, &v) ==
            V_OK)
            *(unsigned *)(void *)((char *)kp + nums[i].off) = (unsigned)v;
    if ((sub = key_pool_sub(ld, m, "backoff", backoff_keys, &at)) != NULL) {
        int rb = get_uint(ld, sub, "base_ms", "key_pool.backoff", 0, 60000, false, &v);
        int rc;

        if (rb == V_OK)
            kp->backoff_base_ms = (unsigned)v;
        rc = get_uint(ld, sub, "cap_ms", "key_pool.backoff", 0, 300000, false, &v);
        if (rc == V_OK)
            kp->backoff_cap_ms = (unsigned)v;
        if (rb != V_ERR && rc != V_ERR && kp->backoff_base_ms > kp->backoff_cap_ms)
            ERR(ld, at, "key_pool.backoff: base_ms (%u) must not be above cap_ms (%u)",
                kp->backoff_base_ms, kp->backoff_cap_ms);
    }
    get_bool(ld, m, "retry_timeouts", "key_pool", &kp->retry_timeouts);
    if ((sub = key_pool_sub(ld, m, "retry_budget", retry_budget_keys, &at)) != NULL) {
        if (get_uint(ld, sub, "percent", "key_pool.retry_budget", 0, 1000, false, &v) == V_OK)
            kp->budget_percent = (unsigned)v;
        if (get_uint(ld, sub, "min_per_s", "key_pool.retry_budget", 0, 100000, false, &v) ==
            V_OK)
            kp->budget_min_per_s = (unsigned)v;
    }
    sub = switch_or_map(ld, m, "probe", "key_pool", probe_keys, &kp->probe_enabled);
    if (sub != NULL &&
        get_uint(ld, sub, "interval_s", "key_pool.probe", 1, 604800, false, &v) == V_OK)
        kp->probe_interval_s = (unsigned)v;
}

static void load_image_fetch(struct ld *ld, struct fy_node *root)
{
    struct lx_config *cfg = ld->cfg;
    struct fy_node *m = section(ld, root, "image_fetch", image_fetch_keys);
    struct fy_node *item;
    struct field en, hosts;
    struct loc star_at = nowhere;
    void *it = NULL;
    uint64_t v;
    size_t idx = 0;
    bool star = false;

    cfg->image_fetch.max_bytes = LX_CONFIG_IMAGE_FETCH_MAX_BYTES;
    cfg->image_fetch.timeout_ms = LX_CONFIG_IMAGE_FETCH_TIMEOUT_MS;
    cfg->image_fetch.max_images = LX_CONFIG_IMAGE_FETCH_MAX_IMAGES;
    if (m == NULL)
        return;
    get_bool(ld, m, "enabled", "image_fetch", &cfg->image_fetch.enabled);
    get_bool(ld, m, "allow_private", "image_fetch", &cfg->image_fetch.allow_private);
    if (get_uint(ld, m, "max_bytes", "image_fetch", 1, (uint64_t)1 << 30, true, &v) == V_OK)
        cfg->image_fetch.max_bytes = v;
    if (get_uint(ld, m, "timeout_ms", "image_fetch", 1, 600000, false, &v) == V_OK)
        cfg->image_fetch.timeout_ms = (unsigned)v;
    if (get_uint(ld, m, "max_images", "image_fetch", 1, 256, false, &v) == V_OK)
        cfg->image_fetch.max_images = (unsigned)v;
    field_get(m, "enabled", nowhere, &en);
    field_get(m, "allow_hosts", en.key_at, &hosts);
    if (hosts.val != NULL && fy_node_get_type(hosts.val) == FYNT_SCALAR) {
        ERR(ld, hosts.at, "image_fetch.allow_hosts: expected a list of host names, got a "
                          "scalar (write [\"%s\"])",
            shown(hosts.val, ld->raw, sizeof(ld->raw)));
    } else if (hosts.val != NULL && expect_kind(ld, &hosts, FYNT_SEQUENCE, "image_fetch")) {
        cfg->image_fetch.allow_hosts =
            lalloc(ld, (size_t)fy_node_sequence_item_count(hosts.val), sizeof(char *));
        if (cfg->image_fetch.allow_hosts == NULL)
            return;
        while ((item = fy_node_sequence_iterate(hosts.val, &it)) != NULL) {
            struct loc at = node_loc(item, hosts.at);
            struct lx_str hv, missing;
            const char *why;
            char what[64];
            size_t len;

            snprintf(what, sizeof(what), "image_fetch.allow_hosts[%zu]", idx++);
            if (scalar_value(ld, is_null(item) ? NULL : item, at, what, F_REQUIRED, &hv,
                             &missing) != V_OK)
                continue;
            len = hv.len;
            why = image_host_pattern((char *)hv.ptr, &len); /* our own arena copy */
            if (why != NULL) {
                ERR(ld, at, "%s: \"%s\" %s", what, ld->raw, why);
                continue;
            }
            if (len == 1 && hv.ptr[0] == '*' && !star) {
                star = true;
                star_at = at;
            }
            cfg->image_fetch.allow_hosts[cfg->image_fetch.n_allow_hosts++] = hv.ptr;
        }
    }
    if (star && cfg->image_fetch.allow_private)
        ERR(ld, star_at, "image_fetch.allow_hosts: \"*\" is not allowed with allow_private: "
                         "true (any client could make the gateway fetch from internal "
                         "addresses); list the hosts");
    if (cfg->image_fetch.enabled && cfg->image_fetch.n_allow_hosts == 0 && hosts.val == NULL &&
        idx == 0)
        ERR(ld, hosts.present ? hosts.at : en.at,
            "image_fetch.allow_hosts is required when image_fetch is enabled (the hosts images "
            "may be fetched from, e.g. [\"upload.wikimedia.org\", \"*.example-cdn.com\"])");
    else if (cfg->image_fetch.enabled && hosts.val != NULL && idx == 0)
        ERR(ld, hosts.at, "image_fetch.allow_hosts must not be empty when image_fetch is "
                          "enabled");
    if (cfg->image_fetch.enabled && cfg->image_fetch.allow_private &&
        !lx_config_is_loopback(cfg->listen_host))
        WARN(ld, m == NULL ? nowhere : node_loc(m, nowhere),
             "image_fetch.allow_private is true: clients can make the gateway fetch from "
             "loopback and private addresses of the allowed hosts");
}

/* The keys of a mapping key item, {key, weight}: unknown ones are reported without their text,
 * which might be a key written as a mapping's key by mistake. */
static void check_key_item(struct ld *ld, struct fy_node *map, const char *where)
{
    void *it = NULL;
    struct fy_node_pair *pair;

    while ((pair = fy_node_mapping_iterate(map, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(pair);
        const char *s = NULL;
        size_t len = 0;
        bool known = false;

        if (k != NULL && fy_node_get_type(k) == FYNT_SCALAR)
            s = fy_node_get_scalar(k, &len);
        for (size_t i = 0; s != NULL && key_item_keys[i] != NULL && !known; i++)
            known = len == strlen(key_item_keys[i]) && memcmp(s, key_item_keys[i], len) == 0;
        if (!known)
            ERR(ld, node_loc(k, nowhere), "%s: unknown field (a key item is a string, or "
                                          "{key: \"...\", weight: N})",
                where);
    }
}

/* keys: a list whose items are a string (weight 1) or {key, weight}; or one string. Items
 * whose variable is unset are dropped with their weight, so key_weights stays aligned with
 * keys. *weight_at gets the place of the first weight written (for later messages). */
static void load_keys(struct ld *ld, struct fy_node *pm, struct lx_config_provider *p,
                      struct loc *weight_at)
{
    struct field f;
    struct fy_node *item;
    void *it = NULL;
    size_t i = 0, count, unset = 0;
    unsigned *weights;
    bool any_weight = false;

    if (!field_get(pm, "keys", (struct loc){p->line, 1}, &f) || f.val == NULL)
        return;
    count = fy_node_get_type(f.val) == FYNT_SEQUENCE
                ? (size_t)fy_node_sequence_item_count(f.val) : 1;
    p->keys = lalloc(ld, count, sizeof(char *));
    weights = lalloc(ld, count, sizeof(*weights));
    if (p->keys == NULL || weights == NULL)
        return;
    for (;;) {
        struct lx_str v, missing = LX_STR_NULL;
        struct fy_node *kn;
        struct loc at;
        char what[160], iw[128];
        unsigned w = 1;
        int rc;

        if (fy_node_get_type(f.val) == FYNT_SEQUENCE) {
            if ((item = fy_node_sequence_iterate(f.val, &it)) == NULL)
                break;
        } else if (i == 0) {
            item = f.val; /* keys: "${ONE_KEY}" */
        } else {
            break;
        }
        i++;
        at = node_loc(item, f.at);
        kn = is_null(item) ? NULL : item;
        snprintf(what, sizeof(what), "key %zu of provider %s", i, p->name ? p->name : "?");
        if (kn != NULL && fy_node_get_type(kn) == FYNT_MAPPING) {
            struct field kf, wf;
            uint64_t wv;

            snprintf(iw, sizeof(iw), "provider %s: keys[%zu]", p->name ? p->name : "?", i - 1);
            check_key_item(ld, kn, iw);
            if (get_uint(ld, kn, "weight", iw, 0, LX_CONFIG_KEY_WEIGHT_MAX, false, &wv) == V_OK) {
                field_get(kn, "weight", at, &wf);
                w = (unsigned)wv;
                if (weight_at->line == 0)
                    *weight_at = wf.at;
            }
            field_get(kn, "key", at, &kf);
            kn = kf.val;
            at = kf.at;
        }
        rc = scalar_value(ld, kn, at, what, F_SECRET | F_OPTIONAL_ENV | F_REQUIRED, &v,
                          &missing);
        if (rc == V_OK) {
            weights[p->n_keys] = w;
            any_weight |= w != 1;
            p->keys[p->n_keys++] = v.ptr;
        } else if (rc == V_UNSET) {
            unset++;
            if (missing.len > 0)
                WARN(ld, at, "%s: environment variable %.*s is not set; key skipped", what,
                     LX_STR_FMT(missing));
            else
                WARN(ld, at, "%s is empty; key skipped", what);
        }
    }
    if (any_weight)
        p->key_weights = weights;
    if (p->n_keys == 0 && unset > 0 && p->enabled) {
        p->enabled = false;
        p->keyless = true;
        WARN(ld, f.key_at, "provider %s has no usable key: disabled", p->name ? p->name : "?");
    }
}

/* key_strategy: how the pool picks among the provider's keys. */
static void load_key_strategy(struct ld *ld, struct fy_node *item, const char *where,
                              struct lx_config_provider *p, struct loc *at)
{
    const char *s = NULL, *hint;

    if (get_str(ld, item, "key_strategy", where, 0, nowhere, &s, at) != V_OK)
        return;
    for (size_t i = 0; i < LX_ARRAY_SIZE(key_strategy_names); i++)
        if (strcmp(s, key_strategy_names[i]) == 0) {
            p->key_strategy = (enum lx_config_key_strategy)i;
            return;
        }
    hint = closest(s, strlen(s), key_strategy_names, LX_ARRAY_SIZE(key_strategy_names));
    if (hint == NULL && (strcmp(s, "round_robin") == 0 || strcmp(s, "roundrobin") == 0))
        hint = "round-robin";
    ERR(ld, *at,
        "%s.key_strategy: unknown strategy \"%s\"%s%s%s; expected random, weighted or "
        "round-robin",
        where, ld->raw, hint ? " (did you mean \"" : "", hint ? hint : "", hint ? "\"?)" : "");
}

/* After the keys and the strategy: weighted needs a weight above 0 somewhere. */
static void check_key_weights(struct ld *ld, const struct lx_config_provider *p,
                              const char *where, struct loc strategy_at, struct loc weight_at)
{
    if (p->key_strategy != LX_CONFIG_KEYS_WEIGHTED || p->key_weights == NULL || p->n_keys == 0)
        return;
    for (size_t k = 0; k < p->n_keys; k++)
        if (p->key_weights[k] > 0)
            return;
    ERR(ld, strategy_at.line ? strategy_at : weight_at,
        "%s: key_strategy weighted needs at least one key with a weight above 0", where);
}

/* health_check: true | false | {enabled, interval_s, timeout_ms, failures, path}. */
static void load_health_check(struct ld *ld, struct fy_node *item, const char *where,
                              struct lx_config_provider *p)
{
    struct lx_config_health_check *hc = &p->health_check;
    struct fy_node *m = switch_or_map(ld, item, "health_check", where, health_check_keys,
                                      &hc->enabled);
    const char *path = NULL;
    char sub[128];
    struct loc at;
    uint64_t v;

    if (m == NULL)
        return;
    snprintf(sub, sizeof(sub), "%s.health_check", where);
    if (get_uint(ld, m, "interval_s", sub, 1, 3600, false, &v) == V_OK)
        hc->interval_s = (unsigned)v;
    if (get_uint(ld, m, "timeout_ms", sub, 1, 600000, false, &v) == V_OK)
        hc->timeout_ms = (unsigned)v;
    if (get_uint(ld, m, "failures", sub, 1, 100, false, &v) == V_OK)
        hc->failures = (unsigned)v;
    if (get_str(ld, m, "path", sub, 0, nowhere, &path, &at) == V_OK) {
        bool ok = path[0] == '/' && strlen(path) <= 512 && strchr(path, '#') == NULL;
        for (const char *c = path; ok && *c != '\0'; c++)
            ok = (unsigned char)*c > 0x20 && *c != 0x7f;
        if (!ok)
            ERR(ld, at, "%s.path: \"%s\" must start with '/' and hold no spaces, control "
                        "characters or '#' (at most 512 bytes)",
                sub, ld->raw);
        else
            hc->path = path;
    }
}

static void load_headers(struct ld *ld, struct fy_node *pm, struct lx_config_provider *p)
{
    struct field f;
    struct fy_node_pair *pair;
    void *it = NULL;
    char where[96];

    snprintf(where, sizeof(where), "provider %s: headers", p->name ? p->name : "?");
    if (!field_get(pm, "headers", (struct loc){p->line, 1}, &f) || f.val == NULL ||
        !expect_kind(ld, &f, FYNT_MAPPING, where))
        return;
    p->headers = lalloc(ld, (size_t)fy_node_mapping_item_count(f.val), sizeof(*p->headers));
    if (p->headers == NULL)
        return;
    while ((pair = fy_node_mapping_iterate(f.val, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(pair), *val = fy_node_pair_value(pair);
        struct loc at = node_loc(k, f.at);
        struct lx_str name, value, missing;
        size_t len;
        const char *s;
        char what[192], buf[80];
        unsigned flags = F_REQUIRED | F_EMPTY_OK;
        int rc;

        if (k == NULL || fy_node_get_type(k) != FYNT_SCALAR) {
            ERR(ld, at, "%s: a header name must be a scalar", where);
            continue;
        }
        s = fy_node_get_scalar(k, &len);
        name = lx_str_make(s, len);
        if (!valid_header_name(name)) {
            ERR(ld, at, "%s: \"%s\" is not a valid header name", where, shown(k, buf, sizeof(buf)));
            continue;
        }
        if (lx__config_header_is_secret(name))
            flags |= F_SECRET | F_OPTIONAL_ENV;
        snprintf(what, sizeof(what), "%s.%.*s", where, LX_STR_FMT(name));
        rc = scalar_value(ld, is_null(val) ? NULL : val, node_loc(val, at), what, flags, &value,
                          &missing);
        if (rc == V_UNSET) {
            /* a credential like a key: without it the provider cannot work, but the file can */
            WARN(ld, node_loc(val, at), "%s: environment variable %.*s is not set; provider %s "
                                        "disabled",
                 what, LX_STR_FMT(missing), p->name ? p->name : "?");
            p->enabled = false;
            continue;
        }
        if (rc != V_OK)
            continue;
        if (strpbrk(value.ptr, "\r\n") != NULL) {
            ERR(ld, node_loc(val, at), "%s: a header value must not contain CR or LF", what);
            continue;
        }
        name.ptr = ldup(ld, name.ptr, name.len);
        if (name.ptr == NULL)
            return;
        p->headers[p->n_headers++] = (struct lx_header){name, value};
    }
}

/* One token of a URL path or host (region, project, api_version): letters, digits and
 * "-_.:" only, 1 to 64 of them. */
static bool provider_token_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.' ||
              s[i] == ':'))
            return false;
    return true;
}

/* region (bedrock, vertex), api_version (azure), project (vertex): parsed, checked, and a
 * warning when the type does not use them. */
static void load_provider_fields(struct ld *ld, struct fy_node *item, struct loc at,
                                 const char *where, const struct lx__config_preset *pr,
                                 struct lx_config_provider *p)
{
    static const struct {
        const char *key;
        size_t off;
        unsigned protos; /* bit per enum lx_config_proto that uses it */
    } fields[] = {
        {"region", offsetof(struct lx_config_provider, region),
         1u << LX_CONFIG_PROTO_BEDROCK | 1u << LX_CONFIG_PROTO_VERTEX},
        {"project", offsetof(struct lx_config_provider, project), 1u << LX_CONFIG_PROTO_VERTEX},
        {"api_version", offsetof(struct lx_config_provider, api_version),
         1u << LX_CONFIG_PROTO_AZURE},
    };

    for (size_t i = 0; i < LX_ARRAY_SIZE(fields); i++) {
        const char *v = NULL;
        struct loc vat;

        if (get_str(ld, item, fields[i].key, where, 0, at, &v, &vat) != V_OK)
            continue;
        if (!provider_token_ok(v)) {
            ERR(ld, vat, "%s.%s: \"%s\" may only hold letters, digits, '-', '_', '.' and ':' (1 "
                         "to 64 of them)",
                where, fields[i].key, ld->raw);
            continue;
        }
        if (pr != NULL && !(fields[i].protos & (1u << pr->proto)))
            WARN(ld, vat, "%s.%s: ignored for type %s", where, fields[i].key, pr->type);
        *(const char **)(void *)((char *)p + fields[i].off) = v;
    }
}

/* No base_url in the file and none in the preset: the preset's template (Cloudflare account,
 * AWS region), or the URL the adapter builds from region/project (bedrock, vertex). false
 * (error reported) when it cannot be had. */
static bool preset_base_url(struct ld *ld, struct loc at, const char *where,
                            const struct lx__config_preset *pr, struct lx_config_provider *p)
{
    struct lx_buf b = LX_BUF_INIT(4096);
    struct lx_str missing = LX_STR_NULL;
    const char *why = NULL;
    bool ok = false;

    if (pr->proto == LX_CONFIG_PROTO_VERTEX)
        return true; /* built from project and region (vertex.c) */
    if (pr->proto == LX_CONFIG_PROTO_BEDROCK && p->region != NULL)
        return true; /* built from region (bedrock.c) */
    if (pr->base_template != NULL) {
        int rc = lx__config_interpolate(lx_str_cstr(pr->base_template), &b, &missing, &why);
        if (rc == LX_OK && b.err == LX_OK && lx__config_template_ok(pr->base_template, b.ptr)) {
            p->base_url = ldup(ld, b.ptr, b.len);
            ok = p->base_url != NULL;
        } else if (rc == LX_ENOTFOUND) {
            ERR(ld, at, "%s: base_url is required for type %s (or set %.*s)", where, pr->type,
                LX_STR_FMT(missing));
        } else {
            ERR(ld, at, "%s: base_url is required for type %s (%s does not give a usable URL)",
                where, pr->type, pr->base_template);
        }
        lx_buf_release(&b);
        return ok;
    }
    ERR(ld, at, "%s: base_url is required for type %s", where, pr->type);
    return false;
}

/* Where provider `name` was defined, for "first defined at line N". */
static void load_providers(struct ld *ld, struct fy_node *root)
{
    struct lx_config *cfg = ld->cfg;
    struct fy_node *item;
    struct field f;
    void *it = NULL;
    size_t idx = 0, count = 0;


    field_get(root, "providers", nowhere, &f);
    if (f.val != NULL && expect_kind(ld, &f, FYNT_SEQUENCE, ""))
        count = (size_t)fy_node_sequence_item_count(f.val);
    /* room for the implicit providers resolve_provider() may add */
    cfg->providers = lalloc(ld, count + lx__config_n_presets, sizeof(*cfg->providers));
    if (cfg->providers == NULL || count == 0)
        return;
    while ((item = fy_node_sequence_iterate(f.val, &it)) != NULL) {
        struct lx_config_provider *p = &cfg->providers[cfg->n_providers];
        const struct lx__config_preset *pr = NULL;
        struct loc at = node_loc(item, f.at), name_at, type_at, url_at;
        struct loc weight_at = nowhere, strategy_at = nowhere;
        char where[96];
        const char *why;
        bool ok = true;
        struct fy_node *tm;
        struct field tf;

        idx++;
        snprintf(where, sizeof(where), "providers[%zu]", idx - 1);
        if (fy_node_get_type(item) != FYNT_MAPPING) {
            ERR(ld, at, "%s: expected a mapping with name, type, base_url, keys; got %s", where,
                kind_name(item));
            continue;
        }
        *p = (struct lx_config_provider){.enabled = true, .line = at.line};
        check_keys(ld, item, provider_keys, where);
        if (get_str(ld, item, "name", where, F_REQUIRED, at, &p->name, &name_at) == V_OK) {
            if (!valid_name(p->name)) {
                ERR(ld, name_at, "%s.name: \"%s\" may only hold letters, digits, '-', '_' and '.' "
                                 "(1 to 64 of them)",
                    where, ld->raw);
                ok = false;
            } else {
                for (size_t j = 0; j < cfg->n_providers; j++)
                    if (strcmp(cfg->providers[j].name, p->name) == 0) {
                        ERR(ld, name_at, "duplicate provider name \"%s\" (first defined at line %u)",
                            p->name, cfg->providers[j].line);
                        ok = false;
                    }
                snprintf(where, sizeof(where), "provider %s", p->name);
            }
        } else {
            ok = false;
        }
        if (get_str(ld, item, "type", where, 0, at, &p->type, &type_at) == V_OK) {
            pr = lx__config_preset_find(lx_str_cstr(p->type));
            if (pr == NULL) {
                const char *names[128], *hint;
                size_t nn = 0;
                for (size_t j = 0; j < lx__config_n_presets && nn < LX_ARRAY_SIZE(names); j++)
                    names[nn++] = lx__config_presets[j].type;
                for (size_t j = 0; j < lx__config_n_aliases && nn < LX_ARRAY_SIZE(names); j++)
                    names[nn++] = lx__config_aliases[j].alias;
                hint = closest(p->type, strlen(p->type), names, nn);
                ERR(ld, type_at, "%s.type: unknown type \"%s\"%s%s%s", where, ld->raw,
                    hint ? " (did you mean \"" : "", hint ? hint : "", hint ? "\"?)" : "");
                ok = false;
            } else {
                p->type = pr->type; /* aliases ("google", "together-ai") name the canonical type */
            }
        } else if (p->name != NULL) {
            pr = lx__config_preset_find(lx_str_cstr(p->name));
            if (pr != NULL)
                p->type = pr->type;
            else if (valid_name(p->name)) {
                ERR(ld, at, "%s: type is required (\"%s\" is not a known type to default to)",
                    where, p->name);
                ok = false;
            }
        }
        if (pr != NULL)
            p->proto = pr->proto;
        load_provider_fields(ld, item, at, where, pr, p);
        if (get_str(ld, item, "base_url", where, 0, at, &p->base_url, &url_at) == V_OK) {
            if ((why = check_url(p->base_url, true)) != NULL) {
                char buf[80];
                struct field uf;
                field_get(item, "base_url", at, &uf);
                ERR(ld, url_at, "%s.base_url: \"%s\" %s", where, shown(uf.val, buf, sizeof(buf)),
                    why);
                ok = false;
            } else {
                size_t n = strlen(p->base_url);
                while (n > 0 && p->base_url[n - 1] == '/')
                    ((char *)p->base_url)[--n] = '\0'; /* our own arena copy */
            }
        } else if (pr != NULL && pr->base_url != NULL) {
            p->base_url = pr->base_url;
        } else if (pr != NULL && !preset_base_url(ld, at, where, pr, p)) {
            ok = false;
        }
        if (pr != NULL && pr->proto == LX_CONFIG_PROTO_OLLAMA && p->base_url != NULL &&
            strlen(p->base_url) >= 3 &&
            strcmp(p->base_url + strlen(p->base_url) - 3, "/v1") == 0)
            p->proto = LX_CONFIG_PROTO_OPENAI; /* Ollama's OpenAI-compatible API, as before */
        get_bool(ld, item, "enabled", where, &p->enabled);
        load_keys(ld, item, p, &weight_at);
        load_key_strategy(ld, item, where, p, &strategy_at);
        check_key_weights(ld, p, where, strategy_at, weight_at);
        p->health_check = LX_CONFIG_HEALTH_CHECK_DEFAULTS;
        load_health_check(ld, item, where, p);
        load_headers(ld, item, p);
        p->timeouts = cfg->upstream.timeouts;
        field_get(item, "timeouts", at, &tf);
        if (expect_kind(ld, &tf, FYNT_MAPPING, where) && (tm = tf.val) != NULL) {
            char tw[112];
            snprintf(tw, sizeof(tw), "%s.timeouts", where);
            check_keys(ld, tm, timeout_keys, tw);
            load_timeouts(ld, tm, tw, &p->timeouts);
        }
        if (pr != NULL && !pr->chat && ok) {
            WARN(ld, type_at.line ? type_at : at,
                 "%s: type %s is listed only (%s): provider disabled for chat", where, pr->type,
                 pr->support);
            p->enabled = false;
        }
        if (ok && !ld->oom)
            cfg->n_providers++;
    }
}

/* The provider a target or route names. A name that is not configured but is a preset
 * ("groq") gets an implicit provider from the preset's usual variable (GROQ_API_KEY), disabled
 * with a warning when that is unset, so the contract example loads with only some keys set.
 * NULL (error reported) for an unknown name. *fresh: the provider was just made here. */
static struct lx_config_provider *resolve_provider(struct ld *ld, struct lx_str name,
                                                   struct loc at, const char *what, bool *fresh)
{
    struct lx_config *cfg = ld->cfg;
    const struct lx_config_provider *found = lx_config_provider_find(cfg, name);
    const struct lx__config_preset *pr;
    struct lx_config_provider *p;
    int rc;

    *fresh = false;
    if (found != NULL)
        return &cfg->providers[found - cfg->providers];
    pr = lx__config_preset_find(name);
    if (pr == NULL || cfg->providers == NULL) {
        const char *names[64], *hint;
        size_t n = LX_MIN(cfg->n_providers, LX_ARRAY_SIZE(names));
        for (size_t j = 0; j < n; j++)
            names[j] = cfg->providers[j].name;
        hint = closest(name.ptr, name.len, names, n);
        if (strchr(ld->raw, '$') != NULL) /* expanded: show the file's text, not the value */
            ERR(ld, at, "%s: unknown provider in \"%s\"", what, ld->raw);
        else
            ERR(ld, at, "%s: unknown provider \"%.*s\"%s%s%s", what, LX_STR_FMT(name),
                hint ? " (did you mean \"" : "", hint ? hint : "", hint ? "\"?)" : "");
        return NULL;
    }
    p = &cfg->providers[cfg->n_providers];
    rc = lx__config_env_provider(cfg, pr, p);
    if (rc == LX_ENOMEM) {
        ld->oom = true;
        return NULL;
    }
    if (rc != LX_OK) {
        p->enabled = false;
        p->keyless = true;
        if (p->base_url == NULL)
            p->base_url = pr->base_url ? pr->base_url : "";
        if (!pr->chat || (!pr->from_env && pr->env_key != NULL))
            WARN(ld, at, "%s: provider %s is not configured (type %s is only made from a "
                         "`providers:` entry): disabled",
                 what, pr->type, pr->type);
        else if (pr->env_key != NULL && strcmp(pr->type, "cloudflare") == 0)
            WARN(ld, at, "%s: provider %s is not configured and CLOUDFLARE_API_TOKEN or "
                         "CLOUDFLARE_ACCOUNT_ID is not set: disabled",
                 what, pr->type);
        else
            WARN(ld, at, "%s: provider %s is not configured and %s is not set: disabled", what,
                 pr->type, pr->env_key);
    }
    p->line = at.line;
    cfg->n_providers++;
    *fresh = true;
    return p;
}

const char *lx_config_key_strategy_name(enum lx_config_key_strategy s)
{
    return (unsigned)s < LX_ARRAY_SIZE(key_strategy_names) ? key_strategy_names[s] : NULL;
}

const char *lx_config_strategy_name(enum lx_config_strategy st)
{
    return (unsigned)st < LX_ARRAY_SIZE(strategy_names) ? strategy_names[st] : NULL;
}

/* A price: "2.5", "10", "0.075" (no sign, no exponent: dollars per million tokens). Parsed
 * here rather than with strtod, which follows the locale's decimal point. */
static bool parse_price(const char *s, double *out)
{
    double v = 0, scale = 1;
    size_t digits = 0;
    bool frac = false;

    for (; *s != '\0'; s++) {
        if (*s == '.' && !frac) {
            frac = true;
            continue;
        }
        if (*s < '0' || *s > '9' || digits > 15)
            return false;
        digits++;
        if (frac) {
            scale /= 10;
            v += (*s - '0') * scale;
        } else {
            v = v * 10 + (*s - '0');
        }
    }
    if (digits == 0)
        return false;
    *out = v;
    return true;
}

/* One price number of a `price:` mapping. V_OK, V_ABSENT or V_ERR (reported). */
static int get_price(struct ld *ld, struct fy_node *map, const char *key, const char *where,
                     double *out)
{
    const char *s = NULL;
    struct loc at;
    double v;
    int rc = get_str(ld, map, key, where, 0, nowhere, &s, &at);

    if (rc != V_OK)
        return rc;
    if (!parse_price(s, &v) || v > LX_CONFIG_PRICE_MAX) {
        ERR(ld, at,
            "%s.%s: expected dollars per million tokens, a number from 0 to %.0f "
            "(such as 2.5), got \"%s\"",
            where, key, LX_CONFIG_PRICE_MAX, ld->raw);
        return V_ERR;
    }
    *out = v;
    return V_OK;
}

/* A `price:` mapping ({input, output[, context_window]}) into *t. `where` names it. */
static void load_price(struct ld *ld, struct field *f, const char *where, bool allow_window,
                       struct lx_config_target *t)
{
    double in = 0, out = 0;
    int rin, rout;
    uint64_t v;

    if (f->val == NULL || fy_node_get_type(f->val) != FYNT_MAPPING) {
        ERR(ld, f->at,
            "%s: expected a mapping like {input: 2.5, output: 10} (dollars per "
            "million tokens), got %s",
            where, kind_name(f->val));
        return;
    }
    check_keys(ld, f->val, price_keys, where);
    if (!allow_window) {
        struct field w;
        if (field_get(f->val, "context_window", f->at, &w))
            ERR(ld, w.key_at, "%s: context_window belongs to the target, not its price", where);
    }
    rin = get_price(ld, f->val, "input", where, &in);
    rout = get_price(ld, f->val, "output", where, &out);
    if (rin == V_ABSENT || rout == V_ABSENT)
        ERR(ld, f->at, "%s: both input and output are required (dollars per million tokens)",
            where);
    if (rin == V_OK && rout == V_OK) {
        t->has_price = true;
        t->price_in = in;
        t->price_out = out;
    }
    if (allow_window &&
        get_uint(ld, f->val, "context_window", where, 1, LX_CONFIG_CONTEXT_MAX, false, &v) == V_OK)
        t->context_window = v;
}

/* The top-level `prices:` table: "provider/model" -> {input, output[, context_window]}, for
 * every alias target of that provider and model that does not give its own. */
struct price_entry {
    const char *name; /* "provider/model" as written */
    struct lx_config_target v;
    bool used;
    struct loc at;
};

static struct price_entry *load_prices(struct ld *ld, struct fy_node *root, size_t *n_out)
{
    struct field f;
    struct fy_node_pair *p;
    struct price_entry *tab;
    void *it = NULL;
    size_t n = 0;

    *n_out = 0;
    if (!field_get(root, "prices", nowhere, &f) || f.val == NULL ||
        !expect_kind(ld, &f, FYNT_MAPPING, ""))
        return NULL;
    tab = lalloc(ld, (size_t)fy_node_mapping_item_count(f.val), sizeof(*tab));
    if (tab == NULL)
        return NULL;
    while ((p = fy_node_mapping_iterate(f.val, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(p);
        struct field vf;
        struct lx_str name, missing;
        struct loc at = node_loc(k, f.at);
        const char *slash;
        char what[160];

        if (scalar_value(ld, k, at, "prices: a key", F_REQUIRED, &name, &missing) != V_OK)
            continue;
        slash = strchr(name.ptr, '/');
        if (slash == NULL || slash == name.ptr || slash[1] == '\0') {
            ERR(ld, at, "prices: expected \"provider/model\" as the key, got \"%s\"", ld->raw);
            continue;
        }
        for (size_t j = 0; j < n; j++)
            if (strcmp(tab[j].name, name.ptr) == 0)
                ERR(ld, at, "prices: \"%s\" is listed twice (first at line %u)", ld->raw,
                    tab[j].at.line);
        snprintf(what, sizeof(what), "prices[\"%s\"]", name.ptr);
        vf = (struct field){.name = name.ptr,
                            .val = is_null(fy_node_pair_value(p)) ? NULL : fy_node_pair_value(p),
                            .key_at = at,
                            .present = true};
        vf.at = node_loc(vf.val, at);
        tab[n] = (struct price_entry){.name = name.ptr, .at = at};
        load_price(ld, &vf, what, true, &tab[n].v);
        n++;
    }
    *n_out = n;
    return tab;
}

/* Resolves "provider/model" (our arena copy in v, split in place) into a new target of m.
 * NULL when it is wrong (reported). */
static struct lx_config_target *add_target(struct ld *ld, struct lx_config_model *m,
                                           struct lx_str v, struct loc at, const char *what)
{
    struct lx_config *cfg = ld->cfg;
    const struct lx_config_provider *p;
    struct lx_config_target *t;
    const char *slash = strchr(v.ptr, '/');
    bool fresh;

    if (slash == NULL || slash == v.ptr || slash[1] == '\0') {
        ERR(ld, at, "%s: expected \"provider/model\", got \"%s\"", what, ld->raw);
        return NULL;
    }
    p = resolve_provider(ld, lx_str_make(v.ptr, (size_t)(slash - v.ptr)), at, what, &fresh);
    if (p == NULL)
        return NULL;
    if (!p->enabled && !fresh)
        WARN(ld, at, "%s: provider %s is disabled; this target will be skipped", what, p->name);
    ((char *)v.ptr)[slash - v.ptr] = '\0'; /* split our arena copy in two */
    t = &m->targets[m->n_targets++];
    *t = (struct lx_config_target){.provider = p->name,
                                   .model = slash + 1,
                                   .provider_index = (size_t)(p - cfg->providers),
                                   .weight = 1};
    return t;
}

/* One target written as a mapping: {target: "p/m", weight, price, context_window}. */
static void load_target_map(struct ld *ld, struct fy_node *item, struct loc at,
                            struct lx_config_model *m, const char *what, struct loc *weight_at)
{
    struct lx_config_target *t;
    struct field tf, pf;
    struct lx_str v, missing;
    uint64_t w;
    char sub[200];

    check_keys(ld, item, target_keys, what);
    field_get(item, "target", at, &tf);
    snprintf(sub, sizeof(sub), "%s.target", what);
    if (scalar_value(ld, tf.val, tf.present ? tf.at : at, sub, F_REQUIRED, &v, &missing) != V_OK)
        return;
    t = add_target(ld, m, v, tf.at, what);
    if (t == NULL)
        return;
    if (get_uint(ld, item, "weight", what, 0, LX_CONFIG_WEIGHT_MAX, false, &w) == V_OK) {
        struct field wf;
        t->weight = (unsigned)w;
        field_get(item, "weight", at, &wf);
        if (weight_at->line == 0)
            *weight_at = wf.at;
    }
    if (get_uint(ld, item, "context_window", what, 1, LX_CONFIG_CONTEXT_MAX, false, &w) == V_OK)
        t->context_window = w;
    if (field_get(item, "price", at, &pf)) {
        snprintf(sub, sizeof(sub), "%s.price", what);
        load_price(ld, &pf, sub, false, t);
    }
}

static void load_targets(struct ld *ld, struct field *f, struct lx_config_model *m,
                         const char *where, struct loc *weight_at)
{
    struct fy_node *item;
    void *it = NULL;
    size_t i = 0;

    if (!expect_kind(ld, f, FYNT_SEQUENCE, where))
        return;
    if (f->val == NULL || fy_node_sequence_item_count(f->val) == 0) {
        ERR(ld, f->at, "%s.targets: at least one \"provider/model\" is required", where);
        return;
    }
    m->targets = lalloc(ld, (size_t)fy_node_sequence_item_count(f->val), sizeof(*m->targets));
    if (m->targets == NULL)
        return;
    while ((item = fy_node_sequence_iterate(f->val, &it)) != NULL) {
        struct loc at = node_loc(item, f->at);
        struct lx_str v, missing;
        char what[160];

        snprintf(what, sizeof(what), "%s.targets[%zu]", where, i++);
        if (!is_null(item) && fy_node_get_type(item) == FYNT_MAPPING) {
            load_target_map(ld, item, at, m, what, weight_at);
            continue;
        }
        if (scalar_value(ld, is_null(item) ? NULL : item, at, what, F_REQUIRED, &v, &missing) !=
            V_OK)
            continue;
        add_target(ld, m, v, at, what);
    }
}

static void load_strategy(struct ld *ld, struct fy_node *item, const char *where,
                          struct lx_config_model *m)
{
    const char *s = NULL, *hint;
    struct loc at;

    if (get_str(ld, item, "strategy", where, 0, nowhere, &s, &at) != V_OK)
        return;
    for (size_t i = 0; i < LX_ARRAY_SIZE(strategy_names); i++)
        if (strcmp(s, strategy_names[i]) == 0) {
            m->strategy = (enum lx_config_strategy)i;
            return;
        }
    hint = closest(s, strlen(s), strategy_names, LX_ARRAY_SIZE(strategy_names));
    if (hint == NULL && strcmp(s, "least_busy") == 0)
        hint = "least-busy";
    ERR(ld, at,
        "%s.strategy: unknown strategy \"%s\"%s%s%s; expected priority, weighted, "
        "latency, cost or least-busy",
        where, ld->raw, hint ? " (did you mean \"" : "", hint ? hint : "", hint ? "\"?)" : "");
}

/* After the targets: the prices table, and what the strategy needs. */
static void check_strategy(struct ld *ld, struct lx_config_model *m, const char *where,
                           struct loc at, struct loc weight_at, struct price_entry *prices,
                           size_t n_prices)
{
    unsigned total = 0;
    bool any_price = false;

    for (size_t i = 0; i < m->n_targets; i++) {
        struct lx_config_target *t = &m->targets[i];
        for (size_t j = 0; j < n_prices; j++) {
            const char *slash = strchr(prices[j].name, '/');
            if (strlen(t->provider) != (size_t)(slash - prices[j].name) ||
                memcmp(t->provider, prices[j].name, strlen(t->provider)) != 0 ||
                strcmp(t->model, slash + 1) != 0)
                continue;
            prices[j].used = true;
            if (!t->has_price && prices[j].v.has_price) {
                t->has_price = true;
                t->price_in = prices[j].v.price_in;
                t->price_out = prices[j].v.price_out;
            }
            if (t->context_window == 0)
                t->context_window = prices[j].v.context_window;
        }
        total += t->weight;
        any_price |= t->has_price;
    }
    if (m->n_targets == 0)
        return;
    if (m->strategy == LX_CONFIG_STRATEGY_WEIGHTED && total == 0)
        ERR(ld, weight_at.line ? weight_at : at,
            "%s: strategy weighted needs at least one target with a weight above 0", where);
    if (m->strategy != LX_CONFIG_STRATEGY_WEIGHTED && weight_at.line != 0)
        WARN(ld, weight_at, "%s: weight is used only by strategy: weighted (this alias uses %s)",
             where, strategy_names[m->strategy]);
    if (m->strategy == LX_CONFIG_STRATEGY_COST && !any_price)
        WARN(ld, at,
             "%s: strategy cost, but no target has a price (give price: {input, "
             "output} or a prices: entry); the targets are tried as written",
             where);
}

static void load_models(struct ld *ld, struct fy_node *root)
{
    struct lx_config *cfg = ld->cfg;
    struct fy_node *item;
    struct field f;
    void *it = NULL;
    size_t idx = 0, n_prices = 0;
    unsigned *lines;
    struct price_entry *prices = load_prices(ld, root, &n_prices);

    if (!field_get(root, "models", nowhere, &f) || f.val == NULL ||
        !expect_kind(ld, &f, FYNT_SEQUENCE, ""))
        goto out;
    cfg->models = lalloc(ld, (size_t)fy_node_sequence_item_count(f.val), sizeof(*cfg->models));
    lines = lalloc(ld, (size_t)fy_node_sequence_item_count(f.val), sizeof(*lines));
    if (cfg->models == NULL || lines == NULL)
        return;
    while ((item = fy_node_sequence_iterate(f.val, &it)) != NULL) {
        struct lx_config_model *m = &cfg->models[cfg->n_models];
        struct loc at = node_loc(item, f.at), name_at, weight_at = nowhere;
        char where[96];
        struct field tf;
        bool ok = true;

        snprintf(where, sizeof(where), "models[%zu]", idx++);
        if (fy_node_get_type(item) != FYNT_MAPPING) {
            ERR(ld, at, "%s: expected a mapping with name and targets, got %s", where,
                kind_name(item));
            continue;
        }
        *m = (struct lx_config_model){0};
        check_keys(ld, item, model_keys, where);
        if (get_str(ld, item, "name", where, F_REQUIRED, at, &m->name, &name_at) == V_OK) {
            for (size_t j = 0; j < cfg->n_models; j++)
                if (strcmp(cfg->models[j].name, m->name) == 0) {
                    ERR(ld, name_at, "duplicate model name \"%s\" (first defined at line %u)",
                        m->name, lines[j]);
                    ok = false;
                }
            snprintf(where, sizeof(where), "model %s", m->name);
        } else {
            ok = false;
        }
        load_strategy(ld, item, where, m);
        field_get(item, "targets", at, &tf);
        if (!tf.present)
            ERR(ld, at, "%s: targets is required", where);
        else
            load_targets(ld, &tf, m, where, &weight_at);
        check_strategy(ld, m, where, at, weight_at, prices, n_prices);
        if (m->n_targets == 0)
            ok = false;
        lines[cfg->n_models] = name_at.line;
        if (ok && !ld->oom)
            cfg->n_models++;
    }
out:
    for (size_t j = 0; j < n_prices; j++)
        if (!prices[j].used)
            WARN(ld, prices[j].at, "prices: \"%s\" is not the target of any alias (unused)",
                 prices[j].name);
}

static void load_routes(struct ld *ld, struct fy_node *root, bool *use_defaults)
{
    struct lx_config *cfg = ld->cfg;
    struct fy_node *item;
    struct field f;
    void *it = NULL;
    size_t idx = 0;

    *use_defaults = !field_get(root, "routes", nowhere, &f);
    if (f.val == NULL || !expect_kind(ld, &f, FYNT_SEQUENCE, ""))
        return;
    cfg->routes = lalloc(ld, (size_t)fy_node_sequence_item_count(f.val), sizeof(*cfg->routes));
    if (cfg->routes == NULL)
        return;
    while ((item = fy_node_sequence_iterate(f.val, &it)) != NULL) {
        struct lx_config_route *r = &cfg->routes[cfg->n_routes];
        struct loc at = node_loc(item, f.at), pat;
        char where[48];
        bool ok = true;

        snprintf(where, sizeof(where), "routes[%zu]", idx++);
        if (fy_node_get_type(item) != FYNT_MAPPING) {
            ERR(ld, at, "%s: expected a mapping {match: GLOB, provider: NAME}, got %s", where,
                kind_name(item));
            continue;
        }
        check_keys(ld, item, route_keys, where);
        if (get_str(ld, item, "match", where, F_REQUIRED, at, &r->match, &pat) != V_OK)
            ok = false;
        if (get_str(ld, item, "provider", where, F_REQUIRED, at, &r->provider, &pat) == V_OK) {
            char what[64];
            bool fresh;
            snprintf(what, sizeof(what), "%s.provider", where);
            if (resolve_provider(ld, lx_str_cstr(r->provider), pat, what, &fresh) == NULL)
                ok = false;
        } else {
            ok = false;
        }
        if (ok && !ld->oom)
            cfg->n_routes++;
    }
}

static void load_auth(struct ld *ld, struct fy_node *root)
{
    struct lx_config *cfg = ld->cfg;
    struct field mf, lf;
    struct lx_str v, missing = LX_STR_NULL;
    const char *auth = NULL;
    struct loc auth_at;
    int rc, arc;

    field_get(root, "master_key", nowhere, &mf);
    rc = scalar_value(ld, mf.val, mf.at, "master_key", F_SECRET | F_OPTIONAL_ENV, &v, &missing);
    if (rc == V_OK) {
        cfg->master_key = v.ptr;
        if (v.len < 16)
            WARN(ld, mf.at, "master_key is short (%zu bytes); use 16 or more random bytes",
                 v.len);
    } else if (rc == V_UNSET) {
        if (missing.len > 0)
            WARN(ld, mf.at, "master_key: environment variable %.*s is not set: clients are not "
                            "authenticated",
                 LX_STR_FMT(missing));
        else
            WARN(ld, mf.at, "master_key is empty: clients are not authenticated");
    }
    arc = get_str(ld, root, "auth", "", 0, nowhere, &auth, &auth_at);
    if (arc == V_OK && strcmp(auth, "none") == 0) {
        if (cfg->master_key != NULL)
            WARN(ld, auth_at, "auth: none: master_key is ignored");
        cfg->master_key = NULL;
    } else if (arc == V_OK && strcmp(auth, "master_key") == 0) {
        if (cfg->master_key == NULL)
            ERR(ld, auth_at, "auth: master_key, but master_key is not set");
    } else if (arc == V_OK) {
        ERR(ld, auth_at, "auth: expected master_key or none, got \"%s\"", ld->raw);
    }
    cfg->auth = cfg->master_key ? LX_CONFIG_AUTH_MASTER_KEY : LX_CONFIG_AUTH_NONE;
    if (cfg->auth == LX_CONFIG_AUTH_NONE && arc != V_OK &&
        !lx_config_is_loopback(cfg->listen_host)) {
        field_get(root, "listen", nowhere, &lf);
        ERR(ld, lf.at, "listen: %s is not a loopback address and there is no master_key: set "
                       "master_key, or `auth: none` to serve without client authentication",
            cfg->listen_host);
    }
}

static void load_root(struct ld *ld, struct fy_node *root)
{
    bool use_default_routes = true;
    size_t enabled = 0;

    if (root != NULL && fy_node_get_type(root) != FYNT_MAPPING) {
        ERR(ld, node_loc(root, first_line), "the file must be a mapping (listen:, "
                                                    "providers: ...), not %s",
            kind_name(root));
        return;
    }
    if (root != NULL)
        check_keys(ld, root, top_keys, "top level");
    load_top(ld, root);
    load_auth(ld, root);
    load_cors(ld, root);
    load_image_fetch(ld, root);
    load_redis(ld, root);
    load_key_pool(ld, root);
    load_providers(ld, root);
    load_models(ld, root);
    load_routes(ld, root, &use_default_routes);
    if (!ld->oom && lx__config_finish_routes(ld->cfg, use_default_routes) != LX_OK)
        ld->oom = true;
    for (size_t i = 0; i < ld->cfg->n_providers; i++)
        enabled += ld->cfg->providers[i].enabled;
    if (enabled == 0 && ld->errs->n_errors == 0)
        WARN(ld, nowhere, "no enabled provider: every request will fail");
}

/* Messages of this load in file order (stable; placeless ones last): easier to read. */
static void sort_msgs(struct lx_config_errs *errs, size_t from)
{
    for (size_t i = from + 1; i < errs->n; i++) {
        struct lx_config_msg m = errs->msgs[i];
        unsigned long long key = m.line ? ((unsigned long long)m.line << 32) | m.col : ~0ull;
        size_t j = i;

        while (j > from) {
            const struct lx_config_msg *p = &errs->msgs[j - 1];
            unsigned long long pk = p->line ? ((unsigned long long)p->line << 32) | p->col : ~0ull;
            if (pk <= key)
                break;
            errs->msgs[j] = errs->msgs[j - 1];
            j--;
        }
        errs->msgs[j] = m;
    }
}

int lx_config_load_string(const char *name, const char *yaml, size_t len, struct lx_config **out,
                          struct lx_config_errs *errs)
{
    struct fy_diag_cfg dc;
    struct fy_diag *diag = NULL;
    struct fy_document *fyd = NULL;
    struct fy_diag_error *de;
    void *it = NULL;
    size_t errors_before = errs->n_errors, msgs_before = errs->n;
    struct ld ld = {.file = name, .errs = errs};
    int rc = LX_ENOMEM;

    *out = NULL;
    ld.cfg = lx__config_new(name);
    if (ld.cfg == NULL)
        goto out;
    ld.a = ld.cfg->arena;
    fy_diag_cfg_default(&dc);
    dc.fp = NULL;
    dc.colorize = false;
    diag = fy_diag_create(&dc);
    if (diag == NULL)
        goto out;
    fy_diag_set_collect_errors(diag, true);
    {
        struct fy_parse_cfg pc = {
            .flags = FYPCF_QUIET | FYPCF_RESOLVE_DOCUMENT | FYPCF_JSON_NONE, .diag = diag};
        fyd = fy_document_build_from_string(&pc, yaml, len);
    }
    while ((de = fy_diag_errors_iterate(diag, &it)) != NULL) {
        if (de->type < FYET_ERROR)
            continue;
        lx__config_msg(errs, LX_CONFIG_ERROR, name, de->line > 0 ? (unsigned)de->line : 1,
                       de->column > 0 ? (unsigned)de->column : 1, "YAML: %s",
                       de->msg ? de->msg : "syntax error");
    }
    if (errs->n_errors == errors_before) {
        if (fyd == NULL && len > 0 && memchr(yaml, '\0', len) != NULL)
            lx__config_msg(errs, LX_CONFIG_ERROR, name, 0, 0, "YAML: the file holds a NUL byte");
        else
            load_root(&ld, fyd ? fy_document_root(fyd) : NULL);
    }
    if (ld.oom) {
        lx__config_msg(errs, LX_CONFIG_ERROR, name, 0, 0, "out of memory");
        goto out;
    }
    rc = errs->n_errors == errors_before ? LX_OK : LX_EINVAL;
    if (rc == LX_OK) {
        *out = ld.cfg;
        ld.cfg = NULL;
    }
out:
    if (rc == LX_ENOMEM && !ld.oom)
        lx__config_msg(errs, LX_CONFIG_ERROR, name, 0, 0, "out of memory");
    sort_msgs(errs, msgs_before);
    fy_document_destroy(fyd);
    if (diag != NULL)
        fy_diag_destroy(diag);
    lx_config_unref(ld.cfg);
    return rc;
}

int lx_config_load_file(const char *path, struct lx_config **out, struct lx_config_errs *errs)
{
    struct stat st;
    char *text = NULL;
    size_t got = 0;
    int fd, rc;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = errno == ENOENT ? LX_ENOTFOUND : LX_ESYS;
        lx__config_msg(errs, LX_CONFIG_ERROR, path, 0, 0, "cannot open: %s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > (off_t)LX_CONFIG_MAX_FILE) {
        rc = S_ISREG(st.st_mode) ? LX_ETOOBIG : LX_EINVAL;
        lx__config_msg(errs, LX_CONFIG_ERROR, path, 0, 0,
                       S_ISREG(st.st_mode) ? "larger than %u bytes" : "not a regular file%.0u",
                       LX_CONFIG_MAX_FILE);
        goto out;
    }
    text = lx_malloc((size_t)st.st_size + 1);
    if (text == NULL) {
        rc = LX_ENOMEM;
        lx__config_msg(errs, LX_CONFIG_ERROR, path, 0, 0, "out of memory");
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = LX_ESYS;
            lx__config_msg(errs, LX_CONFIG_ERROR, path, 0, 0, "cannot read: %s",
                           n < 0 ? strerror(errno) : "file shrank while read");
            goto out;
        }
        got += (size_t)n;
    }
    text[got] = '\0';
    rc = lx_config_load_string(path, text, got, out, errs);
out:
    if (fd >= 0)
        close(fd);
    free(text);
    return rc;
}
