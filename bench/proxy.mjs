// Benchmarks (c) and (d): what the credential-injecting proxy costs.
//   latency: GET /v1/models at a fixed request rate, direct to the API (the sandbox, with the
//            federated token) and through `claude-wif proxy` (with the session secret), the two
//            interleaved request by request. Added latency = proxy − direct at p50 and p99.
//            Targets: p50 ≤ 0.5 ms, p99 ≤ 2 ms.
//   sse:     POST /v1/messages (stream: true): time from sending the request to the first SSE
//            event, direct vs through the proxy, interleaved. Target: median difference ≤ 1 ms.
// Processes: the sandbox, the proxy (the built binary), a bare Node proxy for reference
// (bench/fixtures/bare-proxy.mjs) and this client, all on loopback. The three sides are interleaved
// request by request, so machine noise hits them alike.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, percentile } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'claude-wif');

/** Spawns the binary (or a script) and resolves with the first complete JSON document it prints on stdout. */
function startJson(args, env, script = bin) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      try {
        resolve({ child, info: JSON.parse(out) });
      } catch {
        /* not complete yet */
      }
    });
    child.on('exit', (code) => reject(new Error(`${args[0]} exited ${code}: ${err}`)));
  });
}

function once(agent, url, { method = 'GET', path = '/v1/models', headers, body, untilFirst } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const t0 = process.hrtime.bigint();
    const req = request({ hostname: u.hostname, port: u.port, method, path, headers, agent }, (res) => {
      if (untilFirst) {
        res.once('data', () => {
          const ms = Number(process.hrtime.bigint() - t0) / 1e6;
          req.destroy();
          resolve({ status: res.statusCode, ms });
        });
        return;
      }
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    // A failed request is a result (status 0), not a crash: the summary counts them.
    req.on('error', (e) => (untilFirst && e.code === 'ECONNRESET' ? undefined : resolve({ status: 0, ms: NaN, error: e.code ?? e.message })));
    req.end(body);
  });
}

export async function proxyBench({ rate = 300, n = 2000, sse = 200 } = {}) {
  const home = mkdtempSync(join(tmpdir(), 'claude-wif-bench-proxy-'));
  const env = { PATH: process.env.PATH, HOME: home };
  const procs = [];
  try {
    const sb = await startJson(['sandbox', '--write-profile', 'bench', '--activate'], env);
    procs.push(sb.child);
    const px = await startJson(['proxy', '--print-secret'], env);
    procs.push(px.child);
    const tok = spawnSync(process.execPath, [bin, 'token'], { env, encoding: 'utf8' });
    if (tok.status !== 0) throw new Error(`token: ${tok.stderr}`);
    const token = tok.stdout.trim();
    const bare = await startJson([], { ...env, TARGET: sb.info.url, TOKEN: token }, join(root, 'bench', 'fixtures', 'bare-proxy.mjs'));
    procs.push(bare.child);
    const reference = { url: bare.info.url, agent: new Agent({ keepAlive: true, maxSockets: 16 }), headers: { 'anthropic-version': '2023-06-01' } };
    const direct = { url: sb.info.url, agent: new Agent({ keepAlive: true, maxSockets: 16 }), headers: { authorization: `Bearer ${token}`, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'oauth-2025-04-20' } };
    const proxied = { url: px.info.url, agent: new Agent({ keepAlive: true, maxSockets: 16 }), headers: { authorization: `Bearer ${px.info.secret}`, 'anthropic-version': '2023-06-01' } };

    // Latency at a fixed rate (open loop: a request is sent every 1/rate s whatever the answers).
    const lat = { direct: [], proxy: [], bare: [] };
    const errors = { direct: 0, proxy: 0, bare: 0 };
    const order = [direct, proxied, reference];
    const run = async (count, record) => {
      const interval = 1000 / rate;
      const start = performance.now();
      const pending = [];
      for (let i = 0; i < count * 3; i++) {
        const due = start + i * interval;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const side = order[i % 3];
        const p = once(side.agent, side.url, { headers: side.headers }).then((r) => {
          if (r.status !== 200) {
            errors[side === direct ? 'direct' : side === proxied ? 'proxy' : 'bare']++;
            return;
          }
          if (record) (side === direct ? lat.direct : side === proxied ? lat.proxy : lat.bare).push(r.ms);
        });
        pending.push(p);
      }
      await Promise.all(pending);
    };
    await run(Math.min(200, n), false); // warm up both paths (JIT, keep-alive sockets)
    await run(n, true);
    const d50 = percentile(lat.direct, 50);
    const p50 = percentile(lat.proxy, 50);
    const d99 = percentile(lat.direct, 99);
    const p99 = percentile(lat.proxy, 99);
    const added50 = p50 - d50;
    const added99 = p99 - d99;
    const b50 = percentile(lat.bare, 50);
    const b99 = percentile(lat.bare, 99);

    // SSE: time to the first event.
    const body = JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const first = { direct: [], proxy: [] };
    for (let i = 0; i < sse + 20; i++) {
      for (const side of i % 2 ? [direct, proxied] : [proxied, direct]) {
        const r = await once(side.agent, side.url, { method: 'POST', path: '/v1/messages', headers: { ...side.headers, 'content-type': 'application/json' }, body, untilFirst: true });
        if (r.status !== 200) throw new Error(`sse status ${r.status}`);
        if (i >= 20) (side === direct ? first.direct : first.proxy).push(r.ms);
      }
    }
    const sseAdded = median(first.proxy) - median(first.direct);
    const f = (x) => `${x.toFixed(3)} ms`;
    return {
      name: `proxy: added latency at ${rate} req/s, SSE first-event delay`,
      rate,
      requests_per_side: n,
      direct: { p50: d50, p99: d99 },
      proxy: { p50, p99 },
      added: { p50: added50, p99: added99 },
      bare_node_proxy: { p50: b50, p99: b99, added_p50: b50 - d50, added_p99: b99 - d99 },
      sse: { direct_median: median(first.direct), proxy_median: median(first.proxy), added_median: sseAdded, p90_direct: percentile(first.direct, 90), p90_proxy: percentile(first.proxy, 90), samples: sse },
      errors,
      pass: added50 <= 0.5 && added99 <= 2 && sseAdded <= 1 && errors.proxy === 0,
      summary:
        `GET /v1/models at ${rate} req/s, ${n} per side: direct p50 ${f(d50)} p99 ${f(d99)}; proxy p50 ${f(p50)} p99 ${f(p99)}; ` +
        `added p50 ${f(added50)} (target ≤ 0.5), p99 ${f(added99)} (target ≤ 2); bare Node proxy for reference: added p50 ${f(b50 - d50)}, p99 ${f(b99 - d99)}. ` +
        `errors: direct ${errors.direct}, proxy ${errors.proxy}, bare ${errors.bare}. ` +
        `SSE first event (${sse} per side): direct median ${f(median(first.direct))}, proxy median ${f(median(first.proxy))}, added ${f(sseAdded)} (target ≤ 1)`,
    };
  } finally {
    for (const c of procs) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await proxyBench({ rate: Number(process.env.RATE ?? 300), n: Number(process.env.N ?? 2000), sse: Number(process.env.SSE ?? 200) });
  console.log(r.summary);
  if (process.env.BENCH_JSON) console.log(JSON.stringify(r, null, 2));
  process.exitCode = r.pass ? 0 : 1;
}
