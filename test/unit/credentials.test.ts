import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getAccessToken, type CoreDeps } from '../../src/core/credentials.js';
import { resolvePlan } from '../../src/core/resolve.js';
import { WifError } from '../../src/util/errors.js';
import { createLogger } from '../../src/util/log.js';
import { fakeClock, assertNoSecrets, failure } from '../helpers/cli.js';
import { tempHome, type TempHome } from '../helpers/env.js';
import { sandboxWithProfile, type SandboxSetup } from '../helpers/sandbox.js';

let h: TempHome;
let s: SandboxSetup;
const clock = fakeClock(Date.now());
let stderr = '';
const deps = (): CoreDeps => ({
  env: { HOME: h.home },
  clock,
  log: createLogger({ write: (x: string) => (stderr += x) }, 'debug'),
  userAgent: 'claude-wif-test',
});

beforeAll(async () => {
  h = tempHome();
  s = await sandboxWithProfile(h.configDir, { now: () => clock.now() });
  s.writeProfile('default');
});
afterAll(async () => {
  await s.sandbox.close();
  h.cleanup();
});
beforeEach(() => {
  stderr = '';
});

const plan = (env: Record<string, string> = {}) => resolvePlan({ env: { HOME: h.home, ...env } });

describe('getAccessToken', () => {
  it('exchanges once, caches in the SDK credentials file, then serves the cache', async () => {
    const before = s.sandbox.exchanges.length;
    const first = await getAccessToken(plan(), {}, deps());
    expect(first.fromCache).toBe(false);
    const second = await getAccessToken(plan(), {}, deps());
    expect(second).toMatchObject({ fromCache: true, token: first.token });
    expect(s.sandbox.exchanges.length - before).toBe(1);
    const doc = JSON.parse(readFileSync(first.cachePath, 'utf8'));
    expect(doc.access_token).toBe(first.token);
    // The JWT has 300 s left and the rule allows 3600 s: the minted token lives 2 × 300 s.
    const life = first.expiresAt! - Math.floor(clock.now() / 1000);
    expect(life).toBeGreaterThanOrEqual(598);
    expect(life).toBeLessThanOrEqual(600);
    assertNoSecrets(stderr, [first.token, readFileSync(s.identityFile, 'utf8').trim()]);
  });

  it('refuses to re-send an exchanged JWT (identity_replayed, exit 3) without contacting the server', async () => {
    const p = plan();
    await getAccessToken(p, {}, deps());
    // The identity file still holds the JWT already exchanged.
    const before = s.sandbox.exchanges.length;
    const err = await failure(getAccessToken(p, { forceRefresh: true }, deps()));
    expect(err.code).toBe('identity_replayed');
    expect(err.exitCode).toBe(3);
    expect(s.sandbox.exchanges.length).toBe(before);
  });

  it('refreshes inside the last 30 s with the rotated JWT', async () => {
    const p = plan();
    const cur = await getAccessToken(p, {}, deps());
    clock.advance((cur.expiresAt! - Math.floor(clock.now() / 1000) - 20) * 1000);
    await s.rotate(); // what kubelet does long before this point
    const next = await getAccessToken(p, {}, deps());
    expect(next.fromCache).toBe(false);
    expect(next.token).not.toBe(cur.token);
  });

  it('--min-ttl and --force-refresh exchange again', async () => {
    const p = plan();
    const cur = await getAccessToken(p, {}, deps());
    await s.rotate();
    const longer = await getAccessToken(p, { minTtl: cur.expiresAt! - Math.floor(clock.now() / 1000) + 1 }, deps());
    expect(longer.fromCache).toBe(false);
    await s.rotate();
    const forced = await getAccessToken(p, { forceRefresh: true }, deps());
    expect(forced.fromCache).toBe(false);
    expect(forced.token).not.toBe(longer.token);
  });

  it('a cached token minted for other inputs is not reused', async () => {
    await s.rotate();
    const a = await getAccessToken(plan(), {}, deps());
    await s.rotate();
    const b = await getAccessToken(plan({ ANTHROPIC_WORKSPACE_ID: 'default' }), {}, deps());
    expect(b.fromCache).toBe(false);
    expect(b.token).not.toBe(a.token);
  });

  it('an expired identity JWT fails locally (identity_expired, exit 3) without an exchange', async () => {
    await s.rotate({ lifetimeSeconds: 60, iat: Math.floor(clock.now() / 1000) - 200 });
    const before = s.sandbox.exchanges.length;
    const err = await failure(getAccessToken(plan(), { forceRefresh: true }, deps()));
    expect(err.code).toBe('identity_expired');
    expect(s.sandbox.exchanges.length).toBe(before);
  });

  it('a denied exchange is exchange_denied (exit 4) and leaks nothing', async () => {
    const jwt = await s.rotate({ sub: 'repo:someone-else/app' });
    const err = await failure(getAccessToken(plan(), { forceRefresh: true }, deps()));
    expect(err.code).toBe('exchange_denied');
    expect(err.exitCode).toBe(4);
    assertNoSecrets(`${stderr}\n${err.message}\n${err.hint}`, [jwt]);
    expect(s.sandbox.exchanges.at(-1)?.reason).toBe('subject_mismatch');
  });

  it('check_jti off (CLAUDE_WIF_CHECK_JTI=0) lets the same JWT be sent again', async () => {
    await s.rotate();
    await getAccessToken(plan(), { forceRefresh: true }, deps());
    // The local ledger no longer stops it; the sandbox (check_jti on) refuses it instead.
    const err = await failure(getAccessToken(plan({ CLAUDE_WIF_CHECK_JTI: '0' }), { forceRefresh: true }, deps()));
    expect(err.code).toBe('exchange_denied');
    expect(s.sandbox.exchanges.at(-1)?.reason).toBe('jti_replayed');
  });

  it('outwaited by a live lock holder: gives up with endpoint_timeout naming it, and leaves its lock alone', async () => {
    const { mkdirSync, writeFileSync, existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { hostname } = await import('node:os');
    const p = plan();
    await s.rotate();
    const lockPath = join(p.cacheDir.value, 'locks', `${p.cache.key}.lock`);
    mkdirSync(join(p.cacheDir.value, 'locks'), { recursive: true });
    // A live holder (this very process) that took the lock just now and is still working.
    writeFileSync(lockPath, JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'busy', at: clock.now() }));
    const before = s.sandbox.exchanges.length;
    // The fake clock's sleeps advance it: the whole wait (CLAUDE_WIF_TIMEOUT_MS + 5 s) passes at once.
    const err = await failure(getAccessToken(p, { forceRefresh: true }, { ...deps(), env: { HOME: h.home, CLAUDE_WIF_TIMEOUT_MS: '1000' } }));
    expect(err).toMatchObject({ code: 'endpoint_timeout', exitCode: 5 });
    expect(err.message).toMatch(new RegExp(`waiting for another claude-wif process \\(pid ${process.pid}\\)`));
    expect(s.sandbox.exchanges.length).toBe(before); // no second exchange beside the live holder's
    expect(existsSync(lockPath)).toBe(true);
    (await import('node:fs')).unlinkSync(lockPath);
  });
});
