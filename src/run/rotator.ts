import type { AccessToken } from '../core/credentials.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { describeAge } from '../util/jwt.js';

/**
 * Keeps a sidecar credentials file fresh for a child that may run for hours.
 *
 * Readers of the file (spec §4–§5):
 * - Claude Code keeps the token it holds while more than ~30 s remain and re-reads the file once
 *   the token is inside its last 30 s: the next token must be in the file before that moment.
 * - The SDKs re-read the file inside their refresh window (≤ 120 s left, in the background) and
 *   must find a token with more than 30 s left when they re-read it in the mandatory window
 *   (≤ 30 s), or the call fails.
 * So the file must always hold a token with comfortably more than 30 s left. The schedule:
 *
 *   lifetime L = expires_at − obtained_at
 *   lead       = 30 + min((L − 30) / 2, 300)          seconds before expiry
 *   refresh at max(expires_at − lead, obtained_at + L / 4)
 *
 * i.e. halfway through the part of the token's life that precedes the 30 s pick-up window, but
 * never more than 5 min + 30 s ahead. A 60 s token is replaced at age 15 s (the file never holds
 * less than 45 s); a 10 min GitHub-style token at 4 min 45 s; a 1 h token at 54 min 30 s. The
 * part of the lead beyond 30 s is the retry budget: on failure the rotator retries with
 * exponential backoff (1 s, 2 s, 4 s … at most 30 s, and at most half the time the old token has
 * left, so retries get denser as expiry nears), reports every failure on stderr and keeps going
 * after the old token expired — the child is never killed for it; it just cannot authenticate
 * until a refresh succeeds.
 */

/** Claude Code's pick-up window and the SDKs' mandatory refresh threshold, in seconds. */
export const PICKUP_WINDOW_SECONDS = 30;
/** The retry budget is capped: long-lived tokens are replaced 5 min 30 s before they expire. */
export const MAX_RETRY_BUDGET_SECONDS = 300;
export const MAX_BACKOFF_SECONDS = 30;
/**
 * The first token handed to a reader that keeps running (an exec sidecar child, the agent's
 * consumers) must outlast the 30 s pick-up window with room to spare: a file token with ≤ 30 s
 * left is refused by the SDKs' user_oauth reader. Anything shorter is exchanged again first.
 */
export const FIRST_TOKEN_MIN_TTL_SECONDS = PICKUP_WINDOW_SECONDS + 10;

export interface Schedule {
  /** Unix seconds (fractional) at which to fetch the next token. */
  refreshAt: number;
  /** Unix seconds at which the current token enters the 30 s pick-up window. */
  deadline: number;
  lifetime: number;
}

/** When to replace `token`; `now` (seconds) stands in for an unknown obtained_at. */
export function refreshSchedule(token: Pick<AccessToken, 'expiresAt' | 'obtainedAt'>, now: number): Schedule | undefined {
  if (token.expiresAt === null) return undefined; // no expiry: nothing to rotate
  const obtained = token.obtainedAt !== undefined && token.obtainedAt <= token.expiresAt ? token.obtainedAt : Math.min(now, token.expiresAt);
  const lifetime = Math.max(0, token.expiresAt - obtained);
  const lead = PICKUP_WINDOW_SECONDS + Math.min(Math.max(0, lifetime - PICKUP_WINDOW_SECONDS) / 2, MAX_RETRY_BUDGET_SECONDS);
  return {
    refreshAt: Math.max(token.expiresAt - lead, obtained + lifetime / 4),
    deadline: token.expiresAt - PICKUP_WINDOW_SECONDS,
    lifetime,
  };
}

/** Delay before retry number `attempt` (1-based) when the current token expires at `expiresAt`. */
export function retryDelaySeconds(attempt: number, now: number, expiresAt: number | null): number {
  const exponential = Math.min(2 ** Math.max(0, attempt - 1), MAX_BACKOFF_SECONDS);
  if (expiresAt === null || expiresAt <= now) return exponential;
  return Math.max(1, Math.min(exponential, (expiresAt - now) / 2));
}

