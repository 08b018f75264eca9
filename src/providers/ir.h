/* ir.h - the one intermediate representation every front door decodes into and every provider
 * encodes from (DESIGN.md "The intermediate representation"): a chat request, a complete
 * answer, the deltas of a streamed answer, embeddings, and an upstream error as the gateway
 * must act on it. N front doors and M providers meet here instead of N x M converters.
 *
 * Ownership: every struct lx_str in these structs points into an arena given by whoever filled
 * the struct (usually the request's arena), or into the bytes that were decoded (the client's
 * body, an upstream event) when those outlive the struct. Nothing here is freed on its own.
 * No struct here ever holds a key.
 *
 * Conventions:
 *   - "not given" is an empty lx_str (len 0), -1 for counts and integers, 0 (…_UNSET) for enums;
 *   - JSON that is carried, not understood (a tool's parameter schema, tool-call arguments, a
 *     response schema, unknown top-level fields) is kept as JSON text, byte-exact;
 *   - token counts follow OpenAI: input includes cached (read and written) tokens, output
 *     includes reasoning tokens. A decoder whose provider counts otherwise (Anthropic leaves
 *     cache reads out of input_tokens; Gemini leaves thoughts out of candidatesTokenCount) adds
 *     them up, and an encoder whose client counts otherwise takes them apart again. */
#ifndef LX_PROVIDERS_IR_H
#define LX_PROVIDERS_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

/* ---- request ---------------------------------------------------------------------------- */

enum lx_role {
    LX_ROLE_SYSTEM = 0, /* instructions; Anthropic and Gemini move them to a top-level field */
    LX_ROLE_DEVELOPER,  /* OpenAI's newer name for system: encoders other than OpenAI treat it so */
    LX_ROLE_USER,
    LX_ROLE_ASSISTANT,
    LX_ROLE_TOOL,       /* only TOOL_RESULT parts (OpenAI's role "tool", one message per result) */
};

enum lx_part_type {
    LX_PART_TEXT = 0,
    LX_PART_IMAGE,             /* data (base64) + media_type, or url */
    LX_PART_FILE,              /* a document (PDF): data + media_type, or url; name optional */
    LX_PART_AUDIO,             /* input audio: data + media_type ("audio/wav") */
    LX_PART_THINKING,          /* reasoning text + signature (Anthropic), to be sent back */
    LX_PART_REDACTED_THINKING, /* Anthropic's encrypted thinking: data */
    LX_PART_TOOL_CALL,         /* assistant: id, name, args; signature = Gemini thoughtSignature */
    LX_PART_TOOL_RESULT,       /* id = the call's id, name (when known), text or sub parts */
};

struct lx_part {
    enum lx_part_type type;
    struct lx_str text;       /* TEXT, THINKING, TOOL_RESULT (when its content is plain text) */
    struct lx_str signature;  /* THINKING: Anthropic's signature; TOOL_CALL: thoughtSignature */
    struct lx_str id;         /* TOOL_CALL: call id; TOOL_RESULT: the id of the call answered */
    struct lx_str name;       /* TOOL_CALL: function name; TOOL_RESULT: the function, if known;
                               * FILE: file name */
    struct lx_str args;       /* TOOL_CALL: arguments as JSON text ("{}" when empty) */
    struct lx_str media_type; /* IMAGE, FILE, AUDIO: "image/png"; may be empty with a url */
    struct lx_str data;       /* IMAGE, FILE, AUDIO: base64, no "data:" prefix;
                               * REDACTED_THINKING: the opaque data */
    struct lx_str url;        /* IMAGE, FILE: an http(s) URL when not inline */
    struct lx_str detail;     /* IMAGE: OpenAI's "low" / "high" / "auto" */
    struct lx_part *sub;      /* TOOL_RESULT: content blocks when not plain text */
    size_t n_sub;
    bool is_error;            /* TOOL_RESULT: Anthropic's is_error */
    bool cache;               /* a cache breakpoint after this block (Anthropic cache_control) */
};

struct lx_msg {
    enum lx_role role;
    struct lx_part *parts;
    size_t n_parts;
    struct lx_str name; /* OpenAI's participant name; empty = none */
};

