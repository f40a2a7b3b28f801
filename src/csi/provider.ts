import { createHash } from 'node:crypto';
import type { Env } from '../config/paths.js';
import { timeouts } from '../core/credentials.js';
import { DEFAULT_BASE_URL } from '../protocol.js';
import { exchangeToken, type ExchangeRequest, type ExchangeResult } from '../exchange/token-endpoint.js';
import { recordExchange } from '../audit/trail.js';
import { credentialsJson, SIDECAR_PROFILE } from '../run/sidecar.js';
import { PICKUP_WINDOW_SECONDS, refreshSchedule } from '../run/rotator.js';
import type { Clock } from '../util/clock.js';
import { describeAge, preflightJwt, type PreflightResult } from '../util/jwt.js';
import type { Logger } from '../util/log.js';
import { VERSION } from '../version.js';
import type { MountFile, MountRequest, MountResponse, VersionResponse } from './descriptor.js';
import { CsiMountError, toMountError } from './errors.js';
import { driverPermission, parseAttributes, parseMountParams, type MountParams } from './params.js';

/**
 * The provider's logic, without gRPC: one Mount in, the volume's files (or a stable error code)
 * out. kubelet hands the driver a pod-bound service-account JWT for our audience; the provider
 * exchanges it at the token endpoint (spec §2) and returns the SDK config directory plus raw token
 * files. The driver writes them (atomically, with its `..data` symlink layout) and calls Mount
 * again on every rotation.
 *
 * Cache (memory only; nothing reaches the node's disk): one entry per pod and configuration,
 * holding the access token, its times and hashes of the service-account tokens it was bought
 * with. A re-Mount presenting one of those service-account tokens reuses the access token while
 * it is fresh — no exchange. Fresh means: the next rotation Mount (at most `rotationInterval`
 * seconds away) still comes before the token's own refresh point (rotator.ts: halfway through
 * the life before the consumers' 30 s pick-up window, at most 5 min 30 s before expiry). So the
 * volume always holds a token the SDKs and Claude Code can pick up in time.
 *
 * A different service-account token (kubelet rotates them at 80 % of their life) is exchanged
 * afresh even while the cached token is fresh: the provider cannot verify a JWT's signature, only
 * the token endpoint can, so an access token is only ever handed to a caller presenting the very
 * assertion it was bought with, or a new one the endpoint accepts. Concurrent Mounts of the same
 * pod, configuration and service-account token share one exchange.
 */

export interface ProviderOptions {
  clock: Clock;
  log: Logger;
  env: Env;
  userAgent: string;
  /** Longest expected gap between two rotation Mounts of a volume (driver poll interval + kubelet's republish period). */
  rotationIntervalSeconds?: number;
  /** Upper bound on cached entries (least recently used goes first). */
  maxEntries?: number;
  /** Called after every Mount (the daemon's memory upkeep: a cheap check, a collection when the heap grew). */
  afterMount?: () => void;
  /** The exchange; the real RFC 7523 client by default. */
  exchange?: (req: ExchangeRequest, opts: Parameters<typeof exchangeToken>[1]) => Promise<ExchangeResult>;
}

export interface ProviderStats {
  mounts: number;
  exchanges: number;
  reused: number;
  failures: number;
  cached: number;
  inflight: number;
  /** Single-use service-account tokens remembered as sent without success. */
  spent: number;
  /** Failures by MountResponse.error.code. */
  errors: Record<string, number>;
}

export interface Provider {
  version(): VersionResponse;
  mount(req: MountRequest): Promise<MountResponse>;
  /** Drops entries whose token has expired (they can never be reused). */
  sweep(): number;
  stats(): ProviderStats;
}

export const PROVIDER_NAME = 'claude-wif';
export const DEFAULT_ROTATION_INTERVAL_SECONDS = 180;
export const DEFAULT_MAX_ENTRIES = 10_000;
/** The object the driver tracks in SecretProviderClassPodStatus; its version changes with every new token. */
export const OBJECT_ID = 'claude-wif/token';
/** How many service-account tokens an entry remembers having exchanged (the current one and the previous). */
const REMEMBERED_ASSERTIONS = 2;

