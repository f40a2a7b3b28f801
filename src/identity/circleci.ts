import { readEnv } from '../config/paths.js';
import { WifError } from '../util/errors.js';
import { runJwtCommand } from './jwt-command.js';
import { optionString } from './options.js';
import type { IdentitySource } from './source.js';

const FIX = 'run inside a CircleCI job (CircleCI sets CIRCLE_OIDC_TOKEN_V2), or set an audience to mint one with `circleci run oidc get`';

/**
 * CircleCI (spec §6): $CIRCLE_OIDC_TOKEN_V2, whose audience is fixed to the organization id; with
 * an audience configured, `circleci run oidc get --claims '{"aud": …}'` mints one for it instead.
 * The variable cannot mint (one per job), so the source as a whole does not claim to.
 */
const circleci: IdentitySource = {
  name: 'circleci',
  mintsOnDemand: false,
  describe(options) {
    const aud = optionString(options, 'audience');
    return aud ? `circleci run oidc get (audience ${aud})` : 'CircleCI $CIRCLE_OIDC_TOKEN_V2 (audience: the organization id)';
  },
  async fetch(ctx) {
    const audience = optionString(ctx.options, 'audience');
    if (audience) {
      const argv = ['circleci', 'run', 'oidc', 'get', '--claims', JSON.stringify({ aud: audience })];
      const jwt = await runJwtCommand({
        source: 'circleci',
        argv,
        env: ctx.env,
        timeoutMs: Math.max(ctx.timeoutMs, 10_000),
        notFoundHint: 'the `circleci` CLI is present in CircleCI jobs; elsewhere install it, or drop the audience to use $CIRCLE_OIDC_TOKEN_V2',
        failedHint: FIX,
      });
      return { jwt, origin: `circleci run oidc get (audience ${audience})` };
    }
    for (const name of ['CIRCLE_OIDC_TOKEN_V2', 'CIRCLE_OIDC_TOKEN']) {
      const jwt = readEnv(ctx.env, name)?.trim();
      if (jwt) return { jwt, origin: `CircleCI $${name}` };
    }
    throw new WifError('identity_unavailable', `circleci: CIRCLE_OIDC_TOKEN_V2 is not set${readEnv(ctx.env, 'CIRCLECI') ? ' in this CircleCI job' : ' (not running in CircleCI?)'}`, { hint: FIX });
  },
};

export default circleci;
