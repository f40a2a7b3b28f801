import { credentialEnv } from '../../output/credential-env.js';
import { describeTime, nowSeconds } from '../../util/clock.js';
import type { ExecModeStrategy } from './modes.js';

/**
 * `--mode token`: the token itself in the child's environment (ANTHROPIC_AUTH_TOKEN + the oauth
 * beta, or CLAUDE_CODE_OAUTH_TOKEN). Nothing runs beside the child and nothing renews the token:
 * for short commands. Once it expires the user is told (once) that sidecar mode is the fix.
 */
export const tokenMode: ExecModeStrategy = {
  firstTokenTtl: (minTtl) => minTtl,
  async start({ token, plan, target, deps }) {
    const t = token!;
    let timer: NodeJS.Timeout | undefined;
    const warnExpired = (expiresAt: number): void =>
      deps.log.warn(
        `the token given to the child expired at ${describeTime(expiresAt)} and --mode token does not renew it; use the default --mode sidecar for long-running commands`,
      );
    return {
      env: credentialEnv(t, plan.baseUrl.value, target, deps.env),
      baseUrl: plan.baseUrl.value,
      childStarted() {
        const expiresAt = t.expiresAt;
        if (expiresAt === null) return;
        timer = setTimeout(() => warnExpired(expiresAt), Math.min(2 ** 31 - 1, Math.max(0, (expiresAt - nowSeconds(deps.clock)) * 1000 + 500)));
        timer.unref();
      },
      childExited() {
        // Said once (the logger dedupes).
        if (t.expiresAt !== null && nowSeconds(deps.clock) >= t.expiresAt) warnExpired(t.expiresAt);
      },
      async close() {
        if (timer) clearTimeout(timer);
      },
    };
  },
};
