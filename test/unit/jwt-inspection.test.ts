// identity/inspect.ts: the one place that chooses the identity source and inspects its JWT against
// the token endpoint's rules and the profile's expectations (used by core, `identity` and doctor).
import { describe, expect, it } from 'vitest';
import { chooseSource, expectedAudience, inspectJwt, maxJwtLifetime } from '../../src/identity/inspect.js';
import { MAX_MAX_JWT_LIFETIME_SECONDS } from '../../src/protocol.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const jwt = (payload: Record<string, unknown>, header: Record<string, unknown> = { alg: 'RS256', kid: 'k1', typ: 'JWT' }) => `${b64(header)}.${b64(payload)}.c2ln`;
const NOW = 1_800_000_000;
const ISSUER_DEFAULT = { value: 3600, origin: 'the issuer default' };

describe('inspectJwt', () => {
  it('a JWT the server takes: every rule holds, the audience matches the recommended default', () => {
    const j = inspectJwt(jwt({ iss: 'https://issuer.example', sub: 'repo:x', aud: 'https://api.anthropic.com', iat: NOW - 10, exp: NOW + 290, jti: 'j1' }), { source: 'env', options: {}, now: NOW, maxLifetime: ISSUER_DEFAULT });
    expect(j).toMatchObject({
      size: { ok: true },
      alg: { ok: true },
      kid: { ok: true },
      missing: [],
      expiry: { left: 290, expired: false, inLeeway: false },
      issuedInFuture: undefined,
      notBefore: undefined,
      lifetime: { seconds: 300, withinIssuer: true, withinAnyIssuer: true },
      audience: { expected: 'https://api.anthropic.com', configured: false, entra: false, matches: true },
      jti: 'j1',
    });
  });

  it('every server rule broken at once is reported, not only the first', () => {
    const j = inspectJwt(jwt({ aud: ['a', 'b'], iat: NOW + 120, exp: NOW - 40, nbf: NOW + 600 }, { alg: 'HS256' }), { source: 'env', options: { audience: 'c' }, now: NOW, maxLifetime: ISSUER_DEFAULT });
    expect(j.alg.ok).toBe(false);
    expect(j.kid.ok).toBe(false);
    expect(j.missing).toEqual(['sub']);
    expect(j.expiry).toMatchObject({ expired: true });
    expect(j.issuedInFuture).toBe(120);
    expect(j.notBefore).toBe(NOW + 600);
    expect(j.audience).toMatchObject({ expected: 'c', configured: true, matches: false });
    expect(j.aud).toEqual(['a', 'b']);
  });

  it('inside the 30 s leeway an expired JWT is still taken; lifetimes are judged against the issuer and against any issuer', () => {
    expect(inspectJwt(jwt({ sub: 's', iat: NOW - 100, exp: NOW - 10 }), { source: 'env', options: {}, now: NOW, maxLifetime: ISSUER_DEFAULT }).expiry).toMatchObject({ expired: false, inLeeway: true });
    const long = inspectJwt(jwt({ sub: 's', iat: NOW, exp: NOW + 7200 }), { source: 'env', options: {}, now: NOW, maxLifetime: ISSUER_DEFAULT });
    expect(long.lifetime).toMatchObject({ withinIssuer: false, withinAnyIssuer: true });
    const huge = inspectJwt(jwt({ sub: 's', iat: NOW, exp: NOW + MAX_MAX_JWT_LIFETIME_SECONDS + 1 }), { source: 'env', options: {}, now: NOW, maxLifetime: ISSUER_DEFAULT });
    expect(huge.lifetime).toMatchObject({ withinAnyIssuer: false });
  });

  it('Entra sources expect the resource, which has no default', () => {
    expect(expectedAudience('azure-imds', { resource: 'api://app' })).toEqual({ value: 'api://app', configured: true, entra: true });
    expect(expectedAudience('azure-workload-identity', { scope: 'api://app/.default' }).value).toBe('api://app');
    expect(expectedAudience('azure-app-service', {})).toEqual({ value: undefined, configured: false, entra: true });
    const j = inspectJwt(jwt({ sub: 's', aud: 'api://app', iat: NOW, exp: NOW + 60 }), { source: 'azure-imds', options: { resource: 'api://app' }, now: NOW, maxLifetime: ISSUER_DEFAULT });
    expect(j.audience.matches).toBe(true);
  });

  it('the issuer maximum comes from the profile when it records one', () => {
    expect(maxJwtLifetime({ path: '/p.json', own: { max_jwt_lifetime_seconds: 7200 } })).toEqual({ value: 7200, origin: 'profile /p.json (claude_wif.max_jwt_lifetime_seconds)' });
    expect(maxJwtLifetime({ path: '/p.json', own: { max_jwt_lifetime_seconds: -1 } })).toEqual(ISSUER_DEFAULT);
    expect(maxJwtLifetime(undefined)).toEqual(ISSUER_DEFAULT);
  });

  it('refuses what is not a JWT', () => {
    expect(() => inspectJwt('not-a-jwt', { source: 'env', options: {}, now: NOW, maxLifetime: ISSUER_DEFAULT })).toThrow(/not a JWT/);
  });
});

describe('chooseSource', () => {
  it('a configured source is used as configured; auto detects and merges the detected options under the configured ones', async () => {
    expect(await chooseSource({ source: { value: 'gcp', origin: 'profile' }, options: { audience: 'x' } }, {})).toEqual({ name: 'gcp', reason: 'configured by profile', options: { audience: 'x' } });
    const auto = await chooseSource({ source: { value: 'auto', origin: 'default' }, options: { audience: 'x' } }, { ANTHROPIC_IDENTITY_TOKEN_FILE: '/run/jwt' });
    expect(auto).toEqual({ name: 'file', reason: 'auto-detected: ANTHROPIC_IDENTITY_TOKEN_FILE is set', options: { path: '/run/jwt', audience: 'x' } });
  });
});
