// `doctor`: every check with its fix, a redacted --json report, and a non-zero exit when a check
// fails. The broken setup of the acceptance criteria: world-readable cache, shadowing API key,
// expired JWT, unreachable endpoint — each reported with its fix, no secret anywhere.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertNoSecrets, fakeClock, runBin, runCli } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import { sharedSandbox, type SandboxSetup } from '../helpers/sandbox.js';
import { fakeAnthropicToken } from '../helpers/fixtures.js';

let s: SandboxSetup;
sharedSandbox((setup) => (s = setup));

let h: TempHome;
let env: Record<string, string>;
let idFile: string;
beforeEach(async () => {
  h = tempHome();
  env = cleanEnv(h.home);
  idFile = join(h.home, 'id.jwt');
  writeFileSync(idFile, await s.sandbox.mint(), { mode: 0o600 });
  writeProfile();
  return () => h.cleanup();
});

function writeProfile(extra: Record<string, unknown> = {}): void {
  mkdirSync(join(h.configDir, 'configs'), { recursive: true });
  writeFileSync(join(h.configDir, 'configs', 'default.json'), JSON.stringify({ ...s.sandbox.profile({ identityTokenPath: idFile }), ...extra }));
}

interface Report {
  ok: boolean;
  exit_code: number;
  summary: Record<string, number>;
  checks: Array<{ id: string; status: string; detail: string; fix?: string; code?: string }>;
  environment_set: string[];
}
const check = (r: Report, id: string) => {
  const c = r.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id} in ${r.checks.map((x) => x.id).join(', ')}`);
  return c;
};

describe('doctor', () => {
  it('a healthy setup passes every check, exchanges once, and exits 0', async () => {
    const n0 = s.sandbox.exchanges.length;
    const r = await runBin(['doctor'], env, { cwd: h.home });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^✓ Config directory/m);
    expect(r.stdout).toMatch(/^✓ Identity source +file .*gave a JWT: iss http:\/\/127\.0\.0\.1:\d+\/oidc, sub repo:example\/app/m);
    expect(r.stdout).toMatch(/^✓ Token endpoint .*answered HTTP \d+/m);
    expect(r.stdout).toMatch(/^✓ Clock skew +within 1 s/m);
    expect(r.stdout).toMatch(/^✓ Exchange +exchanged a JWT for a token valid for/m);
    expect(r.stdout).toMatch(/all \d+ checks passed/);
    expect(s.sandbox.exchanges.filter((e) => e.status === 200).length - s.sandbox.exchanges.slice(0, n0).filter((e) => e.status === 200).length).toBe(1);
    // Again: the cached token answers, no second exchange, and the used JWT is explained, not failed.
    const again = await runBin(['doctor', '--json'], env, { cwd: h.home });
    const rep = JSON.parse(again.stdout) as Report;
    expect(rep.ok).toBe(true);
    expect(check(rep, 'exchange').detail).toMatch(/a cached token is valid/);
    expect(check(rep, 'jti_rotation').status).toBe('pass');
    assertNoSecrets(again.stdout + again.stderr + r.stdout + r.stderr, [readFileSync(idFile, 'utf8')]);
  });

  it('a broken setup: each problem reported with its fix, a non-zero exit, and no secret in the report', async () => {
    // 1. A cached token other users can read.
    const ok = await runBin(['token'], env);
    expect(ok.code).toBe(0);
    const cachedToken = ok.stdout.trim();
    chmodSync(join(h.configDir, 'credentials', 'default.json'), 0o644);
    // 2. An expired JWT.
    const expired = await s.sandbox.mint({ lifetimeSeconds: 60, iat: Math.floor(Date.now() / 1000) - 600 });
    writeFileSync(idFile, expired);
    // 3. An unreachable token endpoint.
    writeProfile({ base_url: 'http://127.0.0.1:1' });
    // 4. A shadowing API key.
    const apiKey = fakeAnthropicToken('api03', 'doctor-shadow-key');
    const broken = { ...env, ANTHROPIC_API_KEY: apiKey };

    const r = await runBin(['doctor', '--json'], broken, { cwd: h.home });
    expect(r.code).not.toBe(0);
    const rep = JSON.parse(r.stdout) as Report;
    expect(rep.ok).toBe(false);
    expect(rep.exit_code).toBe(r.code);
    expect(check(rep, 'shadowing_env')).toMatchObject({ status: 'fail', detail: expect.stringContaining('ANTHROPIC_API_KEY is set'), fix: expect.stringContaining('unset ANTHROPIC_API_KEY') });
    expect(check(rep, 'cache')).toMatchObject({ status: 'fail', code: 'insecure_file', fix: expect.stringContaining('chmod 600') });
    expect(check(rep, 'identity')).toMatchObject({ status: 'fail', code: 'identity_expired', fix: expect.stringMatching(/rotated|clock/) });
    expect(check(rep, 'endpoint')).toMatchObject({ status: 'fail', code: 'endpoint_unreachable', fix: expect.stringMatching(/network access|proxy|base_url/) });
    expect(check(rep, 'exchange').status).toBe('skip');
    expect(rep.summary['fail']).toBeGreaterThanOrEqual(4);
    expect(rep.environment_set).toContain('ANTHROPIC_API_KEY');
    assertNoSecrets(r.stdout + r.stderr, [apiKey, expired, cachedToken]);

    const human = await runBin(['doctor'], broken, { cwd: h.home });
    expect(human.code).toBe(r.code);
    expect(human.stdout).toMatch(/^✗ Shadowing variables/m);
    expect(human.stdout).toMatch(/^✗ Token cache .*mode 0644/m);
    expect(human.stdout).toMatch(/^✗ Identity source .*expired/m);
    expect(human.stdout).toMatch(/^✗ Token endpoint/m);
    expect(human.stdout).toMatch(/^ +fix: run `chmod 600 /m);
    expect(human.stdout).toMatch(/check\(s\) failed/);
    assertNoSecrets(human.stdout + human.stderr, [apiKey, expired, cachedToken]);
  });

  it('flags Claude Code settings that bypass claude-wif, never printing their values', async () => {
    const secret = fakeAnthropicToken('api03', 'from-settings-file-abcdefghij');
    mkdirSync(join(h.home, '.claude'), { recursive: true });
    writeFileSync(join(h.home, '.claude', 'settings.json'), JSON.stringify({ apiKeyHelper: '/usr/local/bin/get-key', env: { ANTHROPIC_API_KEY: secret } }));
    const project = join(h.home, 'project');
    mkdirSync(join(project, '.claude'), { recursive: true });
    writeFileSync(join(project, '.claude', 'settings.local.json'), JSON.stringify({ env: { ANTHROPIC_BASE_URL: 'https://gateway.example' } }));
    const r = await runBin(['doctor', '--json', '--offline'], env, { cwd: project });
    const rep = JSON.parse(r.stdout) as Report;
    const c = check(rep, 'claude_code_settings');
    expect(c.status).toBe('fail');
    expect(c.detail).toMatch(/apiKeyHelper is set/);
    expect(c.detail).toMatch(/env\.ANTHROPIC_API_KEY/);
    expect(c.fix).toMatch(/remove "apiKeyHelper"/);
    expect(c.fix).toMatch(/remove "ANTHROPIC_BASE_URL" from the "env" object of .*settings\.local\.json/);
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toContain(secret);
    expect(r.stdout).not.toContain('get-key');
    // A helper that is claude-wif itself fails too (Claude Code sends its output as x-api-key and
    // Bearer without the oauth beta: refused), and the fix names the configurations that work.
    writeFileSync(join(h.home, '.claude', 'settings.json'), JSON.stringify({ apiKeyHelper: 'claude-wif token' }));
    rmProject(project);
    const ours = check(JSON.parse((await runBin(['doctor', '--json', '--offline'], env, { cwd: h.home })).stdout) as Report, 'claude_code_settings');
    expect(ours.status).toBe('fail');
    expect(ours.detail).toMatch(/apiKeyHelper runs claude-wif: .*both x-api-key and Bearer, without the oauth beta/);
    expect(ours.fix).toMatch(/claude-wif exec -- claude/);
    expect(ours.fix).toMatch(/--mode proxy/);
    expect(ours.fix).toMatch(/claude-wif agent/);
  });

  it('--offline makes no request at all and still checks the local identity file', async () => {
    const n0 = s.sandbox.exchanges.length;
    const r = await runBin(['doctor', '--offline', '--json'], env, { cwd: h.home });
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout) as Report;
    expect(check(rep, 'identity').status).toBe('pass');
    for (const id of ['endpoint', 'clock_skew', 'exchange']) expect(check(rep, id)).toMatchObject({ status: 'skip', detail: expect.stringContaining('--offline') });
    expect(s.sandbox.exchanges.length).toBe(n0);
  });

  it('measures clock skew from the token endpoint\'s Date header', async () => {
    const clock = fakeClock(Date.now() + 120_000);
    const r = await runCli(['doctor', '--json'], env, { clock, cwd: h.home });
    const rep = JSON.parse(r.stdout) as Report;
    expect(check(rep, 'clock_skew')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/clock is 1[12]\d s ahead of the token endpoint/), fix: expect.stringContaining('NTP') });
    const slight = JSON.parse((await runCli(['doctor', '--json', '--offline'], env, { clock: fakeClock(Date.now()), cwd: h.home })).stdout) as Report;
    expect(check(slight, 'clock_skew').status).toBe('skip');
  });

  it('checks the JWT against the profile: audience and the issuer\'s maximum lifetime', async () => {
    writeFileSync(idFile, await s.sandbox.mint({ aud: 'https://elsewhere.example', lifetimeSeconds: 7200 }));
    const r = await runCli(['doctor', '--json', '--offline'], env, { cwd: h.home });
    const c = check(JSON.parse(r.stdout) as Report, 'identity_claims');
    expect(c.status).toBe('warn');
    expect(c.detail).toMatch(/aud is https:\/\/elsewhere\.example, not the recommended https:\/\/api\.anthropic\.com/);
    expect(c.detail).toMatch(/lives 7200 s .*more than 3600 s/);
    expect(c.fix).toMatch(/max_jwt_lifetime_seconds/);
  });

  it('without any configuration: the configuration check fails with its fix (exit 2), the rest is skipped', async () => {
    const empty = tempHome();
    try {
      const r = await runCli(['doctor', '--json'], cleanEnv(empty.home), { cwd: empty.home });
      expect(r.code).toBe(2);
      const rep = JSON.parse(r.stdout) as Report;
      expect(check(rep, 'profile')).toMatchObject({ status: 'fail', code: 'config_missing', fix: expect.stringContaining('claude-wif configure') });
      expect(check(rep, 'exchange').status).toBe('skip');
      expect(check(rep, 'config_dir').status).toBe('warn');
    } finally {
      empty.cleanup();
    }
  });

  it('warns about a proxy without showing its credentials', async () => {
    const r = await runCli(['doctor', '--json', '--offline'], { ...env, HTTPS_PROXY: 'http://user:hunter2-secret@proxy.example:3128', NO_PROXY: 'localhost' }, { cwd: h.home });
    const c = check(JSON.parse(r.stdout) as Report, 'proxy');
    expect(c.detail).toMatch(/HTTPS_PROXY=http:\/\/\*\*\*@proxy\.example:3128; 127\.0\.0\.1 is reached directly \(loopback\)/);
    expect(r.stdout).not.toContain('hunter2');
  });
});

function rmProject(dir: string): void {
  writeFileSync(join(dir, '.claude', 'settings.local.json'), '{}');
}
