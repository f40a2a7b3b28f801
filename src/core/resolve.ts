import { DEFAULT_BASE_URL } from '../protocol.js';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve as resolvePath } from 'node:path';
import {
  defaultCredentialsPath,
  profilePath,
  readEnv,
  resolveCacheDir,
  resolveConfigDir,
  validateProfileName,
  xdgDisagreement,
  type Env,
  type Located,
} from '../config/paths.js';
import { validateBaseUrl, validateId } from '../config/ids.js';
import { OWN_KEY, readProfile, type ProfileFile } from '../config/profile.js';
import { WifError } from '../util/errors.js';
import { hash128 } from '../util/hash.js';
import { tokenPath } from '../cache/layout.js';
import { isKnownSource, unknownSourceError } from '../identity/names.js';


/** Variables that outrank federation in every SDK and in Claude Code (spec §4–§5). */
export const SHADOWING_VARS = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN'] as const;

/** "ANTHROPIC_API_KEY is set: …" and its siblings among a plan's warnings. */
export const isShadowingWarning = (w: string): boolean => SHADOWING_VARS.some((v) => w.startsWith(`${v} is set`));

export interface ResolveInput {
  env: Env;
  cwd?: string;
  profile?: string | undefined;
  configDir?: string | undefined;
  identitySource?: string | undefined;
  /** --audience: the identity source's audience option (also CLAUDE_WIF_AUDIENCE). */
  audience?: string | undefined;
  /** --cache: "file" or "keyring" (also CLAUDE_WIF_CACHE, then the profile's claude_wif.cache). */
  cache?: string | undefined;
  platform?: NodeJS.Platform;
}

export interface Selection {
  /** How the configuration was chosen. */
  via: 'flag --profile' | 'env ANTHROPIC_PROFILE' | 'federation env vars' | 'active_config' | 'default profile';
  reason: string;
}

export interface IdentityPlan {
  source: Located;
  options: Record<string, unknown>;
  /** Where each option came from. */
  optionOrigins: Record<string, string>;
}

export interface CachePlan {
  /** "profile-credentials": the SDK's credentials/<p>.json; "claude-wif-cache": our cache dir (env-only plans). */
  kind: 'profile-credentials' | 'claude-wif-cache';
  path: string;
  /** Hash of every input that changes the minted token. */
  key: string;
  origin: string;
  /** Where the token is kept: the file above (default) or the OS keyring (opt-in; degrades to the file). */
  backend: CacheBackend;
  backendOrigin: string;
  /** A user_oauth profile whose token file lives in a volume another party writes (the CSI provider's `token.json`). */
  mounted?: { root: string } | undefined;
}

export type CacheBackend = 'file' | 'keyring';
export const CACHE_BACKENDS: readonly CacheBackend[] = ['file', 'keyring'];

export interface Plan {
  kind: 'oidc_federation' | 'user_oauth';
  configDir: Located;
  cacheDir: Located;
  selection: Selection;
  profile?: { name: string; nameOrigin: string; path: string; file: ProfileFile };
  organizationId?: Located;
  federationRuleId?: Located;
  serviceAccountId?: Located;
  workspaceId?: Located;
  baseUrl: Located;
  scope?: Located;
  identity?: IdentityPlan;
  cache: CachePlan;
  /** Local single-use ledger on (the issuer's check_jti default). */
  checkJti: Located & { enabled: boolean };
  warnings: string[];
  notes: string[];
}

function pick(...candidates: Array<[string | undefined, string]>): Located | undefined {
  for (const [value, origin] of candidates) if (value !== undefined && value !== '') return { value, origin };
  return undefined;
}

function activeProfileName(configDir: string): { name: string; via: 'active_config' | 'default profile'; origin: string } {
  const file = join(configDir, 'active_config');
  let text: string | undefined;
  // existsSync first: on the hot path a thrown ENOENT (with its stack trace) costs more than a stat.
  if (!existsSync(file)) return { name: 'default', via: 'default profile', origin: 'default ("default")' };
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new WifError('config_invalid', `cannot read ${file}: ${(err as Error).message}`);
    }
  }
  if (text) return { name: text, via: 'active_config', origin: `file ${file}` };
  return { name: 'default', via: 'default profile', origin: 'default ("default")' };
}

