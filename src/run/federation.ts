import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../config/paths.js';
import type { CoreDeps } from '../core/credentials.js';
import type { Plan } from '../core/resolve.js';
import type { EnvAssignment } from '../output/credential-env.js';
import { nowSeconds } from '../util/clock.js';
import { WifError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { describeAge } from '../util/jwt.js';
import { realScheduler, type Scheduler } from './rotator.js';
import { createPrivateDir } from './sidecar.js';

/**
 * `exec --mode federation`: the child performs its own exchanges (the SDKs' and Claude Code's
 * native federation, spec §5) from the federation variables, and re-reads
 * ANTHROPIC_IDENTITY_TOKEN_FILE at every exchange. With single-use `jti` (spec §2) that file must
 * hold a JWT nobody has exchanged yet whenever the child refreshes, so:
 *
 * - a source that mints on demand (GitHub Actions, GCP, AWS, Okta, …): the parent writes a newly
 *   minted JWT into a private file (atomic replace, 0600) and replaces it every
 *   `rotationInterval()` seconds — faster than the child refreshes and well within the JWT's
 *   life — and never exchanges those JWTs itself;
 * - a file the platform rotates (Kubernetes projected tokens, a plain file): the child reads the
 *   platform's own file, so the platform's rotation reaches it directly. Each JWT can then be
 *   exchanged once: a refresh before the platform writes the next JWT is refused as a replay.
 *   That is said on stderr, once;
 * - a source that neither mints nor has a file (a CI variable, a metadata endpoint that caches):
 *   its current JWT is copied into the private file and re-read on the same schedule, so a new
 *   one reaches the child when the platform issues it. Same single-use caveat.
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
  /** The private directory (0700): the child's ANTHROPIC_CONFIG_DIR, holding no profile. */
  dir: string;
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
}

export interface FederationOptions {
  plan: Plan;
  deps: CoreDeps;
  env: Env;
  /**
   * The parent's own token, asked for only when the source mints on demand (so the JWT handed to
   * the child is never the one the parent exchanges): it checks the whole chain before the child
   * starts, and its lifetime sets the rotation pace.
   */
  parentToken?: () => Promise<import('../core/credentials.js').AccessToken>;
  scheduler?: Scheduler;
  baseDir?: string;
}

export async function startFederationChild(opts: FederationOptions): Promise<FederationChild> {
  const { plan, deps } = opts;
  if (plan.kind !== 'oidc_federation' || !plan.federationRuleId || !plan.organizationId || !plan.identity) {
    throw new WifError('usage_error', `--mode federation needs an oidc_federation configuration; profile "${plan.profile?.name}" is ${plan.kind}`, {
      hint: 'use --mode sidecar or --mode token with this profile',
    });
  }
  const [{ fetchIdentity }, { timeouts }, { ledgerDir }] = await Promise.all([import('../core/identity.js'), import('../core/credentials.js'), import('../cache/ledger.js')]);
  const { requestMs } = timeouts(deps.env);
  const first = await fetchIdentity(plan, deps, requestMs);

  // The sidecar's private-directory lifecycle, so the same sweep removes one a killed parent left.
  const priv = createPrivateDir(opts.env, opts.baseDir);
  const dir = priv.dir;
  let stopped = false;
  let handle: unknown;
  let rotations = 0;
  let failures = 0;
  const scheduler = opts.scheduler ?? realScheduler;
  const stop = (): void => {
    stopped = true;
    if (handle !== undefined) scheduler.clear(handle);
    handle = undefined;
  };
  const remove = (): void => {
    stop();
    priv.remove();
  };

  try {
    let identityFile = join(dir, 'identity-token.jwt');
    let passThrough = false;
    let interval: number | undefined;
    if (first.mintsOnDemand) {
      const parent = opts.parentToken ? await opts.parentToken() : undefined;
      const lifetime = parent?.expiresAt != null && parent.obtainedAt !== undefined ? parent.expiresAt - parent.obtainedAt : undefined;
      writeFileAtomic(identityFile, `${first.jwt}\n`, 0o600);
      interval = rotationInterval(lifetime, first.claims.exp - first.claims.iat);
      deps.log.debug(`federation: ${first.source} mints on demand; the child's identity file gets a new JWT every ${describeAge(interval)}`);
    } else {
      const path = FILE_SOURCES.has(first.source) ? platformFile(first.source, plan, first.origin) : undefined;
      if (path) {
        identityFile = path;
        passThrough = true;
      } else {
        writeFileAtomic(identityFile, `${first.jwt}\n`, 0o600);
        interval = rotationInterval(undefined, first.claims.exp - first.claims.iat);
      }
      const exchanged = plan.checkJti.enabled && existsSync(join(ledgerDir(plan.cacheDir.value, first.claims.iss), first.claims.assertionId));
      deps.log.warn(
        `--mode federation: the identity source "${first.source}" cannot mint a JWT on demand, so the child ${passThrough ? `reads the platform's own file ${path}` : 'gets a copy of the current JWT, re-read from the source'}` +
          ` and can exchange each JWT only once (single-use jti): a refresh before the platform issues the next JWT is refused as a replay` +
          `${first.source === 'kubernetes' ? ' (the kubelet rewrites projected tokens at 80% of their life)' : first.source === 'gitlab' || first.source === 'env' ? ' (a CI variable never changes: one exchange per job)' : ''}.` +
          ` Prefer --mode sidecar or --mode proxy, where claude-wif exchanges each JWT once and shares the token` +
          `${exchanged ? `; note that the current JWT (expires in ${describeAge(first.claims.exp - nowSeconds(deps.clock))}) was already exchanged by claude-wif on this machine, so the child's first exchange will be refused` : ''}`,
      );
    }

    const child: FederationChild = {
      dir,
      identityFile,
      source: first.source,
      mintsOnDemand: first.mintsOnDemand,
      passThrough,
      interval,
      env: [
        { name: 'ANTHROPIC_FEDERATION_RULE_ID', value: plan.federationRuleId.value },
        { name: 'ANTHROPIC_ORGANIZATION_ID', value: plan.organizationId.value },
        { name: 'ANTHROPIC_SERVICE_ACCOUNT_ID', value: plan.serviceAccountId?.value ?? null },
        { name: 'ANTHROPIC_WORKSPACE_ID', value: plan.workspaceId?.value ?? null },
        { name: 'ANTHROPIC_IDENTITY_TOKEN_FILE', value: identityFile },
        // A config directory with no profile in it: no implicit profile (which some SDK releases
        // rank above the federation variables) can take precedence over what is set here.
        { name: 'ANTHROPIC_CONFIG_DIR', value: dir },
      ],
      get rotations() {
        return rotations;
      },
      get failures() {
        return failures;
      },
      stop,
      remove,
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
    remove();
    throw err;
  }
}

function platformFile(source: string, plan: Plan, origin: string): string | undefined {
  const p = plan.identity?.options['path'];
  if (typeof p === 'string' && p) return p;
  // kubernetes without a configured path: the documented locations, as the source itself looks.
  const m = /^Kubernetes token (.+)$/.exec(origin);
  if (source === 'kubernetes' && m) return m[1];
  return undefined;
}
