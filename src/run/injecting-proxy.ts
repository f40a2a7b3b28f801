import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import {
  Agent as HttpAgent,
  createServer,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import type { Env } from '../config/paths.js';
import type { AccessToken } from '../core/credentials.js';
import { OAUTH_BETA } from '../protocol.js';
import type { Clock } from '../util/clock.js';
import { dirname, resolve as resolvePath } from 'node:path';
import { WifError } from '../util/errors.js';
import { requireTrustedDir } from '../util/trust.js';
import { isLocalHost, proxyFor } from '../util/proxy-policy.js';
import type { Logger } from '../util/log.js';
import { addSecret, redact } from '../util/redact.js';
import type { TokenKeeper } from './keeper.js';
import { describeListen, hostForUrl, type ListenAddress } from './listen.js';

/**
 * The credential-injecting reverse proxy (`exec --mode proxy`, `claude-wif proxy`, `agent --proxy`).
 *
 * The client holds only a random per-session secret and talks plain HTTP to 127.0.0.1; the proxy
 * swaps that secret for `Authorization: Bearer <federated token>` and forwards to the profile's
 * base URL. So the federated token never reaches the client, and the secret is worthless outside
 * this machine and this session (spec §1: no reusable Anthropic credential in the workload).
 *
 * Per request:
 * - only a loopback peer (exactly 127.0.0.1 or ::1; or any peer of the unix socket, which file
 *   permissions protect) that presents the secret — as `Authorization: Bearer`, which is what
 *   ANTHROPIC_AUTH_TOKEN / CLAUDE_CODE_OAUTH_TOKEN produce, or as `x-api-key`, which apiKeyHelper
 *   and ANTHROPIC_API_KEY produce — is served; anything else gets a 401 with an Anthropic-shaped
 *   error body and nothing is forwarded. The comparison is constant-time (digests of equal length);
 * - the secret, any `x-api-key` and hop-by-hop headers are stripped, the federated token set, and
 *   `oauth-2025-04-20` merged into `anthropic-beta` next to the client's own betas (spec §3);
 * - both bodies stream: request chunks are forwarded as they arrive, response chunks (SSE events)
 *   are written to the client as they arrive — nothing waits for a whole body;
 * - the first `replayLimit` bytes of the request body are kept, so a request refused upstream
 *   with 401 (a token revoked or expired early) is sent once more with a force-refreshed token;
 *   a bigger body cannot be replayed and the 401 is passed through.
 */

/** Not shaped like an Anthropic credential: a child's environment never holds an `sk-ant-` value. */
export const PROXY_SECRET_PREFIX = 'cwp_';
/** Request bodies up to this size are kept for a replay after an upstream 401. */
export const DEFAULT_REPLAY_LIMIT = 1024 * 1024;
/** A request is never sent with a token this close to expiry; the proxy waits for a fresh one. */
export const MIN_REQUEST_TTL_SECONDS = 5;
/** Idle upstream connections are dropped after this; a live stream is never cut. */
const UPSTREAM_IDLE_TIMEOUT_MS = 10 * 60_000;

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);
/** Request headers never forwarded: credentials (ours or the client's), the Host, and Expect (Node answers 100-continue itself). */
const REQUEST_DROP = new Set(['host', 'authorization', 'x-api-key', 'expect', 'content-length', 'anthropic-beta']);