/**
 * Spec §4 precedence: an explicitly named profile (flag or ANTHROPIC_PROFILE; missing is an
 * error) → the federation env vars (rule + organization + an identity token) → the implicit
 * profile (active_config or "default"). Inside a profile, env vars only fill gaps.
 */
export function resolvePlan(input: ResolveInput): Plan {
  const env = input.env;
  const cwd = input.cwd ?? process.cwd();
  const configDir = resolveConfigDir(env, input.configDir, input.platform);
  const cacheDir = resolveCacheDir(env, input.platform);
  const warnings: string[] = [];
  const notes: string[] = [];

  const xdg = xdgDisagreement(env, configDir);
  if (xdg) warnings.push(xdg);
  for (const v of SHADOWING_VARS) {
    if (readEnv(env, v)) {
      warnings.push(
        `${v} is set: SDK clients and Claude Code will use it instead of federation; unset it (or run the client through \`claude-wif exec\`, which removes it)`,
      );
    }
  }

  const sourceOverride = pick([input.identitySource, 'flag --identity-source'], [readEnv(env, 'CLAUDE_WIF_IDENTITY_SOURCE'), 'env CLAUDE_WIF_IDENTITY_SOURCE']);
  if (sourceOverride && !isKnownSource(sourceOverride.value)) {
    throw unknownSourceError(sourceOverride.value, sourceOverride.origin);
  }

  // 1. An explicitly named profile.
  const named = pick([input.profile, 'flag --profile'], [readEnv(env, 'ANTHROPIC_PROFILE'), 'env ANTHROPIC_PROFILE']);
  const envRule = readEnv(env, 'ANTHROPIC_FEDERATION_RULE_ID');
  const envOrg = readEnv(env, 'ANTHROPIC_ORGANIZATION_ID');
  const envHasIdentity = Boolean(readEnv(env, 'ANTHROPIC_IDENTITY_TOKEN_FILE') || readEnv(env, 'ANTHROPIC_IDENTITY_TOKEN'));

  let selection: Selection;
  let profileName: { name: string; origin: string } | undefined;
  if (named) {
    validateProfileName(named.value, named.origin);
    selection = {
      via: named.origin === 'flag --profile' ? 'flag --profile' : 'env ANTHROPIC_PROFILE',
      reason: `profile "${named.value}" named by ${named.origin}; an explicitly named profile wins over everything else`,
    };
    profileName = { name: named.value, origin: named.origin };
  } else if (envRule && envOrg && (envHasIdentity || sourceOverride)) {
    // 2. The federation env vars. (An identity source given by flag/env counts as "an identity
    //    token" here: that is claude-wif's extension; the SDKs would need the token itself.)
    selection = {
      via: 'federation env vars',
      reason: 'ANTHROPIC_FEDERATION_RULE_ID, ANTHROPIC_ORGANIZATION_ID and an identity token are set and no profile was named',
    };
    const implicit = activeProfileName(configDir.value);
    if (existsSync(profilePath(configDir.value, safeName(implicit.name)))) {
      notes.push(
        `the implicit profile "${implicit.name}" (${implicit.origin}) also exists but the federation env vars win, as documented and as Python, Go and @anthropic-ai/sdk 1.x do; older @anthropic-ai/sdk releases preferred the profile file. To make every client agree, unset the variables or name the profile with ANTHROPIC_PROFILE`,
      );
    }
  } else {
    // 3. The implicit profile.
    const implicit = activeProfileName(configDir.value);
    validateProfileName(implicit.name, implicit.origin);
    const path = profilePath(configDir.value, implicit.name);
    if (!existsSync(path)) {
      if (envRule && envOrg) {
        // SDK step 5: rule + org without an identity token; claude-wif can still detect a platform.
        selection = {
          via: 'federation env vars',
          reason: 'ANTHROPIC_FEDERATION_RULE_ID and ANTHROPIC_ORGANIZATION_ID are set, no profile exists; the identity source is auto-detected',
        };
      } else {
        throw new WifError('config_missing', `no federation configuration found: no profile "${implicit.name}" in ${configDir.value} (${configDir.origin}) and no ANTHROPIC_FEDERATION_RULE_ID + ANTHROPIC_ORGANIZATION_ID in the environment`, {
          hint: 'create a profile with `claude-wif configure`, set the ANTHROPIC_* federation variables, or try the local sandbox: `claude-wif sandbox --write-profile sandbox --activate`',
        });
      }
    } else {
      selection = {
        via: implicit.via,
        reason:
          implicit.via === 'active_config'
            ? `no profile was named and the federation env vars are incomplete; ${implicit.origin} names "${implicit.name}"`
            : 'no profile was named, the federation env vars are incomplete and there is no active_config; using "default"',
      };
      profileName = { name: implicit.name, origin: implicit.origin };
    }
  }

  let profile: Plan['profile'];
  if (profileName) {
    const path = profilePath(configDir.value, profileName.name);
    const file = readProfile(path, profileName.name, profileName.origin);
    profile = { name: profileName.name, nameOrigin: profileName.origin, path, file };
  }
  const f = profile?.file;
  const fromFile = (v: string | undefined, key: string): [string | undefined, string] => [v, `profile ${profile?.path} (${key})`];
  const fromEnv = (name: string): [string | undefined, string] => [readEnv(env, name), `env ${name}`];

  const baseUrlLoc = pick(f ? fromFile(f.base_url, 'base_url') : [undefined, ''], fromEnv('ANTHROPIC_BASE_URL')) ?? {
    value: DEFAULT_BASE_URL,
    origin: 'default',
  };
  baseUrlLoc.value = validateBaseUrl(baseUrlLoc.value, baseUrlLoc.origin);
  const organizationId = pick(f ? fromFile(f.organization_id, 'organization_id') : [undefined, ''], fromEnv('ANTHROPIC_ORGANIZATION_ID'));
  const workspaceId = pick(f ? fromFile(f.workspace_id, 'workspace_id') : [undefined, ''], fromEnv('ANTHROPIC_WORKSPACE_ID'));
  const scope = pick(f ? fromFile(f.authentication.scope, 'authentication.scope') : [undefined, ''], fromEnv('ANTHROPIC_SCOPE'));
  if (organizationId) validateId('organization_id', organizationId.value, organizationId.origin);
  if (workspaceId) validateId('workspace_id', workspaceId.value, workspaceId.origin);

  const checkJtiEnv = readEnv(env, 'CLAUDE_WIF_CHECK_JTI');
  const checkJti =
    checkJtiEnv !== undefined
      ? { value: checkJtiEnv, origin: 'env CLAUDE_WIF_CHECK_JTI', enabled: !/^(0|false|no|off)$/i.test(checkJtiEnv) }
      : f?.own.check_jti !== undefined
        ? { value: String(f.own.check_jti), origin: `profile ${profile?.path} (${OWN_KEY}.check_jti)`, enabled: f.own.check_jti }
        : { value: 'true', origin: 'default (issuers enforce single-use jti by default)', enabled: true };

  if (f && f.authentication.type === 'user_oauth') {
    // The CSI provider's volume names, under our own key, the copy of the token a non-root pod can
    // read (the SDK's credentials file there is root's 0600): read that one, with the mounted rules.
    const mountedName = f.own['mounted_credentials'];
    if (mountedName !== undefined && (typeof mountedName !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(mountedName))) {
      throw new WifError('config_invalid', `profile ${profile!.path}: ${OWN_KEY}.mounted_credentials must be a file name in the config directory`);
    }
    const credPath = typeof mountedName === 'string' ? join(configDir.value, mountedName) : (f.authentication.credentials_path ?? defaultCredentialsPath(configDir.value, profile!.name));
    return {
      kind: 'user_oauth',
      configDir,
      cacheDir,
      selection,
      profile,
      organizationId,
      workspaceId,
      baseUrl: baseUrlLoc,
      scope,
      cache: {
        kind: 'profile-credentials',
        path: resolvePath(cwd, credPath),
        key: '',
        origin:
          typeof mountedName === 'string'
            ? `profile (${OWN_KEY}.mounted_credentials: a volume kept fresh by the CSI provider)`
            : f.authentication.credentials_path
              ? `profile (authentication.credentials_path)`
              : 'default (credentials/<profile>.json)',
        // Another process writes this file; the SDKs and Claude Code read it there, never from a keyring.
        backend: 'file',
        backendOrigin: 'user_oauth profiles are always file-backed',
        ...(typeof mountedName === 'string' ? { mounted: { root: configDir.value } } : {}),
      },
      checkJti,
      warnings,
      notes: [...notes, 'user_oauth profile: the token file is kept fresh by another process; claude-wif only reads it'],
    };
  }

  const federationRuleId = pick(f ? fromFile(f.authentication.federation_rule_id, 'authentication.federation_rule_id') : [undefined, ''], fromEnv('ANTHROPIC_FEDERATION_RULE_ID'));
  const serviceAccountId = pick(f ? fromFile(f.authentication.service_account_id, 'authentication.service_account_id') : [undefined, ''], fromEnv('ANTHROPIC_SERVICE_ACCOUNT_ID'));
  const where = profile ? `the profile ${profile.path}` : 'the environment';
  if (!federationRuleId) {
    throw new WifError('config_invalid', `no federation rule id: ${where} has no authentication.federation_rule_id and ANTHROPIC_FEDERATION_RULE_ID is not set`, {
      hint: 'set authentication.federation_rule_id (fdrl_…) in the profile or export ANTHROPIC_FEDERATION_RULE_ID',
    });
  }
  if (!organizationId) {
    throw new WifError('config_invalid', `no organization id: ${where} has no organization_id and ANTHROPIC_ORGANIZATION_ID is not set`, {
      hint: 'set organization_id (a UUID from the Claude Console) in the profile or export ANTHROPIC_ORGANIZATION_ID',
    });
  }
  validateId('federation_rule_id', federationRuleId.value, federationRuleId.origin);
  if (serviceAccountId) validateId('service_account_id', serviceAccountId.value, serviceAccountId.origin);

  const identity = resolveIdentity(env, cwd, f, profile?.path, sourceOverride, input.audience);

  // Everything that changes which token the endpoint mints (or whether it would).
  const key = hash128(
    JSON.stringify([
      baseUrlLoc.value,
      organizationId.value,
      federationRuleId.value,
      serviceAccountId?.value ?? '',
      workspaceId?.value ?? '',
      identity.source.value,
      stableOptions(identity.options),
    ]),
  );

  const backend = cacheBackend(env, input.cache, f, profile?.path);
  let cache: CachePlan;
  if (profile && f) {
    const credPath = f.authentication.credentials_path;
    cache = {
      kind: 'profile-credentials',
      path: credPath ? resolvePath(cwd, credPath) : defaultCredentialsPath(configDir.value, profile.name),
      key,
      origin: credPath ? 'profile (authentication.credentials_path)' : 'default (credentials/<profile>.json, shared with the SDKs)',
      ...backend,
    };
  } else {
    cache = {
      kind: 'claude-wif-cache',
      path: tokenPath(cacheDir.value, key),
      key,
      origin: `claude-wif cache (${cacheDir.origin}); env-only configuration has no profile credentials file`,
      ...backend,
    };
  }

  return {
    kind: 'oidc_federation',
    configDir,
    cacheDir,
    selection,
    profile,
    organizationId,
    federationRuleId,
    serviceAccountId,
    workspaceId,
    baseUrl: baseUrlLoc,
    scope,
    identity,
    cache,
    checkJti,
    warnings,
    notes,
  };
}

