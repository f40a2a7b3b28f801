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
