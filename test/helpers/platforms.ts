// Local peers that speak each platform's real identity wire protocol, for the identity-source
// tests. Every server listens on 127.0.0.1 with port 0 (or a unix socket in a temp dir); every JWT
// they hand out is minted by the sandbox issuer so the same token can then be exchanged.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequestFn, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { jwtVerify, type KeyObject } from 'jose';
import type { Sandbox } from '../../src/sandbox/server.js';
import { DEFAULT_ISSUER_ID, DEFAULT_SERVICE_ACCOUNT_ID } from '../../src/sandbox/config.js';

export interface Recorded {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface Peer {
  url: string;
  port: number;
  requests: Recorded[];
  close(): Promise<void>;
}

type Handler = (req: Recorded, res: ServerResponse) => void | Promise<void>;

function flatten(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k] = Array.isArray(v) ? v.join(', ') : (v ?? '');
  return out;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closer(server: Server): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
      server.close(() => resolve());
    });
}

/** A plain HTTP peer on 127.0.0.1:0 that records every request and answers with `handler`. */
export async function httpPeer(handler: Handler, tls?: { key: string; cert: string }): Promise<Peer> {
  const requests: Recorded[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec = { method: req.method ?? 'GET', url: req.url ?? '/', headers: flatten(req), body: Buffer.concat(chunks).toString('utf8') };
      requests.push(rec);
      Promise.resolve(handler(rec, res)).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
  };
  const server = tls ? createHttpsServer(tls, onRequest) : createHttpServer(onRequest);
  const port = await listen(server);
  return { url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, port, requests, close: closer(server) };
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export type Mint = Sandbox['mint'];

/** GitHub Actions' token service: GET <request URL>&audience=… with the bearer request token; `{"value": jwt}`. */
export async function githubPeer(mint: Mint, requestToken: string, tls?: { key: string; cert: string }): Promise<Peer & { requestUrl: string }> {
  const peer = await httpPeer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname !== '/_apis/token' || u.searchParams.get('api-version') !== '2.0') return json(res, 404, { message: 'not found' });
    if (req.headers['authorization'] !== `Bearer ${requestToken}`) return json(res, 401, { message: 'Unauthorized' });
    const aud = u.searchParams.get('audience') ?? 'https://github.com/example';
    json(res, 200, { count: 1, value: await mint({ aud, sub: 'repo:example/app:ref:refs/heads/main', claims: { repository: 'example/app', ref: 'refs/heads/main', workflow: 'ci' } }) });
  }, tls);
  return { ...peer, requestUrl: `${peer.url}/_apis/token?api-version=2.0` };
}

/** Google's metadata server: Metadata-Flavor: Google required; the body is the raw JWT. */
export async function gcpPeer(mint: Mint): Promise<Peer> {
  return httpPeer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    if (req.headers['metadata-flavor'] !== 'Google') {
      res.writeHead(403, { 'content-type': 'text/html' });
      return void res.end('Missing Metadata-Flavor:Google header.');
    }
    if (u.pathname === '/computeMetadata/v1/') {
      res.writeHead(200, { 'metadata-flavor': 'Google', 'content-type': 'application/text' });
      return void res.end('instance/\nproject/\n');
    }
    const m = /^\/computeMetadata\/v1\/instance\/service-accounts\/([^/]+)\/identity$/.exec(u.pathname);
    if (!m) return void res.writeHead(404, { 'metadata-flavor': 'Google' }).end('Not Found');
    if (m[1] !== 'default' && m[1] !== 'app@example.iam.gserviceaccount.com') return void res.writeHead(404, { 'metadata-flavor': 'Google' }).end('Not Found');
    const aud = u.searchParams.get('audience');
    if (!aud) return void res.writeHead(400, { 'metadata-flavor': 'Google' }).end('non-empty audience parameter required');
    const full = u.searchParams.get('format') === 'full';
    const jwt = await mint({ aud, sub: '112233445566778899000', claims: { azp: '112233445566778899000', ...(full ? { email: 'app@example.iam.gserviceaccount.com', email_verified: true } : {}) } });
    res.writeHead(200, { 'metadata-flavor': 'Google', 'content-type': 'text/html' });
    res.end(jwt);
  });
}

