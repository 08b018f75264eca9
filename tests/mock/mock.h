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
    bool reset, hang, close, stream;
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

#endif /* LX_MOCK_H */
