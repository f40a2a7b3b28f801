import { unlinkSync } from 'node:fs';
import type { Env } from '../config/paths.js';
import type { Plan } from '../core/resolve.js';
import type { Logger } from '../util/log.js';
import { credentialsFromDocument, ownDocumentOrAbsent, readCredentials, writeCredentials, CREDENTIALS_VERSION, type CachedToken, type TokenToStore } from './file-store.js';
import { KEYRING_SERVICE } from './keyring-store.js';

/**
 * Where one plan's token lives: the file of plan.cache.path, or the OS keyring entry named after
 * that path. The file store is the hot path's and is used directly there; this module exists for
 * the opt-in keyring and for the commands that inspect or clear caches.
 */
export interface TokenStore {
  backend: 'file' | 'keyring';
  /** A path, or "keyring <service>/<account> (<backend>)". Never secret. */
  location: string;
  /** Why the keyring was not used although it was configured. */
  degraded?: string | undefined;
  read(): CachedToken | undefined;
  write(t: TokenToStore): void;
  /** Removes the cached token; false when there was none. */
  remove(): boolean;
}

export function fileStore(path: string, degraded?: string): TokenStore {
  return {
    backend: 'file',
    location: path,
    degraded,
    read: () => readCredentials(path),
    write: (t) => writeCredentials(path, t),
    remove: () => {
      // Only a credentials document is ever deleted (issue 15 item 5); anything else throws insecure_file.
      if (!ownDocumentOrAbsent(path)) return false;
      unlinkSync(path);
      return true;
    },
  };
}

/** The SDK credentials document, kept compact: keyrings have small blob limits (Windows 2.5 KB). */
export function keyringDocument(t: TokenToStore): string {
  return JSON.stringify({
    version: CREDENTIALS_VERSION,
    type: 'oauth_token',
    access_token: t.accessToken,
    expires_at: Math.floor(t.expiresAt),
    ...(t.scope ? { scope: t.scope } : {}),
    claude_wif: { key: t.key, obtained_at: t.obtainedAt, obtained_at_ms: t.obtainedAtMs },
  });
}

export function parseKeyringDocument(text: string | null): CachedToken | undefined {
  if (!text) return undefined;
  try {
    return credentialsFromDocument(JSON.parse(text));
  } catch {
    return undefined; // corrupt entry: a miss, replaced by the next exchange
  }
}

/**
 * The store the plan asks for. A configured keyring that cannot be used (module missing, no
 * Secret Service, no session keyring, seccomp, a write refused later) falls back to the file
 * cache: the reason is logged once on stderr and kept in `degraded` for `status`.
 */
export async function openTokenStore(plan: Plan, deps: { env: Env; log: Logger }): Promise<TokenStore> {
  const path = plan.cache.path;
  if (plan.cache.backend !== 'keyring') return fileStore(path);
  const { openKeyring } = await import('./keyring-store.js');
  const opened = openKeyring(deps.env);
  if ('error' in opened) return degrade(path, opened.error, deps.log);
  const kr = opened.backend;
  const account = path;
  let fallback: TokenStore | undefined;
  const store: TokenStore = {
    backend: 'keyring',
    location: `keyring ${KEYRING_SERVICE}/${account} (${kr.name})`,
    read() {
      if (fallback) return fallback.read();
      try {
        return parseKeyringDocument(kr.get(account));
      } catch (err) {
        fallback = degrade(path, `reading the ${kr.name} keyring failed: ${(err as Error).message}`, deps.log);
        store.degraded = fallback.degraded;
        return fallback.read();
      }
    },
    write(t) {
      if (fallback) return fallback.write(t);
      try {
        kr.set(account, keyringDocument(t));
      } catch (err) {
        fallback = degrade(path, `writing to the ${kr.name} keyring failed: ${(err as Error).message}`, deps.log);
        store.degraded = fallback.degraded;
        fallback.write(t);
      }
    },
    remove() {
      try {
        return kr.delete(account);
      } catch {
        return false;
      }
    },
  };
  return store;
}

/** Said once per invocation: the logger drops repeated warnings. */
function degrade(path: string, reason: string, log: Logger): TokenStore {
  log.warn(`the OS keyring is configured but unavailable: ${reason}; using the file cache ${path} instead`);
  return fileStore(path, reason);
}
