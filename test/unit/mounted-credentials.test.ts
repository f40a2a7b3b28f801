// readMountedCredentials: the CSI provider's token.json as a non-root pod sees it — readable by
// others is fine (a pod's volume), replaceable by others, foreign-owned or linked outside is not.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readMountedCredentials } from '../../src/cache/file-store.js';
import { resolvePlan } from '../../src/core/resolve.js';
import { fakeAnthropicToken } from '../helpers/fixtures.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function volume(mode = 0o644): { root: string; token: string } {
  dir = mkdtempSync(join(tmpdir(), 'claude-wif-mounted-'));
  const root = join(dir, 'vol');
  const data = join(root, '..2026_12_02_10_00_00.1');
  mkdirSync(data, { recursive: true });
  const token = fakeAnthropicToken('oat01', 'mounted');
  writeFileSync(join(data, 'token.json'), JSON.stringify({ version: '1.0', type: 'oauth_token', access_token: token, expires_at: 4102444800, claude_wif: { obtained_at: 4102441200 } }));
  chmodSync(join(data, 'token.json'), mode);
  symlinkSync('..2026_12_02_10_00_00.1', join(root, '..data'));
  symlinkSync('..data/token.json', join(root, 'token.json'));
  mkdirSync(join(data, 'configs'));
  writeFileSync(join(data, 'configs', 'default.json'), JSON.stringify({ version: '1.0', authentication: { type: 'user_oauth' }, claude_wif: { mounted_credentials: 'token.json' } }));
  symlinkSync('..data/configs', join(root, 'configs'));
  return { root, token };
}

describe('mounted credentials (the CSI volume\'s token.json)', () => {
  it('reads a 0644 document through the driver\'s ..data links, with its expiry and obtained_at', () => {
    const v = volume();
    expect(readMountedCredentials(join(v.root, 'token.json'), v.root)).toMatchObject({ accessToken: v.token, expiresAt: 4102444800, obtainedAt: 4102441200 });
  });

  it('a profile naming claude_wif.mounted_credentials reads that file with the mounted rules', () => {
    const v = volume();
    const plan = resolvePlan({ env: { ANTHROPIC_CONFIG_DIR: v.root }, cwd: dir });
    expect(plan.kind).toBe('user_oauth');
    expect(plan.cache.path).toBe(join(v.root, 'token.json'));
    expect(plan.cache.mounted).toEqual({ root: v.root });
    expect(plan.cache.origin).toMatch(/mounted_credentials/);
  });

  it('refuses a file others could replace', () => {
    const v = volume(0o666);
    expect(() => readMountedCredentials(join(v.root, 'token.json'), v.root)).toThrow(/other users could replace the token/);
  });

  it('refuses a link that leads outside the volume', () => {
    const v = volume();
    writeFileSync(join(dir, 'elsewhere.json'), '{}');
    symlinkSync('../elsewhere.json', join(v.root, 'stolen.json'));
    expect(() => readMountedCredentials(join(v.root, 'stolen.json'), v.root)).toThrow(/leads outside/);
  });

  it.skipIf(typeof process.getuid !== 'function' || process.getuid() !== 0)('refuses a file owned by another user (needs root to chown; CI runs as root)', () => {
    const v = volume();
    chownSync(join(v.root, '..data', 'token.json'), 4242, 4242);
    expect(() => readMountedCredentials(join(v.root, 'token.json'), v.root)).toThrow(/belongs to uid 4242/);
  });

  it('absent is a miss, not an error', () => {
    const v = volume();
    expect(readMountedCredentials(join(v.root, 'nothing.json'), v.root)).toBeUndefined();
  });
});
