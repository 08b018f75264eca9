// harness.mjs - starts the mock provider and llmux on free loopback ports for the SDK tests,
// runs each test, prints "PASS name" / "FAIL name: why", and always stops what it started.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..', '..');
export const BUILD = process.env.LX_BUILD || path.join(ROOT, 'build');
export const SHARED = process.env.LX_SHARED || path.resolve(ROOT, '..', 'shared');
export const FIXTURES = path.join(SHARED, 'protocols', 'fixtures');

const procs = [];
const tests = [];

export function test(name, fn) {
  tests.push({ name, fn });
}

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

async function waitPort(port, child, ms = 10000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode}`);
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`nothing listening on ${port}`);
}

export async function start(name, argv, port, env = {}) {
  const logDir = path.join(BUILD, 'test-logs', 'procs');
  fs.mkdirSync(logDir, { recursive: true });
  const log = fs.openSync(path.join(logDir, `${name}-sdk-${process.pid}.log`), 'a');
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', log, log],
    env: { ...process.env, ...env },
  });
  procs.push(child);
  await waitPort(port, child);
  return { port, child, logPath: path.join(logDir, `${name}-sdk-${process.pid}.log`) };
}

export async function startStack(env = {}) {
  const mockPort = await freePort();
  const mock = await start('mockllm', [path.join(BUILD, 'mockllm'), '--listen',
    `127.0.0.1:${mockPort}`, '--fixtures', FIXTURES], mockPort);
  const port = await freePort();
  const llmux = await start('llmux', [path.join(BUILD, 'llmux'), 'serve', '--listen',
    `127.0.0.1:${port}`, '--upstream', `http://127.0.0.1:${mockPort}/v1`, '--workers', '2'],
  port, env);
  return { mock, llmux, baseURL: `http://127.0.0.1:${port}/v1` };
}

export function stopAll() {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
}

export async function run() {
  let failed = 0;
  const only = process.argv[2];
  const mod = path.basename(process.argv[1], '.mjs');
  for (const t of tests) {
    if (only && !t.name.includes(only)) continue;
    const t0 = Date.now();
    try {
      await t.fn();
      console.log(`PASS ${mod}/${t.name} (${((Date.now() - t0) / 1000).toFixed(2)}s)`);
    } catch (e) {
      failed++;
      console.error(e);
      console.log(`FAIL ${mod}/${t.name}: ${String(e && e.message || e).split('\n')[0].slice(0, 300)}`);
    }
  }
  stopAll();
  process.exit(failed ? 1 : 0);
}

export function assert(cond, msg = 'assertion failed') {
  if (!cond) throw new Error(msg);
}

export function eq(a, b, msg = '') {
  const x = JSON.stringify(a); const y = JSON.stringify(b);
  if (x !== y) throw new Error(`${msg}: ${x} != ${y}`);
}
