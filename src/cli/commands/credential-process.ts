import { emitPlanWarnings, type CommandContext } from '../context.js';
import { accessTokenWithStatus } from '../spinner.js';
import { credentialProcessJson } from '../../output/formats.js';
import { parseMinTtl } from './token.js';

/** `claude-wif credential-process`: one JSON document on stdout. */
export async function runCredentialProcess(ctx: CommandContext, opts: { minTtl?: string; forceRefresh?: boolean }): Promise<number> {
  const plan = ctx.plan();
  emitPlanWarnings(ctx, plan);
  const token = await accessTokenWithStatus(ctx, plan, { minTtl: parseMinTtl(opts.minTtl), forceRefresh: Boolean(opts.forceRefresh) });
  ctx.io.stdout.write(`${JSON.stringify(credentialProcessJson(token))}\n`);
  return 0;
}
