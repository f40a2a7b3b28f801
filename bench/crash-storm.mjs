// Crash safety under a kill -9 storm (issue 7, item 3): N concurrent cold `claude-wif token` for
// one profile while the lock holder is killed with SIGKILL in the middle of its work (some while it
// fetches its identity JWT, some while its exchange is in flight) and random other invocations are
// killed too. The identity source is `github-actions` against a local fake that mints a fresh JWT
// on every request (so a killed holder's consumed JWT never blocks the next holder), and both the
// identity endpoint and the token endpoint answer slowly so that the kills land mid-exchange.
//
// Afterwards: the credentials cache is absent or valid JSON with mode 0600; no file under the
// config or cache directory has a group/other permission bit (stray temp files included); no
// surviving invocation took longer than the lock's wait timeout; every survivor printed a token the
// sandbox issued; the token endpoint saw at most one exchange per killed holder, plus one.
//
// `node bench/crash-storm.mjs` (N=200 by default; N, HOLDER_KILLS, RANDOM_KILLS, SEED override);
// test/e2e/crash-storm.test.ts runs the same code with N=40 in the suite.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, loadSandbox, median, percentile } from './lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** mulberry32: the same victims and kill times for the same seed. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The sandbox from the built bundle (as bench/storm.mjs loads it), unless the caller passes one. */
async function loadStartSandbox() {
  return (await loadSandbox()).startSandbox;
}

const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
const closeServer = (server) =>
  new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Every file under `dir` (recursively) with its mode. */
function walk(dir, out = []) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) walk(path, out);
    else out.push({ path, mode: st.mode & 0o777 });
  }
  return out;
}

function readOwner(lockPath) {
  try {
    const o = JSON.parse(readFileSync(lockPath, 'utf8'));
    return typeof o.pid === 'number' ? o : undefined;
  } catch {
    return undefined;
  }
}

