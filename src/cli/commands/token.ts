import { emitPlanWarnings, type CommandContext } from '../context.js';
import { accessTokenWithStatus } from '../spinner.js';
import { nowSeconds } from '../../util/clock.js';
import { WifError } from '../../util/errors.js';

export interface TokenOptions {
  minTtl?: string;
  forceRefresh?: boolean;
  format?: string;
}

export function parseMinTtl(value: string | undefined): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isFinite(n) || n > 86_400) {
    throw new WifError('usage_error', `--min-ttl ${JSON.stringify(value)} is not a number of seconds between 0 and 86400`);
  }
  return n;
}

/** `claude-wif token`: the token and a newline on stdout, nothing else. */
export async function runToken(ctx: CommandContext, opts: TokenOptions): Promise<number> {
  const format = opts.format ?? 'raw';
  if (format !== 'raw' && format !== 'json') {
    throw new WifError('usage_error', `--format ${JSON.stringify(format)} is not one of raw, json`);
  }
  const minTtl = parseMinTtl(opts.minTtl);
  const plan = ctx.plan();
  emitPlanWarnings(ctx, plan);
  const token = await accessTokenWithStatus(ctx, plan, { minTtl, forceRefresh: Boolean(opts.forceRefresh) });
  if (format === 'raw') {
    ctx.io.stdout.write(`${token.token}\n`);
  } else {
    const { tokenJson } = await import('../../output/formats.js');
    ctx.io.stdout.write(`${JSON.stringify(tokenJson(token, nowSeconds(ctx.io.clock)), null, 2)}\n`);
  }
  return 0;
}
