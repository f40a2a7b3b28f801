import { createHash } from 'node:crypto';
import { join } from 'node:path';

/**
 * The claude-wif cache directory (config/paths.ts resolveCacheDir: CLAUDE_WIF_CACHE_DIR, else
 * $XDG_CACHE_HOME/claude-wif or ~/.cache/claude-wif) and everything in it. Every path under it is
 * made here; the modules that own each kind of file (the token stores, ledger.ts, lock.ts, the
 * proxy command) read and write them.
 *
 *   tokens/<key>.json                  access tokens of env-only configurations (a profile's token
 *                                      lives in the config dir's credentials/<profile>.json instead)
 *   ledger/<sha256(iss)[:24]>/<id>     one file per exchanged assertion (single-use jti), see ledger.ts
 *   locks/<key>.lock                   one refresh at a time per cache key, see lock.ts
 *   locks/<key>.lock.break             held for an instant while an abandoned lock is removed
 *   proxy/proxy-<port>.secret          the `proxy` command's per-session secret (0600, removed on exit)
 *
 * Directories are 0700 (util/fsx.ts ensurePrivateDir); `<key>` is the plan's cache key
 * (core/resolve.ts), a hash of everything that decides which token is minted.
 */

/** The subdirectories, in the order doctor checks them. */
export const CACHE_SUBDIRS = ['ledger', 'locks', 'tokens'] as const;

export function tokensDir(cacheDir: string): string {
  return join(cacheDir, 'tokens');
}

export function tokenPath(cacheDir: string, key: string): string {
  return join(tokensDir(cacheDir), `${key}.json`);
}

export const isTokenFile = (name: string): boolean => name.endsWith('.json');

export function ledgerRoot(cacheDir: string): string {
  return join(cacheDir, 'ledger');
}

/** One directory per issuer, named by a hash of `iss` (issuer URLs are not file names). */
export function ledgerDir(cacheDir: string, issuer: string | undefined): string {
  return join(ledgerRoot(cacheDir), createHash('sha256').update(issuer ?? '(no iss)').digest('hex').slice(0, 24));
}

/** `assertionId` is a hash of the jti (or of the whole JWT without one), never the JWT itself. */
export function ledgerEntryPath(cacheDir: string, issuer: string | undefined, assertionId: string): string {
  return join(ledgerDir(cacheDir, issuer), assertionId);
}

export function locksDir(cacheDir: string): string {
  return join(cacheDir, 'locks');
}

export function lockPath(cacheDir: string, key: string): string {
  return join(locksDir(cacheDir), `${key}.lock`);
}

export const isLockFile = (name: string): boolean => name.endsWith('.lock');

export function proxySecretPath(cacheDir: string, id: number): string {
  return join(cacheDir, 'proxy', `proxy-${id}.secret`);
}
