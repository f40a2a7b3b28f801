import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeJwt } from '../../src/util/jwt.js';
import { BIN, ROOT } from '../helpers/cli.js';
import { cleanEnv, tempHome } from '../helpers/env.js';
import { spawnBin } from './exec-helpers.js';

// `claude-wif sandbox --platform …`: the README's per-platform recipes, tried locally. The sandbox
// plays the platform's identity side, writes its environment for a shell, and a profile whose
// identity source reads it; `claude-wif token` in that shell then gets a token.

const h = tempHome();
afterAll(() => h.cleanup());

function sh(script: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn('sh', ['-c', script], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('sandbox --platform', () => {
  for (const [platform, subject] of [
    ['github-actions', /^repo:example\/app:ref:refs\/heads\/main$/],
    ['gitlab', /^project_path:example\/app:ref_type:branch:ref:main$/],
    ['kubernetes', /^system:serviceaccount:default:app$/],
  ] as const) {
    it(`${platform}: writes the platform's environment and a profile that reads it; claude-wif token works in that shell`, async () => {
      const home = join(h.home, platform);
      const env = cleanEnv(home);
      const envFile = join(home, `${platform}.env`);
      const s = spawnBin(['sandbox', '--platform', platform, '--write-profile', 'p', '--write-env', envFile], env);
      try {
        await s.waitFor(() => /try: /.test(s.stderr()) || s.child.exitCode !== null, 'the sandbox to start', 20_000);
        expect(s.child.exitCode, s.stderr()).toBeNull();
        const out = JSON.parse(s.stdout()) as { platform: { name: string; env: Record<string, string>; env_file: string }; profile_path: string; url: string };
        expect(out.platform.name).toBe(platform);
        expect(out.platform.env_file).toBe(envFile);
        expect(statSync(envFile).mode & 0o777).toBe(0o600);
        const profile = JSON.parse(readFileSync(out.profile_path, 'utf8')) as Record<string, any>;
        expect(profile['claude_wif']['identity']['source']).toBe(platform);
        expect(profile['authentication']['identity_token']).toBeUndefined();

        const r = await sh(`. '${envFile}' && exec '${process.execPath}' '${BIN}' --profile p token`, env);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^sk-ant-oat01-\S+\n$/);
        const exchanges = (await (await fetch(`${out.url}/_sandbox/exchanges`)).json()) as { exchanges: Array<{ status: number; assertion: string }> };
        expect(exchanges.exchanges.map((e) => e.status)).toEqual([200]);
        expect(decodeJwt(exchanges.exchanges[0]!.assertion).payload['sub']).toMatch(subject);
        if (platform === 'kubernetes') {
          const path = (profile['claude_wif']['identity'] as { path: string }).path;
          expect(statSync(path).mode & 0o777).toBe(0o600);
          expect(decodeJwt(readFileSync(path, 'utf8').trim()).payload['kubernetes.io']).toMatchObject({ namespace: 'default', serviceaccount: { name: 'app' } });
        }
      } finally {
        s.child.kill('SIGTERM');
        expect((await s.exited).code).toBe(0);
      }
    });
  }

  it('refuses an unknown platform and --write-env without --platform', async () => {
    const env = cleanEnv(h.home);
    const bad = spawnBin(['sandbox', '--platform', 'jenkins'], env);
    expect((await bad.exited).code).toBe(2);
    expect(bad.stderr()).toContain('jenkins');
    const lone = spawnBin(['sandbox', '--write-env', join(h.home, 'x.env')], env);
    expect((await lone.exited).code).toBe(2);
    expect(lone.stderr()).toContain('--write-env needs --platform');
  });
});
