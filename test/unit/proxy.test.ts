import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AccessToken } from '../../src/core/credentials.js';
import { parseListen } from '../../src/run/listen.js';
import { isLoopbackPeer, newProxySecret, startProxy, type RunningProxy } from '../../src/run/injecting-proxy.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';
import { redact } from '../../src/util/redact.js';
import { fakeAnthropicToken } from '../helpers/fixtures.js';

// The proxy in-process against the sandbox (and small purpose-built upstreams): who is served,
// what is forwarded, streaming in both directions, and the one retry after an upstream 401.

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
  /** ms since the request started at which each body chunk arrived. */
  chunks: Array<{ at: number; text: string }>;
}

function call(
  target: { url?: string; socketPath?: string },
  opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string | string[]; gapMs?: number; localAddress?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const u = target.url ? new URL(target.url) : undefined;
    const req = request(
      {
        ...(u ? { hostname: u.hostname, port: u.port } : { socketPath: target.socketPath }),
        method: opts.method ?? 'GET',
        path: opts.path ?? '/v1/models',
        headers: { 'anthropic-version': '2023-06-01', ...opts.headers },
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
        agent: false,
      },
      (res) => {
        const chunks: Reply['chunks'] = [];
        res.setEncoding('utf8');
        res.on('data', (d: string) => chunks.push({ at: Date.now() - started, text: d }));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.map((c) => c.text).join(''), chunks }));
      },
    );
    req.on('error', reject);
    const parts = opts.body === undefined ? [] : Array.isArray(opts.body) ? opts.body : [opts.body];
    void (async () => {
      for (let i = 0; i < parts.length; i++) {
        if (i > 0 && opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
        req.write(parts[i]);
      }
      req.end();
    })();
  });
}

