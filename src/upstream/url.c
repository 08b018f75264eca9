/* url.c - pure helpers of upstream/: the provider URL, proxy URLs (HTTPS_PROXY/HTTP_PROXY with
 * optional user:pass) and NO_PROXY matching (curl's rules: "*", host, .domain, domain,
 * host:port). No I/O, no allocation; results are slices of the input. Any thread. */
#include "upstream/upstream_int.h"

#include <string.h>

#include <openssl/evp.h>

#include "core/err.h"

static bool bad_char(char c) { return (unsigned char)c <= ' ' || c == 0x7f; }

static int parse_port(struct lx_str s, uint16_t *port)
{
    uint64_t v;

    if (lx_str_to_u64(s, &v) != LX_OK || v == 0 || v > 65535)
        return LX_EINVAL;
    *port = (uint16_t)v;
    return LX_OK;
}

/* authority = host [":" port], host may be "[v6]". */
static int parse_authority(struct lx_str a, struct lx_str *host, uint16_t *port, bool *has_port)
{
    struct lx_str rest;

    *has_port = false;
    if (a.len == 0)
        return LX_EINVAL;
    if (a.ptr[0] == '[') {
        long close = lx_str_find_char(a, ']');

        if (close < 2)
            return LX_EINVAL;
        *host = lx_str_sub(a, 1, (size_t)close - 1);
        rest = lx_str_sub(a, (size_t)close + 1, a.len);
        if (rest.len == 0)
            return LX_OK;
        if (rest.ptr[0] != ':')
            return LX_EINVAL;
        *has_port = true;
        return parse_port(lx_str_sub(rest, 1, rest.len), port);
    }
    long colon = lx_str_find_char(a, ':');
    if (colon < 0) {
        *host = a;
        return LX_OK;
    }
    if (colon == 0)
        return LX_EINVAL;
    *host = lx_str_sub(a, 0, (size_t)colon);
    *has_port = true;
    return parse_port(lx_str_sub(a, (size_t)colon + 1, a.len), port);
}

int lx__upstream_url_parse(struct lx_str url, struct lx__upstream_url *out)
{
    struct lx_str rest, auth;
    size_t i;
    bool has_port;

    for (i = 0; i < url.len; i++)
        if (bad_char(url.ptr[i]) || url.ptr[i] == '#')
            return LX_EINVAL;
    if (lx_str_starts_with(url, LX_STR("https://"))) {
        out->tls = true;
        rest = lx_str_sub(url, 8, url.len);
    } else if (lx_str_starts_with(url, LX_STR("http://"))) {
        out->tls = false;
        rest = lx_str_sub(url, 7, url.len);
    } else {
        return LX_EINVAL;
    }
    for (i = 0; i < rest.len && rest.ptr[i] != '/' && rest.ptr[i] != '?'; i++)
        if (rest.ptr[i] == '@')
            return LX_EINVAL; /* credentials never go in a provider URL */
    auth = lx_str_sub(rest, 0, i);
    out->port = out->tls ? 443 : 80;
    if (parse_authority(auth, &out->host, &out->port, &has_port) != LX_OK || out->host.len == 0)
        return LX_EINVAL;
    out->hostport = auth;
    if ((out->tls && out->port == 443) || (!out->tls && out->port == 80)) {
        /* the Host header drops a default port */
        out->hostport = auth.ptr[0] == '[' ? lx_str_sub(auth, 0, out->host.len + 2) : out->host;
    }
    out->path = lx_str_sub(rest, i, rest.len);
    if (out->path.len == 0)
        out->path = LX_STR("/");
    else if (out->path.ptr[0] == '?')
        return LX_EINVAL; /* "host?q" has no path: refuse rather than guess */
    return LX_OK;
}

