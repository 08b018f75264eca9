/* config.h - the YAML configuration file (libfyaml) as an immutable, reference-counted snapshot.
 * A loader builds a struct lx_config from a file, a string or the environment; once returned it
 * is never written again, so any thread may read it. Each holder (a loop, a request) keeps one
 * reference; a reload builds a new snapshot and swaps it in (struct lx_config_slot), and the old
 * one is freed when its last holder lets go. Loading runs on whatever thread calls it (main,
 * on SIGHUP). Secrets (master_key, provider keys, sensitive headers) never appear in messages,
 * and lx_config_dump() prints them as "***". Pure: no libuv, no sockets; reads files and
 * the environment only. */
#ifndef LX_CONFIG_H
#define LX_CONFIG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/header.h"
#include "core/log.h"
#include "core/str.h"

#define LX_CONFIG_MAX_FILE (4u << 20) /* larger files are refused */
#define LX_CONFIG_MAX_MSGS 100        /* messages kept per load; the rest are counted */
#define LX_CONFIG_IMAGE_FETCH_MAX_BYTES 20971520u /* image_fetch defaults */
#define LX_CONFIG_IMAGE_FETCH_TIMEOUT_MS 10000u
#define LX_CONFIG_IMAGE_FETCH_MAX_IMAGES 16u

enum lx_config_auth {
    LX_CONFIG_AUTH_MASTER_KEY = 0, /* clients send master_key (Bearer or x-api-key) */
    LX_CONFIG_AUTH_NONE,           /* no client authentication (loopback, or `auth: none`) */
};

enum lx_config_proto {
    LX_CONFIG_PROTO_OPENAI = 0, /* OpenAI chat completions and every compatible API */
    LX_CONFIG_PROTO_ANTHROPIC,  /* Messages API */
    LX_CONFIG_PROTO_GEMINI,     /* Google AI Studio generateContent */
    LX_CONFIG_PROTO_VERTEX,     /* Vertex AI: Gemini and Anthropic models, OAuth2 */
    LX_CONFIG_PROTO_BEDROCK,    /* AWS Bedrock Converse, SigV4 */
    LX_CONFIG_PROTO_AZURE,      /* Azure OpenAI: deployment URLs, api-key header */
    LX_CONFIG_PROTO_COHERE,     /* Cohere v2 chat */
    LX_CONFIG_PROTO_OLLAMA,     /* Ollama native /api/chat, NDJSON */
    LX_CONFIG_PROTO_WORKERS_AI, /* Cloudflare Workers AI REST /ai/run/@cf/... */
};
#define LX_CONFIG_N_PROTOS 9

struct lx_config_timeouts { /* upstream, milliseconds */
    unsigned connect_ms, first_byte_ms, idle_ms, total_ms;
};

/* How a provider's pool picks a key (pool/pool.h enum lx_pool_strategy, in the same order). */
enum lx_config_key_strategy {
    LX_CONFIG_KEYS_RANDOM = 0,  /* uniform among usable keys (default) */
    LX_CONFIG_KEYS_WEIGHTED,    /* by key weight among usable keys */
    LX_CONFIG_KEYS_ROUND_ROBIN, /* the next usable key after the last one picked */
};
#define LX_CONFIG_N_KEY_STRATEGIES 3
/* "random", "weighted", "round-robin"; NULL when out of range. */
const char *lx_config_key_strategy_name(enum lx_config_key_strategy s);

/* The top-level `key_pool:` rules, shared by every provider's pool of the snapshot
 * (gateway/keys.c turns them into a struct lx_pool_conf). Every snapshot from lx__config_new
 * starts with the defaults below; the loader checks the bounds. */
