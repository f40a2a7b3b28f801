import type { IO } from './io.js';
import { toWifError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { redact } from '../util/redact.js';

/**
 * Prints an error to stderr (and as JSON on stdout for --json callers); returns its exit code.
 * The one error report of the CLI: the full CLI (main.ts) and the hot exec entry (hot-exec.ts).
 */
export function reportError(ctx: { io: Pick<IO, 'stdout' | 'stderr'>; log: Pick<Logger, 'debug'> }, err: unknown, json: boolean): number {
  const e = toWifError(err);
  const lines = [`claude-wif: error: ${e.message}`];
  if (e.hint) lines.push(`  fix: ${e.hint}`);
  lines.push(`  (${e.code}, exit ${e.exitCode})`);
  ctx.io.stderr.write(`${lines.join('\n')}\n`);
  const cause = (e as { cause?: unknown }).cause;
  if (e.code === 'internal_error' && err instanceof Error && err.stack) ctx.log.debug(redact(err.stack));
  else if (cause instanceof Error) ctx.log.debug(`cause: ${cause.message}`);
  if (json) ctx.io.stdout.write(`${JSON.stringify({ error: e.toJSON() }, null, 2)}\n`);
  return e.exitCode;
}