/** A fresh 256-bit secret, registered with the redactor so it never appears in a log or an error. */
export function newProxySecret(): string {
  const secret = `${PROXY_SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
  addSecret(secret);
  return secret;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Exactly the loopback addresses: an alias such as 127.0.0.2 (another container's NAT, a test) is not "this host's client". */
export function isLoopbackPeer(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

export interface ProxyStats {
  forwarded: number;
  refused: number;
  retried: number;
  failed: number;
}

export interface ProxyOptions {
  /** The profile's base URL: https, or http on loopback (the sandbox). */
  upstream: string;
  secret: string;
  /** Where tokens come from; the proxy never exchanges by itself. `undefined` while an agent is still getting its first token. */
  tokens: () => Pick<TokenKeeper, 'current' | 'fresh' | 'replace'> | undefined;
  listen: ListenAddress[];
  clock: Clock;
  log: Pick<Logger, 'debug' | 'info' | 'warn'>;
  /** For HTTPS_PROXY / NO_PROXY toward an https upstream. */
  env?: Env;
  replayLimit?: number;
  /** Called with each response's status and the client's x-claude-code-agent-id (the metrics). */
  onResponse?: ((status: number, agentId: string | string[] | undefined) => void) | undefined;
  /** Test hook: which TCP peers count as local. */
  allowPeer?: (address: string | undefined) => boolean;
}

export interface RunningProxy {
  /** `http://127.0.0.1:<port>` of the first TCP listener (the child's ANTHROPIC_BASE_URL), if any. */
  url: string | undefined;
  /** Every bound address, resolved (port 0 → the real port). */
  addresses: ListenAddress[];
  stats: ProxyStats;
  /** Stops listening; open requests get `graceMs` to finish, then their connections are closed. */
  close(graceMs?: number): Promise<void>;
}

type Held = { status: number; message: string | undefined; headers: string[]; body: Buffer };

