// harness2.mjs - the multi-provider stack of the SDK tests (beside harness.mjs, which it
// reuses): one mock provider, and llmux started with a YAML configuration whose providers all
// point at that mock, each with its own protocol (`type:`). A provider type this llmux build
// does not accept yet (`llmux check-config` refuses it) is left out, and the tests that need
// it report SKIP instead of failing, so the suites run against any build.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { BUILD, FIXTURES, start } from './harness.mjs';

export const MASTER_KEY = 'sk-llmux-sdk-master-key-0123456789';

// name -> (mock base URL) -> YAML lines of the provider (the pool key is `pool-<name>`).
const PROVIDERS = {
  anthropic: (m) => ['type: anthropic', `base_url: ${m}/v1`],
  gemini: (m) => ['type: gemini', `base_url: ${m}/v1beta`],
  openai: (m) => ['type: openai', `base_url: ${m}/v1`],
  vertex: (m) => ['type: vertex', `base_url: ${m}`, 'region: us-central1', 'project: proj1'],
  bedrock: (m) => ['type: bedrock', `base_url: ${m}`, 'region: us-east-1'],
  azure: (m) => ['type: azure', `base_url: ${m}`, 'api_version: "2024-10-21"'],
  cohere: (m) => ['type: cohere', `base_url: ${m}`],
  ollama: (m) => ['type: ollama', `base_url: ${m}`],
  'workers-ai': (m) => ['type: workers-ai', `base_url: ${m}/client/v4/accounts/acc1`],
};

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function providerYaml(name, mockURL) {
  const key = `pool-${name}`; // Bedrock: an API key (Bearer), Vertex: an access token
  return [`  - name: ${name}`, ...PROVIDERS[name](mockURL).map((l) => `    ${l}`),
    `    keys: [ "${key}" ]`];
}

function yaml(names, mockURL) {
  return ['log_level: warn', `master_key: "${MASTER_KEY}"`, 'routes: []', 'providers:',
    ...names.flatMap((n) => providerYaml(n, mockURL))].join('\n') + '\n';
}

function accepted(file) {
  try {
    execFileSync(path.join(BUILD, 'llmux'), ['check-config', file], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// Starts the mock and llmux with every provider this build accepts. Returns
// { mock, llmux, base (http://127.0.0.1:PORT), mockURL, has(name), providers }.
export async function startMulti(env = {}) {
  const mockPort = await freePort();
  const mock = await start('mockllm', [path.join(BUILD, 'mockllm'), '--listen',
    `127.0.0.1:${mockPort}`, '--fixtures', FIXTURES, '--tokens', '5', '--token-ms', '2'],
  mockPort);
  const mockURL = `http://127.0.0.1:${mockPort}`;
  const dir = path.join(BUILD, 'test-logs', 'sdk');
  fs.mkdirSync(dir, { recursive: true });
  const ok = [];
  for (const name of Object.keys(PROVIDERS)) {
    const f = path.join(dir, `check-${name}-${process.pid}.yaml`);
    fs.writeFileSync(f, yaml([name], mockURL));
    if (accepted(f)) ok.push(name);
  }
  const file = path.join(dir, `llmux-${process.pid}.yaml`);
  fs.writeFileSync(file, yaml(ok, mockURL));
  const port = await freePort();
  const llmux = await start('llmux', [path.join(BUILD, 'llmux'), 'serve', '--config', file,
    '--listen', `127.0.0.1:${port}`, '--workers', '2'], port, env);
  return {
    mock, llmux, mockURL, providers: ok, base: `http://127.0.0.1:${port}`,
    has: (n) => ok.includes(n),
  };
}

// Thrown by a test whose provider type this build does not have: run() prints it as a
// failure with "SKIP" in the reason; wrap with skippable() to print SKIP and pass instead.
export class Skip extends Error {}

export function need(stack, ...names) {
  for (const n of names) if (!stack.has(n)) throw new Skip(`provider type of ${n} not accepted by this llmux`);
}

// Wraps a test body so that a Skip prints "SKIP name: why" and counts as passed.
export function skippable(name, fn) {
  return async () => {
    try {
      await fn();
    } catch (e) {
      if (e instanceof Skip) {
        console.log(`SKIP ${name}: ${e.message}`);
        return;
      }
      throw e;
    }
  };
}

// The mock's counters (GET /mock/stats) and a reset.
export async function mockStats(stack) {
  const r = await fetch(`${stack.mockURL}/mock/stats`);
  return r.json();
}

export async function mockReset(stack) {
  await fetch(`${stack.mockURL}/mock/reset`, { method: 'POST' });
}

// The headers of an echo answer as an object (lower-case names; repeated names joined).
export function echoHeaders(echo) {
  const h = {};
  for (const [k, v] of echo.headers) {
    const n = k.toLowerCase();
    h[n] = h[n] === undefined ? v : `${h[n]}, ${v}`;
  }
  return h;
}
