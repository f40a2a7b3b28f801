import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBubblewrap } from '../../src/run/scrub.js';
import { runToEnd, startWorld, type WifWorld } from './exec-helpers.js';

// CLAUDE_CODE_SUBPROCESS_ENV_SCRUB and bubblewrap (issue 11, failure 1). Claude Code 2.1.332 looks
// `bwrap` up on its PATH and refuses to start with scrubbing on when it finds none (measured: a PATH
// without bwrap makes `claude -p` exit 1 with "bubblewrap is required…", the same PATH plus a
// directory holding bwrap works). These runs control the PATH the same way, both ways, whatever
// this host has installed; the real Claude Code is run both ways by `npm run test:clients`.

let w: WifWorld;
let noBwrap: string;
let withBwrap: string;
let claudeBin: string;

beforeAll(async () => {
  w = await startWorld();
  const root = join(w.home.home, 'paths');
  noBwrap = join(root, 'plain');
  withBwrap = join(root, 'bwrap');
  claudeBin = join(root, 'clients');
  for (const d of [noBwrap, withBwrap, claudeBin]) mkdirSync(d, { recursive: true });
  // Only node on the plain PATH: no /usr/bin, where a host's real bwrap would be.
  symlinkSync(process.execPath, join(noBwrap, 'node'));
  writeFileSync(join(withBwrap, 'bwrap'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(withBwrap, 'bwrap'), 0o755);
  // A stand-in named `claude` (so exec treats it as Claude Code) that reports the variable.
  const probe = `#!${process.execPath}\nconsole.log(JSON.stringify({ scrub: process.env.CLAUDE_CODE_SUBPROCESS_ENV_SCRUB ?? null }));\n`;
  writeFileSync(join(claudeBin, 'claude'), probe);
  writeFileSync(join(claudeBin, 'sdk-app'), probe);
  chmodSync(join(claudeBin, 'claude'), 0o755);
  chmodSync(join(claudeBin, 'sdk-app'), 0o755);
});
afterAll(async () => {
  await w?.stop();
});

const env = (path: string, extra: Record<string, string> = {}) => ({ ...w.env, PATH: `${path}:${claudeBin}`, ...extra });
const scrubOf = (stdout: string): string | null => (JSON.parse(stdout.trim().split('\n').pop()!) as { scrub: string | null }).scrub;
const notices = (stderr: string): number => stderr.split('\n').filter((l) => /bubblewrap was not found/.test(l)).length;

describe('exec: subprocess scrubbing follows bubblewrap', () => {
  it('finds bwrap on PATH the way Claude Code does', () => {
    expect(findBubblewrap({ PATH: `${noBwrap}` }, { managedSettings: null }).path).toBeUndefined();
    expect(findBubblewrap({ PATH: `${noBwrap}:${withBwrap}` }, { managedSettings: null }).path).toBe(join(withBwrap, 'bwrap'));
    // Relative PATH entries are not searched (they would depend on the child's cwd).
    expect(findBubblewrap({ PATH: 'paths/bwrap' }, { managedSettings: null }).path).toBeUndefined();
  });

  it('managed settings sandbox.bwrapPath pins the one Claude Code tries', () => {
    const managed = join(w.home.home, 'managed-settings.json');
    writeFileSync(managed, JSON.stringify({ sandbox: { bwrapPath: join(withBwrap, 'bwrap') } }));
    expect(findBubblewrap({ PATH: noBwrap }, { managedSettings: managed }).path).toBe(join(withBwrap, 'bwrap'));
    writeFileSync(managed, JSON.stringify({ sandbox: { bwrapPath: join(noBwrap, 'bwrap') } }));
    expect(findBubblewrap({ PATH: withBwrap }, { managedSettings: managed })).toMatchObject({ path: undefined, how: expect.stringContaining('sandbox.bwrapPath') });
  });

  for (const mode of ['sidecar', 'token', 'proxy']) {
    it(`--mode ${mode}, no bubblewrap: Claude Code starts without scrubbing, told once on stderr what its tools can see`, async () => {
      // An inherited 1 would stop Claude Code from starting: it is turned off too.
      const r = await runToEnd(['exec', '--mode', mode, '--', 'claude'], env(noBwrap, { CLAUDE_CODE_SUBPROCESS_ENV_SCRUB: '1' }));
      expect(r.code, r.stderr).toBe(0);
      expect(scrubOf(r.stdout)).toBe('0');
      expect(notices(r.stderr)).toBe(1);
      expect(r.stderr).toMatch(/Bash tool, hooks and MCP servers can see/);
      expect(r.stderr).toMatch(/apt-get install bubblewrap/);
    });
  }

  it('with bubblewrap on PATH: scrubbing on, nothing said', async () => {
    const r = await runToEnd(['exec', '--', 'claude'], env(`${noBwrap}:${withBwrap}`));
    expect(r.code, r.stderr).toBe(0);
    expect(scrubOf(r.stdout)).toBe('1');
    expect(notices(r.stderr)).toBe(0);
  });

  it('--scrub forces it on without bubblewrap; --no-scrub forces it off (the user\'s own value stays) with bubblewrap', async () => {
    const on = await runToEnd(['exec', '--scrub', '--', 'claude'], env(noBwrap));
    expect(scrubOf(on.stdout)).toBe('1');
    expect(notices(on.stderr)).toBe(0);
    const off = await runToEnd(['exec', '--no-scrub', '--', 'claude'], env(`${noBwrap}:${withBwrap}`));
    expect(scrubOf(off.stdout)).toBeNull();
    expect(notices(off.stderr)).toBe(0);
    const offNoBwrap = await runToEnd(['exec', '--no-scrub', '--', 'claude'], env(noBwrap));
    expect(scrubOf(offNoBwrap.stdout)).toBeNull();
    expect(notices(offNoBwrap.stderr)).toBe(0);
  });

  it('a child that is not Claude Code gets 0 without a notice (it has no tools to scrub)', async () => {
    const r = await runToEnd(['exec', '--', 'sdk-app'], env(noBwrap));
    expect(r.code, r.stderr).toBe(0);
    expect(scrubOf(r.stdout)).toBe('0');
    expect(notices(r.stderr)).toBe(0);
  });

  it('doctor says which will happen', async () => {
    const check = async (path: string) => {
      const r = await runToEnd(['doctor', '--offline', '--json'], env(path));
      const rep = JSON.parse(r.stdout) as { checks: Array<{ id: string; status: string; detail: string; fix?: string; data?: { exec_scrubs?: boolean } }> };
      return rep.checks.find((c) => c.id === 'subprocess_scrub')!;
    };
    const without = await check(noBwrap);
    expect(without).toMatchObject({ status: 'warn', data: { exec_scrubs: false } });
    expect(without.detail).toMatch(/starts Claude Code without CLAUDE_CODE_SUBPROCESS_ENV_SCRUB/);
    expect(without.fix).toMatch(/install bubblewrap/);
    const withIt = await check(`${noBwrap}:${withBwrap}`);
    expect(withIt).toMatchObject({ status: 'pass', data: { exec_scrubs: true } });
  });
});