async function exchange(sandbox: Sandbox): Promise<AccessToken> {
  const res = await fetch(`${sandbox.url}/v1/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-beta': 'oauth-2025-04-20,oidc-federation-2026-04-01' },
    body: JSON.stringify({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: await sandbox.mint(),
      federation_rule_id: 'fdrl_sandbox',
      organization_id: sandbox.config.organization_id,
    }),
  });
  const doc = (await res.json()) as { access_token: string; expires_in: number };
  const now = Math.floor(Date.now() / 1000);
  return { token: doc.access_token, expiresAt: now + doc.expires_in, obtainedAt: now, fromCache: false, cachePath: '' };
}

/** A keeper that hands out one token, and `next` when asked to replace it. */
function fixedKeeper(token: AccessToken, next?: AccessToken) {
  let current = token;
  const calls = { replace: 0, fresh: 0 };
  return {
    calls,
    current: () => current,
    fresh: async () => {
      calls.fresh++;
      return current;
    },
    replace: async (stale: AccessToken) => {
      calls.replace++;
      if (next && stale.token === current.token) current = next;
      return current;
    },
  };
}

let sandbox: Sandbox;
let token: AccessToken;
const proxies: RunningProxy[] = [];
const servers: Server[] = [];
const secret = newProxySecret();

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, streamDelayMs: 120 });
  token = await exchange(sandbox);
});
afterAll(async () => {
  await sandbox.close();
});
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close(0)));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
});

async function proxyTo(upstream: string, keeper: ReturnType<typeof fixedKeeper>, extra: Partial<Parameters<typeof startProxy>[0]> = {}): Promise<RunningProxy> {
  const p = await startProxy({ upstream, secret, tokens: () => keeper, listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }], clock: systemClock, log: silentLogger, ...extra });
  proxies.push(p);
  return p;
}

/** An upstream that records requests (headers, body chunks with arrival times) and answers with `reply`. */
async function recordingUpstream(reply: (req: IncomingMessage, body: string) => { status: number; body: string }) {
  const seen: Array<{ headers: IncomingMessage['headers']; body: string; chunkTimes: number[] }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    const chunkTimes: number[] = [];
    req.on('data', (c: Buffer) => {
      chunks.push(c);
      chunkTimes.push(Date.now());
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ headers: req.headers, body, chunkTimes });
      const r = reply(req, body);
      res.writeHead(r.status, { 'content-type': 'application/json', 'request-id': `req_${seen.length}` });
      res.end(r.body);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('proxy: who is served', () => {
  it('serves a client that also sends some other x-api-key (a leftover ANTHROPIC_API_KEY): the secret decides, the key is stripped', async () => {
    const p = await proxyTo(sandbox.url, fixedKeeper(token));
    const before = sandbox.apiCalls.length;
    const r = await call({ url: p.url }, { headers: { authorization: `Bearer ${secret}`, 'x-api-key': 'sk-ant-api03-should-be-stripped' } });
    expect(r.status, r.body).toBe(200);
    expect(sandbox.apiCalls.slice(before).map((c) => [c.headers['x-api-key'], c.headers['authorization']?.slice(0, 20)])).toEqual([[undefined, 'Bearer sk-ant-oat01-']]);
  });

  it('accepts the secret as Bearer or as x-api-key, strips both, and sends only the federated token', async () => {
    const p = await proxyTo(sandbox.url, fixedKeeper(token));
    const before = sandbox.apiCalls.length;
    const viaBearer = await call({ url: p.url }, { headers: { authorization: `Bearer ${secret}`, 'anthropic-beta': 'tools-2024-05-16, files-api-2025-04-14' } });
    const viaKey = await call({ url: p.url }, { headers: { 'x-api-key': secret } });
    expect([viaBearer.status, viaKey.status]).toEqual([200, 200]);
    expect(viaBearer.headers['request-id']).toMatch(/^req_sandbox_/);
    const calls = sandbox.apiCalls.slice(before);
    expect(calls).toHaveLength(2);
    for (const c of calls) {
      expect(c.status).toBe(200);
      expect(c.headers['authorization']).toMatch(/^Bearer sk-ant-oat01-/);
      expect(token.token.startsWith(c.token_prefix!.replace(/…$/, ''))).toBe(true);
      expect(c.headers['x-api-key']).toBeUndefined();
    }
    expect(calls[0]!.headers['anthropic-beta']).toBe('tools-2024-05-16,files-api-2025-04-14,oauth-2025-04-20');
    expect(calls[1]!.headers['anthropic-beta']).toBe('oauth-2025-04-20');
    expect(p.stats).toMatchObject({ forwarded: 2, refused: 0 });
  });

  it('refuses (401, Anthropic-shaped JSON, nothing forwarded) a request without the secret or with a wrong one', async () => {
    const p = await proxyTo(sandbox.url, fixedKeeper(token));
    const before = sandbox.apiCalls.length;
    const none = await call({ url: p.url });
    const wrong = await call({ url: p.url }, { headers: { authorization: `Bearer ${secret.slice(0, -1)}x` } });
    const apiKey = await call({ url: p.url }, { headers: { 'x-api-key': 'sk-ant-api03-someone-elses-key' } });
    const token_ = await call({ url: p.url }, { headers: { authorization: `Bearer ${token.token}` } });
    for (const r of [none, wrong, apiKey, token_]) {
      expect(r.status).toBe(401);
      const body = JSON.parse(r.body) as { type: string; error: { type: string; message: string } };
      expect(body.type).toBe('error');
      expect(body.error.type).toBe('authentication_error');
      expect(body.error.message).toMatch(/^claude-wif proxy: /);
      expect(r.body).not.toContain(secret);
    }
    expect(JSON.parse(none.body).error.message).toContain('no credential');
    expect(JSON.parse(wrong.body).error.message).toContain("not this proxy's session secret");
    expect(sandbox.apiCalls.length).toBe(before);
    expect(p.stats.refused).toBe(4);
  });

  it('refuses a peer that is not exactly loopback (a connection from 127.0.0.2), even with the secret', async () => {
    const p = await proxyTo(sandbox.url, fixedKeeper(token));
    const before = sandbox.apiCalls.length;
    const r = await call({ url: p.url }, { headers: { authorization: `Bearer ${secret}` }, localAddress: '127.0.0.2' });
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body).error.message).toContain('connections from 127.0.0.2 are not accepted');
    expect(sandbox.apiCalls.length).toBe(before);
    expect(isLoopbackPeer('127.0.0.1')).toBe(true);
    expect(isLoopbackPeer('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopbackPeer('::1')).toBe(true);
    expect(isLoopbackPeer('10.0.0.5')).toBe(false);
    expect(isLoopbackPeer(undefined)).toBe(false);
  });

  it('refuses absolute-form targets (it is not a forward proxy) and never contacts another host', async () => {
    const p = await proxyTo(sandbox.url, fixedKeeper(token));
    const r = await call({ url: p.url }, { path: 'http://example.com/v1/models', headers: { authorization: `Bearer ${secret}` } });
    expect(r.status).toBe(400);
  });

  it('serves a unix socket created 0600, and removes it on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'claude-wif-proxy-'));
    try {
      const sock = join(dir, 'proxy.sock');
      const p = await proxyTo(sandbox.url, fixedKeeper(token), { listen: [{ kind: 'unix', path: sock }] });
      expect(p.url).toBeUndefined();
      expect(statSync(sock).mode & 0o777).toBe(0o600);
      const r = await call({ socketPath: sock }, { headers: { authorization: `Bearer ${secret}` } });
      expect(r.status).toBe(200);
      await p.close(0);
      expect(() => statSync(sock)).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers 502 with a clear body when the upstream is unreachable, and 503 while it has no token', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const p = await proxyTo(`http://127.0.0.1:${port}`, fixedKeeper(token));
    const r = await call({ url: p.url }, { headers: { authorization: `Bearer ${secret}` } });
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body).error.message).toMatch(/could not be reached \(ECONNREFUSED\)/);
    const empty = await startProxy({ upstream: sandbox.url, secret, tokens: () => undefined, listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }], clock: systemClock, log: silentLogger });
    proxies.push(empty);
    const r2 = await call({ url: empty.url }, { headers: { authorization: `Bearer ${secret}` } });
    expect(r2.status).toBe(503);
    expect(r2.headers['retry-after']).toBe('2');
  });

  it('refuses a non-https, non-loopback upstream', async () => {
    await expect(startProxy({ upstream: 'http://api.example.com', secret, tokens: () => undefined, listen: [], clock: systemClock, log: silentLogger })).rejects.toMatchObject({ code: 'insecure_endpoint' });
  });

  it('registers the secret with the redactor', () => {
    expect(redact(`oops ${secret} leaked`)).toBe('oops [redacted] leaked');
    expect(secret).toMatch(/^cwp_[A-Za-z0-9_-]{43}$/);
  });
});

