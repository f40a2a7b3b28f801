// Every failed Mount: no files, no object versions, a stable MountResponse.error.code, one clear
// line in the provider's log — and never a service-account JWT or an access token anywhere.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSI_ERROR_CODES } from '../../src/csi/errors.js';
import { createProvider, type Provider } from '../../src/csi/provider.js';
import { startCsiServer, type CsiServer } from '../../src/csi/server.js';
import { defaultSandboxConfig } from '../../src/sandbox/config.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { createLogger } from '../../src/util/log.js';
import { assertNoSecrets, fakeClock } from '../helpers/cli.js';
import { attributes, AUDIENCE, driverClient, k8sRule, kubeletToken, pod, spcParams, type DriverClient, type Pod } from '../helpers/csi.js';

const clock = fakeClock(Date.UTC(2026, 11, 2, 9, 0, 0));
let sandbox: Sandbox;
let dir: string;
let server: CsiServer;
let provider: Provider;
let client: DriverClient;
let log = '';
const secrets: string[] = [];

beforeAll(async () => {
  const c = defaultSandboxConfig();
  sandbox = await startSandbox({ config: { rules: [...c.rules, k8sRule()] }, now: () => clock.now() });
  dir = mkdtempSync(join(tmpdir(), 'claude-wif-csi-err-'));
  // CLAUDE_WIF_TIMEOUT_MS bounds the retries the 5xx cases make (the injected clock's sleep is instant anyway).
  provider = createProvider({ clock, log: createLogger({ write: (s: string) => (log += s) }, 'debug'), env: { CLAUDE_WIF_HTTP_TIMEOUT_MS: '2000' }, userAgent: 'claude-wif-test' });
  server = await startCsiServer({ socket: join(dir, 'claude-wif.sock'), provider, log: createLogger({ write: () => true }, 'quiet') });
  client = await driverClient(server.socket);
});
afterAll(async () => {
  client.close();
  await server.close(100);
  await sandbox.close();
  rmSync(dir, { recursive: true, force: true });
  assertNoSecrets(log, secrets);
});

async function saFor(p: Pod, opts: Parameters<typeof kubeletToken>[2] = {}): Promise<string> {
  const t = await kubeletToken(sandbox, p, opts);
  secrets.push(t);
  return t;
}

async function expectFailure(attrs: string, code: keyof typeof CSI_ERROR_CODES, logPattern: RegExp): Promise<void> {
  const before = log.length;
  const res = await client.mount({ attributes: attrs });
  expect(res.error).toEqual({ code });
  expect(res.files).toEqual([]);
  expect(res.object_version).toEqual([]);
  const line = log.slice(before);
  expect(line).toContain(`failed: ${code}: `);
  expect(line).toMatch(logPattern);
}

