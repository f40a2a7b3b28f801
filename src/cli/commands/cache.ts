import { existsSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandContext } from '../context.js';
import { ownDocumentOrAbsent, readCredentials, readPlanCredentials, type CachedToken } from '../../cache/file-store.js';
import { isTokenFile, locksDir, tokensDir } from '../../cache/layout.js';
import { clearLedger, ledgerSummary } from '../../cache/ledger.js';
import { listLocks } from '../../cache/lock.js';
import { isFresh } from '../../cache/policy.js';
import { openTokenStore, type TokenStore } from '../../cache/store.js';
import { resolveCacheDir, resolveConfigDir, type Located } from '../../config/paths.js';
import { listProfiles } from '../../config/profiles.js';
import type { Plan } from '../../core/resolve.js';
import { nowSeconds } from '../../util/clock.js';
import { WifError } from '../../util/errors.js';
import { describeAge } from '../../util/jwt.js';
import { colours } from '../io.js';
import { table } from '../table.js';

export interface TokenEntry {
  /** The profile, or null for an env-only token in the claude-wif cache. */
  profile: string | null;
  backend: 'file' | 'keyring';
  location: string;
  state: 'fresh' | 'refresh-due' | 'expired' | 'none' | 'unsafe' | 'unreadable';
  expires_at?: number | null;
  expires_in?: number | null;
  /** Set when a configured keyring could not be used. */
  degraded?: string;
  problem?: { code: string; message: string; hint?: string };
}

function tokenState(c: CachedToken | undefined, now: number): Pick<TokenEntry, 'state' | 'expires_at' | 'expires_in'> {
  if (!c) return { state: 'none' };
  const info = { expires_at: c.expiresAt, expires_in: c.expiresAt === null ? null : c.expiresAt - now };
  if (c.expiresAt !== null && c.expiresAt <= now) return { ...info, state: 'expired' };
  return { ...info, state: isFresh(c, now) ? 'fresh' : 'refresh-due' };
}

function readEntry(profile: string | null, store: Pick<TokenStore, 'backend' | 'location' | 'read' | 'degraded'>, now: number): TokenEntry {
  const base = { profile, backend: store.backend, location: store.location, ...(store.degraded ? { degraded: store.degraded } : {}) };
  try {
    return { ...base, ...tokenState(store.read(), now) };
  } catch (err) {
    if (!(err instanceof WifError)) return { ...base, state: 'unreadable', problem: { code: 'internal_error', message: (err as Error).message } };
    return { ...base, state: 'unsafe', problem: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } };
  }
}

interface ProfilePlan {
  name: string;
  plan?: Plan;
  error?: WifError;
}

function profilePlans(ctx: CommandContext, configDir: Located): ProfilePlan[] {
  return listProfiles(configDir.value).map((e) => {
    try {
      return { name: e.name, plan: ctx.planFor(e.name) };
    } catch (err) {
      if (!(err instanceof WifError)) throw err;
      return { name: e.name, error: err };
    }
  });
}

/** Tokens of every profile (file, keyring, or both when a keyring fell back to its file). */
async function profileTokens(ctx: CommandContext, plans: ProfilePlan[], now: number): Promise<TokenEntry[]> {
  const out: TokenEntry[] = [];
  for (const p of plans) {
    if (!p.plan) continue;
    const store = await openTokenStore(p.plan, ctx.deps);
    out.push(readEntry(p.name, store, now));
    // A keyring profile may still have a file from before (or from the SDKs): list it too.
    if (store.backend === 'keyring' && existsSync(p.plan.cache.path)) {
      out.push(readEntry(p.name, { backend: 'file', location: p.plan.cache.path, read: () => readPlanCredentials(p.plan!.cache) }, now));
    }
  }
  return out;
}

function envTokens(cacheDir: string, now: number): TokenEntry[] {
  const dir = tokensDir(cacheDir);
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter(isTokenFile);
  } catch {
    /* none */
  }
  return names.sort().map((n) => readEntry(null, { backend: 'file', location: join(dir, n), read: () => readCredentials(join(dir, n)) }, now));
}

