/* fetch_probe.c - drives gateway/fetch.h alone, for tests/integration/test_gateway_images.py:
 *
 *     fetch_probe check  CONFIG.yaml URL...   the policy: one line per URL,
 *                                             "fetch HOST" | "skip" | "refuse STATUS MESSAGE"
 *     fetch_probe fetch  CONFIG.yaml URL...   one user message with an image part per URL (the
 *                                             first twice, and once inside a tool result);
 *                                             prints "rc EAGAIN|OK|<error>", then "done ok" and
 *                                             "part I MEDIA_TYPE BASE64" per image part, or
 *                                             "done error STATUS MESSAGE"
 *     fetch_probe cancel CONFIG.yaml URL...   starts, cancels at once, frees the arena, runs
 *                                             the loop dry: "canceled" (done must not run; ASan
 *                                             checks the rest)
 *     fetch_probe cancel-late CONFIG.yaml URL...   the same 300 ms after the start
 *
 * Exit status 0 unless the program itself failed (bad arguments, unreadable config). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "config/config.h"
#include "core/arena.h"
#include "core/err.h"
#include "gateway/fetch.h"
#include "providers/ir.h"
#include "upstream/upstream.h"

static struct lx_chat_req req;
static int done_calls;
static bool timer_fired;

static void on_timer(uv_timer_t *t)
{
    timer_fired = true;
}

static void print_parts(void)
{
    size_t k = 0;

    for (size_t m = 0; m < req.n_msgs; m++)
        for (size_t i = 0; i < req.msgs[m].n_parts; i++) {
            const struct lx_part *p = &req.msgs[m].parts[i];
            const struct lx_part *list = p->type == LX_PART_TOOL_RESULT ? p->sub : p;
            size_t n = p->type == LX_PART_TOOL_RESULT ? p->n_sub : 1;

            for (size_t s = 0; s < n; s++)
                if (list[s].type == LX_PART_IMAGE)
                    printf("part %zu %.*s %.*s\n", k++, LX_STR_FMT(list[s].media_type),
                           list[s].data.len ? (int)list[s].data.len : 1,
                           list[s].data.len ? list[s].data.ptr : "-");
        }
}

static void on_done(void *ctx, const struct lx_err *err)
{
    done_calls++;
    if (err == NULL) {
        printf("done ok\n");
        print_parts();
    } else {
        printf("done error %d %s\n", err->http_status, err->msg);
    }
    fflush(stdout);
}

static int build_req(struct lx_arena *a, char **urls, int n)
{
    struct lx_msg *msg = lx_arena_zalloc(a, 2 * sizeof(*msg));
    struct lx_part *parts = lx_arena_zalloc(a, ((size_t)n + 2) * sizeof(*parts));
    struct lx_part *sub = lx_arena_zalloc(a, sizeof(*sub));

    if (msg == NULL || parts == NULL || sub == NULL)
        return -1;
    lx_chat_req_init(&req);
    parts[0] = (struct lx_part){.type = LX_PART_TEXT, .text = LX_STR("describe")};
    for (int i = 0; i < n; i++)
        parts[i + 1] = (struct lx_part){.type = LX_PART_IMAGE, .url = lx_str_cstr(urls[i])};
    parts[n + 1] = (struct lx_part){.type = LX_PART_IMAGE, .url = lx_str_cstr(urls[0])};
    msg[0] = (struct lx_msg){.role = LX_ROLE_USER, .parts = parts, .n_parts = (size_t)n + 2};
    *sub = (struct lx_part){.type = LX_PART_IMAGE, .url = lx_str_cstr(urls[0])};
    parts = lx_arena_zalloc(a, sizeof(*parts));
    if (parts == NULL)
        return -1;
    parts[0] = (struct lx_part){.type = LX_PART_TOOL_RESULT, .id = LX_STR("call_1"),
                                .sub = sub, .n_sub = 1};
    msg[1] = (struct lx_msg){.role = LX_ROLE_TOOL, .parts = parts, .n_parts = 1};
    req.msgs = msg;
    req.n_msgs = 2;
    return 0;
}

int main(int argc, char **argv)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    struct lx_upstream_config ucfg;
    struct lx_upstream_ctx *up;
    struct lx_gw_fetch *f = NULL;
    struct lx_err err = {0};
    struct lx_arena *a;
    uv_loop_t loop;
    int rc;

    if (argc < 4) {
        fprintf(stderr, "usage: fetch_probe check|fetch|cancel CONFIG.yaml URL...\n");
        return 2;
    }
    if (lx_config_load_file(argv[2], &cfg, &errs) != LX_OK) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.msgs[i].text);
        return 2;
    }
    lx_config_errs_release(&errs);
    if (strcmp(argv[1], "check") == 0) {
        for (int i = 3; i < argc; i++) {
            char host[128];
            memset(&err, 0, sizeof(err));
            rc = lx__gw_fetch_check(cfg, lx_str_cstr(argv[i]), host, sizeof(host), &err);
            if (rc == LX_OK)
                printf("fetch %s\n", host);
            else if (rc == LX_ENOTFOUND)
                printf("skip\n");
            else
                printf("refuse %d %s\n", err.http_status, err.msg);
        }
        lx_config_unref(cfg);
        return 0;
    }
    a = lx_arena_new(4096, (size_t)1 << 30);
    if (a == NULL || build_req(a, argv + 3, argc - 3) != 0)
        return 2;
    uv_loop_init(&loop);
    lx_upstream_config_default(&ucfg);
    up = lx_upstream_ctx_new(&loop, &ucfg, &err);
    if (up == NULL) {
        fprintf(stderr, "upstream: %s\n", err.msg);
        return 2;
    }
    rc = lx__gw_fetch_images(up, cfg, &req, a, on_done, NULL, &f, &err);
    if (rc == LX_EAGAIN)
        printf("rc EAGAIN\n");
    else if (rc == LX_OK)
        printf("rc OK\n");
    else
        printf("rc %s %d %s\n", lx_err_name(rc), err.http_status, err.msg);
    fflush(stdout);
    if (rc == LX_EAGAIN && strcmp(argv[1], "cancel-late") == 0) {
        /* the transfers are connected and waiting for their answers */
        uv_timer_t t;
        uv_timer_init(&loop, &t);
        uv_timer_start(&t, on_timer, 300, 0);
        while (!timer_fired && uv_run(&loop, UV_RUN_ONCE) != 0)
            ;
        uv_close((uv_handle_t *)&t, NULL);
        if (done_calls != 0)
            printf("BUG: done ran before the cancel\n");
    }
    if (rc == LX_EAGAIN && strncmp(argv[1], "cancel", 6) == 0) {
        lx__gw_fetch_cancel(f);
        lx_arena_free(a); /* the request is gone at once: the transfers must not touch it */
        a = NULL;
        printf("canceled\n");
    }
    if (rc == LX_OK)
        print_parts();
    /* until done: a kept-alive pooled connection would keep a default run going for a minute */
    while (rc == LX_EAGAIN && strncmp(argv[1], "cancel", 6) != 0 && done_calls == 0 &&
           uv_run(&loop, UV_RUN_ONCE) != 0)
        ;
    if (rc == LX_EAGAIN && strncmp(argv[1], "cancel", 6) != 0 && done_calls != 1)
        printf("BUG: done ran %d times\n", done_calls);
    if (strncmp(argv[1], "cancel", 6) == 0 && done_calls != 0)
        printf("BUG: done ran after cancel\n");
    lx_upstream_ctx_free(up);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    lx_arena_free(a);
    lx_config_unref(cfg);
    return 0;
}
