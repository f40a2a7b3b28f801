// Every identity source end to end through the built binary: `identity --json` explains the JWT a
// local peer speaking the platform's real protocol hands out, and `token` exchanges it at the
// sandbox's token endpoint. The peers mint with the sandbox issuer, so the exchange is real.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { assertNoSecrets, runBin } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import {
  appServicePeer,
  azureImdsPeer,
  closedPort,
  connectProxy,
  entraPeer,
  ENTRA_AUDIENCE,
  fakeCli,
  gcpPeer,
  githubPeer,
  identityRules,
  noCloud,
  oktaPeer,
  selfSignedCert,
  spiffeAgent,
  stsPeer,
} from '../helpers/platforms.js';

let h: TempHome;
let sandbox: Sandbox;
let base: Record<string, string>;
let deadPort: number;
const closers: Array<{ close(): Promise<void> }> = [];
const track = <T extends { close(): Promise<void> }>(p: T): T => {
  closers.push(p);
  return p;
};

beforeAll(async () => {
  h = tempHome();
  sandbox = await startSandbox({ config: { rules: identityRules() } });
  deadPort = await closedPort();
  base = cleanEnv(h.home, { ANTHROPIC_CONFIG_DIR: h.configDir, ...noCloud(deadPort) });
});
afterAll(async () => {
  for (const c of closers) await c.close();
  await sandbox.close();
  h.cleanup();
});

/** Writes configs/<name>.json for `rule` with claude_wif.identity = `identity` (no identity_token file). */
function profile(name: string, identity: Record<string, unknown> | undefined, rule = 'fdrl_any'): void {
  mkdirSync(join(h.configDir, 'configs'), { recursive: true });
  const p = sandbox.profile({ ruleId: rule });
  writeFileSync(join(h.configDir, 'configs', `${name}.json`), JSON.stringify({ ...p, ...(identity ? { claude_wif: { identity } } : {}) }, null, 2));
}

interface Checked {
  doc: Record<string, any>;
  token: string;
}

/** `identity --json` then `token`; both must succeed with nothing secret on stderr. */
async function endToEnd(name: string, env: Record<string, string>, expectSource: string): Promise<Checked> {
  const id = await runBin(['--profile', name, 'identity', '--json'], env);
  expect(id.stderr).toBe('');
  expect(id.code).toBe(0);
  const doc = JSON.parse(id.stdout) as Record<string, any>;
  expect(doc['source']).toBe(expectSource);
  expect(doc['checks'].filter((c: { status: string }) => c.status === 'fail')).toEqual([]);
  expect(doc['jwt']).toBeUndefined();
  const before = sandbox.exchanges.length;
  const tok = await runBin(['--profile', name, 'token'], env);
  expect(tok.stderr).toBe('');
  expect(tok.code).toBe(0);
  expect(tok.stdout).toMatch(/^sk-ant-oat01-[A-Za-z0-9_-]{20,}\n$/);
  expect(sandbox.exchanges.length).toBe(before + 1);
  const ex = sandbox.exchanges.at(-1)!;
  expect(ex.status).toBe(200);
  // The JSON never carries the signature: no third segment of the exchanged JWT anywhere.
  const signature = ex.assertion!.split('.')[2]!;
  expect(id.stdout).not.toContain(signature);
  assertNoSecrets(id.stderr + tok.stderr, [ex.assertion!, tok.stdout.trim()]);
  return { doc, token: tok.stdout.trim() };
}

