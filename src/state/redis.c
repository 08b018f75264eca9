/* redis.c - shares cooldowns, disabled keys and open breakers between llmux instances through
 * Redis, behind the same state.h interface. Reads never come here: the memory tables are the
 * cache every worker reads. A local change (memory.c calls the publish hook after its lock is
 * released) becomes a small text message on a bounded queue; one dedicated thread with its
 * own uv loop owns the two hiredis connections (commands, and one SUBSCRIBEd), writes each
 * change to a Redis hash and publishes it on a channel. The other instances apply what they
 * hear with lx__state_apply. On (re)connect the thread subscribes first, then loads the three
 * hashes, so nothing said in between is missed. hiredis 0.14 async has no timeouts: a 100 ms
 * timer enforces ours (connect, and the oldest command waiting for its reply). Redis down:
 * every call keeps working on local state, changes wait in the queue (the oldest dropped past
 * QUEUE_CAP), lx_state_redis_status says "down since ...", and the thread reconnects with
 * exponential backoff and jitter.
 *
 * Threads: lx_state_redis_attach runs on the main thread; publish on any worker; everything
 * else on the Redis thread, which lx_state_free stops and joins. */
#include "state/state.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/common.h"
#include "core/err.h"
#include "core/str.h"
#include "core/time.h"
#include "state/state_int.h"

#define QUEUE_CAP 4096
#define TICK_MS 100
#define BACKOFF_MIN_MS 100
#define MSG_VERSION "1"

enum rstatus {
    RS_CONNECTING = 0, /* never connected yet */
    RS_CONNECTED,      /* subscribed and loaded */
    RS_DOWN,           /* lost (or never reached): retrying */
};

struct msg {
    enum lx_state_event_type type;
    uint64_t until_ms;
    size_t len;
    char text[]; /* the published payload (see encode) */
};

/* A message heard while the hashes load: applied after them, in order (see on_sub). */
struct held {
    struct held *next;
    size_t len;
    char text[];
};

struct lx_state_redis {
    struct lx_state *st;
    char host[256], password[256], prefix[64];
    int port;
    unsigned timeout_ms, backoff_max_ms;
    char origin[17]; /* this instance on the channel: its own messages are skipped */
    char k_cool[96], k_dis[96], k_br[96], k_chan[96];

    pthread_t thread;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t tick;

    pthread_mutex_t mu; /* guards the queue, stop and the status fields */
    struct msg *q[QUEUE_CAP];
    size_t q_head, q_len;
    unsigned long dropped;
    bool stop;
    enum rstatus status;
    uint64_t down_since_ms;

    /* Redis thread only */
    redisAsyncContext *cmd, *sub;
    uint64_t started_ms;  /* of the current connection attempt */
    uint64_t next_try_ms; /* when down: next attempt */
    uint64_t backoff_ms;
    unsigned pending;     /* commands on cmd awaiting a reply */
    uint64_t progress_ms; /* last reply, or when pending went 0 -> 1 */
    unsigned loads_left;  /* HGETALLs after SUBSCRIBE was acknowledged */
    bool republish;       /* the queue dropped changes: push the whole local state */
    struct held *held, **held_tail;
    size_t n_held;
    unsigned seed;
};

/* ---- messages -------------------------------------------------------------------------------- */

static const char *type_code(enum lx_state_event_type t) { return lx_state_event_name(t); }

static bool type_parse(struct lx_str s, enum lx_state_event_type *out)
{
    for (int t = LX_STATE_EV_COOLDOWN; t <= LX_STATE_EV_BREAKER_CLOSE; t++) {
        if (lx_str_eq(s, lx_str_cstr(lx_state_event_name((enum lx_state_event_type)t)))) {
            *out = (enum lx_state_event_type)t;
            return true;
        }
    }
    return false;
}

/* "1\n<origin>\n<type>\n<key>\n<model>\n<until>\n<now>\n<reason>": names never hold '\n'
 * (memory.c refuses them); a reason's newlines become spaces. */