export interface Scheduler {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** setTimeout, unref'd: a pending refresh never keeps the parent alive after the child exited. */
export const realScheduler: Scheduler = {
  set(fn, ms) {
    const t = setTimeout(fn, Math.min(Math.max(0, ms), 2 ** 31 - 1));
    t.unref();
    return t;
  },
  clear(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

export interface RotatorOptions {
  /** The token the file holds now. */
  initial: AccessToken;
  /**
   * Fetches a token with more than `minTtl` seconds left: the cache when another process already
   * refreshed it, else one exchange under the cross-process lock (getAccessToken).
   */
  fetch(minTtl: number): Promise<AccessToken>;
  /** Atomically replaces the credentials file. */
  write(token: AccessToken): void;
  clock: Clock;
  log: Pick<Logger, 'debug' | 'info' | 'warn'>;
  scheduler?: Scheduler;
}

export interface Rotator {
  current(): AccessToken;
  /** Successful replacements so far. */
  readonly refreshes: number;
  /** Consecutive failures since the last success. */
  readonly failures: number;
  /** Unix seconds of the next attempt (undefined once stopped). */
  readonly nextAt: number | undefined;
  /** Stops scheduling; an attempt in flight is abandoned (its result is not written). */
  stop(): void;
  /** Resolves when the attempt in flight (if any) has settled; for tests. */
  idle(): Promise<void>;
}

export function startRotator(opts: RotatorOptions): Rotator {
  const scheduler = opts.scheduler ?? realScheduler;
  const nowSec = () => opts.clock.now() / 1000;
  let current = opts.initial;
  let refreshes = 0;
  let failures = 0;
  let stopped = false;
  let handle: unknown;
  let nextAt: number | undefined;
  let inFlight: Promise<void> | undefined;

  const schedule = (at: number): void => {
    if (stopped) return;
    nextAt = at;
    handle = scheduler.set(fire, Math.max(0, (at - nowSec()) * 1000));
  };

  const scheduleFor = (token: AccessToken): void => {
    const s = refreshSchedule(token, nowSec());
    if (!s) {
      opts.log.debug('the token has no expiry: the credentials file is not rotated');
      nextAt = undefined;
      return;
    }
    // Never spin: at least a second between attempts, even for a token that is already due.
    schedule(Math.max(s.refreshAt, nowSec() + 1));
  };

  function fire(): void {
    handle = undefined;
    if (stopped) return;
    // Timers can fire early or the clock can jump (suspend/resume): recheck against the clock.
    if (nextAt !== undefined && nowSec() + 0.001 < nextAt && failures === 0) {
      schedule(nextAt);
      return;
    }
    inFlight = attempt().finally(() => {
      inFlight = undefined;
    });
  }

  async function attempt(): Promise<void> {
    const now = nowSec();
    const left = current.expiresAt === null ? Infinity : current.expiresAt - now;
    // Ask for something strictly better than what the child has: a token refreshed by another
    // process is taken from the cache, otherwise this is one exchange under the lock.
    const minTtl = Math.min(86_400, Math.max(0, Math.ceil(Number.isFinite(left) ? left : 0)) + 1);
    let next: AccessToken;
    try {
      next = await opts.fetch(minTtl);
      if (stopped) return;
      opts.write(next);
    } catch (err) {
      if (stopped) return;
      failures++;
      const t = nowSec();
      const delay = retryDelaySeconds(failures, t, current.expiresAt);
      const remaining = current.expiresAt === null ? undefined : current.expiresAt - t;
      const state =
        remaining === undefined
          ? ''
          : remaining > 0
            ? `; the child's token expires in ${describeAge(remaining)}`
            : `; the child's token expired ${describeAge(-remaining)} ago and it cannot authenticate until a refresh succeeds`;
      opts.log.warn(`could not refresh the child's credentials (attempt ${failures}): ${(err as Error).message}${state}; retrying in ${describeAge(delay)}`);
      schedule(t + delay);
      return;
    }
    if (failures > 0) opts.log.info(`refreshed the child's credentials after ${failures} failed attempt${failures === 1 ? '' : 's'}`);
    failures = 0;
    refreshes++;
    current = next;
    const s = refreshSchedule(next, nowSec());
    opts.log.debug(
      `credentials file refreshed (${next.fromCache ? 'from the cache' : 'new exchange'}): token expires in ${describeAge((next.expiresAt ?? 0) - nowSec())}${s ? `, next refresh in ${describeAge(Math.max(1, s.refreshAt - nowSec()))}` : ''}`,
    );
    scheduleFor(next);
  }

  scheduleFor(current);

  return {
    current: () => current,
    get refreshes() {
      return refreshes;
    },
    get failures() {
      return failures;
    },
    get nextAt() {
      return stopped ? undefined : nextAt;
    },
    stop() {
      stopped = true;
      nextAt = undefined;
      if (handle !== undefined) scheduler.clear(handle);
      handle = undefined;
    },
    async idle() {
      await inFlight;
    },
  };
}
