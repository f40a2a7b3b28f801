import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT } from '../helpers/cli.js';
import { FIXTURES, spawnBin, startWorld, waitUntil, type WifWorld } from './exec-helpers.js';

// Signals to the claude-wif parent reach the child; the parent ends the way the child did; the
// private directory is removed on every path. Parents are started in their own session (no
// controlling terminal, as in CI or a pod), except in the pseudo-terminal test, which checks that
// a ^C the terminal already delivered to the whole foreground group is not delivered twice.

let w: WifWorld;
beforeAll(async () => {
  w = await startWorld();
});
afterAll(async () => {
  await w?.stop();
});

const CHILD = ['--', process.execPath, join(FIXTURES, 'signal-child.mjs')];

async function startChild(env: Record<string, string> = {}) {
  const run = spawnBin(['exec', ...CHILD], { ...w.env, ...env });
  await run.waitFor(() => /^ready \d+ \S+$/m.test(run.stdout()), 'the child to be ready');
  const [, pid, dir] = /^ready (\d+) (\S+)$/m.exec(run.stdout())!;
  expect(existsSync(dir!)).toBe(true);
  return { run, childPid: Number(pid), dir: dir! };
}

describe('exec: signals', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s to the parent reaches the child; the parent exits with the child\'s code', async (sig) => {
    const { run, dir } = await startChild();
    process.kill(run.pid, sig);
    const r = await run.exited;
    expect(run.stdout()).toContain(`got ${sig} 1\n`);
    expect(run.stdout()).not.toContain(`got ${sig} 2`);
    expect(r).toEqual({ code: 7, signal: null });
    expect(existsSync(dir)).toBe(false);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('%s kills a child that does not handle it; the parent dies of the same signal', async (sig) => {
    const { run, dir } = await startChild({ SIGNAL_CHILD_MODE: 'default' });
    process.kill(run.pid, sig);
    const r = await run.exited;
    expect(r).toEqual({ code: null, signal: sig });
    expect(existsSync(dir)).toBe(false);
    expect(run.stderr()).toBe('');
  });

  it('forwards HUP, QUIT, USR1, USR2 and WINCH', async () => {
    const { run, dir } = await startChild();
    for (const sig of ['SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const) {
      process.kill(run.pid, sig);
      await run.waitFor(() => run.stdout().includes(`got ${sig} 1\n`), `the child to receive ${sig}`);
    }
    process.kill(run.pid, 'SIGTERM');
    expect(await run.exited).toEqual({ code: 7, signal: null });
    expect(existsSync(dir)).toBe(false);
  });
});

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

describe('exec: on a terminal', () => {
  it.skipIf(!hasScript)('a ^C typed at the terminal reaches the child exactly once', async () => {
    // util-linux `script` runs the command on a new pseudo-terminal, as the foreground process
    // group: ^C written to the master makes the kernel send SIGINT to parent and child alike.
    const bin = BIN;
    const cmd = `exec '${process.execPath}' '${bin}' exec ${CHILD.map((a) => `'${a}'`).join(' ')}`;
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], {
      env: { ...w.env, SHELL: '/bin/sh', SETTLE_MS: '1500' },
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      await waitUntil(() => /ready \d+ \S+/.test(out), 'the child to be ready on the terminal');
      const dir = /ready \d+ (\S+)/.exec(out)![1]!.trim();
      child.stdin.write('\x03');
      const code = await exited;
      expect(out).toContain('got SIGINT 1');
      // Forwarding it as well would make a second ^C (Claude Code exits on a double ^C).
      expect(out).not.toContain('got SIGINT 2');
      expect(code).toBe(7);
      expect(existsSync(dir)).toBe(false);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
});