static struct msg *encode(const struct lx_state_redis *r, const struct lx_state_event *ev)
{
    size_t rlen = LX_MIN(ev->reason.len, (size_t)LX_STATE_REASON_MAX - 1);
    size_t cap = 128 + ev->key.len + ev->model.len + rlen;
    struct msg *m = lx_xmalloc(sizeof(*m) + cap);
    int n = snprintf(m->text, cap, MSG_VERSION "\n%s\n%s\n%.*s\n%.*s\n%llu\n%llu\n", r->origin,
                     type_code(ev->type), LX_STR_FMT(ev->key), LX_STR_FMT(ev->model),
                     (unsigned long long)ev->until_ms, (unsigned long long)ev->now_ms);

    if (n < 0 || (size_t)n + rlen >= cap) {
        free(m);
        return NULL;
    }
    for (size_t i = 0; i < rlen; i++) {
        char c = ev->reason.ptr[i];
        m->text[(size_t)n + i] = (c == '\n' || c == '\r') ? ' ' : c;
    }
    m->len = (size_t)n + rlen;
    m->text[m->len] = '\0';
    m->type = ev->type;
    m->until_ms = ev->until_ms;
    return m;
}

/* Splits the next '\n'-terminated field off *s (the last field takes the rest). */
static struct lx_str field(struct lx_str *s, bool last)
{
    long i = last ? -1 : lx_str_find_char(*s, '\n');
    struct lx_str f;

    if (i < 0) {
        f = *s;
        *s = lx_str_make(s->ptr + s->len, 0);
        return f;
    }
    f = lx_str_make(s->ptr, (size_t)i);
    *s = lx_str_make(s->ptr + i + 1, s->len - (size_t)i - 1);
    return f;
}

/* Parses a payload; false if malformed. The event's strings point into text. *origin too. */
static bool decode(struct lx_str text, struct lx_str *origin, struct lx_state_event *ev)
{
    struct lx_str s = text, ver = field(&s, false), until, now;
    uint64_t u, n;

    memset(ev, 0, sizeof(*ev));
    if (!lx_str_eq(ver, LX_STR(MSG_VERSION)))
        return false;
    *origin = field(&s, false);
    if (!type_parse(field(&s, false), &ev->type))
        return false;
    ev->key = field(&s, false);
    ev->model = field(&s, false);
    until = field(&s, false);
    now = field(&s, false);
    ev->reason = field(&s, true);
    if (lx_str_to_u64(until, &u) != LX_OK || lx_str_to_u64(now, &n) != LX_OK || ev->key.len == 0)
        return false;
    ev->until_ms = u;
    ev->now_ms = n;
    ev->remote = true;
    return true;
}

/* ---- the queue (any thread) -------------------------------------------------------------- */

