import { lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, sep } from 'node:path';
import { WifError } from '../util/errors.js';
import { isTokenText } from '../util/token-text.js';
import { dirIssue, fileIssue, refuse } from '../util/trust.js';
import { ensurePrivateDir, writeFileAtomic } from '../util/fsx.js';

/** The SDK credentials shape (spec §4) plus claude-wif's own bookkeeping under one key. */
export interface CachedToken {
  accessToken: string;
  expiresAt: number | null;
  obtainedAt?: number | undefined;
  /** Millisecond precision of obtainedAt, to tell "refreshed after I started waiting" apart. */
  obtainedAtMs?: number | undefined;
  /** The plan key the token was minted for; a mismatch means the inputs changed. */
  key?: string | undefined;
  scope?: string | undefined;
  raw: Record<string, unknown>;
}

export const CREDENTIALS_VERSION = '1.0';
const OWN = 'claude_wif';

/**
 * The strictest reader's rules (the Go SDK) and the house trust rule: no symlinks, no group/other
 * permission bit, owned by this user or root — for root too: a token another user planted is never
 * used (issue 15 item 6) — in a directory owned by this user or root that no one else can write.
 * Throws insecure_file (exit 6); returns false when absent.
 */
export function checkSecretFile(path: string): boolean {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new WifError('insecure_file', `cannot inspect ${path}: ${(err as Error).message}`);
  }
  if (process.platform === 'win32') return true;
  if (st.isSymbolicLink()) {
    throw new WifError('insecure_file', `credentials file ${path} is a symlink; refusing to read or replace a secret through a link`, {
      hint: `remove it (\`rm ${path}\`) and let claude-wif write a regular file, or point authentication.credentials_path at the real file`,
    });
  }
  if (!st.isFile()) throw new WifError('insecure_file', `credentials path ${path} is not a regular file`, { hint: `remove ${path}` });
  const issue = fileIssue(path, 'credentials file', st) ?? dirIssue(dirname(path), 'the directory of credentials file');
  if (issue) throw refuse(issue);
  return true;
}

/**
 * Whether `data` is a credentials document (spec §4) — the only kind of file claude-wif replaces or
 * deletes: a JSON object of type oauth_token, or without a type but with an access_token or our
 * own bookkeeping. A key file or any other document at credentials_path is left alone (item 5).
 */
export function isCredentialsDocument(data: unknown): boolean {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return false;
  const d = data as Record<string, unknown>;
  if (d['type'] !== undefined) return d['type'] === 'oauth_token';
  return typeof d['access_token'] === 'string' || (d[OWN] !== null && typeof d[OWN] === 'object');
}

/**
 * Throws insecure_file unless the file at `path` is absent or a credentials document: claude-wif
 * never replaces or deletes anything else (a 0600 key file named as credentials_path was destroyed
 * by `token` and `cache clear`). Returns the parsed document, or undefined when absent.
 */
export function ownDocumentOrAbsent(path: string): Record<string, unknown> | undefined {
  if (!checkSecretFile(path)) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    data = undefined;
  }
  if (!isCredentialsDocument(data)) {
    throw new WifError('insecure_file', `${path} is not a credentials document (not a JSON object with type "oauth_token" and an access_token); claude-wif never replaces or deletes a file it did not write`, {
      hint: `point authentication.credentials_path at a file of its own (default <config dir>/credentials/<profile>.json), or move ${path} away if it really is a stale cache`,
      details: { path },
    });
  }
  return data as Record<string, unknown>;
}

/**
 * A credentials document in a volume someone else keeps fresh: the Secrets Store CSI driver
 * writes `token.json` into the pod (as root, with the mode the SecretProviderClass asks for,
 * through its `..data` symlinks). Unlike our own cache, it may be readable by others — a pod's
 * volume is private to the pod, and a non-root pod can only read what others may read — but it
 * must be a regular file owned by root or by this user, writable by no one else, reached through
 * links that stay inside `root` (the config directory), in a directory others cannot replace
 * files in. Throws insecure_file; returns undefined when absent or not a usable document.
 */
