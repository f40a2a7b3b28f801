import type { AccessToken, GetTokenOptions } from '../core/credentials.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { startRotator, type Rotator, type Scheduler } from './rotator.js';

/**
 * One profile's current access token, kept fresh in the background, for everything in this
 * process that needs it: the proxy (a token per forwarded request), the agent's sidecar files,
 * exec's sidecar file.
 *
 * - Background refresh follows the rotator's schedule (rotator.ts): the next token is fetched
 *   well before the current one enters its last 30 s, with retries and backoff on failure.
 * - `fresh()` is for a caller that cannot wait for the schedule (the background refresh kept
 *   failing and the token is nearly gone): one fetch, shared by every concurrent caller.
 * - `replace()` is for "the API refused this token" (a 401): one forced exchange, shared by every
 *   request that saw the same token refused; a request that saw an older token just gets the
 *   current one.
 * Every fetch goes through the core's getAccessToken, so across processes there is still one
 * exchange per cache key (lock + cache), and a token another process refreshed is reused.
 */

export interface KeeperOptions {
  initial: AccessToken;
  fetch(opts: GetTokenOptions): Promise<AccessToken>;
  clock: Clock;
  log: Pick<Logger, 'debug' | 'info' | 'warn'>;
  scheduler?: Scheduler;
  /** Called with every new token (a sink writes its file here); a throw counts as a failed refresh. */
  onUpdate?(token: AccessToken, how: 'scheduled' | 'on-demand' | 'forced'): void;
}

export interface TokenKeeper {
  current(): AccessToken;
  /** A token with more than `minTtl` seconds left: the current one, else one shared fetch. */
  fresh(minTtl: number): Promise<AccessToken>;
  /** The upstream refused `stale`: a forced exchange unless the token was already replaced. */
  replace(stale: AccessToken): Promise<AccessToken>;
  /** Successful refreshes (scheduled, on demand and forced). */
  readonly refreshes: number;
  /** Consecutive failed scheduled refreshes. */
  readonly failures: number;
  /** Unix seconds of the next scheduled attempt. */
  readonly nextAt: number | undefined;
  /** ms (clock) when a refresh attempt started and has not finished yet, else undefined. */
  readonly busySince: number | undefined;
  stop(): void;
  idle(): Promise<void>;
}

export function startKeeper(opts: KeeperOptions): TokenKeeper {
  let current = opts.initial;
  let refreshes = 0;
  let pending: Promise<AccessToken> | undefined;
  let forcing: Promise<AccessToken> | undefined;
  let busySince: number | undefined;
  let stopped = false;
  const nowSec = () => opts.clock.now() / 1000;

  const adopt = (t: AccessToken, how: 'scheduled' | 'on-demand' | 'forced'): void => {
    if (t.token === current.token && t.expiresAt === current.expiresAt) return;
    current = t;
    refreshes++;
    opts.onUpdate?.(t, how);
  };

  const rotator: Rotator = startRotator({
    initial: opts.initial,
    fetch: async (minTtl) => {
      busySince = opts.clock.now();
      try {
        // Something better may already be here (an on-demand or forced refresh): no fetch at all.
        if (current.expiresAt === null || current.expiresAt - nowSec() > minTtl) return current;
        return await opts.fetch({ minTtl });
      } finally {
        busySince = undefined;
      }
    },
    write: (t) => adopt(t, 'scheduled'),
    clock: opts.clock,
    log: opts.log,
    ...(opts.scheduler ? { scheduler: opts.scheduler } : {}),
  });

  const shared = (slot: 'pending' | 'forcing', run: () => Promise<AccessToken>, how: 'on-demand' | 'forced'): Promise<AccessToken> => {
    const existing = slot === 'pending' ? pending : forcing;
    if (existing) return existing;
    const p = run()
      .then((t) => {
        if (!stopped) adopt(t, how);
        return t;
      })
      .finally(() => {
        if (slot === 'pending') pending = undefined;
        else forcing = undefined;
      });
    if (slot === 'pending') pending = p;
    else forcing = p;
    return p;
  };

  return {
    current: () => current,
    fresh(minTtl) {
      if (current.expiresAt === null || current.expiresAt - nowSec() > minTtl) return Promise.resolve(current);
      return shared('pending', () => opts.fetch({ minTtl }), 'on-demand');
    },
    replace(stale) {
      if (stale.token !== current.token) return Promise.resolve(current);
      return shared('forcing', () => opts.fetch({ forceRefresh: true }), 'forced');
    },
    get refreshes() {
      return refreshes;
    },
    get failures() {
      return rotator.failures;
    },
    get nextAt() {
      return rotator.nextAt;
    },
    get busySince() {
      return busySince;
    },
    stop() {
      stopped = true;
      rotator.stop();
    },
    async idle() {
      await rotator.idle();
      await Promise.allSettled([pending, forcing]);
    },
  };
}
