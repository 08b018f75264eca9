/* test_server_http1_corpus.c - every case of ../shared/corpus/http at parser level (README
 * "How a test harness should use a case", point 1): fed whole (with pause/resume after every
 * request), then one byte at a time; both must give the .expect verdict, status, request count
 * and persistence. Like the server, the harness stops feeding after a non-persistent request. */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "server/http1.h"
#include "tests/unit/test.h"

struct expect {
    bool accept, close;
    int status; /* 0 when not given */
    int requests;
};

struct run {
    int requests;
    bool last_keep_alive;
    bool stopped; /* a non-persistent request completed */
    bool pause_each;
    int rc; /* first error (feed or finish), LX_OK if none */
    int status;
};

static int on_complete(void *ctx, const struct lx_http1_head *h)
{
    struct run *r = ctx;

    r->requests++;
    r->last_keep_alive = h->keep_alive;
    if (!h->keep_alive) {
        r->stopped = true;
        return LX_EPAUSE;
    }
    return r->pause_each ? LX_EPAUSE : LX_OK;
}

static bool parse_expect(const char *path, struct expect *e)
{
    char *text = lx_test_read_file(path, NULL);
    bool have_verdict = false;

    if (text == NULL)
        return false;
    memset(e, 0, sizeof(*e));
    e->requests = -1;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');

        if (nl)
            *nl = '\0';
        if (strncmp(line, "verdict: ", 9) == 0) {
            e->accept = strcmp(line + 9, "accept") == 0;
            have_verdict = true;
        } else if (strncmp(line, "status: ", 8) == 0) {
            e->status = (int)strtol(line + 8, NULL, 10);
        } else if (strncmp(line, "close: ", 7) == 0) {
            e->close = strcmp(line + 7, "yes") == 0;
        } else if (strncmp(line, "requests: ", 10) == 0) {
            e->requests = (int)strtol(line + 10, NULL, 10);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return have_verdict && e->requests >= 0;
}

/* Feeds data in pieces of `step` bytes (0 = whole), resuming after pauses, then EOF. */
static void run_case(const char *data, size_t len, size_t step, bool pause_each, struct run *r)
{
    static const struct lx_http1_cbs cbs = {.on_complete = on_complete};
    struct lx_http1_parser *p;
    size_t off = 0;

    memset(r, 0, sizeof(*r));
    r->pause_each = pause_each;
    p = lx_http1_new(NULL, &cbs, r);
    while (off < len && !r->stopped) {
        size_t n = step == 0 ? len - off : LX_MIN(step, len - off), used = 0;
        int rc = lx_http1_feed(p, data + off, n, &used);

        off += used;
        if (rc == LX_EPAUSE) {
            lx_http1_resume(p);
            continue;
        }
        if (rc != LX_OK) {
            r->rc = rc;
            break;
        }
        if (used != n) {
            r->rc = LX_EINVAL; /* LX_OK must mean everything was consumed */
            break;
        }
    }
    if (r->rc == LX_OK && !r->stopped)
        r->rc = lx_http1_finish(p);
    r->status = lx_http1_error_status(p);
    lx_http1_free(p);
}

/* NULL when the run matches the expectation, else why not. */
static const char *check(const struct expect *e, const struct run *r)
{
    static char why[160];

    if (r->requests != e->requests) {
        snprintf(why, sizeof(why), "requests %d, want %d (rc %s, status %d)", r->requests,
                 e->requests, lx_err_name(r->rc), r->status);
        return why;
    }
    if (e->accept && r->rc != LX_OK) {
        snprintf(why, sizeof(why), "rejected (rc %s, status %d), want accept", lx_err_name(r->rc),
                 r->status);
        return why;
    }
    if (!e->accept && r->rc == LX_OK)
        return "accepted, want reject";
    if (!e->accept && e->status != 0 && r->status != e->status) {
        snprintf(why, sizeof(why), "status %d, want %d", r->status, e->status);
        return why;
    }
    if (e->accept && !e->close && (r->stopped || (e->requests > 0 && !r->last_keep_alive)))
        return "connection closes, want it kept";
    if (e->accept && e->close && !r->stopped)
        return "connection kept, want close";
    return NULL;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

LX_TEST(http1_corpus)
{
    const char *dir = lx_test_shared("corpus/http");
    char dirpath[4096], path[4200];
    DIR *d;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0, failed = 0;

    snprintf(dirpath, sizeof(dirpath), "%s", dir);
    d = opendir(dirpath);
    if (d == NULL)
        LX_FAIL("cannot open %s", dirpath);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);

        if (l < 6 || strcmp(de->d_name + l - 5, ".http") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            names = realloc(names, cap * sizeof(*names));
        }
        names[n++] = strndup(de->d_name, l - 5);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), name_cmp);

    for (size_t k = 0; k < n; k++) {
        struct expect e;
        struct run whole, bytes;
        const char *why;
        size_t len;
        char *data;

        snprintf(path, sizeof(path), "%s/%s.expect", dirpath, names[k]);
        if (!parse_expect(path, &e)) {
            fprintf(stderr, "  %s: unreadable .expect\n", names[k]);
            failed++;
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s.http", dirpath, names[k]);
        data = lx_test_read_file(path, &len);
        if (data == NULL) {
            fprintf(stderr, "  %s: unreadable .http\n", names[k]);
            failed++;
            continue;
        }
        run_case(data, len, 0, true, &whole);
        run_case(data, len, 1, false, &bytes);
        if ((why = check(&e, &whole)) != NULL) {
            fprintf(stderr, "  %s.http (whole): %s\n", names[k], why);
            failed++;
        } else if ((why = check(&e, &bytes)) != NULL) {
            fprintf(stderr, "  %s.http (byte by byte): %s\n", names[k], why);
            failed++;
        }
        free(data);
    }
    for (size_t k = 0; k < n; k++)
        free(names[k]);
    free(names);
    if (n != 558)
        LX_FAIL("%zu cases found, want 558", n);
    if (failed != 0)
        LX_FAIL("%zu of %zu corpus cases failed", failed, n);
    return 0;
}
