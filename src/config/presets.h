/* presets.h - the provider presets (`type:` values) as JSON, for `llmux presets` and a future
 * console page. The table itself is internal (config_int.h, presets.c); docs/providers.md lists
 * it for humans. Const data; any thread. */
#ifndef LX_CONFIG_PRESETS_H
#define LX_CONFIG_PRESETS_H

#include "config/config.h"
#include "json/writer.h"

/* Writes {"presets":[{"type","display","category","region","protocol","auth","base_url",
 * "base_template","env_key","models":[...],"aliases":[...],"chat","support"}...]} into w.
 * Returns the writer's error (LX_OK). */
int lx_config_presets_json(struct lx_json_writer *w);

/* The protocol's name as the JSON and the docs show it: "openai", "anthropic", "gemini",
 * "vertex", "bedrock", "azure", "cohere", "ollama", "workers-ai". */
const char *lx_config_proto_name(enum lx_config_proto proto);

#endif /* LX_CONFIG_PRESETS_H */
