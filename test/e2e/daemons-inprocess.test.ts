import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordingProcess } from '../../src/cli/io.js';
import { runCli } from '../helpers/cli.js';
import { cleanEnv, tempHome } from '../helpers/env.js';
import { PROFILE, startWorld, waitUntil, type WifWorld } from './exec-helpers.js';

// The long-running commands (proxy, agent, sandbox) in-process: their stop signals, exit and
// on-exit hooks go through the injected process, so a test can deliver SIGTERM without a child.

let w: WifWorld;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(async () => {
  await w?.stop();
});

const parsed = (text: string): Record<string, any> | undefined => {
  try {
    return JSON.parse(text) as Record<string, any>;
  } catch {
    return undefined;
  }
};

/** Starts a command that prints one JSON document once it is up; resolves with it and the pending run. */
async function startDaemon(args: string[], env: Record<string, string>) {
  const proc = recordingProcess();
  let out = '';
  const running = runCli(args, env, { proc, stdout: (s) => (out += s) });
  let ended = false;
  void running.then(() => (ended = true));
  await waitUntil(() => parsed(out) !== undefined || ended, `${args[0]} to start`);
  if (ended) throw new Error(`${args[0]} ended early: ${(await running).stderr}`);
  return { proc, running, info: parsed(out)! };
}

describe('daemons in-process', () => {
  it('proxy: serves, writes its secret file, removes it and exits 0 on SIGTERM; a second signal exits at once', async () => {
    const { proc, running, info } = await startDaemon(['proxy'], w.env);
    expect(info['pid']).toBe(proc.pid);
    const secret = readFileSync(info['secret_file'], 'utf8').trim();
    const res = await fetch(`${info['url']}/v1/models`, { headers: { authorization: `Bearer ${secret}`, 'anthropic-version': '2023-06-01' } });
    expect(res.status).toBe(200);
    expect(proc.listeners('SIGTERM')).toBe(1);
    proc.emit('SIGTERM');
    proc.emit('SIGTERM');
    const r = await running;
    expect(r.stderr).toContain('SIGTERM again while shutting down: exiting now');
    expect(proc.exits[0]).toBe(143);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(info['secret_file'])).toBe(false);
    expect(proc.listeners('SIGTERM')).toBe(0);
    // The last-resort on-exit hook is registered with the injected process, not the test's own.
    proc.runExitHooks();
    expect(existsSync(info['secret_file'])).toBe(false);
  });

  it('agent: keeps the profile in its directory, stops on SIGINT with exit 0', async () => {
    const dir = join(w.home.home, 'agent-dir');
    const { proc, running, info } = await startDaemon(['agent', '--dir', dir], w.env);
    expect(info['profiles']).toEqual([PROFILE]);
    const cred = JSON.parse(readFileSync(join(dir, 'credentials', `${PROFILE}.json`), 'utf8')) as { access_token: string };
    expect(cred.access_token).toMatch(/^sk-ant-oat01-/);
    proc.emit('SIGINT');
    const r = await running;
    expect(r.code, r.stderr).toBe(0);
    expect(proc.listeners('SIGINT')).toBe(0);
  });

  it('sandbox: runs until SIGTERM, then stops', async () => {
    const h = tempHome();
    try {
      const { proc, running, info } = await startDaemon(['sandbox'], cleanEnv(h.home));
      expect(info['url']).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${info['url']}/oidc/.well-known/openid-configuration`)).status).toBe(200);
      proc.emit('SIGTERM');
      const r = await running;
      expect(r.code, r.stderr).toBe(0);
      await expect(fetch(`${info['url']}/oidc/.well-known/openid-configuration`)).rejects.toThrow();
    } finally {
      h.cleanup();
    }
  });
});
