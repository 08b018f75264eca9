/* fuzz_cohere_events.c - libFuzzer target for lx_provider_cohere (src/providers/cohere.c): stream framing and
 * parse_event whole and cut, and the one-shot decoders (tests/fuzz/fuzz_adapter_events.h). */
#define FUZZ_OPS lx_provider_cohere
#define FUZZ_TYPE "cohere"
#include "tests/fuzz/fuzz_adapter_events.h"
