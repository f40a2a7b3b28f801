import { readFile } from 'node:fs/promises';
import {
  DEFAULT_AUDIENCE,
  DEFAULT_MAX_JWT_LIFETIME_SECONDS,
  DEFAULT_TOKEN_LIFETIME_SECONDS,
  MAX_MAX_JWT_LIFETIME_SECONDS,
  MAX_RULE_TOKEN_LIFETIME_SECONDS,
  MIN_RULE_TOKEN_LIFETIME_SECONDS,
} from '../protocol.js';
import { isPlainObject } from './http.js';

/**
 * The sandbox's model of the three org-level WIF resources (spec §1): issuers, service accounts
 * and federation rules. Optional fields take the service's documented defaults.
 */
export interface SandboxIssuerConfig {
  id: string;
  /** Compared byte for byte with the JWT's `iss`. Default: the sandbox's own issuer (`${url}/oidc`). */
  issuer_url?: string;
  /** Default 3600, range 1–176400. */
  max_jwt_lifetime_seconds?: number;
  /** Default true: each `jti` may be exchanged once. */
  check_jti?: boolean;
}

export interface SandboxServiceAccountConfig {
  id: string;
  name?: string;
}

export interface SandboxRuleMatch {
  /** Exact, or a prefix when it ends with `*`; case-sensitive. */
  subject_prefix?: string;
  /** Must equal `aud` (string) or be one of its elements (array). */
  audience?: string;
  /** Exact equality of top-level string claims. */
  claims?: Record<string, string>;
}

export interface SandboxRuleConfig {
  id: string;
  issuer_id: string;
  service_account_id: string;
  match?: SandboxRuleMatch;
  /** Default 'workspace:inference'. */
  oauth_scope?: string;
  /** Default 3600, range 60–86400. */
  token_lifetime_seconds?: number;
  /** Default [default_workspace_id]. `default` stands for the org default workspace. */
  workspaces?: string[];
  archived?: boolean;
}

export interface SandboxConfig {
  organization_id: string;
  default_workspace_id: string;
  issuers: SandboxIssuerConfig[];
  service_accounts: SandboxServiceAccountConfig[];
  rules: SandboxRuleConfig[];
  /** Default true: the token endpoint only answers requests carrying `oidc-federation-2026-04-01`. */
  require_federation_beta?: boolean;
}

export const DEFAULT_ORGANIZATION_ID = '00000000-0000-4000-8000-000000000001';
export const DEFAULT_WORKSPACE_ID = 'wrkspc_sandboxdefault';
export const DEFAULT_ISSUER_ID = 'fdis_sandbox';
export const DEFAULT_SERVICE_ACCOUNT_ID = 'svac_sandbox';
export const DEFAULT_RULE_ID = 'fdrl_sandbox';
export const DEFAULT_SUBJECT_PREFIX = 'repo:example/*';
export const DEFAULT_OAUTH_SCOPE = 'workspace:inference';

/** The scopes a federation rule may grant (spec §1). */
export const OAUTH_SCOPES = ['workspace:developer', 'workspace:inference', 'workspace:manage_tunnels', 'org:admin'] as const;

// Tagged-id shapes. The token endpoint answers 400 for a malformed fdrl_/wrkspc_ id (spec §2), so
// the same patterns guard the configuration: a rule id that could never be requested is a mistake.
export const RULE_ID_RE = /^fdrl_[A-Za-z0-9]+$/;
export const WORKSPACE_ID_RE = /^wrkspc_[A-Za-z0-9]+$/;
const ISSUER_ID_RE = /^fdis_[A-Za-z0-9]+$/;
const SERVICE_ACCOUNT_ID_RE = /^svac_[A-Za-z0-9]+$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A fresh copy of the default configuration (arrays are never shared between sandboxes). */
export function defaultSandboxConfig(): SandboxConfig {
  return {
    organization_id: DEFAULT_ORGANIZATION_ID,
    default_workspace_id: DEFAULT_WORKSPACE_ID,
    issuers: [{ id: DEFAULT_ISSUER_ID }],
    service_accounts: [{ id: DEFAULT_SERVICE_ACCOUNT_ID, name: 'sandbox service account' }],
    rules: [
      {
        id: DEFAULT_RULE_ID,
        issuer_id: DEFAULT_ISSUER_ID,
        service_account_id: DEFAULT_SERVICE_ACCOUNT_ID,
        match: { subject_prefix: DEFAULT_SUBJECT_PREFIX, audience: DEFAULT_AUDIENCE },
      },
    ],
    require_federation_beta: true,
  };
}

