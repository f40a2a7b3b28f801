import { readEnv, type Located } from '../../config/paths.js';
import { timeouts } from '../../core/credentials.js';
import { resolveIdentity, resolvePlan, type IdentityPlan, type Plan } from '../../core/resolve.js';
import { audienceList, chooseSource, inspectJwt, maxJwtLifetime } from '../../identity/inspect.js';
import { isKnownSource, loadSource } from '../../identity/source.js';
import { unknownSourceError } from '../../identity/names.js';
import { ALLOWED_ALGS, DEFAULT_AUDIENCE, LEEWAY_SECONDS, MAX_ASSERTION_BYTES, MAX_MAX_JWT_LIFETIME_SECONDS } from '../../protocol.js';
import { describeTime, nowSeconds } from '../../util/clock.js';
import { WifError } from '../../util/errors.js';
import { describeAge } from '../../util/jwt.js';
import { colours, type IO } from '../io.js';
import { emitPlanWarnings, resolveInputs, type CommandContext } from '../context.js';

export interface IdentityOptions {
  json?: boolean;
  raw?: boolean;
  audience?: string;
}

const STANDARD_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti']);

export interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  message: string;
}

interface Resolved {
  identity: IdentityPlan;
  plan?: Plan;
  note?: string;
}

/**
 * The identity plan: the full plan when federation is configured, else (no profile, no env vars)
 * just the identity source, so a user can inspect a JWT before writing any configuration.
 */
function resolveForIdentity(ctx: CommandContext, audience: string | undefined): Resolved {
  const env = ctx.io.env;
  try {
    const plan = resolvePlan(resolveInputs(ctx.io, ctx.global, audience !== undefined ? { audience } : {}));
    if (plan.kind === 'user_oauth' || !plan.identity) {
      throw new WifError('config_invalid', `profile "${plan.profile?.name}" is a user_oauth profile: it has no identity source (its token file is kept fresh by another process)`, {
        hint: 'name a federation profile with --profile, or pick a source with --identity-source',
      });
    }
    return { identity: plan.identity, plan };
  } catch (err) {
    if (!(err instanceof WifError) || err.code !== 'config_missing') throw err;
    const flag = ctx.global.identitySource;
    const fromEnv = readEnv(env, 'CLAUDE_WIF_IDENTITY_SOURCE');
    const override: Located | undefined = flag ? { value: flag, origin: 'flag --identity-source' } : fromEnv ? { value: fromEnv, origin: 'env CLAUDE_WIF_IDENTITY_SOURCE' } : undefined;
    if (override && !isKnownSource(override.value)) {
      throw unknownSourceError(override.value, override.origin);
    }
    return {
      identity: resolveIdentity(env, ctx.io.cwd, undefined, undefined, override, audience),
      note: 'no federation configuration (profile or ANTHROPIC_* variables): showing the identity only',
    };
  }
}

export interface IdentityReport {
  source: string;
  source_reason: string;
  origin: string;
  mints_on_demand: boolean;
  options: Record<string, unknown>;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  issued_at: number | null;
  expires_at: number | null;
  expires_in: number | null;
  lifetime_seconds: number | null;
  size_bytes: number;
  checks: Check[];
  /** What to register so the token endpoint accepts this JWT (spec §1). */
  federation: { issuer_url: string | null; subject: string | null; audience: string[] };
  profile: string | null;
  notes: string[];
  jwt?: string;
}