describe('identity + token for every source', () => {
  it('github-actions: request URL + &audience=, bearer, "value"', async () => {
    const gh = track(await githubPeer((o) => sandbox.mint(o), 'gh-request-token-123456'));
    profile('gh', { source: 'github-actions' }, 'fdrl_sandbox');
    const env = { ...base, ACTIONS_ID_TOKEN_REQUEST_URL: gh.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'gh-request-token-123456' };
    const { doc } = await endToEnd('gh', env, 'github-actions');
    expect(doc['claims']).toMatchObject({ sub: 'repo:example/app:ref:refs/heads/main', aud: 'https://api.anthropic.com', repository: 'example/app' });
    expect(doc['mints_on_demand']).toBe(true);
    expect(doc['federation']).toEqual({ issuer_url: sandbox.issuerUrl, subject: 'repo:example/app:ref:refs/heads/main', audience: ['https://api.anthropic.com'] });
    expect(gh.requests.every((r) => r.headers['authorization'] === 'Bearer gh-request-token-123456' && r.url.endsWith('&audience=https%3A%2F%2Fapi.anthropic.com'))).toBe(true);
  });

  it('gitlab: the id_tokens variable', async () => {
    profile('gl', { source: 'gitlab', variable: 'ANTHROPIC_ID_TOKEN' }, 'fdrl_sandbox');
    const env = { ...base, GITLAB_CI: 'true', CI_SERVER_URL: sandbox.issuerUrl, ANTHROPIC_ID_TOKEN: await sandbox.mint({ sub: 'repo:example/app:gitlab' }) };
    const { doc } = await endToEnd('gl', env, 'gitlab');
    expect(doc['mints_on_demand']).toBe(false);
    expect(doc['origin']).toBe('GitLab CI id_tokens ANTHROPIC_ID_TOKEN');
  });

  it('kubernetes: the projected token file', async () => {
    const path = join(h.home, 'k8s-token');
    writeFileSync(path, await sandbox.mint({ sub: 'system:serviceaccount:prod:app', claims: { 'kubernetes.io': { namespace: 'prod' } } }), { mode: 0o600 });
    profile('k8s', { source: 'kubernetes', path });
    const { doc } = await endToEnd('k8s', base, 'kubernetes');
    expect(doc['claims']['kubernetes.io']).toEqual({ namespace: 'prod' });
  });

  it('gcp: Metadata-Flavor: Google, raw JWT body, GCE_METADATA_HOST', async () => {
    const gcp = track(await gcpPeer((o) => sandbox.mint(o)));
    profile('gcp', { source: 'gcp' });
    const { doc } = await endToEnd('gcp', { ...base, GCE_METADATA_HOST: `127.0.0.1:${gcp.port}` }, 'gcp');
    expect(doc['claims']['email']).toBe('app@example.iam.gserviceaccount.com');
    expect(gcp.requests.every((r) => r.headers['metadata-flavor'] === 'Google')).toBe(true);
  });

  it('azure-imds: Metadata: true, access_token; the audience check uses the resource', async () => {
    const imds = track(await azureImdsPeer((o) => sandbox.mint(o)));
    profile('imds', { source: 'azure-imds', resource: ENTRA_AUDIENCE }, 'fdrl_entra');
    const { doc } = await endToEnd('imds', { ...base, AZURE_POD_IDENTITY_AUTHORITY_HOST: imds.url }, 'azure-imds');
    expect(doc['checks'].find((c: { name: string }) => c.name === 'audience')).toMatchObject({ status: 'ok' });
    expect(imds.requests.every((r) => r.headers['metadata'] === 'true')).toBe(true);
  });

  it('azure-app-service: X-IDENTITY-HEADER', async () => {
    const app = track(await appServicePeer((o) => sandbox.mint(o), 'app-service-header-secret'));
    profile('app', { source: 'azure-app-service', resource: ENTRA_AUDIENCE }, 'fdrl_entra');
    await endToEnd('app', { ...base, IDENTITY_ENDPOINT: app.endpoint, IDENTITY_HEADER: 'app-service-header-secret' }, 'azure-app-service');
    expect(app.requests.every((r) => r.headers['x-identity-header'] === 'app-service-header-secret')).toBe(true);
  });

  it('azure-workload-identity: the Entra client-credentials form', async () => {
    const tokenFile = join(h.home, 'azure-identity-token');
    const assertion = await sandbox.mint({ aud: 'api://AzureADTokenExchange', sub: 'system:serviceaccount:prod:app' });
    writeFileSync(tokenFile, assertion, { mode: 0o600 });
    const entra = track(await entraPeer((o) => sandbox.mint(o), { tenant: 'tenant-1', clientId: 'client-1', assertion: () => assertion }));
    profile('wi', { source: 'azure-workload-identity', resource: ENTRA_AUDIENCE }, 'fdrl_entra');
    const env = { ...base, AZURE_AUTHORITY_HOST: `${entra.url}/`, AZURE_TENANT_ID: 'tenant-1', AZURE_CLIENT_ID: 'client-1', AZURE_FEDERATED_TOKEN_FILE: tokenFile };
    await endToEnd('wi', env, 'azure-workload-identity');
    expect(new URLSearchParams(entra.requests.at(-1)!.body).get('scope')).toBe(`${ENTRA_AUDIENCE}/.default`);
  });

  it('aws: STS GetWebIdentityToken, SigV4-signed with the default credential chain, AWS_ENDPOINT_URL_STS', async () => {
    const creds = { accessKeyId: 'AKIDE2ETEST', secretAccessKey: 'e2e/secret/AccessKeyExample0000000000', sessionToken: 'e2e-session-token-0123456789' };
    const sts = track(await stsPeer((o) => sandbox.mint(o), creds, 'us-west-2'));
    profile('aws', { source: 'aws', region: 'us-west-2' });
    const env = {
      ...base,
      AWS_ACCESS_KEY_ID: creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
      AWS_SESSION_TOKEN: creds.sessionToken,
      AWS_ENDPOINT_URL_STS: sts.url,
      AWS_CONFIG_FILE: join(h.home, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: join(h.home, 'none'),
    };
    const { doc } = await endToEnd('aws', env, 'aws');
    expect(doc['claims']['sub']).toBe('arn:aws:iam::123456789012:role/app');
    expect(sts.verdicts.length).toBeGreaterThanOrEqual(2);
    expect(sts.verdicts.every((v) => v === undefined)).toBe(true);
  });

  it('spiffe: FetchJWTSVID on the agent socket (a grpc-js agent that demands workload.spiffe.io)', async () => {
    const agent = track(await spiffeAgent(join(h.home, 'spire'), (o) => sandbox.mint(o)));
    profile('spiffe', { source: 'spiffe' });
    const { doc } = await endToEnd('spiffe', { ...base, SPIFFE_ENDPOINT_SOCKET: agent.address }, 'spiffe');
    expect(doc['claims']['sub']).toBe('spiffe://example.org/ns/prod/sa/app');
    expect(agent.calls.every((c) => c.header === 'true')).toBe(true);
  });

  it('okta: private_key_jwt verified against the test key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyPath = join(h.home, 'okta.pem');
    writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    const okta = track(await oktaPeer((o) => sandbox.mint(o), publicKey, '0oa-e2e'));
    profile('okta', { source: 'okta', issuer: okta.issuer, client_id: '0oa-e2e', private_key_path: keyPath, scope: 'claude.federation' });
    await endToEnd('okta', base, 'okta');
    expect(okta.verdicts.every((v) => v === undefined)).toBe(true);
  });

  describe('programs', () => {
    let binDir: string;
    let logFile: string;
    beforeAll(async () => {
      binDir = join(h.home, 'bin');
      logFile = join(h.home, 'programs.log');
    });
    const tokenFileWith = async (name: string) => {
      const f = join(h.home, `${name}.jwt`);
      writeFileSync(f, await sandbox.mint({ sub: `repo:example/${name}` }));
      return f;
    };

    it('command: argv, audience in CLAUDE_WIF_AUDIENCE', async () => {
      const script = fakeCli(binDir, 'my-token-printer', await tokenFileWith('command'), logFile);
      profile('cmd', { source: 'command', command: [script, 'print'] });
      await endToEnd('cmd', base, 'command');
    });

    it('buildkite: buildkite-agent oidc request-token', async () => {
      fakeCli(binDir, 'buildkite-agent', await tokenFileWith('buildkite'), logFile);
      profile('bk', { source: 'buildkite' });
      await endToEnd('bk', { ...base, PATH: `${binDir}:${base['PATH']}` }, 'buildkite');
    });

    it('circleci: CIRCLE_OIDC_TOKEN_V2, and `circleci run oidc get` with an audience', async () => {
      profile('circle', { source: 'circleci' });
      await endToEnd('circle', { ...base, CIRCLECI: 'true', CIRCLE_OIDC_TOKEN_V2: await sandbox.mint({ sub: 'org/o/project/p/user/u' }) }, 'circleci');
      fakeCli(binDir, 'circleci', await tokenFileWith('circleci'), logFile);
      profile('circle-aud', { source: 'circleci', audience: 'https://api.anthropic.com' });
      const { doc } = await endToEnd('circle-aud', { ...base, PATH: `${binDir}:${base['PATH']}` }, 'circleci');
      expect(doc['origin']).toMatch(/circleci run oidc get/);
    });
  });

  it('terraform-cloud: TFC_WORKLOAD_IDENTITY_TOKEN', async () => {
    profile('tfc', { source: 'terraform-cloud' });
    await endToEnd('tfc', { ...base, TFC_WORKLOAD_IDENTITY_TOKEN: await sandbox.mint({ sub: 'organization:o:project:p:workspace:w:run_phase:apply' }) }, 'terraform-cloud');
  });

  it('env and file (the SDK-compatible sources)', async () => {
    profile('envsrc', { source: 'env', variable: 'MY_JWT' });
    await endToEnd('envsrc', { ...base, MY_JWT: await sandbox.mint({ sub: 'x' }) }, 'env');
    const f = join(h.home, 'plain.jwt');
    writeFileSync(f, await sandbox.mint({ sub: 'y' }), { mode: 0o600 });
    profile('filesrc', { source: 'file', path: f });
    await endToEnd('filesrc', base, 'file');
  });
});

