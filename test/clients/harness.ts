import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { BIN, ROOT } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import { fakeAnthropicToken } from '../helpers/fixtures.js';
import { githubPeer } from '../helpers/platforms.js';

/**
 * The real-clients harness: what scripts/test-clients.mjs installed (the manifest), one sandbox
 * world per cell, ways to run each client under each mode, and the cell records the script turns
 * into the matrix. Every world: 60 s tokens (the service's floor) and an identity `command` that
 * mints a fresh JWT on every run (the issue's setup; a GitHub Actions peer in time-accelerated
 * worlds), a stale ANTHROPIC_API_KEY in the parent's environment, a private TMPDIR to find
 * leftovers in.
 */

export type ClientId = 'claude-code' | 'ts-sdk' | 'python-sdk';
export const CLIENT_IDS: readonly ClientId[] = ['claude-code', 'ts-sdk', 'python-sdk'];

interface ManifestClient {
  label: string;
  version?: string;
  dir?: string;
  path?: string;
  skipped?: string;
}
export interface Manifest {
  cacheRoot: string;
  quick: boolean;
  clients: Record<ClientId, ManifestClient>;
}

export function manifest(): Manifest {
  const p = process.env['WIF_CLIENTS_MANIFEST'];
  if (p && existsSync(p)) return JSON.parse(readFileSync(p, 'utf8')) as Manifest;
  const why = 'run through `npm run test:clients`, which installs the clients';
  return { cacheRoot: '', quick: true, clients: { 'claude-code': { label: 'Claude Code', skipped: why }, 'ts-sdk': { label: 'TypeScript SDK', skipped: why }, 'python-sdk': { label: 'Python SDK', skipped: why } } };
}

export interface Cell {
  client: ClientId;
  mode: string;
  result: 'pass' | 'fail' | 'skip';
  detail: string;
  long?: boolean;
}

export function record(cell: Cell): void {
  const p = process.env['WIF_CLIENTS_CELLS'];
  if (p) appendFileSync(p, `${JSON.stringify(cell)}\n`);
}

/** Runs `body`, records the cell as pass or fail (with the error's first line), rethrows failures. */
export async function cell(client: ClientId, mode: string, body: () => Promise<string | void>, long = false): Promise<void> {
  try {
    const detail = (await body()) ?? '';
    record({ client, mode, result: 'pass', detail, long });
  } catch (err) {
    record({ client, mode, result: 'fail', detail: String((err as Error).message).split('\n')[0]!.slice(0, 400), long });
    throw err;
  }
}

export const TOKEN_LIFETIME = 60;
export const STALE_API_KEY = fakeAnthropicToken('api03', 'stale-key-in-the-parent-environment');
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const TIMEWARP = fileURLToPath(new URL('../e2e/exec-fixtures/timewarp.mjs', import.meta.url));
export const PROFILE = 'clients';
const GITHUB_REQUEST_TOKEN = 'gh-request-token-test-clients-0001';

let noBwrapDir: string | undefined;
/**
 * A PATH like this one minus bubblewrap: every other program stays reachable (a host without bwrap,
 * faithfully). One symlink farm per test process, made once (a dozen worlds start at once, and
 * thousands of synchronous symlinks each would starve the peers served from this process).
 */
