// test_native.mjs - the native routes ANY /api/{provider}/{native path}: each official SDK with
// its own base-URL setting pointed at http://llmux/api/<provider> (openai -> /api/openai/v1,
// @anthropic-ai/sdk -> /api/anthropic, @google/genai -> /api/gemini), authenticating with the
// llmux master key in that provider's usual header. llmux must relay the native path and body
// untouched and swap the client's key for the pool key: the mock's echo ("model":"mock:echo")
// shows what reached it, and `?key=` must never reach it.
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { assert, eq, run, test } from './harness.mjs';
import { MASTER_KEY, echoHeaders, mockReset, mockStats, need, skippable, startMulti } from './harness2.mjs';

const stack = await startMulti();
const msgs = [{ role: 'user', content: 'Say hello' }];

function t(name, fn) {
  test(name, skippable(name, fn));
}

// Nothing the mock saw may carry the client's key.
function noClientKey(echo) {
  const all = JSON.stringify(echo);
  assert(!all.includes(MASTER_KEY), `the llmux key reached the provider: ${all.slice(0, 400)}`);
}

t('openai_sdk_native', async () => {
  need(stack, 'openai');
  const client = new OpenAI({ apiKey: MASTER_KEY, baseURL: `${stack.base}/api/openai/v1`,
    maxRetries: 0 });
  const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: msgs });
  eq(r.object, 'chat.completion', 'object');
  const echo = await client.chat.completions.create({ model: 'mock:echo', messages: msgs });
  eq(echo.method, 'POST', 'method');
  eq(echo.path, '/v1/chat/completions', 'native path');
  const h = echoHeaders(echo);
  eq(h.authorization, 'Bearer pool-openai', 'the pool key, in the provider\'s style');
  noClientKey(echo);
  eq(JSON.parse(echo.body).model, 'mock:echo', 'body untouched');
});

t('openai_sdk_native_stream', async () => {
  need(stack, 'openai');
  const client = new OpenAI({ apiKey: MASTER_KEY, baseURL: `${stack.base}/api/openai/v1`,
    maxRetries: 0 });
  const s = await client.chat.completions.create({ model: 'mock:tokens=5,token-ms=2',
    messages: msgs, stream: true });
  let text = '';
  for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
  eq(text, '1 2 3 4 5 ', 'streamed text');
});

t('anthropic_sdk_native', async () => {
  need(stack, 'anthropic');
  const client = new Anthropic({ apiKey: MASTER_KEY, baseURL: `${stack.base}/api/anthropic`,
    maxRetries: 0 });
  const r = await client.messages.create({ model: 'claude-x', max_tokens: 16, messages: msgs });
  eq(r.type, 'message', 'type');
  eq(r.model, 'claude-x', 'model echoed by the mock');
  const echo = await client.messages.create({ model: 'mock:echo', max_tokens: 16, messages: msgs });
  eq(echo.path, '/v1/messages', 'native path');
  const h = echoHeaders(echo);
  eq(h['x-api-key'], 'pool-anthropic', 'the pool key in x-api-key');
  assert(h['anthropic-version'], 'anthropic-version passed on');
  assert(h.authorization === undefined, 'no Authorization header');
  noClientKey(echo);
});

t('anthropic_sdk_native_stream', async () => {
  need(stack, 'anthropic');
  const client = new Anthropic({ apiKey: MASTER_KEY, baseURL: `${stack.base}/api/anthropic`,
    maxRetries: 0 });
  const s = client.messages.stream({ model: 'mock:tokens=5,token-ms=2', max_tokens: 16,
    messages: msgs });
  const final = await s.finalMessage();
  eq(final.content[0].text, '1 2 3 4 5 ', 'streamed text');
});

t('anthropic_sdk_native_error_untouched', async () => {
  need(stack, 'anthropic');
  const client = new Anthropic({ apiKey: MASTER_KEY, baseURL: `${stack.base}/api/anthropic`,
    maxRetries: 0 });
  try {
    await client.messages.create({ model: 'mock:status=529', max_tokens: 16, messages: msgs });
  } catch (e) {
    eq(e.status, 529, 'status relayed');
    eq(e.error?.error?.type, 'overloaded_error', 'the provider\'s own error body');
    return;
  }
  throw new Error('no error');
});

t('genai_sdk_native', async () => {
  need(stack, 'gemini');
  const ai = new GoogleGenAI({ apiKey: MASTER_KEY,
    httpOptions: { baseUrl: `${stack.base}/api/gemini` } });
  await mockReset(stack);
  const r = await ai.models.generateContent({ model: 'gemini-2.0-flash', contents: 'Say hello' });
  assert(r.text && r.text.startsWith('Hello! This is mockllm'), `text: ${r.text}`);
  let text = '';
  const s = await ai.models.generateContentStream({ model: 'mock%3Atokens%3D5%2Ctoken-ms%3D2',
    contents: 'Say hello' });
  for await (const c of s) text += c.text ?? '';
  eq(text, '1 2 3 4 5 ', 'streamed text');
  const st = await mockStats(stack);
  eq(st.by_path['/v1beta/models/gemini-2.0-flash:generateContent'], 1, 'native path reached');
});

// The SDK hides an echo's body, so what reached the mock is read with fetch, sending the key
// the way genai does (x-goog-api-key) and the old way (?key=).
t('gemini_native_key_swapped', async () => {
  need(stack, 'gemini');
  const url = `${stack.base}/api/gemini/v1beta/models/mock%3Aecho:generateContent`;
  const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] });
  for (const [u, headers] of [
    [url, { 'x-goog-api-key': MASTER_KEY }],
    [`${url}?key=${MASTER_KEY}`, {}],
    [`${url}?alt=json&key=${MASTER_KEY}`, {}],
  ]) {
    const r = await fetch(u, { method: 'POST', body,
      headers: { 'content-type': 'application/json', ...headers } });
    eq(r.status, 200, `status for ${u.replace(MASTER_KEY, 'KEY')}`);
    const echo = await r.json();
    assert(echo.path.startsWith('/v1beta/models/mock%3Aecho:generateContent') ||
           echo.path.startsWith('/v1beta/models/mock:echo:generateContent'), `path: ${echo.path}`);
    assert(!/[?&]key=/.test(echo.path), `?key= reached the provider: ${echo.path}`);
    eq(echoHeaders(echo)['x-goog-api-key'], 'pool-gemini', 'the pool key in x-goog-api-key');
    noClientKey(echo);
    eq(echo.body, body, 'body untouched');
  }
});

t('native_unknown_provider', async () => {
  const r = await fetch(`${stack.base}/api/no-such-provider/v1/chat/completions`, {
    method: 'POST', body: '{}', headers: { authorization: `Bearer ${MASTER_KEY}` } });
  eq(r.status, 404, 'status');
});

t('native_needs_the_llmux_key', async () => {
  need(stack, 'openai');
  const r = await fetch(`${stack.base}/api/openai/v1/chat/completions`, {
    method: 'POST', body: '{"model":"mock:echo"}',
    headers: { authorization: 'Bearer sk-not-the-master-key', 'content-type': 'application/json' } });
  eq(r.status, 401, 'status');
});

await run();
