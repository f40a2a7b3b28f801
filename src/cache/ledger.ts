import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { WifError } from '../util/errors.js';
import { ensurePrivateDir } from '../util/fsx.js';
import { LEEWAY_SECONDS } from '../protocol.js';
import { describeAge } from '../util/jwt.js';
import { pidAlive } from '../util/pid.js';
import { ledgerDir, ledgerEntryPath, ledgerRoot } from './layout.js';

/**
 * Assertions that may have reached a token endpoint, per issuer: one small file per assertion id,
 * created with O_EXCL so that "check and record" is one atomic step across processes. Entries live
 * until the JWT's exp plus the server's leeway, after which the server would refuse the JWT anyway.
 *
 * Single use, told truthfully (issue 15 item 11): an entry is written just before the assertion
 * is sent and says what happened to it afterwards. One that provably never left this machine
 * (refused locally, connection refused) is removed again, so it is not counted as spent. One the
 * endpoint refused (401/403/invalid_grant) may be sent again when the configuration changed or
 * when the user asks for it (`cache forget`), because a refusal does not consume it.
 */
/** What happened to an assertion, as recorded. */
export interface LedgerEntry {
  /** Forget the entry after this (unix seconds): the JWT's exp plus the server's leeway. */
  exp: number;
  /** When it was (about to be) sent, unix seconds. */
  used_at: number;
  /** 'sending' until the outcome is known; a process killed mid-send leaves it so. */
  state?: 'sending' | 'accepted' | 'refused' | 'failed' | 'no_answer';
  /** HTTP status of the answer, when one came. */
  status?: number;
  /** The error code of the outcome (exchange_denied, endpoint_timeout, …). */
  code?: string;
  /** The plan key (a hash of the configuration) it was sent with. */
  key?: string;
  pid?: number;
  host?: string;
}

export interface Outcome {
  state: 'accepted' | 'refused' | 'failed' | 'no_answer';
  status?: number | undefined;
  code?: string | undefined;
}

export interface Reservation {
  /** Undo: the assertion provably never reached the server (refused locally, connection refused). */
  release(): void;
  /** Records what happened once it may have reached the server. */
  record(outcome: Outcome): void;
}

export interface ReserveOptions {
  cacheDir: string;
  issuer: string | undefined;
  assertionId: string;
  /** The JWT's exp. */
  exp: number;
  nowSeconds: number;
  hasJti: boolean;
  mintsOnDemand: boolean;
  /** The plan key: a refusal under another configuration does not block this one. */
  key: string;
}

function readEntry(file: string): LedgerEntry | undefined {
  try {
    const e = JSON.parse(readFileSync(file, 'utf8')) as LedgerEntry;
    return e && typeof e === 'object' ? e : undefined;
  } catch {
    return undefined;
  }
}

function writeEntry(file: string, entry: LedgerEntry): void {
  // Replaced whole (temp + rename) so a reader never sees half an entry.
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, JSON.stringify(entry));
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** A refusal by the endpoint: the assertion was looked at and turned down, not consumed. */
const isRefusal = (e: LedgerEntry | undefined): boolean => e?.state === 'refused';

