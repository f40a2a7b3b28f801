import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/util/fsx.js';
import { runBin } from '../helpers/cli.js';
import { table } from '../helpers/faults.js';
import { appServicePeer, closedPort, githubPeer, noCloud, type Peer } from '../helpers/platforms.js';
import { nodeChild, PROFILE, spawnBin, startWorld, waitUntil, type Spawned, type WifWorld } from './exec-helpers.js';

// Issue 7 item 1: the secret canary sweep. Every command and mode runs through the built binary
// with recognisable canaries in play, and nothing secret may appear in
//   - stderr (logs, warnings, errors, --debug), or in stdout of anything but the commands whose
//     result *is* a secret (token, env, credential-process, identity --raw, proxy --print-secret);
//   - the argv (/proc/<pid>/cmdline) of any claude-wif process or exec child;
//   - any file under the temporary HOME (config, cache, TMPDIR for exec's private dirs, agent dir)
//     that is not 0600 in a 0700 directory — a file holding a canary must be both.
// Canaries: every identity JWT the sandbox minted (whole, its payload segment and its signature),
// every access token the sandbox issued, an `sk-ant-oat01-CANARY…` token answered by an injected
// fault, each proxy session secret (exec --mode proxy, `proxy`, `agent --proxy`), a canary
// ANTHROPIC_API_KEY in every environment, a GitHub Actions request token, an Azure App Service
// IDENTITY_HEADER, malformed/expired canary JWTs, and canary secrets a client sends the proxy.
// A canary "appears" when the whole value or its last 16 characters do.

const rand = (n: number) => randomBytes(n).toString('base64url').replace(/[-_]/g, 'x');
const API_KEY = `sk-ant-api03-CANARYKEY${rand(24)}`;
const GH_REQUEST = `ghreq-CANARY-${rand(24)}`;
const AZ_HEADER = `azhdr-CANARY-${rand(24)}`;
const FAULT_TOKEN = `sk-ant-oat01-CANARYFAULT${rand(32)}`;
const MALFORMED_JWT = `eyJhbGciOiJSUzI1NiJ9.eyJCANARYMALFORMED${rand(24)}.${rand(32)}`;
const BAD_PROXY_SECRET = `proxybad-CANARY-${rand(24)}`;
const BAD_PROXY_KEY = `sk-ant-api03-CANARYPROXYKEY${rand(24)}`;

const TAIL = 16;

interface Output {
  cmd: string;
  path: string;
  code: number | null;
  expect?: number | undefined;
  stdout: string;
  stderr: string;
  stdoutLegit: boolean;
}
interface FileSnap {
  at: string;
  path: string;
  mode: number;
  dirMode: number;
  content: string;
}