struct lx_tool {
    struct lx_str name, description;
    struct lx_str parameters; /* JSON Schema as JSON text; empty = none */
    bool strict;              /* OpenAI strict function calling */
    bool cache;               /* Anthropic cache_control on this tool */
};

enum lx_tool_choice {
    LX_TOOL_CHOICE_UNSET = 0,
    LX_TOOL_CHOICE_AUTO,
    LX_TOOL_CHOICE_NONE,
    LX_TOOL_CHOICE_REQUIRED, /* Anthropic "any", Gemini mode ANY */
    LX_TOOL_CHOICE_NAMED,    /* tool_choice_name */
};

enum lx_response_format {
    LX_RF_UNSET = 0,
    LX_RF_TEXT,
    LX_RF_JSON_OBJECT, /* any JSON object */
    LX_RF_JSON_SCHEMA, /* schema, schema_name, schema_strict */
};

enum lx_effort {
    LX_EFFORT_UNSET = 0,
    LX_EFFORT_NONE,
    LX_EFFORT_MINIMAL,
    LX_EFFORT_LOW,
    LX_EFFORT_MEDIUM,
    LX_EFFORT_HIGH,
};

enum lx_thinking {
    LX_THINKING_UNSET = 0,
    LX_THINKING_ENABLED,  /* with thinking_budget when > 0 */
    LX_THINKING_DISABLED,
};

/* A number as the client wrote it (raw, copied byte-exact to a protocol that takes it as is)
 * and its value (for range checks and clamping). raw.len == 0: not given. */
struct lx_num {
    struct lx_str raw;
    double v;
};

/* A top-level member the IR has no field for: passed on, byte-exact, to providers of the same
 * family as the client (an OpenAI-compatible upstream gets an OpenAI client's "logit_bias"). */
struct lx_kv {
    struct lx_str key;   /* decoded */
    struct lx_str value; /* JSON text */
};

enum lx_ir_source { /* the protocol a request was decoded from */
    LX_SRC_OPENAI = 0,
    LX_SRC_ANTHROPIC,
    LX_SRC_GEMINI,
};

struct lx_chat_req {
    struct lx_str model;
    struct lx_msg *msgs; /* in order; system prompts are messages of role SYSTEM / DEVELOPER */
    size_t n_msgs;
    struct lx_tool *tools;
    size_t n_tools;
    enum lx_tool_choice tool_choice;
    struct lx_str tool_choice_name;
    int parallel_tool_calls; /* -1 not given, 0, 1 */

    int64_t max_tokens; /* -1 not given (max_tokens / max_completion_tokens / maxOutputTokens) */
    struct lx_num temperature, top_p, presence_penalty, frequency_penalty;
    int64_t top_k;      /* -1 not given */
    int64_t n;          /* -1 not given; choices wanted */
    int64_t seed;
    bool has_seed;
    struct lx_str *stop; /* stop sequences, decoded */
    size_t n_stop;

    enum lx_response_format response_format;
    struct lx_str schema;      /* LX_RF_JSON_SCHEMA: the schema as JSON text */
    struct lx_str schema_name; /* its name (OpenAI requires one; "response" when none) */
    bool schema_strict;

    enum lx_effort effort;     /* reasoning_effort, Gemini thinkingLevel */
    enum lx_thinking thinking; /* Anthropic thinking, Gemini thinkingConfig */
    int64_t thinking_budget;   /* tokens; -1 not given */
    bool include_thoughts;     /* Gemini includeThoughts; the client wants reasoning back */

    bool stream;
    bool include_usage; /* OpenAI stream_options.include_usage (usage is always asked upstream) */
    struct lx_str user;     /* end-user id (OpenAI user, Anthropic metadata.user_id) */
    struct lx_str metadata; /* JSON object text; empty = none */

    enum lx_ir_source source;
    struct lx_kv *extra; /* top-level members not understood, in order */
    size_t n_extra;

    /* The legacy completions endpoint: the prompt becomes one user message; these say how to
     * answer (text_completion objects). */
    bool legacy_completion;
    bool echo; /* legacy: echo the prompt (only with an OpenAI-compatible upstream) */
};

/* ---- answer ----------------------------------------------------------------------------- */

