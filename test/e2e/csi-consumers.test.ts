// Who can use the CSI provider's volume, and how (README "At fleet scale"). The driver writes the
// files as root. A pod running as root reads credentials/<profile>.json (0600) directly — the
// first test of csi-provider.test.ts. A non-root pod cannot read that file, and the SDKs refuse
// a credentials file with any group or other bit: it runs its app under `claude-wif exec` (or
// `proxy`), which reads the volume's token.json (0644), re-reads it as the driver rotates it, and
// never exchanges. Played here by a second local user created with `useradd -M` and removed after.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProvider, type Provider } from '../../src/csi/provider.js';
import { defaultSandboxConfig } from '../../src/sandbox/config.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { createLogger } from '../../src/util/log.js';
import { assertNoSecrets, BIN, ROOT } from '../helpers/cli.js';
import { noSecondUser } from '../helpers/local-user.js';
import { attributes, AUDIENCE, k8sRule, kubeletToken, pod, spcParams, writeVolume, type WireFile } from '../helpers/csi.js';
import { cleanEnv } from '../helpers/env.js';
import { FIXTURES } from './exec-helpers.js';

const SKIP_REASON = noSecondUser();

// Time runs K times faster for the consumers, the provider and the sandbox (timewarp.mjs).
const K = 10;
const RULE_LIFETIME = 120; // seconds: the federation rule's token_lifetime_seconds
const SA_LIFETIME = 60; // kubelet's service-account tokens, renewed at 80 % of their life
const MOUNT_EVERY_REAL_MS = 500; // the driver's rotation re-Mount (5 s of warped time)

const SDK_ONCE = `
import Anthropic from '@anthropic-ai/sdk';
try {
  const msg = await new Anthropic({ maxRetries: 0 }).messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
  console.log(JSON.stringify({ ok: msg.type === 'message' }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: String(err && err.message || err).slice(0, 300) }));
}
`;

