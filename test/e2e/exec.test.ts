import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBubblewrap } from '../../src/run/scrub.js';
import { assertNoSecrets, BIN } from '../helpers/cli.js';
import { fakeAnthropicToken } from '../helpers/fixtures.js';
import { FIXTURES, leftoverSidecars, nodeChild, PROFILE, runToEnd, startWorld, type WifWorld } from './exec-helpers.js';

// `claude-wif exec` end to end: the built binary against the sandbox on 127.0.0.1, temp HOME,
// scrubbed environment. One sandbox for the file; its default 1 h tokens are cached after the
// first run, so most runs here do not exchange.

let w: WifWorld;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(async () => {
  await w?.stop();
});

const lastJson = <T>(stdout: string): T => JSON.parse(stdout.trim().split('\n').pop()!) as T;
const leftovers = (): string[] => leftoverSidecars(w.env);

// Prints which interesting variables the child has (and the non-secret values).
const ENV_PROBE = `
const names = ['ANTHROPIC_API_KEY','ANTHROPIC_AUTH_TOKEN','CLAUDE_CODE_OAUTH_TOKEN','CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR',
  'CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR','ANTHROPIC_FEDERATION_RULE_ID','ANTHROPIC_ORGANIZATION_ID','ANTHROPIC_IDENTITY_TOKEN_FILE',
  'ANTHROPIC_IDENTITY_TOKEN','ANTHROPIC_SCOPE','ANTHROPIC_PROFILE','ANTHROPIC_CONFIG_DIR','ANTHROPIC_BASE_URL','ANTHROPIC_CUSTOM_HEADERS',
  'CLAUDE_WIF_EXEC_PROFILE','CLAUDE_CODE_SUBPROCESS_ENV_SCRUB','CLAUDE_WIF_TOKEN_EXPIRES_AT','KEEP_ME'];
const present = names.filter((n) => n in process.env);
const show = ['ANTHROPIC_PROFILE','ANTHROPIC_CONFIG_DIR','ANTHROPIC_BASE_URL','ANTHROPIC_CUSTOM_HEADERS','CLAUDE_WIF_EXEC_PROFILE','CLAUDE_CODE_SUBPROCESS_ENV_SCRUB','CLAUDE_WIF_TOKEN_EXPIRES_AT','KEEP_ME'];
const values = Object.fromEntries(show.filter((n) => n in process.env).map((n) => [n, process.env[n]]));
const tokenShape = ['ANTHROPIC_AUTH_TOKEN','CLAUDE_CODE_OAUTH_TOKEN'].filter((n) => /^sk-ant-oat01-/.test(process.env[n] ?? ''));
console.log(JSON.stringify({ present, values, tokenShape }));
`;
interface Probe {
  present: string[];
  values: Record<string, string>;
  tokenShape: string[];
}

// Everything that competes with or shadows federation, set in the parent.
const NOISY_PARENT = {
  ANTHROPIC_API_KEY: fakeAnthropicToken('api03', 'parent-api-key'),
  ANTHROPIC_AUTH_TOKEN: fakeAnthropicToken('oat01', 'parent-bearer'),
  CLAUDE_CODE_OAUTH_TOKEN: fakeAnthropicToken('oat01', 'parent-claude'),
  CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR: '3',
  CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR: '4',
  ANTHROPIC_FEDERATION_RULE_ID: 'fdrl_someotherrule',
  ANTHROPIC_ORGANIZATION_ID: '00000000-0000-4000-8000-000000000009',
  ANTHROPIC_IDENTITY_TOKEN_FILE: '/nonexistent/jwt',
  ANTHROPIC_SCOPE: 'workspace:inference',
  ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
  CLAUDE_WIF_TOKEN_EXPIRES_AT: '1',
  KEEP_ME: 'kept',
};

