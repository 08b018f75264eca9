/* mock.h - shared declarations of the mock provider mockllm (tests/mock/). The mock is one
 * single-threaded epoll loop (mockllm.c); this header is the part that has no I/O: parsing
 * the X-Mock behaviour header and loading fixtures (mock_fixture.c). Everything here runs on
 * the one loop thread; fixtures are cached for the life of the process and never freed. */
#ifndef LX_MOCK_H
#define LX_MOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"

#define MOCK_NO_VALUE UINT64_MAX /* an option that was not given */

/* What one X-Mock header asks for (tests/mock/README.md has the syntax). */
struct mock_opts {
    char fixture[256];    /* relative path under --fixtures; "" = none */
    unsigned status;      /* 0 = route default */
    uint64_t retry_after; /* seconds, MOCK_NO_VALUE = no Retry-After header */
    uint64_t delay_ms;    /* before the head */
    uint64_t tokens;      /* paced stream length; MOCK_NO_VALUE = --tokens */
    uint64_t token_ms;    /* MOCK_NO_VALUE = --token-ms */
    uint64_t chunk_ms;    /* fixture replay: one event per chunk_ms; MOCK_NO_VALUE = at once */
    uint64_t reset_after; /* body bytes before the RST; MOCK_NO_VALUE = off */
    uint64_t truncate;    /* body bytes before a clean close; MOCK_NO_VALUE = off */
    uint64_t drip_bytes, drip_ms; /* drip_bytes 0 = off */
    uint64_t retry_delay_ms;      /* Google RetryInfo retryDelay; MOCK_NO_VALUE = none */
    bool reset, hang, close, stream;
    bool daily_quota;  /* Google QuotaFailure with a PerDay quota id */
    bool quota;        /* the protocol's quota / spend-limit error (insufficient_quota, ...) */
    bool key_invalid;  /* the protocol's invalid-key error (Google: 400 API_KEY_INVALID) */
};

/* Parses the value of X-Mock into o (o is first reset to defaults). Returns false with a
 * short reason in why (static string) on an unknown key or a bad number. */
bool mock_opts_parse(struct mock_opts *o, struct lx_str value, const char **why);
void mock_opts_init(struct mock_opts *o);

/* A loaded fixture: its bytes, and the response it stands for. Owned by the cache. */
struct mock_fixture {
    struct lx_str body;         /* the file, byte for byte (for .http: the whole response) */
    unsigned status;            /* from error_<status>_*, *.headers.json, else 200 */
    const char *content_type;   /* from the extension, or the recorded headers */
    struct lx_str headers;      /* extra "Name: value\r\n" lines from *.headers.json */
    bool raw_http;              /* .http: body is a complete HTTP response */
    bool streaming;             /* .sse/.ndjson/.bin: chunked, events split by chunk-ms */
    char sep;                   /* event separator: '\n' (ndjson) or 0 = blank line (sse) */
};

/* Returns the cached fixture for rel (loading it from dir on first use), or NULL when the
 * path is unsafe (absolute, "..") or the file cannot be read. */
const struct mock_fixture *mock_fixture_get(const char *dir, const char *rel);

/* Length of the first event of s (including its terminating blank line or newline), or
 * s.len when there is no complete event. sep as in struct mock_fixture. */
size_t mock_next_event(struct lx_str s, char sep);

/* Finds `"key"` followed by optional spaces, ':' and spaces in s; returns the position just
 * after that or -1. A cheap byte search, not a JSON parser (the mock trusts its clients). */
long mock_json_find(struct lx_str s, const char *key);


/* --- the provider protocols (mock_proto.c) ------------------------------------------------ */

enum mock_proto {
    MP_OPENAI = 0,     /* OpenAI and Azure: the original routes, answered in mockllm.c */
    MP_ANTHROPIC,      /* /v1/messages, Vertex :rawPredict / :streamRawPredict */
    MP_GEMINI,         /* /v1beta/models/{m}:method, Vertex publishers/google */
    MP_BEDROCK,        /* /model/{id}/converse(-stream) */
    MP_BEDROCK_INVOKE, /* /model/{id}/invoke(-with-response-stream): Anthropic bodies */
    MP_COHERE,         /* /v2/chat, /v2/embed */
    MP_OLLAMA,         /* /api/chat, /api/embed */
    MP_WORKERS,        /* /ai/run/{model}, /client/v4/accounts/{id}/ai/run/{model} */
};

enum mock_op {
    MO_NONE = 0,
    MO_CHAT,
    MO_COMPLETIONS,
    MO_EMBED,
    MO_COUNT,
    MO_STATS,
    MO_RESET,
    MO_KEYS, /* /mock/keys: set by mockllm.c itself, never by mock_route_match */
};

struct mock_route {
    enum mock_proto proto;
    enum mock_op op;
    bool stream;     /* the path asks for a stream (Gemini, Bedrock, Vertex streamRawPredict) */
    bool batch;      /* Gemini :batchEmbedContents */
    char model[256]; /* from the path, percent-decoded; "" = from the body */
};

