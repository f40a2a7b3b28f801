import { createHash } from 'node:crypto';
import { ALLOWED_ALGS, LEEWAY_SECONDS, MAX_ASSERTION_BYTES } from '../protocol.js';
import { describeTime } from './clock.js';
import { WifError } from './errors.js';


export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

function decodeSegment(segment: string, what: string): Record<string, unknown> {
  if (!/^[A-Za-z0-9_-]*$/.test(segment)) {
    throw new WifError('identity_invalid', `the identity token's ${what} is not base64url`);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new WifError('identity_invalid', `the identity token's ${what} is not JSON`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new WifError('identity_invalid', `the identity token's ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Decodes without verifying. Throws identity_invalid for anything that is not a compact JWS. */
export function decodeJwt(token: string): DecodedJwt {
  const parts = token.split('.');
  if (parts.length !== 3) {
    throw new WifError(
      'identity_invalid',
      `the identity token is not a JWT (expected 3 dot-separated segments, found ${parts.length})`,
      { hint: 'point the identity source at a signed OIDC token (header.payload.signature), not an access token or a file path' },
    );
  }
  const header = decodeSegment(parts[0]!, 'header');
  const payload = decodeSegment(parts[1]!, 'payload');
  if (!parts[2]) throw new WifError('identity_invalid', 'the identity token has no signature (unsigned JWTs are refused)');
  return { header, payload };
}

export interface PreflightResult extends DecodedJwt {
  iss: string | undefined;
  sub: string;
  exp: number;
  iat: number;
  jti: string | undefined;
  aud: string[];
  /** A stable id for the single-use ledger: the jti when present, otherwise a hash of the whole token. */
  assertionId: string;
}

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Decode-only checks that mirror what the token endpoint enforces, so a bad JWT fails locally
 * with a precise reason instead of a bare "401 Authentication failed".
 */
export function preflightJwt(token: string, nowSeconds: number): PreflightResult {
  const bytes = Buffer.byteLength(token, 'utf8');
  if (bytes > MAX_ASSERTION_BYTES) {
    throw new WifError('identity_invalid', `the identity token is ${Math.ceil(bytes / 1024)} KiB; the token endpoint accepts at most 16 KiB`, {
      hint: 'request a token with fewer claims (for example a dedicated audience), or use a different identity source',
    });
  }
  const decoded = decodeJwt(token);
  const { header, payload } = decoded;
  const alg = header['alg'];
  if (typeof alg !== 'string' || !ALLOWED_ALGS.has(alg)) {
    throw new WifError('identity_invalid', `the identity token is signed with alg ${JSON.stringify(alg)}, which the token endpoint refuses`, {
      hint: `use an issuer that signs with one of ${[...ALLOWED_ALGS].join(', ')} (HS* and none are never accepted)`,
    });
  }
  if (typeof header['kid'] !== 'string' || !header['kid']) {
    throw new WifError('identity_invalid', 'the identity token header has no "kid"; the token endpoint looks the signing key up by kid', {
      hint: "configure the issuer to put its key id in the JWT header",
    });
  }
  const missing = ['sub', 'iat', 'exp'].filter((c) => payload[c] === undefined || payload[c] === null || payload[c] === '');
  if (missing.length) {
    throw new WifError('identity_invalid', `the identity token lacks required claim(s): ${missing.join(', ')}`);
  }
  if (typeof payload['sub'] !== 'string') throw new WifError('identity_invalid', 'the identity token\'s "sub" claim is not a string');
  if (!num(payload['iat']) || !num(payload['exp'])) {
    throw new WifError('identity_invalid', 'the identity token\'s "iat" and "exp" claims must be numeric dates (seconds)');
  }
  const exp = payload['exp'];
  const iat = payload['iat'];
  if (exp + LEEWAY_SECONDS <= nowSeconds) {
    throw new WifError('identity_expired', `the identity token expired ${describeAge(nowSeconds - exp)} ago (exp ${describeTime(exp)})`, {
      hint: 'the identity source handed out a stale JWT: check that the file is being rotated (kubelet, spiffe-helper) or that the platform issues fresh tokens; also check this machine\'s clock',
    });
  }
  if (iat > nowSeconds + LEEWAY_SECONDS) {
    throw new WifError('identity_invalid', `the identity token was issued ${describeAge(iat - nowSeconds)} in the future (iat); the token endpoint allows 30 s of clock skew`, {
      hint: "synchronise this machine's clock (NTP)",
    });
  }
  const nbf = payload['nbf'];
  if (num(nbf) && nbf > nowSeconds + LEEWAY_SECONDS) {
    throw new WifError('identity_invalid', `the identity token is not valid until ${describeTime(nbf)} (nbf)`, {
      hint: "synchronise this machine's clock (NTP)",
    });
  }
  const aud = payload['aud'];
  const auds = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
  const iss = typeof payload['iss'] === 'string' ? payload['iss'] : undefined;
  const jti = typeof payload['jti'] === 'string' && payload['jti'] ? payload['jti'] : undefined;
  const assertionId = jti
    ? createHash('sha256').update(`jti\0${iss ?? ''}\0${jti}`).digest('hex')
    : createHash('sha256').update(`token\0${token}`).digest('hex');
  return { ...decoded, iss, sub: payload['sub'], exp, iat, jti, aud: auds, assertionId };
}

export function describeAge(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}
