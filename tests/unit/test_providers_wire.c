/* test_providers_wire.c - the adapters' shared toolkit (providers/wire.c): the edge cases
 * every adapter relies on (empty needles, UTF-8 cuts, path escaping, withheld messages). */
#include <string.h>

#include "core/arena.h"
#include "providers/wire.h"
#include "tests/unit/test.h"

LX_TEST(wire_strings)
{
    struct lx_arena *a = lx_arena_new(256, 0);
    struct lx_str parts[3] = {LX_STR("ab"), LX_STR(""), LX_STR("cd")};
    static const char *const list[] = {"stop", "length"};

    LX_ASSERT(a != NULL);
    LX_ASSERT_STR(lx_wire_concat(a, parts, 3), "abcd");
    LX_ASSERT_STR(lx_wire_concat2(a, LX_STR("x"), LX_STR("y")), "xy");
    LX_ASSERT(lx_wire_contains(LX_STR("hello world"), LX_STR("o w")));
    LX_ASSERT(!lx_wire_contains(LX_STR("hello"), LX_STR("")));
    LX_ASSERT(!lx_wire_contains(LX_STR("he"), LX_STR("hello")));
    LX_ASSERT(lx_wire_contains_nocase(LX_STR("Prompt IS Too Long"), "is too long"));
    LX_ASSERT(!lx_wire_contains_nocase(LX_STR("short"), "is too long"));
    /* "é" is two bytes: a cut in its middle steps back before it */
    LX_ASSERT_STR(lx_wire_cut_utf8(LX_STR("ab\xc3\xa9"), 3), "ab");
    LX_ASSERT_STR(lx_wire_cut_utf8(LX_STR("ab\xc3\xa9"), 4), "ab\xc3\xa9");
    LX_ASSERT_STR(lx_wire_path_escape(a, LX_STR("anthropic.claude-v1:0/x y~")),
                  "anthropic.claude-v1%3A0%2Fx%20y~");
    LX_ASSERT(lx_wire_str_in(LX_STR("length"), list, 2));
    LX_ASSERT(!lx_wire_str_in(LX_STR("len"), list, 2));
    lx_arena_free(a);
    return 0;
}

LX_TEST(wire_withholds_messages_that_quote_the_key)
{
    struct lx_str key = LX_STR("sk-live-0123456789abcdef");

    LX_ASSERT(lx_wire_quotes_key(LX_STR("Incorrect API key provided: sk-live-0123456789abcdef."),
                                 key));
    LX_ASSERT(!lx_wire_quotes_key(LX_STR("Rate limit reached"), key));
    LX_ASSERT_STR(lx_wire_withhold(LX_STR("Rate limit reached"), key), "Rate limit reached");
    LX_ASSERT(strstr(lx_wire_withhold(LX_STR("bad key sk-live-0123456789abcdef"), key).ptr,
                     "0123456789") == NULL);
    return 0;
}
