import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/cache/lock.js';
import { forgetAssertion, reserveAssertion } from '../../src/cache/ledger.js';
import { WifError } from '../../src/util/errors.js';
import { steppedClock } from '../helpers/cli.js';
import { tempHome, type TempHome } from '../helpers/env.js';

let h: TempHome;
beforeEach(() => {
  h = tempHome();
});
afterEach(() => h.cleanup());

describe('cross-process lock', () => {
  // The waiter's rounds go through steppedClock: no real time passes, and the tests wait for
  // rounds (events) rather than for durations.
  const opts = (clock: ReturnType<typeof steppedClock>, extra: { waitMs?: number; satisfied?: () => boolean } = {}) => ({ clock, waitMs: 5000, staleMs: 60_000, ...extra });

  it('is exclusive and released', async () => {
    const path = join(h.cacheDir, 'locks', 'k.lock');
    const clock = steppedClock();
    const a = await acquireLock(path, opts(clock));
    expect(a.acquired).toBe(true);
    let second = false;
    const b = acquireLock(path, opts(clock)).then((r) => {
      second = true;
      return r;
    });
    await clock.sleepCount(3); // the second caller has found the lock taken three times
    expect(second).toBe(false);
    if (a.acquired) a.release();
    const rb = await b;
    expect(rb.acquired).toBe(true);
    if (rb.acquired) rb.release();
    expect(existsSync(path)).toBe(false);
  });

  it('is freed at once when its holder was killed with SIGKILL', async () => {
    const path = join(h.cacheDir, 'locks', 'k.lock');
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    await new Promise((r) => child.once('spawn', r));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(h.cacheDir, 'locks'), { recursive: true });
    writeFileSync(path, JSON.stringify({ pid: child.pid, host: hostname(), nonce: 'dead', at: Date.now() }));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const clock = steppedClock();
    const r = await acquireLock(path, opts(clock, { waitMs: 10_000 }));
    expect(r.acquired).toBe(true);
    expect(clock.sleeps, 'waited before breaking a dead holder\'s lock').toEqual([]);
    if (r.acquired) r.release();
  });

  it('stops waiting when the caller is satisfied (another process filled the cache)', async () => {
    const path = join(h.cacheDir, 'locks', 'k.lock');
    const clock = steppedClock();
    const a = await acquireLock(path, opts(clock));
    let filled = false;
    void clock.sleepCount(2).then(() => (filled = true)); // filled while the waiter waits
    const r = await acquireLock(path, opts(clock, { satisfied: () => filled }));
    expect(r).toEqual({ acquired: false, reason: 'satisfied' });
    expect(clock.sleeps).toHaveLength(2);
    if (a.acquired) a.release();
  });

  it('gives up after waitMs of its clock when a live holder keeps the lock (reason timeout, the holder named)', async () => {
    const path = join(h.cacheDir, 'locks', 'k.lock');
    const clock = steppedClock();
    const a = await acquireLock(path, opts(clock));
    const r = await acquireLock(path, opts(clock, { waitMs: 2_000 }));
    expect(r).toEqual({ acquired: false, reason: 'timeout', holderPid: process.pid });
    const waited = clock.sleeps.reduce((x, y) => x + y, 0);
    expect(waited).toBeGreaterThan(2_000);
    expect(waited).toBeLessThan(2_000 + 2 * 100); // one round past the limit at most (rounds ≤ 2 × 100 ms)
    if (a.acquired) a.release();
  });

  it('frees an empty lock file left by a holder killed between creating and writing it, after a short grace', async () => {
    const { mkdirSync, utimesSync } = await import('node:fs');
    const { UNWRITTEN_LOCK_GRACE_MS } = await import('../../src/cache/lock.js');
    const path = join(h.cacheDir, 'locks', 'k.lock');
    mkdirSync(join(h.cacheDir, 'locks'), { recursive: true });
    writeFileSync(path, '');
    // File times are wall-clock (the lock compares them with Date.now()).
    const old = (Date.now() - UNWRITTEN_LOCK_GRACE_MS - 5_000) / 1000;
    utimesSync(path, old, old);
    const clock = steppedClock();
    // Before: this waited out waitMs (here 20 s), by which time the caller's deadline was spent.
    const r = await acquireLock(path, opts(clock, { waitMs: 20_000 }));
    expect(r.acquired).toBe(true);
    expect(clock.sleeps, 'waited before freeing an old empty lock file').toEqual([]);
    if (r.acquired) r.release();
  });

  it('leaves a freshly created, not yet written lock file alone (its holder may be writing it)', async () => {
    const { mkdirSync, unlinkSync, utimesSync } = await import('node:fs');
    const path = join(h.cacheDir, 'locks', 'k.lock');
    mkdirSync(join(h.cacheDir, 'locks'), { recursive: true });
    writeFileSync(path, '');
    // Young by the wall clock however slowly this machine runs the rounds below.
    const young = Date.now() / 1000 + 60;
    utimesSync(path, young, young);
    const clock = steppedClock();
    let done = false;
    const p = acquireLock(path, opts(clock, { waitMs: 20_000 })).then((r) => ((done = true), r));
    await clock.sleepCount(5); // five rounds of looking at it
    expect(done).toBe(false);
    expect(existsSync(path)).toBe(true);
    unlinkSync(path); // released
    const r = await p;
    expect(r.acquired).toBe(true);
    if (r.acquired) r.release();
  });

  it('never leaves its own lock file empty: the owner record is linked into place whole', async () => {
    const { readdirSync } = await import('node:fs');
    const path = join(h.cacheDir, 'locks', 'k.lock');
    const r = await acquireLock(path, opts(steppedClock()));
    expect(JSON.parse((await import('node:fs')).readFileSync(path, 'utf8'))).toMatchObject({ pid: process.pid });
    expect(readdirSync(join(h.cacheDir, 'locks'))).toEqual(['k.lock']); // no temp file left behind
    if (r.acquired) r.release();
    expect(readdirSync(join(h.cacheDir, 'locks'))).toEqual([]);
  });

  it('breaks a lock older than staleMs even if its pid is alive', async () => {
    const path = join(h.cacheDir, 'locks', 'k.lock');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(h.cacheDir, 'locks'), { recursive: true });
    const clock = steppedClock();
    writeFileSync(path, JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'old', at: clock.now() - 120_000 }));
    const r = await acquireLock(path, opts(clock));
    expect(r.acquired).toBe(true);
    expect(clock.sleeps).toEqual([]);
    if (r.acquired) r.release();
  });
});

