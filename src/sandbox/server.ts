import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TOKEN_PATH } from '../protocol.js';
import { redact } from '../util/redact.js';
import { createApi, type ApiCallRecord } from './api.js';
import {
  DEFAULT_RULE_ID,
  effectiveIssuerUrl,
  effectiveWorkspaces,
  loadSandboxConfig,
  resolveSandboxConfig,
  type SandboxConfig,
} from './config.js';
import {
  BodyTooLargeError,
  errorBody,
  flattenHeaders,
  readBody,
  sendReply,
  tryParseJson,
  type ApiErrorType,
  type Reply,
} from './http.js';
import { createIssuer, parseMintOptions, type MintOptions } from './issuer.js';
import { createTokenEndpoint, type ExchangeRecord, type TokenStore } from './token-endpoint.js';
import { githubTokenService, GITHUB_TOKEN_PATH, type GithubTokenService } from './platforms.js';

export type { ApiCallRecord } from './api.js';
export type { SandboxConfig } from './config.js';
export type { MintOptions } from './issuer.js';
export type { DenialReason, ExchangeRecord } from './token-endpoint.js';
export { loadSandboxConfig };

export interface SandboxOptions {
  /** Default 0 (an ephemeral port). */
  port?: number;
  /** Default '127.0.0.1': the sandbox hands out tokens to anyone who asks, so it stays on loopback. */
  host?: string;
  /** Merged over the defaults (top-level keys replace). */
  config?: Partial<SandboxConfig>;
  /** ms since the epoch; default Date.now. Drives every time check and every minted JWT. */
  now?: () => number;
  /** Receives one redacted line per request (the `sandbox` command prints them). */
  log?: (line: string) => void;
  /** Pause between SSE deltas; default 10 ms. */
  streamDelayMs?: number;
}

export interface InjectedFault {
  status: number;
  /** Sent verbatim (HTML, truncated JSON…); default: a standard error body matching the status. */
  body?: string;
  headers?: Record<string, string>;
  /** Real time to wait before answering (to exercise client timeouts). */
  delayMs?: number;
  /** How many token requests answer this; default 1. */
  count?: number;
}

export interface Sandbox {
  /** `http://127.0.0.1:PORT`, the `base_url` for profiles. */
  url: string;
  /** `${url}/oidc`. */
  issuerUrl: string;
  /** Effective configuration, live: changes made here apply to the next request. */
  config: SandboxConfig;
  mint(opts?: MintOptions): Promise<string>;
  /** Every request to /v1/oauth/token that was answered, in order (with the hidden denial reason). */
  exchanges: ExchangeRecord[];
  /**
   * Every request to /v1/oauth/token as it arrived (body read), answered or not: a client that gave
   * up before the answer is counted here and not in `exchanges`. How often an assertion reached
   * the endpoint is read from here.
   */
  arrivals: Array<{ at: number; request_id: string; assertion?: string }>;
  /** Real time each token request waits after being processed (its jti consumed) before the answer; live. */
  answerDelayMs: number;
  /** Every /v1/* API request other than the token endpoint, in order. */
  apiCalls: ApiCallRecord[];
  /** The next `count` (default 1) token requests get this answer instead of the real one. */
  injectFault(f: InjectedFault): void;
  /** Drops every pending fault: the token endpoint answers normally again (an outage that ends). */
  clearFaults(): void;
  /** A stand-in for GitHub Actions' OIDC token service (the job's ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN). */
  github: GithubTokenService;
  /** A ready SDK profile (spec §4 format) for rule fdrl_sandbox (or `ruleId`). */
  profile(opts?: { identityTokenPath?: string; workspaceId?: string; ruleId?: string }): Record<string, unknown>;
  close(): Promise<void>;
}

const MAX_TOKEN_REQUEST_BYTES = 1024 * 1024;