static void on_publish(struct lx_state_redis *r, const struct lx_state_event *ev)
{
    struct msg *m = encode(r, ev), *old = NULL;

    if (m == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    if (r->q_len == QUEUE_CAP) {
        old = r->q[r->q_head]; /* the oldest goes: a later change matters more */
        r->q_head = (r->q_head + 1) % QUEUE_CAP;
        r->q_len--;
        r->dropped++;
    }
    r->q[(r->q_head + r->q_len) % QUEUE_CAP] = m;
    r->q_len++;
    pthread_mutex_unlock(&r->mu);
    free(old);
    uv_async_send(&r->wake);
}

static struct msg *queue_pop(struct lx_state_redis *r)
{
    struct msg *m = NULL;

    pthread_mutex_lock(&r->mu);
    if (r->q_len) {
        m = r->q[r->q_head];
        r->q_head = (r->q_head + 1) % QUEUE_CAP;
        r->q_len--;
    }
    pthread_mutex_unlock(&r->mu);
    return m;
}

static void set_status(struct lx_state_redis *r, enum rstatus s)
{
    pthread_mutex_lock(&r->mu);
    if (s == RS_DOWN && r->status != RS_DOWN)
        r->down_since_ms = lx_now_wall_ms();
    r->status = s;
    pthread_mutex_unlock(&r->mu);
}

/* ---- connections (Redis thread) --------------------------------------------------------- */

static void drop_held(struct lx_state_redis *r)
{
    while (r->held) {
        struct held *h = r->held;

        r->held = h->next;
        free(h);
    }
    r->held_tail = &r->held;
    r->n_held = 0;
}

static void drop_connections(struct lx_state_redis *r)
{
    redisAsyncContext *c = r->cmd, *s = r->sub;

    drop_held(r);
    /* cleared first: the free below calls our callbacks, which must not see them */
    r->cmd = NULL;
    r->sub = NULL;
    r->pending = 0;
    r->loads_left = 0;
    if (c)
        redisAsyncFree(c);
    if (s)
        redisAsyncFree(s);
}

/* Idempotent: any failure of either connection lands here. */
static void go_down(struct lx_state_redis *r)
{
    uint64_t now = lx_now_mono_ns() / 1000000;
    unsigned jitter;

    drop_connections(r);
    set_status(r, RS_DOWN);
    if (r->backoff_ms == 0)
        r->backoff_ms = BACKOFF_MIN_MS;
    jitter = (unsigned)(rand_r(&r->seed) % (r->backoff_ms / 2 + 1));
    if (r->next_try_ms <= now)
        r->next_try_ms = now + r->backoff_ms / 2 + jitter;
    r->backoff_ms = LX_MIN(r->backoff_ms * 2, (uint64_t)r->backoff_max_ms);
}

static bool reply_bad(const redisReply *rep)
{
    return rep == NULL || rep->type == REDIS_REPLY_ERROR;
}

static void on_cmd_reply(redisAsyncContext *c, void *reply, void *privdata)
{
    struct lx_state_redis *r = privdata;

    if (c != r->cmd)
        return; /* a context being freed: its callbacks are flushed with NULL */
    if (r->pending)
        r->pending--;
    r->progress_ms = lx_now_mono_ns() / 1000000;
    if (reply_bad(reply))
        go_down(r);
}

static int send_argv(struct lx_state_redis *r, redisCallbackFn *cb, int argc, const char **argv,
                     const size_t *lens)
{
    if (r->cmd == NULL || redisAsyncCommandArgv(r->cmd, cb, r, argc, argv, lens) != REDIS_OK)
        return LX_ECLOSED;
    if (r->pending++ == 0)
        r->progress_ms = lx_now_mono_ns() / 1000000;
    return LX_OK;
}

/* Keeps the later end when two instances race (never shortens), then publishes. */
static const char LUA_COOLDOWN[] =
    "local v = redis.call('HGET', KEYS[1], ARGV[1]) "
    "if (not v) or tonumber(v) < tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], ARGV[1], "
    "ARGV[2]) end "
    "return redis.call('PUBLISH', KEYS[2], ARGV[3])";

/* One change: the hash first, then the channel (MULTI would add nothing: a reader that loads
 * before the publish sees the hash, one that subscribed sees the message). */
static void send_msg(struct lx_state_redis *r, const struct msg *m)
{
    struct lx_str origin;
    struct lx_state_event ev;
    char field_buf[2 * LX_STATE_NAME_MAX + 2], val[LX_STATE_REASON_MAX + 32];
    size_t flen = 0, vlen;

    if (!decode(lx_str_make(m->text, m->len), &origin, &ev))
        return;
    memcpy(field_buf, ev.key.ptr, ev.key.len);
    flen = ev.key.len;
    vlen = (size_t)snprintf(val, sizeof(val), "%llu", (unsigned long long)ev.until_ms);
    switch (m->type) {
    case LX_STATE_EV_COOLDOWN: {
        field_buf[flen++] = '\n';
        memcpy(field_buf + flen, ev.model.ptr, ev.model.len);
        flen += ev.model.len;
        const char *argv[] = {"EVAL",    LUA_COOLDOWN, "2", r->k_cool,
                              r->k_chan, field_buf,    val, m->text};
        size_t lens[] = {
            4,     sizeof(LUA_COOLDOWN) - 1, 1, strlen(r->k_cool), strlen(r->k_chan), flen, vlen,
            m->len};
        send_argv(r, on_cmd_reply, 8, argv, lens);
        return;
    }
    case LX_STATE_EV_DISABLE: {
        int n = snprintf(val, sizeof(val), "%llu\n%.*s", (unsigned long long)ev.now_ms,
                         LX_STR_FMT(ev.reason));
        const char *argv[] = {"HSET", r->k_dis, field_buf, val};
        size_t lens[] = {4, strlen(r->k_dis), flen, (size_t)LX_MIN(n, (int)sizeof(val) - 1)};
        send_argv(r, on_cmd_reply, 4, argv, lens);
        break;
    }
    case LX_STATE_EV_ENABLE: {
        const char *argv[] = {"HDEL", r->k_dis, field_buf};
        size_t lens[] = {4, strlen(r->k_dis), flen};
        send_argv(r, on_cmd_reply, 3, argv, lens);
        break;
    }
    case LX_STATE_EV_BREAKER_OPEN: {
        const char *argv[] = {"HSET", r->k_br, field_buf, val};
        size_t lens[] = {4, strlen(r->k_br), flen, vlen};
        send_argv(r, on_cmd_reply, 4, argv, lens);
        break;
    }
    case LX_STATE_EV_BREAKER_CLOSE: {
        const char *argv[] = {"HDEL", r->k_br, field_buf};
        size_t lens[] = {4, strlen(r->k_br), flen};
        send_argv(r, on_cmd_reply, 3, argv, lens);
        break;
    }
    case LX_STATE_EV_BREAKER_HALF_OPEN:
        return;
    }
    {
        const char *argv[] = {"PUBLISH", r->k_chan, m->text};
        size_t lens[] = {7, strlen(r->k_chan), m->len};
        send_argv(r, on_cmd_reply, 3, argv, lens);
    }
}

static void republish_one(void *arg, const struct lx_state_event *ev)
{
    on_publish(arg, ev); /* onto the queue: only the queue's lock is taken */
}

static void flush_queue(struct lx_state_redis *r)
{
    struct msg *m;
    bool again;

    if (r->status != RS_CONNECTED || r->cmd == NULL)
        return; /* changes wait in the queue */
    pthread_mutex_lock(&r->mu);
    again = r->dropped != 0;
    r->dropped = 0;
    pthread_mutex_unlock(&r->mu);
    if (again || r->republish) {
        r->republish = false;
        lx__state_foreach_shared(r->st, lx_now_wall_ms(), republish_one, r);
    }
    while (r->status == RS_CONNECTED && r->cmd && (m = queue_pop(r)) != NULL) {
        send_msg(r, m);
        free(m);
    }
}

/* A message from another instance: applied to the local tables (not published again). */
static void apply_message(struct lx_state_redis *r, const char *text, size_t len)
{
    struct lx_str origin;
    struct lx_state_event ev;

    if (!decode(lx_str_make(text, len), &origin, &ev))
        return;
    if (lx_str_eq(origin, lx_str_cstr(r->origin)))
        return; /* our own change, already applied */
    if (ev.type == LX_STATE_EV_BREAKER_OPEN || ev.type == LX_STATE_EV_BREAKER_CLOSE)
        ev.now_ms = lx_now_wall_ms();
    lx__state_apply(r->st, &ev);
}

/* HGETALL of one of the three hashes: apply what is still in force, delete what is not. */
static void on_load(redisAsyncContext *c, void *reply, void *privdata)
{
    struct lx_state_redis *r = privdata;
    redisReply *rep = reply;
    uint64_t now = lx_now_wall_ms();

    if (c != r->cmd)
        return;
    if (r->pending)
        r->pending--;
    r->progress_ms = lx_now_mono_ns() / 1000000;
    if (reply_bad(rep) || rep->type != REDIS_REPLY_ARRAY) {
        go_down(r);
        return;
    }
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        const redisReply *f = rep->element[i], *v = rep->element[i + 1];
        struct lx_state_event ev = {.remote = true, .now_ms = now, .reason = LX_STR("")};
        struct lx_str fs, vs;
        long nl;
        uint64_t num = 0;

        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        fs = lx_str_make(f->str, f->len);
        vs = lx_str_make(v->str, v->len);
        ev.key = fs;
        ev.model = LX_STR("");
        nl = lx_str_find_char(vs, '\n');
        if (lx_str_to_u64(nl < 0 ? vs : lx_str_sub(vs, 0, (size_t)nl), &num) != LX_OK)
            continue;
        if (r->loads_left == 3) { /* cooldowns: "key\nmodel" -> until */
            nl = lx_str_find_char(fs, '\n');
            if (nl <= 0)
                continue;
            ev.type = LX_STATE_EV_COOLDOWN;
            ev.key = lx_str_sub(fs, 0, (size_t)nl);
            ev.model = lx_str_sub(fs, (size_t)nl + 1, fs.len);
            ev.until_ms = num;
        } else if (r->loads_left == 2) { /* disabled: key -> "since\nreason" */
            ev.type = LX_STATE_EV_DISABLE;
            ev.now_ms = num;
            if (nl >= 0)
                ev.reason = lx_str_sub(vs, (size_t)nl + 1, vs.len);
        } else { /* breakers: target -> until */
            ev.type = LX_STATE_EV_BREAKER_OPEN;
            ev.until_ms = num;
        }
        if ((ev.type == LX_STATE_EV_COOLDOWN || ev.type == LX_STATE_EV_BREAKER_OPEN) &&
            ev.until_ms <= now) {
            const char *argv[] = {"HDEL", ev.type == LX_STATE_EV_COOLDOWN ? r->k_cool : r->k_br,
                                  f->str};
            size_t lens[] = {4, strlen(argv[1]), f->len};
            send_argv(r, on_cmd_reply, 3, argv, lens);
            continue;
        }
        if (ev.type == LX_STATE_EV_BREAKER_OPEN)
            ev.now_ms = now;
        lx__state_apply(r->st, &ev);
    }
    if (r->loads_left && --r->loads_left == 0) {
        /* what was said during the load goes on top of it, in order: a change published
         * before our HGETALL ran is already in the hash and replays to the same end */
        for (struct held *h = r->held; h; h = h->next)
            apply_message(r, h->text, h->len);
        drop_held(r);
        set_status(r, RS_CONNECTED);
        r->backoff_ms = 0;
        flush_queue(r);
    }
}

