import { readPlanCredentials } from '../../cache/file-store.js';
import { isFresh } from '../../cache/policy.js';
import type { Located } from '../../config/paths.js';
import type { Plan } from '../../core/resolve.js';
import type { TokenStore } from '../../cache/store.js';
import { describeTime, nowSeconds } from '../../util/clock.js';
import { WifError } from '../../util/errors.js';
import { describeAge } from '../../util/jwt.js';
import { colours } from '../io.js';
import type { CommandContext } from '../context.js';

interface CacheState {
  path: string;
  kind: string;
  origin: string;
  /** "file" or "keyring" (opt-in), where it was chosen, and why a configured keyring is not used. */
  backend: string;
  backend_origin: string;
  location: string;
  degraded?: string;
  state: 'fresh' | 'refresh-due' | 'expired' | 'none' | 'other-inputs' | 'unsafe';
  expires_at?: number | null;
  expires_in?: number | null;
  problem?: { code: string; message: string; hint?: string };
}

function cacheState(plan: Plan, now: number, store?: TokenStore): CacheState {
  const base = {
    path: plan.cache.path,
    kind: plan.cache.kind,
    origin: plan.cache.origin,
    backend: store?.backend ?? 'file',
    backend_origin: plan.cache.backendOrigin,
    location: store?.location ?? plan.cache.path,
    ...(store?.degraded ? { degraded: store.degraded } : {}),
  };
  try {
    const c = store ? store.read() : readPlanCredentials(plan.cache);
    if (!c) return { ...base, state: 'none' };
    const info = { expires_at: c.expiresAt, expires_in: c.expiresAt === null ? null : c.expiresAt - now };
    if (plan.kind === 'oidc_federation' && c.key !== undefined && c.key !== plan.cache.key) return { ...base, ...info, state: 'other-inputs' };
    if (c.expiresAt !== null && c.expiresAt <= now) return { ...base, ...info, state: 'expired' };
    return { ...base, ...info, state: isFresh(c, now) ? 'fresh' : 'refresh-due' };
  } catch (err) {
    if (!(err instanceof WifError)) throw err;
    return { ...base, state: 'unsafe', problem: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } };
  }
}

const loc = (l: Located | undefined) => (l ? { value: l.value, origin: l.origin } : null);

/** The machine-readable status document (documented in the README; no secrets by construction). */
export function statusDocument(plan: Plan, now: number, store?: TokenStore): Record<string, unknown> {
  return {
    kind: plan.kind,
    selection: plan.selection,
    profile: plan.profile ? { name: plan.profile.name, name_origin: plan.profile.nameOrigin, path: plan.profile.path } : null,
    config_dir: loc(plan.configDir),
    organization_id: loc(plan.organizationId),
    federation_rule_id: loc(plan.federationRuleId),
    service_account_id: loc(plan.serviceAccountId),
    workspace_id: loc(plan.workspaceId),
    base_url: loc(plan.baseUrl),
    scope: loc(plan.scope),
    identity: plan.identity
      ? { source: plan.identity.source.value, source_origin: plan.identity.source.origin, options: plan.identity.options, option_origins: plan.identity.optionOrigins }
      : null,
    check_jti: { enabled: plan.checkJti.enabled, origin: plan.checkJti.origin },
    cache: cacheState(plan, now, store),
    cache_dir: loc(plan.cacheDir),
    warnings: plan.warnings,
    notes: plan.notes,
  };
}

/** `claude-wif status`: offline; which profile and inputs won and why, and the cached token's state. */
/**
 * With nothing configured, status says what to do next on stderr (as `gh auth status` does when
 * logged out) instead of the bare error, and exits with config_missing's code.
 */
async function nothingConfigured(ctx: CommandContext, err: WifError): Promise<number> {
  const { resolveConfigDir } = await import('../../config/paths.js');
  const { listProfiles } = await import('../../config/profiles.js');
  const configDir = resolveConfigDir(ctx.io.env, ctx.global.configDir);
  const names = listProfiles(configDir.value).map((p) => p.name);
  const lines = [
    `Not configured: claude-wif found no profile to use in ${configDir.value} and no federation variables in the environment.`,
    '',
    names.length
      ? `Profiles there: ${names.join(', ')}. Use one with \`claude-wif profiles use <name>\` (or --profile <name>).`
      : 'To set up federation, do one of:',
    '  claude-wif configure                                    create a profile (asks for each value on a terminal)',
    '  claude-wif sandbox --write-profile sandbox --activate   try everything locally against the sandbox',
    '  export ANTHROPIC_FEDERATION_RULE_ID=fdrl_… ANTHROPIC_ORGANIZATION_ID=<uuid>   configure by environment',
    '',
    'Then `claude-wif status` shows what was chosen and why, and `claude-wif doctor` checks it end to end.',
    `(${err.code}, exit ${err.exitCode})`,
    '',
  ];
  ctx.io.stderr.write(lines.join('\n'));
  return err.exitCode;
}

