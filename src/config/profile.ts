import { closeSync, fstatSync, openSync, readdirSync, readFileSync, type Stats } from 'node:fs';
import { dirIssue, fileIssue, refuse } from '../util/trust.js';
import { dirname } from 'node:path';
import { didYouMean } from '../util/suggest.js';
import { WifError } from '../util/errors.js';
import { ID_PATTERNS, validateBaseUrl, validateId } from './ids.js';

/** claude-wif keeps its own settings under this one top-level key; every SDK ignores unknown top-level keys. */
export const OWN_KEY = 'claude_wif';

export interface IdentitySettings {
  source?: string;
  [option: string]: unknown;
}

export interface OwnSettings {
  identity?: IdentitySettings;
  /** "file" (default) or "keyring". */
  cache?: string;
  /** Mirrors the issuer's check_jti: false disables the local single-use ledger. */
  check_jti?: boolean;
  [key: string]: unknown;
}

export interface ProfileFile {
  path: string;
  /** The parsed JSON exactly as on disk (unknown keys kept for writers). */
  raw: Record<string, unknown>;
  version?: string;
  organization_id?: string;
  workspace_id?: string;
  base_url?: string;
  authentication: {
    type: 'oidc_federation' | 'user_oauth';
    federation_rule_id?: string;
    service_account_id?: string;
    identity_token?: { source: 'file'; path: string };
    scope?: string;
    credentials_path?: string;
    client_id?: string;
  };
  own: OwnSettings;
}

const str = (v: unknown): v is string => typeof v === 'string';

function invalid(path: string, what: string, hint?: string): WifError {
  return new WifError('config_invalid', `profile ${path}: ${what}`, {
    hint: hint ?? 'fix the file, or recreate it with `claude-wif configure`',
  });
}

function optionalString(obj: Record<string, unknown>, key: string, path: string, where = ''): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (!str(v)) throw invalid(path, `"${where}${key}" must be a string`);
  // Empty strings count as unset, like the SDKs' readEnv (and an empty workspace_id must never be sent).
  return v === '' ? undefined : v;
}

/** The profiles in the same configs/ directory (for "did you mean"); none when it cannot be read. */
function profileNamesBeside(path: string): string[] {
  try {
    return readdirSync(dirname(path))
      .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
      .map((f) => f.slice(0, -'.json'.length));
  } catch {
    return [];
  }
}

/**
 * A profile decides where the identity JWT is sent (base_url) and which token is written where: one
 * another user owns or can change would let them receive it (issue 15 item 4). So the file must be
 * owned by this user or root and writable by no one else (others may read it: it holds no secret),
 * and so must its configs/ directory and the configuration directory above it.
 */
function requireTrustedProfile(path: string, st: Stats): void {
  if (!st.isFile()) throw new WifError('config_invalid', `profile ${path} is not a regular file`);
  const configs = dirname(path);
  const issue = fileIssue(path, 'profile', st, { othersMayRead: true }) ?? dirIssue(configs, 'the profiles directory') ?? dirIssue(dirname(configs), 'the configuration directory');
  if (issue) throw refuse(issue);
}

