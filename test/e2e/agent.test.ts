import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { assertNoSecrets } from '../helpers/cli.js';
import { cleanEnv } from '../helpers/env.js';
import { FIXTURES, PROFILE, spawnBin, startWorld, waitUntil, type Spawned, type WifWorld } from './exec-helpers.js';

// `claude-wif agent` end to end: the built binary keeps a shared sidecar directory fresh for
// consumers that only set ANTHROPIC_CONFIG_DIR; health endpoints; clean SIGTERM. Time runs K times
// faster for the agent, the consumers and the sandbox (timewarp.mjs), with the production minimum
// token lifetime of 60 s.
const K = 8;
const LIFETIME = 60;

let world: WifWorld | undefined;
let agent: Spawned | undefined;
afterEach(async () => {
  if (agent && agent.child.exitCode === null && agent.child.signalCode === null) {
    agent.child.kill('SIGKILL');
    await agent.exited;
  }
  agent = undefined;
  await world?.stop();
  world = undefined;
});

async function warpedWorld(): Promise<{ w: WifWorld; warp: Record<string, string> }> {
  const t0 = Date.now();
  const warp = {
    NODE_OPTIONS: `--import=${pathToFileURL(join(FIXTURES, 'timewarp.mjs')).href}`,
    WIF_TIMEWARP_FACTOR: String(K),
    WIF_TIMEWARP_T0: String(t0),
  };
  world = await startWorld({ now: () => Math.floor(t0 + (Date.now() - t0) * K), tokenLifetime: LIFETIME, extraEnv: warp });
  return { w: world, warp };
}

interface Started {
  dir: string;
  profiles: string[];
  active_profile: string;
  proxy: { url: string; secret_file: string } | null;
  health: string | null;
}

async function startAgent(w: WifWorld, args: string[]): Promise<{ a: Spawned; info: Started }> {
  const a = spawnBin(['agent', ...args], w.env);
  agent = a;
  await a.waitFor(() => a.stdout().includes('\n') || a.child.exitCode !== null, 'the agent to start', 20_000);
  expect(a.child.exitCode, a.stderr()).toBeNull();
  return { a, info: JSON.parse(a.stdout().split('\n')[0]!) as Started };
}

const health = async (url: string, path: string): Promise<{ status: number; body: { sinks: Array<{ name: string; failures: number; last_error?: string; expires_in: number | null }> } }> => {
  const r = await fetch(`${url}${path}`);
  return { status: r.status, body: (await r.json()) as never };
};

/** Polls until the endpoint answers `status` (or 20 s pass); returns the last answer. */
async function healthUntil(url: string, path: string, status: number): Promise<Awaited<ReturnType<typeof health>>> {
  let last = await health(url, path);
  for (const deadline = Date.now() + 20_000; last.status !== status && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 100));
    last = await health(url, path);
  }
  return last;
}

