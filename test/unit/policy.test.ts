import { describe, expect, it } from 'vitest';
import { isFresh, refreshWindows } from '../../src/cache/policy.js';

describe('refresh windows', () => {
  it('match the SDKs (30 s / 120 s) for long tokens', () => {
    expect(refreshWindows(3600)).toEqual({ mandatory: 30, advisory: 120 });
  });

  it('scale down so a 60 s token is not "always stale"', () => {
    const w = refreshWindows(60);
    expect(w.mandatory).toBeLessThan(30);
    expect(w.advisory).toBeLessThan(60);
    expect(isFresh({ expiresAt: 1060, obtainedAt: 1000 }, 1030)).toBe(true);
    expect(isFresh({ expiresAt: 1060, obtainedAt: 1000 }, 1050)).toBe(false);
  });

  it('honours --min-ttl and treats a missing expiry as fresh (as the SDKs do)', () => {
    expect(isFresh({ expiresAt: 2000, obtainedAt: 0 }, 1000, 1200)).toBe(false);
    expect(isFresh({ expiresAt: null }, 1000)).toBe(true);
    expect(isFresh({ expiresAt: 1040 }, 1000)).toBe(true);
    expect(isFresh({ expiresAt: 1030 }, 1000)).toBe(false);
  });
});
