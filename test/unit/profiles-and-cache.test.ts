// profiles list/show/use and cache list/clear in-process, and the small pieces
// behind them (profile building, diff, tables, the status line).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeClock, runCli } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import { sharedSandbox, type SandboxSetup } from '../helpers/sandbox.js';
import { buildProfile, currentIdentity, validateForWrite } from '../../src/config/write-profile.js';
import { lineDiff } from '../../src/util/diff.js';
import { table, visibleWidth } from '../../src/cli/table.js';
import { withStatus, type Status } from '../../src/cli/spinner.js';
import { allSourceFlags, optionsFor, sourceNames, SOURCE_OPTIONS } from '../../src/config/source-options.js';
import { recordingProcess, type IO } from '../../src/cli/io.js';
import { systemClock } from '../../src/util/clock.js';
import { fakeAnthropicToken } from '../helpers/fixtures.js';

const ORG = '00000000-0000-4000-8000-000000000001';

let s: SandboxSetup;
sharedSandbox((setup) => (s = setup));

let h: TempHome;
let env: Record<string, string>;
beforeEach(() => {
  h = tempHome();
  env = cleanEnv(h.home);
  return () => h.cleanup();
});

function profile(name: string, doc: unknown): void {
  mkdirSync(join(h.configDir, 'configs'), { recursive: true });
  writeFileSync(join(h.configDir, 'configs', `${name}.json`), typeof doc === 'string' ? doc : JSON.stringify(doc));
}

const fed = (rule: string, extra: Record<string, unknown> = {}) => ({
  version: '1.0',
  organization_id: ORG,
  authentication: { type: 'oidc_federation', federation_rule_id: rule, identity_token: { source: 'file', path: '/var/run/t' } },
  ...extra,
});

