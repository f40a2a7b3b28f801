import { closeSync, existsSync, linkSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { Clock } from '../util/clock.js';
import { ensurePrivateDir } from '../util/fsx.js';
import { pidAlive } from '../util/pid.js';
import { isLockFile, locksDir } from './layout.js';
import { WifError } from '../util/errors.js';

interface Owner {
  pid: number;
  host: string;
  nonce: string;
  /** ms since epoch */
  at: number;
}

export interface LockOptions {
  clock: Clock;
  /**
   * Give up waiting after this long. A live holder is never broken for taking long (only a dead,
   * stale or never-written one is): the caller gets `reason: 'timeout'` and decides.
   */
  waitMs: number;
  /** A lock older than this is abandoned even if its pid looks alive (pid reuse, other hosts). */
  staleMs: number;
  /** Polled while waiting: when it returns true the caller no longer needs the lock (the cache was filled). */
  satisfied?: () => boolean;
}

export type LockResult =
  | { acquired: true; release: () => void }
  | { acquired: false; reason: 'satisfied' }
  | { acquired: false; reason: 'timeout'; holderPid: number | undefined };

function readOwner(path: string): Owner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Owner;
    return typeof o.pid === 'number' && typeof o.at === 'number' ? o : undefined;
  } catch {
    return undefined;
  }
}

/** The holder is a live process on this host (a holder on another host cannot be checked). */
function holderAlive(owner: Owner): boolean {
  return owner.host === hostname() && pidAlive(owner.pid);
}

/**
 * An empty or unreadable lock file older than this is abandoned. claude-wif's own lock files are
 * never empty (createLockFile links a complete file into place), so such a file comes from a
 * holder that died between creating and writing it with the O_EXCL fallback, a full disk, or an
 * older release. Before this rule every waiter sat out its whole wait (CLAUDE_WIF_TIMEOUT_MS + 5 s)
 * and then failed, its own deadline spent. File times are wall-clock: compared with Date.now().
 */
export const UNWRITTEN_LOCK_GRACE_MS = 5_000;

function unwrittenAndOld(path: string, graceMs = UNWRITTEN_LOCK_GRACE_MS): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > graceMs;
  } catch {
    return false; // gone: released or broken meanwhile
  }
}

function abandoned(owner: Owner | undefined, now: number, staleMs: number): boolean {
  // An unreadable owner is judged by the file's age instead (unwrittenAndOld).
  if (!owner) return false;
  if (now - owner.at > staleMs) return true;
  // kill -9 of the holder leaves the file behind: a dead pid on this host frees it at once.
  return owner.host === hostname() && !holderAlive(owner);
}

const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/**
 * Creates `path` holding `content` only if it does not exist. The content is written to a private
 * temp file first and hard-linked into place, so the lock file is never seen empty (a waiter that
 * finds it empty cannot tell a holder in the middle of writing from a dead one). Where hard links
 * are not supported, O_EXCL create-then-write. True when created, false when it already exists.
 */