/**
 * `cache list`. JSON shape: {"config_dir","cache_dir","tokens":[TokenEntry…],
 * "profile_errors":[{"profile","error"}],"ledger":LedgerSummary,"locks":[LockEntry…]}.
 */
export async function runCacheList(ctx: CommandContext, opts: { json?: boolean }): Promise<number> {
  const configDir = resolveConfigDir(ctx.io.env, ctx.global.configDir);
  const cacheDir = resolveCacheDir(ctx.io.env);
  const now = nowSeconds(ctx.io.clock);
  const plans = profilePlans(ctx, configDir);
  const tokens = [...(await profileTokens(ctx, plans, now)), ...envTokens(cacheDir.value, now)];
  const ledger = ledgerSummary(cacheDir.value, now);
  const lockList = listLocks(cacheDir.value, ctx.io.clock.now());
  const profileErrors = plans.filter((p) => p.error).map((p) => ({ profile: p.name, error: p.error!.toJSON() }));
  if (opts.json) {
    ctx.io.stdout.write(`${JSON.stringify({ config_dir: configDir, cache_dir: cacheDir, tokens, profile_errors: profileErrors, ledger, locks: lockList }, null, 2)}\n`);
    return 0;
  }
  const c = await colours(ctx.io, ctx.global.color !== false);
  const state = (t: TokenEntry) => {
    switch (t.state) {
      case 'fresh':
        return c.ok(t.expires_in === null ? 'valid' : `valid, ${describeAge(t.expires_in ?? 0)} left`);
      case 'refresh-due':
        return `refresh due, ${describeAge(t.expires_in ?? 0)} left`;
      case 'expired':
        return c.dim(`expired ${describeAge(-(t.expires_in ?? 0))} ago`);
      case 'none':
        return c.dim('none');
      default:
        return c.bad(`${t.state} (${t.problem?.code})`);
    }
  };
  let out = table(
    tokens.map((t) => [t.profile ?? c.dim('(env)'), t.backend + (t.degraded ? c.bad(' → file') : ''), state(t), t.location]),
    ['PROFILE', 'BACKEND', 'TOKEN', 'WHERE'],
  );
  for (const t of tokens) {
    if (t.degraded) out += `${c.bad('warning:')} ${t.profile}: keyring unavailable (${t.degraded}); the file cache is used\n`;
    if (t.problem) out += `${c.bad('warning:')} ${t.problem.message}${t.problem.hint ? ` — fix: ${t.problem.hint}` : ''}\n`;
  }
  for (const p of profileErrors) out += `${c.bad('warning:')} profile ${p.profile}: ${String(p.error['message'])}\n`;
  out += `\nledger  ${ledger.entries} used assertion id(s) in ${ledger.issuers.length} issuer dir(s) at ${ledger.path} (hashes only)\n`;
  const stale = lockList.filter((l) => !l.held).length;
  out += `locks   ${lockList.length} lock file(s)${stale ? `, ${stale} not held by a live process` : ''} at ${locksDir(cacheDir.value)}\n`;
  ctx.io.stdout.write(out);
  return 0;
}

/**
 * `cache clear`: the selected profile's token (file and keyring), or with --all every token,
 * the ledger and the locks no live process holds. JSON shape: {"removed":[path or location…]}.
 */
