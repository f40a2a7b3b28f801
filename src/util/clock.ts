/** The one injectable clock. Tests pass a fake; nothing in the core calls Date.now() directly. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref?.()),
};

export const nowSeconds = (clock: Clock): number => Math.floor(clock.now() / 1000);
