/* memory.c - the in-process backend of state.h: seven small chained hash tables, each behind
 * its own mutex. struct lx_state is made once by the main thread (lx_state_new) and shared by
 * every worker thread; each call takes one table lock for a few hundred nanoseconds, never
 * does I/O, and allocates only when it inserts a new entry. Events and the Redis hook run
 * after the lock is released, with the caller's own slices. */
#include "state/state.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/common.h"
#include "core/err.h"
#include "state/state_int.h"

#define WIN_N 10 /* buckets per rolling window */
#define BUDGET_WINDOW_MS 1000u
#define TAB_MIN_BUCKETS 64u

enum tab_kind {
    TAB_COOLDOWN = 0,
    TAB_STREAK,
    TAB_DISABLED,
    TAB_BREAKER,
    TAB_LATENCY,
    TAB_INFLIGHT,
    TAB_BUDGET,
    TAB_MAX /* not a table */
};

/* Rolling window: WIN_N buckets; stamp is the bucket's index on the clock + 1 (0 = unused). */
struct win {
    uint64_t stamp[WIN_N];
    unsigned a[WIN_N], b[WIN_N];
};

struct breaker {
    enum lx_breaker_state state;
    uint64_t until_ms;
    uint64_t probe_since_ms;
    unsigned consecutive;
    bool probe_out;
    struct win w; /* a = successes, b = failures */
};

struct ent {
    struct ent *next;
    uint64_t hash;
    uint64_t touched_ms;
    union {
        uint64_t until_ms; /* cooldown */
        unsigned count;    /* streak */
        struct {
            uint64_t since_ms;
            char reason[LX_STATE_REASON_MAX];
        } dis;
        struct breaker br;
        struct {
            double ema;
            uint64_t samples;
        } lat;
        long inflight;
        struct win budget; /* a = requests, b = retries */
    } v;
    size_t len;
    char name[]; /* len bytes + NUL: "key\nmodel" for (key, model) tables */
};

struct tab {
    pthread_mutex_t mu;
    enum tab_kind kind;
    struct ent **b;
    size_t nb, n;
};

struct lx_state {
    struct lx_state_conf conf;
    struct tab t[TAB_MAX];
    struct lx_state_hooks hooks;
};

/* A validated name on the stack: one id, or "key\nmodel". */
struct name {
    char p[2 * LX_STATE_NAME_MAX + 2];
    size_t len;
    uint64_t hash;
};

/* ---- names and hashing --------------------------------------------------------------------- */

static bool part_ok(struct lx_str s)
{
    return s.len <= LX_STATE_NAME_MAX && (s.len == 0 || s.ptr != NULL) &&
           memchr(s.ptr ? s.ptr : "", '\n', s.len) == NULL &&
           memchr(s.ptr ? s.ptr : "", '\0', s.len) == NULL;
}

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* One name (model == NULL) or the pair. false on a bad or empty key. */
static bool make_name(struct name *nm, struct lx_str key, const struct lx_str *model)
{
    if (key.len == 0 || !part_ok(key) || (model && !part_ok(*model)))
        return false;
    memcpy(nm->p, key.ptr, key.len);
    nm->len = key.len;
    if (model) {
        nm->p[nm->len++] = '\n';
        if (model->len)
            memcpy(nm->p + nm->len, model->ptr, model->len);
        nm->len += model->len;
    }
    nm->p[nm->len] = '\0';
    nm->hash = fnv1a(nm->p, nm->len);
    return true;
}