static void start_load(struct lx_state_redis *r)
{
    const char *keys[] = {r->k_cool, r->k_dis, r->k_br};

    r->loads_left = 3; /* on_load tells the hashes apart by this countdown: replies keep order */
    for (size_t i = 0; i < LX_ARRAY_SIZE(keys); i++) {
        const char *argv[] = {"HGETALL", keys[i]};
        size_t lens[] = {7, strlen(keys[i])};
        if (send_argv(r, on_load, 2, argv, lens) != LX_OK) {
            go_down(r);
            return;
        }
    }
}

static void on_sub(redisAsyncContext *c, void *reply, void *privdata)
{
    struct lx_state_redis *r = privdata;
    redisReply *rep = reply;
    struct lx_str kind;
    const redisReply *payload;

    if (c != r->sub)
        return;
    if (reply_bad(rep) || rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
        rep->element[0]->type != REDIS_REPLY_STRING) {
        go_down(r);
        return;
    }
    kind = lx_str_make(rep->element[0]->str, rep->element[0]->len);
    if (lx_str_eq(kind, LX_STR("subscribe"))) {
        start_load(r); /* subscribed first: nothing published from now on is missed */
        return;
    }
    payload = rep->element[2];
    if (!lx_str_eq(kind, LX_STR("message")) || payload->type != REDIS_REPLY_STRING)
        return;
    if (r->loads_left == 0) {
        apply_message(r, payload->str, payload->len);
    } else if (r->n_held < QUEUE_CAP) {
        /* the load's replies may come after this message though Redis ran it before the
         * change: hold it, or a key enabled meanwhile would come back disabled */
        struct held *h = lx_xmalloc(sizeof(*h) + payload->len);

        h->next = NULL;
        h->len = payload->len;
        memcpy(h->text, payload->str, payload->len);
        *r->held_tail = h;
        r->held_tail = &h->next;
        r->n_held++;
    }
}

