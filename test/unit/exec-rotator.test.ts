import { describe, expect, it } from 'vitest';
import type { AccessToken } from '../../src/core/credentials.js';
import {
  MAX_BACKOFF_SECONDS,
  PICKUP_WINDOW_SECONDS,
  realScheduler,
  refreshSchedule,
  retryDelaySeconds,
  startRotator,
  type Scheduler,
} from '../../src/run/rotator.js';
import { fakeClock } from '../helpers/cli.js';

const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);
const sec = (ms: number) => ms / 1000;

function tok(obtainedAt: number, lifetime: number, n = 0): AccessToken {
  return { token: `sk-ant-oat01-test${n}`, expiresAt: obtainedAt + lifetime, obtainedAt, obtainedAtMs: obtainedAt * 1000, fromCache: false, cachePath: '/x' };
}

/** Timers on the fake clock: `runUntil` moves the clock from timer to timer and lets each attempt settle. */
function fakeScheduler(clock: ReturnType<typeof fakeClock>) {
  let seq = 0;
  const timers = new Map<number, { fn: () => void; due: number }>();
  const scheduler: Scheduler = {
    set(fn, ms) {
      const id = ++seq;
      timers.set(id, { fn, due: clock.now() + ms });
      return id;
    },
    clear(h) {
      timers.delete(h as number);
    },
  };
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  return {
    scheduler,
    pending: () => [...timers.values()].map((t) => t.due).sort((a, b) => a - b),
    async runUntil(ms: number) {
      for (;;) {
        const next = [...timers.entries()].sort((a, b) => a[1].due - b[1].due)[0];
        if (!next || next[1].due > ms) break;
        timers.delete(next[0]);
        clock.set(Math.max(clock.now(), next[1].due));
        next[1].fn();
        await settle();
      }
      clock.set(Math.max(clock.now(), ms));
    },
  };
}

const quietLog = () => {
  const lines: string[] = [];
  return { lines, log: { debug: () => {}, info: (m: string) => lines.push(`info: ${m}`), warn: (m: string) => lines.push(`warn: ${m}`) } };
};

describe('refreshSchedule: the formula', () => {
  const at = (obtained: number, lifetime: number) => refreshSchedule({ obtainedAt: obtained, expiresAt: obtained + lifetime }, obtained)!;

  it('replaces a token halfway through the life before the 30 s pick-up window, at most 5.5 min ahead', () => {
    expect(at(1000, 60)).toEqual({ refreshAt: 1015, deadline: 1030, lifetime: 60 }); // file never under 45 s
    expect(at(1000, 90).refreshAt).toBe(1030);
    expect(at(1000, 600).refreshAt).toBe(1285); // a GitHub Actions-style 10 min token
    expect(at(1000, 3600).refreshAt).toBe(1000 + 3600 - 330);
    expect(at(1000, 86_400).refreshAt).toBe(1000 + 86_400 - 330);
  });

  it('always leaves more than the pick-up window, with a retry budget of min((L-30)/2, 300) s', () => {
    for (const L of [60, 61, 75, 120, 300, 600, 900, 3600, 43_200, 86_400]) {
      const s = at(0, L);
      const leftAtRefresh = L - s.refreshAt;
      expect(leftAtRefresh).toBeGreaterThan(PICKUP_WINDOW_SECONDS);
      expect(s.deadline - s.refreshAt).toBe(Math.min((L - 30) / 2, 300));
    }
  });

  it('degenerate inputs: very short tokens wait a quarter of their life, unknown obtained_at means "now", no expiry means no rotation', () => {
    expect(at(1000, 20).refreshAt).toBe(1005);
    expect(refreshSchedule({ expiresAt: 2000, obtainedAt: undefined }, 1000)!.refreshAt).toBe(2000 - 30 - 300);
    expect(refreshSchedule({ expiresAt: null, obtainedAt: 1 }, 1000)).toBeUndefined();
  });

  it('retry delays: exponential, capped at 30 s and at half the time the old token has left (min 1 s)', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => retryDelaySeconds(n, 0, 10_000))).toEqual([1, 2, 4, 8, 16, 30, 30, 30]);
    expect(retryDelaySeconds(6, 0, 10)).toBe(5);
    expect(retryDelaySeconds(6, 0, 1)).toBe(1);
    expect(retryDelaySeconds(9, 100, 50)).toBe(MAX_BACKOFF_SECONDS); // already expired: keep trying every 30 s
  });
});