describe('single-use ledger', () => {
  const reserve = (id: string, now = 1000, key = 'k1') => reserveAssertion({ cacheDir: h.cacheDir, issuer: 'https://issuer', assertionId: id, exp: now + 300, nowSeconds: now, hasJti: true, mintsOnDemand: false, key });

  it('refuses a second use of the same assertion with identity_replayed (exit 3)', () => {
    reserve('a');
    let err: WifError | undefined;
    try {
      reserve('a', 1010);
    } catch (e) {
      err = e as WifError;
    }
    expect(err?.code).toBe('identity_replayed');
    expect(err?.exitCode).toBe(3);
    expect(err?.message).toMatch(/was sent 10s ago by a process that stopped before it recorded an answer/);
    expect(err?.hint).toMatch(/check_jti/);
  });

  it('keeps issuers apart, releases on request, and forgets expired entries', () => {
    reserve('a');
    expect(() => reserveAssertion({ cacheDir: h.cacheDir, issuer: 'https://other', assertionId: 'a', exp: 1300, nowSeconds: 1000, hasJti: true, mintsOnDemand: false, key: 'k1' })).not.toThrow();
    const r = reserve('b');
    r.release();
    expect(() => reserve('b')).not.toThrow();
    reserve('c', 1000);
    // exp 1300 + 30 s leeway: gone after that.
    expect(() => reserve('c', 1400)).not.toThrow();
  });

  it('says what happened: accepted, refused with 401, no answer', () => {
    const cases: Array<[Parameters<ReturnType<typeof reserve>['record']>[0], RegExp]> = [
      [{ state: 'accepted', status: 200 }, /was exchanged 7s ago \(the token endpoint accepted it\)/],
      [{ state: 'refused', status: 401, code: 'exchange_denied' }, /was sent 7s ago and refused with 401 \(exchange_denied\)/],
      [{ state: 'no_answer', code: 'endpoint_timeout' }, /was sent 7s ago and no answer came \(endpoint_timeout\); the token endpoint may have consumed it/],
      [{ state: 'failed', status: 503, code: 'endpoint_failed' }, /failed with 503 \(endpoint_failed\); it may have consumed it/],
    ];
    cases.forEach(([outcome, message], i) => {
      reserve(`o${i}`).record(outcome);
      expect(() => reserve(`o${i}`, 1007)).toThrow(message);
    });
  });

  it('a refusal under another configuration may be sent again, once; under the same one it may not', () => {
    reserve('d', 1000, 'k1').record({ state: 'refused', status: 401, code: 'exchange_denied' });
    expect(() => reserve('d', 1005, 'k1')).toThrow(/refused with 401/);
    const again = reserve('d', 1005, 'k2');
    expect(() => reserve('d', 1006, 'k3')).toThrow(/was sent 1s ago by a process that stopped|is being sent/);
    again.record({ state: 'accepted', status: 200 });
    expect(() => reserve('d', 1007, 'k4')).toThrow(/was exchanged 2s ago/);
  });

  it('forgetAssertion removes one entry and reports what it held', () => {
    reserve('e').record({ state: 'no_answer', code: 'endpoint_timeout' });
    reserve('f').record({ state: 'accepted', status: 200 });
    expect(forgetAssertion(h.cacheDir, 'https://issuer', 'e')).toMatchObject({ state: 'no_answer' });
    expect(forgetAssertion(h.cacheDir, 'https://issuer', 'e')).toBeUndefined();
    expect(() => reserve('e', 1001)).not.toThrow();
    expect(() => reserve('f', 1001)).toThrow(/was exchanged/);
  });
});
