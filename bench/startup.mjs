// Benchmark: start-up of the commands shells and hooks run constantly, each answered from a fresh
// cached token, against `node -e 0`. One interleaved run (node -e 0, token, env, exec --mode token,
// exec, node -e 0, token, …) so machine noise hits every side alike; ratio of medians.
// Targets (issue 10): token ≤ 1.2×, env ≤ 1.3×, `exec --mode token -- true` ≤ 1.5×, `exec -- true` ≤ 1.6×.
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { interleaved, interleavedWithCpu, median, percentile, fmt } from './lib.mjs';

const CASES = [
  { name: 'token', args: ['token'], target: 1.2 },
  { name: 'env', args: ['env'], target: 1.3 },
  { name: 'exec --mode token -- true', args: ['exec', '--mode', 'token', '--', 'true'], target: 1.5 },
  { name: 'exec -- true', args: ['exec', '--', 'true'], target: 1.6 },
];

export async function startupBench({ rounds = 40 } = {}) {
  const bin = fileURLToPath(new URL('../bin/claude-wif', import.meta.url));
  const home = mkdtempSync(join(tmpdir(), 'claude-wif-bench-'));
  const configDir = join(home, '.config', 'anthropic');
  try {
    // A profile and a fresh cached token: no sandbox needed, nothing is exchanged on this path.
    mkdirSync(join(configDir, 'configs'), { recursive: true });
    mkdirSync(join(configDir, 'credentials'), { recursive: true, mode: 0o700 });
    writeFileSync(
      join(configDir, 'configs', 'default.json'),
      JSON.stringify({ version: '1.0', organization_id: '00000000-0000-4000-8000-000000000001', base_url: 'https://api.anthropic.com', authentication: { type: 'oidc_federation', federation_rule_id: 'fdrl_bench', identity_token: { source: 'file', path: join(home, 'jwt') } } }),
    );
    writeFileSync(
      join(configDir, 'credentials', 'default.json'),
      JSON.stringify({ version: '1.0', type: 'oauth_token', access_token: `sk-ant-oat01-benchmark-${randomBytes(12).toString('hex')}`, expires_at: Math.floor(Date.now() / 1000) + 3600 }),
      { mode: 0o600 },
    );
    const env = { PATH: process.env.PATH, HOME: home };
    const cmds = [[process.execPath, ['-e', '0']], ...CASES.map((c) => [process.execPath, [bin, ...c.args]])];
    interleaved(cmds, 3, env); // warm the file cache
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    const { wall, cpuMean } = interleavedWithCpu(cmds, rounds, env);
    const [base, ...times] = wall;
    const loadAfter = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    const stats = (xs) => ({ median: median(xs), p10: percentile(xs, 10), p90: percentile(xs, 90) });
    const results = CASES.map((c, i) => {
      const ratio = median(times[i]) / median(base);
      // CPU time per run against node -e 0's: not the target, but what the command costs apart from waiting for a core.
      const cpuRatio = cpuMean ? cpuMean[i + 1] / cpuMean[0] : undefined;
      return { name: c.name, ...stats(times[i]), ratio, target: c.target, pass: ratio <= c.target, cpu_ms: cpuMean?.[i + 1], cpu_ratio: cpuRatio };
    });
    const spread = (s) => `${fmt(s.median)} (p10–p90 ${fmt(s.p10)}–${fmt(s.p90)})`;
    return {
      name: 'startup: token, env, exec vs `node -e 0`',
      rounds,
      load: { before: load, after: loadAfter },
      node_e0: { ...stats(base), cpu_ms: cpuMean?.[0] },
      results,
      pass: results.every((r) => r.pass),
      summary: [
        `node -e 0 ${spread(stats(base))}`,
        ...results.map((r) => `${r.name} ${spread(r)} ${r.ratio.toFixed(3)}× (target ≤ ${r.target}${r.pass ? '' : ', MISSED'}${r.cpu_ratio ? `; CPU ${r.cpu_ratio.toFixed(2)}×` : ''})`),
        `load average ${load} → ${loadAfter}`,
      ].join('; '),
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await startupBench({ rounds: Number(process.env.ROUNDS ?? 40) });
  console.log(`${r.rounds} interleaved rounds; load average (1/5/15 min) ${r.load.before} before, ${r.load.after} after`);
  const cpu = (ms, ratio) => (ms === undefined ? '' : `   CPU ${fmt(ms)}/run${ratio === undefined ? '' : ` ${ratio.toFixed(2)}×`}`);
  console.log(`  ${'node -e 0'.padEnd(28)} ${fmt(r.node_e0.median).padStart(9)}   p10–p90 ${fmt(r.node_e0.p10)}–${fmt(r.node_e0.p90)}${' '.repeat(32)}${cpu(r.node_e0.cpu_ms)}`);
  for (const x of r.results) {
    console.log(`  ${x.name.padEnd(28)} ${fmt(x.median).padStart(9)}   p10–p90 ${fmt(x.p10)}–${fmt(x.p90)}   ${x.ratio.toFixed(3)}× (target ≤ ${x.target}) ${x.pass ? 'PASS' : 'MISS'}${cpu(x.cpu_ms, x.cpu_ratio)}`);
  }
  process.exitCode = r.pass ? 0 : 1;
}
