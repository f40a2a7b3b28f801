import type { Env } from '../config/paths.js';
import { readEnv } from '../config/paths.js';
import { readPlanCredentials, type TokenToStore } from '../cache/file-store.js';
import { lockPath as lockPathFor } from '../cache/layout.js';
import type { TokenStore } from '../cache/store.js';
import { cachedToken, type AccessToken } from './cache-hit.js';
import type { Clock } from '../util/clock.js';
import { nowSeconds } from '../util/clock.js';
import { WifError } from '../util/errors.js';
import { requireTrustedDir } from '../util/trust.js';
import type { Logger } from '../util/log.js';
import { describeAge } from '../util/jwt.js';
import type { Plan } from './resolve.js';
import type { Reservation } from '../cache/ledger.js';
import type { ExchangeTrace } from '../audit/trail.js';

export interface CoreDeps {
  env: Env;
  clock: Clock;
  log: Logger;
  userAgent: string;
  /** Which command or component is asking (the audit trail's `component`): token, env, exec, agent, proxy, … */
  component?: string | undefined;
}

export interface GetTokenOptions {
  /** The token must have at least this many seconds left. */
  minTtl?: number;
  /** Exchange even if the cache holds a fresh token. */
  forceRefresh?: boolean;
  /**
   * Keep the token here instead of the plan's cache (a proxy session's memory store: the token
   * never reaches a file). Reads still see whatever the store falls back to.
   */
  store?: Pick<TokenStore, 'location' | 'read' | 'write'>;
}

export type { AccessToken } from './cache-hit.js';

/** Deadlines, overridable for slow links and for tests. */
export function timeouts(env: Env): { requestMs: number; overallMs: number } {
  const num = (name: string, fallback: number) => {
    const v = Number(readEnv(env, name));
    return Number.isFinite(v) && v > 0 ? v : fallback;
  };
  return { requestMs: num('CLAUDE_WIF_HTTP_TIMEOUT_MS', 10_000), overallMs: num('CLAUDE_WIF_TIMEOUT_MS', 30_000) };
}

/**
 * A fresh access token for the plan: from the cache when it is fresh enough, otherwise through
 * one exchange per cache key across all processes on this machine.
 */
