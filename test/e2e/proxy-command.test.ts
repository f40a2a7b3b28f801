import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertNoSecrets } from '../helpers/cli.js';
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
