import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertNoSecrets, runBin } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import { sandboxWithProfile, type SandboxSetup } from '../helpers/sandbox.js';

let h: TempHome;
let s: SandboxSetup;
let env: Record<string, string>;
beforeAll(async () => {
  h = tempHome();
  s = await sandboxWithProfile(h.configDir);
  s.writeProfile('default');
  env = cleanEnv(h.home);
});
afterAll(async () => {
  await s.sandbox.close();
  h.cleanup();
});

const TOKEN_LINE = /^sk-ant-oat01-[A-Za-z0-9_-]{20,}\n$/;
const identity = () => readFileSync(s.identityFile, 'utf8').trim();

describe('token', () => {
  it('prints the token and a newline on stdout, nothing on stderr; then serves the cache', async () => {
    const before = s.sandbox.exchanges.length;
    const a = await runBin(['token'], env);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(TOKEN_LINE);
    expect(a.stderr).toBe('');
    const b = await runBin(['token'], env);
    expect(b.stdout).toBe(a.stdout);
    expect(s.sandbox.exchanges.length - before).toBe(1);
  });

  it('the hot path and the full CLI answer identically', async () => {
    const fast = await runBin(['token'], env);
    const full = await runBin(['token', '--format', 'raw'], { ...env, CLAUDE_WIF_LOG: 'debug' });
    expect(full.stdout).toBe(fast.stdout);
    expect(full.stderr).toMatch(/cache hit/);
    assertNoSecrets(full.stderr, [fast.stdout.trim(), identity()]);
  });

  it('--format json is the SDK credentials shape plus expires_in', async () => {
    const r = await runBin(['token', '--format', 'json'], env);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc).sort()).toEqual(['access_token', 'expires_at', 'expires_in', 'scope', 'type', 'version']);
    expect(doc).toMatchObject({ version: '1.0', type: 'oauth_token', scope: 'workspace:inference' });
    expect(doc.expires_in).toBeGreaterThan(500);
  });

  it('credential-process prints one JSON document with epoch and RFC 3339 expiry', async () => {
    const r = await runBin(['credential-process'], env);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ version: 1, token_type: 'Bearer' });
    expect(doc.access_token).toMatch(/^sk-ant-oat01-/);
    expect(doc.expiration).toBe(new Date(doc.expires_at * 1000).toISOString().replace('.000Z', 'Z'));
    expect(doc.expiration).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });
});