/** Every file under dir, relative. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p, `${rel}${name}/`);
      else out.push(`${rel}${name}`);
    }
  };
  walk(dir, '');
  return out.sort();
}

function consumer(w: WifWorld, warp: Record<string, string>, dir: string, extra: Record<string, string>) {
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const c = spawn(process.execPath, [join(FIXTURES, 'sdk-child.mjs')], {
      env: cleanEnv(w.home.home, { ...warp, ANTHROPIC_CONFIG_DIR: dir, RUN_FOR_MS: String(Math.round(3.1 * LIFETIME * 1000)), CALL_EVERY_MS: '2000', ...extra }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    c.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('agent: a shared sidecar directory', () => {
  it(
    'two consumers that only set ANTHROPIC_CONFIG_DIR keep authenticating across more than 3 lifetimes; SIGTERM exits 0 leaving whole files only',
    async () => {
      const { w, warp } = await warpedWorld();
      const dir = join(w.home.home, 'shared');
      const { a, info } = await startAgent(w, ['--dir', dir, '--health', '127.0.0.1:0', '--proxy', '127.0.0.1:0']);
      expect(info).toMatchObject({ dir, profiles: [PROFILE], active_profile: PROFILE });
      await waitUntil(() => a.stderr().includes(`agent: "${PROFILE}" refreshed (first token`), 'the first token');
      expect((await health(info.health!, '/readyz')).status).toBe(200);
      expect(readFileSync(join(dir, 'active_config'), 'utf8').trim()).toBe(PROFILE);
      expect(JSON.parse(readFileSync(join(dir, 'configs', `${PROFILE}.json`), 'utf8'))).toEqual({ version: '1.0', base_url: w.sandbox.url, authentication: { type: 'user_oauth' } });
      for (const f of [`credentials/${PROFILE}.json`, 'proxy.secret']) expect(statSync(join(dir, f)).mode & 0o777, f).toBe(0o600);
      expect(statSync(join(dir, 'credentials')).mode & 0o777).toBe(0o700);

      // The proxy serves the same profile to a client holding the secret from the 0600 file.
      const secret = readFileSync(info.proxy!.secret_file, 'utf8').trim();
      const viaProxy = await fetch(`${info.proxy!.url}/v1/models`, { headers: { authorization: `Bearer ${secret}`, 'anthropic-version': '2023-06-01' } });
      expect(viaProxy.status).toBe(200);

      // Two consumers: one through active_config, one naming the profile.
      const [c1, c2] = await Promise.all([consumer(w, warp, dir, {}), consumer(w, warp, dir, { ANTHROPIC_PROFILE: PROFILE })]);
      for (const c of [c1, c2]) {
        expect(c.code, c.err + c.out).toBe(0);
        const report = JSON.parse(c.out.trim().split('\n').pop()!) as { started: number; ended: number; ok: number; failed: number };
        expect(report.failed).toBe(0);
        expect(report.ended - report.started).toBeGreaterThanOrEqual(3 * LIFETIME * 1000);
      }
      const calls = w.sandbox.apiCalls.filter((c) => c.path.startsWith('/v1/messages'));
      expect(calls.every((c) => c.status === 200 && /^Bearer sk-ant-oat01-/.test(c.headers['authorization'] ?? ''))).toBe(true);
      expect(new Set(calls.map((c) => c.token_prefix)).size).toBeGreaterThanOrEqual(4);
      // Only the agent exchanged, about every 15 s (a 60 s token at age 15 s), one log line per refresh.
      const exchanges = w.sandbox.exchanges;
      expect(exchanges.every((e) => e.status === 200 && /^claude-wif\//.test(e.headers['user-agent'] ?? ''))).toBe(true);
      const refreshLines = a.stderr().split('\n').filter((l) => l.startsWith(`claude-wif: agent: "${PROFILE}" refreshed`));
      expect(refreshLines.length).toBe(exchanges.length);
      const span = (calls[calls.length - 1]!.at - exchanges[0]!.at) / 1000;
      expect(exchanges.length).toBeGreaterThanOrEqual(Math.floor(span / 15) - 1);
      expect(exchanges.length).toBeLessThanOrEqual(Math.ceil(span / 15) + 3);

      a.child.kill('SIGTERM');
      const { code, signal } = await a.exited;
      expect({ code, signal }, a.stderr()).toEqual({ code: 0, signal: null });
      expect(a.stderr()).toContain('agent: SIGTERM: stopping');
      // The last token stays for consumers finishing up; the secret died with the agent; no temp files.
      expect(tree(dir)).toEqual(['active_config', `configs/${PROFILE}.json`, `credentials/${PROFILE}.json`]);
      assertNoSecrets(a.stderr(), [...w.secrets(), secret]);
    },
    90_000,
  );
});

describe('agent: health', () => {
  it(
    'ready once the token is written; not ready when it is about to expire while the token endpoint is down; ready again after recovery',
    async () => {
      const { w } = await warpedWorld();
      const dir = join(w.home.home, 'shared');
      w.sandbox.injectFault({ status: 503, count: 1_000_000 });
      const { a, info } = await startAgent(w, ['--dir', dir, '--health', '127.0.0.1:0']);
      await waitUntil(() => a.stderr().includes('no token yet (attempt 1)'), 'a failed first attempt');
      const down = await health(info.health!, '/readyz');
      expect(down.status).toBe(503);
      expect(down.body.sinks[0]).toMatchObject({ name: PROFILE, expires_in: null });
      expect(down.body.sinks[0]!.last_error).toMatch(/503|kept failing|unreachable/);
      expect((await health(info.health!, '/livez')).status).toBe(200);
      expect(tree(dir)).toEqual([]); // no profile without its token

      w.sandbox.clearFaults();
      await waitUntil(() => a.stderr().includes('refreshed (first token'), 'the first token after recovery', 20_000);
      expect((await health(info.health!, '/readyz')).status).toBe(200);

      // The endpoint goes down: refreshes fail, and once the token is inside its last 30 s, not ready.
      w.sandbox.injectFault({ status: 503, count: 1_000_000 });
      const last = await healthUntil(info.health!, '/readyz', 503);
      expect(last.status).toBe(503);
      expect(last.body.sinks[0]!.failures).toBeGreaterThan(0);
      expect(last.body.sinks[0]!.expires_in!).toBeLessThanOrEqual(30);
      expect((await health(info.health!, '/livez')).status).toBe(200);
      expect(a.stderr()).toMatch(/warning: agent: "exec-test": could not refresh/);

      w.sandbox.clearFaults();
      expect((await healthUntil(info.health!, '/readyz', 200)).status).toBe(200);

      a.child.kill('SIGTERM');
      const { code } = await a.exited;
      expect(code, a.stderr()).toBe(0);
      expect(tree(dir)).toEqual(['active_config', `configs/${PROFILE}.json`, `credentials/${PROFILE}.json`]);
      assertNoSecrets(a.stderr(), w.secrets());
    },
    90_000,
  );

  it('refuses bad usage with stable codes: no --dir, the source config dir as --dir, a proxy facing the network', async () => {
    world = await startWorld();
    const w = world;
    const run = async (args: string[]) => {
      const a = spawnBin(['agent', ...args], w.env);
      const r = await a.exited;
      return { ...r, stderr: a.stderr() };
    };
    const noDir = await run([]);
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toContain('agent needs --dir');
    const same = await run(['--dir', w.home.configDir]);
    expect(same.code).toBe(2);
    expect(same.stderr).toContain('would overwrite its own profiles');
    const open = await run(['--dir', join(w.home.home, 'x'), '--proxy', '0.0.0.0:8787']);
    expect(open.code).toBe(2);
    expect(open.stderr).toContain('loopback only');
    const missing = await run(['--dir', join(w.home.home, 'x'), 'nope']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('profile_not_found');
  });
});
