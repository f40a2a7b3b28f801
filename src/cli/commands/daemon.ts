import type { CommandContext } from '../context.js';
import type { Logger } from '../../util/log.js';
import { redact } from '../../util/redact.js';

/** Signals that end a long-running command (`proxy`, `agent`) cleanly, with exit status 0. */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/**
 * Resolves with the first stop signal. Handlers are installed at once (so the default action,
 * dying mid-write, never applies) and a second signal while shutting down exits immediately.
 * A ref'd timer keeps the process alive while only unref'd refresh timers exist.
 */
export function untilStopSignal(ctx: CommandContext): { signal: Promise<NodeJS.Signals>; dispose(): void } {
  let handler: ((s: NodeJS.Signals) => void) | undefined;
  let got: NodeJS.Signals | undefined;
  const keepAlive = setInterval(() => {}, 1 << 30);
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    handler = (s) => {
      if (got) {
        ctx.log.warn(`${s} again while shutting down: exiting now`);
        ctx.io.proc.exit(128 + 15);
        return;
      }
      got = s;
      resolve(s);
    };
    for (const s of STOP_SIGNALS) ctx.io.proc.signals.on(s, handler);
  });
  return {
    signal,
    dispose() {
      clearInterval(keepAlive);
      if (handler) for (const s of STOP_SIGNALS) ctx.io.proc.signals.off(s, handler);
    },
  };
}

/** The context's logger without warning de-duplication: a daemon's distinct warnings must not accumulate in memory. */
export function daemonLogger(ctx: CommandContext): Logger {
  const base = ctx.log;
  return {
    level: base.level,
    debug: (m) => base.debug(m),
    info: (m) => base.info(m),
    warn: (m) => {
      if (base.level !== 'quiet') ctx.io.stderr.write(`claude-wif: warning: ${redact(m)}\n`);
    },
  };
}

/**
 * After a clean stop, a real process exits even if an abandoned exchange still holds a socket
 * open (it would otherwise linger until that request times out). In-process runs (tests) return.
 */
export function exitSoon(ctx: CommandContext, code: number): void {
  setTimeout(() => ctx.io.proc.exit(code), 100).unref();
}
