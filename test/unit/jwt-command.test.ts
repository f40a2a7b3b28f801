import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runJwtCommand } from '../../src/identity/jwt-command.js';

// The runner for identity programs (the command, buildkite and circleci sources): a JWT on stdout,
// bounded output, and a timeout that ends everything the program started.

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
const base = { source: 'command', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, notFoundHint: 'install it', failedHint: 'fix it' };

/** Processes whose argv contains the marker (from /proc; Linux only). */
function running(marker: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(marker)) pids.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return pids;
}

const linux = process.platform === 'linux';

describe('runJwtCommand', () => {
  it('takes the last JWT-shaped line of stdout', async () => {
    await expect(runJwtCommand({ ...base, argv: ['sh', '-c', `echo noise; echo ${JWT}`], timeoutMs: 10_000 })).resolves.toBe(JWT);
  });

  it.skipIf(!linux)('answers when the program exits, even if something it started in the background still holds stdout', async () => {
    const marker = `1000.${process.pid}1`;
    // Without ending the group, the answer would wait ~1000 s for `sleep` to close the pipe (the
    // test would time out); the 60 s timeout is not what ends it either.
    await expect(runJwtCommand({ ...base, argv: ['sh', '-c', `sleep ${marker} & echo ${JWT}`], timeoutMs: 60_000 })).resolves.toBe(JWT);
    await expect.poll(() => running(`sleep ${marker}`), { timeout: 10_000 }).toEqual([]);
  });

  it.skipIf(!linux)('a timeout ends the whole process tree and says so', async () => {
    const marker = `1000.${process.pid}2`;
    await expect(runJwtCommand({ ...base, argv: ['sh', '-c', `sleep ${marker} & sleep ${marker}; echo ${JWT}`], timeoutMs: 300 })).rejects.toMatchObject({
      code: 'identity_unavailable',
      message: expect.stringContaining('did not finish within 300 ms'),
    });
    await expect.poll(() => running(`sleep ${marker}`), { timeout: 10_000 }).toEqual([]);
  });

  it('a missing program names the fix; a failing one shows its redacted stderr', async () => {
    await expect(runJwtCommand({ ...base, argv: ['claude-wif-no-such-program'], timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'identity_unavailable', hint: 'install it' });
    const failing = runJwtCommand({ ...base, argv: ['sh', '-c', `echo "denied for ${JWT}" >&2; exit 3`], timeoutMs: 10_000 });
    await expect(failing).rejects.toMatchObject({ code: 'identity_unavailable', message: expect.stringContaining('exited with status 3') });
    await expect(failing).rejects.not.toMatchObject({ message: expect.stringContaining(JWT) });
  });

  it('more than 64 KiB on stdout is refused', async () => {
    await expect(runJwtCommand({ ...base, argv: ['sh', '-c', 'head -c 200000 /dev/zero | tr "\\\\0" a'], timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'identity_invalid' });
  });
});
