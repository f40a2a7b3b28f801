import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertNoSecrets } from '../helpers/cli.js';
import { connectProxy, selfSignedCert } from '../helpers/platforms.js';
import { spawnBin, startWorld, type Spawned, type WifWorld } from './exec-helpers.js';

// `claude-wif proxy`: the standalone proxy for processes started elsewhere.

let w: WifWorld;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(async () => {
  await w?.stop();
});

async function started(p: Spawned): Promise<Record<string, any>> {
  await p.waitFor(() => p.stdout().includes('\n') || p.child.exitCode !== null, 'the proxy to start');
  expect(p.child.exitCode, p.stderr()).toBeNull();
  return JSON.parse(p.stdout().split('\n')[0]!) as Record<string, any>;
}

const models = (url: string, secret: string) => fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${secret}`, 'anthropic-version': '2023-06-01' } });

describe('claude-wif proxy', () => {
  it('default: the secret goes to a 0600 file that is removed on SIGTERM; stdout is one JSON line', async () => {
    const p = spawnBin(['proxy', '--listen', '127.0.0.1:0'], w.env);
    const info = await started(p);
    expect(info).toMatchObject({ url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), socket: null, upstream: w.sandbox.url, profile: 'exec-test' });
    expect(info['secret']).toBeUndefined();
    const file = info['secret_file'] as string;
    expect(file.startsWith(join(w.home.cacheDir, 'proxy'))).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const secret = readFileSync(file, 'utf8').trim();
    expect((await models(info['url'], secret)).status).toBe(200);
    expect((await models(info['url'], 'cwp_wrong')).status).toBe(401);
    p.child.kill('SIGTERM');
    const r = await p.exited;
    expect(r).toEqual({ code: 0, signal: null });
    expect(existsSync(file)).toBe(false);
    expect(p.stdout().trim().split('\n')).toHaveLength(1);
    assertNoSecrets(p.stderr(), [...w.secrets(), secret]);
    expect(p.stderr()).not.toContain(secret);
  });

  it('--print-secret: the secret only in the startup JSON, no file; a unix socket listener too', async () => {
    const sock = join(w.home.home, 'p.sock');
    const p = spawnBin(['proxy', '--listen', '127.0.0.1:0', '--listen', `unix:${sock}`, '--print-secret'], w.env);
    const info = await started(p);
    expect(info['secret_file']).toBeNull();
    expect(info['socket']).toBe(sock);
    expect(info['secret']).toMatch(/^cwp_/);
    expect((await models(info['url'], info['secret'])).status).toBe(200);
    p.child.kill('SIGINT');
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(sock)).toBe(false);
    expect(p.stderr()).not.toContain(info['secret']);
  });

  it('usage errors: a non-loopback address, both secret options', async () => {
    for (const args of [['--listen', '0.0.0.0:0'], ['--secret-file', 'x', '--print-secret']]) {
      const p = spawnBin(['proxy', ...args], w.env);
      expect((await p.exited).code).toBe(2);
      expect(p.stderr()).toContain('usage_error');
    }
  });
});

describe('claude-wif proxy toward an https upstream behind HTTPS_PROXY', () => {
  it('reaches the API through a CONNECT tunnel (TLS verified end to end), keeping the tunnel alive', async () => {
    const cert = selfSignedCert(join(w.home.home, 'tls'), 'api.anthropic.test');
    if (!cert) return; // openssl not installed: nothing to test the tunnel's TLS with
    // "api.anthropic.test": TLS in front of the sandbox, reachable only through the egress proxy.
    const front = createHttpsServer({ key: cert.key, cert: cert.cert }, (req, res) => {
      const u = new URL(w.sandbox.url);
      const up = httpRequest({ hostname: u.hostname, port: u.port, method: req.method, path: req.url, headers: { ...req.headers, host: u.host } }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    const egress = await connectProxy(() => (front.address() as AddressInfo).port, () => 0);
    try {
      writeFileSync(join(w.home.configDir, 'configs', 'tls.json'), JSON.stringify({ ...w.sandbox.profile({ identityTokenPath: join(w.home.home, 'identity', 'token.jwt') }), base_url: 'https://api.anthropic.test' }));
      const env = { ...w.env, ANTHROPIC_PROFILE: 'tls', HTTPS_PROXY: egress.url, NO_PROXY: '127.0.0.1,localhost', NODE_EXTRA_CA_CERTS: cert.certPath };
      const p = spawnBin(['proxy', '--print-secret'], env);
      const info = await started(p);
      expect(info['upstream']).toBe('https://api.anthropic.test');
      for (let i = 0; i < 3; i++) expect((await models(info['url'], info['secret'])).status).toBe(200);
      p.child.kill('SIGTERM');
      expect((await p.exited).code).toBe(0);
      // The exchange and the API calls all went through the tunnel; API calls reused one tunnel.
      expect(egress.connects.every((c) => c === 'api.anthropic.test:443')).toBe(true);
      expect(egress.connects.length).toBeGreaterThanOrEqual(2);
      expect(egress.connects.length).toBeLessThanOrEqual(3);
    } finally {
      await egress.close();
      front.closeAllConnections();
      await new Promise((r) => front.close(r));
    }
  });
});
