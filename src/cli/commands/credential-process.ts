import { emitPlanWarnings, type CommandContext } from '../context.js';
import { accessTokenWithStatus } from '../spinner.js';
import { credentialProcessJson } from '../../output/formats.js';
import type { TokenCommandOptions } from '../option-values.js';

/** `claude-wif credential-process`: one JSON document on stdout. */
export async function runCredentialProcess(ctx: CommandContext, opts: TokenCommandOptions): Promise<number> {
  const plan = ctx.plan();
  emitPlanWarnings(ctx, plan);
  const token = await accessTokenWithStatus(ctx, plan, { minTtl: opts.minTtl ?? 0, forceRefresh: Boolean(opts.forceRefresh) });
  ctx.io.stdout.write(`${JSON.stringify(credentialProcessJson(token))}\n`);
  return 0;
}
