// The opt-in OS keyring: tokens go to the keyring instead of the credentials file; any keyring
// failure degrades to the file cache, says so once on stderr and in `status`, and never fails the
// command. Tested with an in-memory backend, and with the real Linux kernel keyring (keyutils)
// inside a private session keyring when this machine has `keyctl`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BIN, assertNoSecrets, runBin, runCli } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import { sharedSandbox, type SandboxSetup } from '../helpers/sandbox.js';
import { missingTool } from '../helpers/tty.js';
import { memoryKeyring, setKeyringBackend, KEYRING_SERVICE, type KeyringBackend } from '../../src/cache/keyring-store.js';

let s: SandboxSetup;
sharedSandbox((setup) => (s = setup));

let h: TempHome;
let env: Record<string, string>;
let idFile: string;
const credFile = () => join(h.configDir, 'credentials', 'default.json');
beforeEach(async () => {
  h = tempHome();
  env = cleanEnv(h.home);
  idFile = join(h.home, 'id.jwt');
  writeFileSync(idFile, await s.sandbox.mint(), { mode: 0o600 });
  mkdirSync(join(h.configDir, 'configs'), { recursive: true });
  writeFileSync(join(h.configDir, 'configs', 'default.json'), JSON.stringify({ ...s.sandbox.profile({ identityTokenPath: idFile }), claude_wif: { cache: 'keyring' } }));
  return () => h.cleanup();
});
afterEach(() => setKeyringBackend(undefined));