describe('startRotator', () => {
  it('keeps the file holding a token with more than 45 s left, across many 60 s lifetimes', async () => {
    const clock = fakeClock(T0);
    const fs = fakeScheduler(clock);
    const { log } = quietLog();
    let n = 0;
    const written: Array<{ at: number; token: AccessToken }> = [];
    const fetched: number[] = [];
    const r = startRotator({
      initial: tok(sec(T0), 60),
      fetch: async (minTtl) => {
        fetched.push(minTtl);
        return tok(Math.floor(sec(clock.now())), 60, ++n);
      },
      write: (token) => written.push({ at: sec(clock.now()), token }),
      clock,
      log,
      scheduler: fs.scheduler,
    });
    expect(fs.pending()).toEqual([T0 + 15_000]);
    await fs.runUntil(T0 + 5 * 60_000);
    expect(written.length).toBe(20); // every 15 s for 5 min
    // What the file held just before each replacement: never less than 45 s.
    let held = tok(sec(T0), 60);
    for (const w of written) {
      expect(held.expiresAt! - w.at).toBeGreaterThanOrEqual(45);
      held = w.token;
    }
    // Asked for strictly more than the current token has left (46 s when 45 s are left).
    expect(fetched.every((m) => m === 46)).toBe(true);
    expect(r.refreshes).toBe(20);
    expect(r.current().token).toBe(held.token);
    r.stop();
    expect(fs.pending()).toEqual([]);
  });

  it('on failure retries with backoff, reports each attempt, and recovers without ever stopping', async () => {
    const clock = fakeClock(T0);
    const fs = fakeScheduler(clock);
    const { lines, log } = quietLog();
    let fail = 3;
    const attempts: number[] = [];
    const r = startRotator({
      initial: tok(sec(T0), 600),
      fetch: async () => {
        attempts.push(sec(clock.now()) - sec(T0));
        if (fail-- > 0) throw new Error('token endpoint unreachable (sk-ant-oat01-secret never shown here)');
        return tok(Math.floor(sec(clock.now())), 600, 1);
      },
      write: () => {},
      clock,
      log,
      scheduler: fs.scheduler,
    });
    await fs.runUntil(T0 + 300_000);
    expect(attempts).toEqual([285, 286, 288, 292]);
    expect(lines.filter((l) => l.startsWith('warn:'))).toHaveLength(3);
    expect(lines[0]).toMatch(/could not refresh the child's credentials \(attempt 1\): token endpoint unreachable .*the child's token expires in 5m; retrying in 1s/);
    expect(lines[3]).toBe("info: refreshed the child's credentials after 3 failed attempts");
    expect(r.failures).toBe(0);
    expect(r.refreshes).toBe(1);
    r.stop();
  });

  it('keeps retrying after the old token expired, at most every 30 s, and says the child cannot authenticate', async () => {
    const clock = fakeClock(T0);
    const fs = fakeScheduler(clock);
    const { lines, log } = quietLog();
    const attempts: number[] = [];
    const r = startRotator({
      initial: tok(sec(T0), 60),
      fetch: async () => {
        attempts.push(sec(clock.now()) - sec(T0));
        throw new Error('denied');
      },
      write: () => {},
      clock,
      log,
      scheduler: fs.scheduler,
    });
    await fs.runUntil(T0 + 240_000);
    // 15 s (scheduled), then 1, 2, 4, 8 s…, capped by half the time left before expiry at 60 s.
    expect(attempts.slice(0, 5)).toEqual([15, 16, 18, 22, 30]);
    const after = attempts.filter((a) => a > 60);
    for (let i = 1; i < after.length; i++) expect(after[i]! - after[i - 1]!).toBeLessThanOrEqual(30);
    expect(after.length).toBeGreaterThanOrEqual(5);
    expect(lines.some((l) => /expired .* ago and it cannot authenticate until a refresh succeeds/.test(l))).toBe(true);
    expect(r.failures).toBe(attempts.length);
    r.stop();
  });

  it('never spins when the cache keeps answering with a token that is already due', async () => {
    const clock = fakeClock(T0);
    const fs = fakeScheduler(clock);
    const { log } = quietLog();
    const attempts: number[] = [];
    const stale = tok(sec(T0) - 50, 60); // 10 s left: already past its refresh point
    const r = startRotator({
      initial: stale,
      fetch: async () => {
        attempts.push(clock.now() - T0);
        return stale; // the cache keeps answering with the same token
      },
      write: () => {},
      clock,
      log,
      scheduler: fs.scheduler,
    });
    await fs.runUntil(T0 + 5_000);
    expect(attempts).toEqual([1000, 2000, 3000, 4000, 5000]); // once a second, not a busy loop
    r.stop();
  });

  it('stop(): nothing scheduled any more, and an attempt in flight is not written', async () => {
    const clock = fakeClock(T0);
    const fs = fakeScheduler(clock);
    const { log } = quietLog();
    let release!: (t: AccessToken) => void;
    const writes: AccessToken[] = [];
    const r = startRotator({
      initial: tok(sec(T0), 60),
      fetch: () => new Promise<AccessToken>((resolve) => (release = resolve)),
      write: (t) => writes.push(t),
      clock,
      log,
      scheduler: fs.scheduler,
    });
    await fs.runUntil(T0 + 15_000);
    r.stop();
    release(tok(sec(T0) + 15, 60, 1));
    await r.idle();
    expect(writes).toEqual([]);
    expect(fs.pending()).toEqual([]);
    expect(r.nextAt).toBeUndefined();
  });

  it('real timers are unref\'d: a pending refresh never keeps the parent alive', () => {
    const h = realScheduler.set(() => {}, 60_000) as NodeJS.Timeout;
    expect(h.hasRef()).toBe(false);
    realScheduler.clear(h);
  });
});