struct lx_config_key_pool {
    unsigned cooldown_s;       /* 429 without Retry-After: 65 (1..86400) */
    unsigned max_cooldown_s;   /* a Retry-After above this is cut to it: 86400 (1..604800) */
    unsigned consecutive_429;  /* this many 429s in a row on a key and model: 2 (1..100) ... */
    unsigned long_cooldown_s;  /* ... then this (Google: LA midnight): 86400 (1..604800) */
    unsigned max_attempts;     /* attempts per request, the first included: 3 (1..10) */
    unsigned backoff_base_ms;  /* full jitter in [0, min(cap, base * 2^n)]: 100 (0..60000) */
    unsigned backoff_cap_ms;   /* 5000 (0..300000), >= base */
    bool retry_timeouts;       /* retry an attempt that timed out before any byte: true */
    unsigned budget_percent;   /* retries <= this % of requests ...: 20 (0..1000) */
    unsigned budget_min_per_s; /* ... + this many per second: 10 (0..100000) */
    bool probe_enabled;        /* probe disabled keys with a cheap request: false */
    unsigned probe_interval_s; /* between two probes of one key: 600 (1..604800) */
};
#define LX_CONFIG_KEY_WEIGHT_MAX 1000000u
void lx_config_key_pool_defaults(struct lx_config_key_pool *kp); /* the values above */

/* A provider's optional active health check (gateway/probe.c runs it). */
struct lx_config_health_check {
    bool enabled;        /* false by default; `health_check: true` = enabled, defaults */
    unsigned interval_s; /* 30 (1..3600) */
    unsigned timeout_ms; /* 5000 (1..600000) */
    unsigned failures;   /* consecutive failures before the provider is unhealthy: 2 (1..100) */
    const char *path;    /* appended to base_url ("/models"); NULL: the protocol's default */
};
#define LX_CONFIG_HEALTH_CHECK_DEFAULTS                                                        \
    ((struct lx_config_health_check){                                                          \
        .enabled = false, .interval_s = 30, .timeout_ms = 5000, .failures = 2, .path = NULL})

struct lx_config_provider {
    const char *name;          /* what clients write before the '/': "openai/gpt-4o" */
    const char *type;          /* canonical preset type (aliases resolved): "openai", "groq" */
    enum lx_config_proto proto;
    const char *base_url;      /* http(s), no trailing '/' */
    const char **keys;         /* secrets; n_keys may be 0 (local backends) */
    size_t n_keys;
    unsigned *key_weights;     /* n_keys entries (0..LX_CONFIG_KEY_WEIGHT_MAX), aligned with
                                * keys (unset variables dropped from both), or NULL when all
                                * are 1 */
    enum lx_config_key_strategy key_strategy;
    struct lx_config_health_check health_check;
    struct lx_header *headers; /* extra request headers; NUL-terminated slices */
    size_t n_headers;
    struct lx_config_timeouts timeouts; /* global `upstream:` values unless overridden */
    const char *api_version;   /* azure: "2024-10-21" (NULL: the v1 style, no api-version) */
    const char *region;        /* bedrock, vertex: "us-east-1", "us-central1" (NULL: from URL) */
    const char *project;       /* vertex: the Google Cloud project (NULL: from the key file) */
    bool enabled;              /* false: `enabled: false`, or every key was an unset variable */
    bool keyless;              /* disabled only for want of a key: a client's own key (BYOK)
                                * may still use it */
    unsigned line;             /* where it was defined (0: from the environment) */
};

/* How an alias orders its targets for each request (router/strategy.h). */
enum lx_config_strategy {
    LX_CONFIG_STRATEGY_PRIORITY = 0, /* as written; the next on failure (default) */
    LX_CONFIG_STRATEGY_WEIGHTED,     /* first drawn at random by weight, the rest by weight */
    LX_CONFIG_STRATEGY_LATENCY,      /* lowest moving average of time to first token first */
    LX_CONFIG_STRATEGY_COST,         /* lowest price for the request's token counts first */
    LX_CONFIG_STRATEGY_LEAST_BUSY,   /* fewest requests in flight first */
};
#define LX_CONFIG_N_STRATEGIES 5
#define LX_CONFIG_WEIGHT_MAX 1000000u
#define LX_CONFIG_PRICE_MAX 1000000.0    /* dollars per million tokens */
#define LX_CONFIG_CONTEXT_MAX 100000000u /* tokens */

