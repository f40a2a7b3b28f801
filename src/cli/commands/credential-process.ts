import { emitPlanWarnings, type CommandContext } from '../context.js';
import { getAccessToken } from '../../core/credentials.js';
import { credentialProcessJson } from '../../output/formats.js';
import { parseMinTtl } from './token.js';

/** `claude-wif credential-process`: one JSON document on stdout. */
export async function runCredentialProcess(ctx: CommandContext, opts: { minTtl?: string; forceRefresh?: boolean }): Promise<number> {
  const plan = ctx.plan();
  emitPlanWarnings(ctx, plan);
  const token = await getAccessToken(plan, { minTtl: parseMinTtl(opts.minTtl), forceRefresh: Boolean(opts.forceRefresh) }, ctx.deps);
  ctx.io.stdout.write(`${JSON.stringify(credentialProcessJson(token))}\n`);
  return 0;
}
