// Shared helpers for the benchmarks: interleaved runs and robust statistics, so that one noisy
// moment on a 2-core machine does not favour one side of a ratio.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

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
  return interleavedWithCpu(commands, rounds, env).wall;
}

/**
 * CPU time (user + system, ms) of this process's waited-for children and their descendants, from
 * /proc/self/stat (cutime, cstime); undefined where there is no /proc. Clock ticks of 10 ms: only
 * sums over many runs are meaningful.
 */
function childrenCpuMs() {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm)": state is field 3, so cutime (16) and cstime (17) are at 13 and 14 here.
    return ((Number(f[13]) + Number(f[14])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
const CLOCK_TICKS = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout);
  return r.status === 0 && n > 0 ? n : 100;
})();

/**
 * interleaved() that also returns each command's mean CPU time per run (user + system, the
 * process and everything it waited for), or undefined without /proc. CPU time hardly depends on
 * how busy the machine is, so it says what a command costs when the wall clock is dominated by
 * waiting for a core.
 */
export function interleavedWithCpu(commands, rounds, env) {
  const wall = commands.map(() => []);
  const cpu = commands.map(() => 0);
  let cpuKnown = childrenCpuMs() !== undefined;
  for (let r = 0; r < rounds; r++) {
    commands.forEach(([file, args], i) => {
      const c0 = childrenCpuMs();
      const t0 = process.hrtime.bigint();
      const res = spawnSync(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const c1 = childrenCpuMs();
      if (res.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${res.status}: ${res.stderr}`);
      wall[i].push(ms);
      if (c0 === undefined || c1 === undefined) cpuKnown = false;
      else cpu[i] += c1 - c0;
    });
  }
  return { wall, cpuMean: cpuKnown ? cpu.map((c) => c / rounds) : undefined };
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
