import type { Env } from '../config/paths.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { Writable } from '../util/log.js';

/** Everything a command touches of the outside world, injected so tests can run commands in-process. */
export interface IO {
  stdout: Writable;
  stderr: Writable;
  env: Env;
  cwd: string;
  clock: Clock;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  stdinIsTTY: boolean;
  /** Read only by interactive prompts (`configure`); absent in most tests. */
  stdin?: NodeJS.ReadableStream;
  /** The process a command runs in: signals, exit, kill. In-process tests pass a recording stand-in. */
  proc: ProcessPort;
}

/**
 * What commands need of their process, so none touches `process` itself (the way gh's IOStreams
 * stands for the terminal): the real one in production (processPort), a recording one in tests.
 */
export interface ProcessPort {
  readonly pid: number;
  /** node itself and the script that started this CLI (to run claude-wif again: the demo). */
  readonly execPath: string;
  readonly script: string | undefined;
  /** `${platform}-${arch}` and node's version, for reports. */
  readonly platform: string;
  readonly nodeVersion: string;
  /** Signals delivered to this process (the exec forwarder's and the daemons' source). */
  readonly signals: {
    on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
    off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  };
  /** Runs `fn` when the process exits, as a last resort (a secret file that must not outlive it); returns the unsubscribe function. */
  onExit(fn: () => void): () => void;
  /** Sends a signal (0: does the process exist?); throws as process.kill does. */
  kill(pid: number, signal: NodeJS.Signals | 0): void;
  /**
   * Ends the process now with this status, even if something (an abandoned refresh) still holds
   * the event loop. A stand-in records it and returns: the command then returns the same code.
   */
  exit(code: number): void;
  /**
   * Dies of `signal`'s default action, if the process can (a caller's shell then sees "killed by
   * signal"); returns when it could not. A stand-in records it and returns.
   */
  dieOf(signal: NodeJS.Signals): void;
}

/** The real process. */
export function processPort(): ProcessPort {
  return {
    pid: process.pid,
    execPath: process.execPath,
    script: process.argv[1],
    platform: `${process.platform}-${process.arch}`,
    nodeVersion: process.version,
    signals: process,
    onExit(fn) {
      process.on('exit', fn);
      return () => process.off('exit', fn);
    },
    kill(pid, signal) {
      process.kill(pid, signal);
    },
    exit(code) {
      process.exit(code);
    },
    dieOf(signal) {
      process.removeAllListeners(signal);
      try {
        process.kill(process.pid, signal);
        // The default action applies to the whole process whichever thread takes the signal; give it a moment.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
      } catch {
        /* the caller falls back to a numeric status */
      }
    },
  };
}

/** A process stand-in for in-process runs: signals are emitted by the test, exits and kills recorded. */
export interface RecordingProcess extends ProcessPort {
  /** Delivers a signal to the command's handlers, as the kernel would. */
  emit(signal: NodeJS.Signals): void;
  /** Runs the on-exit hooks, as a real exit would. */
  runExitHooks(): void;
  readonly exits: number[];
  readonly deaths: NodeJS.Signals[];
  readonly kills: Array<{ pid: number; signal: NodeJS.Signals | 0 }>;
  /** Handlers currently subscribed, per signal. */
  listeners(signal: NodeJS.Signals): number;
}

export function recordingProcess(opts: { pid?: number; script?: string; alive?: (pid: number) => boolean } = {}): RecordingProcess {
  const handlers = new Map<NodeJS.Signals, Set<(s: NodeJS.Signals) => void>>();
  const exitHooks = new Set<() => void>();
  const exits: number[] = [];
  const deaths: NodeJS.Signals[] = [];
  const kills: Array<{ pid: number; signal: NodeJS.Signals | 0 }> = [];
  return {
    // Facts about the process the test runs in; only effects are recorded instead of performed.
    pid: opts.pid ?? process.pid,
    execPath: process.execPath,
    script: opts.script,
    platform: `${process.platform}-${process.arch}`,
    nodeVersion: process.version,
    signals: {
      on(signal, listener) {
        if (!handlers.has(signal)) handlers.set(signal, new Set());
        handlers.get(signal)!.add(listener);
      },
      off(signal, listener) {
        handlers.get(signal)?.delete(listener);
      },
    },
    onExit(fn) {
      exitHooks.add(fn);
      return () => exitHooks.delete(fn);
    },
    kill(target, signal) {
      kills.push({ pid: target, signal });
      // Asking whether a process exists changes nothing: answered for real unless the test decides.
      if (signal === 0) {
        if (!opts.alive) process.kill(target, 0);
        else if (!opts.alive(target)) throw Object.assign(new Error(`kill ESRCH ${target}`), { code: 'ESRCH' });
      }
    },
    exit(code) {
      exits.push(code);
    },
    dieOf(signal) {
      deaths.push(signal);
    },
    emit(signal) {
      for (const h of [...(handlers.get(signal) ?? [])]) h(signal);
    },
    runExitHooks() {
      for (const h of [...exitHooks]) h();
    },
    exits,
    deaths,
    kills,
    listeners: (signal) => handlers.get(signal)?.size ?? 0,
  };
}

export function processIO(): IO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    clock: systemClock,
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stderrIsTTY: Boolean(process.stderr.isTTY),
    stdinIsTTY: Boolean(process.stdin.isTTY),
    // A getter: touching process.stdin creates the stream, which costs start-up time.
    get stdin() {
      return process.stdin;
    },
    proc: processPort(),
  };
}

/** Colour only on a TTY, never with NO_COLOR or --no-color. chalk is loaded only when colour is on. */
export async function colours(io: IO, enabled: boolean): Promise<{ ok(s: string): string; bad(s: string): string; dim(s: string): string; bold(s: string): string }> {
  const plain = { ok: (s: string) => s, bad: (s: string) => s, dim: (s: string) => s, bold: (s: string) => s };
  if (!enabled || !io.stdoutIsTTY || (io.env['NO_COLOR'] ?? '') !== '') return plain;
  const { Chalk } = await import('chalk');
  const c = new Chalk({ level: 1 });
  return { ok: c.green, bad: c.red, dim: c.dim, bold: c.bold };
}
