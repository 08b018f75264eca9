/* main.c - argv, configuration, start the loops. Nothing else.
 * Secrets never come from argv (they would show in ps): the upstream key is read from the
 * environment (LLMUX_UPSTREAM_KEY, else OPENAI_API_KEY). */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/presets.h"
#include "json/writer.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/str.h"
#include "gateway/gateway.h"
#include "server/server.h"

#define LLMUX_VERSION "0.1.0"

static void usage(FILE *f)
{
    fputs(
        "usage: llmux serve [options]\n"
        "       llmux check-config FILE [--print]\n"
        "       llmux presets              (the provider presets, as JSON)\n"
        "       llmux version\n"
        "\n"
        "options:\n"
        "  -c, --config FILE         YAML configuration (docs/configuration-file.md);\n"
        "                            SIGHUP reloads it. Flags below override the file.\n"
        "  --listen HOST:PORT        address to listen on (default 127.0.0.1:4000)\n"
        "  --workers N               worker threads, one loop each (default: CPUs)\n"
        "  --upstream URL            one OpenAI-compatible base URL for every model (instead\n"
        "                            of --config; key from LLMUX_UPSTREAM_KEY/OPENAI_API_KEY)\n"
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
        "without --config or --upstream, providers come from the usual environment\n"
        "variables (OPENAI_API_KEY, ANTHROPIC_API_KEY, GROQ_API_KEY ...).\n",
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
        fprintf(stderr, "llmux: %s: not a number up to %llu: %s\n", name, (unsigned long long)max,
                s);
        return -1;
    }
    return 0;
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
    OPT_CONFIG,
    OPT_HELP,
    OPT__END
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
    {"config", required_argument, NULL, OPT_CONFIG},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* What the command line said; it wins over the configuration file. */
struct flags {
    const char *config, *upstream, *ca_file;
    char host[256];
    unsigned port;
    uint64_t num[OPT__END]; /* numeric options by OPT_*, valid when set[] */
    bool set[OPT__END];
    enum lx_log_level level;
};

static void print_msgs(const struct lx_config_errs *errs)
{
    struct lx_buf b = LX_BUF_INIT(1u << 20);

    lx_config_errs_format(errs, &b);
    fputs(b.ptr, stderr);
    lx_buf_release(&b);
}

static bool env_set(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && *v != '\0';
}

/* --upstream URL: one OpenAI-compatible provider that takes every model, written as a
 * configuration so that it goes through the same loader and checks as a file. The key comes
 * from the environment through ${...}: it is never on the command line. */
static int config_for_upstream(const char *url, struct lx_config **out, struct lx_config_errs *e)
{
    struct lx_buf y = LX_BUF_INIT(16384);
    const char *rest = strstr(url, "://");
    const char *key_var = env_set("LLMUX_UPSTREAM_KEY") ? "LLMUX_UPSTREAM_KEY"
                          : env_set("OPENAI_API_KEY")   ? "OPENAI_API_KEY"
                                                        : NULL;
    size_t len = strlen(url);
    int rc;

    while (len > 0 && url[len - 1] == '/')
        len--;
    /* a bare origin gets the OpenAI path, like an SDK's base_url */
    lx_buf_appendf(&y,
                   "providers:\n  - name: upstream\n    type: openai\n    base_url: \"%.*s%s\"\n",
                   (int)len, url, rest && strchr(rest + 3, '/') == NULL ? "/v1" : "");
    if (key_var)
        lx_buf_appendf(&y, "    keys: [\"${%s}\"]\n", key_var);
    lx_buf_append_cstr(&y, "routes:\n  - match: \"*\"\n    provider: upstream\n");
    if (y.err != LX_OK) {
        lx_buf_release(&y);
        return LX_ETOOBIG;
    }
    rc = lx_config_load_string("--upstream", y.ptr, y.len, out, e);
    lx_buf_release(&y);
    return rc;
}

static struct lx_config *load_config(const struct flags *f)
{
    struct lx_config_errs errs = LX_CONFIG_ERRS_INIT;
    struct lx_config *cfg = NULL;
    int rc;

    if (f->config)
        rc = lx_config_load_file(f->config, &cfg, &errs);
    else if (f->upstream)
        rc = config_for_upstream(f->upstream, &cfg, &errs);
    else
        rc = lx_config_from_env(&cfg, &errs);
    print_msgs(&errs);
    lx_config_errs_release(&errs);
    return rc == LX_OK ? cfg : NULL;
}

/* SIGHUP: read the file again; a bad file is refused and the old configuration stays. Runs on
 * its own thread (SIGHUP is blocked everywhere else), so loading never stalls a loop. */
struct reloader {
    pthread_t thread;
    const struct flags *flags;
    struct lx_gateway *gw;
};

static void *reload_main(void *arg)
{
    struct reloader *rl = arg;
    sigset_t set;
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR2); /* from serve(): stop */
    for (;;) {
        struct lx_config *next;

        if (sigwait(&set, &sig) != 0 || sig == SIGUSR2)
            return NULL;
        if (rl->flags->config == NULL) {
            lx_logf(LX_LOG_WARN, "SIGHUP: no --config file to reload");
            continue;
        }
        next = load_config(rl->flags);
        if (next == NULL) {
            lx_logf(LX_LOG_ERROR, "SIGHUP: %s refused; the running configuration stays",
                    rl->flags->config);
            continue;
        }
        lx_gateway_reload(rl->gw, next);
        lx_logf(LX_LOG_INFO, "SIGHUP: %s reloaded", rl->flags->config);
    }
}

