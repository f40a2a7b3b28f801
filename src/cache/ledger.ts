import { closeSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { WifError } from '../util/errors.js';
import { ensurePrivateDir } from '../util/fsx.js';
import { LEEWAY_SECONDS } from '../protocol.js';
import { describeAge } from '../util/jwt.js';

/**
 * Used assertions, per issuer: one empty-ish file per assertion id, created with O_EXCL so that
 * "check and record" is one atomic step across processes. Entries live until the JWT's exp plus
 * the server's leeway, after which the server would refuse the JWT anyway.
 */
export function ledgerDir(cacheDir: string, issuer: string | undefined): string {
  return join(cacheDir, 'ledger', createHash('sha256').update(issuer ?? '(no iss)').digest('hex').slice(0, 24));
}

export interface Reservation {
  /** Undo when the assertion provably never reached the server (connection refused, 400 malformed). */
  release(): void;
}

export function reserveAssertion(
  cacheDir: string,
  issuer: string | undefined,
  assertionId: string,
  exp: number,
  nowSeconds: number,
  hasJti: boolean,
  mintsOnDemand: boolean,
): Reservation {
  const dir = ledgerDir(cacheDir, issuer);
  ensurePrivateDir(dir);
  prune(dir, nowSeconds);
  const file = join(dir, assertionId);
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    let usedAt: number | undefined;
    try {
      usedAt = (JSON.parse(readFileSync(file, 'utf8')) as { used_at?: number }).used_at;
    } catch {
      /* unreadable entry: still a replay */
    }
    throw new WifError(
      'identity_replayed',
      `this identity JWT (${hasJti ? 'its jti' : 'the whole token, which has no jti'}) was already exchanged${usedAt ? ` ${describeAge(nowSeconds - usedAt)} ago` : ''}; the token endpoint accepts each assertion once (check_jti), so sending it again would be refused`,
      {
        hint: mintsOnDemand
          ? 'fetch a fresh JWT and retry'
          : `this source only rotates on its own schedule (the JWT expires in ${describeAge(exp - nowSeconds)}): wait for the platform to write a new token, cache the access token longer (a longer rule token_lifetime_seconds), or use a source that mints on demand; if the issuer has check_jti off, set "claude_wif": {"check_jti": false} or CLAUDE_WIF_CHECK_JTI=0`,
      },
    );
  }
  try {
    writeSync(fd, JSON.stringify({ exp: exp + LEEWAY_SECONDS, used_at: nowSeconds }));
  } finally {
    closeSync(fd);
  }
  return {
    release() {
      try {
        unlinkSync(file);
      } catch {
        /* gone */
      }
    },
  };
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
    try {
      const { exp } = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { exp?: number };
      if (typeof exp === 'number' && exp < nowSeconds) unlinkSync(join(dir, name));
    } catch {
      /* being written, or already removed */
    }
  }
}