export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const upstream = new URL(opts.upstream);
  if (upstream.protocol !== 'https:' && !(upstream.protocol === 'http:' && isLocalHost(upstream.hostname))) {
    throw new WifError('insecure_endpoint', `refusing to forward credentials to ${upstream.origin}: the base URL must be https (http only on loopback)`);
  }
  const basePath = upstream.pathname.replace(/\/+$/, '');
  const secured = upstream.protocol === 'https:';
  const egress = secured && opts.env ? proxyFor(upstream, opts.env) : undefined;
  const agent = egress ? await tunnelAgent(upstream, egress) : secured ? new HttpsAgent({ keepAlive: true, scheduling: 'lifo' }) : new HttpAgent({ keepAlive: true, scheduling: 'lifo' });
  // Through a tunnel the socket is already TLS: plain node:http speaks HTTP/1.1 over it.
  const send = secured && !egress ? httpsRequest : httpRequest;
  const upstreamHost = upstream.host;
  const secretDigest = digest(opts.secret);
  const replayLimit = opts.replayLimit ?? DEFAULT_REPLAY_LIMIT;
  const allowPeer = opts.allowPeer ?? isLoopbackPeer;
  const stats: ProxyStats = { forwarded: 0, refused: 0, retried: 0, failed: 0 };
  const nowSec = () => opts.clock.now() / 1000;
  const debug = (opts.log as { level?: string }).level === 'debug';

  const presented = (req: IncomingMessage): string[] => {
    const out: string[] = [];
    const auth = req.headers['authorization'];
    if (typeof auth === 'string') {
      const m = /^\s*bearer\s+(\S+)\s*$/i.exec(auth);
      out.push(m ? m[1]! : auth);
    }
    const key = req.headers['x-api-key'];
    if (typeof key === 'string') out.push(key.trim());
    return out;
  };
  const holdsSecret = (values: string[]): boolean => {
    let ok = false;
    // Every presented value is compared (no early exit), each in constant time.
    for (const v of values) if (timingSafeEqual(digest(v), secretDigest)) ok = true;
    return ok;
  };

  const errorReply = (res: ServerResponse, status: number, type: string, message: string, extra: Record<string, string> = {}): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = JSON.stringify({ type: 'error', error: { type, message: redact(message) } });
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-claude-wif-proxy': 'refused', ...extra });
    res.end(body);
  };

  const refuse = (req: IncomingMessage, res: ServerResponse, why: string): void => {
    stats.refused++;
    opts.log.debug(`proxy: refused ${req.method} ${pathOf(req.url)} from ${req.socket.remoteAddress ?? 'the unix socket'}: ${why}`);
    // The body is not wanted: close the connection instead of reading it.
    errorReply(res, 401, 'authentication_error', `claude-wif proxy: ${why}`, { connection: 'close' });
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const observe = opts.onResponse;
    if (observe) res.once('finish', () => observe(res.statusCode, req.headers['x-claude-code-agent-id']));
    const tcp = req.socket.remoteAddress !== undefined;
    if (tcp && !allowPeer(req.socket.remoteAddress)) {
      return refuse(req, res, `connections from ${req.socket.remoteAddress} are not accepted; only loopback clients (127.0.0.1, ::1) may use this proxy`);
    }
    const values = presented(req);
    if (values.length === 0) {
      return refuse(req, res, 'no credential: send the per-session proxy secret (the ANTHROPIC_AUTH_TOKEN claude-wif gave this process) as the bearer token of the Authorization header, or as x-api-key');
    }
    if (!holdsSecret(values)) return refuse(req, res, 'the credential presented is not this proxy\'s session secret');
    const url = req.url ?? '/';
    if (!url.startsWith('/')) {
      stats.refused++;
      return errorReply(res, 400, 'invalid_request_error', 'claude-wif proxy: only origin-form request targets (/v1/…) are forwarded');
    }
    const keeper = opts.tokens();
    if (!keeper) return errorReply(res, 503, 'api_error', 'claude-wif proxy: no federated token yet (the first exchange has not succeeded)', { 'retry-after': '2' });
    let token = keeper.current();
    if (token.expiresAt !== null && token.expiresAt - nowSec() <= MIN_REQUEST_TTL_SECONDS) {
      // The background refresh has not delivered (it is retrying): wait for one shared fetch.
      keeper.fresh(MIN_REQUEST_TTL_SECONDS).then(
        (t) => forward(req, res, keeper, t),
        (err: unknown) => {
          if (token.expiresAt !== null && token.expiresAt > nowSec()) return forward(req, res, keeper, token);
          stats.failed++;
          errorReply(res, 503, 'api_error', `claude-wif proxy: no valid federated token: ${(err as Error).message}`, { 'retry-after': '5' });
        },
      );
      return;
    }
    forward(req, res, keeper, token);
  };

  function upstreamHeaders(req: IncomingMessage, token: AccessToken, bodyLength: number | undefined): string[] {
    const drop = new Set(HOP_BY_HOP);
    const conn = req.headers['connection'];
    if (typeof conn === 'string') for (const t of conn.split(',')) drop.add(t.trim().toLowerCase());
    const out: string[] = [];
    const betas: string[] = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      const lower = name.toLowerCase();
      if (lower === 'anthropic-beta') {
        for (const b of raw[i + 1]!.split(',')) if (b.trim() && !betas.includes(b.trim())) betas.push(b.trim());
        continue;
      }
      if (drop.has(lower) || REQUEST_DROP.has(lower)) continue;
      out.push(name, raw[i + 1]!);
    }
    if (!betas.includes(OAUTH_BETA)) betas.push(OAUTH_BETA);
    out.push('host', upstreamHost, 'authorization', `Bearer ${token.token}`, 'anthropic-beta', betas.join(','));
    if (bodyLength !== undefined) out.push('content-length', String(bodyLength));
    else if (req.headers['content-length'] !== undefined) out.push('content-length', req.headers['content-length']);
    return out;
  }

  function forward(req: IncomingMessage, res: ServerResponse, keeper: Pick<TokenKeeper, 'replace'>, token: AccessToken): void {
    const started = debug ? process.hrtime.bigint() : 0n;
    const path = `${basePath}${req.url}`;
    // No body at all (most GETs): the upstream request is complete as soon as it is sent.
    const bodyless = req.headers['transfer-encoding'] === undefined && (req.headers['content-length'] === undefined || req.headers['content-length'] === '0');
    // The first bytes of the body, for a replay after a 401.
    let kept: Buffer[] | undefined = [];
    let keptSize = 0;
    let complete = false;
    req.on('data', (c: Buffer) => {
      if (!kept) return;
      keptSize += c.length;
      if (keptSize > replayLimit) kept = undefined;
      else kept.push(c);
    });
    req.once('end', () => (complete = true));
    let current: ClientRequest | undefined;
    let done = false;
    res.once('close', () => {
      // The client went away mid-request or mid-stream: stop the upstream side too.
      if (!res.writableFinished) current?.destroy();
      done = true;
    });

    let staleRetried = false;
    /**
     * `first`: the client's body streams through. `after401` / `stale`: the kept body is replayed
     * (`body`; undefined for a bodyless request).
     */
    const attempt = (tok: AccessToken, body: Buffer | undefined, mode: 'first' | 'after401' | 'stale'): void => {
      const retried = mode === 'after401';
      const replay = mode !== 'first';
      let ureq: ClientRequest;
      try {
        ureq = send({
          protocol: secured && !egress ? 'https:' : 'http:',
          hostname: upstream.hostname.replace(/^\[|\]$/g, ''),
          port: upstream.port || (secured ? 443 : 80),
          method: req.method,
          path,
          headers: upstreamHeaders(req, tok, replay && !bodyless ? (body?.length ?? 0) : undefined),
          agent,
        });
      } catch (err) {
        // node:http throws synchronously on a header value it cannot send (ERR_INVALID_CHAR). The
        // exchange refuses such tokens, but nothing from outside may ever take the whole proxy
        // down: this request fails, every other client keeps working.
        stats.failed++;
        opts.log.warn(`proxy: ${req.method} ${pathOf(req.url)}: could not build the upstream request: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        return errorReply(res, 502, 'api_error', 'claude-wif proxy: the upstream request could not be built (an invalid header value)');
      }
      current = ureq;
      let answered = false;
      ureq.setTimeout(UPSTREAM_IDLE_TIMEOUT_MS, () => ureq.destroy(new Error('upstream idle timeout')));
      ureq.on('socket', (s: Socket) => s.setNoDelay(true));
      ureq.on('error', (err: NodeJS.ErrnoException) => {
        if (done && res.writableFinished) return;
        // A kept-alive connection the upstream closed just as it was reused: the request never
        // reached it, so sending it once more on a new connection is safe when the body allows.
        if (!answered && !staleRetried && ureq.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
          staleRetried = true;
          const again = (): void => {
            if (done) return;
            if (bodyless) return attempt(tok, undefined, 'stale');
            if (kept) return attempt(tok, Buffer.concat(kept), 'stale');
            fail();
          };
          if (complete || bodyless) again();
          else {
            req.once('end', again);
            req.once('close', () => !complete && fail());
          }
          return;
        }
        fail();
        function fail(): void {
          stats.failed++;
          opts.log.debug(`proxy: ${req.method} ${pathOf(req.url)}: upstream error ${err.code ?? err.message}`);
          errorReply(res, 502, 'api_error', `claude-wif proxy: the upstream ${upstream.origin} could not be reached (${err.code ?? err.message})`);
        }
      });
      ureq.on('response', (ures) => {
        answered = true;
        if (ures.statusCode === 401 && !retried) {
          holdBack(ures, tok);
          return;
        }
        relay(ures, retried);
      });
      if (replay) ureq.end(bodyless ? undefined : body);
      else if (bodyless) ureq.end();
      else req.pipe(ureq);
    };

    const relay = (ures: IncomingMessage, retried: boolean): void => {
      if (res.headersSent || done) {
        ures.resume();
        return;
      }
      stats.forwarded++;
      res.writeHead(ures.statusCode ?? 502, ures.statusMessage, responseHeaders(ures));
      // A stream (SSE, or any body of unknown length) gets its headers at once, so the client sees
      // it open before the first event; a body of known length goes out with its headers in one
      // write (one packet, one wake-up of the client instead of two).
      if (ures.headers['content-length'] === undefined) res.flushHeaders();
      ures.on('aborted', () => res.destroy());
      ures.on('error', () => res.destroy());
      ures.pipe(res);
      if (debug) {
        ures.once('end', () => {
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          opts.log.debug(`proxy: ${req.method} ${pathOf(req.url)} → ${ures.statusCode}${retried ? ' (after a token refresh)' : ''} in ${ms.toFixed(1)} ms`);
        });
      }
    };

    /** A 401 on the first try: keep it aside, and replay with a new token if the body allows. */
    const holdBack = (ures: IncomingMessage, tok: AccessToken): void => {
      req.unpipe(current!);
      req.resume(); // keep reading (and keeping) the rest of the body
      const chunks: Buffer[] = [];
      let size = 0;
      ures.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= 64 * 1024) chunks.push(c);
      });
      const held = new Promise<Held>((resolve) => ures.once('end', () => resolve({ status: 401, message: ures.statusMessage, headers: responseHeaders(ures), body: Buffer.concat(chunks) })));
      const bodyDone = complete ? Promise.resolve() : new Promise<void>((resolve) => {
        req.once('end', resolve);
        req.once('close', resolve);
      });
      const sendHeld = (h: Held): void => {
        if (done || res.headersSent) return;
        stats.forwarded++;
        const cleaned: string[] = [];
        for (let i = 0; i < h.headers.length; i += 2) if (h.headers[i]!.toLowerCase() !== 'content-length') cleaned.push(h.headers[i]!, h.headers[i + 1]!);
        cleaned.push('content-length', String(h.body.length));
        res.writeHead(h.status, h.message, cleaned);
        res.end(h.body);
      };
      const refused = current!;
      void Promise.all([held, bodyDone]).then(async ([h]) => {
        // The refused request may still be open (an early 401 during an upload): its socket is not reused.
        if (!refused.writableFinished) refused.destroy();
        if (done) return;
        if (!complete || !kept) {
          opts.log.debug(`proxy: ${req.method} ${pathOf(req.url)} → 401; the request body is too large to replay, passing the 401 on`);
          return sendHeld(h);
        }
        let next: AccessToken;
        try {
          next = await keeper.replace(tok);
        } catch (err) {
          opts.log.warn(`proxy: the API refused the token and a forced refresh failed: ${(err as Error).message}`);
          return sendHeld(h);
        }
        if (done) return;
        stats.retried++;
        opts.log.debug(`proxy: ${req.method} ${pathOf(req.url)} → 401; retrying once with a refreshed token`);
        attempt(next, Buffer.concat(kept), 'after401');
      });
    };

    attempt(token, undefined, 'first');
  }

  const servers: Server[] = [];
  const addresses: ListenAddress[] = [];
  try {
    for (const a of opts.listen) {
      const server = createServer({ noDelay: true }, handler);
      // Streams may last minutes: no request timeout. Idle keep-alive connections are kept longer
      // than clients keep theirs (Node's agents: 5 s), so a client rarely reuses a connection at the
      // moment the proxy closes it.
      server.requestTimeout = 0;
      server.keepAliveTimeout = 65_000;
      server.headersTimeout = 66_000;
      servers.push(server);
      addresses.push(await listenOn(server, a));
    }
  } catch (err) {
    await Promise.all(servers.map((s) => closeServer(s, 0)));
    throw err;
  }
  const firstTcp = addresses.find((a): a is Extract<ListenAddress, { kind: 'tcp' }> => a.kind === 'tcp');
  opts.log.debug(`proxy: listening on ${addresses.map(describeListen).join(', ')}, forwarding to ${upstream.origin}${basePath}${egress ? ` through ${egress.host}` : ''}`);
  let closed: Promise<void> | undefined;
  return {
    url: firstTcp ? `http://${hostForUrl(firstTcp.host)}:${firstTcp.port}` : undefined,
    addresses,
    stats,
    close(graceMs = 2_000) {
      closed ??= Promise.all(servers.map((s) => closeServer(s, graceMs))).then(() => {
        agent.destroy();
        for (const a of addresses) if (a.kind === 'unix') removeSocket(a.path);
      });
      return closed;
    },
  };
}

/** Only the path (no query: it might carry something private) for diagnostics. */
const pathOf = (url: string | undefined): string => (url ?? '/').split('?')[0]!.slice(0, 200);

function responseHeaders(ures: IncomingMessage): string[] {
  const drop = new Set(HOP_BY_HOP);
  const conn = ures.headers['connection'];
  if (typeof conn === 'string') for (const t of conn.split(',')) drop.add(t.trim().toLowerCase());
  const out: string[] = [];
  const raw = ures.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (!drop.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  return out;
}

/** An agent whose connections are CONNECT tunnels through HTTPS_PROXY, kept alive like any other. */
async function tunnelAgent(upstream: URL, egress: URL): Promise<HttpAgent> {
  const { openTunnel, proxyAuthorization } = await import('../util/http-via-proxy.js');
  const auth = proxyAuthorization(egress);
  class TunnelAgent extends HttpAgent {
    override createConnection(_options: unknown, cb?: (err: Error | null, stream: Socket) => void): undefined {
      openTunnel(upstream, egress, auth, 30_000).then(
        (s) => cb?.(null, s),
        (err: Error) => cb?.(err, undefined as unknown as Socket),
      );
      return undefined;
    }
  }
  return new TunnelAgent({ keepAlive: true, scheduling: 'lifo' });
}

async function listenOn(server: Server, a: ListenAddress): Promise<ListenAddress> {
  if (a.kind === 'unix') {
    // Whoever owns or can write the socket's directory can swap the socket, capture the session
    // secret from a client and replay it on the TCP port (issue 15 item 2): such directories are
    // refused, sticky or not (the sticky bit does not stop them planting one before we bind).
    try {
      requireTrustedDir(dirname(resolvePath(a.path)), 'the directory of unix socket');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // listen reports the missing directory
    }
    await clearStaleSocket(a.path);
  }
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        new WifError('usage_error', `cannot listen on ${describeListen(a)}: ${err.code ?? err.message}`, {
          hint: err.code === 'EADDRINUSE' ? 'another process uses that address; pick another port (0 = any free port)' : 'check the address and the permissions of its directory',
        }),
      );
    };
    server.once('error', onError);
    const done = (): void => {
      server.off('error', onError);
      resolve();
    };
    if (a.kind === 'unix') {
      // Created 0600 from the start (no window where another user could connect): umask around the bind.
      const old = process.umask(0o177);
      try {
        server.listen(a.path, done);
      } finally {
        process.umask(old);
      }
    } else server.listen(a.port, a.host, done);
  });
  if (a.kind === 'unix') {
    try {
      chmodSync(a.path, 0o600);
    } catch {
      /* best effort: the umask already made it 0600 */
    }
    return a;
  }
  return { kind: 'tcp', host: a.host, port: (server.address() as AddressInfo).port };
}

