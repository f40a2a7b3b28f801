import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { WifError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { validateProfileName } from './paths.js';
import { OWN_KEY, parseProfile } from './profile.js';

/** A field to set (string), to remove (null), or to leave as it is (undefined). */
type Change = string | null | undefined;

export interface ProfileChanges {
  organization_id?: Change;
  federation_rule_id?: Change;
  service_account_id?: Change;
  workspace_id?: Change;
  base_url?: Change;
  /** Replaces the identity configuration: the source and all of its options. */
  identity?: { source: string; options: Record<string, unknown> } | undefined;
  /** claude_wif.cache: "file", "keyring", or null to remove. */
  cache?: Change;
}

type Doc = Record<string, unknown>;
const obj = (v: unknown): Doc | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Doc) : undefined);

/** The existing profile's raw JSON (unknown keys included), undefined when absent. */
export function readRawProfile(path: string): Doc | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WifError('config_invalid', `cannot read profile ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new WifError('config_invalid', `profile ${path} is not valid JSON (${(err as Error).message}); configure will not overwrite what it cannot read`, {
      hint: `fix or delete ${path}, then run configure again`,
    });
  }
  const d = obj(raw);
  if (!d) throw new WifError('config_invalid', `profile ${path} is not a JSON object`, { hint: `fix or delete ${path}` });
  return d;
}

/** The identity source an existing profile uses, as the resolver would see it (without flags/env). */
export function currentIdentity(raw: Doc | undefined): { source: string; options: Record<string, unknown> } | undefined {
  const auth = obj(raw?.['authentication']);
  const own = obj(obj(raw?.[OWN_KEY])?.['identity']);
  const tokenFile = obj(auth?.['identity_token']);
  if (own && typeof own['source'] === 'string') {
    const { source, ...options } = own;
    if (source === 'file' && options['path'] === undefined && typeof tokenFile?.['path'] === 'string') options['path'] = tokenFile['path'];
    return { source: source as string, options };
  }
  if (tokenFile && typeof tokenFile['path'] === 'string') return { source: 'file', options: { path: tokenFile['path'] } };
  return undefined;
}

function apply(target: Doc, key: string, change: Change): void {
  if (change === undefined) return;
  if (change === null || change === '') delete target[key];
  else target[key] = change;
}

/**
 * The profile document after the changes. Keys nobody asked to change — unknown keys, other
 * tools' settings, the order they were written in — are kept. The file source is written the SDK
 * way (authentication.identity_token), every other source under "claude_wif" only, because every
 * SDK rejects an identity_token.source other than "file" (spec §4).
 */
export function buildProfile(existing: Doc | undefined, ch: ProfileChanges): Doc {
  const doc: Doc = existing ? structuredClone(existing) : { version: '1.0' };
  if (doc['version'] === undefined) doc['version'] = '1.0';
  apply(doc, 'organization_id', ch.organization_id);
  apply(doc, 'workspace_id', ch.workspace_id);
  apply(doc, 'base_url', ch.base_url);
  const auth: Doc = obj(doc['authentication']) ?? {};
  if (auth['type'] === undefined) auth['type'] = 'oidc_federation';
  apply(auth, 'federation_rule_id', ch.federation_rule_id);
  apply(auth, 'service_account_id', ch.service_account_id);
  const hadOwn = obj(doc[OWN_KEY]) !== undefined;
  const own: Doc = obj(doc[OWN_KEY]) ?? {};
  if (ch.identity) {
    const { source, options } = ch.identity;
    if (source === 'file') {
      const path = options['path'];
      if (typeof path !== 'string' || !path) throw new WifError('usage_error', 'the file identity source needs a path', { hint: 'pass --identity-token-file <path>' });
      auth['identity_token'] = { source: 'file', path };
      const rest = Object.fromEntries(Object.entries(options).filter(([k]) => k !== 'path'));
      if (Object.keys(rest).length) own['identity'] = { source: 'file', ...rest };
      else delete own['identity'];
    } else {
      // An SDK-readable identity_token left behind would make the SDKs use a different JWT than claude-wif.
      delete auth['identity_token'];
      own['identity'] = { source, ...options };
    }
  }
  if (ch.cache !== undefined) apply(own, 'cache', ch.cache);
  // Canonical order for new documents: version, ids, base_url, authentication, claude_wif.
  doc['authentication'] = existing ? auth : orderAuth(auth);
  if (Object.keys(own).length || hadOwn) doc[OWN_KEY] = own;
  if (hadOwn && !Object.keys(own).length) delete doc[OWN_KEY];
  return existing ? doc : order(doc);
}

function order(doc: Doc): Doc {
  const keys = ['version', 'organization_id', 'workspace_id', 'base_url', 'authentication', OWN_KEY];
  const out: Doc = {};
  for (const k of keys) if (doc[k] !== undefined) out[k] = doc[k];
  for (const [k, v] of Object.entries(doc)) if (!(k in out)) out[k] = v;
  return out;
}

function orderAuth(auth: Doc): Doc {
  const keys = ['type', 'federation_rule_id', 'service_account_id', 'identity_token'];
  const out: Doc = {};
  for (const k of keys) if (auth[k] !== undefined) out[k] = auth[k];
  for (const [k, v] of Object.entries(auth)) if (!(k in out)) out[k] = v;
  return out;
}

/**
 * Refuses anything an SDK would reject, or that cannot work: the same parser the resolver uses
 * (valid ids, https/http base URL, identity_token only with source "file", known types), plus the
 * two ids every federation profile needs.
 */
export function validateForWrite(doc: Doc, path: string): void {
  const p = parseProfile(doc, path);
  if (p.authentication.type !== 'oidc_federation') {
    throw new WifError('config_invalid', `profile ${path} is a ${p.authentication.type} profile; configure writes oidc_federation profiles`, {
      hint: 'choose another profile name with --profile',
    });
  }
  const missing = [!p.organization_id && '--organization-id', !p.authentication.federation_rule_id && '--federation-rule-id'].filter(Boolean);
  if (missing.length) {
    throw new WifError('config_invalid', `a federation profile needs ${missing.join(' and ')}`, { hint: `pass ${missing.join(' and ')}` });
  }
}

export function serialize(doc: Doc): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Atomic replace; an existing file keeps its mode (minus group/other write), a new one is 0644 (profiles hold no secret). */
export function writeProfileFile(path: string, doc: Doc): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let mode = 0o644;
  try {
    mode = (statSync(path).mode & 0o777) & ~0o022;
  } catch {
    /* new file */
  }
  writeFileAtomic(path, serialize(doc), mode);
}

/** Writes <config dir>/active_config, which the SDKs read trimmed. */
export function writeActiveConfig(configDir: string, name: string): string {
  validateProfileName(name, 'profile to activate');
  mkdirSync(configDir, { recursive: true, mode: 0o700 });
  const path = join(configDir, 'active_config');
  writeFileAtomic(path, `${name}\n`, 0o644);
  return path;
}
