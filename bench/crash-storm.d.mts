// Types for bench/crash-storm.mjs, which test/e2e/crash-storm.test.ts runs with a smaller N.
export interface CrashStormOptions {
  n?: number;
  holderKills?: number;
  randomKills?: number;
  seed?: number;
  identityDelayMs?: number;
  exchangeDelayMs?: number;
  timeoutMs?: number;
  startSandbox?: (opts: { port: number }) => Promise<unknown>;
}

export interface CrashStormResult {
  name: string;
  n: number;
  killed: number;
  holders_killed: number;
  holders_killed_identity: number;
  holders_killed_exchange: number;
  holders_killed_random: number;
  waiters_killed: number;
  exchanges: number;
  exchanges_ok: number;
  identity_requests: number;
  survivors: number;
  survivors_ok: number;
  distinct_tokens: number;
  max_survivor_ms: number;
  lock_wait_ms: number;
  per_survivor: { median: number; p90: number };
  wall_ms: number;
  cache: string;
  files: number;
  weak_files: number;
  temp_files: number;
  lock_temp_files: number;
  stale_lock_files: number;
  problems: string[];
  timeline: unknown;
  pass: boolean;
  summary: string;
}

export function crashStorm(opts?: CrashStormOptions): Promise<CrashStormResult>;
