// The hot path (dist/claude-wif.cjs) answers `token` and `env` from a fresh cache without the full
// CLI. It must print exactly what the full CLI prints, and hand everything else over.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseHotArgs } from '../../src/cli/fast-path.js';
import { hotOutput } from '../../src/cli/hot.js';
import { runCli } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import { fakeAnthropicToken } from '../helpers/fixtures.js';

let h: TempHome;
let token: string;
let env: Record<string, string>;

function profile(name: string, extra: Record<string, unknown> = {}): void {
  mkdirSync(join(h.configDir, 'configs'), { recursive: true });
  writeFileSync(
    join(h.configDir, 'configs', `${name}.json`),
    JSON.stringify({ version: '1.0', organization_id: '00000000-0000-4000-8000-000000000001', authentication: { type: 'oidc_federation', federation_rule_id: 'fdrl_hot', identity_token: { source: 'file', path: join(h.home, 'jwt') } }, ...extra }),
  );
  mkdirSync(join(h.configDir, 'credentials'), { recursive: true, mode: 0o700 });
  writeFileSync(join(h.configDir, 'credentials', `${name}.json`), JSON.stringify({ version: '1.0', type: 'oauth_token', access_token: token, expires_at: Math.floor(Date.now() / 1000) + 3600 }), { mode: 0o600 });
}

beforeEach(() => {
  h = tempHome();
  token = fakeAnthropicToken('oat01', 'hot');
  env = cleanEnv(h.home);
  profile('default');
});
afterEach(() => h.cleanup());

/** The hot path's answer must be the full CLI's stdout, with exit 0 and nothing on stderr. */
async function sameAsFullCli(argv: string[], e: Record<string, string> = env): Promise<string> {
  const hot = hotOutput(argv, e);
  expect(hot, `the hot path declined ${argv.join(' ')}`).toBeDefined();
  const full = await runCli(argv, e);
  expect({ code: full.code, stderr: full.stderr }).toEqual({ code: 0, stderr: '' });
  expect(hot).toBe(full.stdout);
  return hot!;
}

describe('hot path: answers like the full CLI', () => {
  it('token, with the global and token options it knows', async () => {
    for (const argv of [['token'], ['token', '--min-ttl', '60'], ['token', '--format=raw'], ['-p', 'default', 'token'], ['--profile=default', '-q', 'token', '--format', 'raw'], ['token', '--no-color']]) {
      expect(await sameAsFullCli(argv)).toBe(`${token}\n`);
    }
  });

  it('env: every shell format and both targets', async () => {
    for (const format of ['sh', 'fish', 'powershell', 'cmd', 'dotenv', 'json']) {
      for (const target of ['sdk', 'claude-code']) {
        const out = await sameAsFullCli(['env', '--format', format, '--target', target]);
        expect(out).toContain(token);
      }
    }
    await sameAsFullCli(['env']);
    await sameAsFullCli(['--profile', 'default', 'env', '--format=json', '--target=claude-code', '--min-ttl=120', '--quiet']);
  });

  it('env: merges the user\'s custom headers, removes descriptor variables, sets a non-default base URL', async () => {
    profile('other', { base_url: 'https://gateway.example.com' });
    const e = { ...env, ANTHROPIC_CUSTOM_HEADERS: 'x-team: a\nanthropic-beta: files-api-2025-04-14', CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR: '3' };
    const out = await sameAsFullCli(['-p', 'other', 'env', '--format', 'json'], e);
    const doc = JSON.parse(out) as Record<string, string | null>;
    expect(doc['ANTHROPIC_BASE_URL']).toBe('https://gateway.example.com');
    expect(doc['ANTHROPIC_CUSTOM_HEADERS']).toBe('x-team: a\nanthropic-beta: files-api-2025-04-14,oauth-2025-04-20');
    expect(doc['CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR']).toBeNull();
  });

  it('a profile named like a command is still a profile', async () => {
    profile('exec');
    profile('env');
    expect(await sameAsFullCli(['--profile', 'exec', 'token'])).toBe(`${token}\n`);
    await sameAsFullCli(['-p', 'env', 'env']);
  });
});