describe('csi-provider: failed Mounts', () => {
  it('attributes that are not a JSON object of strings: attributes_invalid / parameter_invalid', async () => {
    await expectFailure('not json', 'attributes_invalid', /attributes is not JSON/);
    await expectFailure('[1]', 'attributes_invalid', /not a JSON object/);
    await expectFailure(JSON.stringify({ organizationId: 5 }), 'parameter_invalid', /parameter "organizationId" must be a string/);
  });

  it('a missing or malformed parameter is named', async () => {
    const p = pod('p1');
    const sa = await saFor(p);
    const tokens = { [AUDIENCE]: sa };
    const params = spcParams(sandbox);
    const without = (k: string) => Object.fromEntries(Object.entries(params).filter(([key]) => key !== k));
    await expectFailure(attributes(p, without('organizationId'), tokens), 'parameter_missing', /parameter "organizationId" is missing/);
    await expectFailure(attributes(p, without('federationRuleId'), tokens), 'parameter_missing', /parameter "federationRuleId" is missing/);
    await expectFailure(attributes(p, { ...params, federationRuleId: 'rule-1' }, tokens), 'parameter_invalid', /"federationRuleId" is not a valid federation rule id/);
    await expectFailure(attributes(p, { ...params, organizationId: 'acme' }, tokens), 'parameter_invalid', /"organizationId" is not a valid organization id/);
    await expectFailure(attributes(p, { ...params, serviceAccountId: 'sa' }, tokens), 'parameter_invalid', /"serviceAccountId"/);
    await expectFailure(attributes(p, { ...params, workspaceId: 'ws' }, tokens), 'parameter_invalid', /"workspaceId"/);
    await expectFailure(attributes(p, { ...params, baseUrl: 'ftp://x' }, tokens), 'parameter_invalid', /"baseUrl" is not an http\(s\) URL/);
    await expectFailure(attributes(p, { ...params, tokenFileMode: '0666' }, tokens), 'parameter_invalid', /"tokenFileMode" 0666 would let others write/);
    await expectFailure(attributes(p, { ...params, tokenFileMode: 'rw' }, tokens), 'parameter_invalid', /"tokenFileMode" must be an octal file mode/);
    await expectFailure(attributes(p, { ...params, profile: '../x' }, tokens), 'parameter_invalid', /"profile" must be a profile name/);
    const noUid = JSON.parse(attributes(p, params, tokens)) as Record<string, string>;
    delete noUid['csi.storage.k8s.io/pod.uid'];
    await expectFailure(JSON.stringify(noUid), 'parameter_missing', /pod\.uid" is missing.*podInfoOnMount/);
  });

  it('no service-account token for the audience: service_account_token_missing with the CSIDriver tokenRequests fix', async () => {
    const p = pod('p2');
    await expectFailure(attributes(p, spcParams(sandbox), null), 'service_account_token_missing', /no service-account token.*fix: .*tokenRequests/);
    const other = await saFor(p, { audience: 'vault' });
    await expectFailure(attributes(p, spcParams(sandbox), { vault: other }), 'service_account_token_missing', /for audience "https:\/\/api\.anthropic\.com" \(it sent tokens for: "vault"\)/);
    const bad = JSON.parse(attributes(p, spcParams(sandbox), null)) as Record<string, string>;
    bad['csi.storage.k8s.io/serviceAccount.tokens'] = '{not json';
    await expectFailure(JSON.stringify(bad), 'parameter_invalid', /serviceAccount\.tokens" is not JSON/);
  });

  it('a service-account token that is not a JWT, is bound to another pod, or names another namespace: identity_invalid', async () => {
    const p = pod('p3');
    await expectFailure(attributes(p, spcParams(sandbox), { [AUDIENCE]: 'not-a-jwt' }), 'identity_invalid', /not a JWT/);
    const stolen = await saFor(pod('someone-else'));
    await expectFailure(attributes(p, spcParams(sandbox), { [AUDIENCE]: stolen }), 'identity_invalid', /bound to pod uid .*, not to the pod being mounted/);
    const elsewhere = { ...p, namespace: 'payments' };
    const sa = await saFor(p);
    await expectFailure(attributes(elsewhere, spcParams(sandbox), { [AUDIENCE]: sa }), 'identity_invalid', /not in the pod's namespace payments/);
  });

  it('an expired service-account token: identity_expired, nothing sent', async () => {
    const p = pod('p4');
    const sa = await saFor(p, { iat: Math.floor(clock.now() / 1000) - 7200, lifetimeSeconds: 3600 });
    const n = sandbox.exchanges.length;
    await expectFailure(attributes(p, spcParams(sandbox), { [AUDIENCE]: sa }), 'identity_expired', /token expired 60m ago/);
    expect(sandbox.exchanges.length).toBe(n);
  });

  it('refused by the endpoint: wrong audience, a namespace the rule does not trust, an unknown rule → exchange_denied, reported with the subject and audience', async () => {
    const p = pod('p5');
    const wrongAud = await saFor(p, { audience: 'sts.amazonaws.com' });
    await expectFailure(attributes(p, spcParams(sandbox, { audience: 'sts.amazonaws.com' }), { 'sts.amazonaws.com': wrongAud }), 'exchange_denied', /sub system:serviceaccount:apps:model-client, aud sts\.amazonaws\.com.*refused the assertion: 401/);
    expect(sandbox.exchanges.at(-1)!.reason).toBe('audience_mismatch');
    const q = pod('q', 'payments');
    await expectFailure(attributes(q, spcParams(sandbox), { [AUDIENCE]: await saFor(q) }), 'exchange_denied', /sub system:serviceaccount:payments:model-client.*401/);
    expect(sandbox.exchanges.at(-1)!.reason).toBe('subject_mismatch');
    const r = pod('r');
    await expectFailure(attributes(r, spcParams(sandbox, { federationRuleId: 'fdrl_nosuchrule' }), { [AUDIENCE]: await saFor(r) }), 'exchange_denied', /401/);
  });

  it('a service-account token already spent, once the token it bought is used up: identity_replayed', async () => {
    const p = pod('p6');
    const sa = await saFor(p, { lifetimeSeconds: 3600 });
    const attrs = attributes(p, spcParams(sandbox), { [AUDIENCE]: sa });
    const ok = await client.mount({ attributes: attrs });
    expect(ok.error).toBeNull();
    clock.advance(3590_000); // the 1 h token has 10 s left; kubelet never renewed the service-account token
    await expectFailure(attributes(p, spcParams(sandbox), { [AUDIENCE]: sa }), 'identity_replayed', /already exchanged.*fix: kubelet renews/);
    clock.advance(-3590_000);
  });

  it('endpoint trouble: endpoint_unreachable, endpoint_failed (5xx after retries), invalid_response, exchange_bad_request, insecure_endpoint', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const p = pod('p7');
    await expectFailure(attributes(p, spcParams(sandbox, { baseUrl: `http://127.0.0.1:${port}` }), { [AUDIENCE]: await saFor(p) }), 'endpoint_unreachable', /token endpoint http:\/\/127\.0\.0\.1:\d+\/v1\/oauth\/token/);
    sandbox.injectFault({ status: 503, count: 3 });
    await expectFailure(attributes(p, spcParams(sandbox), { [AUDIENCE]: await saFor(p) }), 'endpoint_failed', /503/);
    sandbox.clearFaults();
    sandbox.injectFault({ status: 200, body: '<html>portal</html>' });
    await expectFailure(attributes(p, spcParams(sandbox), { [AUDIENCE]: await saFor(p) }), 'invalid_response', /not JSON/);
    sandbox.injectFault({ status: 400, body: JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'organization_id: malformed' } }) });
    await expectFailure(attributes(p, spcParams(sandbox), { [AUDIENCE]: await saFor(p) }), 'exchange_bad_request', /malformed/);
    sandbox.clearFaults();
    await expectFailure(attributes(p, spcParams(sandbox, { baseUrl: 'http://api.example.com' }), { [AUDIENCE]: await saFor(p) }), 'insecure_endpoint', /must use https/);
  });

  it('an endpoint that does not answer in time: endpoint_timeout', async () => {
    const quick = createProvider({ clock, log: createLogger({ write: (s: string) => (log += s) }, 'info'), env: { CLAUDE_WIF_HTTP_TIMEOUT_MS: '300' }, userAgent: 'claude-wif-test' });
    const s2 = await startCsiServer({ socket: join(dir, 'quick.sock'), provider: quick, log: createLogger({ write: () => true }, 'quiet') });
    const c2 = await driverClient(s2.socket);
    try {
      // Without a jti (clusters before 1.29) a token may be sent again: each attempt times out.
      const p = pod('p9');
      sandbox.injectFault({ status: 200, delayMs: 1_500, count: 3 });
      const before = log.length;
      const res = await c2.mount({ attributes: attributes(p, spcParams(sandbox), { [AUDIENCE]: await saFor(p, { jti: false }) }) });
      expect(res.error).toEqual({ code: 'endpoint_timeout' });
      expect(res.files).toEqual([]);
      expect(log.slice(before)).toMatch(/failed: endpoint_timeout: /);
      expect(quick.stats().errors).toEqual({ endpoint_timeout: 1 });
    } finally {
      sandbox.clearFaults();
      c2.close();
      await s2.close(100);
    }
  });

  it('a single-use service-account token that reached the endpoint is never sent again: the driver\'s retry gets the first answer', async () => {
    const q = pod('q2', 'payments');
    const sa = await saFor(q);
    const attrs = attributes(q, spcParams(sandbox), { [AUDIENCE]: sa });
    const n = sandbox.exchanges.length;
    await expectFailure(attrs, 'exchange_denied', /401/);
    await expectFailure(attrs, 'exchange_denied', /not sent again.*kubelet brings a new service-account token/);
    expect(sandbox.exchanges.length - n).toBe(1);
    // A 503 that may have consumed the jti: no retry with the same token, now or on the next Mount.
    const r = pod('r2');
    const sa2 = await saFor(r);
    sandbox.injectFault({ status: 503, count: 3 });
    const n2 = sandbox.exchanges.length;
    await expectFailure(attributes(r, spcParams(sandbox), { [AUDIENCE]: sa2 }), 'endpoint_failed', /503/);
    sandbox.clearFaults();
    await expectFailure(attributes(r, spcParams(sandbox), { [AUDIENCE]: sa2 }), 'endpoint_failed', /not sent again/);
    expect(sandbox.exchanges.length - n2).toBe(1);
    // kubelet's next token works at once.
    const ok = await client.mount({ attributes: attributes(r, spcParams(sandbox), { [AUDIENCE]: await saFor(r) }) });
    expect(ok.error).toBeNull();
  });

  it('an endpoint echoing the assertion in its error never puts it in the log', async () => {
    const p = pod('p8');
    const sa = await saFor(p);
    sandbox.injectFault({ status: 401, body: JSON.stringify({ type: 'error', error: { type: 'authentication_error', message: `bad assertion ${sa}` } }), headers: { 'request-id': sa } });
    await expectFailure(attributes(p, spcParams(sandbox), { [AUDIENCE]: sa }), 'exchange_denied', /redacted/);
  });

  it('every failure was counted under its code; the provider still serves', async () => {
    const s = provider.stats();
    expect(Object.keys(s.errors).sort()).toEqual(Object.keys(CSI_ERROR_CODES).filter((c) => c !== 'internal_error' && c !== 'endpoint_timeout').sort());
    expect((await client.version()).runtime_name).toBe('claude-wif');
  });

  it('refuses to replace a file that is not a socket, or a socket another provider serves', async () => {
    const file = join(dir, 'plain');
    writeFileSync(file, 'x');
    await expect(startCsiServer({ socket: file, provider, log: createLogger({ write: () => true }, 'quiet') })).rejects.toThrow(/not a socket/);
    await expect(startCsiServer({ socket: server.socket, provider, log: createLogger({ write: () => true }, 'quiet') })).rejects.toThrow(/already serving/);
  });
});
