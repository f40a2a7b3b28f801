import type { CachedToken } from './file-store.js';
import type { TokenStore } from './store.js';

/**
 * A token kept only in this process's memory: what an `exec --mode proxy` session uses, so that
 * nothing it mints lands in a file its child (same user) could read (issue 12 item 2).
 *
 * Reads fall through to `seed` (the plan's own cache, read-only) while memory is empty: a token
 * already on disk from an earlier `claude-wif token` is used rather than exchanged again; the
 * session itself never adds a copy. The cross-process lock and the single-use ledger still apply
 * (they hold a pid and hashes, never a token).
 */
export interface MemoryStore extends Pick<TokenStore, 'location' | 'read' | 'write' | 'remove'> {
  backend: 'memory';
  /** Drops the token from memory (the session ended). */
  clear(): void;
}

export function memoryStore(seed?: () => CachedToken | undefined): MemoryStore {
  let held: CachedToken | undefined;
  return {
    backend: 'memory',
    location: `memory (claude-wif pid ${process.pid})`,
    read: () => held ?? seed?.(),
    write(t) {
      held = {
        accessToken: t.accessToken,
        expiresAt: t.expiresAt,
        obtainedAt: t.obtainedAt,
        obtainedAtMs: t.obtainedAtMs,
        key: t.key,
        scope: t.scope,
        raw: {},
      };
    },
    remove() {
      const had = held !== undefined;
      held = undefined;
      return had;
    },
    clear() {
      held = undefined;
    },
  };
}