/* 0, 1 for --help (done), 2 on a usage error. */
static int parse_flags(int argc, char **argv, struct flags *f)
{
    uint64_t v;
    int c, idx;

    memset(f, 0, sizeof(*f));
    f->level = LX_LOG_INFO;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:", long_opts, &idx)) != -1) {
        switch (c) {
        case 'c':
        case OPT_CONFIG:
            f->config = optarg;
            break;
        case OPT_LISTEN:
            if (parse_listen(optarg, f->host, sizeof(f->host), &f->port) != 0) {
                fprintf(stderr, "llmux: --listen wants HOST:PORT, got %s\n", optarg);
                return 2;
            }
            f->set[OPT_LISTEN] = true;
            break;
        case OPT_UPSTREAM:
            f->upstream = optarg;
            break;
        case OPT_CA_FILE:
            f->ca_file = optarg;
            break;
        case OPT_WORKERS:
        case OPT_MAX_BODY:
        case OPT_HEADER_TO:
        case OPT_BODY_TO:
        case OPT_KEEPALIVE_TO:
        case OPT_SEND_TO:
        case OPT_DRAIN_TO:
        case OPT_CONNECT_TO:
        case OPT_FIRST_BYTE_TO:
        case OPT_IDLE_TO:
        case OPT_TOTAL_TO: {
            uint64_t max = c == OPT_WORKERS    ? 256
                           : c == OPT_MAX_BODY ? (uint64_t)1 << 40
                                               : 86400000u;

            if (parse_uint(long_opts[idx].name, optarg, max, &v) != 0)
                return 2;
            f->num[c] = v;
            f->set[c] = true;
            break;
        }
        case OPT_LOG_LEVEL:
            if (lx_log_parse_level(optarg, &f->level) != 0) {
                fprintf(stderr, "llmux: --log-level: unknown level %s\n", optarg);
                return 2;
            }
            f->set[OPT_LOG_LEVEL] = true;
            break;
        case OPT_ANSWER_HALF_CLOSED:
            f->set[OPT_ANSWER_HALF_CLOSED] = true;
            break;
        case OPT_HELP:
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "llmux: unexpected argument: %s\n", argv[optind]);
        return 2;
    }
    if (f->config && f->upstream) {
        fprintf(stderr, "llmux: --upstream and --config exclude each other\n");
        return 2;
    }
    return 0;
}

#define FLAG_OR(f, opt, dflt) ((f)->set[opt] ? (unsigned)(f)->num[opt] : (dflt))

