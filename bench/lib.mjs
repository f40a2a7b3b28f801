// Shared helpers for the benchmarks: interleaved runs and robust statistics, so that one noisy
// moment on a 2-core machine does not favour one side of a ratio.
import { spawnSync } from 'node:child_process';

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** Runs each command `rounds` times, interleaved (A B A B …), returns wall times in ms per command. */
export function interleaved(commands, rounds, env) {
  const times = commands.map(() => []);
  for (let r = 0; r < rounds; r++) {
    commands.forEach(([file, args], i) => {
      const t0 = process.hrtime.bigint();
      const res = spawnSync(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (res.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${res.status}: ${res.stderr}`);
      times[i].push(ms);
    });
  }
  return times;
}

export const fmt = (ms) => `${ms.toFixed(1)} ms`;

/**
 * The sandbox module for the benchmarks, bundled fresh from src/sandbox (esbuild takes ~0.1 s), so
 * a benchmark never runs against a stale sandbox left in dist/ by an older build.
 */
export async function loadSandbox() {
  const { build } = await import('esbuild');
  const { fileURLToPath, pathToFileURL } = await import('node:url');
  const { join } = await import('node:path');
  const root = fileURLToPath(new URL('..', import.meta.url));
  const out = join(root, 'dist', 'sandbox-bench.mjs');
  await build({ entryPoints: [join(root, 'src/sandbox/server.ts')], outfile: out, bundle: true, platform: 'node', format: 'esm', target: 'node20.19', logLevel: 'warning' });
  return import(pathToFileURL(out).href);
}