export async function crashStorm({
  n = 200,
  holderKills = 6,
  randomKills = Math.round(n / 10),
  seed = 7,
  identityDelayMs = 60,
  exchangeDelayMs = 250,
  timeoutMs = 30_000,
  startSandbox,
} = {}) {
  startSandbox ??= await loadStartSandbox();
  const random = prng(seed);
  const bin = join(ROOT, 'bin', 'claude-wif');
  const sandbox = await startSandbox({ port: 0 });
  const home = mkdtempSync(join(tmpdir(), 'claude-wif-crash-'));
  const servers = [];
  const children = new Map();
  try {
    // GitHub Actions' token service, slow and minting on demand.
    const REQUEST_TOKEN = 'crash-storm-request-token-0123456789';
    const idRequests = [];
    const gh = createServer((req, res) => {
      const r = { at: Date.now(), done: false };
      idRequests.push(r);
      const u = new URL(req.url, 'http://x');
      if (req.headers.authorization !== `Bearer ${REQUEST_TOKEN}`) {
        r.done = true;
        return void res.writeHead(401).end('{}');
      }
      setTimeout(async () => {
        const value = await sandbox.mint({ aud: u.searchParams.get('audience') ?? 'x', lifetimeSeconds: 300 });
        r.done = true;
        res.on('error', () => {});
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count: 1, value }));
      }, identityDelayMs);
    });
    servers.push(gh);
    const ghPort = await listen(gh);

    // The token endpoint, slow: a relay to the sandbox that waits before forwarding.
    const exRequests = [];
    const lockOwnerRef = { current: undefined };
    const relay = createServer((req, res) => {
      const r = { at: Date.now(), done: false, status: 0, owner: lockOwnerRef.current?.()?.pid };
      exRequests.push(r);
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () =>
        setTimeout(() => {
          const up = httpRequest(`${sandbox.url}${req.url}`, { method: req.method, headers: req.headers }, (ur) => {
            r.status = ur.statusCode;
            res.on('error', () => {});
            res.writeHead(ur.statusCode, ur.headers);
            ur.pipe(res);
            ur.on('end', () => (r.done = true));
          });
          up.on('error', () => {
            r.done = true;
            res.destroy();
          });
          up.end(Buffer.concat(chunks));
        }, exchangeDelayMs),
      );
    });
    servers.push(relay);
    const relayPort = await listen(relay);

    const configDir = join(home, '.config', 'anthropic');
    const cacheDir = join(home, 'cache');
    mkdirSync(join(configDir, 'configs'), { recursive: true });
    writeFileSync(
      join(configDir, 'configs', 'default.json'),
      JSON.stringify({ ...sandbox.profile(), base_url: `http://127.0.0.1:${relayPort}`, claude_wif: { identity: { source: 'github-actions' } } }, null, 2),
    );
    const env = {
      PATH: process.env.PATH,
      HOME: home,
      ANTHROPIC_CONFIG_DIR: configDir,
      CLAUDE_WIF_CACHE_DIR: cacheDir,
      CLAUDE_WIF_TIMEOUT_MS: String(timeoutMs),
      ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${ghPort}/_apis/token?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
    };
    // The lock's own wait limit (src/core/credentials.ts: CLAUDE_WIF_TIMEOUT_MS + 5 s).
    const lockWaitMs = timeoutMs + 5_000;

    const t0 = Date.now();
    const all = [];
    const alive = () => all.filter((c) => !c.end && !c.killed);
    const locksDir = join(cacheDir, 'locks');
    const lockOwner = () => {
      let names = [];
      try {
        names = readdirSync(locksDir).filter((f) => f.endsWith('.lock'));
      } catch {
        /* not created yet */
      }
      return names.length ? readOwner(join(locksDir, names[0])) : undefined;
    };
    lockOwnerRef.current = lockOwner;
    const kill = (rec, role, phase) => {
      rec.killed = { role, phase, at: Date.now() - t0 };
      try {
        process.kill(rec.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };

    // Holder kills alternate between the two phases; random kills happen at seeded times over the
    // first ~2 s (while most invocations are still waiting on the lock).
    const phases = Array.from({ length: holderKills }, (_, i) => (i % 2 ? 'identity' : 'exchange'));
    const randomAt = Array.from({ length: randomKills }, () => Math.floor(random() * 2_000)).sort((a, b) => a - b);
    let holderDone = 0;
    let randomDone = 0;
    let spawned = false;
    const stopAt = Date.now() + lockWaitMs + timeoutMs + 30_000;
    const killer = (async () => {
      while (!spawned || all.some((c) => !c.end)) {
        if (Date.now() > stopAt) {
          for (const c of alive()) kill(c, 'runaway', 'after the time limit');
          break;
        }
        const owner = lockOwner();
        const holder = owner && children.get(owner.pid);
        if (holderDone < holderKills && holder && !holder.end && !holder.killed) {
          const phase = phases[holderDone];
          // A request that arrived after this holder took the lock is this holder's: only the lock
          // holder fetches an identity or exchanges.
          const mine = (phase === 'identity' ? idRequests : exRequests).some((r) => !r.done && r.at >= owner.at);
          if (mine) {
            kill(holder, 'holder', phase === 'identity' ? 'fetching its identity JWT' : 'exchange in flight');
            holderDone++;
          }
        }
        while (randomDone < randomKills && Date.now() - t0 >= randomAt[randomDone]) {
          const candidates = alive();
          if (candidates.length) {
            const victim = candidates[Math.floor(random() * candidates.length)];
            const owned = lockOwner()?.pid === victim.pid;
            kill(victim, owned ? 'holder' : 'waiter', owned ? 'random' : 'waiting for the lock');
          }
          randomDone++;
        }
        await sleep(5);
      }
    })();

    // Spawning is synchronous and slow on a loaded machine: yield between spawns so that the local
    // endpoints (in this process) keep answering the invocations already started.
    for (let i = 0; i < n; i++) {
      const c = spawn(process.execPath, [bin, 'token'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const rec = { pid: c.pid, start: Date.now(), end: 0, code: null, signal: null, out: '', err: '', killed: undefined };
      c.stdout.setEncoding('utf8').on('data', (d) => (rec.out += d));
      c.stderr.setEncoding('utf8').on('data', (d) => (rec.err += d));
      rec.exited = new Promise((resolve) =>
        c.on('close', (code, signal) => {
          rec.end = Date.now();
          rec.code = code;
          rec.signal = signal;
          resolve();
        }),
      );
      children.set(c.pid, rec);
      all.push(rec);
      await new Promise((r) => setImmediate(r));
    }
    spawned = true;
    await killer;
    await Promise.all(all.map((c) => c.exited));
    const wall = Date.now() - t0;

    // --- Verdicts ---
    const issued = new Set(sandbox.exchanges.map((e) => e.response?.access_token).filter(Boolean));
    const killed = all.filter((c) => c.killed);
    const survivors = all.filter((c) => !c.killed);
    const badSurvivors = survivors.filter((c) => c.code !== 0 || !/^sk-ant-oat01-[A-Za-z0-9_-]+\n$/.test(c.out) || !issued.has(c.out.trim()));
    const holdersKilled = killed.filter((c) => c.killed.role === 'holder');
    const exchanges = exRequests.length;
    const exchangesOk = exRequests.filter((r) => r.status === 200).length;
    const times = survivors.map((c) => c.end - c.start);
    const maxSurvivorMs = times.length ? Math.max(...times) : 0;
    const credentialsPath = join(configDir, 'credentials', 'default.json');
    // Everything claude-wif wrote: the profile's credentials directory and its cache directory
    // (configs/ holds the non-secret profile this benchmark wrote itself).
    const files = [...walk(join(configDir, 'credentials')), ...walk(cacheDir)];
    const weak = files.filter((f) => f.mode & 0o077);
    // Temp files of the atomic token write (a token inside) vs of lock creation (a pid inside).
    const tempFiles = files.filter((f) => f.path.endsWith('.tmp') && !f.path.startsWith(locksDir));
    const lockTempFiles = files.filter((f) => f.path.endsWith('.tmp') && f.path.startsWith(locksDir));
    // A breaker killed in its few microseconds leaves `.break`; an older release left `.stale`.
    const staleLocks = files.filter((f) => f.path.endsWith('.stale') || f.path.endsWith('.break'));
    let cache = 'absent';
    const credMode = files.find((f) => f.path === credentialsPath)?.mode;
    if (credMode !== undefined) {
      try {
        const doc = JSON.parse(readFileSync(credentialsPath, 'utf8'));
        cache = typeof doc.access_token === 'string' && issued.has(doc.access_token) && credMode === 0o600 ? 'valid JSON, 0600, an issued token' : `INVALID (mode ${credMode.toString(8)})`;
      } catch {
        cache = 'INVALID (not JSON)';
      }
    }
    const problems = [];
    if (badSurvivors.length) problems.push(`${badSurvivors.length} survivor(s) without a valid token: ${badSurvivors.slice(0, 3).map((c) => `exit ${c.code}/${c.signal}: ${c.err.trim().split('\n').pop()}`).join('; ')}`);
    if (cache.startsWith('INVALID')) problems.push(`credentials cache ${cache}`);
    if (weak.length) problems.push(`files with group/other permission bits: ${weak.map((f) => `${f.path} ${f.mode.toString(8)}`).join(', ')}`);
    if (maxSurvivorMs > lockWaitMs) problems.push(`a survivor took ${maxSurvivorMs} ms, more than the lock wait timeout ${lockWaitMs} ms`);
    if (exchanges > holdersKilled.length + 1) problems.push(`${exchanges} exchanges for ${holdersKilled.length} killed holder(s)`);
    if (exchangesOk < 1) problems.push('no exchange succeeded');
    if (holderDone < holderKills) problems.push(`only ${holderDone} of ${holderKills} planned holder kills happened (the storm ended first)`);
    if (killed.some((c) => c.killed.role === 'runaway')) problems.push('invocations still running at the time limit were killed');
    const distinct = new Set(survivors.map((c) => c.out)).size;
    const byPhase = (p) => holdersKilled.filter((c) => c.killed.phase === p).length;
    return {
      name: `crash storm: ${n} concurrent cold \`token\`, kill -9 of lock holders and others`,
      n,
      killed: killed.length,
      holders_killed: holdersKilled.length,
      holders_killed_identity: byPhase('fetching its identity JWT'),
      holders_killed_exchange: byPhase('exchange in flight'),
      holders_killed_random: byPhase('random'),
      waiters_killed: killed.length - holdersKilled.length,
      exchanges,
      exchanges_ok: exchangesOk,
      identity_requests: idRequests.length,
      survivors: survivors.length,
      survivors_ok: survivors.length - badSurvivors.length,
      distinct_tokens: distinct,
      max_survivor_ms: maxSurvivorMs,
      lock_wait_ms: lockWaitMs,
      per_survivor: { median: times.length ? median(times) : 0, p90: times.length ? percentile(times, 90) : 0 },
      wall_ms: wall,
      cache,
      files: files.length,
      weak_files: weak.length,
      temp_files: tempFiles.length,
      lock_temp_files: lockTempFiles.length,
      stale_lock_files: staleLocks.length,
      problems,
      /** Raw timeline for diagnosis (ms since the start): kills, exchanges, survivors' outcomes. */
      timeline: {
        kills: killed.map((c) => ({ pid: c.pid, ...c.killed })),
        exchanges: exRequests.map((r) => ({ at: r.at - t0, status: r.status, lock_owner: r.owner })),
        identity: idRequests.map((r) => r.at - t0),
        survivors: survivors.map((c) => ({ pid: c.pid, start: c.start - t0, end: c.end - t0, code: c.code, token: c.out.trim().slice(-6), err: c.err.trim().split('\n').slice(-3).join(' | ') })),
      },
      pass: problems.length === 0,
      summary:
        `${n} concurrent cold invocations, ${killed.length} killed with SIGKILL (${holdersKilled.length} lock holders: ${byPhase('fetching its identity JWT')} fetching the JWT, ` +
        `${byPhase('exchange in flight')} with the exchange in flight, ${byPhase('random')} by a random kill; ${killed.length - holdersKilled.length} waiters): ` +
        `${exchanges} exchange(s) seen (${exchangesOk} answered 200; bound: killed holders + 1 = ${holdersKilled.length + 1}), ` +
        `${survivors.length - badSurvivors.length}/${survivors.length} survivors printed an issued token (${distinct} distinct); ` +
        `slowest survivor ${fmt(maxSurvivorMs)} (lock wait limit ${fmt(lockWaitMs)}), median ${fmt(times.length ? median(times) : 0)}; ` +
        `cache ${cache}; ${weak.length} file(s) with group/other bits, ${tempFiles.length} stray token temp file(s), ${lockTempFiles.length + staleLocks.length} leftover lock file(s); all done in ${fmt(wall)}`,
    };
  } finally {
    for (const c of children.values()) {
      if (!c.end) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    for (const s of servers) await closeServer(s);
    await sandbox.close();
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const env = process.env;
  const r = await crashStorm({
    n: Number(env.N ?? 200),
    ...(env.HOLDER_KILLS ? { holderKills: Number(env.HOLDER_KILLS) } : {}),
    ...(env.RANDOM_KILLS ? { randomKills: Number(env.RANDOM_KILLS) } : {}),
    ...(env.SEED ? { seed: Number(env.SEED) } : {}),
  });
  console.log(r.summary);
  for (const p of r.problems) console.log(`PROBLEM: ${p}`);
  process.exitCode = r.pass ? 0 : 1;
}