int lx__upstream_proxy_parse(const char *url, struct lx__upstream_proxy *out)
{
    struct lx_str s = lx_str_cstr(url), userinfo = LX_STR_NULL;
    bool has_port;
    long at, slash;

    memset(out, 0, sizeof(*out));
    if (s.len == 0)
        return LX_EINVAL;
    for (size_t i = 0; i < s.len; i++)
        if (bad_char(s.ptr[i]))
            return LX_EINVAL;
    if (lx_str_starts_with(s, LX_STR("http://")))
        s = lx_str_sub(s, 7, s.len);
    else if (lx_str_find_char(s, ':') >= 0 &&
             lx_str_starts_with(lx_str_sub(s, (size_t)lx_str_find_char(s, ':'), 3), LX_STR("://")))
        return LX_EINVAL; /* https:// or socks proxies are not supported */
    slash = lx_str_find_char(s, '/');
    if (slash >= 0) {
        if ((size_t)slash != s.len - 1)
            return LX_EINVAL;
        s.len = (size_t)slash;
    }
    at = -1;
    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] == '@')
            at = (long)i;
    if (at >= 0) {
        userinfo = lx_str_sub(s, 0, (size_t)at);
        s = lx_str_sub(s, (size_t)at + 1, s.len);
    }
    out->port = 1080;
    if (parse_authority(s, &out->host, &out->port, &has_port) != LX_OK || out->host.len == 0)
        return LX_EINVAL;
    if (!has_port)
        out->port = 80;
    if (userinfo.len > 0) {
        if (userinfo.len > (sizeof(out->auth) - 1) / 4 * 3)
            return LX_EINVAL;
        /* percent-decoding of user:pass is not done: the common case has none */
        out->auth_len = (size_t)EVP_EncodeBlock(
            (unsigned char *)out->auth, (const unsigned char *)userinfo.ptr, (int)userinfo.len);
    }
    return LX_OK;
}

bool lx__upstream_no_proxy_match(const char *no_proxy, struct lx_str host, uint16_t port)
{
    struct lx_str list = lx_str_cstr(no_proxy);

    while (list.len > 0) {
        long comma = lx_str_find_char(list, ',');
        struct lx_str item = lx_str_trim(comma < 0 ? list : lx_str_sub(list, 0, (size_t)comma));
        struct lx_str name = item;
        uint16_t want_port = 0;

        list = comma < 0 ? LX_STR_NULL : lx_str_sub(list, (size_t)comma + 1, list.len);
        if (item.len == 0)
            continue;
        if (lx_str_eq(item, LX_STR("*")))
            return true;
        if (item.ptr[0] == '[') { /* [v6] or [v6]:port */
            long close = lx_str_find_char(item, ']');
            if (close < 0)
                continue;
            name = lx_str_sub(item, 1, (size_t)close - 1);
            if ((size_t)close + 1 < item.len && item.ptr[close + 1] == ':' &&
                parse_port(lx_str_sub(item, (size_t)close + 2, item.len), &want_port) != LX_OK)
                continue;
        } else {
            long colon = lx_str_find_char(item, ':');
            /* one colon is host:port; more is a bare IPv6 address */
            if (colon >= 0 &&
                lx_str_find_char(lx_str_sub(item, (size_t)colon + 1, item.len), ':') < 0) {
                name = lx_str_sub(item, 0, (size_t)colon);
                if (parse_port(lx_str_sub(item, (size_t)colon + 1, item.len), &want_port) != LX_OK)
                    continue;
            }
        }
        if (want_port != 0 && want_port != port)
            continue;
        if (name.len > 0 && name.ptr[0] == '.')
            name = lx_str_sub(name, 1, name.len);
        if (name.len == 0)
            continue;
        if (lx_str_eq_nocase(host, name))
            return true;
        /* "example.com" and ".example.com" both match "api.example.com" */
        if (host.len > name.len && host.ptr[host.len - name.len - 1] == '.' &&
            lx_str_eq_nocase(lx_str_sub(host, host.len - name.len, name.len), name))
            return true;
    }
    return false;
}
