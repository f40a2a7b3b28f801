import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSource, type IdentityContext } from '../../src/identity/source.js';
import { decodeJwtSvidResponse, parseWorkloadAddress } from '../../src/identity/spiffe.js';
import { encodeStrings, frame, unframe } from '../../src/identity/grpc.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { WifError } from '../../src/util/errors.js';
import { createLogger } from '../../src/util/log.js';
import { systemClock } from '../../src/util/clock.js';
import { decodeJwt } from '../../src/util/jwt.js';
import { assertNoSecrets, failure } from '../helpers/cli.js';
import { tempHome, type TempHome } from '../helpers/env.js';
import {
  appServicePeer,
  azureImdsPeer,
  closedPort,
  entraPeer,
  fakeCli,
  gcpPeer,
  githubPeer,
  oktaPeer,
  spiffeAgent,
  stsPeer,
  type Peer,
} from '../helpers/platforms.js';

let h: TempHome;
let sandbox: Sandbox;
let stderr = '';
const peers: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  h = tempHome();
  sandbox = await startSandbox();
});
afterAll(async () => {
  for (const p of peers) await p.close();
  await sandbox.close();
  h.cleanup();
});

function ctx(options: Record<string, unknown>, env: Record<string, string | undefined> = {}, timeoutMs = 5_000): IdentityContext {
  stderr = '';
  return {
    env: { PATH: process.env['PATH'], HOME: h.home, ...env },
    clock: systemClock,
    log: createLogger({ write: (s: string) => (stderr += s) }, 'debug'),
    options,
    timeoutMs,
  };
}

async function fetchWith(name: string, c: IdentityContext) {
  return (await loadSource(name)).fetch(c);
}

const claims = (jwt: string) => decodeJwt(jwt).payload;
const track = <T extends { close(): Promise<void> }>(p: T): T => {
  peers.push(p);
  return p;
};

