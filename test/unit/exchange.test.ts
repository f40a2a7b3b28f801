import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { exchangeToken, exchangeBody, requireSecureEndpoint, type ExchangeRequest } from '../../src/exchange/token-endpoint.js';
import { WifError } from '../../src/util/errors.js';
import { silentLogger } from '../../src/util/log.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { fakeClock, failure } from '../helpers/cli.js';

let sb: Sandbox;
const clock = fakeClock(Date.now());
beforeAll(async () => {
  sb = await startSandbox({ port: 0, now: () => clock.now() });
});
afterAll(() => sb.close());
beforeEach(() => {
  clock.set(Date.now());
});

async function request(extra: Partial<ExchangeRequest> = {}): Promise<ExchangeRequest> {
  return {
    baseUrl: sb.url,
    assertion: await sb.mint(),
    federationRuleId: 'fdrl_sandbox',
    organizationId: sb.config.organization_id,
    serviceAccountId: 'svac_sandbox',
    userAgent: 'claude-wif-test/1',
    ...extra,
  };
}

// The per-request timeout is a real socket timer; the sandbox answers from this same process, so
// on a loaded machine an answer can take seconds. Only the timeout test below means to hit it.
const opts = (attempts = 3) => ({
  clock,
  log: silentLogger,
  timeoutMs: 60_000,
  retry: { attempts, baseDelayMs: 100, maxDelayMs: 1000, deadline: clock.now() + 30_000 },
});

describe('exchange request', () => {
  it('sends the SDK body and headers and parses the response', async () => {
    const before = sb.exchanges.length;
    const req = await request({ workspaceId: undefined });
    const r = await exchangeToken(req, opts());
    expect(r.accessToken).toMatch(/^sk-ant-oat01-/);
    expect(Number.isInteger(r.expiresAt)).toBe(true);
    const rec = sb.exchanges[before]!;
    expect(rec.headers['anthropic-beta']).toBe('oauth-2025-04-20,oidc-federation-2026-04-01');
    expect(rec.headers['content-type']).toBe('application/json');
    expect(rec.headers['user-agent']).toBe('claude-wif-test/1');
    expect(rec.body).toEqual({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: req.assertion,
      federation_rule_id: 'fdrl_sandbox',
      organization_id: sb.config.organization_id,
      service_account_id: 'svac_sandbox',
    });
  });

  it('never sends empty optional fields', () => {
    const body = exchangeBody({ baseUrl: 'x', assertion: 'a', federationRuleId: 'fdrl_x', organizationId: 'o', workspaceId: '', serviceAccountId: '', userAgent: 'u' });
    expect(Object.keys(body)).toEqual(['grant_type', 'assertion', 'federation_rule_id', 'organization_id']);
  });

  it('refuses cleartext except to loopback (insecure_endpoint, exit 6)', () => {
    expect(() => requireSecureEndpoint('http://127.0.0.1:1')).not.toThrow();
    expect(() => requireSecureEndpoint('http://[::1]:1')).not.toThrow();
    expect(() => requireSecureEndpoint('http://localhost')).not.toThrow();
    for (const u of ['http://api.anthropic.com', 'http://10.0.0.1', 'http://127.0.0.1.nip.io']) {
      let err: WifError | undefined;
      try {
        requireSecureEndpoint(u);
      } catch (e) {
        err = e as WifError;
      }
      expect(err?.code).toBe('insecure_endpoint');
      expect(err?.exitCode).toBe(6);
    }
  });
});

