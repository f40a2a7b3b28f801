import { emitPlanWarnings, type CommandContext } from '../context.js';
import { accessTokenWithStatus } from '../spinner.js';
import type { TokenOptions } from '../option-values.js';
import { nowSeconds } from '../../util/clock.js';

/** `claude-wif token`: the token and a newline on stdout, nothing else. */
export async function runToken(ctx: CommandContext, opts: TokenOptions): Promise<number> {
  const format = opts.format;
  const minTtl = opts.minTtl ?? 0;
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
