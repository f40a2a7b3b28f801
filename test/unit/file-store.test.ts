import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readCredentials, writeCredentials } from '../../src/cache/file-store.js';
import { WifError } from '../../src/util/errors.js';
import { tempHome, type TempHome } from '../helpers/env.js';

let h: TempHome;
let path: string;
beforeEach(() => {
  h = tempHome();
  path = join(h.configDir, 'credentials', 'p.json');
});
afterEach(() => h.cleanup());

const token = { accessToken: 'sk-ant-oat01-test', expiresAt: 2000, obtainedAt: 1000, obtainedAtMs: 1_000_000, key: 'k1', scope: 'workspace:inference' };

function code(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return (err as WifError).code;
  }
}

describe('credentials file', () => {
  it('writes the SDK shape atomically, 0600 in a 0700 directory', () => {
    writeCredentials(path, token);
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    expect(doc).toMatchObject({ version: '1.0', type: 'oauth_token', access_token: 'sk-ant-oat01-test', expires_at: 2000 });
    expect(Number.isInteger(doc.expires_at)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(h.configDir, 'credentials')).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(h.configDir, 'credentials'))).toEqual(['p.json']); // no temp file left
    expect(readCredentials(path)).toMatchObject({ accessToken: 'sk-ant-oat01-test', expiresAt: 2000, key: 'k1', obtainedAtMs: 1_000_000 });
  });

  it('preserves keys it does not own', () => {
    mkdirSync(join(h.configDir, 'credentials'), { recursive: true, mode: 0o700 });
    writeFileSync(path, JSON.stringify({ type: 'oauth_token', access_token: 'old', refresh_token: 'rt', account_email: 'a@b' }), { mode: 0o600 });
    writeCredentials(path, token);
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    expect(doc.refresh_token).toBe('rt');
    expect(doc.account_email).toBe('a@b');
    expect(doc.access_token).toBe('sk-ant-oat01-test');
  });

  it('refuses group/world-readable files, symlinks and foreign-writable dirs (exit 6)', () => {
    writeCredentials(path, token);
    chmodSync(path, 0o644);
    expect(code(() => readCredentials(path))).toBe('insecure_file');
    chmodSync(path, 0o600);
    const link = join(h.configDir, 'credentials', 'link.json');
    symlinkSync(path, link);
    expect(code(() => readCredentials(link))).toBe('insecure_file');
    chmodSync(join(h.configDir, 'credentials'), 0o777);
    expect(code(() => readCredentials(path))).toBe('insecure_file');
    chmodSync(join(h.configDir, 'credentials'), 0o700);
    expect(new WifError('insecure_file', 'x').exitCode).toBe(6);
  });

  it('will not write through a symlink at the target', () => {
    mkdirSync(join(h.configDir, 'credentials'), { recursive: true, mode: 0o700 });
    const victim = join(h.home, 'victim');
    writeFileSync(victim, 'keep', { mode: 0o600 });
    symlinkSync(victim, path);
    expect(code(() => writeCredentials(path, token))).toBe('insecure_file');
    expect(readFileSync(victim, 'utf8')).toBe('keep');
  });

  it('treats absent, corrupt or foreign-typed files as a miss', () => {
    expect(readCredentials(path)).toBeUndefined();
    mkdirSync(join(h.configDir, 'credentials'), { recursive: true, mode: 0o700 });
    writeFileSync(path, '{"access_', { mode: 0o600 });
    expect(readCredentials(path)).toBeUndefined();
    writeFileSync(path, JSON.stringify({ type: 'api_key', access_token: 'x' }), { mode: 0o600 });
    expect(readCredentials(path)).toBeUndefined();
  });
});
