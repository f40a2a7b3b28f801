/**
 * Refresh windows scaled to the token's lifetime. The SDKs use fixed 30 s (mandatory) and 120 s
 * (advisory) windows, which cover the whole life of a 60 s token: a 60 s token would always be
 * "stale". Here the mandatory window is a quarter of the lifetime capped at 30 s (never under 5 s)
 * and the advisory window half of it capped at 120 s.
 */
export interface Windows {
  mandatory: number;
  advisory: number;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

export function refreshWindows(lifetimeSeconds: number | undefined): Windows {
  if (!lifetimeSeconds || !Number.isFinite(lifetimeSeconds) || lifetimeSeconds <= 0) return { mandatory: 30, advisory: 120 };
  const mandatory = Math.round(clamp(lifetimeSeconds / 4, 5, 30));
  const advisory = Math.round(clamp(lifetimeSeconds / 2, mandatory, 120));
  return { mandatory, advisory };
}

export interface TokenTimes {
  expiresAt: number | null;
  obtainedAt?: number | undefined;
}

/** Seconds a cached token must still have left to be handed out. */
export function requiredRemaining(t: TokenTimes, minTtl = 0): number {
  const lifetime = t.expiresAt !== null && t.obtainedAt !== undefined ? t.expiresAt - t.obtainedAt : undefined;
  return Math.max(refreshWindows(lifetime).mandatory, minTtl);
}

export function isFresh(t: TokenTimes, nowSeconds: number, minTtl = 0): boolean {
  if (t.expiresAt === null) return true; // no expiry recorded: the SDKs cache such tokens forever
  return t.expiresAt - nowSeconds > requiredRemaining(t, minTtl);
}