/** --cache → CLAUDE_WIF_CACHE → the profile's claude_wif.cache → "file". */
function cacheBackend(env: Env, flag: string | undefined, f: ProfileFile | undefined, path: string | undefined): { backend: CacheBackend; backendOrigin: string } {
  const chosen = pick([flag, 'flag --cache'], [readEnv(env, 'CLAUDE_WIF_CACHE'), 'env CLAUDE_WIF_CACHE'], [f?.own.cache, `profile ${path} (${OWN_KEY}.cache)`]);
  if (!chosen) return { backend: 'file', backendOrigin: 'default' };
  return { backend: parseCacheBackend(chosen.value, chosen.origin), backendOrigin: chosen.origin };
}

/** A cache backend name from `origin` (the flag --cache, CLAUDE_WIF_CACHE, a profile); anything else is refused. */
export function parseCacheBackend(value: string, origin: string): CacheBackend {
  if ((CACHE_BACKENDS as readonly string[]).includes(value)) return value as CacheBackend;
  throw new WifError(origin === 'flag --cache' ? 'usage_error' : 'config_invalid', `cache backend ${JSON.stringify(value)} (from ${origin}) is not one of ${CACHE_BACKENDS.join(', ')}`, {
    hint: 'use "file" (the default, shared with the SDKs) or "keyring" (the OS keyring)',
  });
}