describe('env', () => {
  it('sh output, evaluated by bash, makes an ordinary client authenticate with Bearer + the oauth beta', async () => {
    const r = await runBin(['env'], { ...env, ANTHROPIC_API_KEY: 'sk-ant-api03-shadow' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^export ANTHROPIC_AUTH_TOKEN='sk-ant-oat01-/m);
    expect(r.stdout).toMatch(/^unset ANTHROPIC_API_KEY$/m);
    const script = `${r.stdout}\nexec node -e '
      const h = { "content-type": "application/json", "anthropic-version": "2023-06-01", authorization: "Bearer " + process.env.ANTHROPIC_AUTH_TOKEN };
      for (const l of process.env.ANTHROPIC_CUSTOM_HEADERS.split("\\n")) { const i = l.indexOf(":"); h[l.slice(0, i).trim()] = l.slice(i + 1).trim(); }
      if (process.env.ANTHROPIC_API_KEY !== undefined) { console.error("API key still set"); process.exit(9); }
      fetch(process.env.ANTHROPIC_BASE_URL + "/v1/messages", { method: "POST", headers: h, body: JSON.stringify({ model: "claude-haiku-4-5", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }) })
        .then(async (res) => { console.log(res.status); process.exit(res.ok ? 0 : 1); });'`;
    // Asynchronous: the sandbox answering the child is served by this very process.
    const child = await new Promise<{ stdout: string; stderr: string }>((resolve) => {
      const c = spawn('bash', ['-c', script], { env: { ...env, ANTHROPIC_API_KEY: 'sk-ant-api03-shadow' } });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (d) => (stdout += d));
      c.stderr.on('data', (d) => (stderr += d));
      c.on('close', () => resolve({ stdout, stderr }));
    });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('200');
    expect(s.sandbox.apiCalls.at(-1)?.headers['anthropic-beta']).toContain('oauth-2025-04-20');
  });

  it('--target claude-code sets CLAUDE_CODE_OAUTH_TOKEN and removes ANTHROPIC_AUTH_TOKEN', async () => {
    const r = await runBin(['env', '--target', 'claude-code', '--format', 'json'], env);
    const vars = JSON.parse(r.stdout);
    expect(vars.CLAUDE_CODE_OAUTH_TOKEN).toMatch(/^sk-ant-oat01-/);
    expect(vars.ANTHROPIC_AUTH_TOKEN).toBeNull();
    expect(vars.ANTHROPIC_API_KEY).toBeNull();
    expect(vars.ANTHROPIC_BASE_URL).toBe(s.sandbox.url);
    expect(Number(vars.CLAUDE_WIF_TOKEN_EXPIRES_AT)).toBeGreaterThan(Date.now() / 1000);
  });

  it('keeps the user\'s other custom headers and betas', async () => {
    const r = await runBin(['env', '--format', 'json'], { ...env, ANTHROPIC_CUSTOM_HEADERS: 'x-team: a\nanthropic-beta: files-api-2025-04-14' });
    expect(JSON.parse(r.stdout).ANTHROPIC_CUSTOM_HEADERS).toBe('x-team: a\nanthropic-beta: files-api-2025-04-14,oauth-2025-04-20');
  });

  it('--format github masks the token and appends to $GITHUB_ENV', async () => {
    const ghEnv = join(h.home, 'github_env');
    writeFileSync(ghEnv, '');
    const r = await runBin(['env', '--format', 'github'], { ...env, GITHUB_ENV: ghEnv });
    expect(r.code).toBe(0);
    const token = /^::add-mask::(\S+)$/m.exec(r.stdout)?.[1];
    expect(token).toMatch(/^sk-ant-oat01-/);
    const file = readFileSync(ghEnv, 'utf8');
    expect(file).toMatch(new RegExp(`^ANTHROPIC_AUTH_TOKEN<<(\\S+)\\n${token}\\n\\1$`, 'm'));
    assertNoSecrets(r.stderr, [token!]);
    const outside = await runBin(['env', '--format', 'github'], env);
    expect(outside.code).toBe(2);
  });
});

describe('status', () => {
  it('explains the choice offline, as text and JSON, with no secret', async () => {
    const r = await runBin(['status', '--json'], { ...env, ANTHROPIC_API_KEY: 'sk-ant-api03-shadowshadowshadow' });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.selection.via).toBe('default profile');
    expect(doc.federation_rule_id).toEqual({ value: 'fdrl_sandbox', origin: expect.stringContaining('authentication.federation_rule_id') });
    expect(doc.identity.source).toBe('file');
    expect(doc.cache.state).toBe('fresh');
    expect(doc.warnings.join(' ')).toMatch(/ANTHROPIC_API_KEY is set/);
    const text = await runBin(['status'], env);
    expect(text.stdout).toMatch(/Federation rule\s+fdrl_sandbox/);
    expect(text.stdout).toMatch(/Cached token\s+valid until/);
    for (const out of [r.stdout, r.stderr, text.stdout, text.stderr]) assertNoSecrets(out, [identity(), 'sk-ant-api03-shadowshadowshadow']);
  });
});