/* "priority", "weighted", "latency", "cost", "least-busy"; NULL when out of range. */
const char *lx_config_strategy_name(enum lx_config_strategy s);

struct lx_config_target {
    const char *provider;       /* name of a configured provider */
    const char *model;          /* the upstream model name (may itself contain '/') */
    size_t provider_index;      /* into cfg->providers */
    unsigned weight;            /* strategy weighted: 0..LX_CONFIG_WEIGHT_MAX; default 1; 0 = only
                                 * as a fallback */
    bool has_price;             /* price_in/price_out were given (the target's `price:`, else the
                                 * top-level `prices:` entry for "provider/model") */
    double price_in, price_out; /* dollars per million input / output tokens */
    uint64_t context_window;    /* tokens the model accepts (prompt + output); 0 = unknown */
};

struct lx_config_model { /* an alias: targets are tried in the order its strategy gives */
    const char *name;
    struct lx_config_target *targets;
    size_t n_targets;
    enum lx_config_strategy strategy;
};

struct lx_config_route { /* a bare model name matching `match` goes to `provider` */
    const char *match;   /* glob: '*' any run of bytes, '?' one byte */
    const char *provider;
    long provider_index; /* -1: no such provider configured (default rules only) */
};

struct lx_config {
    atomic_uint refs;
    const char *source; /* file name, "<environment>", or the name given to load_string */

    const char *listen_host; /* without brackets: "127.0.0.1", "::1", "0.0.0.0" */
    unsigned listen_port;
    unsigned workers;        /* 0: one per CPU */
    const char *master_key;  /* secret; NULL when not set */
    enum lx_config_auth auth; /* MASTER_KEY exactly when master_key != NULL */
    enum lx_log_level log_level;

    struct {
        uint64_t max_body;
        unsigned header_timeout_ms, body_timeout_ms, keepalive_timeout_ms, send_timeout_ms,
            drain_timeout_ms;
        bool answer_half_closed;
    } server;

    struct {
        struct lx_config_timeouts timeouts;
        const char *ca_file; /* NULL: the system store */
    } upstream;

    struct {
        const char **origins; /* "*" or "https://host[:port]"; none: CORS off */
        size_t n_origins;
    } cors;

    /* Image URLs fetched by the gateway and inlined as base64 for providers that cannot fetch
     * them (gateway/fetch.h). Off by default: a client's URL is a server-side request forgery
     * risk. A value of 0 in max_bytes, timeout_ms or max_images means the default below
     * (snapshots not made by the file loader leave them 0). */
    struct {
        bool enabled;
        const char **allow_hosts; /* lower case: "host", "*.suffix" (any subdomain), "*" (any:
                                   * only with allow_private false); IPv6 without brackets */
        size_t n_allow_hosts;
        bool allow_private;       /* fetch from loopback, private, link-local, CGNAT ... */
        uint64_t max_bytes;       /* per image; default LX_CONFIG_IMAGE_FETCH_MAX_BYTES */
        unsigned timeout_ms;      /* per image, whole exchange */
        unsigned max_images;      /* distinct URLs fetched per request */
    } image_fetch;

    struct lx_config_key_pool key_pool; /* `key_pool:`: the defaults when absent */

    struct lx_config_provider *providers;
    size_t n_providers;
    struct lx_config_model *models;
    size_t n_models;
    struct lx_config_route *routes; /* checked in order; the defaults when the file has none */
    size_t n_routes;

    struct {
        const char *url;    /* secret (may hold a password): "redis://[:pw@]host[:port][/0]";
                             * NULL: state stays in this process */
        const char *prefix; /* key and channel prefix; NULL: "llmux:" */
    } redis;