export async function runStatus(ctx: CommandContext, opts: { json?: boolean }): Promise<number> {
  let plan: Plan;
  try {
    plan = ctx.plan();
  } catch (err) {
    if (err instanceof WifError && err.code === 'config_missing' && !opts.json) return nothingConfigured(ctx, err);
    throw err;
  }
  const now = nowSeconds(ctx.io.clock);
  // The keyring is opened (and probed) only when configured; a failure shows here, never fails status.
  const store = plan.cache.backend === 'keyring' ? await (await import('../../cache/store.js')).openTokenStore(plan, ctx.deps) : undefined;
  const doc = statusDocument(plan, now, store);
  if (opts.json) {
    ctx.io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    return 0;
  }
  const c = await colours(ctx.io, ctx.global.color !== false);
  const rows: Array<[string, string]> = [];
  const add = (label: string, l: Located | undefined) => rows.push([label, l ? `${l.value}  ${c.dim(`(${l.origin})`)}` : c.dim('—')]);
  rows.push(['Configuration', plan.profile ? `profile "${plan.profile.name}"  ${c.dim(`(${plan.profile.nameOrigin})`)}` : 'federation environment variables']);
  rows.push(['  why', plan.selection.reason]);
  if (plan.profile) rows.push(['Profile file', plan.profile.path]);
  add('Config dir', plan.configDir);
  rows.push(['Type', plan.kind]);
  add('Organization', plan.organizationId);
  if (plan.kind === 'oidc_federation') {
    add('Federation rule', plan.federationRuleId);
    add('Service account', plan.serviceAccountId);
  }
  add('Workspace', plan.workspaceId);
  add('Base URL', plan.baseUrl);
  if (plan.identity) {
    const opts = Object.entries(plan.identity.options)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    rows.push(['Identity source', `${plan.identity.source.value}${opts ? ` ${opts}` : ''}  ${c.dim(`(${plan.identity.source.origin})`)}`]);
    rows.push(['Single-use jti', `${plan.checkJti.enabled ? 'enforced locally' : 'not checked'}  ${c.dim(`(${plan.checkJti.origin})`)}`]);
  }
  const cache = doc['cache'] as CacheState;
  if (plan.cache.backend === 'keyring') {
    rows.push([
      'Cache backend',
      cache.degraded ? c.bad(`keyring unavailable (${cache.degraded}); using the file`) : `${cache.location}  ${c.dim(`(${cache.backend_origin})`)}`,
    ]);
  }
  rows.push(['Cache', `${cache.path}  ${c.dim(`(${cache.origin})`)}`]);
  rows.push(['Cached token', describeCache(cache, c)]);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  const out = rows.map(([l, v]) => `${l.padEnd(width)}${v}`);
  for (const w of plan.warnings) out.push(`${c.bad('warning:')} ${w}`);
  if (cache.problem) out.push(`${c.bad('warning:')} ${cache.problem.message}${cache.problem.hint ? ` — fix: ${cache.problem.hint}` : ''}`);
  for (const n of plan.notes) out.push(`${c.dim('note:')} ${n}`);
  ctx.io.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

function describeCache(cache: CacheState, c: { ok(s: string): string; bad(s: string): string }): string {
  const at = cache.expires_at ? describeTime(cache.expires_at) : undefined;
  switch (cache.state) {
    case 'none':
      return 'none (the next `claude-wif token` exchanges)';
    case 'fresh':
      return c.ok(cache.expires_at === null ? 'valid (no expiry recorded)' : `valid until ${at} (${describeAge(cache.expires_in ?? 0)} left)`);
    case 'refresh-due':
      return `valid until ${at} (${describeAge(cache.expires_in ?? 0)} left; inside the refresh window: the next call exchanges)`;
    case 'expired':
      return c.bad(`expired at ${at}`);
    case 'other-inputs':
      return `minted for different inputs (workspace, rule, base URL or identity source changed); the next call exchanges`;
    case 'unsafe':
      return c.bad(`refused (${cache.problem?.code})`);
  }
}