/** Azure IMDS: Metadata: true required; JSON with access_token (the audience is the resource). */
export async function azureImdsPeer(mint: Mint): Promise<Peer> {
  return httpPeer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    if (req.headers['metadata'] !== 'true') return json(res, 400, { error: 'bad_request', error_description: 'Required metadata header not specified' });
    if (u.pathname === '/metadata/instance') return json(res, 200, { compute: { azEnvironment: 'AzurePublicCloud', vmId: 'vm' } });
    if (u.pathname !== '/metadata/identity/oauth2/token' || u.searchParams.get('api-version') !== '2018-02-01') return json(res, 404, { error: 'not_found' });
    const resource = u.searchParams.get('resource');
    if (!resource) return json(res, 400, { error: 'invalid_request', error_description: 'Required audience parameter not specified' });
    const jwt = await mint({ aud: resource, sub: 'mi-object-id', lifetimeSeconds: 3600, claims: { oid: 'mi-object-id', tid: 'tenant', appid: u.searchParams.get('client_id') ?? 'system-assigned' } });
    json(res, 200, { access_token: jwt, expires_in: '3599', expires_on: String(Math.floor(Date.now() / 1000) + 3599), resource, token_type: 'Bearer' });
  });
}

/** App Service / Functions managed identity endpoint: X-IDENTITY-HEADER must equal IDENTITY_HEADER. */
export async function appServicePeer(mint: Mint, secret: string): Promise<Peer & { endpoint: string }> {
  const peer = await httpPeer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname !== '/msi/token') return json(res, 404, { error: 'not_found' });
    if (req.headers['x-identity-header'] !== secret) return json(res, 401, { error: 'unauthorized', message: 'X-IDENTITY-HEADER mismatch' });
    if (u.searchParams.get('api-version') !== '2019-08-01') return json(res, 400, { error: 'bad api-version' });
    const resource = u.searchParams.get('resource');
    if (!resource) return json(res, 400, { error: 'resource required' });
    const jwt = await mint({ aud: resource, sub: 'app-service-mi', lifetimeSeconds: 3600 });
    json(res, 200, { access_token: jwt, expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource, token_type: 'Bearer', client_id: 'cid' });
  });
  return { ...peer, endpoint: `${peer.url}/msi/token` };
}

/** Entra's v2 token endpoint for client credentials with a federated client assertion. */
export async function entraPeer(mint: Mint, expect: { tenant: string; clientId: string; assertion: () => string }): Promise<Peer> {
  return httpPeer(async (req, res) => {
    const m = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(new URL(req.url, 'http://x').pathname);
    if (req.method !== 'POST' || !m) return json(res, 404, { error: 'not_found' });
    if (!/^application\/x-www-form-urlencoded/.test(req.headers['content-type'] ?? '')) return json(res, 400, { error: 'invalid_request' });
    const form = new URLSearchParams(req.body);
    if (m[1] !== expect.tenant) return json(res, 400, { error: 'invalid_tenant', error_description: `AADSTS90002: Tenant '${m[1]}' not found.` });
    if (form.get('grant_type') !== 'client_credentials' || form.get('client_id') !== expect.clientId) return json(res, 400, { error: 'unauthorized_client' });
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' || form.get('client_assertion') !== expect.assertion()) {
      return json(res, 401, { error: 'invalid_client', error_description: 'AADSTS700211: No matching federated identity record found for presented assertion issuer.' });
    }
    const scope = form.get('scope') ?? '';
    if (!scope.endsWith('/.default')) return json(res, 400, { error: 'invalid_scope', error_description: 'AADSTS1002012: The provided value for scope is not valid.' });
    const jwt = await mint({ aud: scope.slice(0, -'/.default'.length), sub: 'workload-sp-object-id', lifetimeSeconds: 3600, claims: { azp: expect.clientId, tid: expect.tenant } });
    json(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: jwt });
  });
}

export interface AwsTestCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * Verifies an AWS SigV4 Authorization header independently of the SDK's signer (written from the
 * published algorithm): returns undefined when valid, else why not.
 */