function errorTypeFor(status: number): ApiErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 529) return 'overloaded_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const now = opts.now ?? Date.now;
  const host = opts.host ?? '127.0.0.1';
  // Validate before binding, so a bad configuration never leaves a listening socket behind.
  const config = resolveSandboxConfig(opts.config);
  const issuer = await createIssuer();
  const tokens: TokenStore = new Map();
  const exchanges: ExchangeRecord[] = [];
  const arrivals: Sandbox['arrivals'] = [];
  const apiCalls: ApiCallRecord[] = [];
  const faults: Array<Required<Pick<InjectedFault, 'status' | 'count'>> & InjectedFault> = [];
  const timers = new Map<NodeJS.Timeout, () => void>();
  let requestCounter = 0;
  let closed = false;

  const log = (line: string): void => {
    if (opts.log) opts.log(redact(line));
  };
  const delay = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (ms <= 0 || closed) return resolve();
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.set(timer, resolve);
    });

  const server = createServer((req, res) => {
    const requestId = `req_sandbox_${++requestCounter}`;
    handle(req, res, requestId).catch((err: unknown) => {
      log(`${req.method} ${req.url} failed: ${(err as Error).message}`);
      if (!res.headersSent) sendReply(res, { status: 500, body: errorBody('api_error', 'Internal sandbox error', requestId) }, requestId);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${urlHost(host)}:${port}`;
  const issuerUrl = `${url}/oidc`;
  // Issuers registered without a URL are the sandbox's own, which only now has an address.
  for (const i of config.issuers) i.issuer_url ??= issuerUrl;

  const endpoint = createTokenEndpoint({ config: () => sandbox.config, ownIssuerUrl: issuerUrl, issuer, now, tokens });
  const api = createApi({
    now,
    tokens,
    delay,
    streamDelayMs: opts.streamDelayMs ?? 10,
    record: (call) => {
      apiCalls.push(call);
      log(`${call.method} ${call.path} → ${call.status}${call.error ? ` (${call.error})` : ''} ${call.request_id}`);
    },
  });

  async function tokenRequest(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const at = now();
    const method = req.method ?? 'GET';
    const headers = flattenHeaders(req);
    let rawBody = '';
    let reply: Reply;
    let record: Omit<ExchangeRecord, 'at' | 'method' | 'request_id' | 'headers' | 'status' | 'response'>;
    try {
      rawBody = (await readBody(req, MAX_TOKEN_REQUEST_BYTES)).toString('utf8');
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      reply = { status: 413, body: errorBody('request_too_large', 'Request exceeds the maximum allowed number of bytes.', requestId) };
      sendReply(res, reply, requestId);
      exchanges.push({ at, method, request_id: requestId, headers, body: undefined, status: 413, response: reply.body });
      req.resume();
      return;
    }
    const parsedBody = tryParseJson(rawBody) as { assertion?: unknown } | undefined;
    arrivals.push({ at, request_id: requestId, ...(parsedBody && typeof parsedBody.assertion === 'string' ? { assertion: parsedBody.assertion } : {}) });
    const fault = faults[0];
    if (fault) {
      if (--fault.count <= 0) faults.shift();
      await delay(fault.delayMs ?? 0);
      reply = {
        status: fault.status,
        body: fault.body ?? errorBody(errorTypeFor(fault.status), `Injected fault (${fault.status})`, requestId),
        ...(fault.headers ? { headers: fault.headers } : {}),
      };
      record = { body: tryParseJson(rawBody) ?? (rawBody || undefined), reason: 'injected_fault' };
    } else {
      const outcome = await endpoint.handle({ method, headers, rawBody }, requestId);
      reply = outcome.reply;
      const { reply: _reply, ...rest } = outcome;
      record = rest;
      // A slow endpoint: the assertion is consumed now, the answer comes later.
      await delay(sandbox.answerDelayMs);
    }
    if (res.destroyed) return;
    sendReply(res, reply, requestId);
    const response = typeof reply.body === 'string' ? (tryParseJson(reply.body) ?? reply.body) : reply.body;
    exchanges.push({ at, method, request_id: requestId, headers, status: reply.status, response, ...record });
    log(`token exchange → ${reply.status}${record.reason ? ` (${record.reason}${record.detail ? `: ${record.detail}` : ''})` : ''} ${requestId}`);
  }

  async function control(req: IncomingMessage, res: ServerResponse, requestId: string, pathname: string): Promise<void> {
    const method = req.method ?? 'GET';
    const json = (status: number, body: unknown): void => sendReply(res, { status, body }, requestId, method);
    if (pathname === '/_sandbox/mint') {
      if (method !== 'POST') return json(405, errorBody('invalid_request_error', 'use POST', requestId));
      const raw = (await readBody(req, MAX_TOKEN_REQUEST_BYTES)).toString('utf8');
      let mintOpts: MintOptions;
      try {
        mintOpts = parseMintOptions(raw.trim() === '' ? undefined : tryParseJson(raw) ?? 'not json');
      } catch (err) {
        return json(400, errorBody('invalid_request_error', (err as Error).message, requestId));
      }
      return json(200, { token: await sandbox.mint(mintOpts) });
    }
    if (method !== 'GET' && method !== 'HEAD') return json(405, errorBody('invalid_request_error', 'use GET', requestId));
    if (pathname === '/_sandbox/exchanges') return json(200, { count: exchanges.length, exchanges });
    if (pathname === '/_sandbox/api-calls') return json(200, { count: apiCalls.length, api_calls: apiCalls });
    if (pathname === '/_sandbox/state') {
      const t = now();
      return json(200, {
        url,
        issuer_url: issuerUrl,
        organization_id: sandbox.config.organization_id,
        default_workspace_id: sandbox.config.default_workspace_id,
        issuers: sandbox.config.issuers.map((i) => ({ id: i.id, issuer_url: effectiveIssuerUrl(i, issuerUrl), check_jti: i.check_jti !== false })),
        rules: sandbox.config.rules.map((r) => ({ id: r.id, issuer_id: r.issuer_id, archived: r.archived === true, workspaces: effectiveWorkspaces(r, sandbox.config) })),
        exchanges: exchanges.length,
        arrivals: arrivals.length,
        api_calls: apiCalls.length,
        live_tokens: [...tokens.values()].filter((v) => t < v.expiresAt).length,
        remembered_jtis: endpoint.usedJtiCount(),
        pending_faults: faults.reduce((n, f) => n + f.count, 0),
        now: new Date(t).toISOString(),
      });
    }
    return json(404, errorBody('not_found_error', `Not found: ${pathname}`, requestId));
  }

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const { pathname } = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const method = req.method ?? 'GET';
    if (pathname === TOKEN_PATH) return tokenRequest(req, res, requestId);
    if (pathname === '/oidc/.well-known/openid-configuration' || pathname === '/oidc/.well-known/jwks.json') {
      if (method !== 'GET' && method !== 'HEAD') {
        return sendReply(res, { status: 405, body: errorBody('invalid_request_error', 'use GET', requestId) }, requestId, method);
      }
      const body = pathname.endsWith('jwks.json') ? issuer.jwks() : issuer.discovery(issuerUrl);
      // Real issuers let relying parties cache their keys; a short max-age keeps rotation tests honest.
      return sendReply(res, { status: 200, body, headers: { 'cache-control': 'public, max-age=60' } }, requestId, method);
    }
    if (pathname.startsWith('/_sandbox/')) return control(req, res, requestId, pathname);
    if (pathname === GITHUB_TOKEN_PATH) return sandbox.github.handle(req, res, requestId);
    if (api.owns(pathname)) return api.handle(req, res, requestId);
    sendReply(res, { status: 404, body: errorBody('not_found_error', `Not found: ${method} ${pathname}`, requestId) }, requestId, method);
  }

  const sandbox: Sandbox = {
    url,
    issuerUrl,
    config,
    exchanges,
    arrivals,
    answerDelayMs: 0,
    apiCalls,
    mint: (mintOpts = {}) => issuer.mint(mintOpts, issuerUrl, now()),
    github: githubTokenService(url, (o) => issuer.mint(o, issuerUrl, now())),
    injectFault(f) {
      if (!Number.isInteger(f.status) || f.status < 100 || f.status > 599) throw new Error(`injectFault: status must be an HTTP status code (got ${f.status})`);
      faults.push({ ...f, count: f.count ?? 1 });
    },
    clearFaults() {
      faults.length = 0;
    },
    profile(p = {}) {
      const rules = sandbox.config.rules;
      const rule = rules.find((r) => r.id === (p.ruleId ?? DEFAULT_RULE_ID)) ?? (p.ruleId ? undefined : rules.find((r) => !r.archived));
      if (!rule) throw new Error(`sandbox.profile: no federation rule ${p.ruleId ?? DEFAULT_RULE_ID}`);
      return {
        version: '1.0',
        organization_id: sandbox.config.organization_id,
        ...(p.workspaceId ? { workspace_id: p.workspaceId } : {}),
        base_url: url,
        authentication: {
          type: 'oidc_federation',
          federation_rule_id: rule.id,
          service_account_id: rule.service_account_id,
          ...(p.identityTokenPath ? { identity_token: { source: 'file', path: p.identityTokenPath } } : {}),
          scope: rule.oauth_scope ?? 'workspace:inference',
        },
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      // Release anything parked in a fault delay or between SSE deltas, then drop keep-alive sockets.
      for (const [timer, resolve] of timers) {
        clearTimeout(timer);
        resolve();
      }
      timers.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  log(`sandbox listening on ${url} (issuer ${issuerUrl})`);
  return sandbox;
}