interface Entry {
  token: string;
  expiresAt: number;
  obtainedAt: number;
  obtainedAtMs: number;
  scope: string | undefined;
  /** sha256 of the service-account tokens exchanged for this entry (never the tokens). */
  assertions: string[];
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

export function createProvider(opts: ProviderOptions): Provider {
  const { clock, log } = opts;
  const rotationInterval = opts.rotationIntervalSeconds ?? DEFAULT_ROTATION_INTERVAL_SECONDS;
  const maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const exchange = opts.exchange ?? exchangeToken;
  const cache = new Map<string, Entry>();
  /**
   * Single-use service-account tokens (with a jti) that reached the token endpoint without buying
   * a token — refused, failed or unanswered — by hash, with the error and the JWT's expiry. The
   * driver retries a failed Mount with the same token; it is never sent again (the endpoint may
   * have consumed its jti): the retry gets the first answer until kubelet brings a new token.
   */
  const spent = new Map<string, { error: CsiMountError; exp: number }>();
  const inflight = new Map<string, Promise<Entry>>();
  const stats = { mounts: 0, exchanges: 0, reused: 0, failures: 0 };
  const errors: Record<string, number> = {};
  const nowSec = () => clock.now() / 1000;

  const remember = (key: string, entry: Entry): void => {
    cache.delete(key);
    cache.set(key, entry);
    while (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
  };

  const fresh = (e: Entry, now: number): boolean => {
    const s = refreshSchedule({ expiresAt: e.expiresAt, obtainedAt: e.obtainedAt }, now);
    return s !== undefined && now + rotationInterval < s.refreshAt;
  };

  const exchangeFor = async (p: MountParams, claims: PreflightResult, key: string, assertion: string, previous: Entry | undefined): Promise<Entry> => {
    const { requestMs, overallMs } = timeouts(opts.env);
    const started = clock.now();
    // The audit trail (src/audit/trail.ts): one event per exchange, with the pod it was for.
    const audit = (outcome: 'success' | 'failure', r?: ExchangeResult, err?: unknown): void => {
      const e = err as { code?: string; details?: Record<string, unknown> } | undefined;
      recordExchange(
        {
          component: 'csi-provider', startedMs: started, endedMs: clock.now(), outcome, error: e ? { code: e.code, details: e.details } : undefined,
          identitySource: 'csi-driver', claims, organizationId: p.organizationId, federationRuleId: p.federationRuleId, serviceAccountId: p.serviceAccountId,
          workspaceId: p.workspaceId, baseUrl: p.baseUrl, requestId: r?.requestId, expiresAt: r?.expiresAt,
          context: { pod_namespace: p.pod.namespace ?? null, pod_name: p.pod.name ?? null, pod_uid: p.pod.uid, service_account: p.serviceAccountName ?? null },
        },
        { env: opts.env, log },
      );
    };
    const singleUse = claims.jti !== undefined;
    let reached = false;
    const result = await exchange(
      {
        baseUrl: p.baseUrl,
        assertion: p.serviceAccountToken,
        federationRuleId: p.federationRuleId,
        organizationId: p.organizationId,
        serviceAccountId: p.serviceAccountId,
        workspaceId: p.workspaceId,
        userAgent: opts.userAgent,
      },
      {
        clock,
        log,
        timeoutMs: requestMs,
        retry: { attempts: 3, baseDelayMs: 500, maxDelayMs: 4_000, deadline: started + overallMs },
        singleUse,
        onOutcome: (_a, o) => {
          if (o.sent) reached = true;
        },
      },
    ).catch((err: unknown) => {
      audit('failure', undefined, err);
      const e = toMountError(err);
      if (singleUse && reached) {
        spent.set(assertion, { error: e, exp: claims.exp });
        while (spent.size > maxEntries) spent.delete(spent.keys().next().value as string);
      }
      throw e;
    });
    audit('success', result);
    stats.exchanges++;
    const nowMs = clock.now();
    const entry: Entry = {
      token: result.accessToken,
      expiresAt: result.expiresAt,
      obtainedAt: Math.floor(nowMs / 1000),
      obtainedAtMs: nowMs,
      scope: result.scope,
      assertions: [assertion, ...(previous?.assertions ?? [])].slice(0, REMEMBERED_ASSERTIONS),
    };
    remember(key, entry);
    log.info(`csi: ${who(p, claims)}: new token (expires in ${describeAge(entry.expiresAt - entry.obtainedAt)})${result.requestId ? ` request-id ${result.requestId}` : ''}`);
    return entry;
  };

  const tokenFor = async (p: MountParams, claims: PreflightResult): Promise<{ entry: Entry; how: 'reused' | 'exchanged' | 'shared' }> => {
    const key = `${p.pod.uid}\0${configKey(p)}`;
    const assertion = sha256(p.serviceAccountToken);
    const now = nowSec();
    const cached = cache.get(key);
    const known = cached?.assertions.includes(assertion) ?? false;
    if (cached && known && fresh(cached, now)) {
      remember(key, cached);
      return { entry: cached, how: 'reused' };
    }
    if (cached && known) {
      // Due for a refresh, but this service-account token was spent on the cached one: the endpoint
      // refuses a jti twice. Keep handing out the cached token while consumers can still use it;
      // kubelet brings a new service-account token on a later Mount.
      if (cached.expiresAt - now > PICKUP_WINDOW_SECONDS) {
        log.debug(`csi: ${who(p, claims)}: token due for refresh but kubelet has not rotated the service-account token yet; handing out the current one (expires in ${describeAge(cached.expiresAt - now)})`);
        remember(key, cached);
        return { entry: cached, how: 'reused' };
      }
      throw new CsiMountError(
        'identity_replayed',
        `the service-account token of ${who(p, claims)} was already exchanged and the token it bought expires in ${describeAge(Math.max(0, cached.expiresAt - now))}; a JWT can be exchanged only once`,
        'kubelet renews the token at 80% of its life: request a shorter expirationSeconds in the CSIDriver tokenRequests than the federation rule\'s token_lifetime_seconds, or a longer token lifetime in the rule',
      );
    }
    const burnt = spent.get(assertion);
    if (burnt) {
      throw new CsiMountError(
        burnt.error.code,
        `${burnt.error.message} (this service-account token is single use and already reached the token endpoint: not sent again)`,
        `${burnt.error.hint ? `${burnt.error.hint}; ` : ''}kubelet brings a new service-account token at 80% of the current one's life (or delete the pod)`,
      );
    }
    const flightKey = `${key}\0${assertion}`;
    const pending = inflight.get(flightKey);
    if (pending) return { entry: await pending, how: 'shared' };
    const run = exchangeFor(p, claims, key, assertion, cached).finally(() => inflight.delete(flightKey));
    inflight.set(flightKey, run);
    return { entry: await run, how: 'exchanged' };
  };

  const mountOnce = async (req: MountRequest): Promise<MountResponse> => {
    stats.mounts++;
    let p: MountParams | undefined;
    let claims: PreflightResult | undefined;
    try {
      p = parseMountParams(parseAttributes(req.attributes));
      claims = preflightJwt(p.serviceAccountToken, Math.floor(nowSec()));
      checkBinding(p, claims);
      const { entry, how } = await tokenFor(p, claims);
      if (how === 'reused') {
        stats.reused++;
        log.debug(`csi: ${who(p, claims)}: token reused (expires in ${describeAge(entry.expiresAt - nowSec())})`);
      }
      return {
        object_version: [{ id: OBJECT_ID, version: `${entry.obtainedAtMs}-${entry.expiresAt}` }],
        files: volumeFiles(p, entry, p.tokenFileMode ?? driverPermission(req.permission)),
      };
    } catch (err) {
      const e = toMountError(err);
      stats.failures++;
      errors[e.code] = (errors[e.code] ?? 0) + 1;
      log.info(`csi: ${p ? who(p, claims) : 'Mount'}: failed: ${e.code}: ${e.message}${e.hint ? `; fix: ${e.hint}` : ''}`);
      if (e.code === 'internal_error' && err instanceof Error && err.stack) log.debug(err.stack);
      return { object_version: [], error: { code: e.code }, files: [] };
    }
  };

  return {
    version: () => ({ version: 'v1alpha1', runtime_name: PROVIDER_NAME, runtime_version: VERSION }),

    async mount(req) {
      try {
        return await mountOnce(req);
      } finally {
        opts.afterMount?.();
      }
    },

    sweep() {
      const now = nowSec();
      let n = 0;
      for (const [k, e] of cache) {
        if (e.expiresAt <= now) {
          cache.delete(k);
          n++;
        }
      }
      for (const [k, e] of spent) if (e.exp + 60 <= now) spent.delete(k);
      return n;
    },

    stats: () => ({ ...stats, cached: cache.size, inflight: inflight.size, spent: spent.size, errors: { ...errors } }),
  };
}

/** Everything that changes which token the endpoint mints. */
function configKey(p: MountParams): string {
  return sha256(JSON.stringify([p.baseUrl, p.organizationId, p.federationRuleId, p.serviceAccountId ?? '', p.workspaceId ?? '', p.audience]));
}

/** For log lines: the pod and the service-account identity (never the token). */
function who(p: MountParams, claims: PreflightResult | undefined): string {
  const pod = `pod ${p.pod.namespace ?? '?'}/${p.pod.name ?? p.pod.uid}`;
  return claims ? `${pod} (sub ${claims.sub}, aud ${claims.aud.join(',') || '-'}, rule ${p.federationRuleId})` : pod;
}

/**
 * The driver says which pod it mounts for; the token must be that pod's. kubelet's pod-bound
 * tokens carry kubernetes.io.pod.uid and the subject system:serviceaccount:<ns>:<name>.
 */
function checkBinding(p: MountParams, claims: PreflightResult): void {
  const k8s = claims.payload['kubernetes.io'];
  const podUid = k8s && typeof k8s === 'object' ? ((k8s as Record<string, unknown>)['pod'] as Record<string, unknown> | undefined)?.['uid'] : undefined;
  if (typeof podUid === 'string' && podUid !== p.pod.uid) {
    throw new CsiMountError('identity_invalid', `the service-account token is bound to pod uid ${podUid}, not to the pod being mounted (${p.pod.uid})`);
  }
  const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(claims.sub);
  if (m) {
    if (p.pod.namespace && m[1] !== p.pod.namespace) {
      throw new CsiMountError('identity_invalid', `the service-account token's subject ${claims.sub} is not in the pod's namespace ${p.pod.namespace}`);
    }
    if (p.serviceAccountName && m[2] !== p.serviceAccountName) {
      throw new CsiMountError('identity_invalid', `the service-account token's subject ${claims.sub} is not the pod's service account ${p.serviceAccountName}`);
    }
  }
}

/**
 * The volume (see README "At fleet scale" for who reads what):
 *   configs/<profile>.json      0644  user_oauth sidecar profile (+ base_url when not the default)
 *   credentials/<profile>.json  0600  the SDK credentials document: SDKs and Claude Code running as the files' owner
 *   active_config               0644  the profile name, so ANTHROPIC_CONFIG_DIR alone selects it
 *   token                       M     the raw access token, no newline
 *   token.json                  M     the credentials document again, for `claude-wif exec/proxy/agent`
 *                                     in pods that cannot read the 0600 file (non-root)
 * M is the SecretProviderClass parameter tokenFileMode, else the driver's permission (0644).
 */
export function volumeFiles(p: MountParams, e: Entry, tokenMode: number): MountFile[] {
  const profile: Record<string, unknown> =
    p.baseUrl === DEFAULT_BASE_URL ? { ...SIDECAR_PROFILE } : { version: SIDECAR_PROFILE.version, base_url: p.baseUrl, authentication: { ...SIDECAR_PROFILE.authentication } };
  // claude-wif's own key (ignored by the SDKs): where claude-wif reads the token in this volume.
  profile['claude_wif'] = { mounted_credentials: 'token.json' };
  const doc = credentialsJson({ token: e.token, expiresAt: e.expiresAt, scope: e.scope, fromCache: false, cachePath: '' });
  const withTimes = JSON.parse(doc) as Record<string, unknown>;
  withTimes['claude_wif'] = { obtained_at: e.obtainedAt, obtained_at_ms: e.obtainedAtMs };
  const file = (path: string, mode: number, text: string): MountFile => ({ path, mode, contents: Buffer.from(text, 'utf8') });
  return [
    file(`configs/${p.profile}.json`, 0o644, `${JSON.stringify(profile, null, 2)}\n`),
    file(`credentials/${p.profile}.json`, 0o600, doc),
    file('active_config', 0o644, `${p.profile}\n`),
    file('token', tokenMode, e.token),
    file('token.json', tokenMode, `${JSON.stringify(withTimes, null, 2)}\n`),
  ];
}