/** A socket file left by a dead process is removed; one that still answers is in use. */
async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) {
    throw new WifError('usage_error', `cannot listen on unix:${path}: a file that is not a socket is in the way`, { hint: 'choose another path' });
  }
  const alive = await new Promise<boolean>((resolve) => {
    const s = netConnect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new WifError('usage_error', `cannot listen on unix:${path}: another process is listening there`, { hint: 'stop it or choose another path' });
  removeSocket(path);
}

function removeSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    /* gone */
  }
}

function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!server.listening) return resolve();
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/**
 * What a child of `exec --mode proxy` gets: the session secret as its only credential, where
 * every client looks for a bearer token. SDK apps and curl read ANTHROPIC_AUTH_TOKEN; Claude Code
 * also gets CLAUDE_CODE_OAUTH_TOKEN (the beta header it would add is merged by the proxy anyway).
 * Everything that could outrank it is removed; the base URL is set by the caller.
 */
export function proxyClientEnv(secret: string, target: 'sdk' | 'claude-code', socketPath: string | undefined): Array<{ name: string; value: string | null }> {
  return [
    { name: 'ANTHROPIC_AUTH_TOKEN', value: secret },
    { name: 'CLAUDE_CODE_OAUTH_TOKEN', value: target === 'claude-code' ? secret : null },
    { name: 'ANTHROPIC_API_KEY', value: null },
    { name: 'CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR', value: null },
    { name: 'CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR', value: null },
    { name: PROXY_SOCKET_VAR, value: socketPath ?? null },
  ];
}

/** The proxy's unix socket, for clients that can use one (`curl --unix-socket "$CLAUDE_WIF_PROXY_SOCKET"`). */
export const PROXY_SOCKET_VAR = 'CLAUDE_WIF_PROXY_SOCKET';