describe('github-actions', () => {
  let peer: Peer & { requestUrl: string };
  beforeAll(async () => {
    peer = track(await githubPeer((o) => sandbox.mint(o), 'request-token-secret-123'));
  });

  it('appends &audience= to the request URL, sends the bearer request token, reads "value"', async () => {
    const got = await fetchWith('github-actions', ctx({}, { ACTIONS_ID_TOKEN_REQUEST_URL: peer.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token-secret-123' }));
    const req = peer.requests.at(-1)!;
    expect(req.url).toBe('/_apis/token?api-version=2.0&audience=https%3A%2F%2Fapi.anthropic.com');
    expect(req.headers['authorization']).toBe('Bearer request-token-secret-123');
    expect(claims(got.jwt)).toMatchObject({ aud: 'https://api.anthropic.com', sub: 'repo:example/app:ref:refs/heads/main' });
    expect((await loadSource('github-actions')).mintsOnDemand).toBe(true);
    assertNoSecrets(stderr, [got.jwt, 'request-token-secret-123']);
  });

  it('uses the configured audience', async () => {
    const got = await fetchWith('github-actions', ctx({ audience: 'https://example.test/aud' }, { ACTIONS_ID_TOKEN_REQUEST_URL: peer.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token-secret-123' }));
    expect(claims(got.jwt)['aud']).toBe('https://example.test/aud');
  });

  it('without the variables: exit 3 naming permissions: id-token: write', async () => {
    const err = await failure(fetchWith('github-actions', ctx({}, { GITHUB_ACTIONS: 'true' })));
    expect(err.code).toBe('identity_unavailable');
    expect(err.exitCode).toBe(3);
    expect(err.message).toMatch(/^github-actions: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set/);
    expect(err.hint).toMatch(/id-token: write/);
  });

  it('a refused request token is exit 3 with the permissions fix; an unreachable service is exit 5', async () => {
    const refused = await failure(fetchWith('github-actions', ctx({}, { ACTIONS_ID_TOKEN_REQUEST_URL: peer.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'wrong' })));
    expect(refused).toMatchObject({ code: 'identity_unavailable', exitCode: 3 });
    expect(refused.message).toMatch(/HTTP 401/);
    expect(refused.hint).toMatch(/id-token: write/);
    const port = await closedPort();
    const down = await failure(fetchWith('github-actions', ctx({}, { ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${port}/_apis/token?api-version=2.0`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'x' })));
    expect(down).toMatchObject({ code: 'endpoint_unreachable', exitCode: 5 });
    expect(down.message).toMatch(/^github-actions: /);
  });
});

describe('gcp', () => {
  let peer: Peer;
  beforeAll(async () => {
    peer = track(await gcpPeer((o) => sandbox.mint(o)));
  });

  it('asks GCE_METADATA_HOST with Metadata-Flavor: Google, audience and format=full; the body is the JWT', async () => {
    const got = await fetchWith('gcp', ctx({}, { GCE_METADATA_HOST: `127.0.0.1:${peer.port}` }));
    const req = peer.requests.at(-1)!;
    expect(req.headers['metadata-flavor']).toBe('Google');
    expect(req.url).toBe('/computeMetadata/v1/instance/service-accounts/default/identity?audience=https%3A%2F%2Fapi.anthropic.com&format=full');
    expect(claims(got.jwt)).toMatchObject({ aud: 'https://api.anthropic.com', email: 'app@example.iam.gserviceaccount.com' });
  });

  it('an unknown service account is exit 3 with the fix', async () => {
    const err = await failure(fetchWith('gcp', ctx({ service_account: 'nobody@example.iam.gserviceaccount.com' }, { GCE_METADATA_HOST: `127.0.0.1:${peer.port}` })));
    expect(err).toMatchObject({ code: 'identity_unavailable' });
    expect(err.message).toMatch(/^gcp: .*HTTP 404/);
    expect(err.hint).toMatch(/service account/);
  });

  it('never goes through a proxy, and fails fast when nothing listens (exit 5)', async () => {
    const port = await closedPort();
    const err = await failure(fetchWith('gcp', ctx({}, { GCE_METADATA_HOST: `127.0.0.1:${port}`, HTTP_PROXY: 'http://127.0.0.1:9', http_proxy: 'http://127.0.0.1:9' })));
    expect(err).toMatchObject({ code: 'endpoint_unreachable', exitCode: 5 });
    expect(err.message).toContain(`127.0.0.1:${port}`);
  });
});

describe('azure', () => {
  it('azure-imds: Metadata: true, api-version 2018-02-01, resource and client_id; reads access_token', async () => {
    const peer = track(await azureImdsPeer((o) => sandbox.mint(o)));
    const got = await fetchWith('azure-imds', ctx({ resource: 'api://claude-wif-test', client_id: 'uami-client' }, { AZURE_POD_IDENTITY_AUTHORITY_HOST: peer.url }));
    const req = peer.requests.at(-1)!;
    expect(req.headers['metadata']).toBe('true');
    const u = new URL(req.url, 'http://x');
    expect(u.pathname).toBe('/metadata/identity/oauth2/token');
    expect(Object.fromEntries(u.searchParams)).toEqual({ 'api-version': '2018-02-01', resource: 'api://claude-wif-test', client_id: 'uami-client' });
    expect(claims(got.jwt)['aud']).toBe('api://claude-wif-test');
    expect((await loadSource('azure-imds')).mintsOnDemand).toBe(false);
  });

  it('azure-imds without a resource: exit 3 naming the option', async () => {
    const err = await failure(fetchWith('azure-imds', ctx({}, {})));
    expect(err).toMatchObject({ code: 'identity_unavailable' });
    expect(err.hint).toMatch(/api:\/\/<APP_ID>/);
  });

  it('azure-app-service: X-IDENTITY-HEADER and api-version 2019-08-01; the header secret never shows', async () => {
    const peer = track(await appServicePeer((o) => sandbox.mint(o), 'identity-header-secret-9876'));
    const got = await fetchWith('azure-app-service', ctx({ resource: 'api://claude-wif-test' }, { IDENTITY_ENDPOINT: peer.endpoint, IDENTITY_HEADER: 'identity-header-secret-9876' }));
    const req = peer.requests.at(-1)!;
    expect(req.headers['x-identity-header']).toBe('identity-header-secret-9876');
    expect(new URL(req.url, 'http://x').searchParams.get('api-version')).toBe('2019-08-01');
    expect(claims(got.jwt)['aud']).toBe('api://claude-wif-test');
    const wrong = await failure(fetchWith('azure-app-service', ctx({ resource: 'api://claude-wif-test' }, { IDENTITY_ENDPOINT: peer.endpoint, IDENTITY_HEADER: 'another-secret-value-42' })));
    expect(wrong.message).toMatch(/HTTP 401/);
    expect(wrong.message).not.toContain('another-secret-value-42');
  });

  it('azure-workload-identity: the Entra client-credentials form with the federated token as client assertion', async () => {
    const tokenFile = join(h.home, 'azure-token');
    const assertion = await sandbox.mint({ aud: 'api://AzureADTokenExchange', sub: 'system:serviceaccount:prod:app' });
    writeFileSync(tokenFile, assertion, { mode: 0o600 });
    const peer = track(await entraPeer((o) => sandbox.mint(o), { tenant: 'tenant-123', clientId: 'client-456', assertion: () => assertion }));
    const got = await fetchWith(
      'azure-workload-identity',
      ctx({ resource: 'api://claude-wif-test' }, { AZURE_AUTHORITY_HOST: `${peer.url}/`, AZURE_TENANT_ID: 'tenant-123', AZURE_CLIENT_ID: 'client-456', AZURE_FEDERATED_TOKEN_FILE: tokenFile }),
    );
    const req = peer.requests.at(-1)!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/tenant-123/oauth2/v2.0/token');
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(req.body))).toEqual({
      grant_type: 'client_credentials',
      client_id: 'client-456',
      scope: 'api://claude-wif-test/.default',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    expect(claims(got.jwt)['aud']).toBe('api://claude-wif-test');
    assertNoSecrets(stderr, [assertion, got.jwt]);
  });

  it('azure-workload-identity: an Entra refusal is exit 3 with the AADSTS reason, never the assertion', async () => {
    const tokenFile = join(h.home, 'azure-token-2');
    const assertion = await sandbox.mint({ sub: 'system:serviceaccount:prod:other' });
    writeFileSync(tokenFile, assertion, { mode: 0o600 });
    const peer = track(await entraPeer((o) => sandbox.mint(o), { tenant: 't', clientId: 'c', assertion: () => 'something else' }));
    const err = await failure(fetchWith('azure-workload-identity', ctx({ resource: 'api://x' }, { AZURE_AUTHORITY_HOST: peer.url, AZURE_TENANT_ID: 't', AZURE_CLIENT_ID: 'c', AZURE_FEDERATED_TOKEN_FILE: tokenFile })));
    expect(err).toMatchObject({ code: 'identity_unavailable', exitCode: 3 });
    expect(err.message).toMatch(/AADSTS700211/);
    expect(err.hint).toMatch(/federated identity credential/);
    assertNoSecrets(err.message, [assertion]);
  });
});

describe('aws', () => {
  const creds = { accessKeyId: 'AKIDEXAMPLETEST', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', sessionToken: 'session-token-example-abcdef' };
  const saved: Record<string, string | undefined> = {};
  // The AWS SDK's credential chain reads process.env, as it does in the real binary.
  const setProcessEnv = (vars: Record<string, string>) => {
    for (const [k, v] of Object.entries(vars)) {
      if (!(k in saved)) saved[k] = process.env[k];
      process.env[k] = v;
    }
  };
  afterAll(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('GetWebIdentityToken: query API form body, SigV4 signature verifiable with the test credentials, AWS_ENDPOINT_URL_STS honoured', async () => {
    const peer = track(await stsPeer((o) => sandbox.mint(o), creds, 'eu-west-1'));
    setProcessEnv({
      AWS_ACCESS_KEY_ID: creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
      AWS_SESSION_TOKEN: creds.sessionToken,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: join(h.home, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(h.home, 'no-aws-credentials'),
    });
    const got = await fetchWith('aws', ctx({ duration_seconds: 900 }, { AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL_STS: peer.url }));
    expect(peer.verdicts).toEqual([undefined]);
    const req = peer.requests.at(-1)!;
    expect(req.method).toBe('POST');
    expect(req.headers['authorization']).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLETEST\/\d{8}\/eu-west-1\/sts\/aws4_request/);
    expect(req.headers['x-amz-security-token']).toBe(creds.sessionToken);
    expect(Object.fromEntries(new URLSearchParams(req.body))).toEqual({
      Action: 'GetWebIdentityToken',
      Version: '2011-06-15',
      'Audience.member.1': 'https://api.anthropic.com',
      SigningAlgorithm: 'RS256',
      DurationSeconds: '900',
    });
    expect(claims(got.jwt)).toMatchObject({ sub: 'arn:aws:iam::123456789012:role/app', aud: 'https://api.anthropic.com' });
    assertNoSecrets(stderr, [got.jwt, creds.secretAccessKey, creds.sessionToken]);
  });

  it('outbound federation disabled: exit 3 with the enable command', async () => {
    const peer = track(await stsPeer((o) => sandbox.mint(o), creds, 'eu-west-1', { disabled: true }));
    const err = await failure(fetchWith('aws', ctx({}, { AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL_STS: peer.url })));
    expect(err).toMatchObject({ code: 'identity_unavailable', exitCode: 3 });
    expect(err.hint).toMatch(/enable-outbound-web-identity-federation/);
  });

  it('a bad signing_algorithm is a configuration error', async () => {
    const err = await failure(fetchWith('aws', ctx({ signing_algorithm: 'HS256' }, { AWS_REGION: 'eu-west-1' })));
    expect(err.code).toBe('config_invalid');
  });
});

describe('spiffe', () => {
  let agent: Awaited<ReturnType<typeof spiffeAgent>>;
  beforeAll(async () => {
    agent = track(await spiffeAgent(join(h.home, 'spire'), (o) => sandbox.mint(o)));
  });

  it('FetchJWTSVID over gRPC on the unix socket with workload.spiffe.io: true (client independent of the grpc-js agent)', async () => {
    const got = await fetchWith('spiffe', ctx({}, { SPIFFE_ENDPOINT_SOCKET: agent.address }));
    expect(agent.calls.at(-1)).toEqual({ audience: ['https://api.anthropic.com'], header: 'true' });
    expect(claims(got.jwt)).toMatchObject({ sub: 'spiffe://example.org/ns/prod/sa/app', aud: ['https://api.anthropic.com'] });
    expect(got.origin).toContain('spiffe://example.org/ns/prod/sa/app');
  });

  it('the agent refuses a call without the security header (so the header is what makes ours work)', async () => {
    const grpc = await import('@grpc/grpc-js');
    const client = new grpc.Client(`unix://${agent.socket}`, grpc.credentials.createInsecure());
    const err = await new Promise<{ code: number; details: string }>((resolve) => {
      client.makeUnaryRequest('/SpiffeWorkloadAPI/FetchJWTSVID', (b: Buffer) => b, (b: Buffer) => b, Buffer.from(encodeStrings([[1, 'aud']])), new grpc.Metadata(), (e) => resolve(e as unknown as { code: number; details: string }));
    });
    client.close();
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/security header/);
  });

  it('no agent on the socket: exit 5 naming SPIFFE_ENDPOINT_SOCKET', async () => {
    const err = await failure(fetchWith('spiffe', ctx({}, { SPIFFE_ENDPOINT_SOCKET: `unix://${join(h.home, 'nothing.sock')}` })));
    expect(err).toMatchObject({ code: 'endpoint_unreachable', exitCode: 5 });
    expect(err.hint).toMatch(/SPIFFE_ENDPOINT_SOCKET/);
  });

  it('parses workload API addresses and the protobuf messages', () => {
    expect(parseWorkloadAddress('unix:///run/spire/agent.sock')).toEqual({ socketPath: '/run/spire/agent.sock' });
    expect(parseWorkloadAddress('unix:/run/spire/agent.sock')).toEqual({ socketPath: '/run/spire/agent.sock' });
    expect(parseWorkloadAddress('tcp://127.0.0.1:8081')).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(() => parseWorkloadAddress('unix://host/path')).toThrow(WifError);
    const svid = encodeStrings([[1, 'spiffe://x/y'], [2, 'a.b.c'], [3, 'hint']]);
    const resp = Buffer.concat([Buffer.from([0x0a, svid.length]), svid]);
    expect(decodeJwtSvidResponse(resp)).toEqual([{ spiffeId: 'spiffe://x/y', svid: 'a.b.c', hint: 'hint' }]);
    expect(unframe(frame(resp)).equals(resp)).toBe(true);
  });
});

describe('okta', () => {
  it('client_credentials with a private_key_jwt the token endpoint verifies against the test key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyPath = join(h.home, 'okta-key.pem');
    writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    const peer = track(await oktaPeer((o) => sandbox.mint(o), publicKey, '0oa-client-id'));
    const got = await fetchWith('okta', ctx({ issuer: peer.issuer, client_id: '0oa-client-id', private_key_path: keyPath, scope: 'claude.federation' }));
    expect(peer.verdicts).toEqual([undefined]);
    const form = Object.fromEntries(new URLSearchParams(peer.requests.at(-1)!.body));
    expect(form).toMatchObject({ grant_type: 'client_credentials', scope: 'claude.federation', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' });
    expect(decodeJwt(form['client_assertion']!).header['alg']).toBe('RS256');
    expect(claims(got.jwt)['sub']).toBe('0oa-client-id');
  });

  it('refuses a private key other users can read (exit 6) and an org authorization server', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyPath = join(h.home, 'okta-open.pem');
    writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    chmodSync(keyPath, 0o644);
    const open = await failure(fetchWith('okta', ctx({ issuer: 'https://example.okta.com/oauth2/default', client_id: 'c', private_key_path: keyPath, scope: 's' })));
    expect(open).toMatchObject({ code: 'insecure_file', exitCode: 6 });
    const org = await failure(fetchWith('okta', ctx({ issuer: 'https://example.okta.com', client_id: 'c', private_key_path: keyPath, scope: 's' })));
    expect(org.message).toMatch(/custom authorization server/);
  });
});

describe('command-line sources', () => {
  let tokenFile: string;
  let logFile: string;
  let binDir: string;
  beforeAll(async () => {
    binDir = join(h.home, 'bin');
    tokenFile = join(h.home, 'cli-token');
    logFile = join(h.home, 'cli.log');
    writeFileSync(tokenFile, await sandbox.mint({ sub: 'org/o/project/p/user/u' }));
    fakeCli(binDir, 'buildkite-agent', tokenFile, logFile);
    fakeCli(binDir, 'circleci', tokenFile, logFile);
  });
  const env = () => ({ PATH: `${binDir}:${process.env['PATH']}` });
  const lastLog = async () => {
    const { readFileSync } = await import('node:fs');
    return JSON.parse(readFileSync(logFile, 'utf8').trim().split('\n').at(-1)!) as { argv: string[]; audience: string | null };
  };

  it('command: runs the argv (no shell) with the audience in CLAUDE_WIF_AUDIENCE; stdout is the JWT', async () => {
    const script = fakeCli(binDir, 'print-jwt', tokenFile, logFile);
    const got = await fetchWith('command', ctx({ command: [script, '--flag'], audience: 'aud-x' }, env()));
    expect(await lastLog()).toEqual({ argv: ['--flag'], audience: 'aud-x' });
    expect(got.jwt.split('.')).toHaveLength(3);
  });

  it('command: a failing program is exit 3 with its (redacted) stderr; a missing one names the fix', async () => {
    const jwt = await sandbox.mint();
    const bad = fakeCli(binDir, 'fails', tokenFile, logFile, { exitCode: 2, stderr: `error: token ${jwt} rejected\n` });
    const err = await failure(fetchWith('command', ctx({ command: [bad] }, env())));
    expect(err).toMatchObject({ code: 'identity_unavailable', exitCode: 3 });
    expect(err.message).toMatch(/exited with status 2/);
    assertNoSecrets(err.message, [jwt]);
    const missing = await failure(fetchWith('command', ctx({ command: ['/nonexistent/printer'] }, env())));
    expect(missing.message).toMatch(/not found/);
    const notArgv = await failure(fetchWith('command', ctx({ command: 'gcloud auth print-identity-token' }, env())));
    expect(notArgv.code).toBe('config_invalid');
  });

  it('buildkite: buildkite-agent oidc request-token --audience', async () => {
    await fetchWith('buildkite', ctx({}, env()));
    expect((await lastLog()).argv).toEqual(['oidc', 'request-token', '--audience', 'https://api.anthropic.com']);
  });

  it('circleci: CIRCLE_OIDC_TOKEN_V2 by default, `circleci run oidc get --claims` when an audience is set', async () => {
    const v2 = await sandbox.mint({ aud: 'org-id' });
    const fromEnv = await fetchWith('circleci', ctx({}, { ...env(), CIRCLECI: 'true', CIRCLE_OIDC_TOKEN_V2: v2 }));
    expect(fromEnv.jwt).toBe(v2);
    await fetchWith('circleci', ctx({ audience: 'https://api.anthropic.com' }, env()));
    expect((await lastLog()).argv).toEqual(['run', 'oidc', 'get', '--claims', '{"aud":"https://api.anthropic.com"}']);
    const none = await failure(fetchWith('circleci', ctx({}, env())));
    expect(none.hint).toMatch(/circleci run oidc get/);
  });
});

describe('variable and file sources', () => {
  it('terraform-cloud: untagged, tagged, and ambiguous tags', async () => {
    const a = await sandbox.mint({ aud: 'https://api.anthropic.com' });
    const b = await sandbox.mint({ aud: 'vault' });
    expect((await fetchWith('terraform-cloud', ctx({}, { TFC_WORKLOAD_IDENTITY_TOKEN: a }))).jwt).toBe(a);
    expect((await fetchWith('terraform-cloud', ctx({ tag: 'vault' }, { TFC_WORKLOAD_IDENTITY_TOKEN_VAULT: b, TFC_WORKLOAD_IDENTITY_TOKEN_ANTHROPIC: a }))).jwt).toBe(b);
    // Two tags: the one whose aud is the audience wins.
    expect((await fetchWith('terraform-cloud', ctx({}, { TFC_WORKLOAD_IDENTITY_TOKEN_VAULT: b, TFC_WORKLOAD_IDENTITY_TOKEN_ANTHROPIC: a }))).jwt).toBe(a);
    const err = await failure(fetchWith('terraform-cloud', ctx({}, { TFC_WORKLOAD_IDENTITY_TOKEN_X: b, TFC_WORKLOAD_IDENTITY_TOKEN_Y: b })));
    expect(err.message).toMatch(/several tagged tokens/);
  });

  it('gitlab: the named variable, or the only ID token issued by CI_SERVER_URL; ambiguity is refused', async () => {
    const t = await sandbox.mint();
    const other = await sandbox.mint({ aud: 'vault' });
    expect((await fetchWith('gitlab', ctx({ variable: 'MY_TOKEN' }, { MY_TOKEN: t }))).jwt).toBe(t);
    const env = { GITLAB_CI: 'true', CI_SERVER_URL: sandbox.issuerUrl, ANTHROPIC_ID_TOKEN: t, VAULT_ID_TOKEN: other, CI_JOB_JWT_V2: other };
    expect((await fetchWith('gitlab', ctx({}, env))).jwt).toBe(t);
    const err = await failure(fetchWith('gitlab', ctx({}, { ...env, SECOND: t })));
    expect(err.message).toMatch(/several variables hold ID tokens/);
    const missing = await failure(fetchWith('gitlab', ctx({ variable: 'NOPE' }, {})));
    expect(missing.hint).toMatch(/id_tokens/);
    expect((await loadSource('gitlab')).mintsOnDemand).toBe(false);
  });

  it('kubernetes and file: re-read every time, symlinks followed, group/world-writable refused', async () => {
    const dir = join(h.home, 'k8s', '..2026_01_01');
    mkdirSync(dir, { recursive: true });
    const real = join(dir, 'token');
    writeFileSync(real, `${await sandbox.mint()}\n`, { mode: 0o644 });
    const link = join(h.home, 'k8s', 'token');
    symlinkSync(real, link);
    const first = await fetchWith('kubernetes', ctx({ path: link }));
    writeFileSync(real, await sandbox.mint());
    const second = await fetchWith('kubernetes', ctx({ path: link }));
    expect(second.jwt).not.toBe(first.jwt);
    chmodSync(real, 0o666);
    const err = await failure(fetchWith('file', ctx({ path: link })));
    expect(err).toMatchObject({ code: 'insecure_file', exitCode: 6 });
    const dirErr = await failure(fetchWith('file', ctx({ path: join(h.home, 'k8s') })));
    expect(dirErr.message).toMatch(/not a regular file/);
    // A FIFO must be refused at once, never opened for a read that would block forever.
    const fifo = join(h.home, 'token.fifo');
    if (spawnSync('mkfifo', [fifo]).status === 0) {
      const err2 = await failure(fetchWith('kubernetes', ctx({ path: fifo })));
      expect(err2.message).toMatch(/^kubernetes: .*not a regular file/);
    }
  });
});
