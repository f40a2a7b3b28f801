// The hot entries answer from a fresh cache without the full CLI bundle: `token`, `env` and
// `exec --mode sidecar|token` run from a copy of the package whose dist/cli.mjs refuses to run
// (a full-CLI fallback would fail loudly), and give what the full CLI gives: the same child
// environment, exit status, death by signal and error report. A refresh the child outlives its
// token for loads only the core from the full bundle.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import { fakeAnthropicToken } from '../helpers/fixtures.js';
import { sandboxWithProfile, type SandboxSetup } from '../helpers/sandbox.js';

let h: TempHome;
/** A copy of bin/ and dist/ whose full CLI throws when run; its core still loads. */
let pkg: string;
let token: string;
let env: Record<string, string>;

const CHILD_REPORT = `const names = Object.keys(process.env).filter((n) => /^(ANTHROPIC|CLAUDE)_/.test(n)).sort();
const report = Object.fromEntries(names.map((n) => [n, process.env[n]]));
if (process.env.ANTHROPIC_CONFIG_DIR) report.credentials = JSON.parse(require('fs').readFileSync(require('path').join(process.env.ANTHROPIC_CONFIG_DIR, 'credentials', process.env.ANTHROPIC_PROFILE + '.json'), 'utf8')).access_token;
require('fs').writeFileSync(process.argv[1], JSON.stringify(report));`;

function writeProfile(name: string, accessToken: string, expiresIn: number, extra: Record<string, unknown> = {}): void {
  mkdirSync(join(h.configDir, 'configs'), { recursive: true });
  mkdirSync(join(h.configDir, 'credentials'), { recursive: true, mode: 0o700 });
  writeFileSync(join(h.configDir, 'configs', `${name}.json`), JSON.stringify({ version: '1.0', organization_id: '00000000-0000-4000-8000-000000000001', authentication: { type: 'oidc_federation', federation_rule_id: 'fdrl_hot', identity_token: { source: 'file', path: join(h.home, 'jwt') } }, ...extra }));
  writeFileSync(join(h.configDir, 'credentials', `${name}.json`), JSON.stringify({ version: '1.0', type: 'oauth_token', access_token: accessToken, expires_at: Math.floor(Date.now() / 1000) + expiresIn }), { mode: 0o600 });
}

