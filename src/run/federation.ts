import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../config/paths.js';
import type { CoreDeps } from '../core/credentials.js';
import type { Plan } from '../core/resolve.js';
import { DEFAULT_BASE_URL } from '../protocol.js';
import type { EnvAssignment } from '../output/credential-env.js';
import { nowSeconds } from '../util/clock.js';
import { WifError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { describeAge } from '../util/jwt.js';
import { realScheduler, type Scheduler } from './rotator.js';
import { createPrivateDir } from './sidecar.js';

/**
 * `exec --mode federation`: the child performs its own exchanges (the SDKs' and Claude Code's
 * native federation, spec §5) and re-reads its identity file at every exchange. With single-use
 * `jti` (spec §2) that file must hold a JWT nobody has exchanged yet whenever the child reads it:
 *
 * - a source that mints on demand (GitHub Actions, GCP, AWS, Okta, a `command` that prints a new
 *   JWT each run, …): the file is a named pipe that yields a JWT minted for each read
 *   (identity-fifo.ts). The parent never exchanges those JWTs — nor anything else: it takes no
 *   token of its own, so no exchange is wasted at start. Where no pipe can be made (no mkfifo),
 *   a regular file is replaced with a new JWT every `rotationInterval()` seconds instead;
 * - a file the platform rotates (Kubernetes projected tokens, a plain file): the child reads the
 *   platform's own file, so the platform's rotation reaches it directly. Each JWT can then be
 *   exchanged once: a refresh before the platform writes the next JWT is refused as a replay.
 *   That is said on stderr, once;
 * - a source that neither mints nor has a file (a CI variable, a metadata endpoint that caches):
 *   its current JWT is copied into the private file and re-read on the same schedule, so a new
 *   one reaches the child when the platform issues it. Same single-use caveat.
 *
 * The private directory is a complete SDK config directory (spec §4): `configs/<p>.json` is an
 * `oidc_federation` profile naming the identity file, `active_config` names it, ANTHROPIC_PROFILE
 * selects it. The Python SDK treats a set ANTHROPIC_CONFIG_DIR as an explicit choice of profile
 * and fails without one ("Config file not found"), the TypeScript SDK and Claude Code read the
 * profile when it exists, and the federation variables are set as well for clients that read only
 * those.
 */

/** Never more often than this (a minting source is a network round trip). */
export const MIN_ROTATION_SECONDS = 5;
/** Never less often: a JWT in the file is at most this old when the child reads it. */
export const MAX_ROTATION_SECONDS = 60;
/** The SDKs' advisory refresh threshold (spec §4): a child refreshes this long before expiry. */
const CHILD_ADVISORY_SECONDS = 120;

/**
 * Seconds between rotations of the identity file. A child built on the SDK refreshes a token of
 * lifetime L once it has ≤ 120 s left — every L − 120 s in the steady state; tokens of 150 s or
 * less are always inside that window and are refreshed on calls, so assume a quarter of L. The
 * file is rotated at least twice per child refresh, and at least four times per JWT lifetime
 * (so the JWT the child reads has most of its life left, which also keeps the minted token long:
 * its lifetime is capped at twice the JWT's remaining validity).
 */
export function rotationInterval(tokenLifetime: number | undefined, jwtLifetime: number | undefined): number {
  const L = tokenLifetime !== undefined && tokenLifetime > 0 ? tokenLifetime : 3600;
  const childCadence = L > CHILD_ADVISORY_SECONDS + 30 ? L - CHILD_ADVISORY_SECONDS : L / 4;
  const jwtBound = jwtLifetime !== undefined && jwtLifetime > 0 ? jwtLifetime / 4 : Infinity;
  return Math.min(MAX_ROTATION_SECONDS, Math.max(MIN_ROTATION_SECONDS, Math.min(childCadence / 2, jwtBound)));
}

/** Sources whose JWT is a file the platform keeps fresh: the child reads that file itself. */
const FILE_SOURCES = new Set(['file', 'kubernetes']);

export interface FederationChild {
  /** The private directory (0700): the child's ANTHROPIC_CONFIG_DIR, a complete SDK config directory. */
  dir: string;
  /** The profile in it (ANTHROPIC_PROFILE for the child). */
  profile: string;
  /** The identity file is a pipe yielding a fresh JWT per read. */
  pipe: boolean;
  /** ANTHROPIC_IDENTITY_TOKEN_FILE for the child. */
  identityFile: string;
  /** The identity source actually used. */
  source: string;
  mintsOnDemand: boolean;
  /** True when the child reads the platform's own file. */
  passThrough: boolean;
  /** Seconds between rotations (undefined for a pass-through). */
  interval: number | undefined;
  env: EnvAssignment[];
  readonly rotations: number;
  readonly failures: number;
  stop(): void;
  /** Stops and removes the private directory; idempotent. */
  remove(): void;
  /** remove(), after waiting for the pipe's server to stop. */
  close(): Promise<void>;
}

export interface FederationOptions {
  plan: Plan;
  deps: CoreDeps;
  env: Env;
  scheduler?: Scheduler;
  /** Serve the identity file as a pipe when the source mints (default true; false: a rotated file). */
  pipe?: boolean;
  baseDir?: string;
}

export async function startFederationChild(opts: FederationOptions): Promise<FederationChild> {
  const { plan, deps } = opts;
  if (plan.kind !== 'oidc_federation' || !plan.federationRuleId || !plan.organizationId || !plan.identity) {
    throw new WifError('usage_error', `--mode federation needs an oidc_federation configuration; profile "${plan.profile?.name}" is ${plan.kind}`, {
      hint: 'use --mode sidecar or --mode token with this profile',
    });
  }
  const [{ fetchIdentity }, { timeouts }, { ledgerEntry }] = await Promise.all([import('../core/identity.js'), import('../core/credentials.js'), import('../cache/ledger.js')]);
  const { requestMs } = timeouts(deps.env);
  const first = await fetchIdentity(plan, deps, requestMs);
  // A `command` may print a new JWT per run or `cat` a file: two runs tell (neither JWT is used).
  const mints = first.mintsOnDemand || (first.source === 'command' && (await fetchIdentity(plan, deps, requestMs)).jwt !== first.jwt);

  // The sidecar's private-directory lifecycle, so the same sweep removes one a killed parent left.
  const priv = createPrivateDir(opts.env, opts.baseDir);
  const dir = priv.dir;
  const profile = plan.profile?.name ?? 'claude-wif';
  let stopped = false;
  let handle: unknown;
  let rotations = 0;
  let failures = 0;
  let fifo: import('./identity-fifo.js').IdentityFifo | undefined;
  const scheduler = opts.scheduler ?? realScheduler;
  const stop = (): void => {
    stopped = true;
    if (handle !== undefined) scheduler.clear(handle);
    handle = undefined;
  };
  const remove = (): void => {
    stop();
    void fifo?.close();
    priv.remove();
  };
  const close = async (): Promise<void> => {
    stop();
    await fifo?.close();
    priv.remove();
  };

  try {
    let identityFile = join(dir, 'identity-token.jwt');
    let passThrough = false;
    let interval: number | undefined;
    if (mints && opts.pipe !== false) {
      try {
        const { serveIdentityFifo } = await import('./identity-fifo.js');
        fifo = await serveIdentityFifo({ path: identityFile, mint: async () => (await fetchIdentity(plan, deps, requestMs)).jwt, log: deps.log });
        deps.log.debug(`federation: ${first.source} mints on demand; the child's identity file is a pipe that yields a new JWT at every read`);
      } catch (err) {
        deps.log.debug(`federation: no identity pipe (${(err as Error).message}); a rotated file instead`);
        fifo = undefined;
      }
    }
    if (mints && !fifo) {
      writeFileAtomic(identityFile, `${first.jwt}\n`, 0o600);
      interval = rotationInterval(undefined, first.claims.exp - first.claims.iat);
      deps.log.debug(`federation: ${first.source} mints on demand; the child's identity file gets a new JWT every ${describeAge(interval)}`);
    } else if (!mints) {
      const path = FILE_SOURCES.has(first.source) ? platformFile(first.source, plan, first.origin) : undefined;
      if (path) {
        identityFile = path;
        passThrough = true;
      } else {
        writeFileAtomic(identityFile, `${first.jwt}\n`, 0o600);
        interval = rotationInterval(undefined, first.claims.exp - first.claims.iat);
      }
      const exchanged = plan.checkJti.enabled && ledgerEntry(plan.cacheDir.value, first.claims.iss, first.claims.assertionId) !== undefined;
      deps.log.warn(
        `--mode federation: the identity source "${first.source}" ${first.source === 'command' ? 'printed the same JWT on two runs, so it ' : ''}cannot mint a JWT on demand, so the child ${passThrough ? `reads the platform's own file ${path}` : 'gets a copy of the current JWT, re-read from the source'}` +
          ` and can exchange each JWT only once (single-use jti): a refresh before the platform issues the next JWT is refused as a replay` +
          `${first.source === 'kubernetes' ? ' (the kubelet rewrites projected tokens at 80% of their life)' : first.source === 'gitlab' || first.source === 'env' ? ' (a CI variable never changes: one exchange per job)' : ''}.` +
          ` Prefer --mode sidecar or --mode proxy, where claude-wif exchanges each JWT once and shares the token` +
          `${exchanged ? `; note that the current JWT (expires in ${describeAge(first.claims.exp - nowSeconds(deps.clock))}) was already exchanged by claude-wif on this machine, so the child's first exchange will be refused` : ''}`,
      );
    }

    // A complete SDK config directory: the profile, active_config, and credentials/ for the SDKs'
    // own disk cache of the tokens they obtain (private, removed with the directory).
    mkdirSync(join(dir, 'configs'), { mode: 0o700 });
    mkdirSync(join(dir, 'credentials'), { mode: 0o700 });
    writeFileAtomic(join(dir, 'configs', `${profile}.json`), `${JSON.stringify(federationProfile(plan, identityFile), null, 2)}\n`, 0o600);
    writeFileAtomic(join(dir, 'active_config'), `${profile}\n`, 0o600);

    const child: FederationChild = {
      dir,
      profile,
      pipe: fifo !== undefined,
      identityFile,
      source: first.source,
      mintsOnDemand: mints,
      passThrough,
      interval,
      env: [
        { name: 'ANTHROPIC_CONFIG_DIR', value: dir },
        { name: 'ANTHROPIC_PROFILE', value: profile },
        { name: 'ANTHROPIC_FEDERATION_RULE_ID', value: plan.federationRuleId.value },
        { name: 'ANTHROPIC_ORGANIZATION_ID', value: plan.organizationId.value },
        { name: 'ANTHROPIC_SERVICE_ACCOUNT_ID', value: plan.serviceAccountId?.value ?? null },
        { name: 'ANTHROPIC_WORKSPACE_ID', value: plan.workspaceId?.value ?? null },
        { name: 'ANTHROPIC_IDENTITY_TOKEN_FILE', value: identityFile },
      ],
      get rotations() {
        return fifo ? fifo.served : rotations;
      },
      get failures() {
        return fifo ? fifo.failures : failures;
      },
      stop,
      remove,
      close,
    };

    if (interval !== undefined) {
      const every = interval;
      let last = first.jwt;
      const tick = (): void => {
        handle = undefined;
        if (stopped) return;
        void fetchIdentity(plan, deps, requestMs).then(
          (got) => {
            if (stopped) return;
            failures = 0;
            if (got.jwt !== last) {
              writeFileAtomic(identityFile, `${got.jwt}\n`, 0o600);
              last = got.jwt;
              rotations++;
              deps.log.debug(`federation: identity file rotated (${rotations}); the JWT expires in ${describeAge(got.claims.exp - nowSeconds(deps.clock))}`);
            }
            handle = scheduler.set(tick, every * 1000);
          },
          (err: Error) => {
            if (stopped) return;
            failures++;
            deps.log.warn(`--mode federation: could not fetch a new identity JWT for the child (attempt ${failures}): ${err.message}; the file keeps the previous one`);
            handle = scheduler.set(tick, Math.min(every, 2 ** Math.min(failures, 5)) * 1000);
          },
        );
      };
      handle = scheduler.set(tick, every * 1000);
    }
    return child;
  } catch (err) {
    await close();
    throw err;
  }
}

/** The child's profile (spec §4 format): only SDK fields, identity_token always a file. */
export function federationProfile(plan: Plan, identityFile: string): Record<string, unknown> {
  const authentication: Record<string, unknown> = {
    type: 'oidc_federation',
    federation_rule_id: plan.federationRuleId!.value,
    ...(plan.serviceAccountId ? { service_account_id: plan.serviceAccountId.value } : {}),
    identity_token: { source: 'file', path: identityFile },
  };
  return {
    version: '1.0',
    organization_id: plan.organizationId!.value,
    ...(plan.workspaceId ? { workspace_id: plan.workspaceId.value } : {}),
    ...(plan.baseUrl.value !== DEFAULT_BASE_URL ? { base_url: plan.baseUrl.value } : {}),
    authentication,
  };
}

function platformFile(source: string, plan: Plan, origin: string): string | undefined {
  const p = plan.identity?.options['path'];
  if (typeof p === 'string' && p) return p;
  // kubernetes without a configured path: the documented locations, as the source itself looks.
  const m = /^Kubernetes token (.+)$/.exec(origin);
  if (source === 'kubernetes' && m) return m[1];
  return undefined;
}
