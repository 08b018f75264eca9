/* config_int.h - shared inside src/config/ only: presets, interpolation, messages, the snapshot
 * constructor and the checks the file loader and the environment loader both run. */
#ifndef LX_CONFIG_INT_H
#define LX_CONFIG_INT_H

#include <stdarg.h>

#include "config/config.h"
#include "core/arena.h"

#define LX_CONFIG_ARENA_MAX ((size_t)64 << 20) /* a snapshot never needs more */

/* One provider preset (presets.c, docs/providers.md): what `type: X` means. The first four
 * fields are what the loaders use; the rest describe the provider for `llmux presets`, the
 * console and the docs. Const data; any thread. */
struct lx__config_preset {
    const char *type;          /* canonical `type:` value, and the provider name from the env */
    enum lx_config_proto proto;
    const char *base_url;      /* NULL: the file must give one (it holds an account, a resource)
                                * or it is built (base_template, region/project) */
    const char *env_key;       /* the usual variable holding its key; NULL: keyless */
    const char *display;       /* "Anthropic Claude" */
    const char *category;      /* top-tier | domestic | open-source | specialized | emerging */
    const char *region;        /* global | china | us | europe */
    const char *auth;          /* bearer | x-api-key | api-key | x-goog-api-key | sigv4 |
                                * oauth2-service-account | none | custom */
    const char *base_template; /* with base_url NULL: a URL with ${VAR} (interpolated at load,
                                * e.g. the Cloudflare account); NULL: none */
    const char *models[6];     /* a few default models, NULL-terminated */
    bool chat;                 /* false: listed only (no chat API, or an auth llmux lacks) */
    bool from_env;             /* lx_config_from_env() makes it from env_key alone */
    const char *support;       /* what works and what does not, one sentence */
};

extern const struct lx__config_preset lx__config_presets[];
extern const size_t lx__config_n_presets;
/* The preset for a `type:` value or one of its aliases (S3's ids: "google" = "gemini",
 * "azure-openai" = "azure", ...). NULL when unknown. */
const struct lx__config_preset *lx__config_preset_find(struct lx_str type);
/* Alias -> canonical type; every alias names a preset in the table. */
struct lx__config_alias {
    const char *alias, *type;
};
extern const struct lx__config_alias lx__config_aliases[];
extern const size_t lx__config_n_aliases;

/* Expands s into out: "${NAME}", "${NAME:-default}" (default when unset or empty), "$$" for
 * one '$'; any other '$' is kept. NAME is [A-Za-z_][A-Za-z0-9_]*; the default is literal text up
 * to the first '}'. Returns LX_OK; LX_ENOTFOUND when a variable without default is unset
 * (*missing is its name, a slice of s); LX_EPARSE on bad syntax (*why says what);
 * out->err on allocation failure. */
int lx__config_interpolate(struct lx_str s, struct lx_buf *out, struct lx_str *missing,
                           const char **why);

/* Appends "FILE:LINE:COL: error: ..." (line 0: "FILE: error: ..."). Aborts on OOM: messages
 * are few and short (bounded by LX_CONFIG_MAX_MSGS). */
void lx__config_msg(struct lx_config_errs *e, enum lx_config_severity sev, const char *file,
                    unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void lx__config_vmsg(struct lx_config_errs *e, enum lx_config_severity sev, const char *file,
                     unsigned line, unsigned col, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

/* A snapshot with every default set, one reference, no providers. NULL on OOM. */
struct lx_config *lx__config_new(const char *source);
/* Resolves route provider indexes and fills in the default routes when routes == NULL.
 * LX_OK or LX_ENOMEM. */
int lx__config_finish_routes(struct lx_config *cfg, bool use_defaults);

/* Fills *p for preset pr from its usual variable (name = type). LX_OK (enabled, with the key);
 * LX_ENOTFOUND (variable unset, or cloudflare without CLOUDFLARE_ACCOUNT_ID); LX_ENOMEM. */
int lx__config_env_provider(struct lx_config *cfg, const struct lx__config_preset *pr,
                            struct lx_config_provider *p);

/* The expansion of a base_template is one host label or path segment (an account id): false
 * when it holds '/', '?', '#', '@', '%' or blanks, or is empty. */
bool lx__config_template_ok(const char *tmpl, const char *url);

/* Edit distance, capped: returns cap+1 when larger. For "did you mean". */
unsigned lx__config_distance(const char *a, size_t alen, const char *b, size_t blen,
                             unsigned cap);
/* Secret-looking header names (authorization, cookie, *key*, *token*, *secret*). */
bool lx__config_header_is_secret(struct lx_str name);

#endif /* LX_CONFIG_INT_H */
