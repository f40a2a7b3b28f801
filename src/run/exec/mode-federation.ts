import { startFederationChild } from '../federation.js';
import type { ExecModeStrategy } from './modes.js';

/**
 * `--mode federation`: the child exchanges for itself from the federation variables and an
 * identity file the parent keeps supplied with JWTs nobody else exchanged (federation.ts). The
 * parent takes no token at all: it never exchanges in this mode (the source is checked by
 * fetching a JWT, which no one exchanges).
 */
export const federationMode: ExecModeStrategy = {
  firstTokenTtl: () => undefined,
  async start({ plan, deps }) {
    const federation = await startFederationChild({ plan, deps, env: deps.env });
    return {
      env: federation.env,
      baseUrl: plan.baseUrl.value,
      async close() {
        await federation.close();
      },
    };
  },
};
