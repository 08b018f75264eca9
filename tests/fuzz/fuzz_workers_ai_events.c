/* fuzz_workers_ai_events.c - libFuzzer target for lx_provider_workers_ai (src/providers/workers_ai.c): stream framing and
 * parse_event whole and cut, and the one-shot decoders (tests/fuzz/fuzz_adapter_events.h). */
#define FUZZ_OPS lx_provider_workers_ai
#define FUZZ_TYPE "workers_ai"
#include "tests/fuzz/fuzz_adapter_events.h"
