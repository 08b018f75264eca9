/* provider_replay.h - shared by the adapters' unit tests: replays recorded upstream stream bytes
 * through the real framing and an adapter's parse_event (src/providers/stream.h, exactly what
 * the gateway runs), and prints every delta as one canonical text line, so that a test can
 * compare a whole stream with an expected transcript and check that every split point of the
 * bytes gives the same transcript. Also a summary (text, tool calls, finish, usage) for
 * assertions. Header-only (static inline), test code only. */
#ifndef LX_TEST_PROVIDER_REPLAY_H
#define LX_TEST_PROVIDER_REPLAY_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/escape.h"
#include "providers/provider.h"
#include "providers/stream.h"

#define LX_PT_MAX_EVENT ((size_t)1 << 20)
#define LX_PT_NO_SPLIT SIZE_MAX

static inline const char *lx_pt_finish_name(enum lx_finish f)
{
    static const char *const names[] = {"unset", "stop", "length", "tool_calls", "content_filter",
                                        "error"};

    return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "?";
}

static inline void lx_pt_quoted(struct lx_buf *b, struct lx_str s)
{
    lx_buf_append_char(b, '"');
    lx_json_escape(b, s);
    lx_buf_append_char(b, '"');
}

/* One line per delta:
 *   START id="…" model="…"
 *   TEXT c=0 "…"            THINKING c=0 "…"          SIGNATURE c=0 "…"
 *   REDACTED c=0 "…"
 *   TOOL c=0 i=0 id="…" name="…" args="…" sig="…"
 *   FINISH c=0 stop raw="end_turn" seq="…"
 *   USAGE in=10 out=5 total=15 cache_read=-1 cache_write=-1 reasoning=-1
 *   ERROR status=529 type=11 retryable=1 key=0 code="…" msg="…"
 *   DONE */
static inline void lx_pt_delta_line(struct lx_buf *b, const struct lx_delta *d)
{
    switch (d->type) {
    case LX_DELTA_START:
        lx_buf_append_cstr(b, "START id=");
        lx_pt_quoted(b, d->id);
        lx_buf_append_cstr(b, " model=");
        lx_pt_quoted(b, d->name);
        break;
    case LX_DELTA_TEXT:
    case LX_DELTA_THINKING:
    case LX_DELTA_THINKING_SIGNATURE:
    case LX_DELTA_REDACTED_THINKING:
        lx_buf_appendf(b, "%s c=%u ",
                       d->type == LX_DELTA_TEXT              ? "TEXT"
                       : d->type == LX_DELTA_THINKING        ? "THINKING"
                       : d->type == LX_DELTA_REDACTED_THINKING ? "REDACTED"
                                                             : "SIGNATURE",
                       d->choice);
        lx_pt_quoted(b, d->text);
        break;
    case LX_DELTA_TOOL_CALL:
        lx_buf_appendf(b, "TOOL c=%u i=%d id=", d->choice, d->tool_index);
        lx_pt_quoted(b, d->id);
        lx_buf_append_cstr(b, " name=");
        lx_pt_quoted(b, d->name);
        lx_buf_append_cstr(b, " args=");
        lx_pt_quoted(b, d->text);
        lx_buf_append_cstr(b, " sig=");
        lx_pt_quoted(b, d->signature);
        break;
    case LX_DELTA_FINISH:
        lx_buf_appendf(b, "FINISH c=%u %s raw=", d->choice, lx_pt_finish_name(d->finish));
        lx_pt_quoted(b, d->finish_raw);
        lx_buf_append_cstr(b, " seq=");
        lx_pt_quoted(b, d->stop_sequence);
        break;
    case LX_DELTA_USAGE:
        lx_buf_appendf(b,
                       "USAGE in=%lld out=%lld total=%lld cache_read=%lld cache_write=%lld "
                       "reasoning=%lld",
                       (long long)d->usage.input, (long long)d->usage.output,
                       (long long)d->usage.total, (long long)d->usage.cache_read,
                       (long long)d->usage.cache_write, (long long)d->usage.reasoning);
        break;
    case LX_DELTA_ERROR:
        if (d->error == NULL) {
            lx_buf_append_cstr(b, "ERROR (null)");
            break;
        }
        lx_buf_appendf(b, "ERROR status=%d type=%d retryable=%d key=%d code=", d->error->status,
                       (int)d->error->type, (int)d->error->retryable, (int)d->error->key_action);
        lx_pt_quoted(b, d->error->code);
        lx_buf_append_cstr(b, " msg=");
        lx_pt_quoted(b, d->error->message);
        break;
    case LX_DELTA_DONE: lx_buf_append_cstr(b, "DONE"); break;
    }
    lx_buf_append_char(b, '\n');
}

