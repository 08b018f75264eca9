/* main.c - argv, configuration, start the loops. Nothing else.
 * Secrets never come from argv (they would show in ps): the upstream key is read from the
 * environment (LLMUX_UPSTREAM_KEY, else OPENAI_API_KEY). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/str.h"
#include "gateway/gateway.h"
#include "server/server.h"

#define LLMUX_VERSION "0.1.0"

static void usage(FILE *f)
{
    fputs("usage: llmux serve [options]\n"
          "       llmux check-config FILE [--print]\n"
          "       llmux version\n"
          "\n"
          "options:\n"
          "  --listen HOST:PORT        address to listen on (default 127.0.0.1:4000)\n"
          "  --workers N               worker threads, one loop each (default: CPUs)\n"
          "  --upstream URL            OpenAI-compatible base URL (default https://api.openai.com/v1)\n"
          "  --ca-file FILE            CA bundle for upstream TLS (default: system store)\n"
          "  --max-body BYTES          largest request body (default 33554432)\n"
          "  --header-timeout-ms MS    (default 10000)   --body-timeout-ms MS (default 30000)\n"
          "  --keepalive-timeout-ms MS (default 60000)   --send-timeout-ms MS (default 60000)\n"
          "  --drain-timeout-ms MS     on SIGTERM, how long requests in flight get (default 30000)\n"
          "  --connect-timeout-ms MS   upstream connect (default 5000)\n"
          "  --first-byte-timeout-ms MS upstream first byte (default 120000)\n"
          "  --idle-timeout-ms MS      upstream idle between reads (default 60000)\n"
          "  --total-timeout-ms MS     upstream whole exchange (default 600000)\n"
          "  --log-level LEVEL         debug, info, warn, error, off (default info)\n"
          "  --answer-half-closed      keep answering a client that half-closed its side\n"
          "                            (default: its EOF cancels the request)\n"
          "\n"
          "environment: LLMUX_UPSTREAM_KEY (or OPENAI_API_KEY) is the upstream key.\n",
          f);
}

/* "host:port", "[::1]:port" or ":port". 0 or -1. */
static int parse_listen(const char *s, char *host, size_t host_len, unsigned *port)
{
    const char *colon = strrchr(s, ':');
    struct lx_str p;
    uint64_t v;
    size_t n;

    if (colon == NULL)
        return -1;
    p = lx_str_cstr(colon + 1);
    if (lx_str_to_u64(p, &v) != LX_OK || v > 65535)
        return -1;
    n = (size_t)(colon - s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    if (n == 0) {
        s = "0.0.0.0";
        n = 7;
    }
    if (n >= host_len)
        return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    *port = (unsigned)v;
    return 0;
}

static int parse_uint(const char *name, const char *s, uint64_t max, uint64_t *out)
{
    if (lx_str_to_u64(lx_str_cstr(s), out) != LX_OK || *out > max) {
        fprintf(stderr, "llmux: %s: not a number up to %llu: %s\n", name,
                (unsigned long long)max, s);
        return -1;
    }
    return 0;
}

static bool is_loopback(const char *host)
{
    return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0;
}

enum {
    OPT_LISTEN = 256,
    OPT_WORKERS,
    OPT_UPSTREAM,
    OPT_CA_FILE,
    OPT_MAX_BODY,
    OPT_HEADER_TO,
    OPT_BODY_TO,
    OPT_KEEPALIVE_TO,
    OPT_SEND_TO,
    OPT_DRAIN_TO,
    OPT_CONNECT_TO,
    OPT_FIRST_BYTE_TO,
    OPT_IDLE_TO,
    OPT_TOTAL_TO,
    OPT_LOG_LEVEL,
    OPT_ANSWER_HALF_CLOSED,
    OPT_HELP,
};

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"upstream", required_argument, NULL, OPT_UPSTREAM},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"header-timeout-ms", required_argument, NULL, OPT_HEADER_TO},
    {"body-timeout-ms", required_argument, NULL, OPT_BODY_TO},
    {"keepalive-timeout-ms", required_argument, NULL, OPT_KEEPALIVE_TO},
    {"send-timeout-ms", required_argument, NULL, OPT_SEND_TO},
    {"drain-timeout-ms", required_argument, NULL, OPT_DRAIN_TO},
    {"connect-timeout-ms", required_argument, NULL, OPT_CONNECT_TO},
    {"first-byte-timeout-ms", required_argument, NULL, OPT_FIRST_BYTE_TO},
    {"idle-timeout-ms", required_argument, NULL, OPT_IDLE_TO},
    {"total-timeout-ms", required_argument, NULL, OPT_TOTAL_TO},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"answer-half-closed", no_argument, NULL, OPT_ANSWER_HALF_CLOSED},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int serve(int argc, char **argv)
{
    struct lx_server_config sc;
    struct lx_gateway_config gc;
    struct lx_gateway *gw = NULL;
    struct lx_server *srv = NULL;
    struct lx_err err = {0};
    enum lx_log_level level = LX_LOG_INFO;
    char host[256] = "127.0.0.1";
    const char *key;
    uint64_t v;
    int c, rc = 1;

    lx_server_config_default(&sc);
    lx_gateway_config_default(&gc);
    sc.port = 4000;
    /* A client that closes its side is almost always gone: cancel the provider call at once
     * rather than pay for tokens nobody reads (--answer-half-closed keeps waiting). */
    sc.abort_on_eof = true;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_LISTEN:
            if (parse_listen(optarg, host, sizeof(host), &sc.port) != 0) {
                fprintf(stderr, "llmux: --listen wants HOST:PORT, got %s\n", optarg);
                return 2;
            }
            break;
        case OPT_WORKERS:
            if (parse_uint("--workers", optarg, 256, &v) != 0)
                return 2;
            sc.workers = (unsigned)v;
            break;
        case OPT_UPSTREAM:
            gc.upstream_base = optarg;
            break;
        case OPT_CA_FILE:
            gc.upstream.ca_file = optarg;
            break;
        case OPT_MAX_BODY:
            if (parse_uint("--max-body", optarg, (uint64_t)1 << 40, &v) != 0)
                return 2;
            sc.limits.max_body = v;
            break;
#define MS_OPT(opt, name, field)                                                                   \
    case opt:                                                                                      \
        if (parse_uint(name, optarg, 86400000u, &v) != 0)                                          \
            return 2;                                                                              \
        field = (unsigned)v;                                                                       \
        break;
            MS_OPT(OPT_HEADER_TO, "--header-timeout-ms", sc.header_timeout_ms)
            MS_OPT(OPT_BODY_TO, "--body-timeout-ms", sc.body_idle_timeout_ms)
            MS_OPT(OPT_KEEPALIVE_TO, "--keepalive-timeout-ms", sc.keepalive_timeout_ms)
            MS_OPT(OPT_SEND_TO, "--send-timeout-ms", sc.send_timeout_ms)
            MS_OPT(OPT_DRAIN_TO, "--drain-timeout-ms", sc.drain_timeout_ms)
            MS_OPT(OPT_CONNECT_TO, "--connect-timeout-ms", gc.upstream.connect_timeout_ms)
            MS_OPT(OPT_FIRST_BYTE_TO, "--first-byte-timeout-ms", gc.upstream.first_byte_timeout_ms)
            MS_OPT(OPT_IDLE_TO, "--idle-timeout-ms", gc.upstream.idle_timeout_ms)
            MS_OPT(OPT_TOTAL_TO, "--total-timeout-ms", gc.upstream.total_timeout_ms)
#undef MS_OPT
        case OPT_LOG_LEVEL:
            if (lx_log_parse_level(optarg, &level) != 0) {
                fprintf(stderr, "llmux: --log-level: unknown level %s\n", optarg);
                return 2;
            }
            break;
        case OPT_ANSWER_HALF_CLOSED:
            sc.abort_on_eof = false;
            break;
        case OPT_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "llmux: unexpected argument: %s\n", argv[optind]);
        return 2;
    }
    lx_log_init(2, level);
    if (!is_loopback(host)) {
        /* there is no client authentication yet: never expose the upstream key beyond loopback */
        fprintf(stderr, "llmux: refusing to listen on %s: without a master key llmux only "
                        "listens on loopback\n",
                host);
        return 2;
    }
    key = getenv("LLMUX_UPSTREAM_KEY");
    if (key == NULL || *key == '\0')
        key = getenv("OPENAI_API_KEY");
    gc.upstream_key = (key && *key) ? key : NULL;

    gw = lx_gateway_new(&gc, &err);
    if (gw == NULL) {
        fprintf(stderr, "llmux: %s\n", err.msg);
        goto out;
    }
    sc.host = host;
    sc.handler = lx_gateway_handle;
    sc.worker_start = lx_gateway_worker_start;
    sc.worker_stop = lx_gateway_worker_stop;
    sc.data = gw;
    srv = lx_server_new(&sc, &err);
    if (srv == NULL) {
        fprintf(stderr, "llmux: %s\n", err.msg);
        goto out;
    }
    rc = lx_server_run(srv, true) == LX_OK ? 0 : 1;
