import { nowSeconds } from '../../util/clock.js';
import { describeAge } from '../../util/jwt.js';
import { startKeeper, type TokenKeeper } from '../keeper.js';
import { FIRST_TOKEN_MIN_TTL_SECONDS } from '../rotator.js';
import { createSidecar } from '../sidecar.js';
import type { ExecModeStrategy } from './modes.js';

/**
 * `--mode sidecar` (the default): a private profile (sidecar.ts) whose credentials file the
 * token keeper replaces before the child's copy enters its last 30 s, for as long as the child
 * runs. The child exchanges nothing; it re-reads the file (spec §5).
 */
export const sidecarMode: ExecModeStrategy = {
  firstTokenTtl: (minTtl) => Math.max(minTtl, FIRST_TOKEN_MIN_TTL_SECONDS),
  async start({ token, plan, deps, tokens }) {
    const first = token!;
    const sidecar = createSidecar({ profile: plan.profile?.name ?? 'claude-wif', env: deps.env });
    let keeper: TokenKeeper | undefined;
    try {
      sidecar.write(first);
    } catch (err) {
      sidecar.remove();
      throw err;
    }
    deps.log.debug(`sidecar profile "${sidecar.profile}" in ${sidecar.dir}`);
    return {
      env: sidecar.env,
      baseUrl: plan.baseUrl.value,
      childStarted() {
        keeper = startKeeper({ initial: first, fetch: tokens, clock: deps.clock, log: deps.log, onUpdate: (t) => sidecar.write(t) });
      },
      childExited() {
        if (!keeper || keeper.failures === 0) return;
        const left = (keeper.current().expiresAt ?? Infinity) - nowSeconds(deps.clock);
        deps.log.debug(`the child exited while refreshing kept failing (${keeper.failures} attempts; its token ${left > 0 ? `had ${describeAge(left)} left` : 'had expired'})`);
      },
      async close() {
        keeper?.stop();
        sidecar.remove();
      },
    };
  },
};
