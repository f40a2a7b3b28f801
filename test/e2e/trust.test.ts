// Issue 15 items 1-7 and 9: local trust, through the built binary. The house rule: claude-wif
// trusts only files, directories and sockets owned by the caller (or root) and writable by no one
// else; it never changes the mode of a directory it did not create; it never replaces or deletes a
// file that is not a credentials document; root refuses what another user planted. Every refusal
// is exit 6 with a fix, and doctor reports it.
//
// The neighbour is a second local user created here with `useradd -M` and removed afterwards (CI
// runs as root); the tests that need one are skipped, with the reason in their name, when that is
// not possible. Nothing outside this file's temporary directories is touched: the shared sticky
// directory of item 1 is a temporary directory made sticky here, never /tmp itself.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BIN, runBin, type Ran } from '../helpers/cli.js';
import { noSecondUser } from '../helpers/local-user.js';
import { cleanEnv } from '../helpers/env.js';
import { sandboxWithProfile, type SandboxSetup } from '../helpers/sandbox.js';

const NO_NEIGHBOUR = noSecondUser();
const neighbourIt = NO_NEIGHBOUR ? it.skip : it;
const withNeighbour = (name: string) => (NO_NEIGHBOUR ? `${name} (skipped: ${NO_NEIGHBOUR})` : name);

const user = `cwiftrust${process.pid % 100000}`;
let uid = -1;
let gid = -1;
let root: string;
let s: SandboxSetup;
let n = 0;

/** A fresh world for one test: home, config dir with a working profile, its own cache dir. */
interface World {
  home: string;
  configDir: string;
  cacheDir: string;
  env: Record<string, string>;
  profile: string;
}
let w: World;

function world(): World {
  const home = join(root, `w${++n}`);
  mkdirSync(home, { mode: 0o700 });
  const configDir = join(home, 'config');
  const cacheDir = join(home, 'cache');
  mkdirSync(join(configDir, 'configs'), { recursive: true, mode: 0o700 });
  const profile = 'default';
  writeFileSync(join(configDir, 'configs', `${profile}.json`), JSON.stringify(s.sandbox.profile({ identityTokenPath: s.identityFile }), null, 2));
  return { home, configDir, cacheDir, profile, env: cleanEnv(home, { ANTHROPIC_CONFIG_DIR: configDir, CLAUDE_WIF_CACHE_DIR: cacheDir, NO_COLOR: '1' }) };
}
const writeProfile = (extra: Record<string, unknown>, auth: Record<string, unknown> = {}) => {
  const base = s.sandbox.profile({ identityTokenPath: s.identityFile });
  writeFileSync(join(w.configDir, 'configs', `${w.profile}.json`), JSON.stringify({ ...base, ...extra, authentication: { ...(base['authentication'] as object), ...auth } }, null, 2));
};
const cli = (args: string[], extraEnv: Record<string, string> = {}) => runBin(args, { ...w.env, ...extraEnv }, { timeoutMs: 30_000 });
const mode = (p: string) => statSync(p).mode & 0o7777;

function expectRefused(r: Ran, code: 'insecure_file' | 'cache_unwritable' = 'insecure_file', why?: RegExp): void {
  expect(r.code, r.stderr).toBe(6);
  expect(r.stderr).toContain(`(${code}, exit 6)`);
  expect(r.stderr).toMatch(/fix: /);
  if (why) expect(r.stderr).toMatch(why);
  expect(r.stdout).not.toMatch(/sk-ant-/);
}