enum lx_finish {
    LX_FINISH_UNSET = 0,
    LX_FINISH_STOP,           /* natural end or a stop sequence */
    LX_FINISH_LENGTH,         /* max tokens */
    LX_FINISH_TOOL_CALLS,     /* the model wants tool results */
    LX_FINISH_CONTENT_FILTER, /* safety, refusal, recitation, blocked prompt */
    LX_FINISH_ERROR,          /* the provider says the generation failed */
};

/* Tokens; -1 = not reported. See the counting convention at the top. */
struct lx_usage {
    int64_t input, output, total;
    int64_t cache_read, cache_write; /* parts of input */
    int64_t reasoning;               /* part of output */
};
#define LX_USAGE_INIT {-1, -1, -1, -1, -1, -1}

struct lx_choice {
    unsigned index;
    struct lx_msg message;      /* role ASSISTANT: TEXT, THINKING, REDACTED_THINKING, TOOL_CALL */
    enum lx_finish finish;
    struct lx_str finish_raw;   /* the provider's own word ("end_turn", "MAX_TOKENS") */
    struct lx_str stop_sequence; /* which stop sequence ended it, when the provider says */
};

struct lx_chat_resp {
    struct lx_str id;    /* the provider's id; empty: the encoder makes one */
    struct lx_str model; /* as the provider named it; empty: the request's */
    int64_t created;     /* unix seconds; -1: now */
    struct lx_choice *choices;
    size_t n_choices;
    struct lx_usage usage;
};

/* ---- streaming -------------------------------------------------------------------------- */

enum lx_delta_type {
    LX_DELTA_START = 0,          /* id, name = model (either may be empty); first, once */
    LX_DELTA_TEXT,               /* text */
    LX_DELTA_THINKING,           /* text: reasoning text */
    LX_DELTA_THINKING_SIGNATURE, /* text: the signature closing the current thinking block */
    LX_DELTA_REDACTED_THINKING,  /* text: Anthropic's opaque data, whole */
    LX_DELTA_TOOL_CALL,          /* tool_index; id and name on a call's first fragment; text:
                                  * a fragment of the arguments (may be empty); signature */
    LX_DELTA_FINISH,             /* finish, finish_raw, stop_sequence (per choice) */
    LX_DELTA_USAGE,              /* usage: fields known so far (-1 = not in this event) */
    LX_DELTA_ERROR,              /* error: the provider failed the stream after it started */
    LX_DELTA_DONE,               /* the protocol's terminal event: a clean end */
};

struct lx_upstream_error;

struct lx_delta {
    enum lx_delta_type type;
    unsigned choice;          /* choice index (OpenAI n, Gemini candidates); 0 otherwise */
    struct lx_str text;
    int tool_index;           /* TOOL_CALL: 0, 1, ... per choice, in the order calls began;
                               * decoders assign it when the provider sends none */
    struct lx_str id, name;   /* START: response id and model; TOOL_CALL: call id and name */
    struct lx_str signature;  /* TOOL_CALL: Gemini thoughtSignature */
    enum lx_finish finish;
    struct lx_str finish_raw, stop_sequence;
    struct lx_usage usage;
    const struct lx_upstream_error *error; /* ERROR */
};

/* Where decoders put deltas. emit returns LX_OK or an error that stops the decoder (which
 * returns it). Deltas and their strings are valid only during the call. */
struct lx_delta_sink {
    int (*emit)(void *ctx, const struct lx_delta *d);
    void *ctx;
};

/* ---- embeddings ------------------------------------------------------------------------- */

struct lx_embed_req {
    struct lx_str model;
    struct lx_str *inputs; /* decoded strings */
    size_t n_inputs;
    int64_t dimensions;      /* -1 not given */
    bool base64;             /* the client wants encoding_format "base64" (float32 LE) */
    struct lx_str input_type; /* Cohere input_type / Gemini taskType, when the client gave it */
    struct lx_str user;
};

struct lx_embed_resp {
    struct lx_str model;
    struct lx_str *vectors; /* one JSON array of numbers (text) per input, in input order */
    size_t n_vectors;
    struct lx_usage usage;  /* input (and total) tokens when reported */
};

/* ---- errors ----------------------------------------------------------------------------- */

