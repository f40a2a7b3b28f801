// Benchmark (a): `claude-wif token` answered from a fresh cached token, against `node -e 0`.
// Target: median wall-clock ratio ≤ 1.2. Runs are interleaved so machine noise hits both sides.
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { interleaved, median, percentile, fmt } from './lib.mjs';

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
    const cmds = [
      [process.execPath, ['-e', '0']],
      [process.execPath, [bin, 'token']],
    ];
    interleaved(cmds, 3, env); // warm the file cache
    const [base, tok] = interleaved(cmds, rounds, env);
    const ratio = median(tok) / median(base);
    return {
      name: 'startup: hot `token` vs `node -e 0`',
      rounds,
      node_e0: { median: median(base), p10: percentile(base, 10), p90: percentile(base, 90) },
      token: { median: median(tok), p10: percentile(tok, 10), p90: percentile(tok, 90) },
      ratio,
      target: 1.2,
      pass: ratio <= 1.2,
      summary: `node -e 0 ${fmt(median(base))} (p10–p90 ${fmt(percentile(base, 10))}–${fmt(percentile(base, 90))}); claude-wif token ${fmt(median(tok))} (p10–p90 ${fmt(percentile(tok, 10))}–${fmt(percentile(tok, 90))}); ratio ${ratio.toFixed(3)} (target ≤ 1.2)`,
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await startupBench({ rounds: Number(process.env.ROUNDS ?? 40) });
  console.log(r.summary);
  process.exitCode = r.pass ? 0 : 1;
}
