import type { IO } from './io.js';
import type { Logger } from '../util/log.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/** Fast operations never flash a spinner: it appears only once this much time has passed. */
export const SPINNER_DELAY_MS = 500;

export interface Status {
  /** Changes the text shown next to the spinner. */
  update(label: string): void;
}

/**
 * Runs `fn` with a status line on stderr, only when stderr is a terminal, the user did not ask
 * for --quiet, and the operation takes longer than SPINNER_DELAY_MS. Any other stderr output
 * (a warning, a log line) first clears the line, so nothing is garbled; the line is cleared
 * when `fn` settles. stdout is never touched.
 */
export async function withStatus<T>(io: IO, log: Pick<Logger, 'level'>, label: string, fn: (status: Status) => Promise<T>, delayMs = SPINNER_DELAY_MS): Promise<T> {
  if (!io.stderrIsTTY || log.level === 'quiet') return fn({ update() {} });
  const stream = io.stderr as { write(chunk: string): unknown };
  const original = stream.write;
  const raw = (s: string) => original.call(stream, s);
  let text = label;
  let frame = 0;
  let shown = false;
  let interval: NodeJS.Timeout | undefined;
  const draw = () => {
    raw(`\r${FRAMES[frame++ % FRAMES.length]} ${text}\x1b[K`);
    shown = true;
  };
  const clear = () => {
    if (shown) raw('\r\x1b[K');
    shown = false;
  };
  // Other output clears the status line first; the next tick draws it again below.
  stream.write = (chunk: string) => {
    clear();
    return raw(chunk);
  };
  const start = setTimeout(() => {
    draw();
    interval = setInterval(draw, 80);
    interval.unref();
  }, delayMs);
  start.unref();
  try {
    return await fn({
      update(l) {
        text = l;
      },
    });
  } finally {
    clearTimeout(start);
    if (interval) clearInterval(interval);
    clear();
    if (Object.prototype.hasOwnProperty.call(stream, 'write') && Object.getPrototypeOf(stream)?.write === original) {
      delete (stream as { write?: unknown }).write;
    } else {
      stream.write = original;
    }
  }
}

/**
 * getAccessToken with a status line on a terminal when it takes a while (a cold exchange, a
 * slow identity endpoint, waiting on another process's lock). A cache hit never shows one.
 */
export async function accessTokenWithStatus(
  ctx: { io: IO; log: Logger; deps: import('../core/credentials.js').CoreDeps },
  plan: import('../core/resolve.js').Plan,
  opts: import('../core/credentials.js').GetTokenOptions,
): Promise<import('../core/credentials.js').AccessToken> {
  const { getAccessToken } = await import('../core/credentials.js');
  return withStatus(ctx.io, ctx.log, `obtaining a token for ${plan.profile ? `profile "${plan.profile.name}"` : 'the environment configuration'}…`, () => getAccessToken(plan, opts, ctx.deps));
}
