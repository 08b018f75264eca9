// test_anthropic.mjs - the official `@anthropic-ai/sdk` client pointed at llmux's Anthropic
// front door (POST /v1/messages, /v1/messages/count_tokens), authenticating with the llmux
// master key. llmux relays to the mock provider, which speaks each provider's own protocol:
// an Anthropic upstream is a pass-through, every other family is translated through the IR.
// The mock's behaviour rides in the model name ("<provider>/mock:<items>", tests/mock/README.md).
import Anthropic from '@anthropic-ai/sdk';
import { assert, eq, run, test } from './harness.mjs';
import { MASTER_KEY, need, skippable, startMulti } from './harness2.mjs';

const stack = await startMulti();
const client = new Anthropic({ apiKey: MASTER_KEY, baseURL: stack.base, maxRetries: 0 });
const msgs = [{ role: 'user', content: 'Say hello' }];
const FAMILIES = ['anthropic', 'openai', 'gemini', 'vertex', 'bedrock', 'azure', 'cohere', 'ollama', 'workers-ai'];
const TOOLS = [{ name: 'get_weather', description: 'weather of a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];

function t(name, fn) {
  test(name, skippable(name, fn));
}

// A model of provider p whose mock items are `items`. Gemini and Bedrock models go in the
// upstream URL (percent-encoded by llmux, decoded by the mock); the Vertex and Workers AI
// adapters allow only [A-Za-z0-9._@-] there, so their items travel as "mockx-<hex>".
const HEX = new Set(['vertex', 'workers-ai']);
const model = (p, items) => (!items ? `${p}/mock-model`
  : HEX.has(p) ? `${p}/mockx-${Buffer.from(items).toString('hex')}` : `${p}/mock:${items}`);

for (const p of FAMILIES) {
  t(`create_text_${p}`, async () => {
    need(stack, p);
    const r = await client.messages.create({ model: model(p), max_tokens: 64, messages: msgs });
    eq(r.type, 'message', 'type');
    eq(r.role, 'assistant', 'role');
    eq(r.content[0].type, 'text', 'first block');
    assert(r.content[0].text.startsWith('Hello! This is mockllm'), `text: ${r.content[0].text}`);
    eq(r.stop_reason, 'end_turn', 'stop_reason');
    assert(r.usage.output_tokens > 0 && r.usage.input_tokens > 0, 'usage');
  });

  t(`stream_paced_${p}`, async () => {
    need(stack, p);
    const s = client.messages.stream({ model: model(p, 'tokens=5,token-ms=2'), max_tokens: 64,
      messages: msgs });
    let text = '';
    s.on('text', (d) => { text += d; });
    const final = await s.finalMessage();
    eq(text, '1 2 3 4 5 ', 'streamed text');
    eq(final.content[0].text, '1 2 3 4 5 ', 'final text');
    eq(final.stop_reason, 'end_turn', 'stop_reason');
    assert(final.usage.output_tokens > 0, 'usage');
  });
}

async function toolStream(m) {
  const s = client.messages.stream({ model: m, max_tokens: 256, messages: msgs, tools: TOOLS });
  const final = await s.finalMessage();
  const calls = final.content.filter((b) => b.type === 'tool_use');
  assert(calls.length >= 1, `no tool_use block: ${JSON.stringify(final.content)}`);
  for (const c of calls) {
    assert(c.id && c.name, `tool_use without id or name: ${JSON.stringify(c)}`);
    assert(c.input && typeof c.input === 'object', `input is not an object: ${JSON.stringify(c)}`);
  }
  eq(final.stop_reason, 'tool_use', 'stop_reason');
  return calls;
}

t('stream_tools_passthrough_anthropic', async () => {
  need(stack, 'anthropic');
  const calls = await toolStream(model('anthropic', 'fixture=anthropic/messages_stream_tool_use.sse'));
  eq(calls[0].name, 'json', 'the recorded tool');
});

t('stream_tools_translated_openai', async () => {
  need(stack, 'openai');
  await toolStream(model('openai', 'fixture=openai/chat_stream_tools.sse'));
});

t('stream_tools_translated_gemini', async () => {
  need(stack, 'gemini');
  const calls = await toolStream(model('gemini', 'fixture=gemini/stream_tool_call.sse'));
  eq(calls[0].name, 'weather', 'the recorded tool');
});

async function thinkingStream(m) {
  const s = client.messages.stream({ model: m, max_tokens: 2048, messages: msgs,
    thinking: { type: 'enabled', budget_tokens: 1024 } });
  let thinking = '';
  s.on('thinking', (d) => { thinking += d; });
  const final = await s.finalMessage();
  const blocks = final.content.filter((b) => b.type === 'thinking');
  assert(blocks.length >= 1, `no thinking block: ${JSON.stringify(final.content).slice(0, 300)}`);
  assert(thinking.length > 0, 'no thinking deltas');
  return final;
}

t('stream_thinking_passthrough_anthropic', async () => {
  need(stack, 'anthropic');
  const final = await thinkingStream(model('anthropic', 'fixture=anthropic/messages_stream_thinking.sse'));
  assert(final.content.find((b) => b.type === 'thinking').signature, 'signature kept');
});

t('stream_thinking_translated_openai', async () => {
  need(stack, 'openai');
  await thinkingStream(model('openai', 'fixture=compat/deepseek_stream_reasoning_tools.sse'));
});

// The recorded Gemini 3 answer has no thought parts (only thoughtsTokenCount): the request with
// thinking must translate (thinkingConfig) and the answer arrive, with the thoughts counted.
t('stream_thinking_request_translated_gemini', async () => {
  need(stack, 'gemini');
  const s = client.messages.stream({ model: model('gemini', 'fixture=gemini/stream_thinking.sse'),
    max_tokens: 2048, messages: msgs, thinking: { type: 'enabled', budget_tokens: 1024 } });
  const final = await s.finalMessage();
  const text = final.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
  assert(text.includes('strawberry'), `text: ${text}`);
  eq(final.stop_reason, 'end_turn', 'stop_reason');
  assert(final.usage.output_tokens >= 29, `output_tokens: ${final.usage.output_tokens}`);
});

t('count_tokens', async () => {
  need(stack, 'anthropic');
  const r = await client.messages.countTokens({ model: model('anthropic'), messages: msgs });
  assert(Number.isInteger(r.input_tokens) && r.input_tokens > 0, JSON.stringify(r));
});

async function expectError(fn, cls, status) {
  try {
    await fn();
  } catch (e) {
    assert(e instanceof cls, `got ${e.constructor.name} (${e.status}: ${e.message}), want ${cls.name}`);
    eq(e.status, status, cls.name);
    return e;
  }
  throw new Error(`no error, want ${cls.name}`);
}

for (const p of FAMILIES) {
  t(`rate_limit_${p}`, async () => {
    need(stack, p);
    const e = await expectError(() => client.messages.create({ model: model(p, 'status=429'),
      max_tokens: 16, messages: msgs }), Anthropic.RateLimitError, 429);
    eq(e.error?.type, 'error', 'Anthropic error envelope');
    eq(e.error?.error?.type, 'rate_limit_error', 'error type');
  });
}

t('overloaded_529_passthrough', async () => {
  need(stack, 'anthropic');
  const e = await expectError(() => client.messages.create({ model: model('anthropic', 'status=529'),
    max_tokens: 16, messages: msgs }), Anthropic.APIError, 529);
  eq(e.error?.error?.type, 'overloaded_error', 'error type');
});

t('bad_llmux_key_is_authentication_error', async () => {
  const bad = new Anthropic({ apiKey: 'sk-not-the-master-key', baseURL: stack.base, maxRetries: 0 });
  await expectError(() => bad.messages.create({ model: model('anthropic'), max_tokens: 16,
    messages: msgs }), Anthropic.AuthenticationError, 401);
});

t('missing_max_tokens_is_bad_request', async () => {
  const e = await expectError(() => client.messages.create({ model: model('anthropic'), messages: msgs }),
    Anthropic.BadRequestError, 400);
  eq(e.error?.error?.type, 'invalid_request_error', 'error type');
});

t('truncated_stream_throws', async () => {
  need(stack, 'anthropic');
  const s = client.messages.stream({ model: model('anthropic', 'tokens=50,token-ms=1,truncate=900'),
    max_tokens: 64, messages: msgs });
  let threw = false;
  try {
    await s.finalMessage();
  } catch {
    threw = true;
  }
  assert(threw, 'a cut stream must surface as an error, not a clean end');
});

await run();