function safeName(name: string): string {
  try {
    validateProfileName(name, 'active_config');
    return name;
  } catch {
    return 'default';
  }
}

function stableOptions(options: Record<string, unknown>): string {
  return JSON.stringify(Object.keys(options).sort().map((k) => [k, options[k]]));
}

/**
 * Identity source, in order: --identity-source / CLAUDE_WIF_IDENTITY_SOURCE → the profile's
 * claude_wif.identity.source → the profile's identity_token (file) → ANTHROPIC_IDENTITY_TOKEN_FILE
 * → ANTHROPIC_IDENTITY_TOKEN → auto-detection.
 */
export function resolveIdentity(env: Env, cwd: string, f: ProfileFile | undefined, path: string | undefined, override: Located | undefined, audienceFlag?: string): IdentityPlan {
  const own = f?.own.identity ?? {};
  const options: Record<string, unknown> = {};
  const optionOrigins: Record<string, string> = {};
  for (const [k, v] of Object.entries(own)) {
    if (k === 'source' || v === undefined || v === null) continue;
    options[k] = v;
    optionOrigins[k] = `profile ${path} (${OWN_KEY}.identity.${k})`;
  }
  // Like --identity-source, the audience given by flag or CLAUDE_WIF_AUDIENCE overrides the profile.
  const audience = pick([audienceFlag, 'flag --audience'], [readEnv(env, 'CLAUDE_WIF_AUDIENCE'), 'env CLAUDE_WIF_AUDIENCE']);
  if (audience) {
    options['audience'] = audience.value;
    optionOrigins['audience'] = audience.origin;
  }
  const profileFile = f?.authentication.identity_token?.path;
  const envFile = readEnv(env, 'ANTHROPIC_IDENTITY_TOKEN_FILE');
  const envToken = readEnv(env, 'ANTHROPIC_IDENTITY_TOKEN');

  let source: Located;
  if (override) source = override;
  else if (typeof own.source === 'string' && own.source) source = { value: own.source, origin: `profile ${path} (${OWN_KEY}.identity.source)` };
  else if (profileFile) source = { value: 'file', origin: `profile ${path} (authentication.identity_token)` };
  else if (envFile) source = { value: 'file', origin: 'env ANTHROPIC_IDENTITY_TOKEN_FILE' };
  else if (envToken) source = { value: 'env', origin: 'env ANTHROPIC_IDENTITY_TOKEN' };
  else source = { value: 'auto', origin: 'default (auto-detect)' };

  if (!isKnownSource(source.value)) {
    throw unknownSourceError(source.value, source.origin, 'config_invalid');
  }

  if (source.value === 'file' && options['path'] === undefined) {
    const p = pick([profileFile, `profile ${path} (authentication.identity_token.path)`], [envFile, 'env ANTHROPIC_IDENTITY_TOKEN_FILE']);
    if (p) {
      options['path'] = p.value;
      optionOrigins['path'] = p.origin;
    }
  }
  for (const key of ['path', 'private_key_path', 'token_file']) {
    const v = options[key];
    if (typeof v === 'string' && v !== '' && !isAbsolute(v)) options[key] = resolvePath(cwd, v);
  }
  if (source.value === 'env' && options['variable'] === undefined) {
    options['variable'] = 'ANTHROPIC_IDENTITY_TOKEN';
    optionOrigins['variable'] = 'default';
  }
  return { source, options, optionOrigins };
}
