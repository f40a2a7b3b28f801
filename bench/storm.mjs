// Benchmark (b): N concurrent cold `claude-wif token` for one profile against the local sandbox.
// Target: the one assertion arrives at the token endpoint exactly once (arrivals: every request
// whose body the sandbox read, answered or not; a client that gave up still counts) and every
// process prints the one token. With a slow endpoint (DELAY_MS: each answer comes that late, after
// the jti is consumed; issue 15 item 12): still 1 arrival, and at least MIN_OK % of the processes
// print the token (100 % by default), the rest failing with a stated error code inside their
// deadline (CLAUDE_WIF_TIMEOUT_MS + the 5 s a lock waiter may add, + START_SLACK_MS for start-up).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSandbox, median, percentile, fmt } from './lib.mjs';

/** Process start-up on a starved 2-core machine (200 node processes at once) is not the deadline's to cover. */
const START_SLACK_MS = 15_000;

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

const loadavg = () => {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
};

export async function stormBench({ n = 50, delayMs = 0, minOkPercent = 100, timeoutMs = 30_000, httpTimeoutMs = 10_000 } = {}) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const bin = join(root, 'bin', 'claude-wif');
  const { startSandbox } = await loadSandbox();
  const sandbox = await startSandbox({ port: 0 });
  sandbox.answerDelayMs = delayMs;
  const home = mkdtempSync(join(tmpdir(), 'claude-wif-storm-'));
  const loadBefore = loadavg();
  try {
    const configDir = join(home, '.config', 'anthropic');
    mkdirSync(join(configDir, 'configs'), { recursive: true });
    const jwt = join(home, 'jwt');
    writeFileSync(jwt, await sandbox.mint(), { mode: 0o600 });
    writeFileSync(join(configDir, 'configs', 'default.json'), JSON.stringify(sandbox.profile({ identityTokenPath: jwt })));
    const env = { PATH: process.env.PATH, HOME: home, CLAUDE_WIF_TIMEOUT_MS: String(timeoutMs), CLAUDE_WIF_HTTP_TIMEOUT_MS: String(httpTimeoutMs) };
    const t0 = process.hrtime.bigint();
    const t0Wall = Date.now();
    // spawn() is synchronous: 200 of them in one tick kept this process (which is also the token
    // endpoint) from reading any request for up to 50 s on a loaded machine, so the holder's answer
    // never came in time. A turn of the event loop between spawns lets the endpoint work, as a
    // real endpoint on another machine would.
    const pending = [];
    for (let i = 0; i < n; i++) {
      pending.push(run(bin, env));
      await new Promise((r) => setImmediate(r));
    }
    const runs = await Promise.all(pending);
    const wall = Number(process.hrtime.bigint() - t0) / 1e6;
    const ok = runs.filter((r) => r.code === 0 && /^sk-ant-oat01-\S+\n$/.test(r.out));
    const failed = runs.filter((r) => !ok.includes(r));
    const failures = failed.length;
    if (failures && process.env.STORM_DEBUG) console.error(failed.slice(0, 3).map((r) => `exit ${r.code}: ${r.err}`).join('\n'));
    // A clear error: the documented "(code, exit n)" line.
    const codes = {};
    for (const r of failed) {
      const m = /\(([a-z_]+), exit (\d+)\)/.exec(r.err);
      const key = m ? m[1] : `unexplained exit ${r.code}`;
      codes[key] = (codes[key] ?? 0) + 1;
    }
    const unexplained = failed.filter((r) => !/\(([a-z_]+), exit (\d+)\)/.test(r.err)).length;
    const bound = timeoutMs + 5_000 + START_SLACK_MS;
    const late = failed.filter((r) => r.ms > bound).length;
    const distinct = new Set(ok.map((r) => r.out)).size;
    const arrivals = sandbox.arrivals.length;
    const firstArrival = sandbox.arrivals[0] ? sandbox.arrivals[0].at - t0Wall : undefined;
    const answers = sandbox.exchanges.length;
    const times = runs.map((r) => r.ms);
    const okPercent = (100 * ok.length) / n;
    const pass = arrivals === 1 && okPercent >= minOkPercent && distinct <= 1 && unexplained === 0 && late === 0;
    const failText = failures ? ` (${Object.entries(codes).map(([k, v]) => `${v} ${k}`).join(', ')}; slowest failure ${fmt(Math.max(...failed.map((r) => r.ms)))}, bound ${fmt(bound)})` : '';
    return {
      name: `storm: ${n} concurrent cold \`token\`${delayMs ? `, answers ${delayMs / 1000} s late` : ''}`,
      n,
      delay_ms: delayMs,
      arrivals,
      first_arrival_ms: firstArrival,
      answers,
      exchanges: answers,
      ok: ok.length,
      failures,
      failure_codes: codes,
      distinct_tokens: distinct,
      wall_ms: wall,
      loadavg: { before: loadBefore, after: loadavg() },
      per_process: { median: median(times), p90: percentile(times, 90), max: Math.max(...times) },
      pass,
      summary: `${n} concurrent cold invocations${delayMs ? ` (each answer ${delayMs} ms late; per-request timeout ${httpTimeoutMs} ms, deadline ${timeoutMs} ms)` : ''}: ${arrivals} arrival(s) of the assertion (target 1)${firstArrival !== undefined ? `, the first ${fmt(firstArrival)} after the start` : ''}, ${answers} answer(s), ${ok.length} printed the token (${okPercent.toFixed(1)} %, target ≥ ${minOkPercent} %), ${failures} failure(s)${failText}, ${distinct} distinct token(s); wall ${fmt(wall)}, per process median ${fmt(median(times))}, p90 ${fmt(percentile(times, 90))}, max ${fmt(Math.max(...times))}; load average ${loadBefore} before, ${loadavg()} after`,
    };
  } finally {
    await sandbox.close();
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await stormBench({
    n: Number(process.env.N ?? 50),
    delayMs: Number(process.env.DELAY_MS ?? 0),
    minOkPercent: Number(process.env.MIN_OK ?? 100),
  });
  console.log(r.summary);
  process.exitCode = r.pass ? 0 : 1;
}
