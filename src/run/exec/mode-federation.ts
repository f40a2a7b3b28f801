import { startFederationChild } from '../federation.js';
import type { ExecModeStrategy } from './modes.js';

/**
 * `--mode federation`: the child exchanges for itself from the federation variables and an
 * identity file the parent keeps supplied with JWTs nobody else exchanged (federation.ts). The
 * parent takes no token first: its own check happens inside, only for sources that mint on
 * demand (a platform file's JWT must be left for the child).
 */
export const federationMode: ExecModeStrategy = {
  firstTokenTtl: () => undefined,
  async start({ plan, deps, tokens, minTtl }) {
    const federation = await startFederationChild({ plan, deps, env: deps.env, parentToken: () => tokens({ minTtl }) });
    return {
      env: federation.env,
      baseUrl: plan.baseUrl.value,
      async close() {
        federation.remove();
      },
    };
  },
};
