/* errors.h - error bodies in the client's own protocol. For now the OpenAI error object:
 * {"error":{"message":...,"type":...,"param":null,"code":...}}. Messages never carry keys or
 * prompt text: callers pass fixed strings or struct lx_err messages. */
#ifndef LX_GATEWAY_ERRORS_H
#define LX_GATEWAY_ERRORS_H

#include "core/buf.h"
#include "core/err.h"
#include "server/server.h"

/* The OpenAI "type" for a status: invalid_request_error, authentication_error, ... */
const char *lx_openai_error_type(int status);
/* Appends the error object to b; code may be NULL (written as null). Returns b->err. */
int lx_openai_error_json(struct lx_buf *b, const char *message, const char *type, const char *code);
/* Starts a JSON error response, with the extra headers given (X-Request-Id, CORS), and writes
 * its body; the caller ends the request. */
void lx_write_openai_error(struct lx_http_req *req, int status, const char *message,
                           const char *code, const struct lx_header *extra, size_t n_extra);
/* Sends a complete JSON error response and ends the request. */
void lx_send_openai_error(struct lx_http_req *req, int status, const char *message,
                          const char *code, const struct lx_header *extra, size_t n_extra);

#endif /* LX_GATEWAY_ERRORS_H */
