import type { Env } from '../config/paths.js';
import { ALLOWED_ALGS, DEFAULT_AUDIENCE, DEFAULT_MAX_JWT_LIFETIME_SECONDS, LEEWAY_SECONDS, MAX_ASSERTION_BYTES, MAX_MAX_JWT_LIFETIME_SECONDS } from '../protocol.js';
import { decodeJwt } from '../util/jwt.js';
import { optionString } from './options.js';

/**
 * Choosing an identity source and inspecting the JWT it gives against the token endpoint's rules
 * (spec §2) and what the profile expects (audience, the issuer's maximum lifetime). core/identity.ts
 * (every exchange), `claude-wif identity` and doctor all choose and inspect through here; each only
 * words the findings its own way. The exchange path refuses a bad JWT with util/jwt.ts preflightJwt,
 * which applies the same server rules and stops at the first one broken.
 */

/** What a plan says about the identity source (core/resolve.ts IdentityPlan, structurally). */
export interface IdentityChoice {
  source: { value: string; origin: string };
  options: Record<string, unknown>;
}

export interface ChosenSource {
  /** A concrete source name (never `auto`). */
  name: string;
  /** Why: "configured by …" or "auto-detected: …". */
  reason: string;
  /** The configured options over what detection found. */
  options: Record<string, unknown>;
}

/**
 * The source to use: the configured one, or for `auto` the detected one. Detection never touches
 * the network unless `probe` is set: without it, a cloud hint yields the internal `cloud-metadata`
 * source, which probes when it fetches.
 */
export async function chooseSource(identity: IdentityChoice, env: Env, opts: { probe?: boolean } = {}): Promise<ChosenSource> {
  if (identity.source.value !== 'auto') return { name: identity.source.value, reason: `configured by ${identity.source.origin}`, options: identity.options };
  const { detectSource, detectSourceWithProbe } = await import('./detect.js');
  const d = opts.probe ? await detectSourceWithProbe(env) : detectSource(env);
  return { name: d.source, reason: `auto-detected: ${d.reason}`, options: { ...d.options, ...identity.options } };
}

/** Sources whose tokens carry an Entra resource (api://<APP_ID>) as `aud`, not api.anthropic.com. */
export const ENTRA_SOURCES: ReadonlySet<string> = new Set(['azure-imds', 'azure-app-service', 'azure-workload-identity']);

/**
 * The audience the JWT should carry: for Entra sources the resource (`resource`, else `scope`
 * without /.default, else `audience`), which has no default; for the others `audience`, else the
 * recommended default. `configured` tells whether the profile or a flag named it.
 */
export function expectedAudience(source: string, options: Record<string, unknown>): { value: string | undefined; configured: boolean; entra: boolean } {
  if (ENTRA_SOURCES.has(source)) {
    const value = optionString(options, 'resource') ?? optionString(options, 'scope')?.replace(/\/\.default$/, '') ?? optionString(options, 'audience');
    return { value, configured: value !== undefined, entra: true };
  }
  const configured = optionString(options, 'audience');
  return { value: configured ?? DEFAULT_AUDIENCE, configured: configured !== undefined, entra: false };
}

/** The issuer's max_jwt_lifetime_seconds as far as this machine knows: the profile's record of it, else the issuer default. */
export function maxJwtLifetime(profile: { path: string; own: Record<string, unknown> } | undefined): { value: number; origin: string } {
  const own = profile?.own['max_jwt_lifetime_seconds'];
  return typeof own === 'number' && Number.isInteger(own) && own > 0
    ? { value: own, origin: `profile ${profile!.path} (claude_wif.max_jwt_lifetime_seconds)` }
    : { value: DEFAULT_MAX_JWT_LIFETIME_SECONDS, origin: 'the issuer default' };
}

/** The `aud` claim as a list (a string or an array of strings; anything else counts as none). */
export function audienceList(payload: Record<string, unknown>): string[] {
  const aud = payload['aud'];
  return typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
}

/** Everything the token endpoint and the profile would say about a JWT, as facts; callers word them. */
export interface JwtInspection {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  iss: string | undefined;
  sub: string | undefined;
  aud: string[];
  iat: number | undefined;
  exp: number | undefined;
  nbf: number | undefined;
  jti: string | undefined;
  // The server's rules (spec §2).
  size: { bytes: number; ok: boolean };
  alg: { value: unknown; ok: boolean };
  kid: { value: unknown; ok: boolean };
  /** Required claims that are absent or empty (sub, iat, exp). */
  missing: string[];
  /** Seconds until exp (negative: past), and whether the server still takes it (inside the leeway). */
  expiry: { left: number; expired: boolean; inLeeway: boolean } | undefined;
  /** Seconds iat lies beyond the leeway in the future, when it does. */
  issuedInFuture: number | undefined;
  /** nbf, when it lies beyond the leeway in the future. */
  notBefore: number | undefined;
  /** exp − iat against the issuer's maximum, and against the largest maximum any issuer may set. */
  lifetime: { seconds: number; max: { value: number; origin: string }; withinIssuer: boolean; withinAnyIssuer: boolean } | undefined;
  // What the profile expects.
  audience: { expected: string | undefined; configured: boolean; entra: boolean; matches: boolean };
}

/** Decodes `token` (throws identity_invalid when it is no compact JWS) and inspects it; nothing is verified. */
export function inspectJwt(token: string, o: { source: string; options: Record<string, unknown>; now: number; maxLifetime: { value: number; origin: string } }): JwtInspection {
  const { header, payload } = decodeJwt(token);
  const bytes = Buffer.byteLength(token, 'utf8');
  const alg = header['alg'];
  const kid = header['kid'];
  const missing = ['sub', 'iat', 'exp'].filter((c) => payload[c] === undefined || payload[c] === null || payload[c] === '');
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const iat = num(payload['iat']);
  const exp = num(payload['exp']);
  const nbf = num(payload['nbf']);
  const aud = audienceList(payload);
  const expected = expectedAudience(o.source, o.options);
  const life = iat !== undefined && exp !== undefined ? exp - iat : undefined;
  return {
    header,
    claims: payload,
    iss: typeof payload['iss'] === 'string' ? payload['iss'] : undefined,
    sub: typeof payload['sub'] === 'string' ? payload['sub'] : undefined,
    aud,
    iat,
    exp,
    nbf,
    jti: typeof payload['jti'] === 'string' && payload['jti'] ? payload['jti'] : undefined,
    size: { bytes, ok: bytes <= MAX_ASSERTION_BYTES },
    alg: { value: alg, ok: typeof alg === 'string' && ALLOWED_ALGS.has(alg) },
    kid: { value: kid, ok: typeof kid === 'string' && kid !== '' },
    missing,
    expiry: exp === undefined ? undefined : { left: exp - o.now, expired: exp + LEEWAY_SECONDS <= o.now, inLeeway: exp <= o.now && exp + LEEWAY_SECONDS > o.now },
    issuedInFuture: iat !== undefined && iat > o.now + LEEWAY_SECONDS ? iat - o.now : undefined,
    notBefore: nbf !== undefined && nbf > o.now + LEEWAY_SECONDS ? nbf : undefined,
    lifetime: life === undefined ? undefined : { seconds: life, max: o.maxLifetime, withinIssuer: life <= o.maxLifetime.value, withinAnyIssuer: life <= MAX_MAX_JWT_LIFETIME_SECONDS },
    audience: { expected: expected.value, configured: expected.configured, entra: expected.entra, matches: expected.value !== undefined && aud.includes(expected.value) },
  };
}