class ConfigError extends Error {
  constructor(source: string, field: string, problem: string) {
    super(`${source}: ${field} ${problem}`);
    this.name = 'SandboxConfigError';
  }
}

const TOP_LEVEL_KEYS = new Set([
  'organization_id', 'default_workspace_id', 'issuers', 'service_accounts', 'rules', 'require_federation_beta',
]);
const ISSUER_KEYS = new Set(['id', 'issuer_url', 'max_jwt_lifetime_seconds', 'check_jti']);
const SERVICE_ACCOUNT_KEYS = new Set(['id', 'name']);
const RULE_KEYS = new Set([
  'id', 'issuer_id', 'service_account_id', 'match', 'oauth_scope', 'token_lifetime_seconds', 'workspaces', 'archived',
]);
const MATCH_KEYS = new Set(['subject_prefix', 'audience', 'claims']);

/**
 * Checks the shape of a (partial) sandbox configuration and returns it typed. Unknown keys are
 * refused: in a hand-written JSON file they are almost always typos, and a silently ignored
 * matcher would make the sandbox accept tokens the author meant to refuse.
 */
export function validateSandboxConfig(value: unknown, source = 'sandbox config'): Partial<SandboxConfig> {
  if (!isPlainObject(value)) throw new ConfigError(source, 'the configuration', 'must be a JSON object');
  const fail = (field: string, problem: string): never => {
    throw new ConfigError(source, field, problem);
  };
  const onlyKeys = (obj: Record<string, unknown>, allowed: Set<string>, where: string): void => {
    for (const key of Object.keys(obj)) {
      if (key === 'condition' && allowed === MATCH_KEYS) {
        fail(`${where}.condition`, 'is not supported: the sandbox does not evaluate CEL conditions; use match.claims');
      }
      if (!allowed.has(key)) fail(where ? `${where}.${key}` : key, `is not a known field (expected one of ${[...allowed].join(', ')})`);
    }
  };
  const str = (obj: Record<string, unknown>, key: string, where: string, re?: RegExp, shape?: string): void => {
    const v = obj[key];
    if (v === undefined) return;
    if (typeof v !== 'string' || v === '') fail(`${where}${key}`, 'must be a non-empty string');
    if (re && !re.test(v as string)) fail(`${where}${key}`, `must look like ${shape} (got ${JSON.stringify(v)})`);
  };
  const int = (obj: Record<string, unknown>, key: string, where: string, min: number, max: number): void => {
    const v = obj[key];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      fail(`${where}${key}`, `must be an integer from ${min} to ${max} (got ${JSON.stringify(v)})`);
    }
  };
  const bool = (obj: Record<string, unknown>, key: string, where: string): void => {
    if (obj[key] !== undefined && typeof obj[key] !== 'boolean') fail(`${where}${key}`, 'must be true or false');
  };
  const required = (obj: Record<string, unknown>, key: string, where: string): void => {
    if (obj[key] === undefined) fail(`${where}${key}`, 'is required');
  };
  const list = (key: string): Record<string, unknown>[] | undefined => {
    const v = value[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) return fail(key, 'must be an array');
    v.forEach((item, i) => {
      if (!isPlainObject(item)) fail(`${key}[${i}]`, 'must be an object');
    });
    return v as Record<string, unknown>[];
  };
  const unique = (items: Record<string, unknown>[], key: string): void => {
    const seen = new Set<unknown>();
    items.forEach((item, i) => {
      if (seen.has(item['id'])) fail(`${key}[${i}].id`, `duplicates ${JSON.stringify(item['id'])}`);
      seen.add(item['id']);
    });
  };

  onlyKeys(value, TOP_LEVEL_KEYS, '');
  str(value, 'organization_id', '', UUID_RE, 'a UUID');
  str(value, 'default_workspace_id', '', WORKSPACE_ID_RE, 'wrkspc_<letters and digits>');
  bool(value, 'require_federation_beta', '');

  const issuers = list('issuers');
  issuers?.forEach((issuer, i) => {
    const where = `issuers[${i}].`;
    onlyKeys(issuer, ISSUER_KEYS, `issuers[${i}]`);
    required(issuer, 'id', where);
    str(issuer, 'id', where, ISSUER_ID_RE, 'fdis_<letters and digits>');
    str(issuer, 'issuer_url', where);
    if (typeof issuer['issuer_url'] === 'string' && !URL.canParse(issuer['issuer_url'])) {
      fail(`${where}issuer_url`, `must be an absolute URL (got ${JSON.stringify(issuer['issuer_url'])})`);
    }
    // Range documented for the issuer resource (spec §1).
    int(issuer, 'max_jwt_lifetime_seconds', where, 1, MAX_MAX_JWT_LIFETIME_SECONDS);
    bool(issuer, 'check_jti', where);
  });
  if (issuers) unique(issuers, 'issuers');

  const accounts = list('service_accounts');
  accounts?.forEach((sa, i) => {
    const where = `service_accounts[${i}].`;
    onlyKeys(sa, SERVICE_ACCOUNT_KEYS, `service_accounts[${i}]`);
    required(sa, 'id', where);
    str(sa, 'id', where, SERVICE_ACCOUNT_ID_RE, 'svac_<letters and digits>');
    if (sa['name'] !== undefined && typeof sa['name'] !== 'string') fail(`${where}name`, 'must be a string');
  });
  if (accounts) unique(accounts, 'service_accounts');

  const rules = list('rules');
  rules?.forEach((rule, i) => {
    const where = `rules[${i}].`;
    onlyKeys(rule, RULE_KEYS, `rules[${i}]`);
    for (const key of ['id', 'issuer_id', 'service_account_id']) required(rule, key, where);
    str(rule, 'id', where, RULE_ID_RE, 'fdrl_<letters and digits>');
    str(rule, 'issuer_id', where);
    str(rule, 'service_account_id', where);
    if (rule['oauth_scope'] !== undefined && !(OAUTH_SCOPES as readonly unknown[]).includes(rule['oauth_scope'])) {
      fail(`${where}oauth_scope`, `must be one of ${OAUTH_SCOPES.join(', ')} (got ${JSON.stringify(rule['oauth_scope'])})`);
    }
    // Range documented for federation rules (spec §1).
    int(rule, 'token_lifetime_seconds', where, MIN_RULE_TOKEN_LIFETIME_SECONDS, MAX_RULE_TOKEN_LIFETIME_SECONDS);
    bool(rule, 'archived', where);
    const ws = rule['workspaces'];
    if (ws !== undefined) {
      if (!Array.isArray(ws) || ws.length === 0) fail(`${where}workspaces`, 'must be a non-empty array of workspace ids');
      (ws as unknown[]).forEach((w, j) => {
        if (typeof w !== 'string' || (w !== 'default' && !WORKSPACE_ID_RE.test(w))) {
          fail(`${where}workspaces[${j}]`, `must be wrkspc_<letters and digits> or "default" (got ${JSON.stringify(w)})`);
        }
      });
    }
    const match = rule['match'];
    if (match !== undefined) {
      if (!isPlainObject(match)) return fail(`${where}match`, 'must be an object');
      onlyKeys(match, MATCH_KEYS, `rules[${i}].match`);
      str(match, 'subject_prefix', `${where}match.`);
      str(match, 'audience', `${where}match.`);
      const claims = match['claims'];
      if (claims !== undefined) {
        if (!isPlainObject(claims)) fail(`${where}match.claims`, 'must be an object of string values');
        for (const [k, v] of Object.entries(claims as Record<string, unknown>)) {
          if (typeof v !== 'string') fail(`${where}match.claims.${k}`, 'must be a string (only exact string claims are matched)');
        }
      }
    }
  });
  if (rules) unique(rules, 'rules');

  return value as Partial<SandboxConfig>;
}

