// test_genai.mjs - the official `@google/genai` client pointed at llmux's Gemini front door
// (POST /v1beta/models/{model}:generateContent | :streamGenerateContent?alt=sse), with the
// llmux master key as its API key (sent as x-goog-api-key). llmux relays to the mock provider:
// a Gemini upstream is a pass-through, OpenAI, Anthropic and the other families are
// translated. The model is "<provider>/mock:<items>"; the SDK puts it in the URL path as is,
// so the items are percent-encoded here (llmux splits the path at the first ':').
import { GoogleGenAI, ApiError } from '@google/genai';
import { assert, eq, run, test } from './harness.mjs';
import { MASTER_KEY, need, skippable, startMulti } from './harness2.mjs';

const stack = await startMulti();
const ai = new GoogleGenAI({ apiKey: MASTER_KEY, httpOptions: { baseUrl: stack.base } });
const FAMILIES = ['gemini', 'openai', 'anthropic', 'vertex', 'bedrock', 'azure', 'cohere', 'ollama', 'workers-ai'];
const TOOLS = [{ functionDeclarations: [{ name: 'get_weather', description: 'weather of a city',
  parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' } } } }] }];

function t(name, fn) {
  test(name, skippable(name, fn));
}

// The Vertex and Workers AI adapters allow only [A-Za-z0-9._@-] in a model: "mockx-<hex>".
const HEX = new Set(['vertex', 'workers-ai']);
const model = (p, items) => (!items ? `${p}/mock-model`
  : HEX.has(p) ? `${p}/mockx-${Buffer.from(items).toString('hex')}`
    : `${p}/${encodeURIComponent(`mock:${items}`)}`);

for (const p of FAMILIES) {
  t(`generate_${p}`, async () => {
    need(stack, p);
    const r = await ai.models.generateContent({ model: model(p), contents: 'Say hello' });
    assert(r.text && r.text.startsWith('Hello! This is mockllm'), `text: ${r.text}`);
    eq(r.candidates[0].finishReason, 'STOP', 'finishReason');
    eq(r.candidates[0].content.role, 'model', 'role');
    assert(r.usageMetadata && r.usageMetadata.totalTokenCount > 0, 'usageMetadata');
  });

  t(`stream_paced_${p}`, async () => {
    need(stack, p);
    const s = await ai.models.generateContentStream({ model: model(p, 'tokens=5,token-ms=2'),
      contents: 'Say hello' });
    let text = '';
    let last = null;
    for await (const c of s) {
      text += c.text ?? '';
      last = c;
    }
    eq(text, '1 2 3 4 5 ', 'streamed text');
    eq(last.candidates[0].finishReason, 'STOP', 'last chunk finishReason');
    assert(last.usageMetadata && last.usageMetadata.candidatesTokenCount > 0, 'final usage');
  });
}

function checkCalls(calls, name) {
  assert(calls && calls.length >= 1, `no function call: ${JSON.stringify(calls)}`);
  for (const c of calls) {
    assert(c.name, 'call without a name');
    assert(c.args && typeof c.args === 'object', `args is not an object: ${JSON.stringify(c)}`);
  }
  if (name) eq(calls[0].name, name, 'the recorded function');
}

const CALLS = [
  ['gemini', 'gemini/generate_response_tool_call.json', 'gemini/stream_tool_call.sse', 'weather'],
  ['openai', 'openai/chat_tools_response.json', 'openai/chat_stream_tools.sse', null],
  ['anthropic', 'anthropic/messages_response_tool_use.json', 'anthropic/messages_stream_tool_use.sse', null],
];

for (const [p, whole, streamed, name] of CALLS) {
  t(`function_call_${p}`, async () => {
    need(stack, p);
    const r = await ai.models.generateContent({ model: model(p, `fixture=${whole}`),
      contents: 'Weather in Paris?', config: { tools: TOOLS } });
    checkCalls(r.functionCalls, name);
  });

  t(`function_call_stream_${p}`, async () => {
    need(stack, p);
    const s = await ai.models.generateContentStream({ model: model(p, `fixture=${streamed}`),
      contents: 'Weather in Paris?', config: { tools: TOOLS } });
    const calls = [];
    for await (const c of s) calls.push(...(c.functionCalls ?? []));
    checkCalls(calls, name);
  });
}

async function expectStatus(fn, statuses) {
  try {
    await fn();
  } catch (e) {
    assert(e instanceof ApiError, `got ${e.constructor.name}: ${e.message}`);
    assert(statuses.includes(e.status), `status ${e.status}, want ${statuses}`);
    return e;
  }
  throw new Error('no error');
}

for (const p of ['gemini', 'openai', 'anthropic']) {
  t(`rate_limit_${p}`, async () => {
    need(stack, p);
    const e = await expectStatus(() => ai.models.generateContent({ model: model(p, 'status=429'),
      contents: 'hi' }), [429]);
    assert(/RESOURCE_EXHAUSTED|429/.test(e.message), `message: ${e.message}`);
  });
}

t('bad_llmux_key', async () => {
  const bad = new GoogleGenAI({ apiKey: 'not-the-master-key', httpOptions: { baseUrl: stack.base } });
  await expectStatus(() => bad.models.generateContent({ model: model('gemini'), contents: 'hi' }),
    [400, 401, 403]);
});

t('truncated_stream_throws', async () => {
  need(stack, 'gemini');
  let threw = false;
  try {
    const s = await ai.models.generateContentStream({
      model: model('gemini', 'fixture=gemini/stream.sse,truncate=700'), contents: 'hi' });
    for await (const c of s) void c;
  } catch {
    threw = true;
  }
  assert(threw, 'a cut stream must surface as an error, not a clean end');
});

await run();