static void on_connect(const redisAsyncContext *c, int status)
{
    struct lx_state_redis *r = c->data;

    if (status != REDIS_OK) {
        if (c == r->cmd)
            r->cmd = NULL; /* hiredis frees it after this callback */
        if (c == r->sub)
            r->sub = NULL;
        go_down(r);
    }
}

static void on_disconnect(const redisAsyncContext *c, int status)
{
    struct lx_state_redis *r = c->data;

    if (c == r->cmd)
        r->cmd = NULL;
    else if (c == r->sub)
        r->sub = NULL;
    else
        return;
    go_down(r);
}

static redisAsyncContext *open_one(struct lx_state_redis *r)
{
    redisAsyncContext *c = redisAsyncConnect(r->host, r->port);

    if (c == NULL)
        return NULL;
    if (c->err || redisLibuvAttach(c, &r->loop) != REDIS_OK) {
        redisAsyncFree(c);
        return NULL;
    }
    c->data = r;
    redisAsyncSetConnectCallback(c, on_connect);
    redisAsyncSetDisconnectCallback(c, on_disconnect);
    if (r->password[0]) {
        const char *argv[] = {"AUTH", r->password};
        size_t lens[] = {4, strlen(r->password)};
        redisAsyncCommandArgv(c, on_cmd_reply, r, 2, argv, lens);
    }
    return c;
}

