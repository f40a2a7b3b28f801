// Benchmark: memory of the `claude-wif exec` parent while its child runs (target ≤ 50 MB RSS,
// issue 3). The parent holds a sidecar directory and its rotator; the child is a sleeping node
// process. VmHWM (peak RSS) of the parent is read from /proc while the child is still running.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'claude-wif');
const kib = (pid, field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

function once(mode, env) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [bin, 'exec', '--mode', mode, '--', process.execPath, '-e', 'setTimeout(() => {}, 1500)'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    let peak = NaN;
    let rss = NaN;
    // Sample while the child sleeps (after start-up settled).
    const timer = setTimeout(() => {
      try {
        peak = kib(c.pid, 'VmHWM');
        rss = kib(c.pid, 'VmRSS');
      } catch {
        /* exited early */
      }
    }, 1000);
    c.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`exec exited ${code}: ${err}`));
      else resolve({ peak: (peak * 1024) / 1e6, rss: (rss * 1024) / 1e6 }); // MB (10^6 bytes), as the target is stated
    });
  });
}

export async function execRssBench({ rounds = 5 } = {}) {
  if (!existsSync('/proc/self/status')) return { name: 'exec parent memory', pass: true, skipped: true, summary: 'skipped: needs /proc (Linux)' };
  const home = mkdtempSync(join(tmpdir(), 'claude-wif-execrss-'));
  try {
    const configDir = join(home, '.config', 'anthropic');
    mkdirSync(join(configDir, 'configs'), { recursive: true });
    mkdirSync(join(configDir, 'credentials'), { recursive: true, mode: 0o700 });
    writeFileSync(join(configDir, 'configs', 'default.json'), JSON.stringify({ version: '1.0', organization_id: '00000000-0000-4000-8000-000000000001', authentication: { type: 'oidc_federation', federation_rule_id: 'fdrl_bench', identity_token: { source: 'file', path: join(home, 'jwt') } } }));
    writeFileSync(join(configDir, 'credentials', 'default.json'), JSON.stringify({ version: '1.0', type: 'oauth_token', access_token: `sk-ant-oat01-benchmark-${randomBytes(12).toString('hex')}`, expires_at: Math.floor(Date.now() / 1000) + 3600 }), { mode: 0o600 });
    const env = { PATH: process.env.PATH, HOME: home };
    const out = {};
    for (const mode of ['sidecar', 'token']) {
      const runs = [];
      for (let i = 0; i < rounds; i++) runs.push(await once(mode, env));
      out[mode] = { peak: median(runs.map((r) => r.peak)), max: Math.max(...runs.map((r) => r.peak)), rss: median(runs.map((r) => r.rss)) };
    }
    const worst = Math.max(out.sidecar.max, out.token.max);
    return {
      name: 'exec parent memory',
      ...out,
      pass: worst <= 50,
      summary: `parent peak RSS while the child runs: sidecar median ${out.sidecar.peak.toFixed(1)} MB (max ${out.sidecar.max.toFixed(1)}), token median ${out.token.peak.toFixed(1)} MB (max ${out.token.max.toFixed(1)}); target ≤ 50 MB (10^6 bytes); ${rounds} runs each`,
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await execRssBench();
  console.log(r.summary);
  process.exitCode = r.pass ? 0 : 1;
}
