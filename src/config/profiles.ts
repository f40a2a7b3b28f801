import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WifError } from '../util/errors.js';
import { profilePath, readEnv, validateProfileName, type Env } from './paths.js';
import { OWN_KEY, readProfile, type ProfileFile } from './profile.js';

export interface ProfileEntry {
  name: string;
  path: string;
  /** The parsed profile, or why it does not parse. */
  profile?: ProfileFile;
  error?: { code: string; message: string; hint?: string };
}

/** Every configs/<name>.json with a valid profile name, sorted; unreadable ones carry their error. */
export function listProfiles(configDir: string): ProfileEntry[] {
  let names: string[];
  try {
    names = readdirSync(join(configDir, 'configs'));
  } catch {
    return [];
  }
  const out: ProfileEntry[] = [];
  for (const file of names.sort()) {
    if (!file.endsWith('.json')) continue;
    const name = file.slice(0, -5);
    try {
      validateProfileName(name, 'file name');
    } catch {
      continue; // not a profile the SDKs could select (".hidden.json", "a b.json")
    }
    const path = profilePath(configDir, name);
    try {
      out.push({ name, path, profile: readProfile(path, name, `file ${path}`) });
    } catch (err) {
      if (!(err instanceof WifError)) throw err;
      out.push({ name, path, error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } });
    }
  }
  return out;
}

export interface ActiveProfile {
  /** The profile the SDKs would load, when a profile wins at all. */
  name?: string | undefined;
  /** "flag --profile", "env ANTHROPIC_PROFILE", "file <dir>/active_config", "default". */
  origin: string;
  /** Set when the federation environment variables win over the implicit profile (spec §4). */
  shadowedBy?: string | undefined;
}

/** Which profile is active and where that came from, by the SDKs' rules. */
export function activeProfile(env: Env, configDir: string, flag?: string): ActiveProfile {
  if (flag) return { name: flag, origin: 'flag --profile' };
  const named = readEnv(env, 'ANTHROPIC_PROFILE');
  if (named) return { name: named, origin: 'env ANTHROPIC_PROFILE' };
  const implicit = implicitProfile(configDir);
  const envWins =
    readEnv(env, 'ANTHROPIC_FEDERATION_RULE_ID') &&
    readEnv(env, 'ANTHROPIC_ORGANIZATION_ID') &&
    (readEnv(env, 'ANTHROPIC_IDENTITY_TOKEN_FILE') || readEnv(env, 'ANTHROPIC_IDENTITY_TOKEN') || readEnv(env, 'CLAUDE_WIF_IDENTITY_SOURCE'));
  return { ...implicit, shadowedBy: envWins ? 'the federation environment variables (ANTHROPIC_FEDERATION_RULE_ID, ANTHROPIC_ORGANIZATION_ID and an identity token) win over the implicit profile' : undefined };
}

export function implicitProfile(configDir: string): { name: string; origin: string } {
  const file = join(configDir, 'active_config');
  try {
    const text = readFileSync(file, 'utf8').trim();
    if (text) return { name: text, origin: `file ${file}` };
  } catch {
    /* absent */
  }
  return { name: 'default', origin: 'default (no active_config)' };
}

/** The identity source a profile names, for listings ("file", "gcp", … or "auto"). */
export function profileSource(p: ProfileFile): string {
  const own = p.own.identity?.source;
  if (typeof own === 'string' && own) return own;
  if (p.authentication.identity_token) return 'file';
  return p.authentication.type === 'user_oauth' ? '-' : 'auto';
}

/** The non-secret summary of a profile used by `profiles list/show --json`. */
export function profileSummary(p: ProfileFile): Record<string, unknown> {
  return {
    type: p.authentication.type,
    organization_id: p.organization_id ?? null,
    federation_rule_id: p.authentication.federation_rule_id ?? null,
    service_account_id: p.authentication.service_account_id ?? null,
    workspace_id: p.workspace_id ?? null,
    base_url: p.base_url ?? null,
    identity_source: profileSource(p),
    cache: typeof p.own.cache === 'string' ? p.own.cache : 'file',
    [OWN_KEY]: p.raw[OWN_KEY] ?? null,
  };
}
