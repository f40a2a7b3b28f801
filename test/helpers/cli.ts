import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/cli/main.js';
import { recordingProcess, type IO, type ProcessPort } from '../../src/cli/io.js';
import { systemClock, type Clock } from '../../src/util/clock.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/claude-wif', import.meta.url));

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns the built binary (npm test builds it first) with exactly the given environment. */
export function runBin(args: string[], env: Record<string, string>, opts: { input?: string; timeoutMs?: number; cwd?: string } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, cwd: opts.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export interface InProcess {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command in-process (fast; fake clocks possible) against captured streams. */
export async function runCli(
  args: string[],
  env: Record<string, string | undefined>,
  opts: { clock?: Clock; cwd?: string; tty?: boolean; proc?: ProcessPort; stdout?: (s: string) => void; stderr?: (s: string) => void } = {},
): Promise<InProcess> {
  let stdout = '';
  let stderr = '';
  const io: IO = {
    stdout: { write: (s: string) => ((stdout += s), opts.stdout?.(s), true) },
    stderr: { write: (s: string) => ((stderr += s), opts.stderr?.(s), true) },
    env,
    cwd: opts.cwd ?? ROOT,
    clock: opts.clock ?? systemClock,
    stdoutIsTTY: Boolean(opts.tty),
    stderrIsTTY: Boolean(opts.tty),
    stdinIsTTY: Boolean(opts.tty),
    proc: opts.proc ?? recordingProcess(),
  };
  const code = await run(args, io);
  return { code, stdout, stderr };
}

/** A clock tests move by hand; sleep() advances it instead of waiting. */
export function fakeClock(startMs = Date.UTC(2026, 10, 22, 12, 0, 0)): Clock & { advance(ms: number): void; set(ms: number): void } {
  let now = startMs;
  return {
    now: () => now,
    sleep: async (ms: number) => {
      now += Math.max(0, ms);
    },
    advance(ms: number) {
      now += ms;
    },
    set(ms: number) {
      now = ms;
    },
  };
}

/**
 * A clock for code that waits in a loop (lock waiters, backoff): each sleep() advances the time
 * by what was asked, is recorded, and resolves on the next turn of the event loop (setImmediate),
 * so the waiter never spends real time yet I/O and the test keep running between its rounds.
 * `sleeps` lists every sleep; `sleepCount(n)` resolves once the code has slept n times (an event
 * to wait for, instead of a duration).
 */
export function steppedClock(startMs = Date.now()): Clock & { sleeps: number[]; sleepCount(n: number): Promise<void>; advance(ms: number): void } {
  let now = startMs;
  const sleeps: number[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  return {
    sleeps,
    now: () => now,
    sleep(ms: number) {
      now += Math.max(0, ms);
      sleeps.push(ms);
      for (const w of waiters.filter((x) => sleeps.length >= x.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      return new Promise<void>((resolve) => setImmediate(resolve));
    },
    sleepCount(n: number) {
      return sleeps.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }));
    },
    advance(ms: number) {
      now += ms;
    },
  };
}

/** Strings that must never appear in stderr: a JWT or an Anthropic token, whole or in part. */
export function assertNoSecrets(text: string, secrets: string[]): void {
  for (const s of secrets) {
    if (!s) continue;
    // The whole value, and its distinctive tail (a prefix like "sk-ant-oat01-" is fine to show).
    const tail = s.slice(-24);
    if (text.includes(s) || text.includes(tail)) {
      throw new Error(`secret leaked into output: …${s.slice(-6)}`);
    }
  }
  if (/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./.test(text)) throw new Error('a JWT leaked into output');
  if (/sk-ant-oat01-[A-Za-z0-9_-]{8,}/.test(text)) throw new Error('an access token leaked into output');
}

/** Awaits a promise that must reject with a WifError, and returns that error. */
export async function failure(p: Promise<unknown>): Promise<import('../../src/util/errors.js').WifError> {
  const { WifError } = await import('../../src/util/errors.js');
  try {
    await p;
  } catch (err) {
    if (err instanceof WifError) return err;
    throw err;
  }
  throw new Error('expected a failure');
}
