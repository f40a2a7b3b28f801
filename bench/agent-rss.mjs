// Benchmark (e): `claude-wif agent` memory over 10 000 refresh cycles. Target: RSS growth ≤ 5 MB.
//
// The agent is the built binary, refreshing a 60 s token (the service's minimum) on its normal
// schedule — every 15 s — with time running K times faster (test/e2e/exec-fixtures/timewarp.mjs,
// the preload the e2e tests use), against the sandbox in this process (same clock). Its identity
// source is a GitHub-Actions-style endpoint here that mints a new JWT per request, so every cycle is
// a real one: identity fetch, preflight, single-use ledger, lock, exchange, cache write, sidecar
// file write, one log line. RSS (VmRSS) is sampled from /proc every 250 cycles; growth is the
// median of the last 1 000 cycles' samples minus the median of cycles 1 000–2 000 (after warm-up).
// Diagnostics: AGENT_NODE_ARGS='--trace-gc' AGENT_STDOUT=/tmp/gc.log shows the agent's collections.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadSandbox, median } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));


const rssKiB = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
};

export async function agentRssBench({ cycles = 10_000, factor = 4000 } = {}) {
  if (!existsSync('/proc/self/status')) return { name: 'agent RSS', pass: true, skipped: true, summary: 'skipped: needs /proc (Linux)' };
  const { startSandbox } = await loadSandbox();
  const t0 = Date.now();
  const warp = () => Math.floor(t0 + (Date.now() - t0) * factor);
  const sandbox = await startSandbox({ port: 0, now: warp });
  for (const r of sandbox.config.rules) r.token_lifetime_seconds = 60;
  const requestToken = 'bench-request-token-0123456789';
  const gh = createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    if (req.headers.authorization !== `Bearer ${requestToken}`) return void res.writeHead(401).end();
    sandbox.mint({ aud: u.searchParams.get('audience'), sub: 'repo:example/app:ref:refs/heads/main' }).then((jwt) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ count: 1, value: jwt }));
    });
  });
  await new Promise((r) => gh.listen(0, '127.0.0.1', r));
  // tmpfs when there is one: the benchmark is about memory, not about fsync on this disk.
  const home = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'claude-wif-bench-agent-'));
  const configDir = join(home, '.config', 'anthropic');
  mkdirSync(join(configDir, 'configs'), { recursive: true });
  writeFileSync(join(configDir, 'configs', 'bench.json'), JSON.stringify({ ...sandbox.profile(), claude_wif: { identity: { source: 'github-actions' } } }));
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    NODE_OPTIONS: `--import=${pathToFileURL(join(root, 'test', 'e2e', 'exec-fixtures', 'timewarp.mjs')).href}${process.env.AGENT_NODE_OPTIONS ? ` ${process.env.AGENT_NODE_OPTIONS}` : ''}`,
    WIF_TIMEWARP_FACTOR: String(factor),
    WIF_TIMEWARP_T0: String(t0),
    ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${gh.address().port}/_apis/token?api-version=2.0`,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken,
    // Timers run `factor` times faster: scale the network deadlines back to their real length.
    CLAUDE_WIF_HTTP_TIMEOUT_MS: String(10_000 * factor),
    CLAUDE_WIF_TIMEOUT_MS: String(30_000 * factor),
  };
  const started = Date.now();
  const agent = spawn(process.execPath, [...(process.env.AGENT_NODE_ARGS ? process.env.AGENT_NODE_ARGS.split(' ') : []), join(root, 'bin', 'claude-wif'), '--profile', 'bench', 'agent', '--dir', join(home, 'shared')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (process.env.AGENT_STDOUT) agent.stdout.pipe((await import('node:fs')).createWriteStream(process.env.AGENT_STDOUT));
  const samples = [];
  let refreshes = 0;
  let warnings = 0;
  const firstWarnings = [];
  let buf = '';
  const done = new Promise((resolve, reject) => {
    agent.on('exit', (code, signal) => resolve({ code, signal }));
    agent.on('error', reject);
  });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${refreshes} refreshes after 15 min`)), 15 * 60_000);
    agent.stderr.setEncoding('utf8').on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.includes('" refreshed (')) {
          refreshes++;
          if (refreshes % 250 === 0) samples.push({ cycle: refreshes, kib: rssKiB(agent.pid) });
          if (refreshes >= cycles + 1) {
            clearTimeout(timer);
            resolve();
          }
        } else if (line.includes('warning:')) {
          warnings++;
          if (firstWarnings.length < 3) firstWarnings.push(line.slice(0, 300));
        }
      }
    });
    agent.on('exit', (code) => reject(new Error(`agent exited ${code} after ${refreshes} refreshes: ${buf}`)));
  });
  const wall = (Date.now() - started) / 1000;
  agent.kill('SIGTERM');
  const exit = await done;
  const exchanges = sandbox.exchanges.length;
  const failed = sandbox.exchanges.filter((e) => e.status !== 200).length;
  await sandbox.close();
  gh.close();
  rmSync(home, { recursive: true, force: true });
  const at = (lo, hi) => median(samples.filter((s) => s.cycle >= lo && s.cycle <= hi).map((s) => s.kib));
  const base = at(1000, 2000);
  const end = at(cycles - 1000, cycles);
  const max = Math.max(...samples.map((s) => s.kib));
  const growthMiB = (end - base) / 1024;
  const mib = (k) => `${(k / 1024).toFixed(1)} MiB`;
  return {
    name: `agent RSS over ${cycles} refresh cycles`,
    cycles: refreshes - 1,
    exchanges,
    failed_exchanges: failed,
    warnings,
    first_warnings: firstWarnings,
    wall_s: wall,
    rss_kib: { after_1000_2000: base, last_1000: end, max },
    growth_mib: growthMiB,
    exit,
    samples,
    pass: growthMiB <= 5 && exit.code === 0 && failed === 0,
    summary: `${refreshes - 1} refresh cycles (${exchanges} exchanges, ${failed} failed, ${warnings} warnings) in ${wall.toFixed(0)} s: RSS ${mib(base)} at cycles 1000–2000, ${mib(end)} over the last 1000, max ${mib(max)}; growth ${growthMiB.toFixed(2)} MiB (target ≤ 5); SIGTERM → exit ${exit.code}`,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await agentRssBench({ cycles: Number(process.env.CYCLES ?? 10_000), factor: Number(process.env.FACTOR ?? 4000) });
  console.log(r.summary);
  if (process.env.BENCH_JSON) console.log(JSON.stringify(r, null, 2));
  process.exitCode = r.pass ? 0 : 1;
}