describe('exec: the child environment', () => {
  it('sidecar: removes (not blanks) competing credentials and federation inputs, points at a private profile', async () => {
    const r = await runToEnd(['exec', '--', ...nodeChild(ENV_PROBE)], { ...w.env, ...NOISY_PARENT });
    expect(r.code, r.stderr).toBe(0);
    const p = lastJson<Probe>(r.stdout);
    expect(p.present.sort()).toEqual(['ANTHROPIC_BASE_URL', 'ANTHROPIC_CONFIG_DIR', 'ANTHROPIC_PROFILE', 'CLAUDE_CODE_SUBPROCESS_ENV_SCRUB', 'CLAUDE_WIF_EXEC_PROFILE', 'KEEP_ME']);
    expect(p.values['ANTHROPIC_PROFILE']).toBe(PROFILE);
    expect(p.values['ANTHROPIC_CONFIG_DIR']).not.toBe(w.home.configDir);
    expect(p.values['ANTHROPIC_BASE_URL']).toBe(w.sandbox.url); // the profile's, not the parent's
    expect(p.values['CLAUDE_WIF_EXEC_PROFILE']).toBe(PROFILE);
    // 1 where bubblewrap is on PATH, else 0 (exec-scrub.test.ts covers both, whatever the host has).
    expect(p.values['CLAUDE_CODE_SUBPROCESS_ENV_SCRUB']).toBe(findBubblewrap(w.env).path ? '1' : '0');
    expect(p.values['KEEP_ME']).toBe('kept');
    // No warnings about the shadowing variables: exec removed them.
    expect(r.stderr).toBe('');
  });

  it('token --target sdk: Bearer token + oauth beta header + expiry, nothing else competing', async () => {
    const r = await runToEnd(['exec', '--mode', 'token', '--', ...nodeChild(ENV_PROBE)], { ...w.env, ...NOISY_PARENT, ANTHROPIC_CUSTOM_HEADERS: 'x-team: blue\nanthropic-beta: tools-1' });
    expect(r.code, r.stderr).toBe(0);
    const p = lastJson<Probe>(r.stdout);
    expect(p.present.sort()).toEqual(['ANTHROPIC_AUTH_TOKEN', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_CUSTOM_HEADERS', 'CLAUDE_CODE_SUBPROCESS_ENV_SCRUB', 'CLAUDE_WIF_EXEC_PROFILE', 'CLAUDE_WIF_TOKEN_EXPIRES_AT', 'KEEP_ME']);
    expect(p.tokenShape).toEqual(['ANTHROPIC_AUTH_TOKEN']);
    expect(p.values['ANTHROPIC_CUSTOM_HEADERS']).toBe('x-team: blue\nanthropic-beta: tools-1,oauth-2025-04-20');
    const exp = Number(p.values['CLAUDE_WIF_TOKEN_EXPIRES_AT']);
    // Epoch seconds of the token's expiry (the sandbox's 300 s JWTs cap tokens at 600 s).
    expect(exp).toBeGreaterThan(Date.now() / 1000 + 60);
    expect(exp).toBeLessThanOrEqual(Date.now() / 1000 + 3600);
  });

  it('token: `claude` as the command means CLAUDE_CODE_OAUTH_TOKEN (and --target overrides)', async () => {
    const bin = join(w.home.home, 'fakebin');
    mkdirSync(bin, { recursive: true });
    const claude = join(bin, 'claude');
    writeFileSync(claude, `#!${process.execPath}\n${ENV_PROBE}`, { mode: 0o755 });
    const env = { ...w.env, ...NOISY_PARENT };
    const auto = await runToEnd(['exec', '--mode', 'token', '--', claude], env);
    expect(auto.code, auto.stderr).toBe(0);
    const a = lastJson<Probe>(auto.stdout);
    expect(a.tokenShape).toEqual(['CLAUDE_CODE_OAUTH_TOKEN']);
    expect(a.present).not.toContain('ANTHROPIC_AUTH_TOKEN');
    expect(a.present).not.toContain('ANTHROPIC_API_KEY');
    const forced = await runToEnd(['exec', '--mode', 'token', '--target', 'sdk', '--', claude], env);
    expect(lastJson<Probe>(forced.stdout).tokenShape).toEqual(['ANTHROPIC_AUTH_TOKEN']);
  });

  it('--no-scrub leaves CLAUDE_CODE_SUBPROCESS_ENV_SCRUB as the user has it', async () => {
    const unset = await runToEnd(['exec', '--no-scrub', '--', ...nodeChild(ENV_PROBE)], w.env);
    expect(lastJson<Probe>(unset.stdout).present).not.toContain('CLAUDE_CODE_SUBPROCESS_ENV_SCRUB');
    const kept = await runToEnd(['exec', '--no-scrub', '--', ...nodeChild(ENV_PROBE)], { ...w.env, CLAUDE_CODE_SUBPROCESS_ENV_SCRUB: '0' });
    expect(lastJson<Probe>(kept.stdout).values['CLAUDE_CODE_SUBPROCESS_ENV_SCRUB']).toBe('0');
  });
});

describe('exec: clients authenticate with the federated token', () => {
  const sdkChild = ['--', process.execPath, join(FIXTURES, 'sdk-child.mjs')];
  const lastCalls = (n: number) => w.sandbox.apiCalls.slice(-n);

  it('an SDK child wins over ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN in the parent (sidecar and token modes)', async () => {
    for (const mode of ['sidecar', 'token']) {
      const before = w.sandbox.apiCalls.length;
      const r = await runToEnd(['exec', '--mode', mode, ...sdkChild], { ...w.env, ...NOISY_PARENT, RUN_FOR_MS: '0' });
      expect(r.code, `${mode}: ${r.stderr}${r.stdout}`).toBe(0);
      expect(lastJson<{ ok: number; failed: number }>(r.stdout)).toMatchObject({ ok: 1, failed: 0 });
      const calls = w.sandbox.apiCalls.slice(before);
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({ status: 200, path: expect.stringMatching(/^\/v1\/messages/) });
      expect(calls[0]!.headers['authorization']).toMatch(/^Bearer sk-ant-oat01-/);
      expect(calls[0]!.headers['x-api-key']).toBeUndefined();
      expect(calls[0]!.headers['anthropic-beta']).toContain('oauth-2025-04-20');
    }
  });

  it('token mode: a fetch-based and a real curl child both send Bearer + oauth beta', async () => {
    const f = await runToEnd(['exec', '--mode', 'token', '--', process.execPath, join(FIXTURES, 'fetch-child.mjs')], w.env);
    expect(f.code, f.stderr).toBe(0);
    expect(lastJson(f.stdout)).toEqual({ status: 200 });
    const [fc] = lastCalls(1);
    expect(fc!.headers['authorization']).toMatch(/^Bearer sk-ant-oat01-/);
    expect(fc!.headers['anthropic-beta']).toContain('oauth-2025-04-20');

    // curl as a script would use it, with the token kept out of curl's argv (read from stdin).
    const script = [
      `printf 'header = "Authorization: Bearer %s"\\n' "$ANTHROPIC_AUTH_TOKEN" |`,
      `curl -sS -o /dev/null -w '%{http_code}' -K - -H "$ANTHROPIC_CUSTOM_HEADERS" -H 'anthropic-version: 2023-06-01'`,
      `-H 'content-type: application/json' -d '{"model":"claude-sonnet-4-6","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}'`,
      `"$ANTHROPIC_BASE_URL/v1/messages"`,
    ].join(' ');
    const c = await runToEnd(['exec', '--mode', 'token', '--', '/bin/sh', '-c', script], w.env);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout.trim()).toBe('200');
    const [cc] = lastCalls(1);
    expect(cc!.headers['user-agent']).toMatch(/^curl\//);
    expect(cc!.headers['authorization']).toMatch(/^Bearer sk-ant-oat01-/);
    expect(cc!.headers['anthropic-beta']).toContain('oauth-2025-04-20');
  });
});

describe('exec: argv, exit status, errors', () => {
  it('passes argv after `--` unchanged: spaces, quotes, empty strings, options, globs', async () => {
    const args = ['a b', '', ' ', '"double"', "it's", '--', '-p', 'x', '--profile=y', '$HOME', '*', 'tab\there', 'new\nline', 'ünïcødé', '\\'];
    const r = await runToEnd(['exec', '--', ...nodeChild('console.log(JSON.stringify(process.argv.slice(1)))'), ...args], w.env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(args);
  });

  it.each([0, 1, 2, 42, 255])('exit code %i passes through', async (code) => {
    const r = await runToEnd(['exec', '--', '/bin/sh', '-c', `exit ${code}`], w.env);
    expect({ code: r.code, signal: r.signal }).toEqual({ code, signal: null });
  });

  it('127 for a command that does not exist, 126 for one that cannot be executed', async () => {
    const missing = await runToEnd(['exec', '--', 'no-such-command-claude-wif-test'], w.env);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('command not found: no-such-command-claude-wif-test');
    const plain = join(w.home.home, 'not-executable.sh');
    writeFileSync(plain, '#!/bin/sh\necho hi\n', { mode: 0o644 });
    const noexec = await runToEnd(['exec', '--', plain], w.env);
    expect(noexec.code).toBe(126);
    expect(noexec.stderr).toContain(`cannot execute ${plain}`);
    // The private directory is cleaned up on these paths too.
    expect(leftovers()).toEqual([]);
  });

  it('refuses a command without `--`, and unknown modes, as usage errors', async () => {
    const noDash = await runToEnd(['exec', 'claude', '-p', 'hello'], w.env);
    expect(noDash.code).toBe(2);
    expect(noDash.stderr).toContain('put `--` between');
    const bogus = await runToEnd(['exec', '--mode', 'bogus', '--', 'true'], w.env);
    expect(bogus.code).toBe(2);
  });

  it('no command: runs $SHELL (fallback /bin/sh) with a one-line hint on stderr', async () => {
    const shell = join(w.home.home, 'fake-shell');
    writeFileSync(shell, '#!/bin/sh\necho "shell for $CLAUDE_WIF_EXEC_PROFILE"\nexit 7\n', { mode: 0o755 });
    const r = await runToEnd(['exec'], { ...w.env, SHELL: shell });
    expect(r.code).toBe(7);
    expect(r.stdout.trim()).toBe(`shell for ${PROFILE}`);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`starting ${shell}`);
    const { SHELL: _s, ...noShell } = w.env;
    const sh = await runToEnd(['exec', '--'], noShell); // stdin is /dev/null: sh exits at once
    expect(sh.code).toBe(0);
    expect(sh.stderr).toContain('starting /bin/sh');
  });

  it('credentials come first: a refused exchange exits with the core code and the child never runs', async () => {
    mkdirSync(join(w.home.configDir, 'configs'), { recursive: true });
    const profile = { ...(w.sandbox.profile() as Record<string, unknown>) };
    profile['authentication'] = { ...(profile['authentication'] as object), federation_rule_id: 'fdrl_doesnotexist', identity_token: { source: 'file', path: join(w.home.home, 'identity', 'token.jwt') } };
    writeFileSync(join(w.home.configDir, 'configs', 'denied.json'), JSON.stringify(profile), { mode: 0o600 });
    const marker = join(w.home.home, 'child-ran');
    const r = await runToEnd(['exec', '--', '/bin/sh', '-c', `touch ${marker}`], { ...w.env, ANTHROPIC_PROFILE: 'denied' });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('exchange_denied');
    expect(existsSync(marker)).toBe(false);
  });
});

describe('exec: nesting', () => {
  it('refuses to run inside another claude-wif exec unless --allow-nested', async () => {
    const marker = join(w.home.home, 'nested-ran');
    const inner = [process.execPath, BIN, 'exec', '--', '/bin/sh', '-c', `touch ${marker}`];
    const refused = await runToEnd(['exec', '--', ...inner], w.env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('already running inside `claude-wif exec`');
    expect(refused.stderr).toContain('exec_nested');
    expect(existsSync(marker)).toBe(false);

    const direct = await runToEnd(['exec', '--', 'true'], { ...w.env, CLAUDE_WIF_EXEC_PROFILE: 'outer' });
    expect(direct.code).toBe(2);
    // Allowed when asked for.
    const allowed = await runToEnd(['exec', '--allow-nested', '--', '/bin/sh', '-c', `touch ${marker}`], { ...w.env, CLAUDE_WIF_EXEC_PROFILE: 'outer' });
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(existsSync(marker)).toBe(true);
  });
});

describe('exec: the private directory and secrets', () => {
  const DIR_PROBE = `
import { readdirSync, statSync, readFileSync } from 'node:fs';
const dir = process.env.ANTHROPIC_CONFIG_DIR;
const mode = (p) => (statSync(p).mode & 0o777).toString(8);
const cred = dir + '/credentials/' + process.env.ANTHROPIC_PROFILE + '.json';
const doc = JSON.parse(readFileSync(cred, 'utf8'));
console.log(JSON.stringify({ dir, dirMode: mode(dir), credMode: mode(cred), configMode: mode(dir + '/configs/' + process.env.ANTHROPIC_PROFILE + '.json'),
  config: JSON.parse(readFileSync(dir + '/configs/' + process.env.ANTHROPIC_PROFILE + '.json', 'utf8')),
  credKeys: Object.keys(doc).sort(), expiresIn: doc.expires_at - Math.floor(Date.now() / 1000) }));
`;
  interface DirProbe {
    dir: string;
    dirMode: string;
    credMode: string;
    configMode: string;
    config: unknown;
    credKeys: string[];
    expiresIn: number;
  }

  it('is private while the child runs and gone after a normal exit', async () => {
    const r = await runToEnd(['exec', '--', ...nodeChild(DIR_PROBE)], w.env);
    expect(r.code, r.stderr).toBe(0);
    const p = lastJson<DirProbe>(r.stdout);
    expect(p).toMatchObject({ dirMode: '700', credMode: '600', configMode: '600', config: { version: '1.0', authentication: { type: 'user_oauth' } } });
    expect(p.credKeys).toEqual(['access_token', 'expires_at', 'scope', 'type', 'version']);
    expect(p.expiresIn).toBeGreaterThan(60);
    expect(existsSync(p.dir)).toBe(false);
  });

  it('is gone after the child crashes (killed by a signal)', async () => {
    const crash = `${DIR_PROBE}\nprocess.kill(process.pid, 'SIGKILL');`;
    const r = await runToEnd(['exec', '--', ...nodeChild(crash)], w.env);
    // The parent ends the way the child did: killed by SIGKILL (a shell shows 137).
    expect(r.signal === 'SIGKILL' || r.code === 137).toBe(true);
    expect(existsSync(lastJson<DirProbe>(r.stdout).dir)).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('never puts a token in the child\'s or the parent\'s argv, nor on the parent\'s stderr (even with --debug)', async () => {
    const ARGV_PROBE = `
import { readFileSync } from 'node:fs';
const cmdline = (p) => readFileSync('/proc/' + p + '/cmdline', 'utf8').split('\\0').filter(Boolean);
console.log(JSON.stringify({ self: cmdline('self'), parent: cmdline(process.ppid) }));
`;
    for (const mode of ['sidecar', 'token']) {
      const r = await runToEnd(['--debug', 'exec', '--mode', mode, '--', ...nodeChild(ARGV_PROBE)], w.env);
      expect(r.code, r.stderr).toBe(0);
      const { self, parent } = lastJson<{ self: string[]; parent: string[] }>(r.stdout);
      expect(parent).toContain('exec');
      expect(self[0]).toBe(process.execPath);
      const secrets = w.secrets();
      expect(secrets.length).toBeGreaterThan(0);
      assertNoSecrets(JSON.stringify({ self, parent }), secrets);
      assertNoSecrets(r.stderr, secrets);
      expect(r.stderr).toContain('child environment: set');
    }
  });
});

describe('exec: state after the runs', () => {
  it('left no private directory behind', () => {
    expect(leftovers()).toEqual([]);
    // The sidecar never wrote into the user's own config directory.
    expect(readdirSync(join(w.home.configDir, 'configs')).sort()).toEqual(['denied.json', `${PROFILE}.json`]);
  });
});
