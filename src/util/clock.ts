/** The one injectable clock. Tests pass a fake; nothing in the core calls Date.now() directly. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  // Never unref'd: a process waiting on a lock or backing off before a retry may have nothing
  // else keeping it alive, and would otherwise exit 0 without printing anything.
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

export const nowSeconds = (clock: Clock): number => Math.floor(clock.now() / 1000);

/**
 * ISO 8601 for unix seconds, or undefined when no Date can hold them (beyond ±8.64e12 s, or not
 * finite). Times come from JWT claims, cache files and token endpoints, none of which we control:
 * `new Date(x).toISOString()` throws a RangeError on them, and that was a crash (exit 1) found by
 * test/unit/fuzz.test.ts (a JWT with "exp": -8640000000000.001).
 */
export function isoTime(seconds: number): string | undefined {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** isoTime for messages: the number itself when it is out of range. */
export const describeTime = (seconds: number): string => isoTime(seconds) ?? `${seconds} (out of range)`;
