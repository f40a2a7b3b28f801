// doctor reports the proxy route the HTTP client actually takes (issue 10 item 4): each case runs
// a real request from util/http.ts toward https://api.anthropic.com:<port>, with the name resolved
// to loopback inside this process only, and records whether a local proxy saw a CONNECT or the
// "direct" listener saw the connection; doctor's proxy check must name the same route and proxy.
import dns from 'node:dns';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkProxy } from '../../src/doctor/checks.js';
import { httpRequest } from '../../src/util/http.js';

const LOOPBACK_NAMES = new Set(['api.anthropic.com', 'proxy.corp', 'proxy-upper.corp', 'proxy-lower.corp', 'proxy-all.corp']);
const realLookup = dns.lookup;

type Seen = { kind: 'proxy'; port: number; authority: string } | { kind: 'direct' };
let seen: Seen[] = [];
const proxies: Server[] = [];
let direct: NetServer;
let directPort: number;

async function fakeProxy(): Promise<number> {
  const server = createHttpServer();
  server.on('connect', (req, socket) => {
    seen.push({ kind: 'proxy', port: (server.address() as AddressInfo).port, authority: req.url ?? '' });
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  });
  server.on('request', (_req, res) => res.writeHead(403).end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  proxies.push(server);
  return (server.address() as AddressInfo).port;
}

let plainProxy: number;
let upperProxy: number;
let lowerProxy: number;
let allProxy: number;

beforeAll(async () => {
  (dns as { lookup: unknown }).lookup = ((host: string, opts: unknown, cb?: unknown) => {
    const callback = (typeof opts === 'function' ? opts : cb) as (...args: unknown[]) => void;
    const options = (typeof opts === 'object' && opts !== null ? opts : {}) as { all?: boolean };
    if (!LOOPBACK_NAMES.has(host)) return (realLookup as (...a: unknown[]) => void)(host, opts, cb);
    process.nextTick(() => (options.all ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4)));
  }) as typeof dns.lookup;
  direct = createNetServer((socket) => {
    seen.push({ kind: 'direct' });
    socket.destroy();
  });
  await new Promise<void>((r) => direct.listen(0, '127.0.0.1', () => r()));
  directPort = (direct.address() as AddressInfo).port;
  [plainProxy, upperProxy, lowerProxy, allProxy] = [await fakeProxy(), await fakeProxy(), await fakeProxy(), await fakeProxy()];
});

afterAll(async () => {
  dns.lookup = realLookup;
  await Promise.all([direct, ...proxies].map((s) => new Promise((r) => s.close(r))));
});

/** Where the client's request went: exactly one observation, whatever the request's error. */
async function clientRoute(env: Record<string, string>): Promise<Seen> {
  seen = [];
  await httpRequest({ url: `https://api.anthropic.com:${directPort}/v1/oauth/token`, method: 'POST', body: '{}', timeoutMs: 10_000, proxyEnv: env }).then(
    () => undefined,
    () => undefined,
  );
  expect(seen).toHaveLength(1);
  return seen[0]!;
}

const CASES: Array<{ name: string; env: () => Record<string, string>; expected: () => Seen; proxyShown?: () => string }> = [
  {
    name: 'HTTPS_PROXY without a scheme (proxy.corp:<port>) is an http:// proxy',
    env: () => ({ HTTPS_PROXY: `proxy.corp:${plainProxy}` }),
    expected: () => ({ kind: 'proxy', port: plainProxy, authority: `api.anthropic.com:${directPort}` }),
    proxyShown: () => `http://proxy.corp:${plainProxy}`,
  },
  {
    name: 'ALL_PROXY alone is not followed',
    env: () => ({ ALL_PROXY: `http://proxy-all.corp:${allProxy}` }),
    expected: () => ({ kind: 'direct' }),
  },
  {
    name: 'NO_PROXY=anthropic.com covers api.anthropic.com',
    env: () => ({ HTTPS_PROXY: `http://proxy.corp:${plainProxy}`, NO_PROXY: 'anthropic.com' }),
    expected: () => ({ kind: 'direct' }),
  },
  {
    name: 'both HTTPS_PROXY and https_proxy: the lower-case one wins',
    env: () => ({ HTTPS_PROXY: `http://proxy-upper.corp:${upperProxy}`, https_proxy: `http://proxy-lower.corp:${lowerProxy}` }),
    expected: () => ({ kind: 'proxy', port: lowerProxy, authority: `api.anthropic.com:${directPort}` }),
    proxyShown: () => `http://proxy-lower.corp:${lowerProxy}`,
  },
];

describe('doctor and the HTTP client agree on the proxy route', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const env = c.env();
      const observed = await clientRoute(env);
      expect(observed).toEqual(c.expected());
      const report = checkProxy(env, `https://api.anthropic.com:${directPort}`);
      expect(report.status).not.toBe('fail');
      expect(report.data?.['route']).toBe(observed.kind);
      if (observed.kind === 'proxy') {
        expect(report.data?.['proxy']).toBe(c.proxyShown!());
        expect(report.detail).toContain(`api.anthropic.com goes through the proxy in ${report.data?.['variable']} (${c.proxyShown!()})`);
      } else {
        expect(report.detail).toContain('api.anthropic.com is reached directly');
      }
    });
  }

  it('doctor names what it ignores: ALL_PROXY, and HTTPS_PROXY when https_proxy differs', () => {
    const all = checkProxy({ ALL_PROXY: 'socks5://user:pw@proxy-all.corp:1080' }, 'https://api.anthropic.com');
    expect(all.status).toBe('warn');
    expect(all.detail).toContain('ALL_PROXY is ignored');
    expect(all.detail).not.toContain('pw');
    const both = checkProxy({ HTTPS_PROXY: 'http://a:1', https_proxy: 'http://b:2' }, 'https://api.anthropic.com');
    expect(both).toMatchObject({ status: 'warn', data: { variable: 'https_proxy', proxy: 'http://b:2' } });
    expect(both.detail).toContain('HTTPS_PROXY is ignored: https_proxy is also set and wins');
    const same = checkProxy({ HTTPS_PROXY: 'http://a:1', https_proxy: 'http://a:1' }, 'https://api.anthropic.com');
    expect(same.status).toBe('pass');
  });

  it('an unusable proxy value fails in doctor exactly where the client refuses to send', async () => {
    const env = { HTTPS_PROXY: 'socks5://proxy.corp:1080' };
    await expect(httpRequest({ url: 'https://api.anthropic.com/', timeoutMs: 1_000, proxyEnv: env })).rejects.toMatchObject({ errno: 'EPROXYURL' });
    expect(checkProxy(env, 'https://api.anthropic.com')).toMatchObject({ status: 'fail', code: 'config_invalid' });
  });
});