describe('profiles', () => {
  it('list: aligned table with the active one marked and where "active" came from; --json; broken profiles shown', async () => {
    profile('alpha', fed('fdrl_alpha'));
    profile('beta', fed('fdrl_b', { claude_wif: { identity: { source: 'env' }, cache: 'keyring' } }));
    profile('broken', '{ nope');
    writeFileSync(join(h.configDir, 'active_config'), 'beta\n');
    const r = await runCli(['profiles', 'list'], env);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^ {3}PROFILE {2}TYPE +RULE +IDENTITY$/);
    expect(lines[1]).toMatch(/^ {3}alpha {4}oidc_federation {2}fdrl_alpha {2}file$/);
    expect(lines[2]).toMatch(/^\* {2}beta {5}oidc_federation {2}fdrl_b {6}env \(keyring cache\)$/);
    expect(lines[3]).toMatch(/^ {3}broken {3}invalid/);
    expect(r.stdout).toMatch(/active: beta \(file .*active_config\)/);
    // Every column starts at the same offset on every row.
    const col = lines[0]!.indexOf('TYPE');
    for (const l of lines.slice(1, 4)) expect(l[col - 1]).toBe(' ');

    const j = JSON.parse((await runCli(['profiles', 'list', '--json'], env)).stdout);
    expect(j.active).toEqual({ name: 'beta', origin: expect.stringContaining('active_config'), shadowed_by: null });
    expect(j.profiles.map((p: { name: string; active: boolean; valid: boolean }) => [p.name, p.active, p.valid])).toEqual([
      ['alpha', false, true],
      ['beta', true, true],
      ['broken', false, false],
    ]);
    expect(j.profiles[1]).toMatchObject({ federation_rule_id: 'fdrl_b', identity_source: 'env', cache: 'keyring' });
    expect(j.profiles[2].error.code).toBe('config_invalid');

    // ANTHROPIC_PROFILE wins, and the federation env vars shadow the implicit profile.
    const named = JSON.parse((await runCli(['profiles', 'list', '--json'], { ...env, ANTHROPIC_PROFILE: 'alpha' })).stdout);
    expect(named.active).toMatchObject({ name: 'alpha', origin: 'env ANTHROPIC_PROFILE' });
    const shadow = await runCli(['profiles', 'list'], { ...env, ANTHROPIC_FEDERATION_RULE_ID: 'fdrl_env', ANTHROPIC_ORGANIZATION_ID: ORG, ANTHROPIC_IDENTITY_TOKEN_FILE: '/x' });
    expect(shadow.stdout).not.toMatch(/^\*/m);
    expect(shadow.stdout).toMatch(/note: the federation environment variables .* win over the implicit profile/);
  });

  it('list with no profiles says how to make one', async () => {
    const r = await runCli(['profiles', 'list'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^no profiles in /);
    expect(r.stderr).toMatch(/claude-wif configure/);
  });

  it('show: fields, what it resolves to, --json with the raw file (profiles hold no secrets)', async () => {
    profile('alpha', fed('fdrl_alpha', { team: 'x' }));
    const r = await runCli(['profiles', 'show', 'alpha'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Federation rule +fdrl_alpha$/m);
    expect(r.stdout).toMatch(/^Identity source +file path=\/var\/run\/t +\(profile .*authentication\.identity_token\)\)$/m);
    expect(r.stdout).toMatch(/^Token cache +.*credentials\/alpha\.json/m);
    const j = JSON.parse((await runCli(['profiles', 'show', 'alpha', '--json'], env)).stdout);
    expect(j).toMatchObject({ name: 'alpha', active: false, federation_rule_id: 'fdrl_alpha', file: { team: 'x' }, resolved: { identity_source: { value: 'file' } } });
    const missing = await runCli(['profiles', 'show', 'nope'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/profile_not_found/);
  });

  it('use: writes active_config; refuses a missing or invalid profile; warns when ANTHROPIC_PROFILE overrides it', async () => {
    profile('alpha', fed('fdrl_alpha'));
    profile('bad', { authentication: { type: 'weird' } });
    const r = await runCli(['profiles', 'use', 'alpha'], env);
    expect(r.code).toBe(0);
    expect(readFileSync(join(h.configDir, 'active_config'), 'utf8')).toBe('alpha\n');
    expect((await runCli(['profiles', 'use', 'nope'], env)).code).toBe(2);
    const bad = await runCli(['profiles', 'use', 'bad'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a known type/);
    expect(readFileSync(join(h.configDir, 'active_config'), 'utf8')).toBe('alpha\n');
    expect((await runCli(['profiles', 'use', '../etc'], env)).code).toBe(2);
    const over = await runCli(['profiles', 'use', 'alpha'], { ...env, ANTHROPIC_PROFILE: 'other' });
    expect(over.stderr).toMatch(/env ANTHROPIC_PROFILE still selects "other"/);
  });
});

describe('cache list / clear', () => {
  it('lists tokens per profile and env-only, the ledger and the locks; clears one profile or everything', async () => {
    const idFile = join(h.home, 'id.jwt');
    writeFileSync(idFile, await s.sandbox.mint(), { mode: 0o600 });
    profile('default', s.sandbox.profile({ identityTokenPath: idFile }));
    profile('other', s.sandbox.profile({ identityTokenPath: idFile }));
    expect((await runCli(['token'], env)).code).toBe(0);
    // An env-only token in claude-wif's own cache.
    writeFileSync(idFile, await s.sandbox.mint(), { mode: 0o600 });
    const envOnly = { ...env, ANTHROPIC_FEDERATION_RULE_ID: 'fdrl_sandbox', ANTHROPIC_ORGANIZATION_ID: ORG, ANTHROPIC_IDENTITY_TOKEN_FILE: idFile, ANTHROPIC_BASE_URL: s.sandbox.url };
    expect((await runCli(['token'], envOnly)).code).toBe(0);
    // A lock left by a dead process.
    mkdirSync(join(h.cacheDir, 'locks'), { recursive: true });
    writeFileSync(join(h.cacheDir, 'locks', 'dead.lock'), JSON.stringify({ pid: 999_999_99, host: 'elsewhere', nonce: 'x', at: Date.now() - 60_000 }));

    const r = await runCli(['cache', 'list'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^PROFILE +BACKEND +TOKEN +WHERE$/m);
    expect(r.stdout).toMatch(/^default +file +valid, \d+m left +.*credentials\/default\.json$/m);
    expect(r.stdout).toMatch(/^other +file +none +.*credentials\/other\.json$/m);
    expect(r.stdout).toMatch(/^\(env\) +file +valid, .*tokens\/[0-9a-f]+\.json$/m);
    expect(r.stdout).toMatch(/^ledger +2 used assertion id\(s\) in 1 issuer dir\(s\)/m);
    expect(r.stdout).toMatch(/^locks +1 lock file\(s\), 1 not held by a live process/m);
    const j = JSON.parse((await runCli(['cache', 'list', '--json'], env)).stdout);
    expect(j.tokens).toHaveLength(3);
    expect(j.ledger.entries).toBe(2);
    expect(j.locks[0]).toMatchObject({ held: false, pid: 99999999 });
    expect(JSON.stringify(j)).not.toMatch(/sk-ant-oat01-/);

    // clear: the selected profile only.
    const one = await runCli(['--profile', 'default', 'cache', 'clear'], env);
    expect(one.stdout).toBe(`removed ${join(h.configDir, 'credentials', 'default.json')}\n`);
    expect(existsSync(join(h.cacheDir, 'ledger'))).toBe(true);
    const none = await runCli(['cache', 'clear'], env);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/nothing to remove/);
    // --all: env-only tokens, the ledger, the dead lock.
    const all = JSON.parse((await runCli(['cache', 'clear', '--all', '--json'], env)).stdout);
    expect(all.removed).toEqual(expect.arrayContaining([join(h.cacheDir, 'ledger'), join(h.cacheDir, 'locks', 'dead.lock')]));
    expect(all.removed.some((p: string) => p.includes('/tokens/'))).toBe(true);
    expect(JSON.parse((await runCli(['cache', 'list', '--json'], env)).stdout)).toMatchObject({ ledger: { entries: 0 }, locks: [] });
  });

  it('reports an unsafe cache file instead of reading it', async () => {
    profile('default', fed('fdrl_x'));
    mkdirSync(join(h.configDir, 'credentials'), { recursive: true });
    const f = join(h.configDir, 'credentials', 'default.json');
    writeFileSync(f, JSON.stringify({ access_token: fakeAnthropicToken('oat01', 'unsafe-unsafe-unsafe-unsafe'), expires_at: 9999999999 }));
    chmodSync(f, 0o644);
    const r = await runCli(['cache', 'list', '--json'], env);
    expect(JSON.parse(r.stdout).tokens[0]).toMatchObject({ state: 'unsafe', problem: { code: 'insecure_file' } });
    expect(r.stdout).not.toContain('unsafe-unsafe');
  });

  it('refuses to clear a user_oauth profile\'s file, which another process owns', async () => {
    profile('side', { version: '1.0', authentication: { type: 'user_oauth' } });
    const r = await runCli(['--profile', 'side', 'cache', 'clear'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/user_oauth profile/);
  });
});

describe('building profiles', () => {
  it('keeps unknown keys and order, writes file sources the SDK way and others under claude_wif only', () => {
    const existing = { version: '1.0', z_first: 1, organization_id: ORG, authentication: { type: 'oidc_federation', federation_rule_id: 'fdrl_a', identity_token: { source: 'file', path: '/p' }, extra: true } };
    const gcp = buildProfile(existing, { identity: { source: 'gcp', options: { audience: 'https://api.anthropic.com' } } });
    expect(Object.keys(gcp)).toEqual(['version', 'z_first', 'organization_id', 'authentication', 'claude_wif']);
    expect(gcp['authentication']).toEqual({ type: 'oidc_federation', federation_rule_id: 'fdrl_a', extra: true });
    expect(gcp['claude_wif']).toEqual({ identity: { source: 'gcp', audience: 'https://api.anthropic.com' } });
    const back = buildProfile(gcp, { identity: { source: 'file', options: { path: '/q' } }, workspace_id: 'default' });
    expect(back['authentication']).toMatchObject({ identity_token: { source: 'file', path: '/q' } });
    expect(back['claude_wif']).toBeUndefined();
    expect(currentIdentity(gcp)).toEqual({ source: 'gcp', options: { audience: 'https://api.anthropic.com' } });
    expect(currentIdentity(back)).toEqual({ source: 'file', options: { path: '/q' } });
    const removed = buildProfile(back, { workspace_id: null, service_account_id: null });
    expect(removed['workspace_id']).toBeUndefined();
  });

  it('refuses what the SDKs would reject', () => {
    const ok = buildProfile(undefined, { organization_id: ORG, federation_rule_id: 'fdrl_a' });
    expect(() => validateForWrite(ok, '/x.json')).not.toThrow();
    expect(() => validateForWrite(buildProfile(undefined, { federation_rule_id: 'fdrl_a' }), '/x.json')).toThrow(/needs --organization-id/);
    expect(() => validateForWrite({ ...ok, workspace_id: 'ws1' }, '/x.json')).toThrow(/workspace_id/);
    expect(() => validateForWrite({ ...ok, authentication: { type: 'oidc_federation', federation_rule_id: 'fdrl_a', identity_token: { source: 'gcp' } } }, '/x.json')).toThrow(/not supported by the SDKs/);
  });

  it('every registered source has an options entry, and a flag means one option key everywhere', () => {
    for (const name of sourceNames()) expect(SOURCE_OPTIONS, name).toHaveProperty(name);
    const keyOf = new Map<string, string>();
    for (const opts of Object.values(SOURCE_OPTIONS)) {
      for (const o of opts) {
        expect(keyOf.get(o.flag) ?? o.key, o.flag).toBe(o.key);
        keyOf.set(o.flag, o.key);
      }
    }
    expect(allSourceFlags().map((o) => o.flag)).toContain('identity-token-file');
    expect(optionsFor('file')[0]).toMatchObject({ key: 'path', required: true });
  });
});

describe('output helpers', () => {
  it('lineDiff shows removals before additions with context, and nothing for equal texts', () => {
    const a = 'a\nb\nc\nd\ne\nf\ng\nh\n';
    const b = 'a\nb\nc\nD\ne\nf\ng\nh\n';
    expect(lineDiff(a, b, 1)).toBe('  …\n  c\n- d\n+ D\n  e\n  …\n');
    expect(lineDiff(a, a)).toBe('');
    expect(lineDiff('', 'x\n')).toBe('+ x\n');
  });

  it('table aligns on visible width (colour codes take no room) and leaves no trailing blanks', () => {
    const out = table([['\x1b[32mok\x1b[39m', 'x'], ['longer', 'y']], ['A', 'B']);
    expect(out.split('\n').map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''))).toEqual(['A       B', 'ok      x', 'longer  y', '']);
    expect(visibleWidth('\x1b[1mé\x1b[22m')).toBe(1);
  });

  const io = (tty: boolean) => {
    let err = '';
    const value: IO = { stdout: { write: () => true }, stderr: { write: (s: string) => (err += s) }, env: {}, cwd: '/', clock: systemClock, stdoutIsTTY: tty, stderrIsTTY: tty, stdinIsTTY: tty, proc: recordingProcess() };
    return { value, err: () => err };
  };
  // The spinner's timers are faked (vi.useFakeTimers): the tests move time and look at each frame,
  // instead of sleeping and hoping the machine kept up.
  const fakeTimers = () => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });

  it('the status line appears on a TTY only after the delay, is cleared, and lets other output through cleanly', async () => {
    fakeTimers();
    try {
      const t = io(true);
      let finish!: () => void;
      let status!: Status;
      const running = withStatus(t.value, { level: 'info' }, 'working', (st) => {
        status = st;
        return new Promise<void>((resolve) => (finish = resolve));
      }, 50);
      await vi.advanceTimersByTimeAsync(49);
      expect(t.err()).toBe(''); // nothing before the delay
      await vi.advanceTimersByTimeAsync(1);
      expect(t.err()).toBe('\r⠋ working\x1b[K');
      status.update('still working');
      await vi.advanceTimersByTimeAsync(80);
      expect(t.err()).toBe('\r⠋ working\x1b[K\r⠙ still working\x1b[K');
      // Other output clears the line first; the next frame draws it again below.
      t.value.stderr.write('claude-wif: warning: something\n');
      await vi.advanceTimersByTimeAsync(80);
      expect(t.err()).toBe('\r⠋ working\x1b[K\r⠙ still working\x1b[K\r\x1b[Kclaude-wif: warning: something\n\r⠹ still working\x1b[K');
      finish();
      await running;
      expect(t.err().endsWith('⠹ still working\x1b[K\r\x1b[K')).toBe(true);
      // No frame after the end, and the stream's own write is back.
      const before = t.err();
      await vi.advanceTimersByTimeAsync(1_000);
      expect(t.err()).toBe(before);
      t.value.stderr.write('after');
      expect(t.err()).toBe(`${before}after`);
    } finally {
      vi.useRealTimers();
    }
  });

  it('no status line when fast, when not a TTY, or with --quiet', async () => {
    fakeTimers();
    try {
      const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
      const settle = async <T>(p: Promise<T>, ms: number): Promise<T> => {
        await vi.advanceTimersByTimeAsync(ms);
        return p;
      };
      const fast = io(true);
      await settle(withStatus(fast.value, { level: 'info' }, 'x', async () => wait(5), 200), 5);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(fast.err()).toBe('');
      const pipe = io(false);
      await settle(withStatus(pipe.value, { level: 'info' }, 'x', async () => wait(120), 20), 120);
      expect(pipe.err()).toBe('');
      const quiet = io(true);
      await settle(withStatus(quiet.value, { level: 'quiet' }, 'x', async () => wait(120), 20), 120);
      expect(quiet.err()).toBe('');
    } finally {
      vi.useRealTimers();
    }
  });

  it('status --json and profiles --json never depend on colour; colour only on a TTY without NO_COLOR', async () => {
    profile('alpha', fed('fdrl_alpha'));
    const tty = await runCli(['profiles', 'list'], env, { tty: true });
    expect(tty.stdout).toContain('\x1b[');
    const noColor = await runCli(['profiles', 'list'], { ...env, NO_COLOR: '1' }, { tty: true });
    expect(noColor.stdout).not.toContain('\x1b[');
    const flag = await runCli(['--no-color', 'profiles', 'list'], env, { tty: true });
    expect(flag.stdout).not.toContain('\x1b[');
    const clock = fakeClock();
    expect(JSON.parse((await runCli(['profiles', 'list', '--json'], env, { clock, tty: true })).stdout).profiles).toHaveLength(1);
  });
});
