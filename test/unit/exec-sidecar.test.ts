import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSidecar, SIDECAR_PROFILE, sidecarBaseDir, sweepStaleSidecars } from '../../src/run/sidecar.js';
import { tempHome, type TempHome } from '../helpers/env.js';

let h: TempHome | undefined;
afterEach(() => {
  h?.cleanup();
  h = undefined;
});
const mode = (p: string) => statSync(p).mode & 0o777;

describe('createSidecar', () => {
  it('creates a 0700 directory with the minimal user_oauth profile and an SDK credentials file (0600)', () => {
    h = tempHome();
    const s = createSidecar({ profile: 'prod', env: {}, baseDir: h.home });
    try {
      expect(s.dir.startsWith(join(h.home, `claude-wif-exec-${process.pid}-`))).toBe(true);
      expect(mode(s.dir)).toBe(0o700);
      expect(mode(join(s.dir, 'credentials'))).toBe(0o700);
      expect(JSON.parse(readFileSync(s.configPath, 'utf8'))).toEqual({ version: '1.0', authentication: { type: 'user_oauth' } });
      expect(SIDECAR_PROFILE).toEqual({ version: '1.0', authentication: { type: 'user_oauth' } });
      expect(mode(s.configPath)).toBe(0o600);
      expect(s.env).toEqual([
        { name: 'ANTHROPIC_CONFIG_DIR', value: s.dir },
        { name: 'ANTHROPIC_PROFILE', value: 'prod' },
      ]);
      s.write({ token: 'sk-ant-oat01-aaa', expiresAt: 1_800_000_000.7, scope: 'workspace:inference', fromCache: false, cachePath: '/x' });
      expect(JSON.parse(readFileSync(s.credentialsPath, 'utf8'))).toEqual({
        version: '1.0',
        type: 'oauth_token',
        access_token: 'sk-ant-oat01-aaa',
        expires_at: 1_800_000_000,
        scope: 'workspace:inference',
      });
      expect(mode(s.credentialsPath)).toBe(0o600);
      // Replaced atomically: no temp files left next to it.
      s.write({ token: 'sk-ant-oat01-bbb', expiresAt: 1_800_000_100, fromCache: false, cachePath: '/x' });
      expect(JSON.parse(readFileSync(s.credentialsPath, 'utf8')).access_token).toBe('sk-ant-oat01-bbb');
      expect(statSync(join(s.dir, 'credentials')).isDirectory()).toBe(true);
    } finally {
      s.remove();
    }
    expect(existsSync(s.dir)).toBe(false);
    expect(s.removed).toBe(true);
    // Idempotent, and a write after removal does nothing (never recreates the directory).
    s.remove();
    s.write({ token: 'sk-ant-oat01-ccc', expiresAt: 1, fromCache: false, cachePath: '/x' });
    expect(existsSync(s.dir)).toBe(false);
  });

  it('registers a last-resort process exit hook and drops it on removal', () => {
    h = tempHome();
    const before = process.listenerCount('exit');
    const s = createSidecar({ profile: 'p', env: {}, baseDir: h.home });
    expect(process.listenerCount('exit')).toBe(before + 1);
    s.remove();
    expect(process.listenerCount('exit')).toBe(before);
  });

  it('prefers a private XDG_RUNTIME_DIR, else TMPDIR', () => {
    h = tempHome();
    const runtime = join(h.home, 'run');
    mkdirSync(runtime, { mode: 0o700 });
    expect(sidecarBaseDir({ XDG_RUNTIME_DIR: runtime, TMPDIR: '/somewhere' })).toBe(runtime);
    const open = join(h.home, 'open');
    mkdirSync(open, { mode: 0o755 });
    expect(sidecarBaseDir({ XDG_RUNTIME_DIR: open, TMPDIR: '/somewhere' })).toBe('/somewhere');
    expect(sidecarBaseDir({ XDG_RUNTIME_DIR: join(h.home, 'missing'), TMPDIR: '/somewhere' })).toBe('/somewhere');
  });

  it('sweeps directories left by a parent that died without cleaning up, never live ones', () => {
    h = tempHome();
    const dead = join(h.home, 'claude-wif-exec-999999-abc123');
    const live = join(h.home, 'claude-wif-exec-4242-def456');
    const other = join(h.home, 'claude-wif-exec-notes');
    for (const d of [dead, live, other]) mkdirSync(d);
    writeFileSync(join(dead, 'x'), 'y');
    const removed = sweepStaleSidecars(h.home, (pid) => pid === 4242);
    expect(removed).toEqual([dead]);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(other)).toBe(true);
  });
});
