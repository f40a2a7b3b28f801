import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, runBin } from '../helpers/cli.js';
import { cleanEnv, tempHome } from '../helpers/env.js';

describe('claude-wif sandbox', () => {
  it('runs the emulator, writes and activates a profile that `token` can use, and stops cleanly on SIGTERM', async () => {
    const h = tempHome();
    const env = cleanEnv(h.home);
    const child = spawn(process.execPath, [BIN, 'sandbox', '--write-profile', 'sb', '--activate', '--token-lifetime', '120'], { env, cwd: ROOT });
    try {
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no sandbox output: ${out}`)), 20_000);
        child.stdout.on('data', () => {
          try {
            const doc = JSON.parse(out);
            clearTimeout(t);
            resolve(doc);
          } catch {
            /* not complete yet */
          }
        });
      });
      expect(info['url']).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(info['profile_path']).toBe(join(h.configDir, 'configs', 'sb.json'));
      expect(readFileSync(join(h.configDir, 'active_config'), 'utf8').trim()).toBe('sb');
      const tok = await runBin(['token', '--format', 'json'], env);
      expect(tok.code).toBe(0);
      const doc = JSON.parse(tok.stdout);
      expect(doc.access_token).toMatch(/^sk-ant-oat01-/);
      expect(doc.expires_in).toBeLessThanOrEqual(120);
      const status = JSON.parse((await runBin(['status', '--json'], env)).stdout);
      expect(status.profile.name).toBe('sb');
      const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
    } finally {
      child.kill('SIGKILL');
      h.cleanup();
    }
  });

  it('npm start (the demo) succeeds end to end', async () => {
    const h = tempHome();
    try {
      const r = await runBin(['sandbox', '--demo'], cleanEnv(h.home), { timeoutMs: 60_000 });
      expect(r.stderr).toMatch(/Summary: \d+ successful exchange/);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toMatchObject({ ok: true });
      expect(r.stderr).not.toMatch(/sk-ant-oat01-[A-Za-z0-9_-]{8,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./);
      expect(existsSync(h.configDir)).toBe(false); // the demo used a throwaway config dir
    } finally {
      h.cleanup();
    }
  }, 90_000);
});
