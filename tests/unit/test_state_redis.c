/* test_state_redis.c - src/state/redis.c against a real redis-server (Debian's), started here
 * on a free loopback port with no persistence: two (then three) struct lx_state share
 * cooldowns, disabled keys and breakers; Redis killed, everyone keeps answering locally; Redis
 * back, the changes made meanwhile reach the others. Fails when redis-server is missing (make
 * test installs it). Uses the wall clock: Redis mode requires it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/time.h"
#include "state/state.h"
#include "tests/unit/test.h"

extern char **environ;

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static bool port_open(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok;

    if (fd < 0)
        return false;
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static uint64_t mono_ms(void) { return lx_now_mono_ns() / 1000000; }

static bool have_redis_server(void)
{
    const char *path = getenv("PATH");
    char buf[4096];

    if (path == NULL)
        path = "/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        struct stat sb;

        snprintf(buf, sizeof(buf), "%.*s/redis-server", (int)n, path);
        if (stat(buf, &sb) == 0 && (sb.st_mode & S_IXUSR))
            return true;
        path += n + (end ? 1 : 0);
    }
    return false;
}

/* Starts redis-server on port; its pid, or -1. Waits until it accepts (3 s at most). */
static pid_t start_redis(int port)
{
    char portbuf[16];
    char *argv[] = {"redis-server", "--port",     portbuf,        "--bind", "127.0.0.1",
                    "--save",       "",           "--appendonly", "no",     "--daemonize",
                    "no",           "--loglevel", "warning",      NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int rc;

    snprintf(portbuf, sizeof(portbuf), "%d", port);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    rc = posix_spawnp(&pid, "redis-server", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    for (int i = 0; i < 300; i++) {
        if (port_open(port))
            return pid;
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void stop_redis(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

static long remote_events;

static void on_ev(void *data, const struct lx_state_event *ev)
{
    if (ev->remote)
        __atomic_add_fetch(&remote_events, 1, __ATOMIC_RELAXED);
    (void)data;
}

static struct lx_state *attached(int port)
{
    struct lx_state_conf c;
    struct lx_state_redis_conf rc = {.host = "127.0.0.1",
                                     .port = port,
                                     .prefix = "llmux-test:",
                                     .timeout_ms = 300,
                                     .backoff_max_ms = 300};
    struct lx_state *st;

    lx_state_conf_defaults(&c);
    c.on_event = on_ev;
    st = lx_state_new(&c);
    if (lx_state_redis_attach(st, &rc) != LX_OK) {
        lx_state_free(st);
        return NULL;
    }
    return st;
}

static bool wait_connected(struct lx_state *st, long max_ms)
{
    char buf[64];

    for (uint64_t t0 = mono_ms(); mono_ms() - t0 < (uint64_t)max_ms; sleep_ms(5))
        if (lx_state_redis_status(st, buf, sizeof(buf)))
            return true;
    return false;
}

#define K1 LX_STR("openai#0")
#define K2 LX_STR("openai#1")
#define M1 LX_STR("gpt-4o")
#define M2 LX_STR("gpt-4o-mini")
#define T1 LX_STR("openai/gpt-4o")

/* Polls cond every 2 ms up to max_ms; evaluates to the ms it took, or -1. */
#define WAIT_FOR(cond, max_ms)                                                                     \
    __extension__({                                                                                \
        uint64_t t0_ = mono_ms();                                                                  \
        long r_ = -1;                                                                              \
        for (;;) {                                                                                 \
            if (cond) {                                                                            \
                r_ = (long)(mono_ms() - t0_);                                                      \
                break;                                                                             \
            }                                                                                      \
            if (mono_ms() - t0_ > (uint64_t)(max_ms))                                              \
                break;                                                                             \
            sleep_ms(2);                                                                           \
        }                                                                                          \
        r_;                                                                                        \
    })

static int shared_state_body(int port, pid_t *pid, struct lx_state *a, struct lx_state *b)
{
    struct lx_state_disabled d;
    struct lx_state_breaker br;
    struct lx_state *c;
    char buf[64];
    uint64_t now, until;
    long took;

    LX_ASSERT(wait_connected(a, 3000));
    LX_ASSERT(wait_connected(b, 3000));
    LX_ASSERT(lx_state_redis_status(a, buf, sizeof(buf)));
    LX_ASSERT_STREQ("connected", buf);

    /* a cooldown set through a is seen by b within 200 ms */
    now = lx_now_wall_ms();
    LX_ASSERT_EQ(LX_OK, lx_state_cooldown_set(a, K1, M1, now + 60000, LX_STR("429"), now, NULL));
    took = WAIT_FOR(lx_state_cooldown_get(b, K1, M1, lx_now_wall_ms(), &until), 200);
    LX_ASSERT(took >= 0);
    LX_ASSERT_EQ(now + 60000, until);
    LX_ASSERT(!lx_state_cooldown_get(b, K1, M2, lx_now_wall_ms(), NULL)); /* per model */
    LX_ASSERT(__atomic_load_n(&remote_events, __ATOMIC_RELAXED) > 0);

    /* disable, then enable */
    LX_ASSERT_EQ(LX_OK, lx_state_disable(a, K2, LX_STR("401 invalid_api_key"), now));
    took = WAIT_FOR(lx_state_disabled_get(b, K2, &d), 200);
    LX_ASSERT(took >= 0);
    LX_ASSERT_STREQ("401 invalid_api_key", d.reason);
    LX_ASSERT_EQ(now, d.since_ms);
    LX_ASSERT(lx_state_enable(a, K2, LX_STR("operator"), lx_now_wall_ms()));
    LX_ASSERT(WAIT_FOR(!lx_state_disabled_get(b, K2, NULL), 200) >= 0);
    LX_ASSERT_EQ(LX_OK, lx_state_disable(b, K1, LX_STR("402 quota"), now)); /* b -> a too */
    LX_ASSERT(WAIT_FOR(lx_state_disabled_get(a, K1, NULL), 200) >= 0);

    /* a breaker opened through a is open in b */
    for (int i = 0; i < 5; i++)
        lx_state_breaker_report(a, T1, false, lx_now_wall_ms());
    LX_ASSERT(!lx_state_breaker_allow(a, T1, lx_now_wall_ms()));
    LX_ASSERT(WAIT_FOR(!lx_state_breaker_allow(b, T1, lx_now_wall_ms()), 200) >= 0);
    lx_state_breaker_get(b, T1, lx_now_wall_ms(), &br);
    LX_ASSERT_EQ(LX_BREAKER_OPEN, br.state);

    /* a third instance loads what is in force when it connects */
    c = attached(port);
    LX_ASSERT(c != NULL);
    LX_ASSERT(wait_connected(c, 3000));
    LX_ASSERT(lx_state_cooldown_get(c, K1, M1, lx_now_wall_ms(), &until));
    LX_ASSERT_EQ(now + 60000, until);
    LX_ASSERT(lx_state_disabled_get(c, K1, &d));
    LX_ASSERT_STREQ("402 quota", d.reason);
    LX_ASSERT(!lx_state_disabled_get(c, K2, NULL));
    lx_state_breaker_get(c, T1, lx_now_wall_ms(), &br);
    LX_ASSERT_EQ(LX_BREAKER_OPEN, br.state);
    lx_state_free(c);

    /* Redis dies: every call keeps answering from local state, quickly */
    stop_redis(*pid);
    *pid = -1;
    {
        uint64_t t0 = mono_ms();

        now = lx_now_wall_ms();
        LX_ASSERT_EQ(LX_OK,
                     lx_state_cooldown_set(a, K2, M2, now + 60000, LX_STR("429"), now, NULL));
        LX_ASSERT(lx_state_cooldown_get(a, K2, M2, now, NULL));
        LX_ASSERT(lx_state_cooldown_get(b, K1, M1, now, NULL));
        LX_ASSERT(lx_state_disabled_get(b, K1, NULL));
        LX_ASSERT(mono_ms() - t0 < 50);
    }
    LX_ASSERT(WAIT_FOR(!lx_state_redis_status(a, buf, sizeof(buf)) &&
                           !lx_state_redis_status(b, buf, sizeof(buf)),
                       2000) >= 0);
    lx_state_redis_status(a, buf, sizeof(buf));
    LX_ASSERT(strncmp(buf, "down since 20", 13) == 0);
    LX_ASSERT(!lx_state_cooldown_get(b, K2, M2, lx_now_wall_ms(), NULL)); /* not shared yet */

    /* Redis back (empty: no persistence): both reconnect, and the change made while it was
     * down reaches b; a's state is pushed again only if its queue dropped changes */
    *pid = start_redis(port);
    LX_ASSERT(*pid > 0);
    LX_ASSERT(wait_connected(a, 5000));
    LX_ASSERT(wait_connected(b, 5000));
    LX_ASSERT(WAIT_FOR(lx_state_cooldown_get(b, K2, M2, lx_now_wall_ms(), NULL), 2000) >= 0);
    return 0;
}

LX_TEST(state_redis_shared)
{
    int port, rc;
    pid_t pid;
    struct lx_state *a, *b;

    if (!have_redis_server()) {
        LX_FAIL("state_redis_shared: redis-server is not installed (make test installs it: scripts/deps.sh)");
    }
    port = free_port();
    LX_ASSERT(port > 0);
    pid = start_redis(port);
    LX_ASSERT(pid > 0);
    a = attached(port);
    b = attached(port);
    rc = (a && b) ? shared_state_body(port, &pid, a, b) : 1;
    lx_state_free(a);
    lx_state_free(b);
    stop_redis(pid);
    return rc;
}

LX_TEST(state_redis_down_from_start)
{
    struct lx_state *st;
    char buf[64];
    int port = free_port(); /* nothing listens there */
    uint64_t now = lx_now_wall_ms();

    st = attached(port);
    LX_ASSERT(st != NULL);
    LX_ASSERT_EQ(LX_OK, lx_state_cooldown_set(st, K1, M1, now + 1000, LX_STR(""), now, NULL));
    LX_ASSERT(lx_state_cooldown_get(st, K1, M1, now, NULL));
    LX_ASSERT(WAIT_FOR(strncmp((lx_state_redis_status(st, buf, sizeof(buf)), buf), "down", 4) == 0,
                       2000) >= 0);
    lx_state_free(st);
    return 0;
}

LX_TEST(state_redis_parse_url)
{
    struct lx_state_redis_conf c;
    char buf[256];
    struct lx_state *st = lx_state_new(NULL);

    LX_ASSERT_EQ(LX_OK, lx_state_redis_parse_url("redis://127.0.0.1:6380", &c, buf, sizeof(buf)));
    LX_ASSERT_STREQ("127.0.0.1", c.host);
    LX_ASSERT_EQ(6380, c.port);
    LX_ASSERT(c.password == NULL);
    LX_ASSERT_EQ(LX_OK, lx_state_redis_parse_url("redis://:s3cr@t@redis/0", &c, buf, sizeof(buf)));
    LX_ASSERT_STREQ("redis", c.host);
    LX_ASSERT_EQ(6379, c.port);
    LX_ASSERT_STREQ("s3cr@t", c.password);
    LX_ASSERT_EQ(LX_OK, lx_state_redis_parse_url("redis://[::1]:7000", &c, buf, sizeof(buf)));
    LX_ASSERT_STREQ("::1", c.host);
    LX_ASSERT_EQ(7000, c.port);
    LX_ASSERT_EQ(LX_EINVAL, lx_state_redis_parse_url("http://x", &c, buf, sizeof(buf)));
    LX_ASSERT_EQ(LX_EINVAL, lx_state_redis_parse_url("redis://x:0", &c, buf, sizeof(buf)));
    LX_ASSERT_EQ(LX_EINVAL, lx_state_redis_parse_url("redis://x/3", &c, buf, sizeof(buf)));
    LX_ASSERT_EQ(LX_EINVAL, lx_state_redis_parse_url("redis://bob:pw@x", &c, buf, sizeof(buf)));
    LX_ASSERT_EQ(LX_EINVAL, lx_state_redis_parse_url("redis://", &c, buf, sizeof(buf)));
    LX_ASSERT(!lx_state_redis_status(st, buf, sizeof(buf)));
    LX_ASSERT_STREQ("off", buf);
    lx_state_free(st);
    return 0;
}