/* Classifies a request path (no query) for the protocols other than the plain OpenAI ones
 * (/v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models, /health, which the caller
 * checks first). post: the method is POST (else only GET /mock/stats matches). */
bool mock_route_match(struct lx_str path, bool post, struct mock_route *r);

/* The default non-stream body of route r (r->proto != MP_OPENAI). req is the request body. */
void mock_proto_body(struct lx_buf *b, const struct mock_route *r, const char *id,
                     const char *model, struct lx_str req);

/* The error body of protocol p for status (msg must need no JSON escaping); extra head lines
 * ("Name: v\r\n") go to hdr. False for MP_OPENAI (the caller writes its own). */
bool mock_proto_error(struct lx_buf *b, struct lx_buf *hdr, enum mock_proto p, unsigned status,
                      const char *msg, const char *id, const struct mock_opts *o);

/* The status the error items of o (retry-delay, daily-quota, quota, key-invalid) imply in
 * protocol p when no status= was given; 0 when o asks for none of them. */
unsigned mock_error_status(enum mock_proto p, const struct mock_opts *o);

/* The OpenAI-shaped error body (also Azure's and the fallback for unknown routes); o may be
 * NULL. quota gives insufficient_quota, key_invalid gives invalid_api_key. */
void mock_openai_error(struct lx_buf *b, unsigned status, const char *msg,
                       const struct mock_opts *o);

/* Tick k (0..n) of a paced stream of n tokens in protocol p: tick 0 opens the message, tick k
 * carries the token "k ", tick n also closes the message. */
void mock_proto_tick(struct lx_buf *b, enum mock_proto p, uint64_t k, uint64_t n, const char *id,
                     const char *model);
const char *mock_proto_stream_ctype(enum mock_proto p);

/* One application/vnd.amazon.eventstream frame with :event-type (or :exception-type when
 * message_type is "exception"), :content-type and :message-type headers, both CRCs. */
void mock_es_frame(struct lx_buf *b, const char *message_type, const char *event_type,
                   struct lx_str payload);
uint32_t mock_crc32(const void *p, size_t n);

/* The X-Mock items a model name carries: what follows "mock:" anywhere in it ("mock:status=429",
 * "claude-mock:fixture=…" to match a "claude-*" route), else "mockx-<items in hex>" (for
 * adapters that allow only [A-Za-z0-9._@-] in a model: Vertex, Workers AI). items points
 * into model or into buf (cap bytes). False when the model is not a mock one. */
bool mock_model_items(struct lx_str model, char *buf, size_t cap, struct lx_str *items);

/* Percent-decodes s into dst (NUL-terminated, truncated to cap - 1); returns the length. */
size_t mock_pct_decode(struct lx_str s, char *dst, size_t cap);


/* --- per-key scripts and counters (mock_keys.c) --------------------------------------------
 * A key is what the request's auth header carries (mockllm.c extracts it). Scripts are set by
 * POST /mock/keys and say, per key, which X-Mock items each request gets (README: "Per-key
 * scripts"). Counters are kept for every key seen, scripted or not. Times are CLOCK_MONOTONIC
 * (the clock of Python's time.monotonic()). All of it is loop-thread state, freed by the
 * _clear/_reset functions. */

/* Adds or replaces the scripts of the keys in json ({"<key>": "<items>" | ["<items>", ...]});
 * each replaced script starts again at its first entry, whose time window starts at now_ms.
 * On a syntax error or bad items nothing changes and why says what (static string). */
bool mock_keys_set(struct lx_str json, uint64_t now_ms, const char **why);
void mock_keys_clear(void); /* DELETE /mock/keys: no key is scripted any more */

/* The items of the script entry for this request of key (and advances the script). False when
 * key has no script; *items empty for an "ok" entry. *items stays valid until the next
 * mock_keys_* call. */
bool mock_keys_next(struct lx_str key, uint64_t now_ms, struct lx_str *items);

/* GET /mock/keys: {"now_ms":…,"keys":{"<key>":{"entry":i,"entries":n,"items":"…"}}}. */
void mock_keys_dump(struct lx_buf *b, uint64_t now_ms);

/* Counts one request of key on path at now_ns (the last MOCK_KEY_TIMES are kept). */
#define MOCK_KEY_TIMES 64
void mock_keys_count(struct lx_str key, struct lx_str path, uint64_t now_ns);
bool mock_keys_counted(void); /* any key counted since the last reset */
/* Appends ,"by_key":{"<last 6>":N,…},"keys":{"<last 6>":{"requests","by_path","times_ms"}}
 * (times_ms: CLOCK_MONOTONIC ms with 3 decimals, oldest first), "now_ms". */
void mock_keys_stats(struct lx_buf *b, uint64_t now_ns);
void mock_keys_stats_reset(void);

#endif /* LX_MOCK_H */