/** Parses and validates a profile file (spec §4). Throws profile_not_found, config_invalid or insecure_file. */
export function readProfile(path: string, nameForMessages: string, nameOrigin: string): ProfileFile {
  let text: string;
  try {
    // Read and inspected through one descriptor: the file checked is the file read.
    const fd = openSync(path, 'r');
    try {
      const st = fstatSync(fd);
      requireTrustedProfile(path, st);
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (err instanceof WifError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      const others = profileNamesBeside(path);
      const guess = didYouMean(nameForMessages, others);
      throw new WifError('profile_not_found', `profile "${nameForMessages}" (from ${nameOrigin}) does not exist: ${path} not found${guess}`, {
        hint: `${others.length ? 'see the profiles there with `claude-wif profiles list`, ' : ''}create it with \`claude-wif configure --profile ${nameForMessages}\`${others.length ? ', or name an existing one with --profile' : ''}`,
      });
    }
    throw new WifError('config_invalid', `cannot read profile ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalid(path, `not valid JSON (${(err as Error).message})`);
  }
  return parseProfile(raw, path);
}

export function parseProfile(raw: unknown, path: string): ProfileFile {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid(path, 'must be a JSON object');
  const obj = raw as Record<string, unknown>;
  const auth = obj['authentication'];
  if (!auth || typeof auth !== 'object' || Array.isArray(auth)) {
    throw invalid(path, 'missing the "authentication" object');
  }
  const a = auth as Record<string, unknown>;
  const type = a['type'];
  if (type !== 'oidc_federation' && type !== 'user_oauth') {
    throw invalid(path, `authentication.type ${JSON.stringify(type)} is not a known type (oidc_federation or user_oauth)`);
  }
  const version = optionalString(obj, 'version', path);
  if (version !== undefined && !/^1(\.\d+)?$/.test(version)) {
    throw invalid(path, `version ${JSON.stringify(version)} is not supported (expected "1.0")`);
  }
  const profile: ProfileFile = {
    path,
    raw: obj,
    version,
    organization_id: optionalString(obj, 'organization_id', path),
    workspace_id: optionalString(obj, 'workspace_id', path),
    base_url: optionalString(obj, 'base_url', path),
    authentication: { type },
    own: {},
  };
  const origin = `profile ${path}`;
  if (profile.organization_id) validateId('organization_id', profile.organization_id, origin);
  if (profile.workspace_id) validateId('workspace_id', profile.workspace_id, origin);
  if (profile.base_url) profile.base_url = validateBaseUrl(profile.base_url, origin);

  const authOut = profile.authentication;
  authOut.scope = optionalString(a, 'scope', path, 'authentication.');
  authOut.credentials_path = optionalString(a, 'credentials_path', path, 'authentication.');
  if (type === 'oidc_federation') {
    authOut.federation_rule_id = optionalString(a, 'federation_rule_id', path, 'authentication.');
    if (authOut.federation_rule_id) validateId('federation_rule_id', authOut.federation_rule_id, origin);
    authOut.service_account_id = optionalString(a, 'service_account_id', path, 'authentication.');
    if (authOut.service_account_id) validateId('service_account_id', authOut.service_account_id, origin);
    const it = a['identity_token'];
    if (it !== undefined && it !== null) {
      if (typeof it !== 'object' || Array.isArray(it)) throw invalid(path, 'authentication.identity_token must be an object');
      const src = (it as Record<string, unknown>)['source'];
      if (src !== 'file') {
        // Every SDK rejects other sources; ambient sources belong under "claude_wif".
        throw invalid(
          path,
          `authentication.identity_token.source ${JSON.stringify(src)} is not supported by the SDKs (only "file")`,
          `move platform sources to "${OWN_KEY}": {"identity": {"source": "<name>"}} and keep identity_token for files`,
        );
      }
      const p = (it as Record<string, unknown>)['path'];
      if (!str(p) || !p) throw invalid(path, 'authentication.identity_token.path must be a non-empty string');
      authOut.identity_token = { source: 'file', path: p };
    }
  } else {
    authOut.client_id = optionalString(a, 'client_id', path, 'authentication.');
  }

  const own = obj[OWN_KEY];
  if (own !== undefined) {
    if (!own || typeof own !== 'object' || Array.isArray(own)) throw invalid(path, `"${OWN_KEY}" must be an object`);
    const o = own as Record<string, unknown>;
    const identity = o['identity'];
    if (identity !== undefined) {
      if (!identity || typeof identity !== 'object' || Array.isArray(identity)) throw invalid(path, `"${OWN_KEY}.identity" must be an object`);
      const src = (identity as Record<string, unknown>)['source'];
      if (src !== undefined && !str(src)) throw invalid(path, `"${OWN_KEY}.identity.source" must be a string`);
    }
    if (o['cache'] !== undefined && o['cache'] !== 'file' && o['cache'] !== 'keyring') {
      throw invalid(path, `"${OWN_KEY}.cache" must be "file" or "keyring"`);
    }
    if (o['check_jti'] !== undefined && typeof o['check_jti'] !== 'boolean') {
      throw invalid(path, `"${OWN_KEY}.check_jti" must be true or false`);
    }
    profile.own = o as OwnSettings;
  }
  return profile;
}

export { ID_PATTERNS };
