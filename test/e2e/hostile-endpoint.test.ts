// Issue 15 items 8 and 10: values from a hostile or broken token endpoint, and a base_url carrying
// a password, through the built binary; and a proxy that must survive a token it cannot send.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessToken } from '../../src/core/credentials.js';
import { newProxySecret, startProxy } from '../../src/run/injecting-proxy.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';
import { runBin } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import { sandboxWithProfile, type SandboxSetup } from '../helpers/sandbox.js';

let h: TempHome;
let s: SandboxSetup;
let env: Record<string, string>;
let profiles = 0;

beforeAll(async () => {
  h = tempHome();
  s = await sandboxWithProfile(h.configDir);
  env = cleanEnv(h.home, { ANTHROPIC_CONFIG_DIR: h.configDir, NO_COLOR: '1' });
});
afterAll(async () => {
  await s.sandbox.close();
  h.cleanup();
});

/** A fresh profile (own cache file) and a fresh JWT, so each case exchanges on its own. */
async function freshProfile(extra: Record<string, unknown> = {}): Promise<string> {
  const name = `hostile-${++profiles}`;
  await s.rotate();
  s.writeProfile(name, extra);
  return name;
}

describe('a hostile token endpoint (issue 15 item 10)', () => {
  const bad: Array<[string, string]> = [
    ['an access_token with CR/LF in it', JSON.stringify({ access_token: 'sk-ant-oat01-abc\r\nX-Evil: 1', token_type: 'Bearer', expires_in: 3600 })],
    ['an access_token with a space', JSON.stringify({ access_token: 'sk-ant-oat01-abc def', token_type: 'Bearer', expires_in: 3600 })],
    ['an access_token of 5000 characters', JSON.stringify({ access_token: 'a'.repeat(5000), token_type: 'Bearer', expires_in: 3600 })],
    ['expires_in 0', JSON.stringify({ access_token: 'sk-ant-oat01-zero', token_type: 'Bearer', expires_in: 0 })],
    ['expires_in -30', JSON.stringify({ access_token: 'sk-ant-oat01-negative', token_type: 'Bearer', expires_in: -30 })],
  ];
  for (const [name, body] of bad) {
    it(`token refuses ${name} as invalid_response: nothing on stdout, nothing cached`, async () => {
      const profile = await freshProfile();
      s.sandbox.injectFault({ status: 200, body });
      const r = await runBin(['--profile', profile, 'token', '--format', 'json'], env);
      expect(r.code).toBe(5);
      expect(r.stdout).toContain('"code": "invalid_response"');
      expect(r.stdout).not.toMatch(/sk-ant-oat01-(abc|zero|negative)/);
      const again = await runBin(['--profile', profile, 'status', '--json'], env);
      expect(JSON.parse(again.stdout).cache.state).toBe('none');
    });
  }
});

describe('a running proxy and a token it cannot send (issue 15 item 10)', () => {
  it('a token with CR/LF fails that request with 502; the proxy keeps serving the next request', async () => {
    const upstream: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const good: AccessToken = { token: 'sk-ant-oat01-good', expiresAt: Math.floor(Date.now() / 1000) + 3600, fromCache: false, cachePath: '' };
    let current: AccessToken = { ...good, token: 'sk-ant-oat01-bad\r\nx-evil: 1' };
    const keeper = { current: () => current, fresh: async () => current, replace: async () => current };
    const secret = newProxySecret();
    const proxy = await startProxy({
      upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      secret,
      tokens: () => keeper,
      listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }],
      clock: systemClock,
      log: silentLogger,
    });
    try {
      const port = Number(new URL(proxy.url!).port);
      const get = () =>
        new Promise<number>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path: '/v1/models', headers: { authorization: `Bearer ${secret}` }, agent: false }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end();
        });
      expect(await get()).toBe(502);
      current = good;
      expect(await get()).toBe(200);
    } finally {
      await proxy.close(0);
      await new Promise((r) => upstream.close(r));
    }
  });
});

describe('base_url with a user name and password (issue 15 item 8)', () => {
  it('token, status, status --json and doctor refuse it and never print the password', async () => {
    const profile = await freshProfile({ base_url: `http://alice:hunter2secret@127.0.0.1:${new URL(s.sandbox.url).port}` });
    const before = s.sandbox.exchanges.length;
    for (const args of [['token'], ['status'], ['status', '--json'], ['doctor'], ['doctor', '--json']]) {
      const r = await runBin(['--profile', profile, ...args], env);
      expect(`${r.stdout}${r.stderr}`, args.join(' ')).not.toContain('hunter2secret');
      expect(`${r.stdout}${r.stderr}`, args.join(' ')).toMatch(/user name or password/);
      expect(r.code, args.join(' ')).not.toBe(0);
    }
    expect(s.sandbox.exchanges.length).toBe(before);
  });

  it('ANTHROPIC_BASE_URL with userinfo is refused the same way (exit 2, config_invalid)', async () => {
    const profile = await freshProfile({ base_url: undefined });
    const r = await runBin(['--profile', profile, 'token', '--format', 'json'], { ...env, ANTHROPIC_BASE_URL: 'https://bob:pa55word@api.example.com' });
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('config_invalid');
    expect(r.stdout + r.stderr).not.toContain('pa55word');
  });
});
