/* fetch.h - image URLs fetched by the gateway and inlined as base64, for providers whose
 * adapters cannot fetch them (no LX_CAP_IMAGE_URL). Off unless the configuration's
 * `image_fetch.enabled`: a URL chosen by a client is a server-side request forgery risk, so
 * every URL passes a policy (allow_hosts, private addresses, local names) before any
 * connection. Runs on the request's loop thread; the transfers use the loop's upstream client
 * (no redirects followed, no credentials sent). docs/internals/fetch.md. */
#ifndef LX_GATEWAY_FETCH_H
#define LX_GATEWAY_FETCH_H

#include <stddef.h>

#include "config/config.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/str.h"
#include "providers/ir.h"
#include "upstream/upstream.h"

#define LX_GW_FETCH_PARALLEL 4 /* transfers at once per request */

struct lx_gw_fetch;

/* Walks req's messages (and TOOL_RESULT sub parts) for IMAGE parts with an http(s) url and no
 * data; fetches them (in parallel, at most LX_GW_FETCH_PARALLEL at once; one transfer per
 * distinct URL), and fills part->data (base64) and part->media_type (image/png, jpeg, gif or
 * webp: the Content-Type must be one of those, and the bytes must be one), all in arena a.
 *
 * LX_OK: nothing to fetch (image_fetch disabled, or no such part); done is not called.
 * LX_EAGAIN: fetching; *out is set and, later (never from inside this call), exactly one of
 *   done(ctx, NULL) (every part filled in) or done(ctx, err) with err->http_status 400
 *   (refused by policy, bad type, too big, a 3xx or 4xx from the origin) or 502 (unreachable,
 *   timeout, 5xx); 503 when arena a is full. When done runs, *out is already freed: forget it.
 * Other: refused before anything started (err set: 400 by policy or too many images, 503 out
 *   of memory); done is not called.
 * Until done, the caller keeps req, cfg and arena a alive, or calls lx__gw_fetch_cancel. */
int lx__gw_fetch_images(struct lx_upstream_ctx *up, const struct lx_config *cfg,
                        struct lx_chat_req *req, struct lx_arena *a,
                        void (*done)(void *ctx, const struct lx_err *err), void *ctx,
                        struct lx_gw_fetch **out, struct lx_err *err);

/* The client is gone: cancels every transfer; done is not called. After this returns, req, cfg
 * and the arena may be freed at once (the transfers still ending touch only f, which frees
 * itself). NULL-safe. Never call it after done ran. */
void lx__gw_fetch_cancel(struct lx_gw_fetch *f);

/* The policy alone (pure; exposed for tests): LX_OK when `url` is to be fetched under cfg;
 * LX_ENOTFOUND when it is not an http(s) URL the gateway fetches (data:, gs://, a Gemini File
 * API URI: left for the adapter); LX_EINVAL when refused (err: 400, names the host only).
 * host (cap bytes, NUL-terminated) receives the URL's host for messages, lower case. */
int lx__gw_fetch_check(const struct lx_config *cfg, struct lx_str url, char *host, size_t cap,
                       struct lx_err *err);

#endif /* LX_GATEWAY_FETCH_H */