function createLockFile(path: string, content: string, nonce: string): boolean {
  const tmp = `${path}.${nonce}.tmp`;
  try {
    writeFileSync(tmp, content, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    // A full disk creates the file and then fails the write: leave nothing behind (issue 15 item 9).
    try {
      unlinkSync(tmp);
    } catch {
      /* never created */
    }
    throw err;
  }
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (!NO_HARD_LINKS.has(code)) throw err;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
  }
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Cross-process mutual exclusion per cache key, so that concurrent invocations make one exchange
 * (with single-use jti, a second exchange of the same JWT would fail). The lock file holds the
 * owner's pid, host, nonce and time; it survives kill -9 of its holder because waiters free a lock
 * whose pid is dead, whose age passed staleMs, or which stayed empty past a short grace.
 */
export async function acquireLock(path: string, opts: LockOptions): Promise<LockResult> {
  ensurePrivateDir(dirname(path));
  const start = opts.clock.now();
  let delay = 10;
  let ageFallbackAt: number | undefined;
  for (;;) {
    const me: Owner = { pid: process.pid, host: hostname(), nonce: randomBytes(8).toString('hex'), at: opts.clock.now() };
    // Waiters poll often: only try to create when the slot looks free (creating costs a temp file).
    if (!existsSync(path) && createLockFile(path, JSON.stringify(me), me.nonce)) {
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
    }
    if (opts.satisfied?.()) return { acquired: false, reason: 'satisfied' };
    const now = opts.clock.now();
    const owner = readOwner(path);
    if (owner === undefined) ageFallbackAt ??= now;
    const unwritten = owner === undefined && unwrittenAndOld(path);
    if (abandoned(owner, now, opts.staleMs) || unwritten || (ageFallbackAt !== undefined && now - ageFallbackAt > opts.staleMs)) {
      breakLock(path, owner);
      ageFallbackAt = undefined;
      continue;
    }
    // Breaking a live holder's lock for being slow let a second holder in while the first was
    // still exchanging (the kill -9 storm saw chains of waiters do it: many exchanges at once).
    // A live holder is bounded by its own deadline; a waiter that outwaits it gives up instead.
    if (now - start > opts.waitMs) return { acquired: false, reason: 'timeout', holderPid: owner?.pid };
    await opts.clock.sleep(delay + Math.floor(Math.random() * delay));
    delay = Math.min(delay * 2, 100);
  }
}

/**
 * A breaker holds `<lock>.break` for the few microseconds it takes to re-check and remove the
 * lock; one older than this belongs to a breaker that died in between.
 */
const BREAKER_STALE_MS = 5_000;

/**
 * Removes an abandoned lock, as `seen` described it. All waiters notice a dead holder at about the
 * same moment; without coordination one of them could remove the lock another had just taken
 * over, letting two holders in (the kill -9 storm found exactly that: two exchanges at once). So
 * breaking takes its own short O_EXCL lock and re-checks, under it, that the lock is still the one
 * judged abandoned: while it is held no other breaker can remove or replace the lock, and a dead
 * holder cannot release it, so the check stays true until the unlink.
 */
function breakLock(path: string, seen: Owner | undefined): void {
  const breaker = `${path}.break`;
  let fd: number;
  try {
    fd = openSync(breaker, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Someone else is breaking it (look again next round), unless that breaker died mid-way.
    if (unwrittenAndOld(breaker, BREAKER_STALE_MS)) {
      try {
        unlinkSync(breaker);
      } catch {
        /* gone */
      }
    }
    return;
  }
  try {
    closeSync(fd);
    const current = readOwner(path);
    const unchanged = seen === undefined ? current === undefined && existsSync(path) : current?.nonce === seen.nonce;
    if (unchanged) {
      try {
        unlinkSync(path);
      } catch {
        /* released meanwhile */
      }
    }
  } finally {
    try {
      unlinkSync(breaker);
    } catch {
      /* gone */
    }
  }
}

export interface LockEntry {
  path: string;
  pid: number | null;
  age_seconds: number | null;
  /** A live process on this host holds it. */
  held: boolean;
}

/** The lock files in the cache directory and whether a live process holds each (for `cache list`, `cache clear` and doctor). */
export function listLocks(cacheDir: string, nowMs: number): LockEntry[] {
  const dir = locksDir(cacheDir);
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter(isLockFile);
  } catch {
    return [];
  }
  return names.sort().map((n) => {
    const path = join(dir, n);
    try {
      const o = JSON.parse(readFileSync(path, 'utf8')) as { pid?: number; host?: string; at?: number };
      const pid = typeof o.pid === 'number' ? o.pid : null;
      return { path, pid, age_seconds: typeof o.at === 'number' ? Math.round((nowMs - o.at) / 1000) : null, held: pid !== null && typeof o.host === 'string' && holderAlive({ pid, host: o.host, nonce: '', at: 0 }) };
    } catch {
      let age: number | null = null;
      try {
        age = Math.round((nowMs - statSync(path).mtimeMs) / 1000);
      } catch {
        /* gone */
      }
      return { path, pid: null, age_seconds: age, held: false };
    }
  });
}

/** Errors of a cache directory that cannot be written: read-only, full, over quota, not permitted. */
const UNWRITABLE = new Set(['EROFS', 'ENOSPC', 'EDQUOT', 'EACCES', 'EPERM']);

/**
 * A filesystem error from the locks or the single-use ledger as cache_unwritable (exit 6), or
 * undefined for anything else. Without them claude-wif cannot promise that an assertion is sent
 * at most once, so it does not exchange; a cached token is still served (that needs no write).
 */
export function cacheUnwritable(err: unknown, cacheDir: string): WifError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (!code || !UNWRITABLE.has(code)) return undefined;
  const why = code === 'EROFS' ? 'is on a read-only filesystem' : code === 'ENOSPC' ? 'is on a full filesystem' : code === 'EDQUOT' ? 'is over its disk quota' : 'cannot be written by this user';
  return new WifError('cache_unwritable', `the cache directory ${cacheDir} ${why} (${code}): claude-wif needs it for its lock and single-use ledger before it sends an assertion, so it did not exchange; nothing was left behind`, {
    hint: 'point CLAUDE_WIF_CACHE_DIR at a writable private directory (in a container with a read-only root filesystem, an emptyDir or tmpfs mount), or free space; a cached token that is still fresh is served meanwhile',
    details: { path: cacheDir, errno: code },
  });
}