/* What a stream said, assembled. Fixed sizes: enough for the fixtures. */
#define LX_PT_MAX_TOOLS 16
struct lx_pt_summary {
    struct lx_buf lines;    /* the canonical transcript */
    struct lx_buf text;     /* TEXT of choice 0, concatenated */
    struct lx_buf thinking; /* THINKING of choice 0 */
    struct lx_buf signature;
    struct {
        char id[256], name[256];
        struct lx_buf args;
        struct lx_buf signature;
    } tools[LX_PT_MAX_TOOLS];
    int n_tools;          /* highest tool_index + 1 (choice 0) */
    enum lx_finish finish; /* the last FINISH of choice 0 */
    struct lx_usage usage; /* merged: later known fields win */
    int n_start, n_done, n_error;
    struct lx_upstream_error error; /* the last ERROR (strings not kept) */
};

static inline void lx_pt_summary_init(struct lx_pt_summary *s)
{
    memset(s, 0, sizeof(*s));
    lx_buf_init(&s->lines, 1u << 24);
    lx_buf_init(&s->text, 1u << 24);
    lx_buf_init(&s->thinking, 1u << 24);
    lx_buf_init(&s->signature, 1u << 20);
    for (int i = 0; i < LX_PT_MAX_TOOLS; i++) {
        lx_buf_init(&s->tools[i].args, 1u << 20);
        lx_buf_init(&s->tools[i].signature, 1u << 20);
    }
    s->usage = (struct lx_usage)LX_USAGE_INIT;
}

static inline void lx_pt_summary_release(struct lx_pt_summary *s)
{
    lx_buf_release(&s->lines);
    lx_buf_release(&s->text);
    lx_buf_release(&s->thinking);
    lx_buf_release(&s->signature);
    for (int i = 0; i < LX_PT_MAX_TOOLS; i++) {
        lx_buf_release(&s->tools[i].args);
        lx_buf_release(&s->tools[i].signature);
    }
}