describe('auto-detection end to end', () => {
  it('detects GitHub Actions from its variables and says why', async () => {
    const gh = track(await githubPeer((o) => sandbox.mint(o), 'auto-token-123456'));
    profile('auto-gh', undefined, 'fdrl_sandbox');
    const env = { ...base, ACTIONS_ID_TOKEN_REQUEST_URL: gh.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'auto-token-123456', SPIFFE_ENDPOINT_SOCKET: 'unix:///nonexistent.sock' };
    const { doc } = await endToEnd('auto-gh', env, 'github-actions');
    expect(doc['source_reason']).toMatch(/^auto-detected: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are set.*also present: SPIFFE \(spiffe\)/);
  });

  it('nothing found: exit 3, every check and fix listed, no network touched', async () => {
    profile('auto-none', undefined);
    const r = await runBin(['--profile', 'auto-none', 'token'], { ...base, CLAUDE_WIF_METADATA_PROBE: 'never' });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/no identity source was detected; checked, in order:/);
    expect(r.stderr).toMatch(/GitHub Actions: ACTIONS_ID_TOKEN_REQUEST_URL \+ ACTIONS_ID_TOKEN_REQUEST_TOKEN: not found \(fix: add `permissions: id-token: write` to the job\)/);
    expect(r.stderr).toMatch(/identity_unavailable, exit 3/);
  });

  it('the metadata probe finds a cloud when nothing local decides (GCE_METADATA_HOST)', async () => {
    const gcp = track(await gcpPeer((o) => sandbox.mint(o)));
    profile('auto-gcp', undefined);
    const { doc } = await endToEnd('auto-gcp', { ...base, GCE_METADATA_HOST: `127.0.0.1:${gcp.port}` }, 'gcp');
    expect(doc['source_reason']).toMatch(/metadata probe found gcp: answered/);
  });

  it('identity works before any federation configuration exists', async () => {
    const r = await runBin(['identity', '--json'], { ...cleanEnv(h.home, noCloud(deadPort)), ANTHROPIC_IDENTITY_TOKEN: await sandbox.mint({ lifetimeSeconds: 7200 }) });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.notes[0]).toMatch(/no federation configuration/);
    expect(doc.checks.find((c: { name: string }) => c.name === 'lifetime')).toMatchObject({ status: 'warn' });
    expect(doc.checks.find((c: { name: string }) => c.name === 'lifetime').message).toMatch(/7200 s exceeds max_jwt_lifetime_seconds 3600/);
  });
});

