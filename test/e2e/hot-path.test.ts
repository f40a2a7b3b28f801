// The hot path's launcher: V8's code cache is accepted for this node, and a bad cache only costs
// the normal compile, never a wrong answer. The hot bundles carry none of the heavy code.
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { wrap } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { cleanEnv, tempHome } from '../helpers/env.js';
import { spawnSync } from 'node:child_process';

const ENTRY = join(ROOT, 'dist', 'claude-wif.cjs');
const FULL = join(ROOT, 'dist', 'cli.mjs');
/** Every hot bundle: the CommonJS files bin/claude-wif runs before (or instead of) the full CLI. */
const hotBundles = (): string[] => readdirSync(join(ROOT, 'dist')).filter((f) => f.endsWith('.cjs'));

// One distinctive string per kind of code the hot path must never load (each is in the full CLI).
const HEAVY: Record<string, string> = {
  keyring: '@napi-rs/keyring',
  doctor: 'Claude Code settings',
  prompt: 'configure was cancelled',
  completion: 'Register-ArgumentCompleter',
  chalk: 'chalkStderr',
  'supports-color': 'COLORTERM',
  commander: 'commander.',
  gRPC: 'application/grpc',
  AWS: '@aws-sdk',
  'AWS source': 'GetWebIdentityToken',
};

function cachedProfile(home: string, configDir: string): void {
  mkdirSync(join(configDir, 'configs'), { recursive: true });
  mkdirSync(join(configDir, 'credentials'), { recursive: true, mode: 0o700 });
  writeFileSync(join(configDir, 'configs', 'default.json'), JSON.stringify({ version: '1.0', organization_id: '00000000-0000-4000-8000-000000000001', authentication: { type: 'oidc_federation', federation_rule_id: 'fdrl_hot', identity_token: { source: 'file', path: join(home, 'jwt') } } }));
  writeFileSync(join(configDir, 'credentials', 'default.json'), JSON.stringify({ type: 'oauth_token', access_token: 'sk-ant-oat01-hot-path-test', expires_at: Math.floor(Date.now() / 1000) + 3600 }), { mode: 0o600 });
}

describe('hot bundles', () => {
  it('carry no keyring, doctor, prompt, completion, chalk, commander, gRPC or AWS code', () => {
    const full = readFileSync(FULL, 'utf8');
    const bundles = hotBundles();
    expect(bundles).toContain('claude-wif.cjs');
    for (const b of bundles) {
      const text = readFileSync(join(ROOT, 'dist', b), 'utf8');
      for (const [what, marker] of Object.entries(HEAVY)) expect(text.includes(marker), `${what} (${marker}) is in dist/${b}`).toBe(false);
    }
    // …and the markers are real: the full CLI has each of them.
    for (const [what, marker] of Object.entries(HEAVY)) expect(full.includes(marker), `${what} (${marker}) missing from the full CLI`).toBe(true);
  });
});

describe('hot path launcher', () => {
  it('ships a V8 code cache that this node accepts', () => {
    const script = new Script(wrap(readFileSync(ENTRY, 'utf8')), { filename: ENTRY, cachedData: readFileSync(`${ENTRY}.cache`) });
    expect(script.cachedDataRejected).toBe(false);
  });

  it('answers correctly with a corrupt cache and without one', () => {
    const h = tempHome();
    try {
      cachedProfile(h.home, h.configDir);
      // A private copy of the launcher and bundle, so the cache can be damaged safely.
      const copy = join(h.home, 'pkg');
      cpSync(join(ROOT, 'bin'), join(copy, 'bin'), { recursive: true });
      mkdirSync(join(copy, 'dist'));
      for (const f of ['claude-wif.cjs', 'cli.mjs']) cpSync(join(ROOT, 'dist', f), join(copy, 'dist', f));
      const run = () => spawnSync(process.execPath, [join(copy, 'bin', 'claude-wif'), 'token'], { env: cleanEnv(h.home), encoding: 'utf8' });
      expect(run().stdout).toBe('sk-ant-oat01-hot-path-test\n'); // no cache file at all
      writeFileSync(join(copy, 'dist', 'claude-wif.cjs.cache'), Buffer.from('not a v8 code cache'));
      const r = run();
      expect(r.stdout).toBe('sk-ant-oat01-hot-path-test\n');
      expect(r.status).toBe(0);
      // And the fallback to the full CLI still works from the copy.
      const v = spawnSync(process.execPath, [join(copy, 'bin', 'claude-wif'), '--version'], { env: cleanEnv(h.home), encoding: 'utf8' });
      expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    } finally {
      h.cleanup();
    }
  });
});