describe.skipIf(SKIP_REASON !== undefined)(`csi-provider volume consumers${SKIP_REASON ? ` (skipped: ${SKIP_REASON})` : ''}`, () => {
  const user = `cwifcsi${process.pid % 100000}`;
  let uid = 0;
  let gid = 0;
  let dir: string;
  let volume: string;
  let home: string;
  let sandbox: Sandbox;
  let provider: Provider;
  const t0 = Date.now();
  const warpNow = () => Math.floor(t0 + (Date.now() - t0) * K);
  const warp = { NODE_OPTIONS: `--import=${pathToFileURL(join(FIXTURES, 'timewarp.mjs')).href}`, WIF_TIMEWARP_FACTOR: String(K), WIF_TIMEWARP_T0: String(t0) };
  const p = pod('report-writer-0');
  let sa = '';
  let saIssued = 0;
  let stopDriver = false;
  let driver: Promise<void> | undefined;
  const seenTokens = new Set<string>();
  const secrets: string[] = [];
  let mountErrors: string[] = [];

  const mountOnce = async (): Promise<WireFile[]> => {
    if (!sa || warpNow() - saIssued >= 0.8 * SA_LIFETIME * 1000) {
      sa = await kubeletToken(sandbox, p, { lifetimeSeconds: SA_LIFETIME });
      saIssued = warpNow();
      secrets.push(sa);
    }
    const res = await provider.mount({ attributes: attributes(p, spcParams(sandbox), { [AUDIENCE]: sa }), secrets: '{}', target_path: volume, permission: '420', current_object_version: [] });
    if (res.error) {
      mountErrors.push(res.error.code);
      return [];
    }
    const files = res.files.map((f) => ({ path: f.path, mode: f.mode, contents: f.contents }));
    seenTokens.add(files.find((f) => f.path === 'token')!.contents.toString());
    writeVolume(volume, files);
    return files;
  };

  const runAs = (args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve, reject) => {
      const c = spawn(process.execPath, args, { cwd: ROOT, env, uid, gid });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (d) => (stdout += d));
      c.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
      c.on('error', reject);
      c.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });

  beforeAll(async () => {
    execFileSync('useradd', ['-M', '-N', '-s', '/usr/sbin/nologin', user], { stdio: 'ignore' });
    uid = Number(execFileSync('id', ['-u', user]).toString().trim());
    gid = Number(execFileSync('id', ['-g', user]).toString().trim());
    dir = mkdtempSync(join(tmpdir(), 'claude-wif-csi-users-'));
    chmodSync(dir, 0o755); // the pod's user must reach the volume, as in a pod
    volume = join(dir, 'volume');
    home = join(dir, 'home');
    mkdirSync(home, { mode: 0o700 });
    chownSync(home, uid, gid);
    const c = defaultSandboxConfig();
    sandbox = await startSandbox({ config: { rules: [...c.rules, k8sRule({ token_lifetime_seconds: RULE_LIFETIME })] }, now: warpNow });
    provider = createProvider({
      clock: { now: warpNow, sleep: (ms) => new Promise((r) => setTimeout(r, ms / K)) },
      log: createLogger({ write: () => true }, 'quiet'),
      env: {},
      userAgent: 'claude-wif-test',
      rotationIntervalSeconds: 10,
    });
    await mountOnce();
    // The driver's rotation: re-Mount and rewrite the volume, like --enable-secret-rotation.
    driver = (async () => {
      while (!stopDriver) {
        await new Promise((r) => setTimeout(r, MOUNT_EVERY_REAL_MS));
        if (!stopDriver) await mountOnce();
      }
    })();
  });

  afterAll(async () => {
    stopDriver = true;
    await driver;
    await sandbox?.close();
    // userdel refuses while a process of the user is still exiting: wait for that, briefly.
    for (let i = 0; i < 50; i++) {
      try {
        execFileSync('userdel', [user], { stdio: 'pipe' });
        break;
      } catch (err) {
        if (/does not exist/.test(String((err as { stderr?: Buffer }).stderr ?? ''))) break;
        if (i === 49) throw new Error(`could not remove the test user ${user}: ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const userEnv = (extra: Record<string, string> = {}) => cleanEnv(home, { TMPDIR: home, ANTHROPIC_CONFIG_DIR: volume, ...extra });

  it('a non-root app cannot use the SDK files directly: the 0600 credentials file is root\'s', async () => {
    const r = await runAs(['--input-type=module', '-e', SDK_ONCE], userEnv());
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: boolean; error?: string };
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/EACCES|permission denied/i);
  });

  it('`claude-wif token` as the non-root user prints the mounted token, with no exchange', async () => {
    const n = sandbox.exchanges.length;
    const pn = provider.stats().exchanges;
    const r = await runAs([BIN, 'token'], userEnv());
    expect(r.code, r.stderr).toBe(0);
    expect(seenTokens.has(r.stdout.trim())).toBe(true);
    // The driver keeps re-Mounting meanwhile: every exchange since is the provider's.
    expect(sandbox.exchanges.length - n).toBe(provider.stats().exchanges - pn);
  });

  it('`claude-wif exec` as the non-root user keeps an SDK app authenticated across rotations of the volume, and never exchanges', async () => {
    const calls0 = sandbox.apiCalls.length;
    const exchanges0 = sandbox.exchanges.length;
    const providerExchanges0 = provider.stats().exchanges;
    const runFor = 2.2 * RULE_LIFETIME * 1000;
    const r = await runAs([BIN, 'exec', '--', process.execPath, join(FIXTURES, 'sdk-child.mjs')], userEnv({ ...warp, RUN_FOR_MS: String(runFor), CALL_EVERY_MS: '10000' }));
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: number; failed: number };
    expect(result.failed).toBe(0);
    expect(result.ok).toBeGreaterThanOrEqual(10);
    const used = new Set(sandbox.apiCalls.slice(calls0).map((c) => c.token_prefix));
    // More than two rule lifetimes: the app went through at least two rotated tokens.
    expect(used.size).toBeGreaterThanOrEqual(2);
    // Every exchange in that time was the provider's; the pod made none.
    expect(sandbox.exchanges.length - exchanges0).toBe(provider.stats().exchanges - providerExchanges0);
    expect(mountErrors).toEqual([]);
    assertNoSecrets(r.stderr, [...secrets, ...seenTokens]);
  }, 120_000);

  it('`claude-wif exec --mode proxy` as the non-root user: the app holds only a loopback URL and a session secret', async () => {
    const r = await runAs([BIN, 'exec', '--mode', 'proxy', '--', process.execPath, '--input-type=module', '-e', SDK_ONCE], userEnv());
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ ok: true });
  });
});
