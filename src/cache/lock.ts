import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import type { Clock } from '../util/clock.js';
import { ensurePrivateDir } from '../util/fsx.js';

interface Owner {
  pid: number;
  host: string;
  nonce: string;
  /** ms since epoch */
  at: number;
}

export interface LockOptions {
  clock: Clock;
  /** Give up waiting after this long (then the lock is treated as abandoned). */
  waitMs: number;
  /** A lock older than this is abandoned even if its pid looks alive (pid reuse, other hosts). */
  staleMs: number;
  /** Polled while waiting: when it returns true the caller no longer needs the lock (the cache was filled). */
  satisfied?: () => boolean;
}

export type LockResult = { acquired: true; release: () => void } | { acquired: false; reason: 'satisfied' };

function readOwner(path: string): Owner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Owner;
    return typeof o.pid === 'number' && typeof o.at === 'number' ? o : undefined;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function abandoned(owner: Owner | undefined, now: number, staleMs: number): boolean {
  // An unreadable owner is a holder caught between create and write; only age can free it.
  if (!owner) return false;
  if (now - owner.at > staleMs) return true;
  // kill -9 of the holder leaves the file behind: a dead pid on this host frees it at once.
  return owner.host === hostname() && !pidAlive(owner.pid);
}

/**
 * Cross-process mutual exclusion per cache key, so that concurrent invocations make one exchange
 * (with single-use jti, a second exchange of the same JWT would fail). An O_EXCL lock file holds
 * the owner's pid, host, nonce and time; it survives kill -9 of its holder because waiters free
 * a lock whose pid is dead or whose age passed staleMs.
 */
export async function acquireLock(path: string, opts: LockOptions): Promise<LockResult> {
  ensurePrivateDir(dirname(path));
  const start = opts.clock.now();
  let delay = 10;
  let ageFallbackAt: number | undefined;
  for (;;) {
    const me: Owner = { pid: process.pid, host: hostname(), nonce: randomBytes(8).toString('hex'), at: opts.clock.now() };
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, JSON.stringify(me));
      } finally {
        closeSync(fd);
      }
      return {
        acquired: true,
        release: () => {
          // Only remove the lock if it is still ours (a waiter may have judged us abandoned).
          if (readOwner(path)?.nonce === me.nonce) {
            try {
              unlinkSync(path);
            } catch {
              /* already gone */
            }
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (opts.satisfied?.()) return { acquired: false, reason: 'satisfied' };
    const now = opts.clock.now();
    const owner = readOwner(path);
    if (owner === undefined) ageFallbackAt ??= now;
    const timedOut = now - start > opts.waitMs;
    if (abandoned(owner, now, opts.staleMs) || timedOut || (ageFallbackAt !== undefined && now - ageFallbackAt > opts.staleMs)) {
      breakLock(path, owner);
      ageFallbackAt = undefined;
      continue;
    }
    await opts.clock.sleep(delay + Math.floor(Math.random() * delay));
    delay = Math.min(delay * 2, 100);
  }
}

/** Moves an abandoned lock aside; only the waiter whose rename wins removes it, others just retry. */
function breakLock(path: string, seen: Owner | undefined): void {
  const aside = `${path}.${randomBytes(6).toString('hex')}.stale`;
  try {
    renameSync(path, aside);
  } catch {
    return; // someone else broke or released it
  }
  const moved = readOwner(aside);
  if (seen && moved && moved.nonce !== seen.nonce) {
    // Between our look and our rename the lock changed hands: put the live one back if the slot is free.
    try {
      renameSync(aside, path);
      return;
    } catch {
      /* fall through */
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    /* ignore */
  }
}
