/* registry.c - which adapter speaks which protocol: an explicit, greppable list (STYLE.md 3.6),
 * no linker-section magic. Const data only; any thread. */
#include "providers/provider.h"

static const struct lx_provider_ops *const by_proto[LX_CONFIG_N_PROTOS] = {
    [LX_CONFIG_PROTO_OPENAI] = &lx_provider_openai,
    [LX_CONFIG_PROTO_ANTHROPIC] = &lx_provider_anthropic,
    [LX_CONFIG_PROTO_GEMINI] = &lx_provider_gemini,
    [LX_CONFIG_PROTO_VERTEX] = &lx_provider_vertex,
    [LX_CONFIG_PROTO_BEDROCK] = &lx_provider_bedrock,
    [LX_CONFIG_PROTO_AZURE] = &lx_provider_azure,
    [LX_CONFIG_PROTO_COHERE] = &lx_provider_cohere,
    [LX_CONFIG_PROTO_OLLAMA] = &lx_provider_ollama,
    [LX_CONFIG_PROTO_WORKERS_AI] = &lx_provider_workers_ai,
};

static const struct lx_frontdoor_ops *const by_source[] = {
    [LX_SRC_OPENAI] = &lx_frontdoor_openai,
    [LX_SRC_ANTHROPIC] = &lx_frontdoor_anthropic,
    [LX_SRC_GEMINI] = &lx_frontdoor_gemini,
};

const struct lx_provider_ops *lx_provider_for(enum lx_config_proto proto)
{
    return (unsigned)proto < LX_CONFIG_N_PROTOS ? by_proto[proto] : NULL;
}

const struct lx_frontdoor_ops *lx_frontdoor_for(enum lx_ir_source src)
{
    return (unsigned)src < sizeof(by_source) / sizeof(by_source[0]) ? by_source[src] : NULL;
}
