/* fuzz_ollama_events.c - libFuzzer target for lx_provider_ollama (src/providers/ollama.c): stream framing and
 * parse_event whole and cut, and the one-shot decoders (tests/fuzz/fuzz_adapter_events.h). */
#define FUZZ_OPS lx_provider_ollama
#define FUZZ_TYPE "ollama"
#include "tests/fuzz/fuzz_adapter_events.h"