    struct lx_arena *arena; /* owns every string and array above */
    /* Set once by the one who publishes the snapshot, before any other thread sees it, and
     * freed by a cleanup on `arena` (the gateway: the key pools of this snapshot). */
    void *attached;
};

enum lx_config_severity { LX_CONFIG_ERROR = 0, LX_CONFIG_WARNING };

struct lx_config_msg {
    enum lx_config_severity severity;
    unsigned line, col; /* 1-based; 0 when there is no place (unreadable file) */
    char *text;         /* "FILE:LINE:COL: error: message"; never holds a secret */
};

/* Every message of one load, in the order found. Owned by the caller: lx_config_errs_release. */
struct lx_config_errs {
    struct lx_config_msg *msgs;
    size_t n, cap;
    size_t n_errors, n_warnings; /* counts include messages dropped past LX_CONFIG_MAX_MSGS */
};
#define LX_CONFIG_ERRS_INIT {.msgs = NULL, .n = 0, .cap = 0, .n_errors = 0, .n_warnings = 0}

void lx_config_errs_release(struct lx_config_errs *errs);
/* Writes every message, one a line, into b. Returns b->err. */
int lx_config_errs_format(const struct lx_config_errs *errs, struct lx_buf *b);

/* Load, interpolate ${VAR} / ${VAR:-default} / $$, and validate. On LX_OK *out is a new
 * snapshot with one reference (the caller's) and errs may hold warnings. On failure *out is
 * NULL and errs holds at least one error: LX_EINVAL (the file is wrong; every error found is
 * there), LX_ENOTFOUND / LX_ESYS / LX_ETOOBIG (cannot read the file), LX_ENOMEM.
 * errs is appended to, so it must be initialised (LX_CONFIG_ERRS_INIT). */
int lx_config_load_file(const char *path, struct lx_config **out, struct lx_config_errs *errs);
/* The same from memory; `name` stands for the file name in messages. */
int lx_config_load_string(const char *name, const char *yaml, size_t len, struct lx_config **out,
                          struct lx_config_errs *errs);
/* No file: 127.0.0.1:4000, defaults, a provider for each usual *_API_KEY variable that is set
 * (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, GROQ_API_KEY ...), LLMUX_MASTER_KEY. */
int lx_config_from_env(struct lx_config **out, struct lx_config_errs *errs);

struct lx_config *lx_config_ref(struct lx_config *cfg); /* returns cfg */
void lx_config_unref(struct lx_config *cfg);            /* NULL-safe; frees at zero */

/* Lookups on a snapshot (any thread). NULL / -1 when absent. */
const struct lx_config_provider *lx_config_provider_find(const struct lx_config *cfg,
                                                          struct lx_str name);
const struct lx_config_model *lx_config_model_find(const struct lx_config *cfg,
                                                    struct lx_str name);
/* The first route whose glob matches `model` and whose provider is configured and enabled. */
const struct lx_config_route *lx_config_route_match(const struct lx_config *cfg,
                                                    struct lx_str model);
bool lx_config_glob_match(struct lx_str pattern, struct lx_str s);
bool lx_config_is_loopback(const char *host);

/* The effective configuration as YAML (every default filled in), for `check-config --print`.
 * Secrets are written as "***". Returns b->err. */
int lx_config_dump(const struct lx_config *cfg, struct lx_buf *b);

/* The current snapshot, shared by threads: a short mutex around a pointer swap, so a reader
 * never takes a reference on a snapshot that is being freed. */
struct lx_config_slot {
    pthread_mutex_t mu;
    struct lx_config *cur;
};
void lx_config_slot_init(struct lx_config_slot *s, struct lx_config *cfg); /* takes cfg's ref */
struct lx_config *lx_config_slot_get(struct lx_config_slot *s); /* a new ref: unref it */
void lx_config_slot_swap(struct lx_config_slot *s, struct lx_config *next); /* takes next's ref */
void lx_config_slot_release(struct lx_config_slot *s);

#endif /* LX_CONFIG_H */