/** The inspection (identity/inspect.ts) worded as the report's checks: the token endpoint's rules, then the profile's expectations. */
export function identityChecks(token: string, source: string, options: Record<string, unknown>, now: number, maxLifetime: { value: number; origin: string }, mintsOnDemand: boolean): { checks: Check[]; header: Record<string, unknown>; claims: Record<string, unknown> } {
  const j = inspectJwt(token, { source, options, now, maxLifetime });
  const checks: Check[] = [];
  const add = (name: string, status: Check['status'], message: string) => checks.push({ name, status, message });
  add('size', j.size.ok ? 'ok' : 'fail', `${j.size.bytes} bytes (the token endpoint accepts at most ${MAX_ASSERTION_BYTES})`);
  add('algorithm', j.alg.ok ? 'ok' : 'fail', j.alg.ok ? `${String(j.alg.value)} is accepted` : `${JSON.stringify(j.alg.value)} is refused (accepted: ${[...ALLOWED_ALGS].join(', ')})`);
  add('kid', j.kid.ok ? 'ok' : 'fail', j.kid.ok ? `key id ${String(j.kid.value)} must be in the issuer's JWKS` : 'no "kid" in the header: the token endpoint looks the key up by kid');
  add('required claims', j.missing.length ? 'fail' : 'ok', j.missing.length ? `missing ${j.missing.join(', ')}` : 'sub, iat and exp are present');
  if (j.expiry) {
    const { left } = j.expiry;
    if (j.expiry.expired) add('expiry', 'fail', `expired ${describeAge(-left)} ago`);
    else if (j.expiry.inLeeway) add('expiry', 'warn', `expired ${describeAge(-left)} ago (still inside the ${LEEWAY_SECONDS} s leeway)`);
    else add('expiry', left < 60 ? 'warn' : 'ok', `${describeAge(left)} left; a minted token lives at most twice that`);
  }
  if (j.issuedInFuture !== undefined) add('issued at', 'fail', `issued ${describeAge(j.issuedInFuture)} in the future: check this machine's clock`);
  if (j.notBefore !== undefined) add('not before', 'fail', `not valid until ${describeTime(j.notBefore)}`);
  if (j.lifetime) {
    const { seconds: life, max } = j.lifetime;
    add(
      'lifetime',
      j.lifetime.withinIssuer ? 'ok' : 'warn',
      j.lifetime.withinIssuer
        ? `${life} s, within max_jwt_lifetime_seconds ${max.value} (${max.origin})`
        : `${life} s exceeds max_jwt_lifetime_seconds ${max.value} (${max.origin}): raise the issuer's max_jwt_lifetime_seconds to at least ${life} (range 1–${MAX_MAX_JWT_LIFETIME_SECONDS}) or request shorter-lived tokens`,
    );
  }
  const expected = j.audience.expected;
  if (!j.aud.length) add('audience', 'warn', 'no "aud" claim: a federation rule with an audience will refuse it');
  else if (j.audience.matches) add('audience', 'ok', `aud contains ${expected}; set the rule's match.audience to it`);
  else {
    add('audience', 'warn', `aud is ${j.aud.join(', ')}, not ${expected ?? '(no audience configured)'}: the federation rule's match.audience must be one of the aud values${j.audience.entra ? '' : ` (recommended: request audience ${DEFAULT_AUDIENCE})`}`);
  }
  add('issuer', j.iss ? 'ok' : 'warn', j.iss ? `register issuer_url exactly as ${j.iss} (compared byte for byte)` : 'no "iss" claim: the token endpoint compares it with the registered issuer URL');
  add(
    'single use',
    'ok',
    j.jti
      ? `has jti: with check_jti (the default) it can be exchanged once; ${mintsOnDemand ? 'this source mints a fresh JWT for every exchange' : 'this source cannot mint: the next exchange needs the platform’s next token'}`
      : 'no jti: the issuer cannot enforce single use (claude-wif still never sends the same JWT twice)',
  );
  return { checks, header: j.header, claims: j.claims };
}