describe('proxy: streaming', () => {
  it('relays an SSE response event by event, as the upstream sends them', async () => {
    const p = await proxyTo(sandbox.url, fixedKeeper(token));
    const r = await call(
      { url: p.url },
      {
        method: 'POST',
        path: '/v1/messages',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      },
    );
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/event-stream/);
    const deltas = r.chunks.filter((c) => c.text.includes('content_block_delta'));
    expect(deltas.length).toBeGreaterThanOrEqual(3);
    // The sandbox pauses 120 ms before each delta: they arrive spread out, not in one piece at the end.
    const first = r.chunks.find((c) => c.text.includes('message_start'))!;
    const last = r.chunks.find((c) => c.text.includes('message_stop'))!;
    expect(last.at - first.at).toBeGreaterThanOrEqual(3 * 100);
    for (let i = 1; i < deltas.length; i++) expect(deltas[i]!.at - deltas[i - 1]!.at).toBeGreaterThanOrEqual(80);
    expect(r.body).toContain('event: message_stop');
  });

  it('streams the request body: the first chunk reaches the upstream before the client sends the second', async () => {
    const up = await recordingUpstream(() => ({ status: 200, body: '{"ok":true}' }));
    const p = await proxyTo(up.url, fixedKeeper(token));
    const sentAt: number[] = [];
    const started = Date.now();
    const r = await call({ url: p.url }, { method: 'POST', path: '/v1/upload', headers: { authorization: `Bearer ${secret}`, 'transfer-encoding': 'chunked' }, body: ['first-part;', 'second-part'], gapMs: 400 });
    sentAt.push(started);
    expect(r.status).toBe(200);
    const seen = up.seen[0]!;
    expect(seen.body).toBe('first-part;second-part');
    expect(seen.chunkTimes.length).toBeGreaterThanOrEqual(2);
    expect(seen.chunkTimes[1]! - seen.chunkTimes[0]!).toBeGreaterThanOrEqual(300);
  });
});