export function readMountedCredentials(path: string, root: string): CachedToken | undefined {
  let real: string;
  try {
    real = realpathSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WifError('insecure_file', `cannot inspect ${path}: ${(err as Error).message}`);
  }
  const rel = relative(realpathSync(root), real);
  // `..data/…` and `..2026_…/…` (the driver's atomic-writer names) are inside; `../…` is not.
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new WifError('insecure_file', `${path} leads outside ${root} (to ${real}); refusing a mounted token reached through such a link`);
  }
  const st = statSync(real);
  if (!st.isFile()) throw new WifError('insecure_file', `mounted token ${path} is not a regular file`);
  if (process.platform !== 'win32') {
    if ((st.mode & 0o022) !== 0) {
      throw new WifError('insecure_file', `mounted token ${path} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}: other users could replace the token`, {
        hint: 'set the SecretProviderClass parameter tokenFileMode to 0644, 0640 or 0600',
      });
    }
    const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
    if (uid !== undefined && st.uid !== 0 && st.uid !== uid) {
      throw new WifError('insecure_file', `mounted token ${path} belongs to uid ${st.uid}, neither root nor this user (uid ${uid})`, {
        hint: 'a token file planted by another user must not be trusted',
      });
    }
    const dir = statSync(dirname(real));
    if ((dir.mode & 0o022) !== 0 && (dir.mode & 0o1000) === 0) {
      throw new WifError('insecure_file', `directory ${dirname(real)} is writable by other users (mode ${(dir.mode & 0o777).toString(8)})`);
    }
  }
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(real, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EACCES') {
      throw new WifError('insecure_file', `cannot read the mounted token ${path}: permission denied`, {
        hint: 'set the SecretProviderClass parameter tokenFileMode to 0644 (or 0640 with the pod\'s fsGroup owning the volume)',
      });
    }
    return undefined;
  }
  return credentialsFromDocument(data);
}

/** The token file of a plan's cache: our own strict reader, or the mounted-volume reader. */
export function readPlanCredentials(cache: { path: string; mounted?: { root: string } | undefined }): CachedToken | undefined {
  return cache.mounted ? readMountedCredentials(cache.path, cache.mounted.root) : readCredentials(cache.path);
}

/** Reads a cached token. Unsafe files throw; absent or unparseable files are a miss (undefined). */
export function readCredentials(path: string): CachedToken | undefined {
  if (!checkSecretFile(path)) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined; // corrupt cache: a miss, rewritten by the next exchange
  }
  return credentialsFromDocument(data);
}

/** The SDK credentials document (spec §4) as a CachedToken; undefined when it holds no usable token. */
export function credentialsFromDocument(data: unknown): CachedToken | undefined {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const d = data as Record<string, unknown>;
  if (d['type'] !== undefined && d['type'] !== 'oauth_token') return undefined;
  // A value outside a token's grammar (CR/LF…) would print two lines or break an HTTP header: a miss.
  if (!isTokenText(d['access_token'])) return undefined;
  const exp = d['expires_at'];
  const own = d[OWN] && typeof d[OWN] === 'object' ? (d[OWN] as Record<string, unknown>) : {};
  return {
    accessToken: d['access_token'],
    expiresAt: typeof exp === 'number' && Number.isFinite(exp) ? exp : null,
    obtainedAt: typeof own['obtained_at'] === 'number' ? own['obtained_at'] : undefined,
    obtainedAtMs: typeof own['obtained_at_ms'] === 'number' ? own['obtained_at_ms'] : undefined,
    key: typeof own['key'] === 'string' ? own['key'] : undefined,
    scope: typeof d['scope'] === 'string' ? d['scope'] : undefined,
    raw: d,
  };
}

/** The existing document, to preserve keys this writer does not own; refuses a file of another kind. */
function existingDocument(path: string): Record<string, unknown> {
  return ownDocumentOrAbsent(path) ?? {};
}

export interface TokenToStore {
  accessToken: string;
  expiresAt: number;
  obtainedAt: number;
  obtainedAtMs: number;
  key: string;
  scope?: string | undefined;
  organizationId?: string | undefined;
  workspaceId?: string | undefined;
  source?: string | undefined;
  /** The identity JWT's subject (for `exec --otel-identity` when the token comes from the cache). */
  subject?: string | undefined;
}

/**
 * Writes the SDK credentials file atomically (0600 in a 0700 directory), keeping keys written by
 * others (refresh_token, account_email, …) — spec §4 "writers preserve keys they do not own".
 */
export function writeCredentials(path: string, t: TokenToStore): void {
  ensurePrivateDir(dirname(path), 'the credentials directory');
  const previous = existingDocument(path);
  const doc: Record<string, unknown> = {
    ...previous,
    version: CREDENTIALS_VERSION,
    type: 'oauth_token',
    access_token: t.accessToken,
    expires_at: Math.floor(t.expiresAt),
  };
  if (t.scope) doc['scope'] = t.scope;
  if (t.organizationId) doc['organization_uuid'] = t.organizationId;
  if (t.workspaceId) doc['workspace_id'] = t.workspaceId;
  else delete doc['workspace_id'];
  doc[OWN] = { key: t.key, obtained_at: t.obtainedAt, obtained_at_ms: t.obtainedAtMs, ...(t.source ? { source: t.source } : {}), ...(t.subject ? { subject: t.subject } : {}) };
  writeFileAtomic(path, `${JSON.stringify(doc, null, 2)}\n`, 0o600);
}