/** doctor --json: the check with this id failed with this code and has a fix. */
async function doctorReports(id: string, code: string): Promise<void> {
  const r = await cli(['doctor', '--json', '--offline']);
  const report = JSON.parse(r.stdout) as { checks: Array<{ id: string; status: string; code?: string; fix?: string }> };
  const check = report.checks.find((c) => c.id === id && c.status === 'fail');
  expect(check, `doctor check ${id}: ${JSON.stringify(report.checks.map((c) => [c.id, c.status, c.code]))}`).toBeDefined();
  expect(check!.code).toBe(code);
  expect(check!.fix).toBeTruthy();
  expect(r.code).not.toBe(0);
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'claude-wif-trust-'));
  // Reachable by the neighbour (item 9 runs the binary as that user): 0711, nothing listable.
  chmodSync(root, 0o711);
  const sbHome = join(root, 'sandbox');
  mkdirSync(sbHome, { mode: 0o711 });
  s = await sandboxWithProfile(join(sbHome, 'config'));
  if (!NO_NEIGHBOUR) {
    execFileSync('useradd', ['-M', '-N', '-s', '/usr/sbin/nologin', user], { stdio: 'ignore' });
    uid = Number(execFileSync('id', ['-u', user]).toString().trim());
    gid = Number(execFileSync('id', ['-g', user]).toString().trim());
  }
});
afterAll(async () => {
  await s?.sandbox.close();
  rmSync(root, { recursive: true, force: true });
  if (uid >= 0) execFileSync('userdel', [user], { stdio: 'ignore' });
});
beforeEach(async () => {
  w = world();
  await s.rotate();
});

describe('item 1: a secret file in a shared sticky directory', () => {
  let sticky: string;
  beforeEach(() => {
    sticky = join(w.home, 'shared-tmp');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
  });

  it('credentials_path in a sticky world-writable directory is refused (exit 6) and the directory keeps mode 1777', async () => {
    writeProfile({}, { credentials_path: join(sticky, 'x.json') });
    const r = await cli(['token']);
    expectRefused(r, 'insecure_file', /writable by other users \(mode 1777\).*sticky bit/);
    expect(r.stderr).toMatch(/private directory/);
    expect(mode(sticky)).toBe(0o1777);
    expect(readdirSync(sticky)).toEqual([]);
    await doctorReports('cache', 'insecure_file');
  });

  it('proxy --secret-file in a sticky directory is refused before anything listens; the directory keeps mode 1777', async () => {
    const r = await cli(['proxy', '--secret-file', join(sticky, 's')]);
    expectRefused(r, 'insecure_file', /--secret-file/);
    expect(r.stdout).toBe('');
    expect(mode(sticky)).toBe(0o1777);
    expect(readdirSync(sticky)).toEqual([]);
  });

  it('agent --proxy-secret-file in a sticky directory is refused; the directory keeps mode 1777', async () => {
    const r = await cli(['agent', '--dir', join(w.home, 'agent'), '--proxy', '127.0.0.1:0', '--proxy-secret-file', join(sticky, 's')]);
    expectRefused(r, 'insecure_file', /--proxy-secret-file/);
    expect(mode(sticky)).toBe(0o1777);
  });

  it('a credentials directory claude-wif creates is 0700; one that exists with 0755 is used as it is (never chmod-ed)', async () => {
    const made = join(w.home, 'made', 'here');
    writeProfile({}, { credentials_path: join(made, 'c.json') });
    expect((await cli(['token'])).code).toBe(0);
    expect(mode(made)).toBe(0o700);
    const open = join(w.home, 'open');
    mkdirSync(open, { mode: 0o755 });
    chmodSync(open, 0o755);
    await s.rotate();
    writeProfile({}, { credentials_path: join(open, 'c.json') });
    expect((await cli(['token'])).code).toBe(0);
    expect(mode(open)).toBe(0o755);
    expect(mode(join(open, 'c.json'))).toBe(0o600);
  });
});