static inline void lx_pt_copy_id(char *dst, size_t cap, struct lx_str s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;

    if (n > 0)
        memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

static inline void lx_pt_merge_usage(struct lx_usage *u, const struct lx_usage *d)
{
    if (d->input >= 0) u->input = d->input;
    if (d->output >= 0) u->output = d->output;
    if (d->total >= 0) u->total = d->total;
    if (d->cache_read >= 0) u->cache_read = d->cache_read;
    if (d->cache_write >= 0) u->cache_write = d->cache_write;
    if (d->reasoning >= 0) u->reasoning = d->reasoning;
}

/* A delta sink that fills a struct lx_pt_summary (sink.ctx). */
static inline int lx_pt_sink_emit(void *ctx, const struct lx_delta *d)
{
    struct lx_pt_summary *s = ctx;

    lx_pt_delta_line(&s->lines, d);
    switch (d->type) {
    case LX_DELTA_START: s->n_start++; break;
    case LX_DELTA_TEXT:
        if (d->choice == 0)
            lx_buf_append_str(&s->text, d->text);
        break;
    case LX_DELTA_THINKING:
        if (d->choice == 0)
            lx_buf_append_str(&s->thinking, d->text);
        break;
    case LX_DELTA_THINKING_SIGNATURE:
        if (d->choice == 0)
            lx_buf_append_str(&s->signature, d->text);
        break;
    case LX_DELTA_REDACTED_THINKING: break;
    case LX_DELTA_TOOL_CALL:
        if (d->choice != 0 || d->tool_index < 0 || d->tool_index >= LX_PT_MAX_TOOLS)
            break;
        if (d->tool_index + 1 > s->n_tools)
            s->n_tools = d->tool_index + 1;
        if (d->id.len > 0)
            lx_pt_copy_id(s->tools[d->tool_index].id, sizeof(s->tools[0].id), d->id);
        if (d->name.len > 0)
            lx_pt_copy_id(s->tools[d->tool_index].name, sizeof(s->tools[0].name), d->name);
        lx_buf_append_str(&s->tools[d->tool_index].args, d->text);
        lx_buf_append_str(&s->tools[d->tool_index].signature, d->signature);
        break;
    case LX_DELTA_FINISH:
        if (d->choice == 0)
            s->finish = d->finish;
        break;
    case LX_DELTA_USAGE: lx_pt_merge_usage(&s->usage, &d->usage); break;
    case LX_DELTA_ERROR:
        s->n_error++;
        if (d->error != NULL) {
            s->error = *d->error;
            s->error.message = s->error.code = LX_STR_NULL;
        }
        break;
    case LX_DELTA_DONE: s->n_done++; break;
    }
    return LX_OK;
}

/* Replays bytes through ops->framing + ops->parse_event, fed in two pieces cut at `split`
 * (LX_PT_NO_SPLIT: one piece), into s (initialised by the caller). Appends a last line
 * "END rc=<feed/finish rc> done=<st.done> failed=<st.failed>". Returns the first error of
 * feed/finish (LX_OK for a clean replay). */
static inline int lx_pt_replay(const struct lx_provider_ops *ops, const struct lx_provider_call *call,
                               struct lx_str bytes, size_t split, struct lx_pt_summary *s)
{
    struct lx_arena *a = lx_arena_new(4096, 64u << 20);
    struct lx_delta_sink sink = {lx_pt_sink_emit, s};
    struct lx_stream_decoder d;
    int rc;

    if (a == NULL)
        return LX_ENOMEM;
    rc = lx_stream_decoder_init(&d, ops, call, a, LX_PT_MAX_EVENT, &sink);
    if (rc == LX_OK) {
        if (split == LX_PT_NO_SPLIT || split > bytes.len)
            split = bytes.len;
        rc = lx_stream_decoder_feed(&d, lx_str_make(bytes.ptr, split));
        if (rc == LX_OK)
            rc = lx_stream_decoder_feed(&d, lx_str_make(bytes.ptr + split, bytes.len - split));
        if (rc == LX_OK)
            rc = lx_stream_decoder_finish(&d);
        lx_buf_appendf(&s->lines, "END rc=%s done=%d failed=%d\n", rc == LX_OK ? "OK" : lx_err_name(rc),
                       (int)d.st.done, (int)d.st.failed);
    }
    lx_stream_decoder_release(&d);
    lx_arena_free(a);
    return rc;
}

/* Replays bytes whole into s (kept for the caller's assertions), then cut at every offset
 * (every `step`-th offset when step > 1: use 1 for fixtures under ~64 KiB) and checks each
 * transcript equals the whole one. Returns 0, or -1 after printing the first offset that
 * differs and both transcripts. */
static inline int lx_pt_replay_all_splits(const struct lx_provider_ops *ops,
                                          const struct lx_provider_call *call, struct lx_str bytes,
                                          size_t step, struct lx_pt_summary *s)
{
    lx_pt_replay(ops, call, bytes, LX_PT_NO_SPLIT, s);
    if (s->lines.err != LX_OK)
        return -1;
    for (size_t cut = 0; cut <= bytes.len; cut += step ? step : 1) {
        struct lx_pt_summary t;
        int same;

        lx_pt_summary_init(&t);
        lx_pt_replay(ops, call, bytes, cut, &t);
        same = t.lines.len == s->lines.len && memcmp(t.lines.ptr, s->lines.ptr, t.lines.len) == 0;
        if (!same) {
            fprintf(stderr, "split at %zu differs:\n--- whole\n%.*s--- split\n%.*s", cut,
                    (int)s->lines.len, s->lines.ptr, (int)t.lines.len, t.lines.ptr);
        }
        lx_pt_summary_release(&t);
        if (!same)
            return -1;
    }
    return 0;
}

/* The transcript as a NUL-terminated string (for LX_ASSERT_STREQ / strstr). */
static inline const char *lx_pt_lines(struct lx_pt_summary *s)
{
    lx_buf_append_char(&s->lines, '\0');
    s->lines.len--;
    return s->lines.ptr ? s->lines.ptr : "";
}

#endif /* LX_TEST_PROVIDER_REPLAY_H */