describe('fault handling', () => {
  it('retries 503 honouring Retry-After, then succeeds', async () => {
    sb.injectFault({ status: 503, headers: { 'retry-after': '2' } });
    const t0 = clock.now();
    const r = await exchangeToken(await request(), opts());
    expect(r.accessToken).toMatch(/^sk-ant-oat01-/);
    expect(clock.now() - t0).toBeGreaterThanOrEqual(2000);
  });

  it('retries 429 and 5xx a bounded number of times, then endpoint_failed (exit 5)', async () => {
    sb.injectFault({ status: 500, body: '<html><body>Internal error ' + 'x'.repeat(5000) + '</body></html>', headers: { 'content-type': 'text/html' }, count: 3 });
    const before = sb.exchanges.length;
    const err = await failure(exchangeToken(await request(), opts()));
    expect(sb.exchanges.length - before).toBe(3);
    expect(err.code).toBe('endpoint_failed');
    expect(err.exitCode).toBe(5);
    expect(err.message.length).toBeLessThan(600);
  });

  it('gives up early when Retry-After is past the deadline', async () => {
    sb.injectFault({ status: 429, headers: { 'retry-after': '3600' }, count: 1 });
    const before = sb.exchanges.length;
    const err = await failure(exchangeToken(await request(), opts()));
    expect(sb.exchanges.length - before).toBe(1);
    expect(err.code).toBe('endpoint_failed');
    expect(err.hint).toMatch(/rate limit/);
  });

  it('maps 401 to exchange_denied (exit 4) with the fixes, and never retries 4xx', async () => {
    const before = sb.exchanges.length;
    const err = await failure(exchangeToken(await request({ federationRuleId: 'fdrl_unknown' }), opts()));
    expect(sb.exchanges.length - before).toBe(1);
    expect(err.code).toBe('exchange_denied');
    expect(err.exitCode).toBe(4);
    expect(err.message).toMatch(/401 authentication_error: Authentication failed \(request-id req_/);
    expect(err.hint).toMatch(/ANTHROPIC_WORKSPACE_ID/);
    expect(err.hint).toMatch(/jti/);
    expect(err.hint).toMatch(/workload-identity-federation\?tab=history/);
  });

  it('treats the older 400 invalid_grant shape as a denial and other 400s as bad requests', async () => {
    sb.injectFault({ status: 400, body: JSON.stringify({ error: 'invalid_grant', error_description: 'assertion rejected' }) });
    expect((await failure(exchangeToken(await request(), opts()))).code).toBe('exchange_denied');
    sb.injectFault({ status: 400, body: JSON.stringify({ error: 'invalid_request', error_description: 'workspace_id_required' }) });
    expect((await failure(exchangeToken(await request(), opts()))).code).toBe('exchange_denied');
    const bad = await failure(exchangeToken(await request({ workspaceId: 'wrkspc_' }), opts()));
    expect(bad.code).toBe('exchange_bad_request');
    expect(bad.exitCode).toBe(4);
  });

  it('never echoes an assertion the endpoint reflects in its error body', async () => {
    const req = await request();
    sb.injectFault({ status: 400, body: JSON.stringify({ error: { type: 'invalid_request_error', message: `bad assertion ${req.assertion}` }, assertion: req.assertion }) });
    const err = await failure(exchangeToken(req, opts()));
    expect(JSON.stringify(err.toJSON())).not.toContain(req.assertion.split('.')[1]!);
    sb.injectFault({ status: 500, body: `echo: ${req.assertion}`, count: 3 });
    const err2 = await failure(exchangeToken(req, opts()));
    expect(err2.message).not.toContain(req.assertion.split('.')[1]!);
  });

  it('redacts an echoed assertion before clipping the message (a clip first left "header.half-a-payload" behind)', async () => {
    // The echo puts the JWT's header and the first 40 characters of its payload before the 300th
    // character of the message: clipping there first leaves something the JWT pattern cannot see.
    for (const shape of ['anthropic', 'oauth', 'text'] as const) {
      const req = await request();
      const jwt = req.assertion;
      const message = `${'x'.repeat(300 - (jwt.indexOf('.') + 1 + 40))}${jwt} rejected`;
      const body =
        shape === 'anthropic'
          ? JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message } })
          : shape === 'oauth'
            ? JSON.stringify({ error: 'invalid_grant', error_description: message })
            : message;
      sb.injectFault({ status: shape === 'text' ? 418 : 400, body });
      const err = await failure(exchangeToken(req, opts()));
      const out = JSON.stringify(err.toJSON());
      const payload = jwt.split('.')[1]!;
      expect(out, shape).not.toContain(payload.slice(0, 24));
      expect(out, shape).toContain('eyJ…[redacted-jwt]');
    }
  });

  it('redacts details too: an assertion echoed in the request-id header never reaches --json output (found by the fuzzer)', async () => {
    const req = await request();
    sb.injectFault({ status: 200, body: '{}', headers: { 'request-id': `req_${req.assertion}` } });
    const err = await failure(exchangeToken(req, opts()));
    expect(err.code).toBe('invalid_response');
    expect(JSON.stringify(err.toJSON())).not.toContain(req.assertion.split('.')[1]!.slice(0, 24));
  });

  it('refuses an expires_in that puts the expiry beyond any date (invalid_response; it broke every reader of the cache)', async () => {
    sb.injectFault({ status: 200, body: '{"access_token":"sk-ant-oat01-x","token_type":"Bearer","expires_in":1e300}' });
    const err = await failure(exchangeToken(await request(), opts()));
    expect(err.code).toBe('invalid_response');
    expect(err.message).toMatch(/out of any date's range/);
  });

  it('does not follow redirects', async () => {
    sb.injectFault({ status: 302, headers: { location: 'https://evil.example/v1/oauth/token' }, body: '' });
    const err = await failure(exchangeToken(await request(), opts()));
    expect(err.code).toBe('endpoint_failed');
    expect(err.message).toMatch(/redirect/);
  });

  it.each([
    ['a non-JSON 200', { status: 200, body: '<html>portal</html>' }, /not JSON/],
    ['a 200 without access_token', { status: 200, body: '{"token_type":"Bearer","expires_in":60}' }, /no access_token/],
    ['token_type mac', { status: 200, body: '{"access_token":"x","token_type":"mac","expires_in":60}' }, /not Bearer/],
    ['a non-numeric expires_in', { status: 200, body: '{"access_token":"x","token_type":"Bearer","expires_in":"soon"}' }, /expires_in/],
    ['a 2 MiB body', { status: 200, body: `{"access_token":"${'a'.repeat(2 * 1024 * 1024)}"}` }, /larger than 1 MiB/],
  ])('refuses %s (invalid_response, exit 5)', async (_n, fault, why) => {
    sb.injectFault(fault);
    const err = await failure(exchangeToken(await request(), opts()));
    expect(err.code).toBe('invalid_response');
    expect(err.exitCode).toBe(5);
    expect(err.message).toMatch(why);
  });

  it('times out a hanging endpoint (endpoint_timeout)', async () => {
    sb.injectFault({ status: 200, delayMs: 1500, count: 1 });
    const err = await failure(exchangeToken(await request(), { ...opts(1), timeoutMs: 200 }));
    expect(err.code).toBe('endpoint_timeout');
    expect(err.exitCode).toBe(5);
  });

  it('reports an unreachable endpoint (endpoint_unreachable) and whether anything was sent', async () => {
    const err = await failure(exchangeToken(await request({ baseUrl: 'http://127.0.0.1:1' }), opts(2)));
    expect(err.code).toBe('endpoint_unreachable');
    expect(err.details?.['sent']).toBe(false);
  });
});