static int serve(int argc, char **argv)
{
    struct lx_server_config sc;
    struct lx_gateway_config gc;
    struct lx_gateway *gw = NULL;
    struct lx_server *srv = NULL;
    struct lx_config *cfg = NULL;
    struct reloader rl = {0};
    struct lx_err err = {0};
    struct flags f;
    bool reloader_started = false;
    sigset_t hup;
    int rc;

    rc = parse_flags(argc, argv, &f);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    lx_log_init(2, f.level);
    cfg = load_config(&f);
    if (cfg == NULL)
        return 1;
    if (!f.set[OPT_LOG_LEVEL])
        lx_log_init(2, cfg->log_level);

    lx_server_config_default(&sc);
    lx_gateway_config_default(&gc);
    if (!f.set[OPT_LISTEN]) {
        snprintf(f.host, sizeof(f.host), "%s", cfg->listen_host);
        f.port = cfg->listen_port;
    }
    sc.port = f.port;
    sc.workers = FLAG_OR(&f, OPT_WORKERS, cfg->workers);
    sc.limits.max_body = f.set[OPT_MAX_BODY] ? f.num[OPT_MAX_BODY] : cfg->server.max_body;
    sc.header_timeout_ms = FLAG_OR(&f, OPT_HEADER_TO, cfg->server.header_timeout_ms);
    sc.body_idle_timeout_ms = FLAG_OR(&f, OPT_BODY_TO, cfg->server.body_timeout_ms);
    sc.keepalive_timeout_ms = FLAG_OR(&f, OPT_KEEPALIVE_TO, cfg->server.keepalive_timeout_ms);
    sc.send_timeout_ms = FLAG_OR(&f, OPT_SEND_TO, cfg->server.send_timeout_ms);
    sc.drain_timeout_ms = FLAG_OR(&f, OPT_DRAIN_TO, cfg->server.drain_timeout_ms);
    /* A client that closes its side is almost always gone: cancel the provider call at once
     * rather than pay for tokens nobody reads (--answer-half-closed keeps waiting). */
    sc.abort_on_eof = !(f.set[OPT_ANSWER_HALF_CLOSED] || cfg->server.answer_half_closed);
    gc.upstream.ca_file = f.ca_file ? f.ca_file : cfg->upstream.ca_file;
    gc.upstream.connect_timeout_ms = FLAG_OR(&f, OPT_CONNECT_TO, cfg->upstream.timeouts.connect_ms);
    gc.upstream.first_byte_timeout_ms =
        FLAG_OR(&f, OPT_FIRST_BYTE_TO, cfg->upstream.timeouts.first_byte_ms);
    gc.upstream.idle_timeout_ms = FLAG_OR(&f, OPT_IDLE_TO, cfg->upstream.timeouts.idle_ms);
    gc.upstream.total_timeout_ms = FLAG_OR(&f, OPT_TOTAL_TO, cfg->upstream.timeouts.total_ms);
    if (!lx_config_is_loopback(f.host) && cfg->master_key == NULL && f.set[OPT_LISTEN]) {
        /* a file that listens beyond loopback without a master key must say `auth: none`
         * (the loader checks it); a --listen flag cannot say it, so it is refused */
        fprintf(stderr, "llmux: refusing to listen on %s without a master key; set master_key "
                        "(or `auth: none` and the address in the configuration file)\n",
                f.host);
        lx_config_unref(cfg);
        return 2;
    }

    /* SIGHUP is taken by the reload thread alone; threads started later inherit the mask */
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    sigaddset(&hup, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &hup, NULL);

    rc = 1;
    gw = lx_gateway_new(&gc, cfg, &err); /* takes cfg */
    cfg = NULL;
    if (gw == NULL) {
        fprintf(stderr, "llmux: %s\n", err.msg);
        goto out;
    }
    rl.flags = &f;
    rl.gw = gw;
    reloader_started = pthread_create(&rl.thread, NULL, reload_main, &rl) == 0;
    sc.host = f.host;
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
    if (reloader_started) {
        pthread_kill(rl.thread, SIGUSR2);
        pthread_join(rl.thread, NULL);
    }
    lx_server_free(srv);
    lx_gateway_free(gw);
    return rc;
}

/* llmux presets: every provider preset (type, category, region, protocol, auth, base URL,
 * default models, what llmux does for it) as one JSON document. */
static int presets(void)
{
    struct lx_buf b = LX_BUF_INIT(1u << 20);
    struct lx_json_writer w;
    int rc;

    lx_json_writer_init(&w, &b);
    rc = lx_config_presets_json(&w);
    if (rc == LX_OK)
        rc = lx_json_writer_finish(&w);
    if (rc == LX_OK) {
        fwrite(b.ptr, 1, b.len, stdout);
        fputc('\n', stdout);
    }
    lx_buf_release(&b);
    return rc == LX_OK ? 0 : 1;
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
    if (strcmp(argv[1], "presets") == 0)
        return presets();
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
