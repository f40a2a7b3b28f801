import { appendFileSync } from 'node:fs';
import { emitPlanWarnings, type CommandContext } from '../context.js';
import { accessTokenWithStatus } from '../spinner.js';
import type { EnvOptions } from '../option-values.js';
import { credentialEnv } from '../../output/credential-env.js';
import { detectEnvFormat } from '../../output/shell-detect.js';
import { renderEnv, renderGithubEnvFile, type EnvFormat } from '../../output/shells.js';
import { readEnv } from '../../config/paths.js';
import { WifError } from '../../util/errors.js';

/** `claude-wif env`: assignments for a shell to eval, or GitHub Actions' $GITHUB_ENV. */
export async function runEnv(ctx: CommandContext, opts: EnvOptions): Promise<number> {
  // No --format: the syntax of the shell that runs us (fish for `eval "$(claude-wif env)"` typed in fish).
  const format = opts.format ?? detectEnvFormat(ctx.io.env);
  const target = opts.target;
  const githubEnv = readEnv(ctx.io.env, 'GITHUB_ENV');
  if (format === 'github' && !githubEnv) {
    throw new WifError('usage_error', '--format github appends to $GITHUB_ENV, which is not set', {
      hint: 'use it inside a GitHub Actions step, or choose --format sh/dotenv/json',
    });
  }
  const plan = ctx.plan();
  // Every format's output unsets ANTHROPIC_API_KEY and the other shadowing variables.
  emitPlanWarnings(ctx, plan, { handlesShadowing: true });
  const token = await accessTokenWithStatus(ctx, plan, { minTtl: opts.minTtl ?? 0, forceRefresh: Boolean(opts.forceRefresh) });
  const vars = credentialEnv(token, plan.baseUrl.value, target, ctx.io.env);
  if (format === 'github') {
    // Mask first: from this line on the runner hides the token in every log.
    ctx.io.stdout.write(`::add-mask::${token.token}\n`);
    appendFileSync(githubEnv!, renderGithubEnvFile(vars));
    ctx.log.info(`exported ${vars.filter((v) => v.value !== null).map((v) => v.name).join(', ')} to $GITHUB_ENV for the following steps`);
    return 0;
  }
  ctx.io.stdout.write(renderEnv(format as EnvFormat, vars));
  return 0;
}