describe('exit codes and error codes (ARCHITECTURE.md §3)', () => {
  let iso: TempHome;
  let isoEnv: Record<string, string>;
  beforeEach(() => {
    iso = tempHome();
    isoEnv = cleanEnv(iso.home);
    return () => {
      iso.cleanup();
      // A fault a test injected and did not use up must not answer the next test's exchange.
      s.sandbox.clearFaults();
    };
  });
  const profile = (extra: Record<string, unknown> = {}, auth: Record<string, unknown> = {}) => {
    mkdirSync(join(iso.configDir, 'configs'), { recursive: true });
    const base = s.sandbox.profile({ identityTokenPath: s.identityFile }) as Record<string, unknown> & { authentication: Record<string, unknown> };
    writeFileSync(join(iso.configDir, 'configs', 'default.json'), JSON.stringify({ ...base, ...extra, authentication: { ...base.authentication, ...auth } }));
  };
  const expectError = async (args: string[], code: number, errorCode: string, e: Record<string, string> = isoEnv) => {
    const r = await runBin(args, e);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code, stdout: '' });
    expect(r.stderr).toContain(`(${errorCode}, exit ${code})`);
    expect(r.stderr).toMatch(/fix: /);
    assertNoSecrets(r.stderr, [identity()]);
    return r;
  };

  it('2: no configuration, missing named profile, invalid profile, bad usage', async () => {
    await expectError(['token'], 2, 'config_missing');
    await expectError(['--profile', 'nope', 'token'], 2, 'profile_not_found');
    profile({ organization_id: 'not-a-uuid' });
    await expectError(['token'], 2, 'config_invalid');
    const bad = await runBin(['token', '--bogus'], isoEnv);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown option/);
  });

  it('3: not a JWT, expired, replayed', async () => {
    const file = join(iso.home, 'id.jwt');
    profile({}, { identity_token: { source: 'file', path: file } });
    writeFileSync(file, 'not-a-jwt');
    await expectError(['token'], 3, 'identity_invalid');
    writeFileSync(file, await s.sandbox.mint({ lifetimeSeconds: 60, iat: Math.floor(Date.now() / 1000) - 600 }));
    await expectError(['token'], 3, 'identity_expired');
    writeFileSync(file, await s.sandbox.mint());
    expect((await runBin(['token'], isoEnv)).code).toBe(0);
    await expectError(['token', '--force-refresh'], 3, 'identity_replayed');
  });

  it('4: denied (401) and malformed (400)', async () => {
    const file = join(iso.home, 'id.jwt');
    profile({}, { identity_token: { source: 'file', path: file } });
    writeFileSync(file, await s.sandbox.mint({ aud: 'https://somewhere-else' }));
    const r = await expectError(['token'], 4, 'exchange_denied');
    expect(r.stderr).toMatch(/request-id req_/);
    writeFileSync(file, await s.sandbox.mint());
    s.sandbox.injectFault({ status: 400, body: JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'workspace_id: malformed' } }) });
    await expectError(['token'], 4, 'exchange_bad_request');
  });

  it('5: unreachable, and 5xx (a single-use assertion is not re-sent after it: issue 15 item 12)', async () => {
    profile({ base_url: 'http://127.0.0.1:1' });
    await expectError(['token'], 5, 'endpoint_unreachable');
    profile();
    s.sandbox.injectFault({ status: 503, count: 3 });
    // A deadline roomy enough for all three attempts on a loaded machine (8 s was not: the third
    // attempt no longer fit, and its 503 then answered the next test's exchange).
    await expectError(['token'], 5, 'endpoint_failed', { ...isoEnv, CLAUDE_WIF_TIMEOUT_MS: '30000' });
    s.sandbox.clearFaults();
  });

  it('6: non-https endpoint, unsafe cache file', async () => {
    profile({ base_url: 'http://api.example.test' });
    await expectError(['token'], 6, 'insecure_endpoint');
    profile();
    const file = join(iso.home, 'id.jwt');
    writeFileSync(file, await s.sandbox.mint());
    profile({}, { identity_token: { source: 'file', path: file } });
    expect((await runBin(['token'], isoEnv)).code).toBe(0);
    chmodSync(join(iso.configDir, 'credentials', 'default.json'), 0o644);
    await expectError(['token'], 6, 'insecure_file');
  });

  it('--format json errors carry the code on stdout too', async () => {
    const r = await runBin(['token', '--format', 'json'], isoEnv);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({ error: expect.objectContaining({ code: 'config_missing', exit_code: 2 }) });
  });

  it('--debug shows diagnostics but never a secret, on success and failure', async () => {
    const file = join(iso.home, 'id.jwt');
    const jwt = await s.sandbox.mint();
    writeFileSync(file, jwt);
    profile({}, { identity_token: { source: 'file', path: file } });
    const ok = await runBin(['--debug', 'token'], isoEnv);
    expect(ok.stderr).toMatch(/POST .*\/v1\/oauth\/token/);
    assertNoSecrets(ok.stderr, [jwt, ok.stdout.trim()]);
    const fail = await runBin(['--debug', 'token', '--force-refresh'], isoEnv);
    expect(fail.code).toBe(3);
    assertNoSecrets(fail.stderr, [jwt, ok.stdout.trim()]);
  });
});

describe('concurrency', () => {
  it('20 concurrent cold invocations make exactly one exchange and print the same token', async () => {
    const iso = tempHome();
    try {
      mkdirSync(join(iso.configDir, 'configs'), { recursive: true });
      const file = join(iso.home, 'id.jwt');
      writeFileSync(file, await s.sandbox.mint(), { mode: 0o600 });
      writeFileSync(join(iso.configDir, 'configs', 'default.json'), JSON.stringify(s.sandbox.profile({ identityTokenPath: file })));
      const before = s.sandbox.exchanges.length;
      const runs = await Promise.all(Array.from({ length: 20 }, () => runBin(['token'], cleanEnv(iso.home), { timeoutMs: 60_000 })));
      expect(runs.map((r) => r.code)).toEqual(Array(20).fill(0));
      expect(new Set(runs.map((r) => r.stdout)).size).toBe(1);
      expect(s.sandbox.exchanges.length - before).toBe(1);
    } finally {
      iso.cleanup();
    }
  }, 90_000);
});