export function reserveAssertion(o: ReserveOptions): Reservation {
  const dir = ledgerDir(o.cacheDir, o.issuer);
  ensurePrivateDir(dir);
  prune(dir, o.nowSeconds);
  const file = ledgerEntryPath(o.cacheDir, o.issuer, o.assertionId);
  const entry: LedgerEntry = { exp: o.exp + LEEWAY_SECONDS, used_at: o.nowSeconds, state: 'sending', key: o.key, pid: process.pid, host: hostname() };
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const seen = readEntry(file);
    // Refused under another configuration: the user changed something (a rule id, a service
    // account), so it may be sent once more. Taken over by rename-then-create, so two processes
    // deciding this at once still send it only once.
    if (isRefusal(seen) && seen!.key !== o.key && takeOver(file, seen!)) {
      try {
        fd = openSync(file, 'wx', 0o600);
      } catch (again) {
        if ((again as NodeJS.ErrnoException).code !== 'EEXIST') throw again;
        throw replayed(readEntry(file), o);
      }
    } else {
      throw replayed(seen, o);
    }
  }
  try {
    writeSync(fd, JSON.stringify(entry));
  } catch (err) {
    // A full disk: nothing was sent, so nothing may stay recorded as spent (issue 15 item 9).
    closeSync(fd);
    try {
      unlinkSync(file);
    } catch {
      /* gone */
    }
    throw err;
  }
  closeSync(fd);
  let done = false;
  return {
    release() {
      if (done) return;
      done = true;
      try {
        unlinkSync(file);
      } catch {
        /* gone */
      }
    },
    record(outcome) {
      if (done) return;
      done = true;
      try {
        writeEntry(file, { ...entry, state: outcome.state, ...(outcome.status !== undefined ? { status: outcome.status } : {}), ...(outcome.code ? { code: outcome.code } : {}) });
      } catch {
        // The 'sending' entry stays: still counted as spent, which is the safe side.
      }
    },
  };
}

/**
 * Removes `file` if it still holds the refusal `seen`, under a short O_EXCL mutex so that of several
 * processes deciding to re-send it at once, one removes it (and they then race, fairly, on O_EXCL).
 */
function takeOver(file: string, seen: LedgerEntry): boolean {
  const mutex = `${file}.takeover`;
  let fd: number;
  try {
    fd = openSync(mutex, 'wx', 0o600);
  } catch {
    // Another process is taking it over right now (or died doing so: cleared after a while).
    try {
      if (Date.now() - statSync(mutex).mtimeMs > 10_000) unlinkSync(mutex);
    } catch {
      /* gone */
    }
    return false;
  }
  try {
    closeSync(fd);
    const now = readEntry(file);
    if (!now || now.state !== 'refused' || now.used_at !== seen.used_at || now.pid !== seen.pid) return false;
    unlinkSync(file);
    return true;
  } catch {
    return false;
  } finally {
    try {
      unlinkSync(mutex);
    } catch {
      /* gone */
    }
  }
}

/**
 * Forgets one assertion (`cache forget`): it may be sent once more. Returns what was recorded,
 * or undefined when nothing was.
 */
export function forgetAssertion(cacheDir: string, issuer: string | undefined, assertionId: string): LedgerEntry | undefined {
  const file = ledgerEntryPath(cacheDir, issuer, assertionId);
  const entry = readEntry(file);
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return entry ?? { exp: 0, used_at: 0 };
}

/** The recorded entry for an assertion, if any (doctor, exec --mode federation). */
export function ledgerEntry(cacheDir: string, issuer: string | undefined, assertionId: string): LedgerEntry | undefined {
  const file = ledgerEntryPath(cacheDir, issuer, assertionId);
  const e = readEntry(file);
  if (e) return e;
  try {
    readFileSync(file);
    return { exp: 0, used_at: 0 }; // present but unreadable: still spent
  } catch {
    return undefined;
  }
}

/** One sentence: what happened to this assertion, as far as this machine knows. */
export function describeEntry(e: LedgerEntry | undefined, nowSeconds: number): string {
  if (!e || !e.used_at) return 'was already sent to the token endpoint from this machine';
  const ago = describeAge(Math.max(0, nowSeconds - e.used_at));
  const status = e.status !== undefined ? ` ${e.status}` : '';
  const code = e.code ? ` (${e.code})` : '';
  switch (e.state) {
    case 'accepted':
      return `was exchanged ${ago} ago (the token endpoint accepted it)`;
    case 'refused':
      return `was sent ${ago} ago and refused with${status || ' a denial'}${code}`;
    case 'failed':
      return `was sent ${ago} ago and the token endpoint failed with${status || ' an error'}${code}; it may have consumed it`;
    case 'no_answer':
      return `was sent ${ago} ago and no answer came${code}; the token endpoint may have consumed it`;
    case 'sending':
      if (e.host === hostname() && e.pid !== undefined && e.pid !== process.pid && pidAlive(e.pid)) {
        return `is being sent right now by another claude-wif process (pid ${e.pid}, for ${ago})`;
      }
      return `was sent ${ago} ago by a process that stopped before it recorded an answer; the token endpoint may have consumed it`;
    default:
      // Entries written by older releases: only the time is known.
      return `was already exchanged ${ago} ago`;
  }
}

