import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type SandboxConfig } from '../../src/sandbox/index.js';
import { fakeAnthropicToken } from '../helpers/fixtures.js';

// A fixed, whole-second instant: the lifetime arithmetic below is exact only on whole seconds.
const T0 = Date.UTC(2026, 3, 1, 12, 0, 0);
const T0_SEC = T0 / 1000;
let nowMs = T0;
const clock = {
  now: (): number => nowMs,
  advance: (seconds: number): void => {
    nowMs += seconds * 1000;
  },
};

const GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const BETAS = 'oauth-2025-04-20,oidc-federation-2026-04-01';
const ORG = '00000000-0000-4000-8000-000000000001';
const AUD = 'https://api.anthropic.com';

const config: Partial<SandboxConfig> = {
  issuers: [
    { id: 'fdis_sandbox' },
    { id: 'fdis_nojti', check_jti: false },
    { id: 'fdis_short', max_jwt_lifetime_seconds: 600 },
    { id: 'fdis_github', issuer_url: 'https://token.actions.githubusercontent.com' },
  ],
  service_accounts: [{ id: 'svac_sandbox' }, { id: 'svac_other' }],
  rules: [
    { id: 'fdrl_sandbox', issuer_id: 'fdis_sandbox', service_account_id: 'svac_sandbox', match: { subject_prefix: 'repo:example/*', audience: AUD } },
    { id: 'fdrl_multi', issuer_id: 'fdis_sandbox', service_account_id: 'svac_sandbox', workspaces: ['wrkspc_alpha', 'wrkspc_beta'] },
    {
      id: 'fdrl_claims',
      issuer_id: 'fdis_sandbox',
      service_account_id: 'svac_other',
      match: { subject_prefix: 'repo:example/app:ref:refs/heads/main', claims: { repository_owner: 'example', ref_type: 'branch' } },
    },
    { id: 'fdrl_archived', issuer_id: 'fdis_sandbox', service_account_id: 'svac_sandbox', archived: true },
    { id: 'fdrl_nojti', issuer_id: 'fdis_nojti', service_account_id: 'svac_sandbox' },
    { id: 'fdrl_short', issuer_id: 'fdis_short', service_account_id: 'svac_sandbox', token_lifetime_seconds: 900 },
    { id: 'fdrl_github', issuer_id: 'fdis_github', service_account_id: 'svac_sandbox' },
    { id: 'fdrl_tunnels', issuer_id: 'fdis_sandbox', service_account_id: 'svac_sandbox', oauth_scope: 'workspace:manage_tunnels' },
  ],
};

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ config, now: clock.now, streamDelayMs: 1 });
});
afterAll(async () => {
  await sb.close();
});
beforeEach(() => {
  nowMs = T0;
  sb.config.require_federation_beta = true;
});

// --- helpers -------------------------------------------------------------------------------

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
/** A hand-built compact JWS, for shapes the minting API deliberately cannot produce. */
const craft = (header: unknown, payload: unknown, signature = 'c2lnbmF0dXJl'): string => `${b64(header)}.${b64(payload)}.${signature}`;
const payloadOf = (jwt: string): Record<string, unknown> => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

interface Answer {
  status: number;
  body: any;
  requestId: string | null;
  headers: Headers;
}

