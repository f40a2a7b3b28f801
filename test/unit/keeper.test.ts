import { describe, expect, it } from 'vitest';
import type { AccessToken, GetTokenOptions } from '../../src/core/credentials.js';
import { rotationInterval, MAX_ROTATION_SECONDS, MIN_ROTATION_SECONDS } from '../../src/run/federation.js';
import { startKeeper } from '../../src/run/keeper.js';
import type { Scheduler } from '../../src/run/rotator.js';
import { fakeClock } from '../helpers/cli.js';

const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);
const tok = (obtainedAt: number, lifetime: number, n: number): AccessToken => ({
  token: `sk-ant-oat01-keeper${n}`,
  expiresAt: obtainedAt + lifetime,
  obtainedAt,
  fromCache: false,
  cachePath: '/x',
});

function harness(lifetime = 60) {
  const clock = fakeClock(T0);
  const timers = new Map<number, { fn: () => void; due: number }>();
  let seq = 0;
  const scheduler: Scheduler = {
    set(fn, ms) {
      timers.set(++seq, { fn, due: clock.now() + ms });
      return seq;
    },
    clear(h) {
      timers.delete(h as number);
    },
  };
  let n = 0;
  const fetches: GetTokenOptions[] = [];
  let gate: Promise<void> | undefined;
  const fetch = async (o: GetTokenOptions) => {
    fetches.push(o);
    await gate;
    return tok(Math.floor(clock.now() / 1000), lifetime, ++n);
  };
  const updates: Array<[string, string]> = [];
  const keeper = startKeeper({
    initial: tok(T0 / 1000, lifetime, 0),
    fetch,
    clock,
    log: { debug() {}, info() {}, warn() {} },
    scheduler,
    onUpdate: (t, how) => updates.push([t.token.slice(-7), how]),
  });
  const runUntil = async (ms: number) => {
    for (;;) {
      const next = [...timers.entries()].sort((a, b) => a[1].due - b[1].due)[0];
      if (!next || next[1].due > ms) break;
      timers.delete(next[0]);
      clock.set(Math.max(clock.now(), next[1].due));
      next[1].fn();
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    }
    clock.set(Math.max(clock.now(), ms));
  };
  return { clock, keeper, fetches, updates, runUntil, setGate: (p: Promise<void> | undefined) => (gate = p) };
}

describe('token keeper', () => {
  it('refreshes on the rotator schedule and reports each new token once', async () => {
    const h = harness(60);
    await h.runUntil(T0 + 100_000);
    // A 60 s token is replaced at age 15 s: 0 → 15 → 30 → … within 100 s.
    expect(h.keeper.refreshes).toBeGreaterThanOrEqual(6);
    expect(h.updates.every(([, how]) => how === 'scheduled')).toBe(true);
    expect(new Set(h.updates.map(([t]) => t)).size).toBe(h.updates.length);
    h.keeper.stop();
  });

  it('fresh(): the current token when it is good enough, else one fetch shared by every caller', async () => {
    const h = harness(60);
    expect(await h.keeper.fresh(10)).toBe(h.keeper.current());
    expect(h.fetches).toHaveLength(0);
    let open!: () => void;
    h.setGate(new Promise<void>((r) => (open = r)));
    const all = Promise.all([h.keeper.fresh(100), h.keeper.fresh(100), h.keeper.fresh(100)]);
    open();
    const got = await all;
    expect(h.fetches).toEqual([{ minTtl: 100 }]);
    expect(new Set(got.map((t) => t.token)).size).toBe(1);
    expect(h.keeper.current().token).toBe(got[0]!.token);
    expect(h.updates).toEqual([['keeper1', 'on-demand']]);
    h.keeper.stop();
  });

  it('replace(): one forced exchange for every request that saw the same token refused; an older token just gets the current one', async () => {
    const h = harness(600);
    const stale = h.keeper.current();
    const [a, b] = await Promise.all([h.keeper.replace(stale), h.keeper.replace(stale)]);
    expect(h.fetches).toEqual([{ forceRefresh: true }]);
    expect(a.token).toBe(b.token);
    expect(a.token).not.toBe(stale.token);
    const again = await h.keeper.replace(stale);
    expect(again.token).toBe(a.token);
    expect(h.fetches).toHaveLength(1);
    expect(h.updates).toEqual([['keeper1', 'forced']]);
    h.keeper.stop();
  });

  it('a scheduled refresh after an on-demand one reuses it instead of fetching again', async () => {
    const h = harness(60);
    h.clock.set(T0 + 5_000);
    await h.keeper.fresh(58); // on demand at T0+5: a new token until T0+65
    await h.runUntil(T0 + 15_500); // the initial token's schedule fires: what the keeper holds is already better
    expect(h.fetches).toEqual([{ minTtl: 58 }]);
    h.keeper.stop();
  });
});

describe('federation: rotation interval of the child\'s identity file', () => {
  it('rotates at least twice per child refresh and four times per JWT life, within [5 s, 60 s]', () => {
    // 60 s tokens: the SDK refreshes on calls (always inside its 120 s window): a quarter of L, halved.
    expect(rotationInterval(60, 300)).toBe(7.5);
    // GitHub Actions: 5 min JWT → ≤ 10 min tokens: bounded by the JWT (300/4 = 75) and the 60 s cap.
    expect(rotationInterval(600, 300)).toBe(MAX_ROTATION_SECONDS);
    expect(rotationInterval(3600, 3600)).toBe(MAX_ROTATION_SECONDS);
    expect(rotationInterval(200, 3600)).toBe(40); // refreshed every 80 s → every 40 s
    expect(rotationInterval(60, 12)).toBe(MIN_ROTATION_SECONDS);
    expect(rotationInterval(undefined, undefined)).toBe(MAX_ROTATION_SECONDS);
  });
});