out:
    lx_server_free(srv);
    lx_gateway_free(gw);
    return rc;
}

/* llmux check-config FILE [--print]: loads and validates a configuration file the way serve
 * will, prints every message as FILE:LINE:COL, and with --print the effective configuration
 * with every secret as "***". Exit 0 when the file would be accepted, 1 when not, 2 on usage. */
static int check_config(int argc, char **argv)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    struct lx_buf out = LX_BUF_INIT(16u << 20);
    const char *path = NULL;
    bool print = false;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--print") == 0)
            print = true;
        else if (path == NULL && argv[i][0] != '-')
            path = argv[i];
        else {
            fprintf(stderr, "usage: llmux check-config FILE [--print]\n");
            return 2;
        }
    }
    if (path == NULL) {
        fprintf(stderr, "usage: llmux check-config FILE [--print]\n");
        return 2;
    }
    rc = lx_config_load_file(path, &cfg, &errs);
    lx_config_errs_format(&errs, &out);
    fputs(out.ptr, stderr);
    if (rc == LX_OK && print) {
        lx_buf_reset(&out);
        lx_config_dump(cfg, &out);
        fputs(out.ptr, stdout);
    }
    if (rc == LX_OK)
        fprintf(stderr, "%s: ok (%zu warning%s)\n", path, errs.n_warnings,
                errs.n_warnings == 1 ? "" : "s");
    else
        fprintf(stderr, "%s: %zu error%s\n", path, errs.n_errors, errs.n_errors == 1 ? "" : "s");
    lx_buf_release(&out);
    lx_config_errs_release(&errs);
    lx_config_unref(cfg);
    return rc == LX_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    /* a peer that closes while we write must give EPIPE, not kill the process */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        /* `make run`: no subcommand means serve with the built-in defaults */
        return serve(argc, argv);
    }
    if (strcmp(argv[1], "serve") == 0)
        return serve(argc - 1, argv + 1);
    if (strcmp(argv[1], "check-config") == 0)
        return check_config(argc - 1, argv + 1);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("llmux %s\n", LLMUX_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (argv[1][0] == '-')
        return serve(argc, argv);
    fprintf(stderr, "llmux: unknown command: %s\n", argv[1]);
    usage(stderr);
    return 2;
}
