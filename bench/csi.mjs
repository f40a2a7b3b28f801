// Benchmark: `claude-wif csi-provider` at fleet scale, against the sandbox in this process, with
// this process playing the Secrets Store CSI driver (a gRPC client built from src/csi/v1alpha1.proto
// over the provider's unix socket) and kubelet (pod-bound service-account JWTs from the sandbox
// issuer, one service account identity per pod).
//
//   1. 100 pods mount at once, each with its own service-account token: all must succeed; wall
//      time from the first Mount sent to the last answer, and the exchanges the sandbox saw.
//   2. 1 000 pods' tokens cached: the provider's RSS (VmRSS) must be ≤ 80 MB.
//   3. 10 000 more Mounts (10 rotation rounds over the 1 000 pods; in each round a tenth of the
//      pods present a renewed service-account token, so 1 000 exchanges and 9 000 reuses): RSS
//      sampled after every round must stay flat (last − first ≤ 5 MB).
//   4. The same 100 pods with `claude-wif agent` sidecars instead (AGENTS, default 100): each agent
//      reads its own projected token file, exchanges, writes its sidecar directory; total RSS of the
//      agents once every one has written its first token, and their exchanges.
// Alone: `node bench/csi.mjs` (after `npm run build`); AGENTS=10 for a lighter comparison;
// PROVIDER_NODE_OPTIONS= (empty) measures the provider without the DaemonSet's NODE_OPTIONS.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { loadSandbox } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(root, 'bin', 'claude-wif');
const AUDIENCE = 'https://api.anthropic.com';
const RULE = 'fdrl_k8sbench';

/** NODE_OPTIONS of the deployed DaemonSet (deploy/manifests/provider.yaml): the provider is measured as deployed. */
function deployedNodeOptions() {
  const text = readFileSync(join(root, 'deploy/manifests/provider.yaml'), 'utf8');
  const m = /- name: NODE_OPTIONS\n\s+value: "?([^"\n]*)"?/.exec(text);
  return m ? m[1] : '';
}

const rssKiB = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
};
const mb = (kib) => `${(kib / 1024).toFixed(1)} MiB`;

async function driverClient(socket) {
  const grpc = await import('@grpc/grpc-js');
  const loader = await import('@grpc/proto-loader');
  const def = loader.loadSync(join(root, 'src/csi/v1alpha1.proto'), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const Client = grpc.loadPackageDefinition(def).v1alpha1.CSIDriverProvider;
  const client = new Client(`unix:${socket}`, grpc.credentials.createInsecure());
  return {
    mount: (attributes) =>
      new Promise((resolve, reject) =>
        client.Mount({ attributes, secrets: '{}', target_path: '/var/lib/kubelet/pods/x/volumes/kubernetes.io~csi/anthropic/mount', permission: '420', current_object_version: [] }, { deadline: Date.now() + 120_000 }, (err, res) => (err ? reject(err) : resolve(res))),
      ),
    close: () => client.close(),
  };
}

function newPod(i) {
  return { name: `worker-${i}`, namespace: 'apps', uid: randomUUID(), sa: `sa-${i}` };
}

function saToken(sandbox, pod) {
  return sandbox.mint({
    sub: `system:serviceaccount:${pod.namespace}:${pod.sa}`,
    aud: [AUDIENCE],
    lifetimeSeconds: 3600,
    claims: { 'kubernetes.io': { namespace: pod.namespace, pod: { name: pod.name, uid: pod.uid }, serviceaccount: { name: pod.sa, uid: pod.uid } } },
  });
}

function attributes(sandbox, pod, token) {
  return JSON.stringify({
    organizationId: sandbox.config.organization_id,
    federationRuleId: RULE,
    serviceAccountId: 'svac_sandbox',
    workspaceId: 'default',
    baseUrl: sandbox.url,
    'csi.storage.k8s.io/pod.name': pod.name,
    'csi.storage.k8s.io/pod.namespace': pod.namespace,
    'csi.storage.k8s.io/pod.uid': pod.uid,
    'csi.storage.k8s.io/serviceAccount.name': pod.sa,
    'csi.storage.k8s.io/serviceAccount.tokens': JSON.stringify({ [AUDIENCE]: { token, expirationTimestamp: '2030-01-01T00:00:00Z' } }),
  });
}

function waitForLine(child, what, ms = 60_000) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out.split('\n')[0]);
      }
    });
    child.once('exit', (code) => reject(new Error(`${what}: exited ${code}`)));
  });
}

