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
