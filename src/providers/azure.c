/* azure.c - the Azure OpenAI provider adapter (lx_provider_azure, PROTOCOLS.md section 5): the
 * OpenAI wire format (openai_wire.h) with Azure's URLs (deployment + api-version, or the v1
 * style), the `api-key` header, and Azure's quirks (the empty first stream chunk, content
 * filter errors, DeploymentNotFound, error codes as strings of the status) handled by the
 * shared decoders. Owned by the OpenAI provider adapter; pure, any thread. */
#include "providers/openai_wire.h"

static int azure_build_request(const struct lx_provider_call *call,
                               const struct lx_chat_req *req, struct lx_arena *a,
                               struct lx_upstream_req *out, struct lx_err *err)
{
    int rc;

    if (call->endpoint != LX_EP_CHAT) {
        lx_err_set(err, LX_EINVAL, 400, "Azure OpenAI has no token counting endpoint");
        return LX_EINVAL;
    }
    rc = lx_azure_target(call, "/chat/completions", a, out);
    if (rc != LX_OK) {
        lx_err_set(err, rc, rc == LX_EINVAL ? 400 : 500,
                   "cannot build the Azure URL (a deployment name is needed): %s",
                   lx_strerror(rc));
        return rc;
    }
    return lx_oai_chat_body(call, req, a, &out->body, err);
}

static int azure_build_embeddings(const struct lx_provider_call *call,
                                  const struct lx_embed_req *req, struct lx_arena *a,
                                  struct lx_upstream_req *out, struct lx_err *err)
{
    int rc = lx_azure_target(call, "/embeddings", a, out);

    if (rc != LX_OK) {
        lx_err_set(err, rc, rc == LX_EINVAL ? 400 : 500,
                   "cannot build the Azure URL (a deployment name is needed): %s",
                   lx_strerror(rc));
        return rc;
    }
    return lx_oai_embed_body(call, req, a, &out->body, err);
}

const struct lx_provider_ops lx_provider_azure = {
    .name = "azure",
    .caps = LX_CAP_STREAM | LX_CAP_TOOLS | LX_CAP_VISION | LX_CAP_EMBEDDINGS | LX_CAP_IMAGE_URL,
    .framing = LX_FRAMING_SSE,
    .build_request = azure_build_request,
    .parse_response = lx_oai_parse_response,
    .parse_event = lx_oai_parse_event,
    .map_error = lx_oai_map_error,
    .build_embeddings = azure_build_embeddings,
    .parse_embeddings = lx_oai_parse_embeddings,
};