export function verifySigV4(req: Recorded, creds: AwsTestCredentials, region: string, service: string): string | undefined {
  const auth = req.headers['authorization'] ?? '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return `no SigV4 Authorization header (got ${JSON.stringify(auth.slice(0, 40))})`;
  const [, akid, date, reg, svc, signedHeaders, signature] = m;
  if (akid !== creds.accessKeyId) return 'wrong access key id';
  if (reg !== region || svc !== service) return `wrong scope ${reg}/${svc}`;
  const amzDate = req.headers['x-amz-date'] ?? '';
  if (!amzDate.startsWith(date!)) return 'x-amz-date does not match the credential scope date';
  if (creds.sessionToken && req.headers['x-amz-security-token'] !== creds.sessionToken) return 'session token missing';
  const names = signedHeaders!.split(';');
  for (const required of ['host', 'x-amz-date']) if (!names.includes(required)) return `${required} is not signed`;
  const bodyHash = createHash('sha256').update(req.body).digest('hex');
  if (req.headers['x-amz-content-sha256'] && req.headers['x-amz-content-sha256'] !== bodyHash) return 'x-amz-content-sha256 does not match the body';
  const u = new URL(req.url, 'http://x');
  const query = [...u.searchParams.entries()]
    .map(([k, v]) => [encodeURIComponent(k), encodeURIComponent(v)])
    .sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonical = [
    req.method,
    u.pathname,
    query,
    names.map((n) => `${n}:${(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join(''),
    signedHeaders,
    bodyHash,
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${creds.secretAccessKey}`).update(date!).digest();
  for (const part of [region, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  const expected = createHmac('sha256', key).update(toSign).digest('hex');
  return timingSafeEqual(Buffer.from(expected), Buffer.from(signature!)) ? undefined : 'signature does not verify';
}

/** AWS STS (query API): GetWebIdentityToken, SigV4-verified with the test credentials; XML answers. */
export async function stsPeer(mint: Mint, creds: AwsTestCredentials, region: string, opts: { disabled?: boolean } = {}): Promise<Peer & { verdicts: Array<string | undefined> }> {
  const verdicts: Array<string | undefined> = [];
  const xmlError = (res: ServerResponse, status: number, code: string, message: string) => {
    res.writeHead(status, { 'content-type': 'text/xml' });
    res.end(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`);
  };
  const peer = await httpPeer(async (req, res) => {
    const verdict = verifySigV4(req, creds, region, 'sts');
    verdicts.push(verdict);
    if (verdict) return xmlError(res, 403, 'SignatureDoesNotMatch', verdict);
    const form = new URLSearchParams(req.body);
    if (form.get('Action') !== 'GetWebIdentityToken' || form.get('Version') !== '2011-06-15') return xmlError(res, 400, 'InvalidAction', 'Could not find operation');
    if (opts.disabled) return xmlError(res, 403, 'OutboundWebIdentityFederationDisabledException', 'Outbound web identity federation is disabled for this account');
    const aud = form.get('Audience.member.1');
    const alg = form.get('SigningAlgorithm');
    if (!aud || (alg !== 'RS256' && alg !== 'ES384')) return xmlError(res, 400, 'ValidationError', 'Audience and SigningAlgorithm are required');
    const duration = Number(form.get('DurationSeconds') ?? '300');
    const jwt = await mint({ aud, sub: 'arn:aws:iam::123456789012:role/app', lifetimeSeconds: duration, claims: { 'https://sts.amazonaws.com/': { aws_account: '123456789012' } } });
    res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': 'req-2' });
    res.end(`<GetWebIdentityTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetWebIdentityTokenResult>
    <WebIdentityToken>${jwt}</WebIdentityToken>
    <Expiration>${new Date(Date.now() + duration * 1000).toISOString()}</Expiration>
  </GetWebIdentityTokenResult>
  <ResponseMetadata><RequestId>req-2</RequestId></ResponseMetadata>
</GetWebIdentityTokenResponse>`);
  });
  return { ...peer, verdicts };
}

/** Okta's token endpoint of a custom authorization server, verifying the private_key_jwt against the test key. */
export async function oktaPeer(mint: Mint, publicKey: KeyObject, clientId: string): Promise<Peer & { issuer: string; verdicts: Array<string | undefined> }> {
  const verdicts: Array<string | undefined> = [];
  let issuer = '';
  const peer = await httpPeer(async (req, res) => {
    if (req.method !== 'POST' || new URL(req.url, 'http://x').pathname !== '/oauth2/default/v1/token') return json(res, 404, { errorCode: 'E0000022' });
    const form = new URLSearchParams(req.body);
    if (form.get('grant_type') !== 'client_credentials') return json(res, 400, { error: 'unsupported_grant_type' });
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return json(res, 401, { error: 'invalid_client', error_description: 'client_assertion_type is missing' });
    try {
      const { payload } = await jwtVerify(form.get('client_assertion') ?? '', publicKey, { issuer: clientId, subject: clientId, audience: `${issuer}/v1/token`, maxTokenAge: '10m' });
      if (!payload.jti) throw new Error('no jti');
      verdicts.push(undefined);
    } catch (err) {
      verdicts.push((err as Error).message);
      return json(res, 401, { error: 'invalid_client', error_description: 'The client_assertion signature is invalid.' });
    }
    if (form.get('scope') !== 'claude.federation') return json(res, 400, { error: 'invalid_scope', error_description: 'One or more scopes are not configured for the authorization server resource.' });
    const jwt = await mint({ aud: 'https://api.anthropic.com', sub: clientId, claims: { cid: clientId, scp: ['claude.federation'] } });
    json(res, 200, { token_type: 'Bearer', expires_in: 3600, access_token: jwt, scope: 'claude.federation' });
  });
  issuer = `${peer.url}/oauth2/default`;
  return { ...peer, issuer, verdicts };
}

/** The Workload API's protobuf, written for the test agent (independent of the client's hand-written codec). */
const WORKLOAD_PROTO = `syntax = "proto3";
message JWTSVID { string spiffe_id = 1; string svid = 2; string hint = 3; }
message JWTSVIDRequest { repeated string audience = 1; string spiffe_id = 2; }
message JWTSVIDResponse { repeated JWTSVID svids = 1; }
service SpiffeWorkloadAPI { rpc FetchJWTSVID(JWTSVIDRequest) returns (JWTSVIDResponse); }
`;

/** A SPIFFE Workload API agent built with @grpc/grpc-js that, like SPIRE, rejects calls without `workload.spiffe.io: true`. */
export async function spiffeAgent(dir: string, mint: Mint, spiffeId = 'spiffe://example.org/ns/prod/sa/app'): Promise<{ socket: string; address: string; calls: Array<{ audience: string[]; header: string | undefined }>; close(): Promise<void> }> {
  const grpc = await import('@grpc/grpc-js');
  const protoLoader = await import('@grpc/proto-loader');
  mkdirSync(dir, { recursive: true });
  const protoPath = join(dir, 'workload.proto');
  writeFileSync(protoPath, WORKLOAD_PROTO);
  const def = protoLoader.loadSync(protoPath, { keepCase: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { SpiffeWorkloadAPI: { service: import('@grpc/grpc-js').ServiceDefinition } };
  const calls: Array<{ audience: string[]; header: string | undefined }> = [];
  const server = new grpc.Server();
  server.addService(pkg.SpiffeWorkloadAPI.service, {
    FetchJWTSVID: (call: import('@grpc/grpc-js').ServerUnaryCall<{ audience: string[]; spiffe_id: string }, unknown>, cb: import('@grpc/grpc-js').sendUnaryData<unknown>) => {
      const header = call.metadata.get('workload.spiffe.io')[0]?.toString();
      calls.push({ audience: call.request.audience, header });
      if (header !== 'true') return cb({ code: grpc.status.INVALID_ARGUMENT, details: 'security header missing from request' });
      if (!call.request.audience.length) return cb({ code: grpc.status.INVALID_ARGUMENT, details: 'audience must be specified' });
      mint({ aud: call.request.audience, sub: spiffeId, jti: false })
        .then((svid) => cb(null, { svids: [{ spiffe_id: spiffeId, svid, hint: '' }] }))
        .catch((err: unknown) => cb({ code: grpc.status.INTERNAL, details: String(err) }));
    },
  });
  const socket = join(dir, 'agent.sock');
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  return {
    socket,
    address: `unix://${socket}`,
    calls,
    close: async () => server.forceShutdown(),
  };
}

/** An executable stand-in for a platform CLI: a node script that prints `tokenFile`'s contents and logs its argv/env. */
export function fakeCli(binDir: string, name: string, tokenFile: string, logFile: string, opts: { exitCode?: number; stderr?: string } = {}): string {
  mkdirSync(binDir, { recursive: true });
  const path = join(binDir, name);
  writeFileSync(
    path,
    `#!${process.execPath}
const fs = require('node:fs');
fs.appendFileSync(${JSON.stringify(logFile)}, JSON.stringify({ argv: process.argv.slice(2), audience: process.env.CLAUDE_WIF_AUDIENCE ?? null }) + '\\n');
${opts.stderr ? `process.stderr.write(${JSON.stringify(opts.stderr)});` : ''}
${opts.exitCode ? `process.exit(${opts.exitCode});` : `process.stdout.write(fs.readFileSync(${JSON.stringify(tokenFile)}, 'utf8').trim() + '\\n');`}
`,
  );
  chmodSync(path, 0o755);
  return path;
}

/** An HTTP proxy: CONNECT tunnels (always to 127.0.0.1:`tunnelTo`, whatever host is asked) and absolute-form requests. */
export async function connectProxy(tunnelTo: () => number, forwardTo: () => number): Promise<Peer & { connects: string[]; forwarded: string[] }> {
  const connects: string[] = [];
  const forwarded: string[] = [];
  const server = createHttpServer((req, res) => {
    // Absolute-form request for an http:// target: forward it to the local peer.
    forwarded.push(req.url ?? '');
    const u = new URL(req.url ?? '/');
    const upstream = httpRequestFn({ host: '127.0.0.1', port: forwardTo(), method: req.method, path: `${u.pathname}${u.search}`, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  const tunnels = new Set<import('node:net').Socket>();
  server.on('connect', (req: IncomingMessage, clientSocket: import('node:net').Socket, head: Buffer) => {
    connects.push(req.url ?? '');
    tunnels.add(clientSocket);
    clientSocket.on('close', () => tunnels.delete(clientSocket));
    const upstream = netConnect(tunnelTo(), '127.0.0.1', () => {
      clientSocket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(clientSocket);
      clientSocket.pipe(upstream);
    });
    upstream.on('error', () => clientSocket.destroy());
    clientSocket.on('error', () => upstream.destroy());
  });
  const port = await listen(server);
  const close = closer(server);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests: [],
    connects,
    forwarded,
    // CONNECT sockets are not the server's connections any more: end them by hand.
    close: async () => {
      for (const t of tunnels) t.destroy();
      await close();
    },
  };
}

/** A self-signed certificate for `hostname` (openssl), or undefined when openssl is not installed. */
export function selfSignedCert(dir: string, hostname: string): { key: string; cert: string; certPath: string } | undefined {
  mkdirSync(dir, { recursive: true });
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', `/CN=${hostname}`, '-addext', `subjectAltName=DNS:${hostname}`], { stdio: 'ignore' });
  if (r.status !== 0) return undefined;
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), certPath };
}

/** Sandbox rules the identity tests exchange against: the default GitHub-like rule, any subject, and an Entra audience. */
export const ENTRA_AUDIENCE = 'api://claude-wif-test';
export function identityRules() {
  const base = { issuer_id: DEFAULT_ISSUER_ID, service_account_id: DEFAULT_SERVICE_ACCOUNT_ID };
  return [
    { id: 'fdrl_sandbox', ...base, match: { subject_prefix: 'repo:example/*', audience: 'https://api.anthropic.com' } },
    { id: 'fdrl_any', ...base, match: { subject_prefix: '*', audience: 'https://api.anthropic.com' } },
    { id: 'fdrl_entra', ...base, match: { subject_prefix: '*', audience: ENTRA_AUDIENCE } },
  ];
}

/** Environment that keeps every metadata probe and AWS lookup on loopback: no test ever reaches a real metadata server. */
export function noCloud(closedPort: number): Record<string, string> {
  return {
    GCE_METADATA_HOST: `127.0.0.1:${closedPort}`,
    AZURE_POD_IDENTITY_AUTHORITY_HOST: `http://127.0.0.1:${closedPort}`,
    AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${closedPort}`,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

/** A port with nothing listening (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createHttpServer();
  const port = await listen(s);
  await closer(s)();
  return port;
}