async function exchange(
  fields: Record<string, unknown> = {},
  init: { headers?: Record<string, string>; rawBody?: string; method?: string } = {},
): Promise<Answer> {
  const assertion = 'assertion' in fields ? fields['assertion'] : await sb.mint();
  const body = { grant_type: GRANT, assertion, federation_rule_id: 'fdrl_sandbox', organization_id: ORG, ...fields };
  for (const [k, v] of Object.entries(body)) if (v === undefined) delete (body as Record<string, unknown>)[k];
  const method = init.method ?? 'POST';
  const res = await fetch(`${sb.url}/v1/oauth/token`, {
    method,
    headers: init.headers ?? { 'content-type': 'application/json', 'anthropic-beta': BETAS },
    ...(method === 'GET' ? {} : { body: init.rawBody ?? JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* leave as text */
  }
  return { status: res.status, body: parsed, requestId: res.headers.get('request-id'), headers: res.headers };
}

const lastExchange = () => sb.exchanges[sb.exchanges.length - 1]!;

function expectDenied(answer: Answer, reason: string): void {
  expect(answer.status).toBe(401);
  // Byte-identical body for every denial: only the Console would know why.
  expect(answer.body).toEqual({
    type: 'error',
    error: { type: 'authentication_error', message: 'Authentication failed' },
    request_id: answer.requestId,
  });
  expect(lastExchange().status).toBe(401);
  expect(lastExchange().reason).toBe(reason);
}

function expectBadRequest(answer: Answer, message?: RegExp): void {
  expect(answer.status).toBe(400);
  expect(answer.body.type).toBe('error');
  expect(answer.body.error.type).toBe('invalid_request_error');
  expect(answer.body.request_id).toBe(answer.requestId);
  if (message) expect(answer.body.error.message).toMatch(message);
  expect(lastExchange().reason).toBeUndefined();
}

async function accessToken(fields: Record<string, unknown> = {}): Promise<{ token: string; expiresIn: number }> {
  const a = await exchange(fields);
  expect(a.status).toBe(200);
  return { token: a.body.access_token as string, expiresIn: a.body.expires_in as number };
}

function api(path: string, token: string | undefined, init: { method?: string; headers?: Record<string, string>; body?: unknown; beta?: string | null } = {}) {
  const headers: Record<string, string> = { 'anthropic-version': '2023-06-01', 'content-type': 'application/json', ...init.headers };
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  if (init.beta !== null) headers['anthropic-beta'] = init.beta ?? 'oauth-2025-04-20';
  return fetch(`${sb.url}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
}

const hello = { model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] };

// --- issuer --------------------------------------------------------------------------------

describe('OIDC issuer', () => {
  it('serves discovery pointing at its JWKS', async () => {
    const res = await fetch(`${sb.issuerUrl}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    expect(res.headers.get('request-id')).toMatch(/^req_sandbox_\d+$/);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(sb.issuerUrl).toBe(`${sb.url}/oidc`);
    expect(doc['issuer']).toBe(sb.issuerUrl);
    expect(doc['jwks_uri']).toBe(`${sb.issuerUrl}/.well-known/jwks.json`);
    expect(doc['id_token_signing_alg_values_supported']).toEqual(['RS256', 'ES256', 'PS256']);
  });

  it('publishes one public key per algorithm, never private material', async () => {
    const res = await fetch(`${sb.issuerUrl}/.well-known/jwks.json`);
    const { keys } = (await res.json()) as { keys: Array<Record<string, unknown>> };
    expect(keys.map((k) => [k['kid'], k['alg'], k['kty'], k['use']])).toEqual([
      ['sandbox-rs256', 'RS256', 'RSA', 'sig'],
      ['sandbox-es256', 'ES256', 'EC', 'sig'],
      ['sandbox-ps256', 'PS256', 'RSA', 'sig'],
    ]);
    for (const k of keys) for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(k).not.toHaveProperty(secret);
  });

  it('mints JWTs with the documented defaults on the sandbox clock', async () => {
    const jwt = await sb.mint();
    const header = JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
    expect(header).toMatchObject({ alg: 'RS256', kid: 'sandbox-rs256', typ: 'JWT' });
    const p = payloadOf(jwt);
    expect(p).toMatchObject({ iss: sb.issuerUrl, sub: 'repo:example/app:ref:refs/heads/main', aud: AUD, iat: T0_SEC, exp: T0_SEC + 300 });
    expect(p['jti']).toMatch(/^[0-9a-f-]{36}$/);
    expect(payloadOf(await sb.mint({ jti: false }))).not.toHaveProperty('jti');
    expect(payloadOf(await sb.mint({ claims: { sub: undefined, extra: 'x' } }))).toMatchObject({ extra: 'x' });
    expect(payloadOf(await sb.mint({ claims: { sub: undefined } }))).not.toHaveProperty('sub');
  });

  it('mints over HTTP for other processes and refuses bad options', async () => {
    const res = await fetch(`${sb.url}/_sandbox/mint`, { method: 'POST', body: JSON.stringify({ sub: 'repo:example/cli', alg: 'ES256', lifetimeSeconds: 120 }) });
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    expect(payloadOf(token)).toMatchObject({ sub: 'repo:example/cli', exp: T0_SEC + 120 });
    expect((await exchange({ assertion: token })).status).toBe(200);

    const bad = await fetch(`${sb.url}/_sandbox/mint`, { method: 'POST', body: JSON.stringify({ alg: 'HS256' }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.message).toMatch(/alg/);
  });
});

// --- token endpoint: success ---------------------------------------------------------------

describe('token exchange: success', () => {
  it('returns an RFC 6749 token response and records the exchange', async () => {
    const assertion = await sb.mint();
    const a = await exchange({ assertion });
    expect(a.status).toBe(200);
    expect(a.body).toEqual({ access_token: expect.stringMatching(/^sk-ant-oat01-[A-Za-z0-9_-]{40,}$/), token_type: 'Bearer', expires_in: 600, scope: 'workspace:inference' });
    expect(a.requestId).toMatch(/^req_sandbox_\d+$/);
    expect(a.headers.get('cache-control')).toBe('no-store');
    const rec = lastExchange();
    expect(rec).toMatchObject({ at: T0, method: 'POST', status: 200, assertion, request_id: a.requestId, response: a.body });
    expect(rec.headers['anthropic-beta']).toBe(BETAS);
    expect(rec.headers['content-type']).toBe('application/json');
    expect(rec.body).toMatchObject({ grant_type: GRANT, federation_rule_id: 'fdrl_sandbox', organization_id: ORG });
    expect(rec.reason).toBeUndefined();
  });

  it.each([
    // [rule, JWT lifetime, seconds the clock moves before the exchange, expected expires_in]
    ['fdrl_sandbox', 300, 0, 600], // 2 × 300 s left
    ['fdrl_sandbox', 300, 280, 60], // 20 s left → 40, floored to 60
    ['fdrl_sandbox', 300, 315, 60], // already expired within leeway → still 60
    ['fdrl_sandbox', 1000, 0, 2000],
    ['fdrl_sandbox', 3600, 0, 3600], // the rule's lifetime caps it
    ['fdrl_short', 600, 0, 900], // rule lifetime 900 < 2 × 600
    ['fdrl_short', 600, 300, 600],
  ])('rule %s, JWT of %i s, %i s later → expires_in %i', async (rule, lifetime, later, expected) => {
    const assertion = await sb.mint({ lifetimeSeconds: lifetime });
    clock.advance(later);
    const a = await exchange({ assertion, federation_rule_id: rule });
    expect(a.status).toBe(200);
    expect(a.body.expires_in).toBe(expected);
  });

  it('numbers request ids and repeats them in the header', async () => {
    const a = await exchange();
    const b = await exchange({ organization_id: undefined });
    const n = (id: string | null) => Number(id!.slice('req_sandbox_'.length));
    expect(n(b.requestId)).toBeGreaterThan(n(a.requestId));
    expect(b.body.request_id).toBe(b.requestId);
  });

  it('accepts a matching service_account_id and the workspace alias "default"', async () => {
    expect((await exchange({ service_account_id: 'svac_sandbox' })).status).toBe(200);
    expect((await exchange({ workspace_id: 'default' })).status).toBe(200);
    expect((await exchange({ workspace_id: 'wrkspc_sandboxdefault' })).status).toBe(200);
  });

  it('matches audience arrays, claims and issuers registered elsewhere', async () => {
    expect((await exchange({ assertion: await sb.mint({ aud: ['https://other.example', AUD] }) })).status).toBe(200);
    const claims = { repository_owner: 'example', ref_type: 'branch' };
    expect((await exchange({ federation_rule_id: 'fdrl_claims', assertion: await sb.mint({ claims }) })).status).toBe(200);
    const gh = await sb.mint({ issuer: 'https://token.actions.githubusercontent.com' });
    expect((await exchange({ federation_rule_id: 'fdrl_github', assertion: gh })).status).toBe(200);
  });

  it('verifies every published algorithm', async () => {
    for (const alg of ['RS256', 'ES256', 'PS256'] as const) {
      expect((await exchange({ assertion: await sb.mint({ alg }) })).status).toBe(200);
    }
  });

  it('accepts the request without the federation beta when require_federation_beta is off', async () => {
    sb.config.require_federation_beta = false;
    expect((await exchange({}, { headers: { 'content-type': 'application/json' } })).status).toBe(200);
  });
});

// --- token endpoint: denials ---------------------------------------------------------------

describe('token exchange: every denial is the same 401', () => {
  const T = () => T0_SEC;

  it.each<[string, () => Promise<Record<string, unknown>>, string]>([
    ['organization mismatch', async () => ({ organization_id: '11111111-1111-4111-8111-111111111111' }), 'organization_mismatch'],
    ['unknown rule', async () => ({ federation_rule_id: 'fdrl_doesnotexist' }), 'unknown_rule'],
    ['archived rule', async () => ({ federation_rule_id: 'fdrl_archived' }), 'archived_rule'],
    ['assertion over 16 KiB', async () => ({ assertion: await sb.mint({ claims: { pad: 'x'.repeat(16 * 1024) } }) }), 'assertion_too_large'],
    ['two segments', async () => ({ assertion: 'eyJhbGciOiJSUzI1NiJ9.e30' }), 'malformed_jwt'],
    ['four segments', async () => ({ assertion: `${await sb.mint()}.extra` }), 'malformed_jwt'],
    ['header not JSON', async () => ({ assertion: `${b64('nope')}.${b64({})}.c2ln` }), 'malformed_jwt'],
    ['alg HS256', async () => ({ assertion: craft({ alg: 'HS256', kid: 'sandbox-rs256' }, payloadOf(await sb.mint())) }), 'alg_not_allowed'],
    ['alg none', async () => ({ assertion: craft({ alg: 'none', kid: 'sandbox-rs256' }, payloadOf(await sb.mint()), 'x') }), 'alg_not_allowed'],
    ['kid not in the JWKS', async () => ({ assertion: await sb.mint({ kid: 'someone-elses-key' }) }), 'unknown_kid'],
    ['no kid', async () => ({ assertion: craft({ alg: 'RS256' }, payloadOf(await sb.mint())) }), 'unknown_kid'],
    ['kid of a key for another alg', async () => ({ assertion: await sb.mint({ alg: 'ES256', kid: 'sandbox-rs256' }) }), 'key_alg_mismatch'],
    ['signed by an unpublished key', async () => ({ assertion: await sb.mint({ signWithUnknownKey: true }) }), 'bad_signature'],
    [
      'payload tampered after signing',
      async () => {
        const [h, , s] = (await sb.mint()).split('.');
        return { assertion: `${h}.${b64({ ...payloadOf(await sb.mint()), sub: 'repo:example/evil' })}.${s}` };
      },
      'bad_signature',
    ],
    ['sub missing', async () => ({ assertion: await sb.mint({ claims: { sub: undefined } }) }), 'missing_claim'],
    ['iat missing', async () => ({ assertion: await sb.mint({ claims: { iat: undefined } }) }), 'missing_claim'],
    ['exp missing', async () => ({ assertion: await sb.mint({ claims: { exp: undefined } }) }), 'missing_claim'],
    ['exp not a number', async () => ({ assertion: await sb.mint({ claims: { exp: String(T() + 300) } }) }), 'invalid_claim'],
    ['iat 31 s in the future', async () => ({ assertion: await sb.mint({ iat: T() + 31 }) }), 'iat_in_future'],
    ['exp 31 s ago', async () => ({ assertion: await sb.mint({ iat: T() - 100, lifetimeSeconds: 69 }) }), 'expired'],
    ['exp exactly 30 s ago', async () => ({ assertion: await sb.mint({ iat: T() - 100, lifetimeSeconds: 70 }) }), 'expired'],
    ['nbf 31 s in the future', async () => ({ assertion: await sb.mint({ claims: { nbf: T() + 31 } }) }), 'not_yet_valid'],
    ['exp − iat over the issuer maximum', async () => ({ assertion: await sb.mint({ lifetimeSeconds: 3601 }) }), 'jwt_lifetime_too_long'],
    ['exp − iat over a custom maximum', async () => ({ federation_rule_id: 'fdrl_short', assertion: await sb.mint({ lifetimeSeconds: 601 }) }), 'jwt_lifetime_too_long'],
    ['iss with a trailing slash', async () => ({ assertion: await sb.mint({ issuer: `${sb.issuerUrl}/` }) }), 'issuer_mismatch'],
    ['iss of another issuer', async () => ({ federation_rule_id: 'fdrl_github' }), 'issuer_mismatch'],
    ['iss missing', async () => ({ assertion: await sb.mint({ claims: { iss: undefined } }) }), 'issuer_mismatch'],
    ['aud string mismatch', async () => ({ assertion: await sb.mint({ aud: 'https://api.anthropic.com/' }) }), 'audience_mismatch'],
    ['aud array without the audience', async () => ({ assertion: await sb.mint({ aud: ['a', 'b'] }) }), 'audience_mismatch'],
    ['aud missing', async () => ({ assertion: await sb.mint({ claims: { aud: undefined } }) }), 'audience_mismatch'],
    ['subject outside the prefix', async () => ({ assertion: await sb.mint({ sub: 'repo:other/app' }) }), 'subject_mismatch'],
    ['subject prefix is case-sensitive', async () => ({ assertion: await sb.mint({ sub: 'repo:Example/app' }) }), 'subject_mismatch'],
    [
      'exact subject (no *) refuses a longer one',
      async () => ({ federation_rule_id: 'fdrl_claims', assertion: await sb.mint({ sub: 'repo:example/app:ref:refs/heads/main2', claims: { repository_owner: 'example', ref_type: 'branch' } }) }),
      'subject_mismatch',
    ],
    ['claim with another value', async () => ({ federation_rule_id: 'fdrl_claims', assertion: await sb.mint({ claims: { repository_owner: 'evil', ref_type: 'branch' } }) }), 'claims_mismatch'],
    ['claim missing', async () => ({ federation_rule_id: 'fdrl_claims', assertion: await sb.mint({ claims: { repository_owner: 'example' } }) }), 'claims_mismatch'],
    ['claim not a string', async () => ({ federation_rule_id: 'fdrl_claims', assertion: await sb.mint({ claims: { repository_owner: ['example'], ref_type: 'branch' } }) }), 'claims_mismatch'],
    ['service account mismatch', async () => ({ service_account_id: 'svac_other' }), 'service_account_mismatch'],
    ['multi-workspace rule without workspace_id', async () => ({ federation_rule_id: 'fdrl_multi' }), 'workspace_required'],
    ['workspace the rule is not enabled for', async () => ({ federation_rule_id: 'fdrl_multi', workspace_id: 'wrkspc_gamma' }), 'workspace_not_enabled'],
    ['"default" when the rule does not cover it', async () => ({ federation_rule_id: 'fdrl_multi', workspace_id: 'default' }), 'workspace_not_enabled'],
  ])('%s', async (_name, fields, reason) => {
    expectDenied(await exchange(await fields()), reason);
  });

  it('never records why in the response, only in the exchange record', async () => {
    const a = await exchange({ assertion: await sb.mint({ sub: 'repo:other/app' }) });
    expect(JSON.stringify(a.body)).not.toMatch(/sub|subject|repo:/);
    expect(lastExchange().detail).toMatch(/repo:other\/app/);
  });
});

describe('token exchange: leeway edges (fake clock)', () => {
  it('accepts exp 29 s ago and refuses 31 s ago', async () => {
    const jwt = await sb.mint({ lifetimeSeconds: 300 });
    clock.advance(300 + 29);
    expect((await exchange({ assertion: jwt })).status).toBe(200);
    const jwt2 = await sb.mint({ lifetimeSeconds: 300 });
    clock.advance(300 + 31);
    expectDenied(await exchange({ assertion: jwt2 }), 'expired');
  });

  it('accepts iat and nbf 29 s in the future', async () => {
    expect((await exchange({ assertion: await sb.mint({ iat: T0_SEC + 29 }) })).status).toBe(200);
    expect((await exchange({ assertion: await sb.mint({ claims: { nbf: T0_SEC + 29 } }) })).status).toBe(200);
  });

  it('accepts exp − iat exactly at the issuer maximum', async () => {
    expect((await exchange({ assertion: await sb.mint({ lifetimeSeconds: 3600 }) })).status).toBe(200);
  });
});

describe('token exchange: single-use jti', () => {
  it('refuses a replayed jti', async () => {
    const assertion = await sb.mint();
    expect((await exchange({ assertion })).status).toBe(200);
    expectDenied(await exchange({ assertion }), 'jti_replayed');
  });

  it('refuses the same jti re-signed in another JWT from the same issuer', async () => {
    expect((await exchange({ assertion: await sb.mint({ jti: 'fixed-jti-1' }) })).status).toBe(200);
    expectDenied(await exchange({ assertion: await sb.mint({ jti: 'fixed-jti-1', alg: 'ES256' }) }), 'jti_replayed');
  });

  it('does not burn the jti on a refused exchange', async () => {
    const assertion = await sb.mint();
    expectDenied(await exchange({ assertion, service_account_id: 'svac_other' }), 'service_account_mismatch');
    expect((await exchange({ assertion })).status).toBe(200);
  });

  it('lets a JWT without jti, or an issuer with check_jti false, exchange repeatedly', async () => {
    const noJti = await sb.mint({ jti: false });
    expect((await exchange({ assertion: noJti })).status).toBe(200);
    expect((await exchange({ assertion: noJti })).status).toBe(200);
    const assertion = await sb.mint();
    expect((await exchange({ assertion, federation_rule_id: 'fdrl_nojti' })).status).toBe(200);
    expect((await exchange({ assertion, federation_rule_id: 'fdrl_nojti' })).status).toBe(200);
  });
});

describe('token exchange: workspaces', () => {
  it('needs workspace_id for a multi-workspace rule and binds the token to it', async () => {
    expectDenied(await exchange({ federation_rule_id: 'fdrl_multi' }), 'workspace_required');
    const { token } = await accessToken({ federation_rule_id: 'fdrl_multi', workspace_id: 'wrkspc_beta' });
    // The anthropic-workspace-id header cannot switch a federation token's workspace (spec §3).
    const res = await api('/v1/messages', token, { body: hello, headers: { 'anthropic-workspace-id': 'wrkspc_alpha' } });
    expect(((await res.json()) as any).content[0].text).toContain('wrkspc_beta');
  });
});

// --- token endpoint: malformed requests ------------------------------------------------------

describe('token exchange: malformed requests are 400 invalid_request_error', () => {
  it('requires the federation beta', async () => {
    expectBadRequest(await exchange({}, { headers: { 'content-type': 'application/json' } }), /oidc-federation-2026-04-01/);
    expectBadRequest(await exchange({}, { headers: { 'content-type': 'application/json', 'anthropic-beta': 'oauth-2025-04-20' } }), /oidc-federation/);
    // A comma list in any order, with spaces, is fine.
    const ok = await exchange({}, { headers: { 'content-type': 'application/json', 'anthropic-beta': 'foo-1, oidc-federation-2026-04-01 ,oauth-2025-04-20' } });
    expect(ok.status).toBe(200);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['grant_type missing', { grant_type: undefined }, /grant_type/],
    ['grant_type of another grant', { grant_type: 'client_credentials' }, /grant_type/],
    ['assertion missing', { assertion: undefined }, /assertion/],
    ['assertion empty', { assertion: '' }, /assertion/],
    ['federation_rule_id missing', { federation_rule_id: undefined }, /federation_rule_id/],
    ['federation_rule_id without the tag', { federation_rule_id: 'rule_123' }, /federation_rule_id/],
    ['federation_rule_id with only the tag', { federation_rule_id: 'fdrl_' }, /federation_rule_id/],
    ['federation_rule_id with punctuation', { federation_rule_id: 'fdrl_a-b' }, /federation_rule_id/],
    ['organization_id missing', { organization_id: undefined }, /organization_id/],
    ['workspace_id empty', { workspace_id: '' }, /workspace_id/],
    ['workspace_id malformed', { workspace_id: 'ws_123' }, /workspace_id/],
    ['workspace_id null', { workspace_id: null }, /workspace_id/],
    ['service_account_id empty', { service_account_id: '' }, /service_account_id/],
  ])('%s', async (_name, fields, message) => {
    expectBadRequest(await exchange(fields), message);
  });

  it('requires a JSON object body', async () => {
    const json = { 'content-type': 'application/json', 'anthropic-beta': BETAS };
    expectBadRequest(await exchange({}, { headers: json, rawBody: 'not json' }), /JSON/);
    expectBadRequest(await exchange({}, { headers: json, rawBody: '[1,2]' }), /JSON object/);
    const form = { 'content-type': 'application/x-www-form-urlencoded', 'anthropic-beta': BETAS };
    expectBadRequest(await exchange({}, { headers: form, rawBody: `grant_type=${encodeURIComponent(GRANT)}` }), /JSON/);
  });

  it('answers 405 to other methods', async () => {
    const a = await exchange({}, { method: 'GET' });
    expect(a.status).toBe(405);
    expect(a.headers.get('allow')).toBe('POST');
    expect(a.body.request_id).toBe(a.requestId);
  });
});

// --- fault injection -----------------------------------------------------------------------

describe('injectFault', () => {
  it('answers the next request with a standard error body, then recovers', async () => {
    sb.injectFault({ status: 503 });
    const a = await exchange();
    expect(a.status).toBe(503);
    expect(a.body).toEqual({ type: 'error', error: { type: 'api_error', message: expect.any(String) }, request_id: a.requestId });
    expect(lastExchange()).toMatchObject({ status: 503, reason: 'injected_fault' });
    expect((await exchange()).status).toBe(200);
  });

  it('honours count, headers, raw bodies and delay', async () => {
    sb.injectFault({ status: 429, headers: { 'retry-after': '7' }, count: 2 });
    for (let i = 0; i < 2; i++) {
      const a = await exchange();
      expect(a.status).toBe(429);
      expect(a.headers.get('retry-after')).toBe('7');
      expect(a.body.error.type).toBe('rate_limit_error');
    }
    sb.injectFault({ status: 502, body: '<html><body>Bad Gateway</body></html>', headers: { 'content-type': 'text/html' }, delayMs: 20 });
    const started = performance.now();
    const html = await exchange();
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
    expect(html.status).toBe(502);
    expect(html.body).toBe('<html><body>Bad Gateway</body></html>');
    expect(html.headers.get('content-type')).toBe('text/html');
    expect(html.requestId).toMatch(/^req_sandbox_/);
    expect((await exchange()).status).toBe(200);
  });
});

// --- API -----------------------------------------------------------------------------------

describe('API with federation tokens', () => {
  it('answers Messages for a live token with the oauth beta, and records the call without the token', async () => {
    const { token } = await accessToken();
    const res = await api('/v1/messages?beta=true', token, { body: hello });
    expect(res.status).toBe(200);
    expect(res.headers.get('request-id')).toMatch(/^req_sandbox_/);
    const msg = (await res.json()) as any;
    expect(msg).toMatchObject({
      id: expect.stringMatching(/^msg_/),
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-6',
      content: [{ type: 'text', text: 'Hello from the claude-wif sandbox (workspace wrkspc_sandboxdefault).' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: expect.any(Number), output_tokens: expect.any(Number) },
    });
    const call = sb.apiCalls[sb.apiCalls.length - 1]!;
    expect(call).toMatchObject({ method: 'POST', path: '/v1/messages?beta=true', status: 200, workspace_id: 'wrkspc_sandboxdefault' });
    expect(call.token_prefix).toBe(`${token.slice(0, 16)}…`);
    expect(JSON.stringify(sb.apiCalls)).not.toContain(token);
  });

  it('lists models', async () => {
    const { token } = await accessToken();
    const res = await api('/v1/models', token);
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.data.length).toBeGreaterThan(0);
    expect(body.data[0]).toMatchObject({ type: 'model', id: expect.any(String) });
  });

  it('refuses a bearer token without the oauth beta with the message the real API used', async () => {
    const { token } = await accessToken();
    const res = await api('/v1/messages', token, { body: hello, beta: null });
    expect(res.status).toBe(401);
    const body = (await res.json()) as any;
    expect(body).toEqual({
      type: 'error',
      error: { type: 'authentication_error', message: 'OAuth authentication is currently not supported.' },
      request_id: res.headers.get('request-id'),
    });
    // Another beta alone is not enough; merged into a list it is.
    expect((await api('/v1/messages', token, { body: hello, beta: 'prompt-caching-2024-07-31' })).status).toBe(401);
    expect((await api('/v1/messages', token, { body: hello, beta: 'prompt-caching-2024-07-31,oauth-2025-04-20' })).status).toBe(200);
  });

  it('refuses a token once expired on the sandbox clock', async () => {
    const { token, expiresIn } = await accessToken();
    clock.advance(expiresIn - 1);
    expect((await api('/v1/models', token)).status).toBe(200);
    clock.advance(1);
    const res = await api('/v1/models', token);
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.type).toBe('authentication_error');
    expect(sb.apiCalls[sb.apiCalls.length - 1]!.error).toBe('expired_token');
  });

  it('refuses x-api-key together with Authorization', async () => {
    const { token } = await accessToken();
    const res = await api('/v1/messages', token, { body: hello, headers: { 'x-api-key': token } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.type).toBe('invalid_request_error');
    expect(JSON.stringify(sb.apiCalls)).not.toContain(token);
  });

  it('refuses unknown tokens, missing credentials and a missing anthropic-version', async () => {
    expect((await api('/v1/models', fakeAnthropicToken('oat01', 'notatokenthissandboxminted'))).status).toBe(401);
    expect((await api('/v1/models', undefined)).status).toBe(401);
    const { token } = await accessToken();
    const res = await fetch(`${sb.url}/v1/models`, { headers: { authorization: `Bearer ${token}`, 'anthropic-beta': 'oauth-2025-04-20' } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.message).toMatch(/anthropic-version/);
  });

  it('answers 403 outside the granted scope and 400 to an invalid Messages body', async () => {
    const { token: tunnels } = await accessToken({ federation_rule_id: 'fdrl_tunnels' });
    const denied = await api('/v1/messages', tunnels, { body: hello });
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as any).error.type).toBe('permission_error');
    const { token } = await accessToken();
    expect((await api('/v1/messages', token, { body: { model: 'claude-sonnet-4-6' } })).status).toBe(400);
  });

  it('answers the probes Claude Code makes', async () => {
    const head = await fetch(`${sb.url}/api/hello`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('request-id')).toMatch(/^req_sandbox_/);
    const boot = await fetch(`${sb.url}/api/claude_cli/bootstrap`);
    expect(boot.status).toBe(200);
    await boot.json();
    expect((await fetch(`${sb.url}/v1/nope`)).status).toBe(404);
  });

  it('streams Messages as SSE events that arrive in order', async () => {
    const { token } = await accessToken();
    const res = await api('/v1/messages', token, { body: { ...hello, stream: true } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text();
    const events = text
      .split('\n\n')
      .filter((block) => block.trim())
      .map((block) => {
        const lines = block.split('\n');
        const event = lines.find((l) => l.startsWith('event: '))!.slice(7);
        const data = JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6)) as Record<string, any>;
        expect(data['type']).toBe(event);
        return { event, data };
      });
    const names = events.map((e) => e.event).filter((n) => n !== 'ping');
    const deltas = names.filter((n) => n === 'content_block_delta').length;
    expect(deltas).toBeGreaterThanOrEqual(2);
    expect(names).toEqual([
      'message_start',
      'content_block_start',
      ...Array<string>(deltas).fill('content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(events[0]!.data['message']).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-sonnet-4-6', content: [] });
    const joined = events.filter((e) => e.event === 'content_block_delta').map((e) => e.data['delta'].text as string).join('');
    expect(joined).toBe('Hello from the claude-wif sandbox (workspace wrkspc_sandboxdefault).');
    expect(events.find((e) => e.event === 'message_delta')!.data['delta'].stop_reason).toBe('end_turn');
    expect(sb.apiCalls[sb.apiCalls.length - 1]).toMatchObject({ status: 200, stream: true });
  });
});

describe('control endpoints', () => {
  it('lists exchanges and summarises state', async () => {
    await exchange();
    const ex = (await (await fetch(`${sb.url}/_sandbox/exchanges`)).json()) as { count: number; exchanges: unknown[] };
    expect(ex.count).toBe(sb.exchanges.length);
    expect(ex.exchanges).toHaveLength(ex.count);
    const state = (await (await fetch(`${sb.url}/_sandbox/state`)).json()) as Record<string, any>;
    expect(state).toMatchObject({ url: sb.url, issuer_url: sb.issuerUrl, organization_id: ORG, exchanges: sb.exchanges.length });
    expect(state['rules'].map((r: { id: string }) => r.id)).toContain('fdrl_multi');
  });

  it('builds a spec §4 profile for the default rule', () => {
    expect(sb.profile({ identityTokenPath: '/tmp/token', workspaceId: 'default' })).toEqual({
      version: '1.0',
      organization_id: ORG,
      workspace_id: 'default',
      base_url: sb.url,
      authentication: {
        type: 'oidc_federation',
        federation_rule_id: 'fdrl_sandbox',
        service_account_id: 'svac_sandbox',
        identity_token: { source: 'file', path: '/tmp/token' },
        scope: 'workspace:inference',
      },
    });
    expect(sb.profile()).not.toHaveProperty('workspace_id');
    expect(sb.profile()['authentication']).not.toHaveProperty('identity_token');
  });
});