static void try_connect(struct lx_state_redis *r)
{
    r->started_ms = lx_now_mono_ns() / 1000000;
    r->cmd = open_one(r);
    r->sub = r->cmd ? open_one(r) : NULL;
    if (r->cmd == NULL || r->sub == NULL) {
        go_down(r);
        return;
    }
    if (r->password[0])
        r->pending++; /* the AUTH on cmd */
    {
        const char *argv[] = {"SUBSCRIBE", r->k_chan};
        size_t lens[] = {9, strlen(r->k_chan)};
        if (redisAsyncCommandArgv(r->sub, on_sub, r, 2, argv, lens) != REDIS_OK)
            go_down(r);
    }
}

/* ---- the thread ------------------------------------------------------------------------------ */

static void on_tick(uv_timer_t *t)
{
    struct lx_state_redis *r = t->data;
    uint64_t now = lx_now_mono_ns() / 1000000;

    if (r->cmd == NULL) {
        if (now >= r->next_try_ms)
            try_connect(r);
        return;
    }
    if (r->status != RS_CONNECTED && now - r->started_ms > r->timeout_ms) {
        go_down(r); /* connect, AUTH, SUBSCRIBE or load took too long */
        return;
    }
    if (r->pending && now - r->progress_ms > r->timeout_ms) {
        go_down(r); /* a reply is overdue: the server hangs or the network dropped */
        return;
    }
    flush_queue(r);
}

static void on_closed(uv_handle_t *h) { (void)h; }

static void on_wake(uv_async_t *a)
{
    struct lx_state_redis *r = a->data;
    bool stop;

    pthread_mutex_lock(&r->mu);
    stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    if (!stop) {
        flush_queue(r);
        return;
    }
    drop_connections(r);
    uv_close((uv_handle_t *)&r->tick, on_closed);
    uv_close((uv_handle_t *)&r->wake, on_closed);
}