export async function runCacheClear(ctx: CommandContext, opts: { all?: boolean; json?: boolean }): Promise<number> {
  const removed: string[] = [];
  const kept: string[] = [];
  const cacheDir = resolveCacheDir(ctx.io.env);
  const removeStore = async (plan: Plan, keepGoing = false) => {
    const store = await openTokenStore(plan, ctx.deps);
    if (store.backend === 'keyring' && store.remove()) removed.push(store.location);
    try {
      // Only a credentials document is deleted: a key file named as credentials_path is refused (item 5).
      if (ownDocumentOrAbsent(plan.cache.path)) {
        unlinkSync(plan.cache.path);
        removed.push(plan.cache.path);
      }
    } catch (err) {
      if (!keepGoing || !(err instanceof WifError)) throw err;
      kept.push(`${plan.cache.path} (${err.message})`);
    }
  };
  if (!opts.all) {
    const plan = ctx.plan();
    if (plan.kind === 'user_oauth') {
      throw new WifError('usage_error', `profile "${plan.profile?.name}" is a user_oauth profile: its token file belongs to the process that keeps it fresh`, {
        hint: `stop that process, or delete ${plan.cache.path} yourself`,
      });
    }
    await removeStore(plan);
  } else {
    const configDir = resolveConfigDir(ctx.io.env, ctx.global.configDir);
    for (const p of profilePlans(ctx, configDir)) {
      if (!p.plan) continue;
      if (p.plan.kind === 'user_oauth') {
        kept.push(`${p.plan.cache.path} (user_oauth profile "${p.name}": kept by another process)`);
        continue;
      }
      await removeStore(p.plan, true);
    }
    for (const t of envTokens(cacheDir.value, 0)) {
      unlinkSync(t.location);
      removed.push(t.location);
    }
    const ledger = clearLedger(cacheDir.value);
    if (ledger) removed.push(ledger);
    for (const l of listLocks(cacheDir.value, ctx.io.clock.now())) {
      if (l.held) kept.push(`${l.path} (held by pid ${l.pid})`);
      else {
        rmSync(l.path, { force: true });
        removed.push(l.path);
      }
    }
  }
  if (opts.json) {
    ctx.io.stdout.write(`${JSON.stringify({ removed, kept }, null, 2)}\n`);
    return 0;
  }
  ctx.io.stdout.write(removed.map((r) => `removed ${r}\n`).join(''));
  for (const k of kept) ctx.log.info(`kept ${k}`);
  if (!removed.length) ctx.log.info('nothing to remove');
  return 0;
}

/**
 * `cache forget`: forgets the single-use record of the current identity JWT (or of `--jti` under
 * the JWT's issuer), so the next exchange sends it once more. Tokens and every other record stay
 * (issue 15 item 11: `cache clear --all` was the only way out, and it deleted valid tokens).
 */
export async function runCacheForget(ctx: CommandContext, opts: { jti?: string; json?: boolean }): Promise<number> {
  const plan = ctx.plan();
  if (plan.kind !== 'oidc_federation' || !plan.identity) {
    throw new WifError('usage_error', `profile "${plan.profile?.name}" is not a federation profile: it has no identity JWT to forget`);
  }
  const { fetchIdentity } = await import('../../core/identity.js');
  const { forgetAssertion, describeEntry } = await import('../../cache/ledger.js');
  const { timeouts } = await import('../../core/credentials.js');
  const { createHash } = await import('node:crypto');
  const got = await fetchIdentity(plan, ctx.deps, timeouts(ctx.io.env).requestMs);
  const iss = got.claims.iss;
  const id = opts.jti ? createHash('sha256').update(`jti\0${iss ?? ''}\0${opts.jti}`).digest('hex') : got.claims.assertionId;
  const which = opts.jti ? `jti ${JSON.stringify(opts.jti)} of issuer ${iss}` : `the current identity JWT${got.claims.jti ? ` (jti ${JSON.stringify(got.claims.jti)})` : ''}`;
  const now = nowSeconds(ctx.io.clock);
  const entry = forgetAssertion(plan.cacheDir.value, iss, id);
  if (opts.json) {
    ctx.io.stdout.write(`${JSON.stringify({ forgotten: entry !== undefined, ...(entry?.state ? { previous: { state: entry.state, status: entry.status, code: entry.code, sent_seconds_ago: Math.max(0, now - entry.used_at) } } : {}) }, null, 2)}\n`);
  } else if (!entry) {
    ctx.io.stdout.write(`nothing recorded for ${which}: it has not been sent from this machine\n`);
  } else {
    ctx.io.stdout.write(`forgot ${which}, which ${describeEntry(entry, now)}; the next exchange sends it once more (cached tokens are untouched)\n`);
  }
  if (entry?.state === 'accepted') ctx.log.warn('the token endpoint accepted this JWT: with check_jti on, sending it again will be refused (401)');
  return 0;
}
