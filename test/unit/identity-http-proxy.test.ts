import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, HttpTransportError } from '../../src/util/http.js';
import { isLocalHost, proxyFor } from '../../src/util/proxy-policy.js';
import { connectProxy, httpPeer, json, type Peer } from '../helpers/platforms.js';

const u = (s: string) => new URL(s);

describe('proxy policy', () => {
  it('HTTPS_PROXY for https, HTTP_PROXY for http; lower case first; a bare host:port is http://', () => {
    expect(proxyFor(u('https://login.example.com/x'), { HTTPS_PROXY: 'http://proxy:3128' })?.href).toBe('http://proxy:3128/');
    expect(proxyFor(u('https://login.example.com/x'), { HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:2' })?.host).toBe('lower:2');
    expect(proxyFor(u('http://plain.example.com/x'), { HTTPS_PROXY: 'http://p:1' })).toBeUndefined();
    expect(proxyFor(u('http://plain.example.com/x'), { HTTP_PROXY: 'p:8080' })?.href).toBe('http://p:8080/');
    expect(proxyFor(u('https://x.example.com'), {})).toBeUndefined();
  });

  it('never for loopback, link-local or metadata hosts', () => {
    const env = { HTTPS_PROXY: 'http://p:1', HTTP_PROXY: 'http://p:1' };
    for (const url of ['http://127.0.0.1:8080/', 'http://localhost/', 'http://[::1]:1/', 'http://169.254.169.254/metadata', 'http://metadata.google.internal/computeMetadata/v1/', 'http://[fd00:ec2::254]/', 'http://[fe80::1]/']) {
      expect(proxyFor(u(url), env)).toBeUndefined();
    }
    expect(isLocalHost('api.anthropic.com')).toBe(false);
    expect(isLocalHost('169.254.170.2')).toBe(true);
  });

  it('NO_PROXY: *, exact hosts, domain suffixes (with or without a leading dot or *.), host:port', () => {
    const p = (url: string, no: string) => proxyFor(u(url), { HTTPS_PROXY: 'http://p:1', NO_PROXY: no });
    expect(p('https://a.example.com', '*')).toBeUndefined();
    expect(p('https://example.com', 'example.com')).toBeUndefined();
    expect(p('https://a.example.com', 'example.com')).toBeUndefined();
    expect(p('https://a.example.com', '.example.com')).toBeUndefined();
    expect(p('https://a.example.com', '*.example.com')).toBeUndefined();
    expect(p('https://notexample.com', 'example.com')).toBeDefined();
    expect(p('https://a.example.com', 'a.example.com:8443')).toBeDefined();
    expect(p('https://a.example.com:8443', 'a.example.com:8443')).toBeUndefined();
    expect(p('https://10.1.2.3', 'foo, 10.1.2.3')).toBeUndefined();
    expect(proxyFor(u('https://a.example.com'), { HTTPS_PROXY: 'http://p:1', no_proxy: 'example.com', NO_PROXY: 'other' })).toBeUndefined();
  });

  it('refuses proxy schemes it cannot speak', () => {
    expect(() => proxyFor(u('https://a.example.com'), { HTTPS_PROXY: 'socks5://p:1080' })).toThrow(HttpTransportError);
  });
});

describe('requests through a proxy', () => {
  let target: Peer;
  let proxy: Awaited<ReturnType<typeof connectProxy>>;
  let refusing: Server;
  let refusingPort: number;
  beforeAll(async () => {
    target = await httpPeer((req, res) => json(res, 200, { host: req.headers['host'], url: req.url }));
    proxy = await connectProxy(() => target.port, () => target.port);
    refusing = createServer();
    refusing.on('connect', (_req, socket) => socket.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n'));
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', () => r()));
    refusingPort = (refusing.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await proxy.close();
    await target.close();
    await new Promise<void>((r) => refusing.close(() => r()));
  });

  it('http targets: the absolute URI to the proxy, Host kept', async () => {
    const res = await httpRequest({ url: 'http://service.example.test/v1/x?y=1', timeoutMs: 2_000, proxyEnv: { HTTP_PROXY: proxy.url } });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toEqual({ host: 'service.example.test', url: '/v1/x?y=1' });
    expect(proxy.forwarded.at(-1)).toBe('http://service.example.test/v1/x?y=1');
  });

  it('a proxy that refuses the tunnel is a transport error naming the proxy (never its credentials)', async () => {
    const err = await httpRequest({ url: 'https://service.example.test/', timeoutMs: 2_000, proxyEnv: { HTTPS_PROXY: `http://user:s3cret-pass@127.0.0.1:${refusingPort}` } }).then(() => undefined, (e: unknown) => e as HttpTransportError);
    expect(err).toBeInstanceOf(HttpTransportError);
    if (!err) return;
    expect(err.message).toMatch(/refused to open a tunnel to service.example.test .*407/);
    expect(err.message).not.toContain('s3cret-pass');
    expect(err.sent).toBe(false);
  });

  it('an unreachable proxy is a transport error, not a hang', async () => {
    const err = await httpRequest({ url: 'https://service.example.test/', timeoutMs: 2_000, proxyEnv: { HTTPS_PROXY: 'http://127.0.0.1:1' } }).then(() => undefined, (e: unknown) => e as HttpTransportError);
    expect(err).toBeInstanceOf(HttpTransportError);
    expect(err?.message).toMatch(/cannot reach proxy 127\.0\.0\.1:1/);
  });
});
