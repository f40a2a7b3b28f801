import { spawn } from 'node:child_process';
import type { Env } from '../config/paths.js';
import { WifError } from '../util/errors.js';
import { redact } from '../util/redact.js';

const MAX_STDOUT = 64 * 1024;
const MAX_STDERR = 8 * 1024;
const JWT_LINE = /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface JwtCommand {
  /** Source name, first word of every message. */
  source: string;
  argv: string[];
  env: Env;
  timeoutMs: number;
  /** The fix when the program is not installed. */
  notFoundHint: string;
  /** The fix when it runs but fails. */
  failedHint: string;
}

/**
 * Runs a program that prints a JWT (no shell: argv as given; the JWT never appears in our argv or
 * the child's). stdout is the JWT: the last line shaped like one, else everything trimmed (the
 * preflight then says why it is not a JWT). stderr is kept for the error message, redacted.
 */
export function runJwtCommand(cmd: JwtCommand): Promise<string> {
  const [file, ...args] = cmd.argv;
  const shown = cmd.argv[0] ?? '(empty)';
  return new Promise<string>((resolve, reject) => {
    if (!file) {
      reject(new WifError('config_invalid', `${cmd.source}: the command is empty`, { hint: cmd.failedHint }));
      return;
    }
    let stdout = Buffer.alloc(0);
    let stderr = '';
    let overflow = false;
    let timedOut = false;
    // Its own process group (POSIX), so a timeout reaches everything it started: a wrapper script
    // that is killed alone leaves its children holding our stdout pipe open, and we would wait for
    // them until the overall deadline.
    const group = process.platform !== 'win32';
    const child = spawn(file, args, { env: cmd.env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'], shell: false, windowsHide: true, detached: group });
    const killTree = (signal: NodeJS.Signals): void => {
      if (group && child.pid !== undefined) {
        try {
          process.kill(-child.pid, signal);
          return;
        } catch {
          /* the group is gone already */
        }
      }
      child.kill(signal);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killTree('SIGTERM');
      setTimeout(() => killTree('SIGKILL'), 2_000).unref();
    }, cmd.timeoutMs);
    // The command's job ends when it exits: whatever it left running in its group (a background
    // job still holding stdout) is ended too, so the answer is not held up by it.
    child.on('exit', () => killTree('SIGTERM'));
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length + d.length > MAX_STDOUT) {
        overflow = true;
        killTree('SIGTERM');
        return;
      }
      stdout = Buffer.concat([stdout, d]);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < MAX_STDERR) stderr += d.slice(0, MAX_STDERR - stderr.length);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT') {
        reject(new WifError('identity_unavailable', `${cmd.source}: \`${shown}\` was not found on PATH`, { hint: cmd.notFoundHint }));
      } else if (err.code === 'EACCES') {
        reject(new WifError('identity_unavailable', `${cmd.source}: \`${shown}\` is not executable`, { hint: cmd.notFoundHint }));
      } else {
        reject(new WifError('identity_unavailable', `${cmd.source}: \`${shown}\` could not be started (${err.code ?? err.message})`, { hint: cmd.failedHint }));
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const why = lastLines(stderr);
      if (timedOut) {
        reject(new WifError('identity_unavailable', `${cmd.source}: \`${shown}\` did not finish within ${cmd.timeoutMs} ms`, { hint: cmd.failedHint }));
      } else if (overflow) {
        reject(new WifError('identity_invalid', `${cmd.source}: \`${shown}\` printed more than ${MAX_STDOUT} bytes; expected one JWT`, { hint: cmd.failedHint }));
      } else if (code !== 0) {
        reject(new WifError('identity_unavailable', `${cmd.source}: \`${shown}\` ${signal ? `was killed by ${signal}` : `exited with status ${code}`}${why ? `: ${why}` : ''}`, { hint: cmd.failedHint }));
      } else {
        const text = stdout.toString('utf8');
        const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
        const jwt = [...lines].reverse().find((l) => JWT_LINE.test(l)) ?? text.trim();
        if (!jwt) reject(new WifError('identity_unavailable', `${cmd.source}: \`${shown}\` printed nothing on stdout${why ? ` (stderr: ${why})` : ''}`, { hint: cmd.failedHint }));
        else resolve(jwt);
      }
    });
  });
}

/** The last two non-empty stderr lines, redacted (a failing tool may print the token it got). */
function lastLines(text: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const tail = lines.slice(-2).join(' / ');
  const r = redact(tail);
  return r.length > 300 ? `${r.slice(0, 300)}…` : r;
}