describe('identity output', () => {
  it('human output: source and why, claims, time left, checks, the rule to write; never the JWT', async () => {
    const jwt = await sandbox.mint({ aud: 'https://other.example', claims: { repository: 'example/app' } });
    const r = await runBin(['identity'], { ...cleanEnv(h.home, noCloud(deadPort)), ANTHROPIC_IDENTITY_TOKEN: jwt });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Source\s+env\s+\(configured by env ANTHROPIC_IDENTITY_TOKEN\)/m);
    expect(r.stdout).toMatch(/^Expires \(exp\)\s+\S+ \(in \d+m\)/m);
    expect(r.stdout).toMatch(/^ {2}repository\s+example\/app$/m);
    expect(r.stdout).toMatch(/! audience: aud is https:\/\/other.example, not https:\/\/api.anthropic.com/);
    expect(r.stdout).toMatch(/match.subject_prefix\s+repo:example\/app:ref:refs\/heads\/main/);
    expect(r.stdout).not.toContain(jwt.split('.')[2]);
    assertNoSecrets(r.stdout + r.stderr, [jwt]);
  });

  it('--raw prints exactly the JWT; --json --raw adds it as "jwt"', async () => {
    const jwt = await sandbox.mint();
    const env = { ...cleanEnv(h.home, noCloud(deadPort)), ANTHROPIC_IDENTITY_TOKEN: jwt };
    expect((await runBin(['identity', '--raw'], env)).stdout).toBe(`${jwt}\n`);
    expect(JSON.parse((await runBin(['identity', '--json', '--raw'], env)).stdout).jwt).toBe(jwt);
  });

  it('--audience / CLAUDE_WIF_AUDIENCE reach the source', async () => {
    const gh = track(await githubPeer((o) => sandbox.mint(o), 'aud-token-1234567'));
    const env = { ...cleanEnv(h.home, noCloud(deadPort)), ACTIONS_ID_TOKEN_REQUEST_URL: gh.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'aud-token-1234567' };
    const a = JSON.parse((await runBin(['identity', '--json', '--audience', 'https://flag.example'], env)).stdout);
    expect(a.claims.aud).toBe('https://flag.example');
    const b = JSON.parse((await runBin(['identity', '--json'], { ...env, CLAUDE_WIF_AUDIENCE: 'https://env.example' })).stdout);
    expect(b.claims.aud).toBe('https://env.example');
  });

  it('an expired JWT: the report is printed and the exit is 3', async () => {
    const jwt = await sandbox.mint({ iat: Math.floor(Date.now() / 1000) - 900, lifetimeSeconds: 300 });
    const r = await runBin(['identity', '--json'], { ...cleanEnv(h.home, noCloud(deadPort)), ANTHROPIC_IDENTITY_TOKEN: jwt });
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout).checks.find((c: { name: string }) => c.name === 'expiry')).toMatchObject({ status: 'fail' });
    expect(r.stderr).toMatch(/would refuse this JWT: expiry: expired/);
    assertNoSecrets(r.stderr, [jwt]);
  });
});

