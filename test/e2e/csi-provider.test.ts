// claude-wif csi-provider, with the tests playing the Secrets Store CSI driver: a gRPC client
// built from the proto over a real unix socket, service-account tokens in kubelet's shape from
// the sandbox issuer, the driver's attributes and its `..data` volume layout.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createProvider, type Provider } from '../../src/csi/provider.js';
import { startCsiServer, type CsiServer } from '../../src/csi/server.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { defaultSandboxConfig } from '../../src/sandbox/config.js';
import { createLogger } from '../../src/util/log.js';
import { assertNoSecrets, BIN, fakeClock, ROOT } from '../helpers/cli.js';
import { attributes, AUDIENCE, driverClient, k8sRule, kubeletToken, pod, spcParams, writeVolume, type DriverClient, type WireMountResponse } from '../helpers/csi.js';
import { cleanEnv } from '../helpers/env.js';

const SDK_CHILD = `
import Anthropic from '@anthropic-ai/sdk';
const client = new Anthropic({ maxRetries: 0 });
try {
  const msg = await client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
  console.log(JSON.stringify({ ok: true, text: msg.content[0].text }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: String(err && err.message || err) }));
}
`;

function runNode(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, args, { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const fileOf = (r: WireMountResponse, path: string) => r.files.find((f) => f.path === path);
const text = (r: WireMountResponse, path: string) => fileOf(r, path)?.contents.toString('utf8') ?? '';

async function callApi(sandbox: Sandbox, token: string): Promise<number> {
  const res = await fetch(`${sandbox.url}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'oauth-2025-04-20', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

const sandboxConfig = (rule = k8sRule()) => {
  const c = defaultSandboxConfig();
  return { rules: [...c.rules, rule] };
};

describe('csi-provider: the built binary on a unix socket', () => {
  let sandbox: Sandbox;
  let dir: string;
  let child: ChildProcess | undefined;
  let stderr = '';
  let client: DriverClient | undefined;
  beforeAll(async () => {
    sandbox = await startSandbox({ config: sandboxConfig() });
    dir = mkdtempSync(join(tmpdir(), 'claude-wif-csi-'));
  });
  afterAll(async () => {
    client?.close();
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers Version and a Mount whose files @anthropic-ai/sdk uses to call the API; SIGTERM removes the socket', async () => {
    const socket = join(dir, 'providers', 'claude-wif.sock');
    child = spawn(process.execPath, [BIN, 'csi-provider', '--socket', socket], { env: cleanEnv(dir), stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child!.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      child!.once('exit', (code) => reject(new Error(`provider exited ${code}: ${stderr}`)));
    });
    expect(JSON.parse(line)).toMatchObject({ socket, provider: 'claude-wif', rotation_interval: 180, pid: child.pid });
    expect(statSync(socket).isSocket()).toBe(true);
    expect(statSync(socket).mode & 0o777).toBe(0o600);

    client = await driverClient(socket);
    const v = await client.version();
    expect(v.version).toBe('v1alpha1');
    expect(v.runtime_name).toBe('claude-wif');
    expect(v.runtime_version).toMatch(/^\d+\.\d+\.\d+/);

    const p = pod('model-client-7d9f');
    const sa = await kubeletToken(sandbox, p);
    const res = await client.mount({ attributes: attributes(p, spcParams(sandbox), { [AUDIENCE]: sa }) });
    expect(res.error).toBeNull();
    expect(res.object_version).toHaveLength(1);
    expect(res.object_version[0]!.id).toBe('claude-wif/token');
    expect(res.files.map((f) => [f.path, f.mode.toString(8)]).sort()).toEqual([
      ['active_config', '644'],
      ['configs/default.json', '644'],
      ['credentials/default.json', '600'],
      ['token', '644'],
      ['token.json', '644'],
    ]);
    const token = text(res, 'token');
    expect(token).toMatch(/^sk-ant-oat01-/);
    expect(JSON.parse(text(res, 'credentials/default.json'))).toMatchObject({ version: '1.0', type: 'oauth_token', access_token: token });
    expect(JSON.parse(text(res, 'configs/default.json'))).toEqual({ version: '1.0', base_url: sandbox.url, authentication: { type: 'user_oauth' }, claude_wif: { mounted_credentials: 'token.json' } });
    expect(text(res, 'active_config')).toBe('default\n');
    const exchange = sandbox.exchanges.at(-1)!;
    expect(exchange.status).toBe(200);
    expect(exchange.body).toMatchObject({ federation_rule_id: 'fdrl_k8sapps', workspace_id: 'default', service_account_id: 'svac_sandbox' });

    // The driver writes the files (as root here, like the driver); an unmodified SDK app reads them.
    const volume = join(dir, 'pod-volume');
    writeVolume(volume, res.files);
    const calls = sandbox.apiCalls.length;
    const sdk = await runNode(['--input-type=module', '-e', SDK_CHILD], cleanEnv(dir, { ANTHROPIC_CONFIG_DIR: volume }));
    expect(JSON.parse(sdk.stdout.trim().split('\n').pop()!)).toMatchObject({ ok: true });
    expect(sandbox.apiCalls.length).toBe(calls + 1);
    expect(sandbox.apiCalls.at(-1)!.status).toBe(200);

    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child!.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(existsSync(socket)).toBe(false);
    assertNoSecrets(stderr, [sa, token]);
    expect(stderr).toMatch(/new token/);
  });
});

describe('csi-provider: Mount behaviour (in-process server, injected clock)', () => {
  const clock = fakeClock(Date.UTC(2026, 11, 2, 9, 0, 0));
  let sandbox: Sandbox;
  let dir: string;
  let server: CsiServer;
  let provider: Provider;
  let client: DriverClient;
  let log = '';
  const start = async (rotationIntervalSeconds = 180) => {
    provider = createProvider({ clock, log: createLogger({ write: (s: string) => (log += s) }, 'info'), env: {}, userAgent: 'claude-wif-test', rotationIntervalSeconds });
    server = await startCsiServer({ socket: join(dir, `p${Math.random().toString(36).slice(2)}.sock`), provider, log: createLogger({ write: () => true }, 'quiet') });
    client = await driverClient(server.socket);
  };
  beforeAll(async () => {
    sandbox = await startSandbox({ config: sandboxConfig(k8sRule({ token_lifetime_seconds: 3600 })), now: () => clock.now() });
    dir = mkdtempSync(join(tmpdir(), 'claude-wif-csi-'));
  });
  afterEach(async () => {
    client?.close();
    await server?.close(100);
  });
  afterAll(async () => {
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('re-Mounts inside the fresh window reuse the token; concurrent Mounts of one pod make one exchange', async () => {
    await start();
    const p = pod('web-0');
    const sa = await kubeletToken(sandbox, p);
    const attrs = attributes(p, spcParams(sandbox), { [AUDIENCE]: sa });
    const n0 = sandbox.exchanges.length;
    const first = await Promise.all(Array.from({ length: 10 }, () => client.mount({ attributes: attrs })));
    expect(sandbox.exchanges.length - n0).toBe(1);
    expect(new Set(first.map((r) => text(r, 'token'))).size).toBe(1);
    clock.advance(10 * 60_000);
    const again = await client.mount({ attributes: attrs, current_object_version: first[0]!.object_version });
    expect(sandbox.exchanges.length - n0).toBe(1);
    expect(again.object_version).toEqual(first[0]!.object_version);
    expect(text(again, 'token')).toBe(text(first[0]!, 'token'));
    expect(provider.stats()).toMatchObject({ exchanges: 1, cached: 1, inflight: 0, failures: 0 });
    // Another pod of the same service account never gets this pod's token.
    const other = pod('web-1');
    const r = await client.mount({ attributes: attributes(other, spcParams(sandbox), { [AUDIENCE]: await kubeletToken(sandbox, other) }) });
    expect(text(r, 'token')).not.toBe(text(first[0]!, 'token'));
    expect(sandbox.exchanges.length - n0).toBe(2);
  });

  it('rotation over three token lifetimes by re-Mount: the volume always holds a token the API accepts, replaced before its last minutes', async () => {
    // A 10-minute rule; kubelet's service-account tokens live 10 minutes and are renewed at 80 %.
    sandbox.config.rules.find((r) => r.id === 'fdrl_k8sapps')!.token_lifetime_seconds = 600;
    await start(120);
    const p = pod('batch-0');
    let sa = await kubeletToken(sandbox, p, { lifetimeSeconds: 600 });
    let saIssued = clock.now();
    const n0 = sandbox.exchanges.length;
    const versions: string[] = [];
    const tokens: string[] = [];
    let current: WireMountResponse | undefined;
    const t0 = clock.now();
    // The driver re-Mounts every 60 s (rotation poll); 3 lifetimes = 30 min.
    for (let step = 0; clock.now() - t0 <= 3 * 600_000; step++) {
      if (clock.now() - saIssued >= 0.8 * 600_000) {
        sa = await kubeletToken(sandbox, p, { lifetimeSeconds: 600 });
        saIssued = clock.now();
      }
      const res = await client.mount({ attributes: attributes(p, spcParams(sandbox), { [AUDIENCE]: sa }), current_object_version: current?.object_version ?? [] });
      expect(res.error, `step ${step}`).toBeNull();
      const tok = text(res, 'token');
      const doc = JSON.parse(text(res, 'token.json')) as { expires_at: number };
      // The next Mount is 60 s away and consumers re-read in the last 30 s: more than 90 s must remain.
      expect(doc.expires_at - clock.now() / 1000, `step ${step}`).toBeGreaterThan(90);
      expect(await callApi(sandbox, tok), `step ${step}`).toBe(200);
      if (tokens.at(-1) !== tok) {
        tokens.push(tok);
        versions.push(res.object_version[0]!.version);
      } else {
        expect(res.object_version).toEqual(current!.object_version);
      }
      current = res;
      clock.advance(60_000);
    }
    // ≥ 3 lifetimes need ≥ 4 tokens; reuse keeps it to one exchange per kubelet token renewal or refresh point.
    expect(tokens.length).toBeGreaterThanOrEqual(4);
    expect(new Set(versions).size).toBe(versions.length);
    expect(sandbox.exchanges.length - n0).toBe(tokens.length);
    expect(sandbox.exchanges.slice(n0).every((e) => e.status === 200)).toBe(true);
    sandbox.config.rules.find((r) => r.id === 'fdrl_k8sapps')!.token_lifetime_seconds = 3600;
  });

  it('100 pods mounting at once with distinct service-account tokens: all succeed, 100 exchanges, 100 distinct tokens', async () => {
    await start();
    const pods = Array.from({ length: 100 }, (_, i) => pod(`worker-${i}`));
    const sas = await Promise.all(pods.map((p) => kubeletToken(sandbox, p)));
    const n0 = sandbox.exchanges.length;
    const res = await Promise.all(pods.map((p, i) => client.mount({ attributes: attributes(p, spcParams(sandbox), { [AUDIENCE]: sas[i]! }) })));
    expect(res.filter((r) => r.error).map((r) => r.error)).toEqual([]);
    expect(sandbox.exchanges.length - n0).toBe(100);
    expect(new Set(res.map((r) => text(r, 'token'))).size).toBe(100);
    expect(provider.stats()).toMatchObject({ mounts: 100, exchanges: 100, cached: 100 });
    assertNoSecrets(log, [...sas, ...res.map((r) => text(r, 'token'))]);
  });
});