let world: WifWorld | undefined;
const peers: Peer[] = [];
let outDir = '';
const running: Spawned[] = [];
afterAll(async () => {
  for (const s of running) {
    if (s.child.exitCode === null && s.child.signalCode === null) {
      try {
        process.kill(-s.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  for (const p of peers) await p.close();
  await world?.stop();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

describe('secret canary sweep', () => {
  it(
    'no canary in stderr, reports, argv or any file that is not 0600 in a 0700 directory, across every command and mode',
    async () => {
      const t0 = Date.now();
      world = await startWorld();
      const w = world;
      const home = w.home.home;
      // Files written by the test itself that hold canaries live outside HOME.
      outDir = mkdtempSync(join(tmpdir(), 'claude-wif-canary-out-'));
      const tmp = join(home, 'tmp');
      mkdirSync(tmp, { mode: 0o700 });
      const dead = await closedPort();
      const minted: string[] = [];
      const mint = (o?: Parameters<WifWorld['sandbox']['mint']>[0]) =>
        w.sandbox.mint(o).then((j) => {
          minted.push(j);
          return j;
        });
      const gh = await githubPeer(mint, GH_REQUEST);
      const app = await appServicePeer(mint, AZ_HEADER);
      peers.push(gh, app);

      // The audit trail (issue 14) is on for every run: its file is swept with the rest of HOME.
      const auditLog = join(home, 'audit', 'exchanges.jsonl');
      const env: Record<string, string> = { ...w.env, ...noCloud(dead), TMPDIR: tmp, ANTHROPIC_API_KEY: API_KEY, CLAUDE_WIF_AUDIT_LOG: auditLog };
      const ghEnv = { ...env, ACTIONS_ID_TOKEN_REQUEST_URL: gh.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: GH_REQUEST };
      const appEnv = { ...env, IDENTITY_ENDPOINT: app.endpoint, IDENTITY_HEADER: AZ_HEADER };

      // Profiles for the other sources and the error paths.
      const configs = join(w.home.configDir, 'configs');
      const writeProfile = (name: string, extra: Record<string, unknown>, opts: Parameters<WifWorld['sandbox']['profile']>[0] = {}) =>
        writeFileSync(join(configs, `${name}.json`), JSON.stringify({ ...w.sandbox.profile(opts), ...extra }, null, 2), { mode: 0o600 });
      const idFile = (name: string, jwt: string, mode = 0o600, dir = join(home, 'identity')) => {
        const p = join(dir, `${name}.jwt`);
        writeFileAtomic(p, `${jwt}\n`, mode);
        chmodSync(p, mode);
        return p;
      };
      writeProfile('gh', { claude_wif: { identity: { source: 'github-actions' } } });
      writeProfile('app', { claude_wif: { identity: { source: 'azure-app-service' } } });
      writeProfile('static', {}, { identityTokenPath: idFile('static', await mint({ lifetimeSeconds: 300 })) });
      writeProfile('malformed', {}, { identityTokenPath: idFile('malformed', MALFORMED_JWT) });
      writeProfile('expired', {}, { identityTokenPath: idFile('expired', await mint({ iat: Math.floor(Date.now() / 1000) - 7200, lifetimeSeconds: 300 })) });
      writeProfile('insecure', {}, { identityTokenPath: idFile('insecure', await mint({ lifetimeSeconds: 300 }), 0o666, outDir) });
      writeProfile('dead', { base_url: `http://127.0.0.1:${dead}` }, { identityTokenPath: join(home, 'identity', 'token.jwt') });

      // The identity file rotates every 200 ms: an exchange right after another waits for a JWT nobody sent yet.
      const idPath = join(home, 'identity', 'token.jwt');
      const nextIdentity = async () => {
        const cur = readFileSync(idPath, 'utf8');
        await waitUntil(() => readFileSync(idPath, 'utf8') !== cur, 'the identity file to rotate', 5_000);
      };
      const outputs: Output[] = [];
      const argvs: Array<{ what: string; text: string }> = [];
      const files: FileSnap[] = [];
      const extraCanaries: Array<[string, string]> = [];
      const problems: string[] = [];

      const snapshot = (at: string) => {
        const walk = (d: string) => {
          let names: string[];
          try {
            names = readdirSync(d);
          } catch {
            return;
          }
          for (const n of names) {
            const p = join(d, n);
            let st;
            try {
              st = statSync(p);
            } catch {
              continue;
            }
            if (st.isDirectory()) walk(p);
            else if (st.isFile()) {
              try {
                files.push({ at, path: p.slice(home.length + 1), mode: st.mode & 0o777, dirMode: statSync(dirname(p)).mode & 0o777, content: readFileSync(p, 'latin1') });
              } catch {
                /* removed meanwhile */
              }
            }
          }
        };
        walk(home);
      };
      const cmdline = (pid: number) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
        } catch {
          return '';
        }
      };

      /** Every live descendant of pid (from /proc/<pid>/stat's ppid field). */
      const descendants = (root: number): number[] => {
        const parent = new Map<number, number>();
        for (const n of readdirSync('/proc')) {
          if (!/^\d+$/.test(n)) continue;
          try {
            const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
            parent.set(Number(n), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
          } catch {
            /* gone */
          }
        }
        const out: number[] = [];
        const walkPids = (p: number) => {
          for (const [c, pp] of parent) if (pp === p) (out.push(c), walkPids(c));
        };
        walkPids(root);
        return out;
      };
      const argvTree = (what: string, pid: number) => {
        argvs.push({ what: `${what}: argv`, text: cmdline(pid) });
        for (const d of descendants(pid)) argvs.push({ what: `${what}: descendant ${d} argv`, text: cmdline(d) });
      };

      const cli = async (cmd: string, path: string, args: string[], e: Record<string, string>, opts: { legit?: boolean; expect?: number } = {}) => {
        const r = await runBin(args, e, { cwd: home, timeoutMs: 20_000 });
        outputs.push({ cmd, path, code: r.code, expect: opts.expect, stdout: r.stdout, stderr: r.stderr, stdoutLegit: Boolean(opts.legit) });
        return r;
      };

      // ── the default (file source) profile: every read and credential command, plain and --debug ──
      const legit = { legit: true, expect: 0 };
      await cli('token', 'plain', ['token'], env, legit);
      await cli('token', '--debug', ['token', '--debug'], env, legit);
      await nextIdentity();
      await cli('token', '--format json --force-refresh --debug', ['token', '--format', 'json', '--force-refresh', '--debug'], env, legit);
      await cli('env', 'plain', ['env'], env, legit);
      await cli('env', '--format json --target claude-code --debug', ['env', '--format', 'json', '--target', 'claude-code', '--debug'], env, legit);
      await cli('env', '--format github --debug', ['env', '--format', 'github', '--debug'], { ...env, GITHUB_ENV: join(outDir, 'github_env') }, { legit: true });
      await cli('credential-process', '--debug', ['credential-process', '--debug'], env, legit);
      await cli('status', 'plain', ['status'], env);
      await cli('status', '--json --debug', ['status', '--json', '--debug'], env, { expect: 0 });
      await cli('identity', 'plain --debug', ['identity', '--debug'], env, { expect: 0 });
      await cli('identity', '--json', ['identity', '--json'], env, { expect: 0 });
      await cli('identity', '--raw', ['identity', '--raw'], env, legit);
      await cli('doctor', 'plain --debug', ['doctor', '--debug'], env);
      await cli('doctor', '--json', ['doctor', '--json'], env);
      await cli('profiles', 'list', ['profiles', 'list'], env, { expect: 0 });
      await cli('profiles', 'list --json', ['profiles', 'list', '--json'], env, { expect: 0 });
      await cli('profiles', 'show --json --debug', ['profiles', 'show', '--json', '--debug'], env, { expect: 0 });
      await cli('profiles', 'use', ['profiles', 'use', PROFILE], env, { expect: 0 });
      await cli('cache', 'list', ['cache', 'list'], env, { expect: 0 });
      await cli('cache', 'list --json --debug', ['cache', 'list', '--json', '--debug'], env, { expect: 0 });
      const org = String(w.sandbox.profile({}).organization_id);
      await cli('configure', 'flags --debug', ['configure', '--profile', 'cfg', '--organization-id', org, '--federation-rule-id', 'fdrl_sandbox', '--service-account-id', 'svac_sandbox', '--workspace-id', 'default', '--base-url', w.sandbox.url, '--identity-token-file', join(home, 'identity', 'token.jwt'), '--debug'], env, { expect: 0 });
      await cli('completion', 'bash', ['completion', 'bash'], env, { expect: 0 });
      await cli('token', 'usage error', ['token', '--format', 'nope', '--debug'], env, { expect: 2 });
      snapshot('after the read commands');

      // ── error paths ──
      await cli('token', 'replayed: first use', ['--profile', 'static', 'token'], env, legit);
      await cli('cache', 'clear --json', ['--profile', 'static', 'cache', 'clear', '--json'], env, { expect: 0 });
      await cli('token', 'replayed --debug', ['--profile', 'static', 'token', '--debug'], env, { expect: 3 });
      await cli('token', 'replayed --format json', ['--profile', 'static', 'token', '--format', 'json'], env, { legit: false, expect: 3 });
      await cli('token', 'invalid JWT --debug', ['--profile', 'malformed', 'token', '--debug'], env, { expect: 3 });
      await cli('identity', 'invalid JWT --json --debug', ['--profile', 'malformed', 'identity', '--json', '--debug'], env);
      await cli('status', 'invalid JWT --json', ['--profile', 'malformed', 'status', '--json'], env);
      await cli('token', 'expired JWT --debug', ['--profile', 'expired', 'token', '--debug'], env, { expect: 3 });
      await cli('identity', 'expired JWT --json', ['--profile', 'expired', 'identity', '--json'], env);
      await cli('token', 'insecure file --debug', ['--profile', 'insecure', 'token', '--debug'], env, { expect: 6 });
      await cli('doctor', 'insecure file --json', ['--profile', 'insecure', 'doctor', '--json'], env);
      await cli('token', 'unreachable --debug', ['--profile', 'dead', 'token', '--debug'], { ...env, CLAUDE_WIF_TIMEOUT_MS: '3000' }, { expect: 5 });
      await cli('doctor', 'unreachable --json --debug', ['--profile', 'dead', 'doctor', '--json', '--debug'], { ...env, CLAUDE_WIF_TIMEOUT_MS: '3000' });
      // Denied, with a body echoing a JWT, the assertion field and a token.
      const echoed = await mint();
      w.sandbox.injectFault({
        status: 401,
        count: 2,
        body: JSON.stringify({ type: 'error', error: { type: 'authentication_error', message: `bad assertion ${echoed} for ${FAULT_TOKEN}` }, assertion: echoed, access_token: FAULT_TOKEN }),
      });
      await nextIdentity();
      await cli('token', 'denied (echoing body) --debug', ['token', '--force-refresh', '--debug'], env, { expect: 4 });
      await nextIdentity();
      await cli('token', 'denied --format json', ['token', '--force-refresh', '--format', 'json'], env, { expect: 4 });
      w.sandbox.clearFaults();
      w.sandbox.injectFault({ status: 500, count: 20, body: `<html><body>assertion=${echoed}&token=${FAULT_TOKEN} Bearer ${FAULT_TOKEN}</body></html>`, headers: { 'content-type': 'text/html' } });
      await nextIdentity();
      await cli('token', '500 HTML echo --debug', ['token', '--force-refresh', '--debug'], { ...env, CLAUDE_WIF_TIMEOUT_MS: '4000' }, { expect: 5 });
      w.sandbox.clearFaults();
      // A canary access token answered by the token endpoint: it is cached, so it is secret-bearing on disk.
      w.sandbox.injectFault({ status: 200, count: 1, body: JSON.stringify({ access_token: FAULT_TOKEN, token_type: 'Bearer', expires_in: 3600, scope: 'user:inference' }), headers: { 'content-type': 'application/json' } });
      await nextIdentity();
      const ft = await cli('token', 'canary token from the endpoint --debug', ['token', '--force-refresh', '--debug'], env, legit);
      if (ft.stdout.trim() !== FAULT_TOKEN) problems.push(`the injected canary token was not the one printed (${ft.code})`);
      await cli('status', 'canary token cached --json', ['status', '--json'], env, { expect: 0 });
      await cli('cache', 'canary token cached list --json', ['cache', 'list', '--json'], env, { expect: 0 });
      await cli('doctor', 'canary token cached (API refuses it) --json --debug', ['doctor', '--json', '--debug'], env);
      await cli('credential-process', 'canary token cached', ['credential-process'], env, legit);
      snapshot('with the canary token cached');
      await cli('cache', 'clear --json --debug', ['cache', 'clear', '--json', '--debug'], env, { expect: 0 });

      // ── other identity sources: GitHub Actions request token, Azure App Service IDENTITY_HEADER ──
      await cli('token', 'github-actions --debug', ['--profile', 'gh', 'token', '--debug'], ghEnv, legit);
      await cli('identity', 'github-actions --json --debug', ['--profile', 'gh', 'identity', '--json', '--debug'], ghEnv, { expect: 0 });
      await cli('status', 'github-actions --json', ['--profile', 'gh', 'status', '--json'], ghEnv, { expect: 0 });
      await cli('doctor', 'github-actions --json', ['--profile', 'gh', 'doctor', '--json'], ghEnv);
      await cli('identity', 'github-actions wrong request token --debug', ['--profile', 'gh', 'identity', '--debug'], { ...ghEnv, ACTIONS_ID_TOKEN_REQUEST_TOKEN: `${GH_REQUEST}x` });
      await cli('token', 'github-actions wrong request token --debug', ['--profile', 'gh', 'token', '--force-refresh', '--debug'], { ...ghEnv, ACTIONS_ID_TOKEN_REQUEST_TOKEN: `${GH_REQUEST}x` });
      await cli('identity', 'azure-app-service --json --debug', ['--profile', 'app', 'identity', '--json', '--debug'], appEnv);
      await cli('token', 'azure-app-service (refused by the rule) --debug', ['--profile', 'app', 'token', '--debug'], appEnv);
      await cli('doctor', 'azure-app-service --json', ['--profile', 'app', 'doctor', '--json'], appEnv);
      await cli('identity', 'azure-app-service wrong header --debug', ['--profile', 'app', 'identity', '--debug'], { ...appEnv, IDENTITY_HEADER: `${AZ_HEADER}x` });
      snapshot('after the sources');

      // ── exec: each mode, with a child that records what it got (outside HOME) and then sleeps ──
      const childCode = `import { writeFileSync } from 'node:fs';
const e = process.env;
writeFileSync(process.argv[process.argv.length - 1], JSON.stringify({ pid: process.pid, auth: e.ANTHROPIC_AUTH_TOKEN ?? null, oauth: e.CLAUDE_CODE_OAUTH_TOKEN ?? null, key: e.ANTHROPIC_API_KEY ?? null, idfile: e.ANTHROPIC_IDENTITY_TOKEN_FILE ?? null }), { mode: 0o600 });
setInterval(() => {}, 1000);`;
      const execModes: Array<{ mode: string; e: Record<string, string>; profile?: string }> = [
        { mode: 'sidecar', e: env },
        { mode: 'token', e: env },
        { mode: 'proxy', e: env },
        { mode: 'federation', e: env },
        { mode: 'federation', e: ghEnv, profile: 'gh' },
      ];
      for (const [i, m] of execModes.entries()) {
        const out = join(outDir, `child-${i}.json`);
        const label = `--mode ${m.mode}${m.profile ? ` (${m.profile})` : ''} --debug`;
        const s = spawnBin([...(m.profile ? ['--profile', m.profile] : []), 'exec', '--mode', m.mode, '--debug', '--', ...nodeChild(childCode), out], m.e);
        running.push(s);
        await waitUntil(() => existsSync(out) || s.child.exitCode !== null, `the ${m.mode} child`, 15_000);
        await waitUntil(() => {
          try {
            JSON.parse(readFileSync(out, 'utf8'));
            return true;
          } catch {
            return s.child.exitCode !== null;
          }
        }, 'the child report');
        const got = JSON.parse(readFileSync(out, 'utf8')) as { pid: number; auth: string | null; oauth: string | null; key: string | null; idfile: string | null };
        if (m.mode === 'proxy' && got.auth) extraCanaries.push(['exec proxy session secret', got.auth]);
        if (got.idfile && existsSync(got.idfile)) extraCanaries.push([`exec ${m.mode} identity file JWT`, readFileSync(got.idfile, 'utf8').trim()]);
        if (got.key) problems.push(`exec ${label}: the child was handed ANTHROPIC_API_KEY`);
        if (m.mode === 'proxy' && /sk-ant-/.test(`${got.auth} ${got.oauth}`)) problems.push('exec --mode proxy: the child holds an sk-ant- value');
        argvTree(`exec ${label} parent`, s.pid);
        if (!descendants(s.pid).includes(got.pid)) problems.push(`exec ${label}: the child ${got.pid} is not a descendant of ${s.pid}`);
        let environ = '';
        try {
          environ = readFileSync(`/proc/${got.pid}/environ`, 'utf8');
        } catch {
          /* gone */
        }
        if (environ.includes(API_KEY)) problems.push(`exec ${label}: the child's environment holds the canary API key`);
        snapshot(`exec ${label} running`);
        s.child.kill('SIGTERM');
        const r = await s.exited;
        outputs.push({ cmd: 'exec', path: label, code: r.code, stdout: s.stdout(), stderr: s.stderr(), stdoutLegit: false });
        rmSync(out, { force: true });
      }
      await cli('exec', 'token mode, failing child --debug', ['exec', '--mode', 'token', '--debug', '--', process.execPath, '-e', 'process.exit(3)'], env, { expect: 3 });
      await cli('exec', 'identity failure (malformed) --debug', ['--profile', 'malformed', 'exec', '--debug', '--', process.execPath, '-e', '0'], env, { expect: 3 });

      // ── proxy: the secret file, a client with the secret, and clients with wrong canary secrets ──
      const clientProbes = async (url: string, secret: string, what: string) => {
        const ok = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${secret}`, 'anthropic-version': '2023-06-01' } });
        if (ok.status !== 200) problems.push(`${what}: a client holding the secret got ${ok.status}`);
        const okBody = await ok.text();
        const bad = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${BAD_PROXY_SECRET}`, 'x-api-key': BAD_PROXY_KEY, 'anthropic-version': '2023-06-01' } });
        if (bad.status !== 401) problems.push(`${what}: a wrong secret got ${bad.status}`);
        outputs.push({ cmd: what, path: 'proxied responses (good and wrong secret)', code: null, stdout: okBody, stderr: await bad.text(), stdoutLegit: false });
      };
      {
        const s = spawnBin(['proxy', '--debug'], env);
        running.push(s);
        await waitUntil(() => s.stdout().includes('\n') || s.child.exitCode !== null, 'the proxy to listen');
        const info = JSON.parse(s.stdout().split('\n')[0]!) as { url: string; secret_file: string };
        const secret = readFileSync(info.secret_file, 'utf8').trim();
        extraCanaries.push(['proxy session secret', secret]);
        await clientProbes(info.url, secret, 'proxy');
        argvTree('proxy', s.pid);
        snapshot('proxy running');
        s.child.kill('SIGTERM');
        const r = await s.exited;
        outputs.push({ cmd: 'proxy', path: '--debug (log)', code: r.code, expect: 0, stdout: s.stdout(), stderr: s.stderr(), stdoutLegit: false });
      }
      {
        const s = spawnBin(['proxy', '--print-secret'], env);
        running.push(s);
        await waitUntil(() => s.stdout().includes('\n') || s.child.exitCode !== null, 'the proxy to listen');
        const info = JSON.parse(s.stdout().split('\n')[0]!) as { url: string; secret?: string };
        if (info.secret) extraCanaries.push(['proxy --print-secret secret', info.secret]);
        argvTree('proxy --print-secret', s.pid);
        s.child.kill('SIGTERM');
        const r = await s.exited;
        outputs.push({ cmd: 'proxy', path: '--print-secret', code: r.code, expect: 0, stdout: s.stdout(), stderr: s.stderr(), stdoutLegit: true });
      }

      // ── agent with proxy and health ──
      {
        const dir = join(home, 'shared');
        const s = spawnBin(['agent', '--dir', dir, '--proxy', '127.0.0.1:0', '--health', '127.0.0.1:0', '--debug'], env);
        running.push(s);
        // Both: the first refresh logged (stderr) and the listening line printed (stdout); the two
        // streams are independent, so one arriving first says nothing about the other.
        await waitUntil(() => (s.stderr().includes('refreshed (first token') && s.stdout().includes('\n')) || s.child.exitCode !== null, 'the agent to refresh and listen');
        const info = JSON.parse(s.stdout().split('\n')[0]!) as { proxy: { url: string; secret_file: string }; health: string };
        const secret = readFileSync(info.proxy.secret_file, 'utf8').trim();
        extraCanaries.push(['agent proxy secret', secret]);
        await clientProbes(info.proxy.url, secret, 'agent proxy');
        const ready = await fetch(`${info.health}/readyz`);
        outputs.push({ cmd: 'agent', path: 'health /readyz', code: ready.status, expect: 200, stdout: await ready.text(), stderr: '', stdoutLegit: false });
        const metrics = await fetch(`${info.health}/metrics`);
        outputs.push({ cmd: 'agent', path: 'health /metrics', code: metrics.status, expect: 200, stdout: await metrics.text(), stderr: '', stdoutLegit: false });
        argvTree('agent', s.pid);
        snapshot('agent running');
        s.child.kill('SIGTERM');
        const r = await s.exited;
        outputs.push({ cmd: 'agent', path: '--proxy --health --debug (log)', code: r.code, expect: 0, stdout: s.stdout(), stderr: s.stderr(), stdoutLegit: false });
      }
      await cli('cache', 'list --json (end)', ['cache', 'list', '--json'], env, { expect: 0 });
      await cli('cache', 'clear --all --json', ['cache', 'clear', '--all', '--json'], env, { expect: 0 });
      snapshot('end');
      {
        // Every exchanging command left its events in the audit log (swept above as a file, and here as output).
        const text = readFileSync(auditLog, 'utf8');
        outputs.push({ cmd: 'audit log', path: 'exchanges.jsonl', code: 0, expect: 0, stdout: text, stderr: '', stdoutLegit: false });
        const events = text.trimEnd().split('\n').map((l) => JSON.parse(l) as { component: string; request_id: string | null });
        const ids = new Set(events.map((e) => e.request_id));
        // Every exchange the token endpoint answered has its event (commands served from the cache make none).
        // (doctor's reachability probe is a GET with no credential: no exchange.)
        for (const x of w.sandbox.exchanges) if (x.method === 'POST' && !ids.has(x.request_id)) problems.push(`the audit log has no event for exchange ${x.request_id}`);
        const components = new Set(events.map((e) => e.component));
        for (const c of ['token', 'exec']) if (!components.has(c)) problems.push(`the audit log has no event from ${c}`);
        if ((statSync(auditLog).mode & 0o777) !== 0o600) problems.push('the audit log is not 0600');
      }

      // ── positive controls: leaks planted on purpose must be found (the sweep can see) ──
      const controls: Output[] = [];
      {
        const r = await runBin(['exec', '--mode', 'token', '--', process.execPath, '-e', 'process.stderr.write(`child says ${process.env.ANTHROPIC_AUTH_TOKEN}\\n`)'], env, { cwd: home });
        controls.push({ cmd: 'control', path: 'exec child writes its token to stderr', code: r.code, stdout: r.stdout, stderr: r.stderr, stdoutLegit: false });
      }
      const plantedDir = join(home, 'planted');
      mkdirSync(plantedDir, { mode: 0o755 });
      writeFileSync(join(plantedDir, 'world-readable.txt'), `payload ${minted[0]!.split('.')[1]}\n`, { mode: 0o644 });
      chmodSync(join(plantedDir, 'world-readable.txt'), 0o644);
      snapshot('control');
      rmSync(plantedDir, { recursive: true, force: true });

      // ── the verdict ──
      const canaries: Array<[string, string]> = [
        ['ANTHROPIC_API_KEY canary', API_KEY],
        ['GitHub request token', GH_REQUEST],
        ['Azure IDENTITY_HEADER', AZ_HEADER],
        ['canary access token (injected)', FAULT_TOKEN],
        ['malformed canary JWT', MALFORMED_JWT],
        ['malformed JWT payload', MALFORMED_JWT.split('.')[1]!],
        ['wrong proxy secret (client)', BAD_PROXY_SECRET],
        ['wrong proxy x-api-key (client)', BAD_PROXY_KEY],
        ...extraCanaries,
      ];
      const jwts = new Set([...w.secrets().filter((s) => s.startsWith('eyJ')), ...minted]);
      for (const j of jwts) {
        const [, payload, sig] = j.split('.');
        canaries.push(['identity JWT', j], ['JWT payload segment', payload!]);
        if (sig) canaries.push(['JWT signature', sig]);
      }
      for (const t of w.secrets().filter((s) => s.startsWith('sk-ant-'))) canaries.push(['issued access token', t]);
      const find = (text: string): string[] => {
        const hits = new Set<string>();
        for (const [label, v] of canaries) if (v && (text.includes(v) || text.includes(v.slice(-TAIL)))) hits.add(label);
        if (/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./.test(text)) hits.add('a JWT');
        if (/sk-ant-(?:oat01|api03)-[A-Za-z0-9_-]{8,}/.test(text)) hits.add('an sk-ant- secret');
        return [...hits];
      };
      const leaks: string[] = [];
      const rows: string[][] = [];
      for (const o of outputs) {
        const found = [...find(o.stderr).map((h) => `stderr: ${h}`), ...(o.stdoutLegit ? [] : find(o.stdout).map((h) => `stdout: ${h}`))];
        for (const f of found) leaks.push(`${o.cmd} ${o.path}: ${f}`);
        if (o.expect !== undefined && o.code !== o.expect) problems.push(`${o.cmd} ${o.path}: exit ${o.code}, expected ${o.expect}\n${o.stderr.slice(-1200)}`);
        rows.push([o.cmd, o.path, String(o.code), o.stdoutLegit ? 'stderr' : 'stderr+stdout', found.length ? found.join('; ') : '0']);
      }
      for (const a of argvs) {
        if (!a.text) problems.push(`${a.what}: could not read /proc/<pid>/cmdline`);
        for (const h of find(a.text)) leaks.push(`${a.what}: ${h}`);
      }
      const controlHits = [
        ...controls.flatMap((o) => find(o.stderr).map((h) => `${o.path}: ${h}`)),
        ...files.filter((f) => f.at === 'control' && f.path.startsWith('planted/')).flatMap((f) => find(f.content).map((h) => `planted 0644 file: ${h}`)),
      ];
      const seen = new Set<string>();
      let secretFiles = 0;
      for (const f of files) {
        if (f.at === 'control' && f.path.startsWith('planted/')) continue;
        const key = `${f.path}\0${f.mode}\0${f.dirMode}\0${f.content.length}`;
        if (seen.has(key)) continue;
        seen.add(key);
        for (const h of find(f.path)) leaks.push(`file name ${f.path}: ${h}`);
        const hits = find(f.content);
        if (!hits.length) continue;
        secretFiles++;
        if (f.mode !== 0o600 || f.dirMode !== 0o700) leaks.push(`file ${f.path} (${f.mode.toString(8)} in a ${f.dirMode.toString(8)} dir, ${f.at}): ${hits.join(', ')}`);
      }
      const commands = new Set(outputs.map((o) => o.cmd));
      console.log(
        `secret canary sweep: ${outputs.length} runs over ${commands.size} commands (${[...commands].join(', ')}), ` +
          `${argvs.length} argv reads, ${seen.size} distinct file states (${secretFiles} secret-bearing), ` +
          `${canaries.length} canaries; ${((Date.now() - t0) / 1000).toFixed(1)} s\n` +
          table(['command', 'path', 'exit', 'checked', 'leaks'], rows) +
          `\npositive controls (planted leaks the sweep must see): ${controlHits.length ? controlHits.join('; ') : 'NONE FOUND'}` +
          `\nleaks found: ${leaks.length}${leaks.length ? `\n  ${leaks.join('\n  ')}` : ''}` +
          (problems.length ? `\nother problems: ${problems.length}\n  ${problems.join('\n  ')}` : ''),
      );
      expect(controlHits.some((h) => h.startsWith('exec child'))).toBe(true);
      expect(controlHits.some((h) => h.startsWith('planted'))).toBe(true);
      expect(leaks).toEqual([]);
      expect(problems).toEqual([]);
    },
    // A hang guard, not a bound on speed: ~70 processes run one after another, each under its own
    // kill timer. 28 s at load average 18 on 2 cores; the former 60 s ran out at higher loads.
    240_000,
  );
});
