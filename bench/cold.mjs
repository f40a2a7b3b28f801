// Benchmark: cold-exchange overhead. `claude-wif token` with an empty cache (identity file read,
// preflight, ledger, lock, one exchange at the local sandbox, atomic cache write) against the same
// command answered from a fresh cache, both spawned; the sandbox runs in this process. Reports
// the medians, the spread and the difference: what a cache miss costs on top of a hit, with the
// network round trip to a loopback peer (no TLS) included.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSandbox, median, percentile, fmt } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'claude-wif');

function run(env) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const c = spawn(process.execPath, [bin, 'token'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => (code === 0 && out.startsWith('sk-ant-oat01-') ? resolve(Number(process.hrtime.bigint() - t0) / 1e6) : reject(new Error(`exit ${code}: ${err}`))));
  });
}

export async function coldBench({ rounds = 20 } = {}) {
  const { startSandbox } = await loadSandbox();
  const sandbox = await startSandbox({ port: 0 });
  const home = mkdtempSync(join(tmpdir(), 'claude-wif-cold-'));
  try {
    const configDir = join(home, '.config', 'anthropic');
    mkdirSync(join(configDir, 'configs'), { recursive: true });
    const jwt = join(home, 'jwt');
    writeFileSync(join(configDir, 'configs', 'default.json'), JSON.stringify(sandbox.profile({ identityTokenPath: jwt })));
    const env = { PATH: process.env.PATH, HOME: home };
    const creds = join(configDir, 'credentials', 'default.json');
    const cold = [];
    const hot = [];
    for (let i = 0; i < rounds + 2; i++) {
      // A fresh, never-exchanged JWT and no cached token: a real cold start.
      writeFileSync(jwt, await sandbox.mint(), { mode: 0o600 });
      rmSync(creds, { force: true });
      const c = await run(env);
      const h = await run(env);
      if (i >= 2) {
        cold.push(c);
        hot.push(h);
      }
    }
    const overhead = median(cold) - median(hot);
    return {
      name: 'cold exchange overhead',
      rounds,
      exchanges: sandbox.exchanges.length,
      pass: sandbox.exchanges.length === rounds + 2,
      summary: `cold \`token\` ${fmt(median(cold))} (p10–p90 ${fmt(percentile(cold, 10))}–${fmt(percentile(cold, 90))}) vs cached ${fmt(median(hot))} (p10–p90 ${fmt(percentile(hot, 10))}–${fmt(percentile(hot, 90))}): a cache miss adds ${fmt(overhead)} including the loopback exchange; ${rounds} rounds`,
    };
  } finally {
    await sandbox.close();
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await coldBench({ rounds: Number(process.env.COLD_ROUNDS ?? 20) });
  console.log(r.summary);
  process.exitCode = r.pass ? 0 : 1;
}
