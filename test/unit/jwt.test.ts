import { describe, expect, it } from 'vitest';
import { decodeJwt, preflightJwt } from '../../src/util/jwt.js';
import { WifError } from '../../src/util/errors.js';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const NOW = 1_800_000_000;
const jwt = (payload: Record<string, unknown> = {}, header: Record<string, unknown> = {}, sig = 'c2ln') =>
  `${b64({ alg: 'RS256', kid: 'k1', typ: 'JWT', ...header })}.${b64({ iss: 'https://issuer', sub: 'repo:a/b', aud: 'https://api.anthropic.com', iat: NOW - 10, exp: NOW + 290, jti: 'j1', ...payload })}.${sig}`;

function code(token: string, now = NOW): string {
  try {
    preflightJwt(token, now);
    return 'ok';
  } catch (err) {
    return (err as WifError).code;
  }
}

describe('preflightJwt', () => {
  it('accepts a well-formed token and derives a stable assertion id from the jti', () => {
    const r = preflightJwt(jwt(), NOW);
    expect(r.sub).toBe('repo:a/b');
    expect(r.aud).toEqual(['https://api.anthropic.com']);
    expect(r.assertionId).toBe(preflightJwt(jwt({ extra: 1 }), NOW).assertionId);
    expect(r.assertionId).not.toBe(preflightJwt(jwt({ jti: 'j2' }), NOW).assertionId);
  });

  it('without a jti, the id is a hash of the whole token', () => {
    const a = preflightJwt(jwt({ jti: undefined }), NOW).assertionId;
    expect(a).not.toBe(preflightJwt(jwt({ jti: undefined, x: 1 }), NOW).assertionId);
  });

  it.each([
    ['two segments', 'a.b'],
    ['non-base64 header', '!!!.e30.sig'],
    ['non-JSON payload', `${b64({ alg: 'RS256', kid: 'k' })}.bm90anNvbg.sig`],
    ['no signature', jwt({}, {}, '')],
    ['HS256', jwt({}, { alg: 'HS256' })],
    ['alg none', jwt({}, { alg: 'none' })],
    ['no kid', jwt({}, { kid: undefined })],
    ['no sub', jwt({ sub: undefined })],
    ['no iat', jwt({ iat: undefined })],
    ['string exp', jwt({ exp: 'tomorrow' })],
    ['iat in the future beyond leeway', jwt({ iat: NOW + 31 })],
    ['nbf in the future beyond leeway', jwt({ nbf: NOW + 31 })],
    ['oversized', jwt({ pad: 'x'.repeat(17 * 1024) })],
  ])('refuses %s as identity_invalid', (_n, token) => {
    expect(code(token)).toBe('identity_invalid');
  });

  it('applies the 30 s leeway to exp', () => {
    expect(code(jwt({ exp: NOW - 29 }))).toBe('ok');
    expect(code(jwt({ exp: NOW - 30 }))).toBe('identity_expired');
    expect(code(jwt({ iat: NOW + 29 }))).toBe('ok');
  });

  it('never puts the token in an error message', () => {
    const t = jwt({ exp: NOW - 1000 });
    try {
      preflightJwt(t, NOW);
    } catch (err) {
      expect(String((err as Error).message)).not.toContain(t.split('.')[1]);
    }
  });

  it('claims beyond any date (found by the fuzzer: a RangeError, exit 1) are refused with their usual codes', () => {
    expect(code(jwt({ exp: -8640000000000.001 }))).toBe('identity_expired');
    expect(code(jwt({ nbf: 1e13 }))).toBe('identity_invalid');
    expect(code(jwt({ exp: 1e300 }))).toBe('ok');
  });

  it('decodeJwt exposes header and payload', () => {
    expect(decodeJwt(jwt()).header['kid']).toBe('k1');
  });
});