static void copy_cut(char *dst, size_t cap, struct lx_str s)
{
    size_t n = LX_MIN(s.len, cap - 1);

    if (n)
        memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

/* ---- rolling windows ------------------------------------------------------------------------ */

static void win_add(struct win *w, uint64_t bucket_ms, uint64_t now, unsigned da, unsigned db)
{
    uint64_t idx = now / bucket_ms;
    size_t i = (size_t)(idx % WIN_N);

    if (w->stamp[i] != idx + 1) {
        w->stamp[i] = idx + 1;
        w->a[i] = 0;
        w->b[i] = 0;
    }
    w->a[i] += da;
    w->b[i] += db;
}

static void win_sum(const struct win *w, uint64_t bucket_ms, uint64_t now, unsigned *a, unsigned *b)
{
    uint64_t idx = now / bucket_ms;

    *a = 0;
    *b = 0;
    for (size_t i = 0; i < WIN_N; i++) {
        uint64_t s = w->stamp[i];

        /* buckets idx-WIN_N+1 .. idx, stored as +1 */
        if (s != 0 && s <= idx + 1 && s + WIN_N > idx + 1) {
            *a += w->a[i];
            *b += w->b[i];
        }
    }
}

/* ---- tables ---------------------------------------------------------------------------------- */

static uint64_t breaker_bucket_ms(const struct lx_state *st)
{
    return LX_MAX(st->conf.breaker_window_ms / WIN_N, 1u);
}

/* An expired entry carries nothing a fresh one would not: it can go at any time. */
static bool ent_expired(const struct lx_state *st, enum tab_kind kind, const struct ent *e,
                        uint64_t now)
{
    switch (kind) {
    case TAB_COOLDOWN:
        return e->v.until_ms <= now;
    case TAB_STREAK:
        return e->v.count == 0 || e->touched_ms + st->conf.streak_ttl_ms <= now;
    case TAB_DISABLED:
    case TAB_LATENCY:
        return false;
    case TAB_BREAKER:
        return e->v.br.state == LX_BREAKER_CLOSED && e->v.br.consecutive == 0 &&
               e->touched_ms + st->conf.breaker_window_ms <= now;
    case TAB_INFLIGHT:
        return e->v.inflight <= 0;
    case TAB_BUDGET:
        return e->touched_ms + BUDGET_WINDOW_MS <= now;
    case TAB_MAX:
        break;
    }
    return false;
}

static struct ent *tab_find(struct tab *t, const struct name *nm)
{
    if (t->nb == 0)
        return NULL;
    for (struct ent *e = t->b[nm->hash & (t->nb - 1)]; e; e = e->next)
        if (e->hash == nm->hash && e->len == nm->len && memcmp(e->name, nm->p, nm->len) == 0)
            return e;
    return NULL;
}

static void tab_unlink(struct tab *t, struct ent *e)
{
    struct ent **pp = &t->b[e->hash & (t->nb - 1)];

    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    t->n--;
    free(e);
}

static void tab_grow(struct tab *t)
{
    size_t nb = t->nb ? t->nb * 2 : TAB_MIN_BUCKETS;
    struct ent **b = lx_xcalloc(nb, sizeof(*b));

    for (size_t i = 0; i < t->nb; i++) {
        struct ent *e = t->b[i], *next;

        for (; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    }
    free(t->b);
    t->b = b;
    t->nb = nb;
}

/* Makes room when the table is at its cap: every expired entry goes, and if none did, the
 * least recently touched one (never a disabled key). false if nothing could go. */
static bool tab_make_room(struct lx_state *st, struct tab *t, uint64_t now)
{
    struct ent *oldest = NULL;

    for (size_t i = 0; i < t->nb; i++) {
        struct ent *e = t->b[i], *next;

        for (; e; e = next) {
            next = e->next;
            if (ent_expired(st, t->kind, e, now))
                tab_unlink(t, e);
            else if (oldest == NULL || e->touched_ms < oldest->touched_ms)
                oldest = e;
        }
    }
    if (t->n < st->conf.max_entries)
        return true;
    if (t->kind == TAB_DISABLED || oldest == NULL)
        return false;
    tab_unlink(t, oldest);
    return true;
}

/* The entry for nm, made (zeroed) if missing; *created tells which. NULL: table full. */
static struct ent *tab_get(struct lx_state *st, struct tab *t, const struct name *nm, uint64_t now,
                           bool *created)
{
    struct ent *e = tab_find(t, nm);

    *created = false;
    if (e)
        return e;
    if (t->n >= st->conf.max_entries && !tab_make_room(st, t, now))
        return NULL;
    if (t->n >= t->nb)
        tab_grow(t);
    e = lx_xcalloc(1, sizeof(*e) + nm->len + 1);
    e->hash = nm->hash;
    e->touched_ms = now;
    e->len = nm->len;
    memcpy(e->name, nm->p, nm->len + 1);
    e->next = t->b[nm->hash & (t->nb - 1)];
    t->b[nm->hash & (t->nb - 1)] = e;
    t->n++;
    *created = true;
    return e;
}

static void lock(struct tab *t) { pthread_mutex_lock(&t->mu); }

static void unlock(struct tab *t) { pthread_mutex_unlock(&t->mu); }

/* ---- events ---------------------------------------------------------------------------------- */

const char *lx_state_event_name(enum lx_state_event_type t)
{
    switch (t) {
    case LX_STATE_EV_COOLDOWN:
        return "cooldown";
    case LX_STATE_EV_DISABLE:
        return "disable";
    case LX_STATE_EV_ENABLE:
        return "enable";
    case LX_STATE_EV_BREAKER_OPEN:
        return "breaker_open";
    case LX_STATE_EV_BREAKER_HALF_OPEN:
        return "breaker_half_open";
    case LX_STATE_EV_BREAKER_CLOSE:
        return "breaker_close";
    }
    return "unknown";
}

/* After a change, outside the locks: the log callback, then Redis for local shared changes. */
static void emit(struct lx_state *st, const struct lx_state_event *ev)
{
    if (st->conf.on_event)
        st->conf.on_event(st->conf.event_data, ev);
    if (!ev->remote && st->hooks.publish && ev->type != LX_STATE_EV_BREAKER_HALF_OPEN)
        st->hooks.publish(st->hooks.redis, ev);
}

static void emit_simple(struct lx_state *st, enum lx_state_event_type type, struct lx_str key,
                        struct lx_str model, struct lx_str reason, uint64_t until, uint64_t now,
                        bool remote)
{
    struct lx_state_event ev = {.type = type,
                                .key = key,
                                .model = model.ptr ? model : LX_STR(""),
                                .reason = reason.ptr ? reason : LX_STR(""),
                                .until_ms = until,
                                .now_ms = now,
                                .remote = remote};

    emit(st, &ev);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

void lx_state_conf_defaults(struct lx_state_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->max_entries = 65536;
    c->breaker_cooldown_ms = 30000;
    c->breaker_window_ms = 10000;
    c->breaker_consecutive = 5;
    c->breaker_min_requests = 5;
    c->breaker_failure_pct = 50;
    c->latency_alpha = 0.2;
    c->retry_ratio_pct = 20;
    c->retry_min_per_s = 10;
    c->streak_ttl_ms = 24ull * 3600 * 1000;
}

struct lx_state *lx_state_new(const struct lx_state_conf *conf)
{
    struct lx_state *st = lx_xcalloc(1, sizeof(*st));

    if (conf)
        st->conf = *conf;
    else
        lx_state_conf_defaults(&st->conf);
    if (st->conf.max_entries == 0)
        st->conf.max_entries = 1;
    if (!(st->conf.latency_alpha > 0 && st->conf.latency_alpha <= 1))
        st->conf.latency_alpha = 0.2;
    if (st->conf.breaker_consecutive == 0)
        st->conf.breaker_consecutive = 1;
    for (int i = 0; i < TAB_MAX; i++) {
        pthread_mutex_init(&st->t[i].mu, NULL);
        st->t[i].kind = (enum tab_kind)i;
    }
    return st;
}

void lx_state_free(struct lx_state *st)
{
    if (st == NULL)
        return;
    if (st->hooks.detach)
        st->hooks.detach(st->hooks.redis);
    for (int i = 0; i < TAB_MAX; i++) {
        struct tab *t = &st->t[i];

        for (size_t j = 0; j < t->nb; j++) {
            struct ent *e = t->b[j], *next;

            for (; e; e = next) {
                next = e->next;
                free(e);
            }
        }
        free(t->b);
        pthread_mutex_destroy(&t->mu);
    }
    free(st);
}

struct lx_state_hooks *lx__state_hooks(struct lx_state *st) { return &st->hooks; }

/* ---- cooldowns ------------------------------------------------------------------------------ */

static int cooldown_set(struct lx_state *st, struct lx_str key, struct lx_str model, uint64_t until,
                        struct lx_str reason, uint64_t now, uint64_t *eff, bool remote)
{
    struct tab *t = &st->t[TAB_COOLDOWN];
    struct name nm;
    struct ent *e;
    bool created, changed = false;
    uint64_t in_force = 0;

    if (!make_name(&nm, key, &model))
        return LX_EINVAL;
    lock(t);
    e = tab_get(st, t, &nm, now, &created);
    if (e) {
        if (created || e->v.until_ms <= now || until > e->v.until_ms) {
            changed = until > now;
            e->v.until_ms = until;
        }
        e->touched_ms = now;
        in_force = e->v.until_ms > now ? e->v.until_ms : 0;
        if (in_force == 0)
            tab_unlink(t, e); /* an end in the past sets nothing */
    }
    unlock(t);
    if (eff)
        *eff = in_force;
    if (changed)
        emit_simple(st, LX_STATE_EV_COOLDOWN, key, model, reason, until, now, remote);
    return LX_OK;
}

int lx_state_cooldown_set(struct lx_state *st, struct lx_str key, struct lx_str model,
                          uint64_t until_ms, struct lx_str reason, uint64_t now_ms,
                          uint64_t *effective_until)
{
    return cooldown_set(st, key, model, until_ms, reason, now_ms, effective_until, false);
}

bool lx_state_cooldown_get(struct lx_state *st, struct lx_str key, struct lx_str model,
                           uint64_t now_ms, uint64_t *until_ms)
{
    struct tab *t = &st->t[TAB_COOLDOWN];
    struct name nm;
    struct ent *e;
    uint64_t until = 0;

    if (make_name(&nm, key, &model)) {
        lock(t);
        e = tab_find(t, &nm);
        if (e && e->v.until_ms > now_ms)
            until = e->v.until_ms;
        else if (e)
            tab_unlink(t, e);
        unlock(t);
    }
    if (until_ms)
        *until_ms = until;
    return until != 0;
}

bool lx_state_cooldown_clear(struct lx_state *st, struct lx_str key, struct lx_str model)
{
    struct tab *t = &st->t[TAB_COOLDOWN];
    struct name nm;
    struct ent *e;

    if (!make_name(&nm, key, &model))
        return false;
    lock(t);
    e = tab_find(t, &nm);
    if (e)
        tab_unlink(t, e);
    unlock(t);
    return e != NULL;
}

/* ---- consecutive 429s --------------------------------------------------------------------- */

unsigned lx_state_streak_incr(struct lx_state *st, struct lx_str key, struct lx_str model,
                              uint64_t now_ms)
{
    struct tab *t = &st->t[TAB_STREAK];
    struct name nm;
    struct ent *e;
    bool created;
    unsigned n = 0;

    if (!make_name(&nm, key, &model))
        return 0;
    lock(t);
    e = tab_get(st, t, &nm, now_ms, &created);
    if (e) {
        if (ent_expired(st, TAB_STREAK, e, now_ms))
            e->v.count = 0;
        n = ++e->v.count;
        e->touched_ms = now_ms;
    }
    unlock(t);
    return n;
}

unsigned lx_state_streak_get(struct lx_state *st, struct lx_str key, struct lx_str model,
                             uint64_t now_ms)
{
    struct tab *t = &st->t[TAB_STREAK];
    struct name nm;
    struct ent *e;
    unsigned n = 0;

    if (!make_name(&nm, key, &model))
        return 0;
    lock(t);
    e = tab_find(t, &nm);
    if (e && !ent_expired(st, TAB_STREAK, e, now_ms))
        n = e->v.count;
    unlock(t);
    return n;
}

void lx_state_streak_reset(struct lx_state *st, struct lx_str key, struct lx_str model)
{
    struct tab *t = &st->t[TAB_STREAK];
    struct name nm;
    struct ent *e;

    if (!make_name(&nm, key, &model))
        return;
    lock(t);
    e = tab_find(t, &nm);
    if (e)
        tab_unlink(t, e);
    unlock(t);
}

/* ---- disabled keys -------------------------------------------------------------------------- */

static int disable(struct lx_state *st, struct lx_str key, struct lx_str reason, uint64_t now,
                   bool remote)
{
    struct tab *t = &st->t[TAB_DISABLED];
    struct name nm;
    struct ent *e;
    bool created = false;

    if (!make_name(&nm, key, NULL))
        return LX_EINVAL;
    lock(t);
    e = tab_get(st, t, &nm, now, &created);
    if (e && created) {
        e->v.dis.since_ms = now;
        copy_cut(e->v.dis.reason, sizeof(e->v.dis.reason), reason);
    }
    unlock(t);
    if (e == NULL)
        return LX_ETOOBIG;
    if (created)
        emit_simple(st, LX_STATE_EV_DISABLE, key, LX_STR_NULL, reason, 0, now, remote);
    return LX_OK;
}

int lx_state_disable(struct lx_state *st, struct lx_str key, struct lx_str reason, uint64_t now_ms)
{
    return disable(st, key, reason, now_ms, false);
}

static bool enable(struct lx_state *st, struct lx_str key, struct lx_str why, uint64_t now,
                   bool remote)
{
    struct tab *t = &st->t[TAB_DISABLED];
    struct name nm;
    struct ent *e;

    if (!make_name(&nm, key, NULL))
        return false;
    lock(t);
    e = tab_find(t, &nm);
    if (e)
        tab_unlink(t, e);
    unlock(t);
    if (e)
        emit_simple(st, LX_STATE_EV_ENABLE, key, LX_STR_NULL, why, 0, now, remote);
    return e != NULL;
}

bool lx_state_enable(struct lx_state *st, struct lx_str key, struct lx_str why, uint64_t now_ms)
{
    return enable(st, key, why, now_ms, false);
}

static void disabled_copy(const struct ent *e, struct lx_state_disabled *out)
{
    memcpy(out->key, e->name, e->len + 1);
    memcpy(out->reason, e->v.dis.reason, sizeof(out->reason));
    out->since_ms = e->v.dis.since_ms;
}

bool lx_state_disabled_get(struct lx_state *st, struct lx_str key, struct lx_state_disabled *out)
{
    struct tab *t = &st->t[TAB_DISABLED];
    struct name nm;
    struct ent *e;

    if (!make_name(&nm, key, NULL))
        return false;
    lock(t);
    e = tab_find(t, &nm);
    if (e && out)
        disabled_copy(e, out);
    unlock(t);
    return e != NULL;
}

size_t lx_state_disabled_list(struct lx_state *st, struct lx_state_disabled *out, size_t cap)
{
    struct tab *t = &st->t[TAB_DISABLED];
    size_t k = 0, n;

    lock(t);
    for (size_t i = 0; i < t->nb && k < cap; i++)
        for (struct ent *e = t->b[i]; e && k < cap; e = e->next)
            disabled_copy(e, &out[k++]);
    n = t->n;
    unlock(t);
    return n;
}

enum lx_state_key_status lx_state_key_status(struct lx_state *st, struct lx_str key,
                                             struct lx_str model, uint64_t now_ms,
                                             uint64_t *until_ms)
{
    if (until_ms)
        *until_ms = 0;
    if (lx_state_disabled_get(st, key, NULL))
        return LX_STATE_KEY_DISABLED;
    if (lx_state_cooldown_get(st, key, model, now_ms, until_ms))
        return LX_STATE_KEY_COOLING;
    return LX_STATE_KEY_OK;
}

/* ---- breakers --------------------------------------------------------------------------- */

const char *lx_breaker_state_name(enum lx_breaker_state s)
{
    switch (s) {
    case LX_BREAKER_CLOSED:
        return "closed";
    case LX_BREAKER_OPEN:
        return "open";
    case LX_BREAKER_HALF_OPEN:
        return "half_open";
    }
    return "unknown";
}

static void breaker_close(struct breaker *b)
{
    memset(b, 0, sizeof(*b));
    b->state = LX_BREAKER_CLOSED;
}

static void breaker_open(const struct lx_state *st, struct breaker *b, uint64_t now)
{
    b->state = LX_BREAKER_OPEN;
    b->until_ms = now + st->conf.breaker_cooldown_ms;
    b->probe_out = false;
    b->consecutive = 0;
    memset(&b->w, 0, sizeof(b->w));
}

bool lx_state_breaker_allow(struct lx_state *st, struct lx_str target, uint64_t now_ms)
{
    struct tab *t = &st->t[TAB_BREAKER];
    struct name nm;
    struct ent *e;
    bool ok = true, half_opened = false;

    if (!make_name(&nm, target, NULL))
        return true; /* a name we cannot track is never blocked */
    lock(t);
    e = tab_find(t, &nm);
    if (e) {
        struct breaker *b = &e->v.br;

        if (b->state == LX_BREAKER_OPEN && now_ms >= b->until_ms) {
            b->state = LX_BREAKER_HALF_OPEN;
            b->probe_out = false;
            half_opened = true;
        }
        if (b->state == LX_BREAKER_OPEN) {
            ok = false;
        } else if (b->state == LX_BREAKER_HALF_OPEN) {
            /* an unanswered probe is taken as lost after one cooldown */
            ok = !b->probe_out || now_ms >= b->probe_since_ms + st->conf.breaker_cooldown_ms;
            if (ok) {
                b->probe_out = true;
                b->probe_since_ms = now_ms;
            }
        }
        e->touched_ms = now_ms;
    }
    unlock(t);
    if (half_opened)
        emit_simple(st, LX_STATE_EV_BREAKER_HALF_OPEN, target, LX_STR_NULL, LX_STR_NULL, 0, now_ms,
                    false);
    return ok;
}

void lx_state_breaker_report(struct lx_state *st, struct lx_str target, bool success,
                             uint64_t now_ms)
{
    struct tab *t = &st->t[TAB_BREAKER];
    struct name nm;
    struct ent *e;
    bool created;
    enum lx_state_event_type ev = LX_STATE_EV_BREAKER_HALF_OPEN; /* = none */
    uint64_t until = 0;
    struct lx_str why = LX_STR_NULL;

    if (!make_name(&nm, target, NULL))
        return;
    lock(t);
    e = tab_get(st, t, &nm, now_ms, &created); /* successes count too: the rate rule */
    if (e) {
        struct breaker *b = &e->v.br;
        uint64_t bms = breaker_bucket_ms(st);
        unsigned ok_n, fail_n;

        e->touched_ms = now_ms;
        switch (b->state) {
        case LX_BREAKER_CLOSED:
            win_add(&b->w, bms, now_ms, success ? 1 : 0, success ? 0 : 1);
            b->consecutive = success ? 0 : b->consecutive + 1;
            if (success)
                break;
            win_sum(&b->w, bms, now_ms, &ok_n, &fail_n);
            if (b->consecutive >= st->conf.breaker_consecutive) {
                why = LX_STR("consecutive failures");
            } else if (ok_n + fail_n >= st->conf.breaker_min_requests &&
                       (uint64_t)fail_n * 100 >=
                           (uint64_t)st->conf.breaker_failure_pct * (ok_n + fail_n)) {
                why = LX_STR("failure rate");
            } else {
                break;
            }
            breaker_open(st, b, now_ms);
            ev = LX_STATE_EV_BREAKER_OPEN;
            until = b->until_ms;
            break;
        case LX_BREAKER_HALF_OPEN:
            if (success) {
                breaker_close(b);
                ev = LX_STATE_EV_BREAKER_CLOSE;
                why = LX_STR("probe succeeded");
            } else {
                breaker_open(st, b, now_ms);
                ev = LX_STATE_EV_BREAKER_OPEN;
                until = b->until_ms;
                why = LX_STR("probe failed");
            }
            break;
        case LX_BREAKER_OPEN:
            break; /* sent before it opened: says nothing new */
        }
    }
    unlock(t);
    if (ev != LX_STATE_EV_BREAKER_HALF_OPEN)
        emit_simple(st, ev, target, LX_STR_NULL, why, until, now_ms, false);
}

void lx_state_breaker_get(struct lx_state *st, struct lx_str target, uint64_t now_ms,
                          struct lx_state_breaker *out)
{
    struct tab *t = &st->t[TAB_BREAKER];
    struct name nm;
    struct ent *e;

    memset(out, 0, sizeof(*out));
    out->state = LX_BREAKER_CLOSED;
    if (!make_name(&nm, target, NULL))
        return;
    lock(t);
    e = tab_find(t, &nm);
    if (e) {
        const struct breaker *b = &e->v.br;

        out->state = b->state;
        out->until_ms = b->state == LX_BREAKER_OPEN ? b->until_ms : 0;
        out->consecutive_failures = b->consecutive;
        out->probe_in_flight = b->state == LX_BREAKER_HALF_OPEN && b->probe_out;
        win_sum(&b->w, breaker_bucket_ms(st), now_ms, &out->successes, &out->failures);
    }
    unlock(t);
}

/* ---- latency --------------------------------------------------------------------------- */

void lx_state_latency_add(struct lx_state *st, struct lx_str target, double ttft_ms,
                          uint64_t now_ms)
{
    struct tab *t = &st->t[TAB_LATENCY];
    struct name nm;
    struct ent *e;
    bool created;

    if (!isfinite(ttft_ms) || ttft_ms < 0 || !make_name(&nm, target, NULL))
        return;
    lock(t);
    e = tab_get(st, t, &nm, now_ms, &created);
    if (e) {
        if (e->v.lat.samples == 0)
            e->v.lat.ema = ttft_ms;
        else
            e->v.lat.ema += st->conf.latency_alpha * (ttft_ms - e->v.lat.ema);
        e->v.lat.samples++;
        e->touched_ms = now_ms;
    }
    unlock(t);
}

bool lx_state_latency_get(struct lx_state *st, struct lx_str target, double *ema_ms,
                          uint64_t *samples)
{
    struct tab *t = &st->t[TAB_LATENCY];
    struct name nm;
    struct ent *e = NULL;
    double ema = 0;
    uint64_t n = 0;

    if (make_name(&nm, target, NULL)) {
        lock(t);
        e = tab_find(t, &nm);
        if (e) {
            ema = e->v.lat.ema;
            n = e->v.lat.samples;
        }
        unlock(t);
    }
    if (ema_ms)
        *ema_ms = ema;
    if (samples)
        *samples = n;
    return n != 0;
}

/* ---- in flight --------------------------------------------------------------------------- */

long lx_state_inflight_add(struct lx_state *st, struct lx_str target, int delta, uint64_t now_ms)
{
    struct tab *t = &st->t[TAB_INFLIGHT];
    struct name nm;
    struct ent *e;
    bool created;
    long n = 0;

    if (!make_name(&nm, target, NULL))
        return 0;
    lock(t);
    e = delta > 0 ? tab_get(st, t, &nm, now_ms, &created) : tab_find(t, &nm);
    if (e) {
        e->v.inflight += delta;
        if (e->v.inflight < 0)
            e->v.inflight = 0;
        n = e->v.inflight;
        e->touched_ms = now_ms; /* kept at 0: no malloc/free per request when idle */
    }
    unlock(t);
    return n;
}

long lx_state_inflight_get(struct lx_state *st, struct lx_str target)
{
    struct tab *t = &st->t[TAB_INFLIGHT];
    struct name nm;
    struct ent *e;
    long n = 0;

    if (!make_name(&nm, target, NULL))
        return 0;
    lock(t);
    e = tab_find(t, &nm);
    if (e)
        n = e->v.inflight;
    unlock(t);
    return n;
}

/* ---- retry budget -------------------------------------------------------------------------- */

#define BUDGET_BUCKET_MS (BUDGET_WINDOW_MS / WIN_N)

void lx_state_budget_request(struct lx_state *st, struct lx_str provider, uint64_t now_ms)
{
    struct tab *t = &st->t[TAB_BUDGET];
    struct name nm;
    struct ent *e;
    bool created;

    if (!make_name(&nm, provider, NULL))
        return;
    lock(t);
    e = tab_get(st, t, &nm, now_ms, &created);
    if (e) {
        win_add(&e->v.budget, BUDGET_BUCKET_MS, now_ms, 1, 0);
        e->touched_ms = now_ms;
    }
    unlock(t);
}

bool lx_state_budget_retry(struct lx_state *st, struct lx_str provider, uint64_t now_ms)
{
    struct tab *t = &st->t[TAB_BUDGET];
    struct name nm;
    struct ent *e;
    bool created, ok = false;
    unsigned req, ret;

    if (!make_name(&nm, provider, NULL))
        return false;
    lock(t);
    e = tab_get(st, t, &nm, now_ms, &created);
    if (e) {
        win_sum(&e->v.budget, BUDGET_BUCKET_MS, now_ms, &req, &ret);
        ok = ((uint64_t)ret + 1) * 100 <=
             (uint64_t)req * st->conf.retry_ratio_pct + (uint64_t)st->conf.retry_min_per_s * 100;
        if (ok)
            win_add(&e->v.budget, BUDGET_BUCKET_MS, now_ms, 0, 1);
        e->touched_ms = now_ms;
    }
    unlock(t);
    return ok;
}

void lx_state_budget_get(struct lx_state *st, struct lx_str provider, uint64_t now_ms,
                         unsigned *requests, unsigned *retries)
{
    struct tab *t = &st->t[TAB_BUDGET];
    struct name nm;
    struct ent *e;

    *requests = 0;
    *retries = 0;
    if (!make_name(&nm, provider, NULL))
        return;
    lock(t);
    e = tab_find(t, &nm);
    if (e)
        win_sum(&e->v.budget, BUDGET_BUCKET_MS, now_ms, requests, retries);
    unlock(t);
}

/* ---- Redis glue ---------------------------------------------------------------------------- */

static void breaker_apply(struct lx_state *st, const struct lx_state_event *ev)
{
    struct tab *t = &st->t[TAB_BREAKER];
    struct name nm;
    struct ent *e;
    bool created, changed = false;

    if (!make_name(&nm, ev->key, NULL))
        return;
    lock(t);
    if (ev->type == LX_STATE_EV_BREAKER_OPEN) {
        e = ev->until_ms > ev->now_ms ? tab_get(st, t, &nm, ev->now_ms, &created) : NULL;
        if (e && (e->v.br.state != LX_BREAKER_OPEN || e->v.br.until_ms < ev->until_ms)) {
            breaker_open(st, &e->v.br, ev->now_ms);
            e->v.br.until_ms = ev->until_ms;
            e->touched_ms = ev->now_ms;
            changed = true;
        }
    } else {
        e = tab_find(t, &nm);
        if (e && e->v.br.state != LX_BREAKER_CLOSED) {
            breaker_close(&e->v.br);
            changed = true;
        }
    }
    unlock(t);
    if (changed)
        emit(st, ev);
}

void lx__state_apply(struct lx_state *st, const struct lx_state_event *in)
{
    struct lx_state_event ev = *in;

    ev.remote = true;
    switch (ev.type) {
    case LX_STATE_EV_COOLDOWN:
        cooldown_set(st, ev.key, ev.model, ev.until_ms, ev.reason, ev.now_ms, NULL, true);
        break;
    case LX_STATE_EV_DISABLE:
        disable(st, ev.key, ev.reason, ev.now_ms, true);
        break;
    case LX_STATE_EV_ENABLE:
        enable(st, ev.key, ev.reason, ev.now_ms, true);
        break;
    case LX_STATE_EV_BREAKER_OPEN:
    case LX_STATE_EV_BREAKER_CLOSE:
        breaker_apply(st, &ev);
        break;
    case LX_STATE_EV_BREAKER_HALF_OPEN:
        break;
    }
}

void lx__state_foreach_shared(struct lx_state *st, uint64_t now_ms,
                              void (*fn)(void *arg, const struct lx_state_event *ev), void *arg)
{
    static const enum tab_kind kinds[] = {TAB_COOLDOWN, TAB_DISABLED, TAB_BREAKER};

    for (size_t k = 0; k < LX_ARRAY_SIZE(kinds); k++) {
        struct tab *t = &st->t[kinds[k]];

        lock(t);
        for (size_t i = 0; i < t->nb; i++) {
            for (struct ent *e = t->b[i]; e; e = e->next) {
                struct lx_state_event ev = {
                    .now_ms = now_ms, .model = LX_STR(""), .reason = LX_STR("")};
                const char *nl = memchr(e->name, '\n', e->len);

                ev.key = lx_str_make(e->name, e->len);
                if (kinds[k] == TAB_COOLDOWN) {
                    if (e->v.until_ms <= now_ms || nl == NULL)
                        continue;
                    ev.type = LX_STATE_EV_COOLDOWN;
                    ev.key.len = (size_t)(nl - e->name);
                    ev.model = lx_str_make(nl + 1, e->len - ev.key.len - 1);
                    ev.until_ms = e->v.until_ms;
                } else if (kinds[k] == TAB_DISABLED) {
                    ev.type = LX_STATE_EV_DISABLE;
                    ev.reason = lx_str_cstr(e->v.dis.reason);
                    ev.now_ms = e->v.dis.since_ms;
                } else {
                    if (e->v.br.state != LX_BREAKER_OPEN || e->v.br.until_ms <= now_ms)
                        continue;
                    ev.type = LX_STATE_EV_BREAKER_OPEN;
                    ev.until_ms = e->v.br.until_ms;
                }
                fn(arg, &ev);
            }
        }
        unlock(t);
    }
}
