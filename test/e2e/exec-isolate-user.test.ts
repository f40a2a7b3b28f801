import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeIsolation } from '../../src/run/isolation.js';
import { BIN, ROOT } from '../helpers/cli.js';
import { PROFILE, startWorld, type WifWorld } from './exec-helpers.js';
import { noSecondUser } from '../helpers/local-user.js';

// `exec --isolate` for an ordinary user (issue 12 item 3): bubblewrap without privileges (a user
// namespace), and Claude Code's own bubblewrap nested inside it, which is what keeps its
// subprocess scrubbing on. Needs root to create (and afterwards remove) a local user with
// `useradd -M`; skipped with the reason otherwise.

const USER = `cwif${process.pid % 100000}`;
const probe = probeIsolation(process.env);
const skip = noSecondUser() ?? (!probe.ok ? probe.reason : undefined);

function chownTree(dir: string, uid: number, gid: number): void {
  chownSync(dir, uid, gid);
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) chownTree(p, uid, gid);
    else chownSync(p, uid, gid);
  }
}

describe.skipIf(skip)(`exec --isolate as an ordinary user${skip ? ` — skipped: ${skip}` : ''}`, () => {
  let w: WifWorld;
  let uid = 0;
  let gid = 0;
  beforeAll(async () => {
    execFileSync('useradd', ['-M', '-s', '/bin/sh', USER], { stdio: 'ignore' });
    uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim());
    w = await startWorld();
    // Everything the user's claude-wif reads is the user's own (claude-wif refuses files of others):
    // the profile points at a JWT file of the user's (the world's rotating file is root's).
    const jwtFile = join(w.home.home, 'user-identity.jwt');
    writeFileSync(jwtFile, `${await w.sandbox.mint({ lifetimeSeconds: 300 })}\n`, { mode: 0o600 });
    writeFileSync(join(w.home.configDir, 'configs', `${PROFILE}.json`), JSON.stringify(w.sandbox.profile({ identityTokenPath: jwtFile })));
    chownTree(w.home.home, uid, gid);
    chmodSync(w.home.home, 0o700);
  });
  afterAll(async () => {
    await w?.stop();
    try {
      execFileSync('userdel', [USER], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  });

  it('the isolated child works without privileges, and bubblewrap nests inside (Claude Code keeps scrubbing)', async () => {
    mkdirSync(join(w.home.home, 'work'), { recursive: true });
    chownSync(join(w.home.home, 'work'), uid, gid);
    const child = `
      import { spawnSync } from 'node:child_process';
      const n = spawnSync('bwrap', ['--new-session', '--die-with-parent', '--unshare-user', '--unshare-pid', '--unshare-net', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--', 'true'], { encoding: 'utf8' });
      const r = await fetch(process.env.ANTHROPIC_BASE_URL + '/v1/messages', { method: 'POST', headers: { authorization: 'Bearer ' + process.env.ANTHROPIC_AUTH_TOKEN, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify({ model: 'm', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }) });
      console.log(JSON.stringify({ uid: process.getuid(), nested: n.status, nestedErr: (n.stderr || '').trim(), api: r.status, scrub: process.env.CLAUDE_CODE_SUBPROCESS_ENV_SCRUB }));
    `;
    const env = { ...w.env, HOME: w.home.home, TMPDIR: join(w.home.home, 'work') };
    const p = spawn(process.execPath, [BIN, 'exec', '--isolate', '--target', 'claude-code', '--', process.execPath, '--input-type=module', '-e', child], { env, cwd: join(w.home.home, 'work'), uid, gid, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => p.on('close', resolve));
    expect(code, err).toBe(0);
    const seen = JSON.parse(out.trim().split('\n').pop()!) as { uid: number; nested: number; nestedErr: string; api: number; scrub: string };
    expect(seen.api).toBe(200);
    expect(seen.uid).toBe(uid);
    expect(seen.nested, seen.nestedErr).toBe(0);
    expect(seen.scrub).toBe('1');
    expect(err).not.toMatch(/cannot run inside the isolation sandbox/);
    expect(ROOT).toBeTruthy();
  }, 120_000);
});