async function agentsBench(sandbox, n, base) {
  const agents = [];
  const before = sandbox.exchanges.length;
  const started = Date.now();
  try {
    // Started in batches of 10 so a loaded 2-core machine is not asked to boot 100 Node processes at once.
    for (let b = 0; b < n; b += 10) {
      const batch = [];
      for (let i = b; i < Math.min(n, b + 10); i++) {
        const pod = newPod(i);
        const home = join(base, `agent-${i}`);
        const configDir = join(home, '.config', 'anthropic');
        mkdirSync(join(configDir, 'configs'), { recursive: true });
        const tokenFile = join(home, 'sa-token');
        writeFileSync(tokenFile, await saToken(sandbox, pod), { mode: 0o600 });
        const profile = { ...sandbox.profile({ identityTokenPath: tokenFile, ruleId: RULE }), workspace_id: 'default' };
        writeFileSync(join(configDir, 'configs', 'default.json'), JSON.stringify(profile));
        const dir = join(home, 'shared');
        const child = spawn(process.execPath, [BIN, 'agent', '--dir', dir], { env: { PATH: process.env.PATH, HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
        let err = '';
        child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
        const first = new Promise((resolve, reject) => {
          const t = setInterval(() => {
            if (existsSync(join(dir, 'credentials', 'default.json'))) {
              clearInterval(t);
              resolve();
            } else if (child.exitCode !== null) {
              clearInterval(t);
              reject(new Error(`agent ${i} exited: ${err}`));
            }
          }, 50);
        });
        agents.push(child);
        batch.push(Promise.all([waitForLine(child, `agent ${i}`), first]));
      }
      await Promise.all(batch);
    }
    const wall = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 1000));
    const rss = agents.map((a) => rssKiB(a.pid));
    return { n, wall, totalKiB: rss.reduce((a, b) => a + b, 0), medianKiB: rss.sort((a, b) => a - b)[Math.floor(rss.length / 2)], exchanges: sandbox.exchanges.length - before };
  } finally {
    for (const a of agents) if (a.exitCode === null) a.kill('SIGTERM');
    await Promise.all(agents.map((a) => (a.exitCode === null ? new Promise((r) => a.once('exit', r)) : null)));
  }
}

export async function csiBench({ pods = 100, cached = 1000, mounts = 10_000, agents = 100 } = {}) {
  if (!existsSync('/proc/self/status')) return { name: 'csi-provider', pass: true, skipped: true, summary: 'skipped: needs /proc (Linux)' };
  const { startSandbox } = await loadSandbox();
  const sandbox = await startSandbox({ port: 0 });
  sandbox.config.rules.push({ id: RULE, issuer_id: 'fdis_sandbox', service_account_id: 'svac_sandbox', match: { subject_prefix: 'system:serviceaccount:apps:*', audience: AUDIENCE } });
  const base = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'claude-wif-bench-csi-'));
  const socket = join(base, 'providers', 'claude-wif.sock');
  const provider = spawn(process.execPath, [BIN, 'csi-provider', '--socket', socket], { env: { PATH: process.env.PATH, HOME: base, NODE_OPTIONS: process.env.PROVIDER_NODE_OPTIONS ?? deployedNodeOptions(), ...(process.env.MALLOC_ARENA_MAX ? { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX } : {}) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let providerErr = '';
  provider.stderr.setEncoding('utf8').on('data', (d) => (providerErr = (providerErr + d).slice(-4000)));
  let client;
  try {
    await waitForLine(provider, 'the provider');
    client = await driverClient(socket);
    const idleKiB = rssKiB(provider.pid);

    // 1. 100 pods at once.
    const burst = Array.from({ length: pods }, (_, i) => newPod(i));
    const burstTokens = await Promise.all(burst.map((p) => saToken(sandbox, p)));
    const burstAttrs = burst.map((p, i) => attributes(sandbox, p, burstTokens[i]));
    let ex0 = sandbox.exchanges.length;
    const t0 = process.hrtime.bigint();
    const burstRes = await Promise.all(burstAttrs.map((a) => client.mount(a)));
    const burstMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const burstOk = burstRes.filter((r) => !r.error && r.files.length === 5).length;
    const burstExchanges = sandbox.exchanges.length - ex0;

    // 2. Up to 1 000 cached pods (the 100 above included), in waves of 100.
    const fleet = [...burst.map((p, i) => ({ pod: p, token: burstTokens[i] }))];
    for (let i = pods; i < cached; i += 100) {
      const wave = Array.from({ length: Math.min(100, cached - i) }, (_, k) => newPod(i + k));
      const tokens = await Promise.all(wave.map((p) => saToken(sandbox, p)));
      const res = await Promise.all(wave.map((p, k) => client.mount(attributes(sandbox, p, tokens[k]))));
      if (res.some((r) => r.error)) {
        const denied = sandbox.exchanges.filter((e) => e.status !== 200).map((e) => `${e.reason}: ${e.detail}`);
        throw new Error(`a Mount failed while caching: ${res.find((r) => r.error).error.code} (sandbox: ${denied.slice(-3).join('; ')})`);
      }
      wave.forEach((p, k) => fleet.push({ pod: p, token: tokens[k] }));
    }
    await new Promise((r) => setTimeout(r, 500));
    const cachedKiB = rssKiB(provider.pid);

    // 3. 10 000 more Mounts: rounds over the fleet, a tenth renewing its service-account token.
    const rounds = Math.ceil(mounts / fleet.length);
    const samples = [];
    ex0 = sandbox.exchanges.length;
    let failed = 0;
    let done = 0;
    const failures = new Map();
    for (let r = 0; r < rounds; r++) {
      const renew = new Set(fleet.map((_, i) => i).filter((i) => i % 10 === r % 10));
      for (const i of renew) fleet[i].token = await saToken(sandbox, fleet[i].pod);
      for (let i = 0; i < fleet.length && done < mounts; i += 100) {
        const slice = fleet.slice(i, Math.min(i + 100, i + mounts - done));
        const res = await Promise.all(slice.map((f) => client.mount(attributes(sandbox, f.pod, f.token))));
        failed += res.filter((x) => x.error).length;
        for (const x of res.filter((y) => y.error)) failures.set(x.error.code, (failures.get(x.error.code) ?? 0) + 1);
        done += slice.length;
      }
      samples.push(rssKiB(provider.pid));
    }
    const churnExchanges = sandbox.exchanges.length - ex0;
    const denials = [...new Set(sandbox.exchanges.slice(ex0).filter((e) => e.status !== 200).map((e) => `${e.reason}: ${e.detail}`))];
    const growthKiB = samples.at(-1) - samples[0];
    const maxKiB = Math.max(cachedKiB, ...samples);

    // 4. The same pods with agent sidecars.
    const a = agents > 0 ? await agentsBench(sandbox, agents, base) : undefined;

    const pass = burstOk === pods && burstExchanges === pods && cachedKiB <= 80e6 / 1024 && failed === 0 && growthKiB <= 5e6 / 1024;
    const summary =
      `${pods} pods at once: ${burstOk}/${pods} ok in ${(burstMs / 1000).toFixed(2)} s wall, ${burstExchanges} exchanges; ` +
      `RSS (NODE_OPTIONS=${process.env.PROVIDER_NODE_OPTIONS ?? deployedNodeOptions()}) ${mb(idleKiB)} idle, ${mb(cachedKiB)} with ${fleet.length} pods cached (target ≤ 80 MB); ` +
      `${done} more Mounts (${churnExchanges} exchanges, ${done - churnExchanges - failed} reuses, ${failed} failed${failed ? ` [${[...failures].map(([k, v]) => `${k} ×${v}`).join(', ')}; sandbox: ${denials.slice(0, 3).join('; ')}]` : ''}): RSS per round ${samples.map((s) => (s / 1024).toFixed(1)).join(' ')} MiB, growth ${(growthKiB / 1024).toFixed(1)} MiB (target ≤ 5), max ${mb(maxKiB)}` +
      (a ? `; vs ${a.n} agent sidecars: ${mb(a.totalKiB)} total (median ${mb(a.medianKiB)} each), ${a.exchanges} exchanges, all started in ${a.wall.toFixed(1)} s` : '');
    return { name: 'csi-provider', pass, summary, burst: { pods, ok: burstOk, wall_ms: burstMs, exchanges: burstExchanges }, rss_kib: { idle: idleKiB, cached: cachedKiB, rounds: samples, growth: growthKiB }, churn: { mounts: done, exchanges: churnExchanges, failed }, agents: a };
  } catch (err) {
    return { name: 'csi-provider', pass: false, summary: `failed: ${err.message}; provider stderr tail: ${providerErr.slice(-500)}` };
  } finally {
    client?.close();
    if (provider.exitCode === null) {
      provider.kill('SIGTERM');
      await new Promise((r) => provider.once('exit', r));
    }
    await sandbox.close();
    rmSync(base, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await csiBench({ agents: Number(process.env.AGENTS ?? 100), mounts: Number(process.env.MOUNTS ?? 10_000), cached: Number(process.env.CACHED ?? 1000) });
  console.log(`${r.pass ? 'PASS' : 'MISS'}  ${r.summary}`);
  if (process.env.BENCH_JSON) console.log(JSON.stringify(r, null, 2));
  process.exitCode = r.pass ? 0 : 1;
}
