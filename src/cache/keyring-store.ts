import { createRequire } from 'node:module';
import { readEnv, type Env } from '../config/paths.js';

/**
 * The opt-in OS keyring ("claude_wif": {"cache": "keyring"} or --cache keyring), through
 * @napi-rs/keyring: macOS Keychain, Windows Credential Manager, and on Linux the Secret Service
 * or the kernel keyring (keyutils). The native module is an optionalDependency, external to the
 * bundle, and required only from here, so nothing loads it unless a keyring is configured.
 *
 * Any failure is reported to the caller as a reason string; the caller degrades to the file
 * cache and says so. A keyring problem never fails a command.
 */

/** Service name of every entry; the account is the path the file cache would have used. */
export const KEYRING_SERVICE = 'claude-wif';
/** Windows Credential Manager refuses blobs over 2560 bytes; stay well under on every platform. */
export const MAX_SECRET_BYTES = 2048;

export interface KeyringBackend {
  /** What is behind it, for `status` and `cache list` ("keyutils", "secret-service", "memory", …). */
  name: string;
  get(account: string): string | null;
  set(account: string, secret: string): void;
  delete(account: string): boolean;
}

let injected: KeyringBackend | undefined;

/** Replaces the native keyring (tests: an in-memory backend, or a failing one). undefined restores it. */
export function setKeyringBackend(backend: KeyringBackend | undefined): void {
  injected = backend;
  opened = undefined;
}

/** An in-memory keyring with the real one's size limit, for tests. */
export function memoryKeyring(name = 'memory'): KeyringBackend & { entries: Map<string, string> } {
  const entries = new Map<string, string>();
  return {
    name,
    entries,
    get: (a) => entries.get(a) ?? null,
    set: (a, s) => {
      if (Buffer.byteLength(s) > MAX_SECRET_BYTES) throw new Error(`secret of ${Buffer.byteLength(s)} bytes exceeds the ${MAX_SECRET_BYTES}-byte limit`);
      entries.set(a, s);
    },
    delete: (a) => entries.delete(a),
  };
}

type NativeModule = typeof import('@napi-rs/keyring');
type LinuxStore = 'secret-service' | 'keyutils';

let opened: { backend: KeyringBackend } | { error: string } | undefined;

function message(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  // Native errors can be long (D-Bus addresses, …): one line is enough to explain the fallback.
  return m.split('\n')[0]!.slice(0, 200);
}

function nativeBackend(mod: NativeModule, store: LinuxStore | undefined): KeyringBackend {
  const entry = (account: string) => new mod.Entry(KEYRING_SERVICE, account, store ? { linux: { store } } : undefined);
  const name = process.platform === 'darwin' ? 'macOS Keychain' : process.platform === 'win32' ? 'Windows Credential Manager' : (store ?? 'platform default');
  return {
    name,
    get: (a) => entry(a).getPassword() ?? null,
    set: (a, s) => {
      if (Buffer.byteLength(s) > MAX_SECRET_BYTES) throw new Error(`secret of ${Buffer.byteLength(s)} bytes exceeds the keyring's limit`);
      entry(a).setPassword(s);
    },
    delete: (a) => entry(a).deletePassword(),
  };
}

/**
 * A write/read/delete round trip: a store can answer reads and still refuse writes (a locked
 * Secret Service, a seccomp profile that blocks add_key), and the first real write is too late
 * to find out cleanly.
 */
function probe(b: KeyringBackend): void {
  const account = `probe-${process.pid}-${Math.random().toString(36).slice(2)}`;
  b.set(account, 'probe');
  try {
    if (b.get(account) !== 'probe') throw new Error('a value written to the keyring could not be read back');
  } finally {
    b.delete(account);
  }
}

/**
 * Opens the keyring once per process. On Linux the default (Secret Service, else kernel keyring)
 * is tried first, then the kernel keyring alone; CLAUDE_WIF_KEYRING_STORE=secret-service|keyutils
 * pins one.
 */
export function openKeyring(env: Env): { backend: KeyringBackend } | { error: string } {
  if (opened) return opened;
  if (injected) {
    try {
      probe(injected);
      return (opened = { backend: injected });
    } catch (err) {
      return (opened = { error: `the ${injected.name} keyring failed: ${message(err)}` });
    }
  }
  let mod: NativeModule;
  try {
    mod = createRequire(import.meta.url)('@napi-rs/keyring') as NativeModule;
  } catch (err) {
    return (opened = { error: `@napi-rs/keyring could not be loaded (${message(err)}); it is an optional dependency: reinstall claude-wif with optional dependencies on a supported platform` });
  }
  const pinned = readEnv(env, 'CLAUDE_WIF_KEYRING_STORE');
  if (pinned !== undefined && pinned !== 'secret-service' && pinned !== 'keyutils') {
    return (opened = { error: `CLAUDE_WIF_KEYRING_STORE=${JSON.stringify(pinned)} is not "secret-service" or "keyutils"` });
  }
  const candidates: Array<LinuxStore | undefined> = process.platform !== 'linux' ? [undefined] : pinned ? [pinned] : [undefined, 'keyutils'];
  const failures: string[] = [];
  for (const store of candidates) {
    const b = nativeBackend(mod, store);
    try {
      probe(b);
      return (opened = { backend: b });
    } catch (err) {
      failures.push(`${b.name}: ${message(err)}`);
    }
  }
  return (opened = { error: `no usable OS keyring (${failures.join('; ')})` });
}
