import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordingProcess } from '../../src/cli/io.js';
import { runCli } from '../helpers/cli.js';
import { nodeChild, startWorld, waitUntil, type WifWorld } from './exec-helpers.js';

// Every mode of `exec` run in-process (run() with an injected IO and a recording process): the
// command touches no `process` of its own, so its signals, exit and death are observable here.

let w: WifWorld;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(async () => {
  await w?.stop();
});

/** The child reports what it holds to $EXEC_OUT: its environment, the sidecar file, one API call's status. */
const REPORT = `
import { readFileSync, writeFileSync } from 'node:fs';
const e = process.env;
let cred = null;
// A federation child's profile has no credentials file until it exchanges for itself.
try { cred = JSON.parse(readFileSync(e.ANTHROPIC_CONFIG_DIR + '/credentials/' + e.ANTHROPIC_PROFILE + '.json', 'utf8')); } catch {}
const bearer = cred ? cred.access_token : e.ANTHROPIC_AUTH_TOKEN;

let api = null;
if (bearer) {
  const r = await fetch((e.ANTHROPIC_BASE_URL || 'http://127.0.0.1:9') + '/v1/models', { headers: { authorization: 'Bearer ' + bearer, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'oauth-2025-04-20' } });
  api = r.status;
}
writeFileSync(e.EXEC_OUT, JSON.stringify({ env: e, cred, api }));
process.exit(Number(e.EXEC_CODE || 0));
`;

interface Report {
  env: Record<string, string>;
  cred: { access_token: string } | null;
  api: number | null;
}

async function execInProcess(mode: string, extra: Record<string, string> = {}) {
  const out = join(w.home.home, `report-${mode}-${Math.random().toString(36).slice(2)}.json`);
  const proc = recordingProcess();
  const r = await runCli(['exec', '--mode', mode, '--', ...nodeChild(REPORT)], { ...w.env, EXEC_OUT: out, ...extra }, { proc });
  const report = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as Report) : undefined;
  return { ...r, proc, report };
}

const issued = (): string[] => w.sandbox.exchanges.map((e) => (e.response as { access_token?: string } | undefined)?.access_token ?? '').filter(Boolean);

describe('exec in-process, each mode', () => {
  it('sidecar: a private profile whose file holds an issued token; the directory is gone afterwards; the exit is the child’s', async () => {
    const r = await execInProcess('sidecar', { EXEC_CODE: '7' });
    expect(r.code, r.stderr).toBe(7);
    expect(r.proc.exits).toEqual([7]);
    expect(r.proc.deaths).toEqual([]);
    expect(issued()).toContain(r.report!.cred!.access_token);
    expect(r.report!.api).toBe(200);
    expect(r.report!.env['ANTHROPIC_AUTH_TOKEN']).toBeUndefined();
    expect(existsSync(r.report!.env['ANTHROPIC_CONFIG_DIR']!)).toBe(false);
    // Every signal handler the forwarder installed is removed again.
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) expect(r.proc.listeners(s)).toBe(0);
  });

  it('token: the issued token itself in the environment', async () => {
    const r = await execInProcess('token');
    expect(r.code, r.stderr).toBe(0);
    expect(r.proc.exits).toEqual([0]);
    expect(issued()).toContain(r.report!.env['ANTHROPIC_AUTH_TOKEN']);
    expect(r.report!.env['ANTHROPIC_BASE_URL']).toBe(w.sandbox.url);
    expect(r.report!.api).toBe(200);
  });

  it('proxy: only a loopback URL and a session secret; calls go through; the proxy is closed afterwards', async () => {
    const r = await execInProcess('proxy');
    expect(r.code, r.stderr).toBe(0);
    const env = r.report!.env;
    expect(env['ANTHROPIC_AUTH_TOKEN']).toMatch(/^cwp_/);
    expect(Object.values(env).filter((v) => v.includes('sk-ant-'))).toEqual([]);
    expect(env['ANTHROPIC_BASE_URL']).not.toBe(w.sandbox.url);
    expect(r.report!.api).toBe(200);
    await expect(fetch(`${env['ANTHROPIC_BASE_URL']}/v1/models`)).rejects.toThrow();
  });

  it('federation: the child gets the federation variables and the platform file, no token', async () => {
    const before = issued().length;
    const r = await execInProcess('federation');
    expect(r.code, r.stderr).toBe(0);
    const env = r.report!.env;
    expect(env['ANTHROPIC_FEDERATION_RULE_ID']).toMatch(/^fdrl_/);
    expect(env['ANTHROPIC_IDENTITY_TOKEN_FILE']).toBe(join(w.home.home, 'identity', 'token.jwt'));
    expect(env['ANTHROPIC_AUTH_TOKEN']).toBeUndefined();
    expect(r.stderr).toContain('single-use jti');
    // The parent exchanged nothing for a platform file: the JWT is the child's.
    expect(issued().length).toBe(before);
    expect(existsSync(env['ANTHROPIC_CONFIG_DIR']!)).toBe(false);
  });
});

describe('exec in-process: signals come from the injected process', () => {
  const WAIT = (handle: boolean) => `
import { writeFileSync } from 'node:fs';
${handle ? "process.on('SIGTERM', () => { writeFileSync(process.env.EXEC_OUT + '.got', 'SIGTERM'); process.exit(3); });" : ''}
writeFileSync(process.env.EXEC_OUT, 'ready');
setInterval(() => {}, 1000);
`;

  for (const handle of [true, false]) {
    it(handle ? 'a SIGTERM delivered to the parent is forwarded; the child’s status is the exit status' : 'a child killed by the forwarded SIGTERM: the parent dies of the same signal (recorded), status 143', async () => {
      const out = join(w.home.home, `signal-${handle}.txt`);
      const proc = recordingProcess();
      const running = runCli(['exec', '--mode', 'token', '--', ...nodeChild(WAIT(handle))], { ...w.env, EXEC_OUT: out }, { proc });
      await waitUntil(() => existsSync(out), 'the child to start');
      expect(proc.listeners('SIGTERM')).toBe(1);
      proc.emit('SIGTERM');
      const r = await running;
      if (handle) {
        expect(r.code, r.stderr).toBe(3);
        expect(readFileSync(`${out}.got`, 'utf8')).toBe('SIGTERM');
        expect(proc.deaths).toEqual([]);
        expect(proc.exits).toEqual([3]);
      } else {
        expect(r.code, r.stderr).toBe(143);
        expect(proc.deaths).toEqual(['SIGTERM']);
        expect(proc.exits).toEqual([143]);
      }
      expect(proc.listeners('SIGTERM')).toBe(0);
    });
  }
});