enum lx_err_type {
    LX_ERRT_UNSET = 0,
    LX_ERRT_INVALID_REQUEST, /* 400 */
    LX_ERRT_AUTHENTICATION,  /* 401, Google's API_KEY_INVALID 400 */
    LX_ERRT_PERMISSION,      /* 403 */
    LX_ERRT_NOT_FOUND,       /* 404 */
    LX_ERRT_TOO_LARGE,       /* 413 */
    LX_ERRT_RATE_LIMIT,      /* 429 that will pass */
    LX_ERRT_QUOTA,           /* 402, spend limit, insufficient_quota: will not pass soon */
    LX_ERRT_CONTEXT_LENGTH,  /* the prompt does not fit the model's window */
    LX_ERRT_CONTENT_FILTER,  /* refused for content */
    LX_ERRT_OVERLOADED,      /* 529, 503 */
    LX_ERRT_SERVER,          /* 500, 502 */
    LX_ERRT_TIMEOUT,         /* 504, 408 */
};

/* What the gateway does with the key that got this answer (issue 5 acts on it). */
enum lx_key_action {
    LX_KEY_KEEP = 0,
    LX_KEY_COOLDOWN, /* rate limited: rest it (retry_after_ms, or daily_quota) */
    LX_KEY_DISABLE,  /* invalid, forbidden, out of money: do not use it again until probed */
};

/* An upstream error answer, classified. message and code point into the body or an arena. */
struct lx_upstream_error {
    int status;               /* the provider's HTTP status (for a stream error: the status its
                               * error event implies) */
    enum lx_err_type type;
    bool retryable;           /* another key or target may well succeed */
    enum lx_key_action key_action;
    int64_t retry_after_ms;   /* Retry-After, Google RetryInfo; -1 none */
    bool daily_quota;         /* Google's per-day quota: cool until midnight America/Los_Angeles */
    struct lx_str message;    /* the provider's message (never holds our key: adapters drop
                               * anything that could echo one) */
    struct lx_str code;       /* the provider's code or type: "overloaded_error",
                               * "RESOURCE_EXHAUSTED", "context_length_exceeded" */
};

/* ---- helpers (ir.c) ----------------------------------------------------------------------- */

void lx_chat_req_init(struct lx_chat_req *r);   /* every field "not given" */
void lx_chat_resp_init(struct lx_chat_resp *r); /* no choices, usage unknown */
void lx_upstream_error_init(struct lx_upstream_error *e);
const char *lx_finish_openai(enum lx_finish f);    /* "stop", "length", "tool_calls", ... */
const char *lx_finish_anthropic(enum lx_finish f); /* "end_turn", "max_tokens", "tool_use", ... */
const char *lx_finish_gemini(enum lx_finish f);    /* "STOP", "MAX_TOKENS", "SAFETY", ... */
const char *lx_err_type_openai(enum lx_err_type t);    /* "invalid_request_error", ... */
const char *lx_err_type_anthropic(enum lx_err_type t); /* "invalid_request_error",
                                                        * "overloaded_error", ... */
const char *lx_err_type_gemini(enum lx_err_type t);    /* "INVALID_ARGUMENT", ... */
int lx_err_type_status(enum lx_err_type t);           /* the usual HTTP status for a type */
/* The status and type a status alone implies (for bodies that say nothing more). */
enum lx_err_type lx_err_type_from_status(int status);
/* Fills retryable and key_action from type and status, the defaults every adapter starts from:
 * 429 cools the key and is retryable elsewhere; 401/403/402/quota disable it; 5xx, 529 and
 * timeouts are retryable; other 4xx go back to the client. */
void lx_upstream_error_defaults(struct lx_upstream_error *e);
/* Days since 1970-01-01 of a proleptic Gregorian date (the days-from-civil algorithm). */
int64_t lx_days_from_civil(int64_t y, unsigned m, unsigned d);
/* Retry-After as seconds or an HTTP date, relative to now_s; -1 when absent or bad. */
int64_t lx_retry_after_ms(struct lx_str value, int64_t now_s);
/* The name of the function a tool result answers: the TOOL_CALL with that id earlier in req,
 * or an empty string (Gemini's functionResponse needs the name, OpenAI sends only the id). */
struct lx_str lx_chat_req_tool_name(const struct lx_chat_req *req, size_t before_msg,
                                    struct lx_str call_id);

#endif /* LX_PROVIDERS_IR_H */