describe('item 2: proxy --listen unix:<path>', () => {
  it('a group/world-writable socket directory is refused (exit 6) and no socket is created', async () => {
    const dir = join(w.home, 'sock');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const r = await cli(['proxy', '--listen', `unix:${join(dir, 'p.sock')}`]);
    expectRefused(r, 'insecure_file', /unix socket/);
    expect(readdirSync(dir)).toEqual([]);
  });

  neighbourIt(withNeighbour('a socket directory owned by another user is refused (exit 6), also for root'), async () => {
    const dir = join(w.home, 'theirs');
    mkdirSync(dir, { mode: 0o755 });
    chownSync(dir, uid, gid);
    const r = await cli(['proxy', '--listen', `unix:${join(dir, 'p.sock')}`]);
    expectRefused(r, 'insecure_file', new RegExp(`belongs to uid ${uid}`));
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('item 3: agent --dir', () => {
  it('a --dir that is a symlink to the SDK configuration directory is refused and the federation profile is untouched', async () => {
    const link = join(w.home, 'agent-link');
    symlinkSync(w.configDir, link);
    const profile = join(w.configDir, 'configs', `${w.profile}.json`);
    const before = readFileSync(profile, 'utf8');
    const r = await cli(['agent', '--dir', link]);
    expectRefused(r, 'insecure_file', /symlink/);
    expect(readFileSync(profile, 'utf8')).toBe(before);
  });

  it('a world-writable --dir (a 0777 emptyDir) is refused with the fix; the agent never changes its mode', async () => {
    const dir = join(w.home, 'empty');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const r = await cli(['agent', '--dir', dir]);
    expectRefused(r, 'insecure_file', /writable by other users/);
    expect(mode(dir)).toBe(0o777);
    expect(readdirSync(dir)).toEqual([]);
    // The fix: a subdirectory the agent creates itself (0700), where it writes the token.
    const sub = join(dir, 'claude-wif');
    const agent = spawn(process.execPath, [BIN, 'agent', '--dir', sub], { env: w.env, stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      const token = join(sub, 'credentials', `${w.profile}.json`);
      const deadline = Date.now() + 20_000;
      while (!existsSync(token) && Date.now() < deadline && agent.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      expect(existsSync(token)).toBe(true);
      expect(mode(sub)).toBe(0o700);
    } finally {
      agent.kill('SIGTERM');
      await new Promise((r) => (agent.exitCode !== null ? r(null) : agent.once('exit', r)));
    }
  });

  neighbourIt(withNeighbour('a --dir pre-created by another user is refused (exit 6), also for root'), async () => {
    const dir = join(w.home, 'planted');
    mkdirSync(dir, { mode: 0o755 });
    chownSync(dir, uid, gid);
    const r = await cli(['agent', '--dir', dir]);
    expectRefused(r, 'insecure_file', new RegExp(`belongs to uid ${uid}`));
    expect(readdirSync(dir)).toEqual([]);
  });

  neighbourIt(withNeighbour('a configs/ inside --dir pre-created by another user is refused'), async () => {
    const dir = join(w.home, 'agentdir');
    mkdirSync(join(dir, 'configs'), { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    chownSync(join(dir, 'configs'), uid, gid);
    const r = await cli(['agent', '--dir', dir]);
    expectRefused(r, 'insecure_file', /configs/);
  });
});

describe('item 4: profiles and configuration directories', () => {
  it('a group-writable profile is refused (exit 6) and doctor reports it with the fix', async () => {
    chmodSync(join(w.configDir, 'configs', `${w.profile}.json`), 0o664);
    const r = await cli(['token']);
    expectRefused(r, 'insecure_file', /profile .* has mode 0664/);
    expect(s.sandbox.arrivals.filter((a) => a.assertion === readFileSync(s.identityFile, 'utf8').trim())).toEqual([]);
    const d = await cli(['doctor', '--json', '--offline']);
    expect(d.code).not.toBe(0);
    expect(d.stdout).toContain('insecure_file');
    expect(d.stdout).toMatch(/chmod go-w/);
  });

  it('a world-writable configs/ directory is refused', async () => {
    chmodSync(join(w.configDir, 'configs'), 0o777);
    expectRefused(await cli(['token']), 'insecure_file', /profiles directory .* writable by other users/);
  });

  neighbourIt(withNeighbour('a configuration directory owned by another user is refused, for root too; doctor says so (it checks owners, not only mode bits)'), async () => {
    chownSync(w.configDir, uid, gid);
    const r = await cli(['token']);
    expectRefused(r, 'insecure_file', new RegExp(`configuration directory .* belongs to uid ${uid}`));
    const d = await cli(['doctor', '--json', '--offline']);
    expect(d.code).toBe(6);
    expect(d.stdout).toMatch(new RegExp(`belongs to uid ${uid}`));
  });

  neighbourIt(withNeighbour('a profile file owned by another user is refused, for root too'), async () => {
    chownSync(join(w.configDir, 'configs', `${w.profile}.json`), uid, gid);
    expectRefused(await cli(['token']), 'insecure_file', new RegExp(`profile .* belongs to uid ${uid}`));
  });
});

describe('item 5: credentials_path naming a file that is not a credentials document', () => {
  it('token does not overwrite it and cache clear does not delete it (exit 6); the key file is intact', async () => {
    const keyFile = join(w.home, 'keys', 'service.key');
    mkdirSync(join(w.home, 'keys'), { mode: 0o700 });
    const key = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';
    writeFileSync(keyFile, key, { mode: 0o600 });
    writeProfile({}, { credentials_path: keyFile });
    expectRefused(await cli(['token']), 'insecure_file', /not a credentials document/);
    expect(readFileSync(keyFile, 'utf8')).toBe(key);
    expectRefused(await cli(['cache', 'clear']), 'insecure_file', /not a credentials document/);
    expect(readFileSync(keyFile, 'utf8')).toBe(key);
    const all = await cli(['cache', 'clear', '--all']);
    expect(all.code).toBe(0);
    expect(readFileSync(keyFile, 'utf8')).toBe(key);
    expect(readdirSync(join(w.home, 'keys'))).toEqual(['service.key']);
  });

  it('a JSON document of another type (a user_oauth file with type "api_key") is not replaced either', async () => {
    const other = join(w.home, 'creds', 'other.json');
    mkdirSync(join(w.home, 'creds'), { mode: 0o700 });
    writeFileSync(other, JSON.stringify({ type: 'api_key', api_key: 'not-ours' }), { mode: 0o600 });
    writeProfile({}, { credentials_path: other });
    expectRefused(await cli(['token']), 'insecure_file', /not a credentials document/);
    expect(JSON.parse(readFileSync(other, 'utf8'))).toEqual({ type: 'api_key', api_key: 'not-ours' });
  });
});

describe('item 6: a credentials file planted by another user', () => {
  neighbourIt(withNeighbour('root refuses a valid-looking credentials file another user owns, and never prints its token'), async () => {
    const dir = join(w.configDir, 'credentials');
    mkdirSync(dir, { mode: 0o700 });
    const planted = join(dir, `${w.profile}.json`);
    writeFileSync(planted, JSON.stringify({ version: '1.0', type: 'oauth_token', access_token: 'sk-ant-oat01-plantedbyneighbour', expires_at: Math.floor(Date.now() / 1000) + 3600 }), { mode: 0o600 });
    chownSync(planted, uid, gid);
    const r = await cli(['token']);
    expectRefused(r, 'insecure_file', new RegExp(`credentials file .* belongs to uid ${uid}`));
    expect(r.stdout + r.stderr).not.toContain('plantedbyneighbour');
    await doctorReports('cache', 'insecure_file');
  });
});

describe('item 7: an identity JWT file owned by another user', () => {
  neighbourIt(withNeighbour('is refused (exit 6), though readable and not writable by others, and nothing is sent'), async () => {
    const jwtFile = join(w.home, 'their.jwt');
    const jwt = await s.sandbox.mint();
    writeFileSync(jwtFile, `${jwt}\n`, { mode: 0o644 });
    chownSync(jwtFile, uid, gid);
    writeProfile({}, { identity_token: { source: 'file', path: jwtFile } });
    const r = await cli(['token']);
    expectRefused(r, 'insecure_file', new RegExp(`belongs to uid ${uid}.*choose the identity`));
    expect(s.sandbox.arrivals.filter((a) => a.assertion === jwt)).toEqual([]);
  });

  it('a root- or self-owned 0644 JWT file (as Kubernetes projects it) is accepted', async () => {
    chmodSync(s.identityFile, 0o644);
    try {
      const r = await cli(['token']);
      expect(r.code, r.stderr).toBe(0);
    } finally {
      chmodSync(s.identityFile, 0o600);
    }
  });
});

describe('the cache directory (locks, ledger)', () => {
  it('a world-writable cache directory is refused before an exchange (exit 6); its mode is left alone', async () => {
    mkdirSync(w.cacheDir);
    chmodSync(w.cacheDir, 0o777);
    expectRefused(await cli(['token']), 'insecure_file', /cache directory .* writable by other users/);
    expect(mode(w.cacheDir)).toBe(0o777);
    await doctorReports('cache_dir', 'insecure_file');
  });
});

describe('item 9: a cache directory that cannot be written', () => {
  const mountable = (() => {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) return false;
    const d = mkdtempSync(join(tmpdir(), 'claude-wif-mnt-probe-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', d], { stdio: 'ignore' });
      execFileSync('umount', [d], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  })();
  const mountIt = mountable ? it : it.skip;
  const NO_MOUNT = mountable ? '' : ' (skipped: needs root and permission to mount a tmpfs)';

  async function onMount(opts: string, fill: boolean, body: (dir: string) => Promise<void>): Promise<void> {
    const dir = join(w.home, 'mnt');
    mkdirSync(dir, { mode: 0o700 });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=64k,mode=0700,${opts}`, 'tmpfs', dir], { stdio: 'ignore' });
    try {
      if (fill) {
        try {
          execFileSync('sh', ['-c', `head -c 1048576 /dev/zero > ${dir}/fill`], { stdio: 'ignore' });
        } catch {
          /* full: that is the point */
        }
      }
      await body(dir);
    } finally {
      execFileSync('umount', [dir], { stdio: 'ignore' });
    }
  }

  mountIt(`a full cache filesystem: cache_unwritable (exit 6) with the fix, nothing left behind, the JWT not spent${NO_MOUNT}`, async () => {
    await onMount('rw', true, async (dir) => {
      const r = await cli(['token'], { CLAUDE_WIF_CACHE_DIR: join(dir, 'c') });
      expect(r.stderr).not.toContain('internal_error');
      expectRefused(r, 'cache_unwritable', /CLAUDE_WIF_CACHE_DIR/);
      // Directories may have been made; no file (a lock temp file, a ledger entry) is left behind.
      const files = (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[]).filter((e) => !e.isDirectory()).map((e) => e.name);
      expect(files).toEqual(['fill']);
    });
    // Nothing was sent: with a writable cache the same JWT is exchanged.
    expect((await cli(['token'])).code).toBe(0);
  });

  mountIt(`a read-only cache filesystem: a fresh cached token is still served; a new exchange is refused with cache_unwritable${NO_MOUNT}`, async () => {
    const first = await cli(['token']);
    expect(first.code).toBe(0);
    await onMount('ro', false, async (dir) => {
      const cached = await cli(['token'], { CLAUDE_WIF_CACHE_DIR: dir });
      expect(cached.code, cached.stderr).toBe(0);
      expect(cached.stdout).toBe(first.stdout);
      const forced = await cli(['token', '--force-refresh'], { CLAUDE_WIF_CACHE_DIR: dir });
      expectRefused(forced, 'cache_unwritable', /read-only/);
      const d = await cli(['doctor', '--json', '--offline'], { CLAUDE_WIF_CACHE_DIR: dir });
      const check = (JSON.parse(d.stdout) as { checks: Array<{ id: string; status: string; code?: string; fix?: string }> }).checks.find((c) => c.id === 'cache_dir');
      expect(check).toMatchObject({ status: 'fail', code: 'cache_unwritable' });
      expect(check!.fix).toMatch(/CLAUDE_WIF_CACHE_DIR/);
    });
  });

});
