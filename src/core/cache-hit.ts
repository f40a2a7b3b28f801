import { readPlanCredentials, type CachedToken } from '../cache/file-store.js';
import { isFresh } from '../cache/policy.js';
import { nowSeconds, type Clock } from '../util/clock.js';
import type { Plan } from './resolve.js';

export interface AccessToken {
  token: string;
  /** Unix seconds, or null when the source recorded no expiry. */
  expiresAt: number | null;
  obtainedAt?: number | undefined;
  obtainedAtMs?: number | undefined;
  scope?: string | undefined;
  fromCache: boolean;
  cachePath: string;
}

export const fromCached = (c: CachedToken, path: string): AccessToken => ({
  token: c.accessToken,
  expiresAt: c.expiresAt,
  obtainedAt: c.obtainedAt,
  obtainedAtMs: c.obtainedAtMs,
  scope: c.scope,
  fromCache: true,
  cachePath: path,
});

/** Where a token is read from when it is not the plan's credentials file (the OS keyring). */
export interface TokenSource {
  location: string;
  read(): CachedToken | undefined;
}

/** A cached token usable for this plan right now, without locking or network: the hot path. */
export function cachedToken(plan: Plan, deps: { clock: Clock }, minTtl = 0, store?: TokenSource): AccessToken | undefined {
  const c = store ? store.read() : readPlanCredentials(plan.cache);
  if (!c) return undefined;
  if (plan.kind === 'oidc_federation' && c.key !== undefined && c.key !== plan.cache.key) return undefined;
  return isFresh(c, nowSeconds(deps.clock), minTtl) ? fromCached(c, store?.location ?? plan.cache.path) : undefined;
}