static void *run(void *arg)
{
    struct lx_state_redis *r = arg;

    uv_run(&r->loop, UV_RUN_DEFAULT); /* until on_wake closed every handle */
    return NULL;
}

static void detach(struct lx_state_redis *r)
{
    struct msg *m;

    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_mutex_unlock(&r->mu);
    uv_async_send(&r->wake);
    pthread_join(r->thread, NULL);
    uv_loop_close(&r->loop);
    while ((m = queue_pop(r)) != NULL)
        free(m);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* ---- public --------------------------------------------------------------------------------- */

static bool copy_into(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (n >= cap)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

int lx_state_redis_attach(struct lx_state *st, const struct lx_state_redis_conf *conf)
{
    struct lx_state_hooks *hooks = lx__state_hooks(st);
    struct lx_state_redis *r;
    uint64_t seed = lx_now_mono_ns() ^ ((uint64_t)(uintptr_t)st << 16);

    if (hooks->redis != NULL || conf == NULL)
        return LX_EINVAL;
    r = lx_xcalloc(1, sizeof(*r));
    r->st = st;
    r->held_tail = &r->held;
    r->port = conf->port > 0 ? conf->port : 6379;
    r->timeout_ms = conf->timeout_ms ? conf->timeout_ms : 1000;
    r->backoff_max_ms = conf->backoff_max_ms ? conf->backoff_max_ms : 5000;
    if (r->backoff_max_ms < BACKOFF_MIN_MS)
        r->backoff_max_ms = BACKOFF_MIN_MS;
    if (!copy_into(r->host, sizeof(r->host), conf->host ? conf->host : "127.0.0.1") ||
        !copy_into(r->password, sizeof(r->password), conf->password ? conf->password : "") ||
        !copy_into(r->prefix, sizeof(r->prefix), conf->prefix ? conf->prefix : "llmux:")) {
        free(r);
        return LX_EINVAL;
    }
    snprintf(r->k_cool, sizeof(r->k_cool), "%scooldowns", r->prefix);
    snprintf(r->k_dis, sizeof(r->k_dis), "%sdisabled", r->prefix);
    snprintf(r->k_br, sizeof(r->k_br), "%sbreakers", r->prefix);
    snprintf(r->k_chan, sizeof(r->k_chan), "%sevents", r->prefix);
    r->seed = (unsigned)(seed ^ (seed >> 32));
    {
        /* the origin only tells instances apart: not a secret */
        uint64_t a = seed * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() << 32;
        snprintf(r->origin, sizeof(r->origin), "%016llx", (unsigned long long)a);
    }
    pthread_mutex_init(&r->mu, NULL);
    if (uv_loop_init(&r->loop) != 0)
        goto fail_mu;
    if (uv_async_init(&r->loop, &r->wake, on_wake) != 0 || uv_timer_init(&r->loop, &r->tick) != 0)
        goto fail_loop; /* neither holds anything yet that outlives the loop's close */
    r->wake.data = r;
    r->tick.data = r;
    uv_timer_start(&r->tick, on_tick, TICK_MS, TICK_MS);
    try_connect(r); /* no I/O waits: the connection completes on the thread */
    hooks->redis = r;
    hooks->publish = on_publish;
    hooks->detach = detach;
    if (pthread_create(&r->thread, NULL, run, r) != 0) {
        hooks->redis = NULL;
        hooks->publish = NULL;
        hooks->detach = NULL;
        drop_connections(r);
        uv_close((uv_handle_t *)&r->tick, on_closed);
        uv_close((uv_handle_t *)&r->wake, on_closed);
        uv_run(&r->loop, UV_RUN_DEFAULT);
        goto fail_loop;
    }
    return LX_OK;
fail_loop:
    uv_loop_close(&r->loop);
fail_mu:
    pthread_mutex_destroy(&r->mu);
    free(r);
    return LX_ESYS;
}

bool lx_state_redis_status(struct lx_state *st, char *out, size_t cap)
{
    struct lx_state_redis *r = lx__state_hooks(st)->redis;
    enum rstatus s;
    uint64_t since;
    char ts[25];

    if (cap == 0)
        return false;
    if (r == NULL) {
        snprintf(out, cap, "off");
        return false;
    }
    pthread_mutex_lock(&r->mu);
    s = r->status;
    since = r->down_since_ms;
    pthread_mutex_unlock(&r->mu);
    if (s == RS_CONNECTED) {
        snprintf(out, cap, "connected");
        return true;
    }
    if (s == RS_CONNECTING) {
        snprintf(out, cap, "connecting");
        return false;
    }
    lx_format_rfc3339_ms(since, ts);
    snprintf(out, cap, "down since %s", ts);
    return false;
}

int lx_state_redis_parse_url(const char *url, struct lx_state_redis_conf *c, char *buf, size_t cap)
{
    struct lx_str s = lx_str_cstr(url), auth = LX_STR_NULL, hostport, host, db = LX_STR_NULL;
    long at, slash, colon;
    uint64_t port = 6379, dbn = 0;
    size_t need;

    memset(c, 0, sizeof(*c));
    if (url == NULL || !lx_str_starts_with(s, LX_STR("redis://")))
        return LX_EINVAL;
    s = lx_str_sub(s, 8, s.len);
    slash = lx_str_find_char(s, '/');
    if (slash >= 0) {
        db = lx_str_sub(s, (size_t)slash + 1, s.len);
        s = lx_str_sub(s, 0, (size_t)slash);
        if (db.len && (lx_str_to_u64(db, &dbn) != LX_OK || dbn != 0))
            return LX_EINVAL; /* one shared namespace: db 0 only */
    }
    at = -1;
    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] == '@')
            at = (long)i; /* the last '@': a password may hold one */
    if (at >= 0) {
        auth = lx_str_sub(s, 0, (size_t)at);
        s = lx_str_sub(s, (size_t)at + 1, s.len);
        colon = lx_str_find_char(auth, ':');
        if (colon < 0)
            return LX_EINVAL;
        if (colon > 0 && !lx_str_eq(lx_str_sub(auth, 0, (size_t)colon), LX_STR("default")))
            return LX_EINVAL; /* ACL users other than default: not supported */
        auth = lx_str_sub(auth, (size_t)colon + 1, auth.len);
    }
    hostport = s;
    host = hostport;
    if (hostport.len && hostport.ptr[0] == '[') { /* [v6]:port */
        long close = lx_str_find_char(hostport, ']');
        if (close < 0)
            return LX_EINVAL;
        host = lx_str_sub(hostport, 1, (size_t)close - 1);
        s = lx_str_sub(hostport, (size_t)close + 1, hostport.len);
        if (s.len && (s.ptr[0] != ':' || lx_str_to_u64(lx_str_sub(s, 1, s.len), &port) != LX_OK))
            return LX_EINVAL;
    } else {
        colon = lx_str_find_char(hostport, ':');
        if (colon >= 0) {
            host = lx_str_sub(hostport, 0, (size_t)colon);
            if (lx_str_to_u64(lx_str_sub(hostport, (size_t)colon + 1, hostport.len), &port) !=
                LX_OK)
                return LX_EINVAL;
        }
    }
    if (host.len == 0 || port == 0 || port > 65535)
        return LX_EINVAL;
    need = host.len + 1 + auth.len + 1;
    if (need > cap)
        return LX_EINVAL;
    memcpy(buf, host.ptr, host.len);
    buf[host.len] = '\0';
    c->host = buf;
    c->port = (int)port;
    if (auth.len) {
        memcpy(buf + host.len + 1, auth.ptr, auth.len);
        buf[host.len + 1 + auth.len] = '\0';
        c->password = buf + host.len + 1;
    }
    return LX_OK;
}
