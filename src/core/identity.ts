import { reserveAssertion, type Reservation } from '../cache/ledger.js';
import { chooseSource, type ChosenSource } from '../identity/inspect.js';
import { loadSource } from '../identity/source.js';
import { nowSeconds } from '../util/clock.js';
import { preflightJwt, type PreflightResult } from '../util/jwt.js';
import type { CoreDeps } from './credentials.js';
import type { Plan } from './resolve.js';

export interface ObtainedIdentity {
  jwt: string;
  origin: string;
  source: string;
  /** Why this source (detection reason or configuration origin). */
  reason: string;
  mintsOnDemand: boolean;
  claims: PreflightResult;
  reservation: Reservation | undefined;
}

/**
 * Chooses the source (auto-detecting when asked, unless the caller already chose), fetches the JWT
 * and checks it locally against the token endpoint's rules.
 */
export async function fetchIdentity(plan: Plan, deps: CoreDeps, timeoutMs: number, deadline?: number, chosen?: ChosenSource): Promise<Omit<ObtainedIdentity, 'reservation'>> {
  const { name, reason, options } = chosen ?? (await chooseSource(plan.identity!, deps.env));
  const source = await loadSource(name);
  deps.log.debug(`identity source ${name} (${reason}): ${source.describe(options, deps.env)}`);
  // The overall deadline bounds the identity fetch too: no single request may outlast it.
  const perRequest = deadline === undefined ? timeoutMs : Math.max(1, Math.min(timeoutMs, deadline - deps.clock.now()));
  const got = await source.fetch({ env: deps.env, clock: deps.clock, log: deps.log, options, timeoutMs: perRequest, deadline });
  const claims = preflightJwt(got.jwt, nowSeconds(deps.clock));
  return { jwt: got.jwt, origin: got.origin, source: name, reason, mintsOnDemand: source.mintsOnDemand, claims };
}

/** fetchIdentity plus the single-use ledger: a JWT already exchanged from this machine is refused here. */
export async function obtainIdentity(plan: Plan, deps: CoreDeps, timeoutMs: number, deadline?: number): Promise<ObtainedIdentity> {
  const got = await fetchIdentity(plan, deps, timeoutMs, deadline);
  const reservation = plan.checkJti.enabled
    ? reserveAssertion({
        cacheDir: plan.cacheDir.value,
        issuer: got.claims.iss,
        assertionId: got.claims.assertionId,
        exp: got.claims.exp,
        nowSeconds: nowSeconds(deps.clock),
        hasJti: got.claims.jti !== undefined,
        mintsOnDemand: got.mintsOnDemand,
        key: plan.cache.key,
      })
    : undefined;
  return { ...got, reservation };
}