export function pathWithoutBwrap(path = process.env['PATH'] ?? ''): string {
  if (noBwrapDir) return noBwrapDir;
  // Inside the runner's work directory, which it removes when done (vitest may end a worker
  // without running its exit handlers); the handler covers a run without the runner.
  const manifestPath = process.env['WIF_CLIENTS_MANIFEST'];
  const dir = mkdtempSync(join(manifestPath ? dirname(manifestPath) : tmpdir(), 'claude-wif-clients-no-bwrap-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const seen = new Set<string>(['bwrap']);
  for (const d of path.split(delimiter)) {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      if (seen.has(n)) continue;
      seen.add(n);
      try {
        symlinkSync(join(d, n), join(dir, n));
      } catch {
        /* a name that cannot be linked is skipped */
      }
    }
  }
  noBwrapDir = dir;
  return dir;
}

export const hostHasBwrap = (): boolean => (process.env['PATH'] ?? '').split(delimiter).some((d) => d && existsSync(join(d, 'bwrap')));

export interface World {
  sandbox: Sandbox;
  home: TempHome;
  tmp: string;
  /** The parent's environment: profile, stale API key, private TMPDIR, PATH without bwrap unless asked. */
  env: Record<string, string>;
  /** Consumers that are not started by claude-wif (agent mode): no stale key. */
  consumerEnv: Record<string, string>;
  /** Leftover private directories (claude-wif-exec-*) in TMPDIR. */
  leftovers(): string[];
  /** Problems seen by the sandbox: non-200 exchanges, 401 API calls, reused assertions. */
  problems(): string[];
  stats(): { exchanges: number; apiCalls: number };
  stop(): Promise<void>;
}

export async function startClientWorld(opts: { warp?: number; bwrap?: boolean } = {}): Promise<World> {
  const t0 = Date.now();
  const K = opts.warp ?? 1;
  const now = K === 1 ? Date.now : () => Math.floor(t0 + (Date.now() - t0) * K);
  const sandbox = await startSandbox({ port: 0, now });
  for (const r of sandbox.config.rules) r.token_lifetime_seconds = TOKEN_LIFETIME;
  const home = tempHome();
  const tmp = join(home.home, 'tmp');
  mkdirSync(tmp, { mode: 0o700, recursive: true });
  // The identity command: a fresh JWT (5 min, with jti) from the sandbox's issuer on every run.
  const mint = join(home.home, 'mint-jwt.mjs');
  writeFileSync(mint, `const r = await fetch(${JSON.stringify(`${sandbox.url}/_sandbox/mint`)}, { method: 'POST', body: JSON.stringify({ lifetimeSeconds: 300 }) });\nif (!r.ok) process.exit(1);\nprocess.stdout.write((await r.json()).token + '\\n');\n`);
  mkdirSync(join(home.configDir, 'configs'), { recursive: true, mode: 0o700 });
  // Under time acceleration a program's start-up (real seconds) would look K times longer to the
  // warped clocks: warped worlds mint through a GitHub Actions peer in this process instead.
  let github: Awaited<ReturnType<typeof githubPeer>> | undefined;
  if (K !== 1) github = await githubPeer((o) => sandbox.mint(o), GITHUB_REQUEST_TOKEN);
  const identity = github
    ? { source: 'github-actions' }
    : // A loaded 2-core machine starts node slowly: the command gets a minute, not the default 10 s.
      { source: 'command', command: [process.execPath, mint], timeout_ms: 60_000 };
  writeFileSync(join(home.configDir, 'configs', `${PROFILE}.json`), JSON.stringify({ ...sandbox.profile(), claude_wif: { identity } }, null, 2), { mode: 0o600 });
  const PATH = opts.bwrap ? (process.env['PATH'] ?? '') : pathWithoutBwrap();
  const quiet = { DISABLE_AUTOUPDATER: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_TELEMETRY: '1', DISABLE_ERROR_REPORTING: '1' };
  // Warped timers fire K times sooner: claude-wif's request deadlines get K times more warped time,
  // so in real time they are what production has.
  const warp =
    K === 1
      ? {}
      : // 30 s of real time per request: the peers run in this (busy) test process on a loaded machine.
        { NODE_OPTIONS: `--import=${pathToFileURL(TIMEWARP).href}`, WIF_TIMEWARP_FACTOR: String(K), WIF_TIMEWARP_T0: String(t0), CLAUDE_WIF_HTTP_TIMEOUT_MS: String(30_000 * K), CLAUDE_WIF_TIMEOUT_MS: String(60_000 * K) };
  const gh = github ? { ACTIONS_ID_TOKEN_REQUEST_URL: github.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: GITHUB_REQUEST_TOKEN } : {};
  const env = cleanEnv(home.home, { PATH, TMPDIR: tmp, NO_COLOR: '1', ANTHROPIC_PROFILE: PROFILE, ANTHROPIC_API_KEY: STALE_API_KEY, ...quiet, ...warp, ...gh });
  const consumerEnv = cleanEnv(home.home, { PATH, TMPDIR: tmp, NO_COLOR: '1', ...quiet, ...warp });
  return {
    sandbox,
    home,
    tmp,
    env,
    consumerEnv,
    leftovers: () => readdirSync(tmp).filter((n) => n.startsWith('claude-wif-')),
    problems() {
      const out: string[] = [];
      const bad = sandbox.exchanges.filter((e) => e.status !== 200);
      if (bad.length) out.push(`${bad.length} refused exchange(s): ${[...new Set(bad.map((e) => `${e.status} ${e.reason ?? ''}`))].join(', ')}`);
      const assertions = sandbox.exchanges.map((e) => e.assertion).filter(Boolean);
      if (new Set(assertions).size !== assertions.length) out.push(`${assertions.length - new Set(assertions).size} reused assertion(s)`);
      const denied = sandbox.apiCalls.filter((c) => c.status === 401 || c.status === 403);
      if (denied.length) out.push(`${denied.length} API call(s) refused: ${[...new Set(denied.map((c) => `${c.status} ${c.error ?? ''}`))].join(', ')}`);
      return out;
    },
    stats: () => ({ exchanges: sandbox.exchanges.length, apiCalls: sandbox.apiCalls.filter((c) => c.path.startsWith('/v1/messages')).length }),
    async stop() {
      await github?.close();
      await sandbox.close();
      home.cleanup();
    },
  };
}

/** How the client is started: through `claude-wif exec`, after `eval "$(claude-wif env)"`, or directly (agent consumers). */
export type Launch = { kind: 'exec'; mode: string; extra?: string[] } | { kind: 'env'; target: 'sdk' | 'claude-code' } | { kind: 'direct' };

export function launchArgv(launch: Launch, argv: string[]): string[] {
  if (launch.kind === 'exec') return [process.execPath, BIN, 'exec', '--mode', launch.mode, ...(launch.extra ?? []), '--', ...argv];
  if (launch.kind === 'env') {
    // What a user types: the output is evaluated by the shell, then the client runs.
    return ['bash', '-c', `eval "$("$1" "$2" env --target ${launch.target})" && shift 2 && exec "$@"`, 'bash', process.execPath, BIN, ...argv];
  }
  return argv;
}

export interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function start(argv: string[], env: Record<string, string>, stdin: 'pipe' | 'ignore' = 'ignore'): Running {
  const child = spawn(argv[0]!, argv.slice(1), { env, cwd: ROOT, stdio: [stdin, 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

export async function within<T>(p: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => (onTimeout?.(), reject(new Error(`timed out after ${ms} ms: ${what}`))), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Summary {
  ok: number;
  failed: number;
  errors?: unknown[];
}

const killGroup = (r: Running) => {
  try {
    process.kill(-r.child.pid!, 'SIGKILL');
  } catch {
    /* gone */
  }
};

const copied = new Set<string>();

/** An SDK client (TypeScript or Python) that calls Messages every `everyMs` for `runForMs`. */
export async function runSdkClient(client: 'ts-sdk' | 'python-sdk', m: Manifest, launch: Launch, env: Record<string, string>, o: { runForMs: number; everyMs: number; timeoutMs: number }): Promise<Summary & { stderr: string }> {
  const c = m.clients[client];
  let argv: string[];
  if (client === 'ts-sdk') {
    // Run from inside the installed package's prefix, so `import '@anthropic-ai/sdk'` finds it:
    // part of the cached install, replaced atomically (tmp + rename) and only when it differs —
    // concurrent runs rewriting one file in place let a starting node read it truncated.
    const script = join(c.dir!, 'claude-wif-sdk-client.mjs');
    if (!copied.has(script)) {
      const want = readFileSync(join(ROOT, 'test', 'e2e', 'exec-fixtures', 'sdk-child.mjs'), 'utf8');
      const have = existsSync(script) ? readFileSync(script, 'utf8') : undefined;
      if (have !== want) {
        writeFileSync(`${script}.${process.pid}.tmp`, want);
        renameSync(`${script}.${process.pid}.tmp`, script);
      }
      copied.add(script);
    }
    argv = [process.execPath, script];
  } else {
    argv = [c.path!, join(FIXTURES, 'py_client.py')];
  }
  const r = start(launchArgv(launch, argv), { ...env, RUN_FOR_MS: String(o.runForMs), CALL_EVERY_MS: String(o.everyMs) });
  const { code, signal } = await within(r.exited, o.timeoutMs, `${client} under ${JSON.stringify(launch)}`, () => killGroup(r));
  const last = r.stdout().trim().split('\n').pop() ?? '';
  let s: Summary;
  try {
    s = JSON.parse(last) as Summary;
  } catch {
    throw new Error(`${client} printed no summary (exit ${code ?? signal}): ${r.stderr().slice(-600)} ${r.stdout().slice(-300)}`);
  }
  if (code !== 0 || s.failed !== 0) throw new Error(`${client}: ${s.ok} ok, ${s.failed} failed (exit ${code ?? signal}): ${JSON.stringify(s.errors ?? []).slice(0, 500)} stderr: ${r.stderr().slice(-400)}`);
  return { ...s, stderr: r.stderr() };
}

/**
 * Claude Code as a long-lived session: `claude -p` with stream-json input, one user turn every
 * `everyMs` for `turns` turns, each answered (a `result` event without error) before the next.
 * Returns the session's pid too (to check its environment) and leaves it to finish on stdin EOF.
 */
export async function runClaudeCode(
  m: Manifest,
  launch: Launch,
  env: Record<string, string>,
  o: { turns: number; everyMs: number; timeoutMs: number; onFirstResult?: (r: Running) => Promise<void> | void },
): Promise<{ ok: number; stderr: string; code: number | null; signal: NodeJS.Signals | null }> {
  const claude = m.clients['claude-code'].path!;
  const r = start(launchArgv(launch, [claude, '-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose']), env, 'pipe');
  const results = () =>
    r
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as { type?: string; is_error?: boolean; subtype?: string; result?: string };
        } catch {
          return {};
        }
      })
      .filter((e) => e.type === 'result');
  const deadline = Date.now() + o.timeoutMs;
  let ok = 0;
  try {
    for (let turn = 0; turn < o.turns; turn++) {
      if (turn > 0) await new Promise((res) => setTimeout(res, o.everyMs));
      r.child.stdin!.write(`${JSON.stringify({ type: 'user', message: { role: 'user', content: `turn ${turn + 1}: say hi` } })}\n`);
      while (results().length <= turn) {
        if (r.child.exitCode !== null || r.child.signalCode !== null) throw new Error(`Claude Code exited during turn ${turn + 1} (${r.child.exitCode ?? r.child.signalCode}): ${r.stderr().slice(-600)} ${r.stdout().slice(-400)}`);
        if (Date.now() > deadline) throw new Error(`Claude Code: no answer to turn ${turn + 1} in time: ${r.stderr().slice(-400)}`);
        await new Promise((res) => setTimeout(res, 100));
      }
      const res = results()[turn]!;
      if (res.is_error) throw new Error(`Claude Code turn ${turn + 1} failed: ${String(res.result ?? res.subtype).slice(0, 300)}`);
      ok++;
      if (turn === 0) await o.onFirstResult?.(r);
    }
    r.child.stdin!.end();
    const { code, signal } = await within(r.exited, 60_000, 'Claude Code to exit after stdin closed', () => killGroup(r));
    return { ok, stderr: r.stderr(), code, signal };
  } catch (err) {
    killGroup(r);
    await r.exited;
    throw err;
  }
}

/** The child of a claude-wif exec parent (or the process itself for a direct launch), from /proc. */
export function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) =>
      readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number),
    );
  } catch {
    return [];
  }
}

export function environOf(pid: number): Record<string, string> {
  try {
    return Object.fromEntries(
      readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
  } catch {
    return {};
  }
}

/** Starts `claude-wif agent --dir <dir>` and waits for its first token. */
export async function startAgent(w: World, dir: string): Promise<Running> {
  const a = start([process.execPath, BIN, 'agent', '--dir', dir], w.env);
  await within(
    (async () => {
      while (!/refreshed \(first token/.test(a.stderr())) {
        if (a.child.exitCode !== null) throw new Error(`agent exited: ${a.stderr()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    })(),
    60_000,
    'the agent\'s first token',
    () => killGroup(a),
  );
  return a;
}

export async function stopAgent(a: Running): Promise<void> {
  a.child.kill('SIGTERM');
  await within(a.exited, 20_000, 'the agent to stop', () => killGroup(a));
}
