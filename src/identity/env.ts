import { readEnv } from '../config/paths.js';
import { WifError } from '../util/errors.js';
import { optionString } from './options.js';
import type { IdentitySource } from './source.js';

/** A JWT in an environment variable: ANTHROPIC_IDENTITY_TOKEN, or any variable the profile names. */
const envSource: IdentitySource = {
  name: 'env',
  mintsOnDemand: false,
  describe(options) {
    return `env ${optionString(options, 'variable') ?? 'ANTHROPIC_IDENTITY_TOKEN'}`;
  },
  async fetch(ctx) {
    const variable = optionString(ctx.options, 'variable') ?? 'ANTHROPIC_IDENTITY_TOKEN';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) {
      throw new WifError('config_invalid', `identity variable name ${JSON.stringify(variable)} is not a valid environment variable name`);
    }
    const jwt = readEnv(ctx.env, variable)?.trim();
    if (!jwt) {
      throw new WifError('identity_unavailable', `environment variable ${variable} is not set`, {
        hint: `export ${variable}=<JWT from your platform>, or choose another source with --identity-source`,
      });
    }
    return { jwt, origin: `env ${variable}` };
  },
};

export default envSource;