beforeAll(() => {
  h = tempHome();
  pkg = join(h.home, 'pkg');
  cpSync(join(ROOT, 'bin'), join(pkg, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
  writeFileSync(
    join(pkg, 'dist', 'cli.mjs'),
    `export { getAccessToken } from ${JSON.stringify(join(ROOT, 'dist', 'cli.mjs'))};\nexport function run() { throw new Error('the full CLI ran'); }\nexport function processIO() { return {}; }\n`,
  );
  token = fakeAnthropicToken('oat01', 'hot-exec');
  writeProfile('default', token, 3600);
  env = cleanEnv(h.home);
});
afterAll(() => h.cleanup());

const bin = (args: string[], e: Record<string, string> = env) => spawnSync(process.execPath, [join(pkg, 'bin', 'claude-wif'), ...args], { env: e, encoding: 'utf8', cwd: h.home });
const report = (file: string): Record<string, string> => JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;

describe('hot entries without the full CLI', () => {
  it('the stand-in full CLI really is unusable (so every pass below took a hot entry)', () => {
    const r = bin(['status']);
    expect(r.stderr).toContain('the full CLI ran');
    expect(r.status).toBe(1);
  });

  it('token and env', () => {
    expect(bin(['token']).stdout).toBe(`${token}\n`);
    const r = bin(['env', '--format', 'json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ANTHROPIC_AUTH_TOKEN: token });
  });

  it.each(['token', 'sidecar'])('exec --mode %s: the child environment the full CLI gives, and its exit status', async (mode) => {
    const parentEnv = { ...env, ANTHROPIC_API_KEY: fakeAnthropicToken('api03', 'shadow'), KEEP: 'x' };
    const hotOut = join(h.home, `hot-${mode}.json`);
    const r = bin(['exec', '--mode', mode, '--', process.execPath, '-e', `${CHILD_REPORT}; process.exit(3)`, hotOut], parentEnv);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 3, stderr: '' });
    const fullOut = join(h.home, `full-${mode}.json`);
    const full = await runCli(['exec', '--mode', mode, '--', process.execPath, '-e', `${CHILD_REPORT}; process.exit(3)`, fullOut], parentEnv, { cwd: h.home });
    expect({ code: full.code, stderr: full.stderr }).toEqual({ code: 3, stderr: '' });
    const [hot, ref] = [report(hotOut), report(fullOut)];
    if (mode === 'sidecar') {
      // Each run has its own private directory.
      expect(hot['ANTHROPIC_CONFIG_DIR']).not.toBe(ref['ANTHROPIC_CONFIG_DIR']);
      delete hot['ANTHROPIC_CONFIG_DIR'];
      delete ref['ANTHROPIC_CONFIG_DIR'];
      expect(hot['credentials']).toBe(token);
    } else expect(hot['ANTHROPIC_AUTH_TOKEN']).toBe(token);
    expect(hot).toEqual(ref);
    expect(hot['ANTHROPIC_API_KEY']).toBeUndefined();
  });

  it('exec: a child killed by a signal kills the parent with the same signal', () => {
    const r = bin(['exec', '--mode', 'token', '--', 'sh', '-c', 'kill -TERM $$']);
    expect(r.signal).toBe('SIGTERM');
  });

  it('exec: a command that cannot be started is reported as the full CLI reports it (127)', async () => {
    const missing = join(h.home, 'no-such-command');
    const r = bin(['exec', '--mode', 'token', '--', missing]);
    const full = await runCli(['exec', '--mode', 'token', '--', missing], env, { cwd: h.home });
    expect(r.status).toBe(127);
    expect(full.code).toBe(127);
    expect(r.stderr).toBe(full.stderr);
    expect(r.stderr).toContain(`command not found: ${missing}`);
  });

  it('exec: what the fast path does not handle still goes to the full CLI (here: the stand-in)', () => {
    for (const args of [['exec', '--mode', 'proxy', '--', 'true'], ['exec', 'true'], ['--debug', 'exec', '--', 'true']]) {
      expect(bin(args).stderr, args.join(' ')).toContain('the full CLI ran');
    }
    expect(bin(['exec', '--', 'true'], { ...env, CLAUDE_WIF_EXEC_PROFILE: 'outer' }).stderr).toContain('the full CLI ran');
  });
});

describe('hot exec: a refresh loads the core from the full bundle', () => {
  let s: SandboxSetup;
  let home: TempHome;
  beforeAll(async () => {
    home = tempHome();
    s = await sandboxWithProfile(home.configDir);
    s.writeProfile('default');
  });
  afterAll(async () => {
    await s.sandbox.close();
    home.cleanup();
  });

  it('sidecar: a cached token due for replacement is replaced in the child\'s file while it runs', async () => {
    const e = cleanEnv(home.home, { ANTHROPIC_CONFIG_DIR: home.configDir });
    // 50 s left of a token obtained 100 s ago: enough for the first hand-over (≥ 40 s), and due
    // for replacement at once (lifetime 150 s: refresh 90 s before expiry).
    const now = Math.floor(Date.now() / 1000);
    const first = fakeAnthropicToken('oat01', 'due');
    mkdirSync(join(home.configDir, 'credentials'), { recursive: true, mode: 0o700 });
    writeFileSync(join(home.configDir, 'credentials', 'default.json'), JSON.stringify({ version: '1.0', type: 'oauth_token', access_token: first, expires_at: now + 50, claude_wif: { obtained_at: now - 100 } }), { mode: 0o600 });
    // The child waits for the event (its file holding another token), polling; 60 s is its hang guard.
    const out = join(home.home, 'refreshed.json');
    const child = `const fs = require('fs'), p = require('path');
const file = p.join(process.env.ANTHROPIC_CONFIG_DIR, 'credentials', process.env.ANTHROPIC_PROFILE + '.json');
const read = () => JSON.parse(fs.readFileSync(file, 'utf8')).access_token;
const first = read();
const give = setTimeout(() => process.exit(9), 60000);
const t = setInterval(() => { const now = read(); if (now !== first) { clearInterval(t); clearTimeout(give); fs.writeFileSync(process.argv[1], JSON.stringify({ first, now })); } }, 50);`;
    const before = s.sandbox.exchanges.length;
    const p = spawn(process.execPath, [join(pkg, 'bin', 'claude-wif'), 'exec', '--', process.execPath, '-e', child, out], { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => p.on('close', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const r = JSON.parse(readFileSync(out, 'utf8')) as { first: string; now: string };
    expect(r.first).toBe(first);
    expect(r.now).toMatch(/^sk-ant-oat01-/);
    expect(s.sandbox.exchanges.length - before).toBe(1);
    expect(existsSync(out)).toBe(true);
  });
});