function replayed(seen: LedgerEntry | undefined, o: ReserveOptions): WifError {
  const what = o.hasJti ? 'its jti' : 'the whole token, which has no jti';
  const refusedHere = isRefusal(seen);
  const hint = refusedHere
    ? 'the endpoint refused it under this same configuration: fix the profile (a changed federation rule, service account, workspace or base URL sends it again automatically), or run `claude-wif cache forget` to send it once more as it is; the reason is in the Console\'s authentication history'
    : o.mintsOnDemand
      ? 'fetch a fresh JWT and retry'
      : `this source only rotates on its own schedule (the JWT expires in ${describeAge(o.exp - o.nowSeconds)}): wait for the platform to write a new token, cache the access token longer (a longer rule token_lifetime_seconds), or use a source that mints on demand; if you know the endpoint did not consume it, \`claude-wif cache forget\` sends it once more; if the issuer has check_jti off, set "claude_wif": {"check_jti": false} or CLAUDE_WIF_CHECK_JTI=0`;
  return new WifError(
    'identity_replayed',
    `this identity JWT (${what}) ${describeEntry(seen, o.nowSeconds)}; the token endpoint accepts each assertion once (check_jti), so claude-wif does not send it again`,
    { hint, details: seen?.state ? { previous: { state: seen.state, status: seen.status, code: seen.code, sent_seconds_ago: Math.max(0, o.nowSeconds - seen.used_at) } } : undefined },
  );
}

function prune(dir: string, nowSeconds: number): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  // Keep this cheap: the ledger is small (one entry per exchange within a JWT lifetime).
  for (const name of names) {
    if (name.endsWith('.tmp') || name.endsWith('.takeover')) continue;
    try {
      const { exp } = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { exp?: number };
      if (typeof exp === 'number' && exp < nowSeconds) unlinkSync(join(dir, name));
    } catch {
      /* being written, or already removed */
    }
  }
}

export interface LedgerSummary {
  path: string;
  /** One directory per issuer (hashed); entries are hashes of used assertion ids, never JWTs. */
  issuers: Array<{ dir: string; entries: number; live: number }>;
  entries: number;
}

/** What the ledger holds, for `cache list`: entries per issuer directory, and how many are still live at `nowSeconds`. */
export function ledgerSummary(cacheDir: string, nowSeconds: number): LedgerSummary {
  const path = ledgerRoot(cacheDir);
  const issuers: LedgerSummary['issuers'] = [];
  let dirs: string[] = [];
  try {
    dirs = readdirSync(path);
  } catch {
    /* none */
  }
  for (const d of dirs.sort()) {
    let names: string[] = [];
    try {
      // Entries only: not a replacement being written (.tmp) or a take-over mutex.
      names = readdirSync(join(path, d)).filter((n) => !n.endsWith('.tmp') && !n.endsWith('.takeover'));
    } catch {
      continue;
    }
    let live = 0;
    for (const n of names) {
      try {
        const { exp } = JSON.parse(readFileSync(join(path, d, n), 'utf8')) as { exp?: number };
        if (typeof exp === 'number' && exp >= nowSeconds) live++;
      } catch {
        /* being written */
      }
    }
    issuers.push({ dir: join(path, d), entries: names.length, live });
  }
  return { path, issuers, entries: issuers.reduce((a, i) => a + i.entries, 0) };
}

/** Removes the whole ledger; returns its path when there was one. */
export function clearLedger(cacheDir: string): string | undefined {
  const path = ledgerRoot(cacheDir);
  if (!existsSync(path)) return undefined;
  rmSync(path, { recursive: true, force: true });
  return path;
}