describe('failures name the source and the fix; no JWT on stderr', () => {
  it('unreachable identity endpoint: exit 5', async () => {
    profile('gh-down', { source: 'github-actions' }, 'fdrl_sandbox');
    const r = await runBin(['--profile', 'gh-down', 'token'], { ...base, ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${deadPort}/_apis/token?api-version=2.0`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'x-request-token' });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^claude-wif: error: github-actions: the GitHub Actions OIDC endpoint \(127\.0\.0\.1:\d+\) cannot be reached: ECONNREFUSED/m);
    expect(r.stderr).toMatch(/fix: /);
    expect(r.stderr).toMatch(/endpoint_unreachable, exit 5/);
  });

  it('source unavailable: exit 3', async () => {
    profile('spiffe-missing', { source: 'spiffe' });
    const r = await runBin(['--profile', 'spiffe-missing', 'identity'], base);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/spiffe: no Workload API socket/);
    expect(r.stderr).toMatch(/fix: check that the SPIRE agent/);
  });

  it('a platform that answers with something that is not a JWT: exit 3', async () => {
    const cli = fakeCli(join(h.home, 'bin2'), 'not-a-jwt', join(h.home, 'not-a-jwt.txt'), join(h.home, 'x.log'));
    writeFileSync(join(h.home, 'not-a-jwt.txt'), 'hello');
    profile('bad-cmd', { source: 'command', command: [cli] });
    const r = await runBin(['--profile', 'bad-cmd', 'token'], base);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/not a JWT/);
  });

  it('a JWT printed on a failing program’s stderr is redacted in our message', async () => {
    const jwt = await sandbox.mint();
    const cli = fakeCli(join(h.home, 'bin3'), 'leaky', join(h.home, 'unused'), join(h.home, 'y.log'), { exitCode: 1, stderr: `got ${jwt} but refusing\n` });
    profile('leaky', { source: 'command', command: [cli] });
    const r = await runBin(['--profile', 'leaky', 'token'], base);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/command: .*exited with status 1: got eyJ…\[redacted-jwt\] but refusing/);
    assertNoSecrets(r.stderr, [jwt]);
  });
});

describe('proxies', () => {
  it('an external https identity endpoint goes through HTTPS_PROXY (CONNECT tunnel, TLS verified end to end)', async () => {
    const cert = selfSignedCert(join(h.home, 'tls'), 'token.actions.test');
    if (!cert) return; // openssl not installed: nothing to test the tunnel's TLS with
    const gh = track(await githubPeer((o) => sandbox.mint(o), 'proxied-token-123456', { key: cert.key, cert: cert.cert }));
    const proxy = track(await connectProxy(() => gh.port, () => gh.port));
    profile('gh-proxy', { source: 'github-actions' }, 'fdrl_sandbox');
    const env = {
      ...base,
      // An unresolvable name: only the proxy (which maps it to the local peer) can reach it.
      ACTIONS_ID_TOKEN_REQUEST_URL: 'https://token.actions.test/_apis/token?api-version=2.0',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'proxied-token-123456',
      HTTPS_PROXY: proxy.url,
      NO_PROXY: 'localhost,127.0.0.1',
      NODE_EXTRA_CA_CERTS: cert.certPath,
    };
    await endToEnd('gh-proxy', env, 'github-actions');
    expect(proxy.connects).toContain('token.actions.test:443');
    // The exchange with the sandbox (loopback) never went through the proxy.
    expect(proxy.connects.every((c) => c === 'token.actions.test:443')).toBe(true);
  });

  it('an http endpoint goes through HTTP_PROXY in absolute form; metadata never does', async () => {
    const gh = track(await githubPeer((o) => sandbox.mint(o), 'http-proxied-123456'));
    const proxy = track(await connectProxy(() => gh.port, () => gh.port));
    const gcp = track(await gcpPeer((o) => sandbox.mint(o)));
    const env = {
      ...cleanEnv(h.home, noCloud(deadPort)),
      ACTIONS_ID_TOKEN_REQUEST_URL: 'http://pipelines.actions.test/_apis/token?api-version=2.0',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'http-proxied-123456',
      HTTP_PROXY: proxy.url,
    };
    const r = await runBin(['identity', '--json', '--identity-source', 'github-actions'], env);
    expect(r.code).toBe(0);
    expect(proxy.forwarded).toEqual(['http://pipelines.actions.test/_apis/token?api-version=2.0&audience=https%3A%2F%2Fapi.anthropic.com']);
    expect(gh.requests.at(-1)!.headers['host']).toBe('pipelines.actions.test');
    const m = await runBin(['identity', '--json', '--identity-source', 'gcp'], { ...env, GCE_METADATA_HOST: `127.0.0.1:${gcp.port}` });
    expect(m.code).toBe(0);
    expect(proxy.forwarded).toHaveLength(1);
  });
});