/**
 * Merges a partial configuration over the defaults (top-level keys replace, arrays included),
 * validates the result including cross-references, and fills every optional field with its
 * default so `Sandbox.config` shows the effective values. Issuers without an `issuer_url` get
 * `ownIssuerUrl` when given; the server passes it once it knows its port.
 */
export function resolveSandboxConfig(partial: Partial<SandboxConfig> | undefined, ownIssuerUrl?: string): SandboxConfig {
  const given = validateSandboxConfig(partial ?? {}, 'sandbox config');
  // Deep copy: the sandbox may be reconfigured at runtime through `Sandbox.config`, and that must
  // never write through to the caller's object.
  const merged = structuredClone({ ...defaultSandboxConfig(), ...stripUndefined(given) }) as SandboxConfig;
  validateSandboxConfig(merged, 'sandbox config');

  const issuerIds = new Set(merged.issuers.map((i) => i.id));
  const accountIds = new Set(merged.service_accounts.map((s) => s.id));
  merged.rules.forEach((rule, i) => {
    if (!issuerIds.has(rule.issuer_id)) {
      throw new ConfigError('sandbox config', `rules[${i}].issuer_id`, `names an unknown issuer ${JSON.stringify(rule.issuer_id)}`);
    }
    if (!accountIds.has(rule.service_account_id)) {
      throw new ConfigError('sandbox config', `rules[${i}].service_account_id`, `names an unknown service account ${JSON.stringify(rule.service_account_id)}`);
    }
  });

  for (const issuer of merged.issuers) {
    if (ownIssuerUrl !== undefined) issuer.issuer_url ??= ownIssuerUrl;
    issuer.max_jwt_lifetime_seconds ??= DEFAULT_MAX_JWT_LIFETIME_SECONDS;
    issuer.check_jti ??= true;
  }
  for (const rule of merged.rules) {
    rule.oauth_scope ??= DEFAULT_OAUTH_SCOPE;
    rule.token_lifetime_seconds ??= DEFAULT_TOKEN_LIFETIME_SECONDS;
    rule.workspaces ??= [merged.default_workspace_id];
    rule.archived ??= false;
  }
  merged.require_federation_beta ??= true;
  return merged;
}

function stripUndefined<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Reads and validates a sandbox configuration file (JSON). Errors name the file and the bad field. */
export async function loadSandboxConfig(path: string): Promise<Partial<SandboxConfig>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`sandbox config ${path}: cannot be read (${code ?? (err as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`sandbox config ${path}: is not valid JSON (${(err as Error).message})`);
  }
  return validateSandboxConfig(value, `sandbox config ${path}`);
}

// Effective values, read at request time. `Sandbox.config` is live: tests may push a rule or flip
// `check_jti` after start, so nothing below relies on resolveSandboxConfig having filled defaults.

export function effectiveIssuerUrl(issuer: SandboxIssuerConfig, ownIssuerUrl: string): string {
  return issuer.issuer_url ?? ownIssuerUrl;
}

export function effectiveWorkspaces(rule: SandboxRuleConfig, config: SandboxConfig): string[] {
  const list = rule.workspaces && rule.workspaces.length > 0 ? rule.workspaces : [config.default_workspace_id];
  // `default` is an alias for the organization's default workspace, in requests and in rules alike.
  return [...new Set(list.map((w) => (w === 'default' ? config.default_workspace_id : w)))];
}