describe('proxy: a kept-alive upstream connection closed as it is reused', () => {
  it('sends the request again on a new connection (the upstream never saw it), bodyless or with a kept body', async () => {
    let n = 0;
    const seen: string[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        n++;
        seen.push(`${req.method} ${Buffer.concat(chunks).toString()}`);
        // Every second request on a connection: the server drops the connection instead of answering.
        const count = ((req.socket as unknown as { count?: number }).count = ((req.socket as unknown as { count?: number }).count ?? 0) + 1);
        if (count === 2) return void req.socket.destroy();
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' });
        res.end('{}');
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const p = await proxyTo(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, fixedKeeper(token));
    const auth = { authorization: `Bearer ${secret}` };
    expect((await call({ url: p.url }, { headers: auth })).status).toBe(200);
    expect((await call({ url: p.url }, { headers: auth })).status).toBe(200); // dropped, then resent
    expect((await call({ url: p.url }, { method: 'POST', headers: auth, body: 'payload' })).status).toBe(200);
    expect((await call({ url: p.url }, { method: 'POST', headers: auth, body: 'payload2' })).status).toBe(200);
    // Each request that landed second on a connection was dropped and resent once on a new one.
    expect(seen).toEqual(['GET ', 'GET ', 'GET ', 'POST payload', 'POST payload', 'POST payload2', 'POST payload2']);
    expect(n).toBe(7);
  });
});

describe('proxy: upstream 401', () => {
  const stale: AccessToken = { token: fakeAnthropicToken('oat01', 'stale-token'), expiresAt: Math.floor(Date.now() / 1000) + 600, fromCache: false, cachePath: '' };
  const fresh: AccessToken = { token: fakeAnthropicToken('oat01', 'fresh-token'), expiresAt: Math.floor(Date.now() / 1000) + 600, fromCache: false, cachePath: '' };
  const byToken = (req: IncomingMessage) =>
    req.headers['authorization'] === `Bearer ${fresh.token}` ? { status: 200, body: '{"ok":true}' } : { status: 401, body: '{"type":"error","error":{"type":"authentication_error","message":"invalid x"}}' };

  it('retries once with a force-refreshed token when the body could be kept, sending the same body', async () => {
    const up = await recordingUpstream(byToken);
    const k = fixedKeeper(stale, fresh);
    const p = await proxyTo(up.url, k);
    const r = await call({ url: p.url }, { method: 'POST', path: '/v1/messages', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: '{"hello":"world"}' });
    expect(r.status).toBe(200);
    expect(k.calls.replace).toBe(1);
    expect(up.seen.map((s) => [s.headers['authorization'], s.body])).toEqual([
      [`Bearer ${stale.token}`, '{"hello":"world"}'],
      [`Bearer ${fresh.token}`, '{"hello":"world"}'],
    ]);
    expect(p.stats.retried).toBe(1);
  });

  it('passes the 401 through when the body was too large to keep, or when the retry is refused too', async () => {
    const up = await recordingUpstream(byToken);
    const k = fixedKeeper(stale, fresh);
    const p = await proxyTo(up.url, k, { replayLimit: 8 });
    const big = await call({ url: p.url }, { method: 'POST', path: '/v1/messages', headers: { authorization: `Bearer ${secret}` }, body: 'more than eight bytes' });
    expect(big.status).toBe(401);
    expect(JSON.parse(big.body).error.message).toBe('invalid x');
    expect(k.calls.replace).toBe(0);

    const always = await recordingUpstream(() => ({ status: 401, body: '{"type":"error","error":{"type":"authentication_error","message":"nope"}}' }));
    const k2 = fixedKeeper(stale, fresh);
    const p2 = await proxyTo(always.url, k2);
    const r = await call({ url: p2.url }, { method: 'POST', path: '/v1/messages', headers: { authorization: `Bearer ${secret}` }, body: '{}' });
    expect(r.status).toBe(401);
    expect(always.seen).toHaveLength(2); // one retry, never more
    expect(JSON.parse(r.body).error.message).toBe('nope');
  });
});

describe('listen addresses', () => {
  const parse = (v: string, loopbackOnly = true) => parseListen(v, { flag: '--listen', defaultHost: '127.0.0.1', loopbackOnly, cwd: '/tmp' });
  it('parses host:port, [v6]:port, :port, port, localhost, unix sockets', () => {
    expect(parse('127.0.0.1:8787')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 8787 });
    expect(parse('[::1]:0')).toEqual({ kind: 'tcp', host: '::1', port: 0 });
    expect(parse(':9')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 9 });
    expect(parse('9')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 9 });
    expect(parse('localhost:1')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 1 });
    expect(parse('unix:/run/x.sock')).toEqual({ kind: 'unix', path: '/run/x.sock' });
    expect(parse('unix:rel.sock')).toEqual({ kind: 'unix', path: '/tmp/rel.sock' });
    expect(parse('/abs.sock')).toEqual({ kind: 'unix', path: '/abs.sock' });
    expect(parse('0.0.0.0:8081', false)).toEqual({ kind: 'tcp', host: '0.0.0.0', port: 8081 });
  });
  it('refuses non-loopback addresses for the proxy and malformed values, as usage errors', () => {
    for (const bad of ['0.0.0.0:8787', '10.1.2.3:80', '[::]:80', 'example.com:80', '127.0.0.1:99999', '127.0.0.1:x', '::1:80', '']) {
      expect(() => parse(bad), bad).toThrow(expect.objectContaining({ code: 'usage_error' }));
    }
  });
});