/** `claude-wif identity`: fetch the ambient JWT and explain it (never the signature; the JWT itself only with --raw). */
export async function runIdentity(ctx: CommandContext, opts: IdentityOptions): Promise<number> {
  const { identity, plan, note } = resolveForIdentity(ctx, opts.audience);
  if (plan) emitPlanWarnings(ctx, plan);
  const env = ctx.io.env;
  // With the metadata probe: the report names the concrete source, never cloud-metadata.
  const { name, reason, options } = await chooseSource(identity, env, { probe: true });
  const source = await loadSource(name);
  ctx.log.debug(`identity source ${name} (${reason}): ${source.describe(options, env)}`);
  const got = await source.fetch({ env, clock: ctx.io.clock, log: ctx.log, options, timeoutMs: timeouts(env).requestMs });

  if (opts.raw && !opts.json) {
    // Asked for explicitly: the JWT on stdout, nothing else (it never goes to stderr).
    ctx.io.stdout.write(`${got.jwt}\n`);
    return 0;
  }

  const now = nowSeconds(ctx.io.clock);
  const maxLifetime = maxJwtLifetime(plan?.profile ? { path: plan.profile.path, own: plan.profile.file.own } : undefined);
  const { checks, header, claims } = identityChecks(got.jwt, name, options, now, maxLifetime, source.mintsOnDemand);
  const iat = typeof claims['iat'] === 'number' ? claims['iat'] : null;
  const exp = typeof claims['exp'] === 'number' ? claims['exp'] : null;
  const aud = audienceList(claims);
  const notes = [...(note ? [note] : []), ...(plan?.notes ?? [])];
  const report: IdentityReport = {
    source: name,
    source_reason: reason,
    origin: got.origin,
    mints_on_demand: source.mintsOnDemand,
    options,
    header,
    claims,
    issued_at: iat,
    expires_at: exp,
    expires_in: exp === null ? null : exp - now,
    lifetime_seconds: iat !== null && exp !== null ? exp - iat : null,
    size_bytes: Buffer.byteLength(got.jwt, 'utf8'),
    checks,
    federation: { issuer_url: typeof claims['iss'] === 'string' ? claims['iss'] : null, subject: typeof claims['sub'] === 'string' ? claims['sub'] : null, audience: aud },
    profile: plan?.profile?.name ?? null,
    notes,
    ...(opts.raw ? { jwt: got.jwt } : {}),
  };
  const failed = checks.filter((c) => c.status === 'fail');
  if (opts.json) ctx.io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else ctx.io.stdout.write(await humanReport(ctx.io, ctx.global.color !== false, report, now));
  if (failed.length) {
    ctx.log.warn(`the token endpoint would refuse this JWT: ${failed.map((c) => `${c.name}: ${c.message}`).join('; ')}`);
    return 3;
  }
  return 0;
}

function when(t: number | null, now: number): string {
  if (t === null) return '—';
  const rel = t >= now ? `in ${describeAge(t - now)}` : `${describeAge(now - t)} ago`;
  return `${describeTime(t)} (${rel})`;
}

async function humanReport(io: IO, colour: boolean, r: IdentityReport, now: number): Promise<string> {
  const c = await colours(io, colour);
  const rows: Array<[string, string]> = [];
  rows.push(['Source', `${r.source}  ${c.dim(`(${r.source_reason})`)}`]);
  rows.push(['From', r.origin]);
  rows.push(['Fresh per exchange', r.mints_on_demand ? 'yes (mints on demand)' : 'no (rotates on its own schedule; an exchanged JWT is never re-sent)']);
  rows.push(['Header', Object.entries(r.header).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')]);
  rows.push(['Issuer (iss)', r.federation.issuer_url ?? c.bad('—')]);
  rows.push(['Subject (sub)', r.federation.subject ?? c.bad('—')]);
  rows.push(['Audience (aud)', r.federation.audience.join(', ') || c.bad('—')]);
  rows.push(['Issued (iat)', when(r.issued_at, now)]);
  rows.push(['Expires (exp)', when(r.expires_at, now)]);
  if (r.lifetime_seconds !== null) rows.push(['Lifetime', `${r.lifetime_seconds} s`]);
  if (typeof r.claims['nbf'] === 'number') rows.push(['Not before (nbf)', when(r.claims['nbf'], now)]);
  rows.push(['JWT id (jti)', typeof r.claims['jti'] === 'string' ? r.claims['jti'] : c.dim('none')]);
  const extra = Object.entries(r.claims).filter(([k]) => !STANDARD_CLAIMS.has(k));
  for (const [k, v] of extra) rows.push([`  ${k}`, typeof v === 'string' ? v : JSON.stringify(v)]);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  const out = rows.map(([l, v]) => `${l.padEnd(width)}${v}`);
  out.push('', c.bold('Checks'));
  for (const ch of r.checks) {
    const mark = ch.status === 'ok' ? c.ok('✓') : ch.status === 'warn' ? c.bad('!') : c.bad('✗');
    out.push(`  ${mark} ${ch.name}: ${ch.message}`);
  }
  out.push('', c.bold('Federation rule for this identity'));
  out.push(`  issuer_url              ${r.federation.issuer_url ?? '(the JWT has no iss)'}`);
  out.push(`  match.subject_prefix    ${r.federation.subject ?? '(the JWT has no sub)'}  ${c.dim('(exact; end with * for a prefix)')}`);
  out.push(`  match.audience          ${r.federation.audience[0] ?? '(none)'}`);
  for (const n of r.notes) out.push(`${c.dim('note:')} ${n}`);
  return `${out.join('\n')}\n`;
}