describe('hot path: hands everything else to the full CLI', () => {
  it.each([
    [['env', '--format', 'github']],
    [['env', '--force-refresh']],
    [['token', '--force-refresh']],
    [['token', '--format', 'json']],
    [['env', '--format', 'bash']],
    [['env', '--target', 'curl']],
    [['env', '--min-ttl', 'soon']],
    [['env', '--min-ttl', '86401']],
    [['env', '--min-ttl', '7200']], // the cached token has an hour left: a miss
    [['env', 'extra']],
    [['env', '--format']],
    [['--debug', 'env']],
    [['--cache', 'keyring', 'env']],
    [['--format', 'sh', 'env']],
    [['env', '--', 'x']],
    [['-pdefault', 'env']],
    [['-p=default', 'env']],
    [['--profile', '', 'env']],
    [['-p', 'default', '--profile', 'default', 'env']],
    [['env', '--min-ttl', '1', '--min-ttl', '2']],
    [['env', '--quiet=1']],
    [['status']],
    [['credential-process']],
    [[]],
    [['--profile', 'missing', 'env']],
  ])('%j', (argv) => {
    expect(hotOutput(argv, env)).toBeUndefined();
  });

  it('with a warning to give, CLAUDE_WIF_LOG=debug, or no fresh token', () => {
    expect(hotOutput(['env'], { ...env, ANTHROPIC_API_KEY: fakeAnthropicToken('api03', 'shadow') })).toBeUndefined();
    expect(hotOutput(['env'], { ...env, CLAUDE_WIF_LOG: 'debug' })).toBeUndefined();
    writeFileSync(join(h.configDir, 'credentials', 'default.json'), JSON.stringify({ version: '1.0', type: 'oauth_token', access_token: token, expires_at: Math.floor(Date.now() / 1000) + 10 }), { mode: 0o600 });
    expect(hotOutput(['env'], env)).toBeUndefined();
    expect(hotOutput(['token'], env)).toBeUndefined();
  });

  it('a value a shell format cannot carry is left to the full CLI, which refuses it', async () => {
    const e = { ...env, ANTHROPIC_CUSTOM_HEADERS: 'x-pct: 100%' };
    expect(hotOutput(['env', '--format', 'cmd'], e)).toBeUndefined();
    const full = await runCli(['env', '--format', 'cmd'], e);
    expect(full.code).toBe(2);
  });
});

describe('parseHotArgs', () => {
  it('exec: options before `--`, the child after it untouched', () => {
    expect(parseHotArgs(['-q', 'exec', '--mode', 'token', '--no-scrub', '--allow-nested', '--pass-env', 'A', '--pass-env=B', '--target=sdk', '--min-ttl', '90', '--', 'claude', '-p', '--mode', '--'])).toEqual({
      command: 'exec',
      minTtl: 90,
      format: '',
      mode: 'token',
      target: 'sdk',
      scrub: false,
      passEnv: ['A', 'B'],
      allowNested: true,
      quiet: true,
      child: ['claude', '-p', '--mode', '--'],
    });
    expect(parseHotArgs(['exec'])).toMatchObject({ command: 'exec', child: [], scrub: undefined, passEnv: [] });
    expect(parseHotArgs(['exec', '--scrub', '--'])).toMatchObject({ scrub: true });
    expect(parseHotArgs(['exec', '--scrub', '--no-scrub', '--'])).toBeUndefined();
    expect(parseHotArgs(['exec', 'true'])).toBeUndefined(); // no `--`: the full CLI explains
    expect(parseHotArgs(['exec', '--proxy-socket', '/x', '--', 'true'])).toBeUndefined();
  });
});
