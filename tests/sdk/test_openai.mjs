// test_openai.mjs - the official `openai` npm client pointed at llmux, which relays to the
// mock provider replaying recorded fixtures. The mock's behaviour is chosen through the model
// name ("mock:<spec>", tests/mock/README.md).
import OpenAI from 'openai';
import { assert, eq, run, startStack, test } from './harness.mjs';

const stack = await startStack({ LLMUX_UPSTREAM_KEY: 'sk-test-upstream' });
const client = new OpenAI({ apiKey: 'sk-client', baseURL: stack.baseURL, maxRetries: 0 });
const msgs = [{ role: 'user', content: 'Say hello' }];

test('chat', async () => {
  const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: msgs });
  eq(r.object, 'chat.completion', 'object');
  assert(r.choices[0].message.content.length > 0, 'empty content');
  assert(r.usage.total_tokens > 0, 'no usage');
});

test('chat_fixture', async () => {
  const r = await client.chat.completions.create({
    model: 'mock:fixture=openai/chat_basic_response.json', messages: msgs });
  eq(r.id, 'chatcmpl-C4Gm9xikLXbgE8He0BHWeoM03aa72', 'id from the fixture');
  eq(r.usage.prompt_tokens, 8, 'usage from the fixture');
});

test('stream_for_await', async () => {
  const s = await client.chat.completions.create({
    model: 'mock:fixture=openai/chat_stream.sse', messages: msgs, stream: true });
  let text = '';
  let chunks = 0;
  for await (const c of s) {
    chunks++;
    text += c.choices[0]?.delta?.content ?? '';
  }
  assert(chunks >= 40, `only ${chunks} chunks`);
  assert(text.startsWith('Hi there! How can I help'), `text: ${text.slice(0, 60)}`);
});

test('stream_paced_tokens', async () => {
  const s = await client.chat.completions.create({
    model: 'mock:tokens=20,token-ms=10', messages: msgs, stream: true,
    stream_options: { include_usage: true } });
  let content = 0;
  let usage = null;
  for await (const c of s) {
    if (c.choices[0]?.delta?.content) content++;
    if (c.usage) usage = c.usage;
  }
  eq(content, 20, 'content chunks');
  assert(usage && usage.completion_tokens > 0, 'include_usage chunk missing');
});

test('stream_helper_parallel_tools', async () => {
  const s = client.chat.completions.stream({
    model: 'mock:fixture=openai/chat_stream_parallel_tools_usage.sse', messages: msgs,
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
  });
  const final = await s.finalChatCompletion();
  const calls = final.choices[0].message.tool_calls;
  assert(calls && calls.length >= 2, `tool calls: ${JSON.stringify(calls)}`);
  for (const c of calls) JSON.parse(c.function.arguments); // every call's arguments are whole
});

async function expectError(model, cls, status) {
  try {
    await client.chat.completions.create({ model, messages: msgs });
  } catch (e) {
    assert(e instanceof cls, `${model}: got ${e.constructor.name}, want ${cls.name}`);
    eq(e.status, status, model);
    return e;
  }
  throw new Error(`${model}: no error`);
}

test('errors_as_sdk_classes', async () => {
  await expectError('mock:fixture=openai/error_429_rate_limit.json', OpenAI.RateLimitError, 429);
  await expectError('mock:fixture=openai/error_404_model_not_found.json', OpenAI.NotFoundError, 404);
  await expectError('mock:fixture=openai/error_400_context_length.json', OpenAI.BadRequestError, 400);
  await expectError('mock:reset', OpenAI.APIError, 502);
});

test('truncated_stream_throws', async () => {
  const s = await client.chat.completions.create({
    model: 'mock:fixture=openai/chat_stream.sse,truncate=2000', messages: msgs, stream: true });
  let threw = false;
  try {
    for await (const c of s) void c;
  } catch (e) {
    threw = true;
  }
  assert(threw, 'a cut stream must surface as an error, not a clean end');
});

test('embeddings', async () => {
  const r = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
  eq(r.object, 'list', 'object');
  assert(r.data[0].embedding.length > 0, 'empty embedding');
});

test('models_list', async () => {
  const page = await client.models.list();
  assert(Array.isArray(page.data), 'data is not a list');
});

test('unknown_route_is_not_found', async () => {
  try {
    await client.get('/nope');
  } catch (e) {
    assert(e instanceof OpenAI.NotFoundError, `got ${e.constructor.name}`);
    return;
  }
  throw new Error('no error');
});

test('zz_auth_error_then_no_usable_key', async () => {
  // last: a 401 disables llmux's only key for this provider (issue 5), so what follows is 503
  await expectError('mock:fixture=openai/error_401_invalid_api_key.json',
    OpenAI.AuthenticationError, 401);
  await expectError('gpt-4o-mini', OpenAI.InternalServerError, 503);
});

await run();
