import { resolvePlan, SHADOWING_VARS, type Plan } from '../core/resolve.js';
import type { CoreDeps } from '../core/credentials.js';
import { createLogger, type Logger } from '../util/log.js';
import { userAgent } from '../version.js';
import type { IO } from './io.js';

/** Options every command accepts (ARCHITECTURE.md §3). */
export interface GlobalOptions {
  profile?: string;
  configDir?: string;
  identitySource?: string;
  /** Token cache backend: "file" or "keyring". */
  cache?: string;
  debug?: boolean;
  quiet?: boolean;
  color?: boolean;
}

export interface CommandContext {
  io: IO;
  global: GlobalOptions;
  log: Logger;
  deps: CoreDeps;
  plan(): Plan;
}

export function makeContext(io: IO, global: GlobalOptions): CommandContext {
  const debug = global.debug || (io.env['CLAUDE_WIF_LOG'] ?? '').toLowerCase() === 'debug';
  const log = createLogger(io.stderr, debug ? 'debug' : global.quiet ? 'quiet' : 'info');
  const deps: CoreDeps = { env: io.env, clock: io.clock, log, userAgent: userAgent() };
  let cached: Plan | undefined;
  return {
    io,
    global,
    log,
    deps,
    plan() {
      cached ??= resolvePlan({
        env: io.env,
        cwd: io.cwd,
        profile: global.profile,
        configDir: global.configDir,
        identitySource: global.identitySource,
        cache: global.cache,
      });
      return cached;
    },
  };
}

/** "ANTHROPIC_API_KEY is set: …" and its siblings (core/resolve.ts). */
export const isShadowingWarning = (w: string): boolean => SHADOWING_VARS.some((v) => w.startsWith(`${v} is set`));

/**
 * Warnings that belong with any command that uses credentials: shadowing variables and config
 * disagreements. `handlesShadowing`: the command itself takes care of the shadowing variables (env's
 * output unsets them; the agent's consumers never see its environment), so the user has nothing to
 * do about them and hearing about them would only teach them to ignore claude-wif's warnings.
 */
export function emitPlanWarnings(ctx: CommandContext, plan: Plan, opts: { handlesShadowing?: boolean } = {}): void {
  for (const w of plan.warnings) if (!(opts.handlesShadowing && isShadowingWarning(w))) ctx.log.warn(w);
}
