import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { writeFileAtomic } from '../../src/util/fsx.js';
import { BIN, ROOT } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';

export const FIXTURES = fileURLToPath(new URL('./exec-fixtures/', import.meta.url));
export const PROFILE = 'exec-test';

export interface WifWorld {
  sandbox: Sandbox;
  home: TempHome;
  /** A clean environment naming the profile (ANTHROPIC_PROFILE), HOME in a temp dir. */
  env: Record<string, string>;
  /** Every JWT written to the identity file and every access token the sandbox issued. */
  secrets(): string[];
  /** Writes a fresh JWT now: before a run that must exchange right after another one did. */
  rotate(): Promise<void>;

  stop(): Promise<void>;
}

/**
 * The sandbox plus a temp HOME holding an SDK profile whose identity file is rewritten with a
 * fresh JWT every 50 ms (a Kubernetes-style projected token that rotates much faster than a
 * long-running child refreshes), so single-use jti never blocks a refresh. Two claude-wif runs
 * can still follow each other within that time on a quiet machine: a test whose second run must
 * exchange calls rotate() first.
 */
export async function startWorld(opts: { now?: () => number; tokenLifetime?: number; extraEnv?: Record<string, string> } = {}): Promise<WifWorld> {
  const sandbox = await startSandbox({ port: 0, ...(opts.now ? { now: opts.now } : {}) });
  if (opts.tokenLifetime !== undefined) for (const r of sandbox.config.rules) r.token_lifetime_seconds = opts.tokenLifetime;
  const home = tempHome();
  const identityDir = join(home.home, 'identity');
  mkdirSync(identityDir, { recursive: true, mode: 0o700 });
  const identityFile = join(identityDir, 'token.jwt');
  const jwts: string[] = [];
  let stopped = false;
  const rotate = async (): Promise<void> => {
    const jwt = await sandbox.mint({ lifetimeSeconds: 300 });
    if (stopped) return;
    jwts.push(jwt);
    writeFileAtomic(identityFile, `${jwt}\n`, 0o600);
  };
  await rotate();
  const timer = setInterval(() => void rotate().catch(() => {}), 50);
  mkdirSync(join(home.configDir, 'configs'), { recursive: true, mode: 0o700 });
  writeFileSync(join(home.configDir, 'configs', `${PROFILE}.json`), JSON.stringify(sandbox.profile({ identityTokenPath: identityFile }), null, 2), { mode: 0o600 });
  const env = cleanEnv(home.home, { ANTHROPIC_PROFILE: PROFILE, NO_COLOR: '1', ...opts.extraEnv });
  return {
    sandbox,
    home,
    env,
    rotate,
    secrets: () => [
      ...jwts,
      ...sandbox.exchanges.map((e) => (e.response as { access_token?: string } | undefined)?.access_token ?? '').filter(Boolean),
    ],
    async stop() {
      stopped = true;
      clearInterval(timer);
      await sandbox.close();
      home.cleanup();
    },
  };
}

export interface Spawned {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Polls until `cond` holds (never a fixed sleep); rejects after `timeoutMs`. */
  waitFor(cond: () => boolean, what: string, timeoutMs?: number): Promise<void>;
}

/** Pids of every claude-wif parent spawned here: their private directories are named after them. */
export const spawnedPids = new Set<number>();

export async function waitUntil(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Spawns the built binary. `detached` gives it its own session (no controlling terminal), as in
 * CI or a pod: whatever terminal runs the test suite, a signal the test sends reaches only the
 * parent, which must forward it.
 */
export function spawnBin(args: string[], env: Record<string, string>, opts: { detached?: boolean; cwd?: string; stdin?: 'ignore' | 'pipe' } = {}): Spawned {
  const child = spawn(process.execPath, [BIN, ...args], {
    env,
    cwd: opts.cwd ?? ROOT,
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
    detached: opts.detached ?? true,
  });
  if (child.pid !== undefined) spawnedPids.add(child.pid);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (cond, what, timeoutMs) => waitUntil(cond, what, timeoutMs),
  };
}

/** Runs the binary to completion; kills it (and fails) after `timeoutMs`. */
export async function runToEnd(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const s = spawnBin(args, env);
  const timer = setTimeout(() => {
    try {
      process.kill(-s.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, timeoutMs);
  const r = await s.exited;
  clearTimeout(timer);
  return { ...r, stdout: s.stdout(), stderr: s.stderr() };
}

/** A node one-liner as a child command (ESM, top-level await allowed). */
export const nodeChild = (code: string): string[] => [process.execPath, '--input-type=module', '-e', code];

/**
 * Private directories left behind by parents this process spawned that have exited (sidecar
 * directories are named claude-wif-exec-<parent pid>-…; cleanEnv passes TMPDIR through).
 */
export function leftoverSidecars(env: Record<string, string>): string[] {
  const base = env['TMPDIR'] ?? '/tmp';
  return readdirSync(base).filter((n) => {
    const m = /^claude-wif-exec-(\d+)-/.exec(n);
    if (!m || !spawnedPids.has(Number(m[1]))) return false;
    try {
      process.kill(Number(m[1]), 0);
      return false; // still running
    } catch {
      return true;
    }
  });
}