describe('keyring cache (in-memory backend)', () => {
  it('keeps the token in the keyring, not in the credentials file, and serves it from there', async () => {
    const kr = memoryKeyring();
    setKeyringBackend(kr);
    const n0 = s.sandbox.exchanges.length;
    const a = await runCli(['token'], env);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toBe('');
    expect(existsSync(credFile())).toBe(false);
    const entry = kr.entries.get(credFile());
    expect(entry).toBeDefined();
    expect(JSON.parse(entry!)).toMatchObject({ version: '1.0', type: 'oauth_token', access_token: a.stdout.trim() });
    const b = await runCli(['token'], env);
    expect(b.stdout).toBe(a.stdout);
    expect(s.sandbox.exchanges.length - n0).toBe(1);

    const st = JSON.parse((await runCli(['status', '--json'], env)).stdout);
    expect(st.cache).toMatchObject({ backend: 'keyring', backend_origin: expect.stringContaining('claude_wif.cache'), state: 'fresh', location: `keyring ${KEYRING_SERVICE}/${credFile()} (memory)` });
    const list = JSON.parse((await runCli(['cache', 'list', '--json'], env)).stdout);
    expect(list.tokens).toEqual([expect.objectContaining({ profile: 'default', backend: 'keyring', state: 'fresh' })]);
    const cleared = JSON.parse((await runCli(['cache', 'clear', '--json'], env)).stdout);
    expect(cleared.removed).toEqual([`keyring ${KEYRING_SERVICE}/${credFile()} (memory)`]);
    expect(kr.entries.size).toBe(0);
  });

  it('--cache keyring and CLAUDE_WIF_CACHE=keyring select it too; --cache file overrides the profile', async () => {
    writeFileSync(join(h.configDir, 'configs', 'default.json'), JSON.stringify(s.sandbox.profile({ identityTokenPath: idFile })));
    const kr = memoryKeyring();
    setKeyringBackend(kr);
    expect((await runCli(['--cache', 'keyring', 'token'], env)).code).toBe(0);
    expect(kr.entries.size).toBe(1);
    const viaEnv = JSON.parse((await runCli(['status', '--json'], { ...env, CLAUDE_WIF_CACHE: 'keyring' })).stdout);
    expect(viaEnv.cache).toMatchObject({ backend: 'keyring', backend_origin: 'env CLAUDE_WIF_CACHE' });
    const bad = await runCli(['--cache', 'vault', 'status'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/cache backend "vault" \(from flag --cache\) is not one of file, keyring/);
  });

  it('a failing keyring degrades to the file cache, says so once, and the command succeeds', async () => {
    const failing: KeyringBackend = {
      name: 'broken',
      get: () => {
        throw new Error('Platform secure storage failure: no session keyring');
      },
      set: () => {
        throw new Error('Platform secure storage failure: no session keyring');
      },
      delete: () => false,
    };
    setKeyringBackend(failing);
    const r = await runCli(['token'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sk-ant-oat01-/);
    const warnings = r.stderr.split('\n').filter((l) => l.includes('keyring'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/warning: the OS keyring is configured but unavailable: the broken keyring failed: .*no session keyring; using the file cache .*default\.json instead/);
    expect(existsSync(credFile())).toBe(true);
    assertNoSecrets(r.stderr, [r.stdout.trim()]);
    const st = await runCli(['status'], env);
    expect(st.stdout).toMatch(/Cache backend +keyring unavailable \(the broken keyring failed/);
    const stJson = JSON.parse((await runCli(['status', '--json'], env)).stdout);
    expect(stJson.cache.degraded).toMatch(/no session keyring/);
    const doc = JSON.parse((await runCli(['doctor', '--json', '--offline'], env, { cwd: h.home })).stdout);
    expect(doc.checks.find((c: { id: string }) => c.id === 'cache')).toMatchObject({ status: 'warn', detail: expect.stringContaining('keyring is configured') });
  });

  it('a keyring that accepts reads but refuses the write (blob too large) falls back on write', async () => {
    const kr = memoryKeyring();
    let probed = false;
    setKeyringBackend({
      ...kr,
      set: (a, v) => {
        if (!probed) {
          probed = true;
          return kr.set(a, v);
        }
        throw new Error('The stored value is too large (Windows 2.5 KB limit)');
      },
    });
    const r = await runCli(['token'], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/writing to the memory keyring failed: The stored value is too large/);
    expect(existsSync(credFile())).toBe(true);
  });
});

describe('keyring cache (real native module)', () => {
  it('an unavailable store (Secret Service without a D-Bus session) degrades, end to end through the binary', async () => {
    const r = await runBin(['token'], { ...env, CLAUDE_WIF_KEYRING_STORE: 'secret-service' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sk-ant-oat01-/);
    expect(r.stderr.match(/warning: the OS keyring is configured but unavailable/g)).toHaveLength(1);
    expect(existsSync(credFile())).toBe(true);
    assertNoSecrets(r.stderr, [r.stdout.trim(), readFileSync(idFile, 'utf8')]);
  });

  const noKeyctl = missingTool('keyctl', 'Debian keyutils: needed to run the test in a private session keyring') ?? kernelKeyringMissing();
  it.skipIf(noKeyctl)(`the Linux kernel keyring (keyutils) stores, serves and clears the token${noKeyctl ? ` — skipped: ${noKeyctl}` : ''}`, async () => {
    // One private session keyring for the whole sequence (`keyctl session -`), so nothing touches
    // the user's own session keyring.
    const script = `
set -e
node ${BIN} token > "$HOME/t1"
node ${BIN} token > "$HOME/t2"
node ${BIN} cache list --json > "$HOME/list.json"
keyctl search @s user "keyring:${credFile()}@${KEYRING_SERVICE}" > /dev/null && echo in-session-keyring
node ${BIN} cache clear --json > "$HOME/clear.json"
keyctl search @s user "keyring:${credFile()}@${KEYRING_SERVICE}" > /dev/null 2>&1 || echo gone
`;
    const n0 = s.sandbox.exchanges.length;
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const c = spawn('keyctl', ['session', '-', 'bash', '-c', script], { env: { ...env, CLAUDE_WIF_KEYRING_STORE: 'keyutils' } });
      let out = '';
      let err = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (err += d));
      c.on('close', (code) => resolve({ code, out, err }));
    });
    expect(r.code, r.err).toBe(0);
    expect(r.err.replace(/Joined session keyring: \d+\n?/, '')).toBe('');
    const t1 = readFileSync(join(h.home, 't1'), 'utf8');
    expect(t1).toMatch(/^sk-ant-oat01-/);
    expect(readFileSync(join(h.home, 't2'), 'utf8')).toBe(t1);
    expect(s.sandbox.exchanges.length - n0).toBe(1);
    expect(existsSync(credFile())).toBe(false);
    expect(r.out).toContain('in-session-keyring');
    expect(r.out).toContain('gone');
    const list = JSON.parse(readFileSync(join(h.home, 'list.json'), 'utf8'));
    expect(list.tokens[0]).toMatchObject({ backend: 'keyring', state: 'fresh', location: expect.stringContaining('(keyutils)') });
    expect(JSON.parse(readFileSync(join(h.home, 'clear.json'), 'utf8')).removed).toHaveLength(1);
  });
});

function kernelKeyringMissing(): string | undefined {
  const r = spawnSync('keyctl', ['session', '-', 'keyctl', 'show', '@s'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `no usable kernel keyring here (keyctl: ${(r.stderr || r.stdout).trim().split('\n')[0]})`;
}

describe('hot path', () => {
  it('the hot-path bundle contains no keyring, doctor, prompt or completion code', () => {
    const hot = readFileSync(join(BIN, '..', '..', 'dist', 'claude-wif.cjs'), 'utf8');
    for (const marker of ['@napi-rs/keyring', 'keyring-store', 'Claude Code settings', 'Register-ArgumentCompleter', 'configure was cancelled']) {
      expect(hot, marker).not.toContain(marker);
    }
  });
});
