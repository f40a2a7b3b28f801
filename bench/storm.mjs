// Benchmark (b): N concurrent cold `claude-wif token` for one profile against the local sandbox.
// Target: exactly 1 exchange seen by the token endpoint and 0 failures.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSandbox, median, percentile, fmt } from './lib.mjs';

function run(bin, env) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const c = spawn(process.execPath, [bin, 'token'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => resolve({ code, out, err, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
  });
}

export async function stormBench({ n = 50 } = {}) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const bin = join(root, 'bin', 'claude-wif');
  const { startSandbox } = await loadSandbox();
  const sandbox = await startSandbox({ port: 0 });
  const home = mkdtempSync(join(tmpdir(), 'claude-wif-storm-'));
  try {
    const configDir = join(home, '.config', 'anthropic');
    mkdirSync(join(configDir, 'configs'), { recursive: true });
    const jwt = join(home, 'jwt');
    writeFileSync(jwt, await sandbox.mint(), { mode: 0o600 });
    writeFileSync(join(configDir, 'configs', 'default.json'), JSON.stringify(sandbox.profile({ identityTokenPath: jwt })));
    const env = { PATH: process.env.PATH, HOME: home };
    const t0 = process.hrtime.bigint();
    const runs = await Promise.all(Array.from({ length: n }, () => run(bin, env)));
    const wall = Number(process.hrtime.bigint() - t0) / 1e6;
    const failed = runs.filter((r) => r.code !== 0 || !/^sk-ant-oat01-\S+\n$/.test(r.out));
    const failures = failed.length;
    if (failures && process.env.STORM_DEBUG) console.error(failed.slice(0, 3).map((r) => `exit ${r.code}: ${r.err}`).join('\n'));
    const distinct = new Set(runs.map((r) => r.out)).size;
    const exchanges = sandbox.exchanges.length;
    const times = runs.map((r) => r.ms);
    return {
      name: `storm: ${n} concurrent cold \`token\``,
      n,
      exchanges,
      failures,
      distinct_tokens: distinct,
      wall_ms: wall,
      per_process: { median: median(times), p90: percentile(times, 90), max: Math.max(...times) },
      pass: exchanges === 1 && failures === 0 && distinct === 1,
      summary: `${n} concurrent cold invocations: ${exchanges} exchange(s) (target 1), ${failures} failure(s) (target 0), ${distinct} distinct token(s); all done in ${fmt(wall)}, per process median ${fmt(median(times))}, p90 ${fmt(percentile(times, 90))}`,
    };
  } finally {
    await sandbox.close();
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await stormBench({ n: Number(process.env.N ?? 50) });
  console.log(r.summary);
  process.exitCode = r.pass ? 0 : 1;
}