export async function getAccessToken(plan: Plan, opts: GetTokenOptions, deps: CoreDeps): Promise<AccessToken> {
  const minTtl = opts.minTtl ?? 0;
  // The opt-in OS keyring (loaded only when configured); undefined means the plan's file.
  const store = opts.store ?? (plan.cache.backend === 'keyring' ? await (await import('../cache/store.js')).openTokenStore(plan, deps) : undefined);
  if (!opts.forceRefresh) {
    const hit = cachedToken(plan, deps, minTtl, store);
    if (hit) {
      deps.log.debug(`cache hit ${plan.cache.path} (expires in ${describeAge((hit.expiresAt ?? 0) - nowSeconds(deps.clock))})`);
      return hit;
    }
  }
  if (plan.kind === 'user_oauth') return userOAuthToken(plan, deps, minTtl);

  // The cache directory holds the lock and the single-use ledger: whoever owns or can write it
  // could fake either. Checked here, on a miss only (the hot path never writes there).
  try {
    requireTrustedDir(plan.cacheDir.value, 'the cache directory');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const { acquireLock, cacheUnwritable } = await import('../cache/lock.js');
  const unwritable = (err: unknown) => cacheUnwritable(err, plan.cacheDir.value) ?? err;
  const { requestMs, overallMs } = timeouts(deps.env);
  const started = deps.clock.now();
  const lockPath = lockPathFor(plan.cacheDir.value, plan.cache.key);
  // Another process that refreshed while we waited satisfies us, even for --force-refresh.
  const refreshedSinceStart = (): AccessToken | undefined => {
    const t = cachedToken(plan, deps, minTtl, store);
    if (!t) return undefined;
    if (opts.forceRefresh && !(t.obtainedAtMs !== undefined && t.obtainedAtMs > started)) return undefined;
    return t;
  };
  let found: AccessToken | undefined;
  const lock = await acquireLock(lockPath, {
    clock: deps.clock,
    waitMs: overallMs + 5_000,
    staleMs: overallMs * 2 + 10_000,
    satisfied: () => (found = refreshedSinceStart()) !== undefined,
  }).catch((err: unknown) => {
    throw unwritable(err);
  });
  if (!lock.acquired) {
    if (lock.reason === 'satisfied') {
      deps.log.debug('another claude-wif process refreshed the token while this one waited');
      return found!;
    }
    const late = refreshedSinceStart();
    if (late) return late;
    throw new WifError('endpoint_timeout', `gave up after ${Math.round((deps.clock.now() - started) / 1000)}s waiting for another claude-wif process${lock.holderPid ? ` (pid ${lock.holderPid})` : ''} that is obtaining a token for the same configuration`, {
      hint: 'that process is waiting on a slow identity or token endpoint; retry, or raise CLAUDE_WIF_TIMEOUT_MS',
      details: { holder_pid: lock.holderPid },
    });
  }
  try {
    const again = refreshedSinceStart();
    if (again) return again;
    // The audit trail (src/audit/trail.ts): one event per exchange, success or failure.
    const trace: ExchangeTrace = {};
    const audit = async (token: AccessToken | undefined, err?: unknown) => (await import('../audit/trail.js')).recordPlanExchange(plan, deps, trace, started, token, err);
    try {
      const token = await exchangeAndStore(plan, deps, { requestMs, deadline: started + overallMs }, minTtl, store, trace);
      await audit(token);
      return token;
    } catch (err) {
      const e = unwritable(err);
      await audit(undefined, e);
      throw e;
    }
  } catch (err) {
    throw unwritable(err);
  } finally {
    lock.release();
  }
}

async function exchangeAndStore(
  plan: Plan,
  deps: CoreDeps,
  t: { requestMs: number; deadline: number },
  minTtl: number,
  store: Pick<TokenStore, 'location' | 'read' | 'write'> | undefined,
  trace: ExchangeTrace,
): Promise<AccessToken> {
  const [{ obtainIdentity }, { exchangeToken, requireSecureEndpoint }, { writeCredentials }] = await Promise.all([
    import('./identity.js'),
    import('../exchange/token-endpoint.js'),
    import('../cache/file-store.js'),
  ]);
  // Refused locally before anything is fetched or recorded: such a JWT never left the machine.
  requireSecureEndpoint(plan.baseUrl.value);
  let first = await obtainIdentity(plan, deps, t.requestMs, t.deadline);
  trace.identity = first;
  // Each assertion's ledger entry, until its outcome is known.
  const pending = new Map<string, Reservation | undefined>([[first.jwt, first.reservation]]);
  const mintsOnDemand = first.mintsOnDemand;
  let result;
  try {
    result = await exchangeToken(
      {
        baseUrl: plan.baseUrl.value,
        assertion: first.jwt,
        federationRuleId: plan.federationRuleId!.value,
        organizationId: plan.organizationId!.value,
        serviceAccountId: plan.serviceAccountId?.value,
        workspaceId: plan.workspaceId?.value,
        userAgent: deps.userAgent,
      },
      {
        clock: deps.clock,
        log: deps.log,
        timeoutMs: t.requestMs,
        retry: { attempts: 3, baseDelayMs: 500, maxDelayMs: 4_000, deadline: t.deadline },
        // Single use when the issuer checks jti and the JWT has one: never re-sent once it may
        // have reached the endpoint, and its answer awaited until the deadline (issue 15 item 12).
        singleUse: plan.checkJti.enabled && first.claims.jti !== undefined,
        onOutcome: (assertion, outcome) => {
          const r = pending.get(assertion);
          pending.delete(assertion);
          if (!outcome.sent) r?.release();
          else r?.record(outcome);
        },
        // A retry sends a fresh JWT when the source can mint one.
        ...(mintsOnDemand
          ? {
              nextAssertion: async () => {
                first = await obtainIdentity(plan, deps, t.requestMs, t.deadline);
                trace.identity = first;
                pending.set(first.jwt, first.reservation);
                return first.jwt;
              },
            }
          : {}),
      },
    );
  } finally {
    // An assertion fetched but never handed to the endpoint (the deadline passed first) was not spent.
    for (const r of pending.values()) r?.release();
  }
  trace.requestId = result.requestId;
  const nowMs = deps.clock.now();
  const now = Math.floor(nowMs / 1000);
  const token: AccessToken = {
    token: result.accessToken,
    expiresAt: result.expiresAt,
    obtainedAt: now,
    obtainedAtMs: nowMs,
    scope: result.scope,
    fromCache: false,
    cachePath: store?.location ?? plan.cache.path,
  };
  deps.log.debug(`exchange ok: token expires in ${describeAge(result.expiresAt - now)}${result.requestId ? ` (request-id ${result.requestId})` : ''}`);
  if (result.expiresAt - now <= minTtl) {
    deps.log.warn(`the minted token lives ${result.expiresIn}s, less than the requested --min-ttl ${minTtl}s (the lifetime is capped at twice the JWT's remaining validity and by the rule's token_lifetime_seconds)`);
  }
  try {
    const write = store ? (v: TokenToStore) => store.write(v) : (v: TokenToStore) => writeCredentials(plan.cache.path, v);
    write({
      accessToken: result.accessToken,
      expiresAt: result.expiresAt,
      obtainedAt: now,
      obtainedAtMs: nowMs,
      key: plan.cache.key,
      scope: result.scope,
      organizationId: plan.organizationId?.value,
      workspaceId: plan.workspaceId?.value,
      source: plan.identity?.source.value,
      subject: trace.identity?.claims.sub,
    });
  } catch (err) {
    if (err instanceof WifError) throw err;
    // Caching is an optimisation; the token itself is good. Say so once.
    deps.log.warn(`could not write the token cache ${plan.cache.path}: ${(err as Error).message}; every call will exchange again`);
  }
  return token;
}

/** A CSI volume's token (the profile names claude_wif.mounted_credentials) is rewritten by the driver. */
const MOUNTED_HINT = 'the Secrets Store CSI driver rewrites this volume when it re-Mounts it: check that the driver runs with --enable-secret-rotation and look for failed Mounts in the claude-wif csi-provider log on this node';

function userOAuthToken(plan: Plan, deps: CoreDeps, minTtl: number): AccessToken {
  const c = readPlanCredentials(plan.cache);
  if (!c) {
    throw new WifError('credentials_expired', `the user_oauth profile "${plan.profile?.name}" has no token in ${plan.cache.path}`, {
      hint: plan.cache.mounted ? MOUNTED_HINT : 'this profile is kept fresh by another process (claude-wif exec/agent, or the ant CLI); start it, or use a federation profile',
    });
  }
  const left = c.expiresAt === null ? Infinity : c.expiresAt - nowSeconds(deps.clock);
  throw new WifError('credentials_expired', `the token in ${plan.cache.path} ${left > 0 ? `has only ${Math.floor(left)}s left (needs more than ${minTtl}s)` : 'has expired'} and a user_oauth profile cannot be refreshed by claude-wif`, {
    hint: plan.cache.mounted ? MOUNTED_HINT : 'whoever writes this file (claude-wif exec/agent, the ant CLI) must be running and refreshing it',
  });
}
